"""Tune: Optuna searches LightGBM's main hyperparameters against CV on the training rows only, for n_trials trials.

The folds come from the training split alone (walk-forward when there is a time column, grouped
when ids repeat, stratified otherwise); every fold refits its preprocessing; bad trials are pruned
after their first folds. The test set is never read here, so it cannot inform a choice.

The budget is a count of trials, never seconds, so the result does not depend on machine load. Trial 0
is train.lightgbm as configured (LightGBM's defaults unless changed); the best trial replaces it only
when it beats trial 0 on the same folds by more than tune.min_gain_se standard errors (keep_defaults).
"""

from __future__ import annotations

import logging
import time
from typing import Literal

import numpy as np
import pandas as pd

from tasks.core.config import (
    CVParams,
    DataParams,
    LightGBMParams,
    PreprocessParams,
    SplitParams,
    TrainParams,
)
from tasks.core.errors import TuneBudgetExceeded
from tasks.core.metrics import HIGHER_IS_BETTER, compute_metrics, primary_metric
from tasks.core.reports import implied_scheme
from tasks.core.schema import encode_target, infer_feature_types, label_classes
from tasks.core.step_inputs import CvInput
from tasks.data.splitting import carve_validation
from tasks.modelling.compute import fold_runner
from tasks.modelling.estimators import fit_lightgbm, resolve_class_weight
from tasks.modelling.folds import fold_indices, resolve_schemes
from tasks.modelling.preprocessing import build_tree_preprocessor

log = logging.getLogger(__name__)
SEARCHED = ("learning_rate", "num_leaves", "min_child_samples", "subsample", "colsample_bytree", "reg_lambda")


