"""Explain step: sampling caps, worst errors, planted weak segment, report files and HTML, all task types.

Fixtures train a small LightGBM Booster through tasks.preprocess.build_tree_preprocessor on a synthetic
table where the label is a clean function of the features except in grp == "Z" (pure noise), save it
with tasks.modelling.bundle.save_bundle, and write the scored test / validation frames the real steps would write.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.core import io
from tasks.core.config import DataParams, ExplainParams, PreprocessParams, parse_config
from tasks.core.errors import ConfigError, SchemaError
from tasks.core.metrics import score_frame
from tasks.core.schema import FeatureTypes
from tasks.evaluation.error_analysis import describe_worst_errors, explain_model
from tasks.evaluation.error_outcomes import Outcomes, Sample, derive_outcomes, sample_rows, worst_error_rows
from tasks.evaluation.feature_importance import ShapResult, importance_warnings
from tasks.explain import run
from tasks.modelling.bundle import ModelBundle, load_bundle, save_bundle
from tasks.modelling.preprocessing import build_tree_preprocessor

NUMERIC = ("x1", "x2", "x3")
CATEGORICAL = ("grp", "city")


def synthetic_frame(n: int, task: str, seed: int) -> pd.DataFrame:
    """Return a table whose label is a clean function of x1, x2, city, except pure noise where grp == 'Z'."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "x3": rng.uniform(0, 10, n).round(1),
            "grp": rng.choice(["A", "B", "C", "D", "Z"], n, p=[0.25, 0.25, 0.2, 0.1, 0.2]),
            "city": rng.choice(["Lisbon", "Porto", "Faro"], n),
            "day": pd.date_range("2020-01-01", periods=n, freq="h"),
        }
    )
    df["x3"] = df["x3"].where(rng.random(n) > 0.05)  # some missing numbers
    signal = 2.5 * df["x1"] + 1.5 * df["x2"] + np.where(df["city"] == "Porto", 1.0, 0.0)
    z = (df["grp"] == "Z").to_numpy()
    if task == "binary":
        label = np.where(z, rng.integers(0, 2, n), (signal > 0.3).astype(int))
    elif task == "multiclass":
        clean = np.digitize(signal, [-1.0, 1.0])
        label = np.where(z, rng.integers(0, 3, n), clean)
        label = np.array(["low", "mid", "high"])[label]
    else:
        label = np.where(z, rng.normal(0, 6, n), 3 * signal) + rng.normal(0, 0.1, n)
    df["label"] = label
    df["status"] = df["label"]  # a perfect leak, listed in drop_columns
    return df


def lgb_params(task: str, n_classes: int) -> dict:
    obj = {
        "binary": {"objective": "binary"},
        "multiclass": {"objective": "multiclass", "num_class": n_classes},
        "regression": {"objective": "regression"},
    }[task]
    return {
        **obj,
        "num_leaves": 15,
        "learning_rate": 0.1,
        "min_child_samples": 20,
        "verbose": -1,
        "seed": 0,
        "num_threads": 1,
        "deterministic": True,
    }


def build_project(root: Path, task: str, n_train: int = 4000, n_valid: int = 1000, n_test: int = 3000) -> Path:
    """Write bundle, validation split and scored test frame under root; return the params.yaml path."""
    import lightgbm as lgb
    import yaml

    from tasks.core.config import DataParams
    from tasks.core.schema import encode_target, label_classes

    df = synthetic_frame(n_train + n_valid + n_test, task, seed=7)
    train, valid, test = (
        df.iloc[:n_train],
        df.iloc[n_train : n_train + n_valid],
        df.iloc[n_train + n_valid :].reset_index(drop=True),
    )
    data = DataParams(
        target="label",
        task=task,
        time_column="day",
        drop_columns={"status": "copy of the label written after the outcome (leak)"},
        segment_columns=["grp"],
    )
    classes = label_classes(train["label"], data)
    ft = FeatureTypes(numeric=NUMERIC, categorical=CATEGORICAL)
    pre = build_tree_preprocessor(ft, PreprocessParams()).fit(train[ft.all])
    y_train = encode_target(train["label"], classes, data)
    booster = lgb.train(
        lgb_params(task, len(classes)),
        lgb.Dataset(pre.transform(train[ft.all]), y_train, categorical_feature=list(CATEGORICAL)),
        num_boost_round=60,
    )
    meta = {
        "task": task,
        "target": "label",
        "classes": classes,
        "features": ft.all,
        "numeric": list(NUMERIC),
        "categorical": list(CATEGORICAL),
        "threshold": 0.5,
        "best_iteration": 60,
    }
    bundle = ModelBundle(kind="lightgbm", preprocessor=pre, estimator=booster, meta=meta)
    save_bundle(bundle, root / "models" / "lightgbm")
    bundle = load_bundle(root / "models" / "lightgbm")
    scores = bundle.predict_scores(test)
    scored = pd.concat(
        [test, pd.DataFrame({"y_true": encode_target(test["label"], classes, data)}), score_frame("lightgbm", task, scores, 0.5)],
        axis=1,
    )
    io.write_frame(scored, root / "scored.parquet")
    io.write_frame(valid, root / "valid.parquet")
    params = {
        "paths": {
            "valid": str(root / "valid.parquet"),
            "scored_test": str(root / "scored.parquet"),
            "models_dir": str(root / "models"),
            "reports_dir": str(root / "reports"),
        },
        "data": {
            "target": "label",
            "task": task,
            "time_column": "day",
            "segment_columns": ["grp"],
            "drop_columns": {"status": "copy of the label written after the outcome (leak)"},
        },
        "ingest": {"source": "unused.csv"},
        "explain": {
            "sample_size": 800,
            "max_errors": 300,
            "top_errors": 5,
            "slice_min_support": 100,
            "permutation_rows": 500,
            "permutation_repeats": 2,
            "max_waterfalls": 4,
        },
    }
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def load(path: Path):
    import yaml

    return parse_config(yaml.safe_load(path.read_text()), path)


