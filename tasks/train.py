"""Train: a dummy and a linear baseline, and LightGBM: early-stopped on the validation slice, then refitted on train + valid.

The fitting functions (tasks/modelling/estimators.py) are shared with cv, which calls them inside every fold.
"""

from __future__ import annotations

import logging

import pandas as pd

from tasks.core import io
from tasks.core.config import Config, TrainParams
from tasks.core.entry import step_main
from tasks.core.metrics import primary_metric
from tasks.core.reports import CvReport, build_report, read_optional_report, write_report
from tasks.core.step_inputs import CvInput
from tasks.modelling.bundle import save_bundle
from tasks.modelling.drift_choices import choice_evidence, validation_vs_folds
from tasks.modelling.estimators import baseline_fit_rows
from tasks.modelling.reports import TrainReport, TuningReport
from tasks.modelling.training import (
    TRAINING_VERSION,
    fit_models,
    load_preprocessors,
    threshold_from_evidence,
    validation_metrics,
)
from tasks.modelling.tuning import tune_lightgbm

STEP_VERSION = TRAINING_VERSION
log = logging.getLogger(__name__)


def fold_evidence(cfg: Config) -> tuple[str | None, list[dict]]:
    """Return the CV scheme the split implies and LightGBM's numbers in each of its folds (reports/cv.json), if cv ran.

    walk_forward when cv ran it (time and row-order splits), else group, else the first scheme; as tuning chooses.
    """
    cv = read_optional_report(CvReport, cfg.paths.reports_dir / "cv.json")
    name = cv.refit_scheme() if cv else None
    if cv is None or name is None:
        return None, []
    return name, [dict(f["lightgbm"]) for f in cv.schemes[name].folds]


def fold_values(folds: list[dict], key: str) -> list[float]:
    """Return the folds' values of one key (best_iteration, threshold, a metric), skipping folds without it."""
    return [float(f[key]) for f in folds if f.get(key) is not None]


def tuned_params(train: pd.DataFrame, cfg: Config) -> tuple[TrainParams, dict | None]:
    """Return the train params with LightGBM's tuned by Optuna on the training split when enabled, and the trials."""
    if not cfg.train.tune.enabled:
        return cfg.train, None
    best, table = tune_lightgbm(train, CvInput.from_config(cfg))
    return cfg.train.model_copy(update={"lightgbm": best}), table


def run(cfg: Config) -> TrainReport:
    """Fit the models on the train split, choose thresholds on valid, save the bundles and a report."""
    train, valid = io.read_frame(cfg.paths.train), io.read_frame(cfg.paths.valid)
    pre, ft = load_preprocessors(cfg.paths.preprocess_dir)
    params, tuning = tuned_params(train, cfg)
    log.info(
        "train: fitting dummy, linear baseline and LightGBM on %d rows (%d features); the baseline on %d of "
        "them (train.baseline_max_rows)",
        len(train),
        len(ft.all),
        baseline_fit_rows(len(train), params),
    )
    scheme, folds = fold_evidence(cfg)
    best = [int(v) for v in fold_values(folds, "best_iteration")] or None
    bundles, valid_scores = fit_models(train, valid, pre, ft, cfg.data, params, cfg.compute, best)
    bundles["lightgbm"], threshold_choice = threshold_from_evidence(bundles["lightgbm"], fold_values(folds, "threshold"))
    primary = primary_metric(cfg.data.task)
    valid_metrics = validation_metrics(bundles, valid, cfg.data, valid_scores)  # lightgbm: before refit
    tree_count = (bundles["lightgbm"].meta.get("refit") or {}).get("tree_count")
    for name, bundle in bundles.items():
        save_bundle(bundle, cfg.paths.models_dir / name)
    report = {
        "step_version": STEP_VERSION,
        "train_rows": int(len(train)),
        "valid_rows": int(len(valid)),
        "features": ft.all,
        "class_weight": bundles["lightgbm"].meta.get("class_weight"),
        "best_iteration": bundles["lightgbm"].meta["best_iteration"],
        "refit": bundles["lightgbm"].meta.get("refit"),
        # why the refit has the trees it has: validation's best iteration against the CV folds' (choose_tree_count)
        "tree_count": tree_count,
        "thresholds": {n: b.meta.get("threshold") for n, b in bundles.items()},
        # LightGBM's decision threshold: the validation slice's, or the folds' median when far apart (drift_choices)
        "threshold_choice": threshold_choice,
        "validation_metrics": valid_metrics,
        # the primary metric on the validation slice against the folds' mean and std: is the latest slice an outlier?
        "validation_vs_folds": validation_vs_folds(primary, valid_metrics["lightgbm"].get(primary), fold_values(folds, primary)),
        # which evidence each choice followed (validation slice, CV folds, or params.yaml) and why
        "choices": choice_evidence(tree_count, threshold_choice, tuning is not None, scheme),
        "baseline_fit_rows": bundles["baseline"].meta["fit_rows"],
        "left_out_columns": dict(cfg.data.drop_columns),
        "lightgbm_params": params.lightgbm.model_dump(),
        "tuned": tuning is not None,
        "recency_half_life": params.recency_half_life,  # None: every training row weighs the same
        "compute": {"engine": cfg.compute.engine, "lightgbm_dask": cfg.compute.lightgbm_dask},  # tuning folds, final fit
    }
    if cfg.compute.lightgbm_dask:
        report["lightgbm_trained_with"] = "lightgbm.dask (all rounds, best iteration chosen on valid afterwards" + (
            "; refitted on train + valid with lightgbm.dask)" if params.refit else ")"
        )
    if tuning is not None:
        # train.json and tuning.json are DVC outputs: no wall time in them (the log says the seconds spent),
        # so two runs on the same inputs write the same bytes and dvc.lock does not change
        report["tuning"] = {k: v for k, v in tuning.items() if k not in ("trials", "seconds")}
    timeless = {k: v for k, v in tuning.items() if k != "seconds"} if tuning is not None else {"enabled": False}
    write_report(build_report(TuningReport, timeless), cfg.paths.reports_dir / "tuning.json")
    typed = build_report(TrainReport, report)
    write_report(typed, cfg.paths.reports_dir / "train.json")
    shown = typed.validation_metrics["lightgbm"].computed()
    log.info(
        "train: LightGBM final model has %d trees; validation (before refit) %s",
        typed.best_iteration,
        {k: round(v, 4) for k, v in shown.items() if k in ("roc_auc", "rmse", "log_loss") and v is not None},
    )
    return typed


if __name__ == "__main__":
    from tasks import train  # this module under its real name (loggers say tasks.train)

    step_main("train", train.run, __doc__)
