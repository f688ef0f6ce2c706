"""Tests for tasks/quality/shift.py and the split step's report: is the test set like the training part?

Tiny frames for the measures; the bundled tables for what the old split report never warned about (a label that
drifts between training and test, rows duplicated across the split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks import split as split_step
from tasks.core import io
from tasks.core.config import SplitParams, load_config
from tasks.core.errors import ConfigError
from tasks.data.sources import read_snapshot, type_table
from tasks.data.splitting import holdout_split, labelled_rows
from tasks.quality.shift import compare_train_test, label_shift, new_categories, shared_rows, wilson_interval
from tests.conftest import make_config, synthetic_frame

REPO = Path(__file__).resolve().parents[2]


def checks(report: dict) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for f in report["suspects"]:
        out.setdefault(f.check, []).append(f.columns)
    return out


def test_wilson_interval_brackets_the_rate():
    low, high = wilson_interval(48, 1000)
    assert low < 0.048 < high and high - low < 0.03
    assert wilson_interval(0, 0) != wilson_interval(0, 0)  # nan without rows


def test_label_shift_rates_with_intervals_and_psi():
    train = pd.Series([1] * 48 + [0] * 952)
    test = pd.Series([1] * 250 + [0] * 750)
    shift = label_shift(train, test, "binary")
    assert shift["train"]["1"]["rate"] == pytest.approx(0.048) and shift["test"]["1"]["rate"] == pytest.approx(0.25)
    assert shift["train"]["1"]["high"] < shift["test"]["1"]["low"]  # the intervals do not overlap
    assert shift["psi"] > 0.3
    same = label_shift(train, train.sample(frac=1, random_state=0), "binary")
    assert same["psi"] == pytest.approx(0.0, abs=1e-9)
    numeric = label_shift(pd.Series(np.arange(100.0)), pd.Series(np.arange(100.0) + 50), "regression")
    assert numeric["kind"] == "mean" and numeric["test"]["mean"] - numeric["train"]["mean"] == pytest.approx(50)


def test_new_categories_and_shared_rows_count_every_row():
    df = pd.DataFrame({"c": pd.Categorical(["a", "b", "a", "z", "z", "b"]), "x": [1, 2, 1, 9, 9, 2], "y": [0, 1, 1, 0, 0, 1]})
    train, test = np.array([0, 1]), np.array([2, 3, 4, 5])
    assert new_categories(df, train, test, ["c"]) == {"c": {"values": ["z"], "n_values": 1, "test_share": 0.5}}
    assert shared_rows(df, train, test, ["c", "x"], "y") == {"test_rows": 2, "test_share": 0.5, "same_label": 1}


def test_a_clean_random_split_warns_about_nothing():
    df = synthetic_frame(3000, seed=1).drop(columns=["when"])
    data = make_config(Path("/tmp"), data={"time_column": None}).data
    h = holdout_split(df, data, SplitParams(strategy="random"))
    report = compare_train_test(df, h.train_idx, h.test_idx, data, SplitParams(strategy="random"))
    assert report["suspects"] == []
    assert 0.4 < report["adversarial"]["roc_auc"] < 0.6 and report["label"]["psi"] < 0.01


def test_split_step_writes_the_comparison_and_its_warnings(tmp_path):
    cfg = make_config(tmp_path, split={"expected_shift": {"x2": "drifts on purpose in this test"}})
    df = synthetic_frame(2000, seed=2)
    late = df["when"] >= df["when"].quantile(0.8)
    df.loc[late, "x2"] = df.loc[late, "x2"] + 5  # a shift the params expect
    io.write_frame(df, cfg.paths.ingested)
    report = split_step.run(cfg)
    saved = io.read_json(cfg.paths.reports_dir / "split.json")
    assert saved["suspects"] == [f.to_data() for f in report.suspects]
    x2 = next(f for f in saved["suspects"] if f["columns"] == ["x2"])
    assert x2["check"] == "feature_shift" and x2["excused"] and x2["reason"] == "drifts on purpose in this test"
    assert "x2" in saved["train_vs_test"]["adversarial"]["left_out"]
    assert set(saved["train_vs_test"]) >= {"label", "feature_psi", "adversarial", "new_categories", "shared_rows"}


def test_expected_shift_naming_a_missing_column_is_a_config_error(tmp_path):
    cfg = make_config(tmp_path, split={"expected_shift": {"nope": "x"}})
    io.write_frame(synthetic_frame(300), cfg.paths.ingested)
    with pytest.raises(ConfigError) as err:
        split_step.run(cfg)
    assert "split.expected_shift.nope: no column 'nope'" in str(err.value) and err.value.exit_code == 2


# ---------------------------------------------------------------- bundled tables


@pytest.fixture(scope="module")
def hotel():
    cfg = load_config(REPO / "params.yaml")
    df, _ = type_table(read_snapshot(REPO / "sample" / "hotel_bookings.csv.gz", cfg.ingest), cfg.ingest, cfg.data)
    return cfg, labelled_rows(df, cfg.data)


def test_hotel_time_split_as_configured_warns_only_about_real_drift(hotel):
    cfg, df = hotel
    h = holdout_split(df, cfg.data, cfg.split)
    report = compare_train_test(df, h.train_idx, h.test_idx, cfg.data, cfg.split)
    found = checks(report)
    assert "label_shift" not in found and "shared_rows" not in found  # 37% vs 39% cancelled, no copied rows
    calendar = [f for f in report["suspects"] if f.columns[0].startswith("arrival_date_")]
    assert calendar and all(f.excused for f in calendar)  # split.expected_shift explains them
    assert report["adversarial"]["left_out"] == ["arrival_date_month", "arrival_date_week_number", "arrival_date_year"]


def test_hotel_label_that_drifts_between_train_and_test_warns(hotel):
    cfg, df = hotel
    h = holdout_split(df, cfg.data, cfg.split)
    rng = np.random.default_rng(0)
    y = df["is_canceled"].to_numpy().copy()
    keep = rng.uniform(size=len(h.train_idx)) < 0.13  # training years: about 4.8% cancelled, test stays ~39%
    y[h.train_idx] = np.where(y[h.train_idx] == 1, keep.astype(int), 0)
    drifted = df.assign(is_canceled=y)
    report = compare_train_test(drifted, h.train_idx, h.test_idx, cfg.data, cfg.split)
    label = next(f for f in report["suspects"] if f.check == "label_shift")
    assert label.columns == ["is_canceled"] and label.severity == "warn" and not label.excused
    assert label.value >= cfg.split.shift_warn
    assert "class 1: 4." in label.detail and "in training" in label.detail and "in test" in label.detail
    rates = report["label"]
    assert rates["train"]["1"]["high"] < rates["test"]["1"]["low"]


def test_rows_duplicated_across_a_random_split_warn(hotel):
    cfg, df = hotel
    random = cfg.split.model_copy(update={"strategy": "random"})
    h = holdout_split(df, cfg.data, random)
    report = compare_train_test(df, h.train_idx, h.test_idx, cfg.data, random)
    rows = next(f for f in report["suspects"] if f.check == "shared_rows")
    assert rows.value > 0.05 and rows.severity == "warn"  # the hotel table repeats many bookings verbatim


def test_planted_duplicates_in_kc_house_warn_and_entities_on_both_sides_are_named():
    cfg = load_config(REPO / "examples" / "kc_house" / "params.yaml")
    df, _ = type_table(read_snapshot(REPO / "sample" / "kc_house_data.csv.gz", cfg.ingest), cfg.ingest, cfg.data)
    by_house = cfg.split.model_copy(update={"strategy": "group"})  # no house on both sides
    clean = holdout_split(df, cfg.data, by_house)
    assert checks(compare_train_test(df, clean.train_idx, clean.test_idx, cfg.data, by_house)) == {}
    copies = df.sample(frac=0.05, random_state=0).assign(id=lambda d: d["id"] + 10**10)  # new ids, same houses
    planted = pd.concat([df, copies], ignore_index=True)
    h = holdout_split(planted, cfg.data, by_house)
    report = compare_train_test(planted, h.train_idx, h.test_idx, cfg.data, by_house)
    rows = next(f for f in report["suspects"] if f.check == "shared_rows")
    assert rows.value > cfg.split.shared_rows_warn and report["shared_rows"]["same_label"] > 0
    time_split = holdout_split(df, cfg.data, cfg.split)  # by time: repeat sales of a house land on both sides
    entities = compare_train_test(df, time_split.train_idx, time_split.test_idx, cfg.data, cfg.split)
    assert checks(entities)["shared_entities"] == [["id"]]