def suggest_params(trial, base: LightGBMParams) -> LightGBMParams:
    """Return LightGBM params with the searched hyperparameters drawn from the trial."""
    b = base
    return base.model_copy(
        update={
            "learning_rate": trial.suggest_float(
                "learning_rate", min(0.02, b.learning_rate), max(0.2, b.learning_rate), log=True
            ),
            "num_leaves": trial.suggest_int("num_leaves", min(7, b.num_leaves), max(255, b.num_leaves), log=True),
            "min_child_samples": trial.suggest_int(
                "min_child_samples", min(5, b.min_child_samples), max(200, b.min_child_samples), log=True
            ),
            "subsample": trial.suggest_float("subsample", min(0.5, b.subsample), 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", min(0.3, b.colsample_bytree), 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, max(30.0, b.reg_lambda), log=True),
        }
    )


def trial_params(trial, base: LightGBMParams) -> LightGBMParams:
    """Return trial 0's params as configured (base, exactly; the defaults candidate), later trials' drawn values."""
    return base if trial.number == 0 else suggest_params(trial, base)


def keep_defaults(default_folds: list[float], best_folds: list[float], higher_is_better: bool, min_gain_se: float) -> bool:
    """Return True unless best beats default on the same folds by more than min_gain_se standard errors of the gain.

    The gain is paired per fold (same rows, same preprocessing), oriented so positive is better.
    """
    gain = (np.asarray(best_folds) - np.asarray(default_folds)) * (1 if higher_is_better else -1)
    if len(gain) < 2:
        return not gain.mean() > 0
    se = float(gain.std(ddof=1) / np.sqrt(len(gain)))
    return not gain.mean() > min_gain_se * se


def tuning_folds(
    df: pd.DataFrame, y: np.ndarray, data: DataParams, cv: CVParams, sp: SplitParams | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the folds tuning scores on: the most honest CV scheme this table allows (walk-forward by row
    position when the split is by row order)."""
    schemes = resolve_schemes(df, data, cv, sp)
    return fold_indices(df, y, implied_scheme(schemes) or schemes[0], data, cv, sp)


def fold_score(
    fold_train: pd.DataFrame,
    fold_valid: pd.DataFrame,
    classes: list,
    lp: LightGBMParams,
    data: DataParams,
    pp: PreprocessParams,
    tp: TrainParams,
    sp: SplitParams,
) -> float:
    """Return the primary metric of LightGBM with params lp, fitted on fold_train only and scored on fold_valid."""

    ft = infer_feature_types(fold_train, data)
    fit_pos, es_pos = carve_validation(fold_train, data, sp)
    fit_df, es_df = fold_train.iloc[fit_pos], fold_train.iloc[es_pos]
    pre = build_tree_preprocessor(ft, pp).fit(fit_df[ft.all])
    y_fit, y_es, y_va = (encode_target(f[data.target], classes, data) for f in (fit_df, es_df, fold_valid))
    est = fit_lightgbm(
        pre, fit_df, y_fit, es_df, y_es, ft, data.task, lp, resolve_class_weight(y_fit, data.task, tp), tp.random_state
    )
    x = pre.transform(fold_valid[ft.all])
    scores = est.predict(x) if data.task == "regression" else est.predict_proba(x)
    scores = scores[:, 1] if data.task == "binary" else scores
    return compute_metrics(data.task, y_va, scores)[primary_metric(data.task)]


def fold_score_at(
    df: pd.DataFrame,
    train_pos: np.ndarray,
    valid_pos: np.ndarray,
    classes: list,
    lp: LightGBMParams,
    data: DataParams,
    pp: PreprocessParams,
    tp: TrainParams,
    sp: SplitParams,
) -> float:
    """Return fold_score on the rows of df at train_pos / valid_pos (the unit of work a fold runner ships)."""
    return fold_score(df.iloc[train_pos], df.iloc[valid_pos], classes, lp, data, pp, tp, sp)


def tune_lightgbm(train: pd.DataFrame, inp: CvInput) -> tuple[LightGBMParams, dict]:
    """Return the best LightGBM params found on folds of the training rows, and the trial table.

    compute.engine dask scores a trial's folds in parallel on a Dask cluster; the trials are the same as
    in-process (each fold is reported in order, so pruning decides alike; a pruned trial's extra folds are cancelled).
    """
    import optuna

    data, tp, cv, pp, sp, compute = inp.data, inp.train, inp.cv, inp.preprocess, inp.split, inp.compute
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    classes = label_classes(train[data.target], data)
    y = encode_target(train[data.target], classes, data)
    folds = tuning_folds(train, y, data, cv, sp)
    metric = primary_metric(data.task)
    direction: Literal["maximize", "minimize"] = "maximize" if HIGHER_IS_BETTER[metric] else "minimize"

    def objective(trial) -> float:
        lp = trial_params(trial, tp.lightgbm)
        trial.set_user_attr("params", {k: getattr(lp, k) for k in SEARCHED})
        values: list[float] = []
        scores = runner.imap(fold_score_at, [(shared, tr, va) for tr, va in folds], classes, lp, data, pp, tp, sp)
        for k, value in enumerate(scores):
            values.append(float(value))
            trial.set_user_attr("folds", values)
            trial.report(float(np.mean(values)), k)
            if trial.should_prune():
                scores.close()
                raise optuna.TrialPruned()
        return float(np.mean(values))

    study = optuna.create_study(
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=tp.random_state),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
    )
    started = time.perf_counter()
    with fold_runner(compute) as runner:
        shared = runner.share(train)
        study.optimize(objective, n_trials=tp.tune.n_trials, callbacks=[safety_cap(started, tp.tune.timeout_seconds)])
    seconds = time.perf_counter() - started
    kept = keep_defaults(
        study.trials[0].user_attrs["folds"], study.best_trial.user_attrs["folds"], HIGHER_IS_BETTER[metric], tp.tune.min_gain_se
    )
    chosen = study.trials[0] if kept else study.best_trial
    best = tp.lightgbm.model_copy(update=chosen.user_attrs["params"])
    log.info(
        "tune: %d trials (%d pruned) in %.0fs; best CV %s %.4f (trial %d), trial 0 (params.yaml) %.4f; using %s",
        len(study.trials),
        sum(t.state.name == "PRUNED" for t in study.trials),
        seconds,
        metric,
        study.best_value,
        study.best_trial.number,
        study.trials[0].value,
        "trial 0 (gain within noise)" if kept else "the best trial",
    )
    return best, trial_table(study, metric, len(folds)) | {
        "chosen_trial": chosen.number,
        "kept_defaults": kept,
        "seconds": round(seconds, 1),
        "n_trials": len(study.trials),
    }


def safety_cap(started: float, timeout_seconds: int | None):
    """Return an Optuna callback that raises TuneBudgetExceeded once tuning has run past timeout_seconds (None: never)."""

    def check(study, trial) -> None:
        elapsed = time.perf_counter() - started
        if timeout_seconds is not None and elapsed > timeout_seconds:
            raise TuneBudgetExceeded(
                f"train.tune.timeout_seconds: tuning ran {elapsed:.0f}s (> {timeout_seconds}s) after {trial.number + 1} of "
                "train.tune.n_trials trials; the cap is a safety stop, not a budget: raise it, remove it, or lower n_trials"
            )

    return check


def trial_table(study, metric: str, n_folds: int) -> dict:
    """Return the study as a report: metric, folds, best trial and one row per trial (params and per-fold scores)."""
    rows = [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            **t.user_attrs.get("params", {}),
            "folds": t.user_attrs.get("folds", []),
        }
        for t in study.trials
    ]
    return {
        "metric": metric,
        "folds": n_folds,
        "best_value": study.best_value,
        "best_params": study.best_trial.user_attrs["params"],
        "best_trial": study.best_trial.number,
        "trials": rows,
        "note": "trial 0 is params.yaml's lightgbm section (LightGBM's defaults unless changed); the best trial "
        "replaces it only beyond tune.min_gain_se standard errors of the paired per-fold gain; scores are CV "
        "on the training split only",
    }
