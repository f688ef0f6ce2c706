"""Headline metrics: the twenty-odd numbers DVC shows as metrics, from the detailed reports."""

from tasks.core.reports import CvReport, EvaluateReport, IngestReport, SplitReport
from tasks.reporting.headline import headline_metrics
from tasks.reporting.promotion_report import PromotionReport

METRICS = EvaluateReport.model_validate(
    {
        "task": "binary",
        "primary_metric": "roc_auc",
        "test_rows": 300,
        "models": {
            name: {"roc_auc": v, "pr_auc": v - 0.1, "log_loss": 0.4, "brier": 0.1, "f1": 0.7, "accuracy": 0.8}
            for name, v in (("lightgbm", 0.9), ("baseline", 0.85), ("dummy", 0.5))
        },
        "intervals": {
            "lightgbm": {"roc_auc": {"low": 0.88, "high": 0.92, "n_samples": 200}},
            "baseline": {"roc_auc": {"low": 0.83, "high": 0.87, "n_samples": 200}},
        },
        "lift": {"over_baseline": 0.05, "over_dummy": 0.4},
        "segments": {"hotel": {"City": {"rows": 200, "roc_auc": 0.9}}},
    }
)
PROMOTION = PromotionReport.model_validate(
    {
        "status": "rejected",
        "challenger_digest": "c" * 64,
        "decision": {
            "outcome": "reject",
            "primary_metric": "roc_auc",
            "first_model": True,
            "rules": [],
            "notes": [],
            "metrics": {},
        },
    }
)
CV = CvReport.model_validate(
    {
        "step_version": "1",
        "rows": 700,
        "n_splits": 4,
        "baseline_max_rows": 1000,
        "schemes": {
            "stratified": {
                "folds": [],
                "summary": {
                    "lightgbm": {"roc_auc": {"mean": 0.91, "std": 0.01}, "f1": {"mean": 0.7, "std": 0.02}},
                    "baseline": {"roc_auc": {"mean": 0.86, "std": 0.02}},
                    "high_variance": False,
                    "spread": 0.01,
                },
            }
        },
    }
)
INGEST = IngestReport.model_validate(
    {
        "step_version": "1",
        "snapshot": "s.csv",
        "snapshot_sha256": "s" * 64,
        "rows": 1000,
        "columns": 3,
        "dtypes": {},
        "numeric_parse_failures": {},
    }
)
SPLIT = SplitReport.model_validate(
    {
        "step_version": "2",
        "strategy": "time",
        "detail": {},
        "train": {"rows": 600},
        "valid": {"rows": 100},
        "test": {"rows": 300},
        "test_fingerprint": "f" * 64,
        "duplicate_rows_shared_train_test": 0,
    }
)


def test_headline_keeps_test_metrics_with_intervals_cv_rows_and_status_only():
    h = headline_metrics(METRICS, CV, SPLIT, INGEST, PROMOTION)
    assert h["test"]["lightgbm"]["roc_auc"] == 0.9
    assert (h["test"]["lightgbm"]["roc_auc_low"], h["test"]["lightgbm"]["roc_auc_high"]) == (0.88, 0.92)
    assert "roc_auc_low" not in h["test"]["baseline"] and "accuracy" not in h["test"]["lightgbm"]  # headline only
    assert "dummy" not in h["test"] and "segments" not in h
    assert h["test"]["baseline"] == {"roc_auc": 0.85}  # the baseline's primary metric only
    assert list(h["test"]["lightgbm"]) == ["roc_auc", "roc_auc_low", "roc_auc_high", "pr_auc", "log_loss", "brier", "f1"]
    assert h["cv"] == {"stratified": {"lightgbm": {"mean": 0.91, "std": 0.01}}}  # LightGBM's only
    assert h["rows"] == {"ingested": 1000, "train": 600, "valid": 100, "test": 300}
    assert h["promotion"] == {"status": "rejected", "outcome": "reject"}
    assert h["lift_over_baseline"] == 0.05
