"""Tune: Optuna searches LightGBM's main hyperparameters against CV on the training rows only, within a budget.

The folds come from the training split alone (walk-forward when there is a time column, grouped
when ids repeat, stratified otherwise); every fold refits its preprocessing; bad trials are pruned
after their first folds. The test set is never read here, so it cannot inform a choice.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

import numpy as np
import pandas as pd

from tasks.core.config import (
    ComputeParams,
    CVParams,
    DataParams,
    LightGBMParams,
    PreprocessParams,
    SplitParams,
    TrainParams,
)
from tasks.core.metrics import HIGHER_IS_BETTER, compute_metrics, primary_metric
from tasks.core.schema import encode_target, infer_feature_types, label_classes
from tasks.data.splitting import carve_validation
from tasks.modelling.compute import fold_runner
from tasks.modelling.estimators import fit_lightgbm, resolve_class_weight
from tasks.modelling.folds import fold_indices, resolve_schemes
from tasks.modelling.preprocessing import build_tree_preprocessor

log = logging.getLogger(__name__)


def suggest_params(trial, base: LightGBMParams) -> LightGBMParams:
    """Return LightGBM params with the searched hyperparameters drawn from the trial."""
    b = base
    return base.model_copy(update={  # each range also covers params.yaml's value (trial 0)
        "learning_rate": trial.suggest_float("learning_rate", min(0.02, b.learning_rate), max(0.2, b.learning_rate), log=True),
        "num_leaves": trial.suggest_int("num_leaves", min(15, b.num_leaves), max(255, b.num_leaves), log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", min(5, b.min_child_samples),
                                               max(200, b.min_child_samples), log=True),
        "subsample": trial.suggest_float("subsample", min(0.5, b.subsample), 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", min(0.4, b.colsample_bytree), 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", min(1e-3, max(b.reg_lambda, 1e-6)), max(30.0, b.reg_lambda), log=True),
    })


def tuning_folds(df: pd.DataFrame, y: np.ndarray, data: DataParams, cv: CVParams) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the folds tuning scores on: the most honest CV scheme this table allows."""
    schemes = resolve_schemes(df, data, cv)
    scheme = next((s for s in ("walk_forward", "group") if s in schemes), schemes[0])
    return fold_indices(df, y, scheme, data, cv)


def fold_score(fold_train: pd.DataFrame, fold_valid: pd.DataFrame, classes: list, lp: LightGBMParams,
               data: DataParams, pp: PreprocessParams, tp: TrainParams, sp: SplitParams) -> float:
    """Return the primary metric of LightGBM with params lp, fitted on fold_train only and scored on fold_valid."""

    ft = infer_feature_types(fold_train, data)
    fit_pos, es_pos = carve_validation(fold_train, data, sp)
    fit_df, es_df = fold_train.iloc[fit_pos], fold_train.iloc[es_pos]
    pre = build_tree_preprocessor(ft, pp).fit(fit_df[ft.all])
    y_fit, y_es, y_va = (encode_target(f[data.target], classes, data) for f in (fit_df, es_df, fold_valid))
    est = fit_lightgbm(pre, fit_df, y_fit, es_df, y_es, ft, data.task, lp, resolve_class_weight(y_fit, data.task, tp),
                       tp.random_state)
    x = pre.transform(fold_valid[ft.all])
    scores = est.predict(x) if data.task == "regression" else est.predict_proba(x)
    scores = scores[:, 1] if data.task == "binary" else scores
    return compute_metrics(data.task, y_va, scores)[primary_metric(data.task)]


def fold_score_at(df: pd.DataFrame, train_pos: np.ndarray, valid_pos: np.ndarray, classes: list, lp: LightGBMParams,
                  data: DataParams, pp: PreprocessParams, tp: TrainParams, sp: SplitParams) -> float:
    """Return fold_score on the rows of df at train_pos / valid_pos (the unit of work a fold runner ships)."""
    return fold_score(df.iloc[train_pos], df.iloc[valid_pos], classes, lp, data, pp, tp, sp)


def tune_lightgbm(train: pd.DataFrame, data: DataParams, tp: TrainParams, cv: CVParams, pp: PreprocessParams,
                  sp: SplitParams, compute: ComputeParams | None = None) -> tuple[LightGBMParams, dict]:
    """Return the best LightGBM params found on folds of the training rows, and the trial table.

    compute.engine dask scores a trial's folds in parallel on a Dask cluster; the trials are the same as
    in-process (each fold is reported in order, so pruning decides alike; a pruned trial's extra folds are cancelled).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    classes = label_classes(train[data.target], data)
    y = encode_target(train[data.target], classes, data)
    folds = tuning_folds(train, y, data, cv)
    metric = primary_metric(data.task)
    direction: Literal["maximize", "minimize"] = "maximize" if HIGHER_IS_BETTER[metric] else "minimize"

    def objective(trial) -> float:
        lp = suggest_params(trial, tp.lightgbm)
        values = []
        scores = runner.imap(fold_score_at, [(shared, tr, va) for tr, va in folds], classes, lp, data, pp, tp, sp)
        for k, value in enumerate(scores):
            values.append(value)
            trial.report(float(np.mean(values)), k)
            if trial.should_prune():
                scores.close()
                raise optuna.TrialPruned()
        return float(np.mean(values))

    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=tp.random_state),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0))
    study.enqueue_trial({k: getattr(tp.lightgbm, k) for k in ("learning_rate", "num_leaves", "min_child_samples",
                                                               "subsample", "colsample_bytree", "reg_lambda")})
    started = time.perf_counter()
    with fold_runner(compute) as runner:
        shared = runner.share(train)
        study.optimize(objective, n_trials=tp.tune.n_trials, timeout=tp.tune.timeout_seconds)
    best = suggest_params(optuna.trial.FixedTrial(study.best_params), tp.lightgbm)
    log.info("tune: %d trials (%d pruned) in %.0fs; best CV %s %.4f (params.yaml values: %.4f)",
             len(study.trials), sum(t.state.name == "PRUNED" for t in study.trials), time.perf_counter() - started,
             metric, study.best_value, study.trials[0].value if study.trials[0].value is not None else float("nan"))
    return best, trial_table(study, metric, len(folds))


def trial_table(study, metric: str, n_folds: int) -> dict:
    """Return the study as a report: metric, folds, best trial and one row per trial."""
    rows = [{"number": t.number, "state": t.state.name, "value": t.value, **t.params} for t in study.trials]
    return {"metric": metric, "folds": n_folds, "best_value": study.best_value, "best_params": study.best_params,
            "best_trial": study.best_trial.number, "trials": rows,
            "note": "trial 0 is params.yaml's lightgbm section; scores are CV on the training split only"}
