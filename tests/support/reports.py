"""Small step reports shaped like the real ones, for tests that write or render them (every required field set)."""

from __future__ import annotations

from typing import Any

from tasks.modelling.reports import TrainReport

COUNTS = dict.fromkeys(
    ("rows", "gx_sample_rows", "columns", "expectations", "failed_error", "failed_warn", "drift_warn", "drift_error"), 0
)


def validate_report_data(**fields: Any) -> dict[str, Any]:
    """Return a passing reports/validate.json's data (no failure, no drift, no suspect), with fields replaced."""
    return {
        "passed": True,
        "counts": COUNTS,
        "failures": [],
        "suspects": [],
        "drift": {"columns": {}},
        "profile": {},
        "data_docs": "gx/uncommitted/data_docs/local_site/index.html",
        "fail_on_drift": False,
        "suite_mismatch": None,
        "suite": {"name": "tabgate", "file": "gx/expectations/tabgate.json", "reference_profile": "gx/reference_profile.json"},
        **fields,
    }


def train_report_data(**fields: Any) -> dict[str, Any]:
    """Return the plain data of a small binary train.json; fields replace the top-level values given."""
    tree_count = {
        "validation_best_iteration": 42,
        "fold_best_iterations": [40, 45, 50],
        "fold_median": 45,
        "ratio_folds_to_validation": 1.071,
        "chosen": 42,
        "source": "validation",
        "why": "validation (42) and the folds' median (45) agree within 3x",
    }
    data = {
        "step_version": "1",
        "train_rows": 700,
        "valid_rows": 100,
        "features": ["x1", "seg"],
        "class_weight": None,
        "best_iteration": 48,
        "refit": {"rows": 800, "early_stopping_iteration": 42, "n_estimators": 48, "tree_count": tree_count},
        "tree_count": tree_count,
        "thresholds": {"lightgbm": 0.37, "baseline": 0.4, "dummy": 0.3},
        "threshold_choice": {
            "validation": 0.37,
            "folds": [0.35, 0.4],
            "folds_median": 0.375,
            "folds_std": 0.035,
            "gap": 0.005,
            "limit": 0.1,
            "source": "validation",
            "chosen": 0.37,
            "why": "the validation slice's threshold 0.370 is within 0.100 of the folds' median 0.375",
        },
        "validation_metrics": {
            "lightgbm": {"roc_auc": 0.8, "threshold": 0.37},
            "baseline": {"roc_auc": 0.7},
            "dummy": {"roc_auc": 0.5},
        },
        "validation_vs_folds": {
            "metric": "roc_auc",
            "validation": 0.8,
            "folds": [0.79, 0.81],
            "folds_mean": 0.8,
            "folds_std": 0.014,
            "z": 0.0,
            "outlier": False,
            "why": "within 2 std",
        },
        "choices": {"tuning_objective": {"source": "configured", "why": "train.tune.enabled is false"}},
        "baseline_fit_rows": 700,
        "left_out_columns": {},
        "lightgbm_params": {"num_leaves": 31, "learning_rate": 0.1},
        "tuned": False,
        "recency_half_life": None,
        "compute": {"engine": "local", "lightgbm_dask": False},
    }
    return data | fields


def train_report(**fields: Any) -> TrainReport:
    """Return train_report_data(**fields) as the TrainReport the train step would return."""
    return TrainReport.model_validate(train_report_data(**fields))