@pytest.fixture(scope="module")
def binary_project(tmp_path_factory) -> Path:
    return build_project(tmp_path_factory.mktemp("binary"), "binary")


@pytest.fixture(scope="module")
def binary_run(binary_project):
    cfg = load(binary_project)
    report = run(cfg)
    return cfg, report, cfg.paths.reports_dir / "explain"


# ---------------------------------------------------------------- end to end, binary


def test_planted_noise_segment_ranks_first(binary_run):
    _, report, _ = binary_run
    top = report.slices.top[0]
    assert top.segment == "grp = Z"
    assert top.conditions == [{"feature": "grp", "equals": "Z"}]
    assert top.error_rate > 3 * report.slices.overall_rate
    assert top.n_sampled_errors > 0 and top.drivers, "drivers of the segment's errors are listed"


def test_outputs_written_and_summary_flat(binary_run):
    _, report, out_dir = binary_run
    names = sorted(p.name for p in out_dir.iterdir())
    assert {"explain.json", "explain_summary.json", "report.html", "importance.png", "beeswarm.png", "slices.png"} <= set(names)
    waterfalls = [n for n in names if n.startswith("waterfall_")]
    assert 1 <= len(waterfalls) <= 4
    assert json.loads((out_dir / "explain.json").read_text())["step_version"] == "1"
    summary = json.loads((out_dir / "explain_summary.json").read_text())
    assert all(isinstance(v, (int, float)) or v is None for v in summary.values())
    assert summary["n_sampled"] == report.sample.sampled <= 800
    assert summary["n_slices_flagged"] >= 1
    assert not [p for p in out_dir.parent.iterdir() if p.name.startswith(".explain")], "no temp dirs left"


def test_explain_json_is_deterministic(binary_run):
    cfg, _, out_dir = binary_run
    first = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    run(cfg)
    second = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    assert first.keys() == second.keys()
    assert first["explain.json"] == second["explain.json"]
    assert first["explain_summary.json"] == second["explain_summary.json"]
    assert "timestamp" not in first["explain.json"].decode()


def test_global_importance_finds_the_signal(binary_run):
    _, report, _ = binary_run
    g = report.global_importance
    assert g[0].feature == "x1"
    assert abs(sum(e.share for e in g) - 1) < 1e-4
    assert report.agreement.spearman_shap_gain is not None
    assert report.agreement.permutation_metric == "roc_auc"
    perm = {e.feature: e.permutation_drop for e in g}
    assert perm["x1"] > perm["x3"]


