"""Estimators: how each model is fitted (LightGBM with early stopping, the linear baseline, the dummy), shared
by cv (inside every fold), tuning and train.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from tasks.core.config import LightGBMParams, TrainParams
from tasks.core.metrics import primary_metric
from tasks.core.sampling import baseline_rows
from tasks.core.schema import FeatureTypes

log = logging.getLogger(__name__)


def resolve_class_weight(y: np.ndarray, task: str, p: TrainParams) -> str | None:
    """Return 'balanced' when asked, or when `auto` and the majority/minority ratio exceeds imbalance_ratio.

    The default (`none`) trains on the unweighted loss. Either way early stopping and tuning watch the gate's metric
    (early_stopping_metric), so weights never make the stopping rule disagree with what the gate judges.
    """
    if task == "regression" or p.class_weight == "none":
        return None
    if p.class_weight == "balanced":
        return "balanced"
    counts = np.bincount(y)
    counts = counts[counts > 0]
    return "balanced" if counts.max() / counts.min() >= p.imbalance_ratio else None


def lightgbm_threads(n_rows: int, lp: LightGBMParams) -> int:
    """Return LightGBM's thread count: one below 20k rows (OpenMP overhead dominates), else lightgbm.num_threads.

    Never the machine's core count: the count is written into the model file, so it must come from params.
    """
    return 1 if n_rows < 20_000 else lp.num_threads


EARLY_STOPPING_METRIC = {"roc_auc": "auc", "log_loss": "multi_logloss", "rmse": "rmse"}


def early_stopping_metric(task: str) -> str:
    """Return the LightGBM metric early stopping watches: the gate's primary metric for the task."""
    return EARLY_STOPPING_METRIC[primary_metric(task)]


def lightgbm_estimator(task: str, lp: LightGBMParams, class_weight: str | None, random_state: int, n_jobs: int = 1):
    """Return an unfitted, deterministic LightGBM scikit-learn estimator for the task (evaluates the gate's metric)."""
    import lightgbm as lgb

    common: dict[str, Any] = dict(
        n_estimators=lp.n_estimators,
        learning_rate=lp.learning_rate,
        num_leaves=lp.num_leaves,
        min_child_samples=lp.min_child_samples,
        subsample=lp.subsample,
        subsample_freq=lp.subsample_freq,
        colsample_bytree=lp.colsample_bytree,
        reg_lambda=lp.reg_lambda,
        random_state=random_state,
        deterministic=True,
        force_row_wise=True,
        n_jobs=n_jobs,
        verbose=-1,
        metric=early_stopping_metric(task),
    )
    if task == "regression":
        return lgb.LGBMRegressor(**common)
    return lgb.LGBMClassifier(class_weight=class_weight, **common)


def lightgbm_matrix(pre, df: pd.DataFrame, ft: FeatureTypes) -> tuple[np.ndarray, list[str]]:
    """Return pre's transform of df's features as one float32 matrix and its column names.

    LightGBM bins the features, so it needs no float64 copy of the frame: the matrix is built once, in float32, and
    the transformed frame is dropped at once (half the memory of the float64 matrix LightGBM makes of a frame).
    """
    x = pre.transform(df[ft.all])
    names = [str(c) for c in x.columns]
    return np.asarray(x.to_numpy(dtype=np.float32)), names


def recency_weights(times: pd.Series | None, n: int, half_life: float | None) -> np.ndarray | None:
    """Return row weights 0.5 ** (age / half_life), or None (equal weights) when half_life is None.

    age is a row's distance from the latest row as a fraction of the rows in time order: by `times` (ties share
    their average rank), or by row position when times is None (a table kept in time order). Unitless, so one
    half-life means the same on hourly and yearly tables.
    """
    if not half_life or n == 0:
        return None
    rank = np.arange(n, dtype=float) if times is None else pd.to_datetime(times).rank(method="average").to_numpy() - 1
    age = (rank.max() - rank) / max(n - 1, 1)
    return np.asarray(0.5 ** (age / half_life))


