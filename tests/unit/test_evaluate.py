"""Evaluate: the test split is read exactly once per run, by evaluate; metrics fit the task; intervals bracket the value."""

import pandas as pd
import pytest

from tasks import evaluate, preprocess, split, train
from tasks.core import io
from tests.conftest import make_config, synthetic_frame


def trained(tmp_path, task="binary"):
    cfg = make_config(tmp_path, task=task)
    io.write_frame(synthetic_frame(n=900, seed=12, task=task), cfg.paths.ingested)
    for step in (split, preprocess, train):
        step.run(cfg)
    return cfg


def test_test_split_is_read_once_and_only_by_evaluate(tmp_path, monkeypatch):
    cfg = make_config(tmp_path)
    io.write_frame(synthetic_frame(n=900, seed=12), cfg.paths.ingested)
    reads = []
    real = io.read_frame
    monkeypatch.setattr(io, "read_frame", lambda path, columns=None: reads.append(str(path)) or real(path, columns))
    from tasks import cv

    for step in (split, preprocess, cv, train):
        step.run(cfg)
    assert str(cfg.paths.test) not in reads
    evaluate.run(cfg)
    assert reads.count(str(cfg.paths.test)) == 1


@pytest.mark.parametrize("task,metric", [("binary", "roc_auc"), ("multiclass", "log_loss"), ("regression", "rmse")])
def test_metrics_fit_the_task_and_intervals_bracket_the_value(tmp_path, task, metric):
    cfg = trained(tmp_path, task)
    report = evaluate.run(cfg)
    assert report.primary_metric == metric
    value = report.models["lightgbm"].value(metric)
    ci = report.intervals["lightgbm"][metric]
    assert ci.low <= value <= ci.high
    for model in ("lightgbm", "baseline"):  # every interval is of the whole test set, not of some part of it
        assert {name: iv.rows for name, iv in report.intervals[model].items()} == dict.fromkeys(
            report.intervals[model], report.test_rows
        ), model
    scored = pd.read_parquet(cfg.paths.scored_test)
    assert len(scored) == report.test_rows and "y_true" in scored
    if task == "binary":
        assert report.models["lightgbm"].roc_auc > report.models["dummy"].roc_auc
        assert (cfg.paths.reports_dir / "evaluate" / "roc.png").exists()
        assert sum(map(sum, (report.confusion_matrix or {})["lightgbm"])) == report.test_rows
        roc = pd.read_csv(cfg.paths.reports_dir / "plots" / "roc_lightgbm.csv")
        assert list(roc.columns) == ["fpr", "tpr"] and 2 < len(roc) <= 200
        assert roc["fpr"].is_monotonic_increasing and roc.iloc[[0, -1]].to_numpy().tolist() == [[0, 0], [1, 1]]
        assert {f.name for f in (cfg.paths.reports_dir / "plots").iterdir()} == {
            f"{c}_{m}.csv" for c in ("roc", "pr", "calibration") for m in ("lightgbm", "baseline")
        }
    if task == "regression":
        assert (cfg.paths.reports_dir / "evaluate" / "residuals.png").exists()
        resid = pd.read_csv(cfg.paths.reports_dir / "plots" / "residuals_lightgbm.csv")
        assert list(resid.columns) == ["predicted", "residual"] and len(resid) > 5
        assert resid["predicted"].is_monotonic_increasing


def test_segments_have_row_counts(tmp_path):
    cfg = trained(tmp_path)
    report = evaluate.run(cfg)
    seg = report.segments["colour"]
    assert set(seg) <= {"red", "green", "blue"} and all(v.rows >= 10 for v in seg.values())
    assert sum(v.rows for v in seg.values()) <= report.test_rows


def test_evaluation_report_shows_cv_test_intervals_and_lift(tmp_path):
    from tasks import cv

    cfg = trained(tmp_path)
    cv.run(cfg)
    report = evaluate.run(cfg)
    text = (cfg.paths.reports_dir / "evaluate" / "report.md").read_text()
    assert "| stratified | lightgbm |" in text and "±" in text
    auc = report.models["lightgbm"].roc_auc
    assert f"{auc:.4f} (" in text  # value followed by its interval
    assert "LightGBM lift on roc_auc: over baseline:" in text


def test_evaluation_report_shows_train_vs_test_beside_cv_vs_test(tmp_path):
    cfg = make_config(tmp_path)
    df = synthetic_frame(n=900, seed=12)
    late = df["when"] >= df["when"].quantile(0.8)
    df.loc[late, "label"] = 1  # the test period: every row positive, a label shift the split step must report
    io.write_frame(df, cfg.paths.ingested)
    for step in (split, preprocess, train):
        step.run(cfg)
    evaluate.run(cfg)
    text = (cfg.paths.reports_dir / "evaluate" / "report.md").read_text()
    saved = io.read_json(cfg.paths.reports_dir / "split.json")
    assert "## Is the test set like the training part? (split step)" in text
    assert "| class | training rate (95% CI) | test rate (95% CI) |" in text and "| 1 |" in text
    assert f"label PSI training -> test: {saved['train_vs_test']['label']['psi']:.4f}" in text
    assert "adversarial validation: a model tells test rows from training rows with ROC-AUC" in text
    assert "**Warnings:**" in text and "label [label_shift]: class 0:" in text