def test_worst_errors_structure(binary_run):
    cfg, report, _ = binary_run
    worst = report.worst_errors
    assert set(worst) == {"false_positive", "false_negative"}
    scored = io.read_frame(cfg.paths.scored_test)
    for kind, items in worst.items():
        assert 1 <= len(items) <= cfg.explain.top_errors
        severities = [e.severity for e in items]
        assert severities == sorted(severities, reverse=True)
        for e in items:
            row = scored.iloc[e.row]
            assert e.prediction == (1 if kind == "false_positive" else 0) and e.y_true == 1 - e.prediction
            assert e.score == pytest.approx(row["score_lightgbm"], rel=1e-5)
            assert len(e.top_features) == 5
            abs_shap = [abs(t.shap) for t in e.top_features]
            assert abs_shap == sorted(abs_shap, reverse=True)
            for t in e.top_features:
                raw = row[t.feature]
                if t.feature in CATEGORICAL:
                    assert t.value == raw and isinstance(t.value, str), "raw category, not its code"
                elif pd.isna(raw):
                    assert t.value is None
                else:
                    assert t.value == pytest.approx(float(raw))
    fp = worst["false_positive"][0]
    assert fp.score == pytest.approx(
        max(scored.loc[(scored["pred_lightgbm"] == 1) & (scored["y_true"] == 0), "score_lightgbm"]), rel=1e-5
    )


def test_html_report_contains_drivers_and_renders_offline(binary_run):
    _, report, out_dir = binary_run
    page = (out_dir / "report.html").read_text()
    for needle in (
        "Top drivers",
        "Worst errors",
        "Weakest segments",
        "Columns left out",
        "grp = Z",
        "copy of the label written after the outcome (leak)",
        "status",
        "data:image/png;base64,",
    ):
        assert needle in page, needle
    assert report.global_importance[0].feature in page
    assert str(report.sample.sampled) in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert page.count("<img ") == len(report.figures)