def fit_lightgbm(
    pre,
    fit_df: pd.DataFrame,
    y_fit: np.ndarray,
    es_df: pd.DataFrame,
    y_es: np.ndarray,
    ft: FeatureTypes,
    task: str,
    lp: LightGBMParams,
    class_weight: str | None,
    random_state: int,
    sample_weight: np.ndarray | None = None,
):
    """Return a LightGBM estimator fitted on fit_df with early stopping on es_df (pre is already fitted).

    Early stopping watches the gate's metric on es_df (early_stopping_metric), unweighted as the gate computes it.
    LightGBM is handed float32 matrices (lightgbm_matrix), the features named as in the frames.
    """
    import lightgbm as lgb

    est = lightgbm_estimator(task, lp, class_weight, random_state, lightgbm_threads(len(fit_df), lp))
    x_fit, names = lightgbm_matrix(pre, fit_df, ft)
    x_es, _ = lightgbm_matrix(pre, es_df, ft)
    est.fit(
        x_fit,
        y_fit,
        sample_weight=sample_weight,
        eval_X=(x_es,),
        eval_y=(y_es,),
        feature_name=names,
        categorical_feature=list(ft.categorical) or "auto",
        callbacks=[lgb.early_stopping(lp.early_stopping_rounds, first_metric_only=True, verbose=False)],
    )
    return est


def refit_rounds(best_iteration: int, n_fit: int, n_full: int) -> int:
    """Return the number of trees for a refit on n_full rows: best_iteration (found with n_fit rows) times n_full/n_fit."""
    return max(1, int(round(best_iteration * n_full / max(n_fit, 1))))


def refit_lightgbm(
    pre,
    train: pd.DataFrame,
    y_train: np.ndarray,
    valid: pd.DataFrame,
    y_valid: np.ndarray,
    ft: FeatureTypes,
    task: str,
    lp: LightGBMParams,
    class_weight: str | None,
    random_state: int,
    rounds: int,
    sample_weight: np.ndarray | None = None,
):
    """Return LightGBM fitted on the train and valid rows together with exactly `rounds` trees (no early stopping).

    sample_weight (train's rows then valid's) weighs the rows, e.g. recency_weights; None: equal weights.
    """
    x_train, names = lightgbm_matrix(pre, train, ft)
    x = np.concatenate([x_train, lightgbm_matrix(pre, valid, ft)[0]])
    del x_train
    est = lightgbm_estimator(
        task, lp.model_copy(update={"n_estimators": rounds}), class_weight, random_state, lightgbm_threads(len(x), lp)
    )
    return est.fit(
        x,
        np.concatenate([y_train, y_valid]),
        sample_weight=sample_weight,
        feature_name=names,
        categorical_feature=list(ft.categorical) or "auto",
    )


def baseline_fit_rows(n_rows: int, p: TrainParams) -> int:
    """Return how many rows fit_linear fits the baseline on: all, or train.baseline_max_rows of them."""
    return min(n_rows, p.baseline_max_rows)


def fit_linear(pre, fit_df: pd.DataFrame, y: np.ndarray, ft: FeatureTypes, task: str, p: TrainParams, class_weight: str | None):
    """Return a logistic regression (classification) or ridge regression fitted on fit_df (pre is already fitted).

    Fitted on baseline_rows of fit_df (all of them up to train.baseline_max_rows): only those rows are transformed.
    """
    from sklearn.linear_model import LogisticRegression, Ridge

    rows = baseline_rows(y, task, p.baseline_max_rows, p.random_state)
    if rows is not None:
        fit_df, y = fit_df.iloc[rows], y[rows]
    x = pre.transform(fit_df[ft.all])
    if task == "regression":
        return Ridge(alpha=1.0 / p.baseline_c).fit(x, y)
    return LogisticRegression(C=p.baseline_c, max_iter=p.baseline_max_iter, class_weight=class_weight).fit(x, y)


def fit_dummy(pre, fit_df: pd.DataFrame, y: np.ndarray, ft: FeatureTypes, task: str):
    """Return a model that predicts the training prior (classification) or mean (regression).

    The dummy reads only the shape of its input (and column names of a frame): unless pre outputs a frame, it is
    fitted on an all-zero sparse matrix as wide as pre's output (one row transformed), not on the transformed rows.
    """
    from scipy import sparse
    from sklearn.dummy import DummyClassifier, DummyRegressor

    first = pre.transform(fit_df[ft.all].iloc[:1])
    if isinstance(first, pd.DataFrame):
        x = pre.transform(fit_df[ft.all])
    else:
        x = sparse.csr_matrix((len(fit_df), first.shape[1]))
    return DummyRegressor(strategy="mean").fit(x, y) if task == "regression" else DummyClassifier(strategy="prior").fit(x, y)
