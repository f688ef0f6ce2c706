"""Score: batch scoring with the production model, quarantine of bad rows, shadow challenger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.core.config import DataParams, MonitorParams
from tasks.core.errors import InputError, PromotionError, SchemaError
from tasks.modelling.bundle import load_bundle
from tasks.registry import lifecycle
from tasks.serving.score import quarantine_path, read_table, score_file
from tests.conftest import scoring_frame as make_frame
from tests.conftest import tiny_lightgbm_bundle
from tests.support.registry_world import approved_record

DATA = DataParams(target="label", task="binary", positive_label="yes", id_column="booking_id", categorical_columns=["agent"])


def make_bundle(train: pd.DataFrame, dest: Path, numeric: tuple[str, ...], categorical: tuple[str, ...], rounds: int) -> Path:
    """Fit a tiny LightGBM bundle on the named columns and save it to dest."""
    return tiny_lightgbm_bundle(train, dest, numeric, categorical, DATA, rounds, threshold=0.4)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    """A registry whose production model reads x1, x2, hotel and agent, plus a challenger bundle."""
    root = tmp_path_factory.mktemp("score")
    train = make_frame(500, 1)
    prod = make_bundle(train, root / "prod", ("x1", "x2"), ("hotel", "agent"), rounds=20)
    challenger = make_bundle(train, root / "challenger", ("x1", "x2"), ("hotel", "agent"), rounds=5)
    reg = root / "registry"
    vid = lifecycle.register_version(reg, prod, approved_record())
    lifecycle.set_production(reg, vid, "test", "tester")
    return {"registry": reg, "version": vid, "prod": prod, "challenger": challenger}


def bad_rows_file(path: Path) -> pd.DataFrame:
    """Write a CSV of 8 rows, 3 of them broken; return the clean rows as the model saw them in training."""
    df = make_frame(8, 7).drop(columns="label")
    text = df.astype(object)
    text["agent"] = [None if pd.isna(v) else str(int(v)) for v in df["agent"]]  # "9" as in the raw hotel CSV
    text.loc[1, "x1"] = "abc"  # not a number
    text.loc[4, "x2"] = "inf"  # not finite
    text.loc[6, "agent"] = "travel"  # agent codes are numbers
    text.loc[2, "x2"] = ""  # blank: missing, which the model handles
    text.to_csv(path, index=False)
    clean = df.drop(index=[1, 4, 6])
    clean.loc[2, "x2"] = np.nan
    return clean


def test_bad_rows_are_quarantined_and_good_rows_scored(tmp_path, setup):
    clean = bad_rows_file(tmp_path / "in.csv")
    out = tmp_path / "preds.csv"
    summary = score_file(tmp_path / "in.csv", out, setup["registry"], None, DATA)
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_quarantined"]) == (8, 5, 3)
    assert summary["quarantine_reasons"] == {"x1: not a number": 1, "x2: not a number": 1, "agent: not a number": 1}

    q = read_table(quarantine_path(out))
    assert q["row"].tolist() == [1, 4, 6] and q["booking_id"].tolist() == [1001, 1004, 1006]
    assert q["reason"].str.startswith("x1: 'abc' is not a number")[0]
    assert "x2" in q["reason"][1] and "finite" in q["reason"][1]
    assert q["reason"][2].startswith("agent: 'travel'")

    preds = read_table(out)
    assert preds["row"].tolist() == [0, 2, 3, 5, 7] and preds["booking_id"].tolist() == clean["booking_id"].tolist()
    expected = load_bundle(setup["prod"]).predict_scores(clean)
    np.testing.assert_allclose(preds["score"].to_numpy(), expected, rtol=1e-9)
    assert preds["prediction"].tolist() == np.where(expected >= 0.4, "yes", "no").tolist()
    assert set(preds["model_version"]) == {setup["version"]}


def test_missing_required_column_is_an_error_naming_it(tmp_path, setup):
    make_frame(5, 3).drop(columns=["label", "hotel"]).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(SchemaError, match=r"\['hotel'\]"):
        score_file(tmp_path / "in.csv", tmp_path / "out.csv", setup["registry"], None, DATA)
    assert not (tmp_path / "out.csv").exists()


def test_parquet_input_with_shadow_challenger(tmp_path, setup):
    df = make_frame(60, 5).drop(columns="label")
    df.to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "preds.parquet"
    summary = score_file(tmp_path / "in.parquet", out, setup["registry"], setup["challenger"], DATA)
    preds = pd.read_parquet(out)
    assert summary["rows_scored"] == 60 and summary["rows_quarantined"] == 0
    assert len(pd.read_parquet(quarantine_path(out))) == 0
    shadow = load_bundle(setup["challenger"]).predict_scores(df)
    np.testing.assert_allclose(preds["shadow_score"].to_numpy(), shadow, rtol=1e-9)
    agree = float(np.mean(preds["prediction"] == preds["shadow_prediction"]))
    assert summary["shadow"]["agreement_rate"] == pytest.approx(agree)
    assert summary["shadow"]["mean_abs_score_diff"] == pytest.approx(np.mean(np.abs(preds["score"] - shadow)))
    assert 0 < summary["shadow"]["mean_abs_score_diff"]
    np.testing.assert_allclose(preds["score"], load_bundle(setup["prod"]).predict_scores(df), rtol=1e-9)


def test_shadow_of_the_production_model_agrees_fully(tmp_path, setup):
    make_frame(30, 6).drop(columns="label").to_csv(tmp_path / "in.csv.gz", index=False)
    summary = score_file(tmp_path / "in.csv.gz", tmp_path / "p.csv.gz", setup["registry"], setup["prod"], DATA)
    assert summary["shadow"]["agreement_rate"] == 1.0 and summary["shadow"]["mean_abs_score_diff"] == 0.0
    assert quarantine_path(tmp_path / "p.csv.gz").name == "p.quarantine.csv.gz"


def test_no_production_model_is_a_clear_error(tmp_path):
    make_frame(5, 3).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(PromotionError, match="no production model"):
        score_file(tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "empty-registry", None, DATA)


def test_output_keeps_id_and_passthrough_columns_and_an_unknown_one_is_named(tmp_path, setup):
    df = make_frame(20, 8).drop(columns="label").assign(channel=lambda d: [f"c{i % 3}" for i in range(len(d))])
    df.to_csv(tmp_path / "in.csv", index=False)
    monitor = MonitorParams(passthrough_columns=["channel", "hotel"])
    score_file(tmp_path / "in.csv", tmp_path / "out.csv", setup["registry"], None, DATA, monitor)
    preds = read_table(tmp_path / "out.csv")
    assert list(preds.columns[:4]) == ["row", "booking_id", "channel", "hotel"]
    assert preds["channel"].tolist() == df["channel"].tolist() and preds["booking_id"].tolist() == df["booking_id"].tolist()
    with pytest.raises(InputError, match=r"monitor.passthrough_columns \['nope'\]"):
        score_file(
            tmp_path / "in.csv", tmp_path / "out2.csv", setup["registry"], None, DATA, MonitorParams(passthrough_columns=["nope"])
        )


def test_unseen_categories_are_counted_per_column_and_warned_above_the_share(tmp_path, setup):
    df = make_frame(40, 9).drop(columns="label")
    df.loc[:3, "hotel"] = "Hostel"  # 4 of 40 rows: a category training never saw
    df.loc[0, "agent"] = 777.0  # 1 of 40: an unseen numeric code
    df.to_csv(tmp_path / "in.csv", index=False)
    summary = score_file(
        tmp_path / "in.csv", tmp_path / "out.csv", setup["registry"], None, DATA, MonitorParams(unseen_category_warn_share=0.05)
    )
    unseen = summary["unseen_categories"]
    assert unseen["hotel"] == {"rows": 4, "share": 0.1, "warn": True, "examples": ["Hostel"]}
    assert unseen["agent"]["rows"] == 1 and unseen["agent"]["warn"] is False
    assert len(summary["warnings"]) == 1 and summary["warnings"][0].startswith("hotel: 4 scored row(s)")
    make_frame(40, 9).drop(columns="label").to_csv(tmp_path / "known.csv", index=False)
    summary = score_file(tmp_path / "known.csv", tmp_path / "out.csv", setup["registry"], None, DATA)
    assert summary["unseen_categories"] == {} and summary["warnings"] == []


def test_multiclass_predictions_are_the_original_labels_of_the_most_likely_class(tmp_path):
    """Scoring maps the model's class index back to the label values it was trained on (not 0, 1, 2)."""
    from tasks import preprocess, split, train
    from tasks.core import io
    from tests.conftest import make_config, synthetic_frame

    cfg = make_config(tmp_path, task="multiclass", train={"lightgbm": {"n_estimators": 15, "num_leaves": 7}})
    df = synthetic_frame(n=600, seed=2, task="multiclass")
    df["label"] = df["label"].map({0: "low", 1: "mid", 2: "high"})
    io.write_frame(df, cfg.paths.ingested)
    for step in (split, preprocess, train):
        step.run(cfg)
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, cfg.paths.models_dir / "lightgbm", approved_record())
    lifecycle.set_production(reg, vid, "test", "tester")
    df.drop(columns="label").head(60).to_csv(tmp_path / "in.csv", index=False)
    score_file(tmp_path / "in.csv", tmp_path / "preds.csv", reg, None, cfg.data)
    preds = read_table(tmp_path / "preds.csv")
    proba = preds[[f"proba_{c}" for c in ("high", "low", "mid")]].to_numpy()
    expected = np.array(["high", "low", "mid"])[proba.argmax(axis=1)]
    assert preds["prediction"].astype(str).tolist() == expected.tolist()
    assert len(set(expected)) > 1  # the world is what the test claims: more than one class is predicted