@pytest.mark.integration
def test_report_renders_in_headless_chromium(chromium, binary_run, tmp_path):
    _, _, out_dir = binary_run
    shot = out_dir.parent / "explain_report_screenshot.png"
    cmd = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        (out_dir / "report.html").resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    shutil.copy(shot, out_dir / "report_screenshot.png")  # next to the report
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, "a blank page screenshots to a tiny PNG"
    dom = subprocess.run(
        cmd[:-3] + ["--dump-dom", (out_dir / "report.html").resolve().as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    report = json.loads((out_dir / "explain.json").read_text())
    for heading in ("Top drivers", "Agreement between importance measures"):
        assert heading in dom, f"the rendered report has no '{heading}' section"
    assert dom.count("<tr") > 10, "the rendered report's tables are empty"
    top = report["global_importance"][0]["feature"]
    assert top in dom, f"the strongest driver {top} is not shown"
    shown = set(re.findall(r'<img[^>]+alt="([^"]*)"', dom))
    assert len(re.findall(r"<img\b", dom)) >= min(3, len(report["figures"])) and shown, "the report shows no figures"


# ---------------------------------------------------------------- sampling


def test_sampling_includes_every_error_under_the_cap(binary_project):
    cfg = load(binary_project)
    scored = io.read_frame(cfg.paths.scored_test)
    out = derive_outcomes(scored, {"task": "binary", "threshold": 0.5})
    n_err = int(out.is_error.sum())
    p = ExplainParams(sample_size=n_err + 400, max_errors=n_err + 10, top_errors=5)
    s = sample_rows(out, "binary", p)
    assert set(np.flatnonzero(out.is_error)) <= set(s.rows.tolist())
    assert len(s.rows) == n_err + 400 and s.sizes["correct_sampled"] == 400
    assert np.all(np.diff(s.rows) > 0)
    assert s.weights.sum() == pytest.approx(len(scored))
    # stratified: the true-class mix of sampled correct rows follows the test set's
    correct = ~out.is_error
    picked = np.intersect1d(s.rows, np.flatnonzero(correct))
    assert out.y_true[picked].mean() == pytest.approx(out.y_true[correct].mean(), abs=0.01)


def test_sampling_caps_errors_and_keeps_the_worst(binary_project):
    cfg = load(binary_project)
    out = derive_outcomes(io.read_frame(cfg.paths.scored_test), {"task": "binary", "threshold": 0.5})
    p = ExplainParams(sample_size=200, max_errors=50, top_errors=10)
    s = sample_rows(out, "binary", p)
    assert out.is_error.sum() > 50, "the fixture must have more errors than the cap"
    assert s.sizes["errors_sampled"] == 50 == int(out.is_error[s.rows].sum())
    assert len(s.rows) == 200 and s.sizes["sampled"] == 200
    for rows in worst_error_rows(out, ("false_positive", "false_negative"), 10).values():
        assert set(rows.tolist()) <= set(s.rows.tolist())
    assert s.weights.sum() == pytest.approx(len(out.is_error))
    again = sample_rows(out, "binary", p)
    assert np.array_equal(s.rows, again.rows), "same random_state, same sample"


def test_params_reject_more_errors_than_sample():
    with pytest.raises(ConfigError, match="max_errors"):
        parse_config({"data": {"target": "y"}, "ingest": {"source": "x.csv"}, "explain": {"sample_size": 100, "max_errors": 500}})


# ---------------------------------------------------------------- other task types and failure modes


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_other_tasks_explain_and_find_the_noise(tmp_path, task):
    cfg = load(build_project(tmp_path, task, n_train=3000, n_valid=600, n_test=2500))
    scored, valid = io.read_frame(cfg.paths.scored_test), io.read_frame(cfg.paths.valid)
    bundle = load_bundle(cfg.paths.models_dir / "lightgbm")
    report, images = explain_model(scored, valid, bundle, cfg.data, cfg.explain)
    assert report.task == task
    assert report.slices.top[0].segment == "grp = Z"
    kinds = {"multiclass": {"misclassified"}, "regression": {"over_prediction", "under_prediction"}}[task]
    assert set(report.worst_errors) == kinds
    assert all(len(items) > 0 for items in report.worst_errors.values())
    assert report.sample.sampled <= cfg.explain.sample_size
    assert "importance.png" in images and images["importance.png"][:4] == b"\x89PNG"
    if task == "multiclass":
        e = report.worst_errors["misclassified"][0]
        assert e.y_true in ("low", "mid", "high") and e.prediction != e.y_true
        assert e.top_features_true_class is not None and len(e.top_features_true_class) == 5
    else:
        sev = [e.severity for e in report.worst_errors["over_prediction"]]
        assert sev == sorted(sev, reverse=True)
        assert report.slices.measure == "mean_abs_residual"


def test_stale_scores_are_warned_about(binary_project):
    cfg = load(binary_project)
    scored = io.read_frame(cfg.paths.scored_test)
    scored = scored.assign(score_lightgbm=np.clip(scored["score_lightgbm"] + 0.05, 0, 1))
    bundle = load_bundle(cfg.paths.models_dir / "lightgbm")
    report, _ = explain_model(scored, io.read_frame(cfg.paths.valid), bundle, cfg.data, cfg.explain)
    assert any("re-run evaluate" in w for w in report.warnings)


def test_missing_scored_columns_name_them(binary_project):
    cfg = load(binary_project)
    scored = io.read_frame(cfg.paths.scored_test).drop(columns=["y_true"])
    with pytest.raises(SchemaError, match="y_true"):
        derive_outcomes(scored, {"task": "binary"})


def test_importance_warnings_for_dominance_and_disagreement():
    table = [{"feature": "leaky", "share": 0.8}, {"feature": "x", "share": 0.2}]
    warns = importance_warnings(table, {"spearman_shap_gain": 0.2, "spearman_shap_permutation": 0.9}, ExplainParams())
    assert any("'leaky' carries 80%" in w for w in warns)
    assert any("gain" in w and "0.20" in w for w in warns)
    assert not any("permutation importance rank" in w for w in warns)
    calm = importance_warnings(
        [{"feature": "x", "share": 0.3}], {"spearman_shap_gain": 0.9, "spearman_shap_permutation": 0.7}, ExplainParams()
    )
    assert calm == []


def test_worst_errors_are_distinct_rows_with_identical_ones_counted():
    """Five identical false positives (duplicate bookings) are listed once, then the next worst distinct rows."""
    n = 9
    score = np.array([0.95] * 5 + [0.9, 0.8, 0.2, 0.1])
    y = np.array([0] * 7 + [1, 1])
    kind = np.where(y == 0, "false_positive", "false_negative")
    out = Outcomes(
        y_true=y,
        pred=1 - y,
        score=score,
        is_error=np.ones(n, bool),
        kind=kind,
        severity=np.where(y == 0, score, 1 - score),
        error_value=np.ones(n),
        definition="test",
    )
    values = np.array([[1.0, 0.5]] * 5 + [[0.8, 0.1], [0.7, 0.2], [-1.0, 0.3], [-0.5, 0.1]])
    shap_res = ShapResult(values=values, base=np.zeros(n), features=["a", "b"])
    scored = pd.DataFrame({"a": [1] * 5 + [2, 3, 4, 5], "b": ["x"] * n})
    worst = describe_worst_errors(
        scored,
        out,
        Sample(rows=np.arange(n), weights=np.ones(n)),
        shap_res,
        {"task": "binary", "classes": [0, 1]},
        DataParams(target="y", task="binary"),
        ExplainParams(top_errors=3, error_top_features=2),
    )
    fp = worst["false_positive"]
    assert [e["row"] for e in fp] == [0, 5, 6] and [e["identical_rows"] for e in fp] == [4, 0, 0]
    assert [e["row"] for e in worst["false_negative"]] == [8, 7]
