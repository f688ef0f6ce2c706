"""Error outcomes: which scored test rows the LightGBM model gets wrong, how badly, and the deliberate sample SHAP
explains (every error up to a cap, the worst of each kind always, plus a stratified sample of the rest, with the
weights that carry sample means back to the test set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tasks.core.config import ExplainParams
from tasks.core.errors import SchemaError
from tasks.core.metrics import score_columns
from tasks.core.schema import require_columns

MODEL = "lightgbm"

REGRESSION_ERROR_QUANTILE = 0.9  # regression rows with |residual| in the top 10% count as errors

REGRESSION_STRATA = 5  # quantile bins of y used to stratify the regression sample

ERROR_KINDS = {
    "binary": ("false_positive", "false_negative"),
    "multiclass": ("misclassified",),
    "regression": ("over_prediction", "under_prediction"),
}


@dataclass(frozen=True)
class Outcomes:
    """Per scored test row: label, prediction, score, error flag, error kind, severity and the slice error value."""

    y_true: np.ndarray
    pred: np.ndarray
    score: np.ndarray
    is_error: np.ndarray
    kind: np.ndarray
    severity: np.ndarray
    error_value: np.ndarray
    definition: str


@dataclass(frozen=True)
class Sample:
    """Rows explained with SHAP (sorted positions into the scored frame), their weights back to the test set, sizes."""

    rows: np.ndarray
    weights: np.ndarray
    sizes: dict[str, Any] = field(default_factory=dict)


def binary_outcomes(scored: pd.DataFrame, y: np.ndarray, threshold: float) -> Outcomes:
    """Return outcomes at the model's threshold: false positives / negatives, severity = confidence of the wrong call."""
    p = scored[f"score_{MODEL}"].to_numpy(dtype=float)
    pred = scored[f"pred_{MODEL}"].to_numpy(dtype=int) if f"pred_{MODEL}" in scored else (p >= threshold).astype(int)
    y = y.astype(int)
    kind = np.where(pred == y, "correct", np.where(pred == 1, "false_positive", "false_negative"))
    severity = np.where(kind == "false_positive", p, np.where(kind == "false_negative", 1 - p, 0.0))
    err = pred != y
    return Outcomes(y, pred, p, err, kind, severity, err.astype(float), f"pred_{MODEL} != y_true at threshold {threshold:.4g}")


def multiclass_outcomes(scored: pd.DataFrame, y: np.ndarray) -> Outcomes:
    """Return outcomes of the arg-max class; severity = probability given to the wrong predicted class."""
    proba = score_columns(scored, MODEL, "multiclass")
    if proba.shape[1] == 0:
        raise SchemaError(f"scored test frame has no proba_{MODEL}_<k> columns; re-run the evaluate step")
    pred = scored[f"pred_{MODEL}"].to_numpy(dtype=int) if f"pred_{MODEL}" in scored else proba.argmax(axis=1)
    y = y.astype(int)
    conf = proba[np.arange(len(pred)), pred]
    err = pred != y
    kind = np.where(err, "misclassified", "correct")
    return Outcomes(
        y, pred, conf, err, kind, np.where(err, conf, 0.0), err.astype(float), f"pred_{MODEL} != y_true (arg-max class)"
    )


def regression_outcomes(scored: pd.DataFrame, y: np.ndarray) -> Outcomes:
    """Return outcomes with |residual| as severity; rows in the top decile of |residual| count as errors."""
    col = f"pred_{MODEL}" if f"pred_{MODEL}" in scored else f"score_{MODEL}"
    pred = scored[col].to_numpy(dtype=float)
    resid = pred - y.astype(float)
    abs_res = np.abs(resid)
    cut = float(np.quantile(abs_res, REGRESSION_ERROR_QUANTILE)) if len(abs_res) else 0.0
    err = (abs_res >= cut) & (abs_res > 0)
    kind = np.where(~err, "correct", np.where(resid > 0, "over_prediction", "under_prediction"))
    return Outcomes(
        y.astype(float),
        pred,
        pred,
        err,
        kind,
        abs_res,
        abs_res,
        f"|y_true - pred_{MODEL}| >= {cut:.4g} (top {100 * (1 - REGRESSION_ERROR_QUANTILE):.0f}% of residuals)",
    )


def derive_outcomes(scored: pd.DataFrame, meta: dict[str, Any]) -> Outcomes:
    """Return the per-row outcomes of the LightGBM model from the scored test frame (task from the bundle meta)."""
    task = meta["task"]
    needed = ["y_true"] + ([f"score_{MODEL}"] if task != "multiclass" else [])
    require_columns(scored, needed, "scored test frame (evaluate output)")
    if len(scored) == 0:
        raise SchemaError("scored test frame has no rows; check the split step's test period")
    y = scored["y_true"].to_numpy(dtype=float)
    if task == "binary":
        return binary_outcomes(scored, y, float(meta.get("threshold", 0.5)))
    if task == "multiclass":
        return multiclass_outcomes(scored, y)
    return regression_outcomes(scored, y)


def worst_error_rows(out: Outcomes, kinds: tuple[str, ...], top: int) -> dict[str, np.ndarray]:
    """Return, per error kind, the positions of the `top` most severe errors (ties: lower position first)."""
    result = {}
    for kind in kinds:
        idx = np.flatnonzero(out.kind == kind)
        order = np.lexsort((idx, -out.severity[idx]))
        result[kind] = idx[order[:top]]
    return result


def pick_stratified(idx: np.ndarray, strata: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Return k of idx (sorted), allocated to strata in proportion to their size (largest remainder), random within."""
    if k >= len(idx):
        return np.sort(idx)
    if k <= 0:
        return np.zeros(0, dtype=idx.dtype)
    codes, _ = pd.factorize(pd.Series(strata), sort=True)
    counts = np.bincount(codes)
    exact = counts * k / len(idx)
    quota = np.floor(exact).astype(int)
    short = k - quota.sum()
    quota[np.lexsort((np.arange(len(counts)), -(exact - quota)))[:short]] += 1
    order = rng.permutation(len(idx))
    shuffled = codes[order]
    rank = pd.Series(shuffled).groupby(shuffled).cumcount().to_numpy()
    return np.sort(idx[order[rank < quota[shuffled]]])


def sample_strata(out: Outcomes, task: str) -> np.ndarray:
    """Return the stratum of each row for the non-error sample: the true class, or a quantile bin of y."""
    if task != "regression":
        return out.y_true.astype(int)
    bins = max(1, min(REGRESSION_STRATA, len(out.y_true)))
    return pd.qcut(pd.Series(out.y_true).rank(method="first"), bins, labels=False).to_numpy(dtype=int)


def pick_errors(out: Outcomes, task: str, p: ExplainParams, rng: np.random.Generator) -> np.ndarray:
    """Return the errors to explain: the worst of each kind always, then a kind-stratified random rest; max_errors in all."""
    worst = list(worst_error_rows(out, ERROR_KINDS[task], p.top_errors).values())
    forced = np.concatenate(worst) if worst else np.zeros(0, dtype=int)
    forced = forced[np.lexsort((forced, -out.severity[forced]))][: p.max_errors]
    others = np.setdiff1d(np.flatnonzero(out.is_error), forced)
    extra = pick_stratified(others, out.kind[others], p.max_errors - len(forced), rng)
    return np.union1d(forced, extra).astype(int)


def sample_weights(out: Outcomes, strata: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return each sampled row's weight: rows of its group in the test set / sampled rows of that group.

    Groups are the error kinds and the strata of correct rows, so weighted means over the sample estimate
    test-set means although errors are over-represented in it.
    """
    group = np.where(out.is_error, pd.factorize(pd.Series(out.kind), sort=True)[0], -1 - strata)
    codes, _ = pd.factorize(pd.Series(group), sort=True)
    population = np.bincount(codes)
    sampled = np.bincount(codes[rows], minlength=len(population))
    return (population[codes[rows]] / sampled[codes[rows]]).astype(float)


def sample_rows(out: Outcomes, task: str, p: ExplainParams) -> Sample:
    """Return the SHAP sample: worst errors first, other errors up to max_errors, a stratified rest up to sample_size."""
    rng = np.random.default_rng(p.random_state)
    picked_errors = pick_errors(out, task, p, rng)
    correct = np.flatnonzero(~out.is_error)
    strata = sample_strata(out, task)
    picked_correct = pick_stratified(correct, strata[correct], p.sample_size - len(picked_errors), rng)
    rows = np.union1d(picked_errors, picked_correct).astype(int)
    sizes = {
        "test_rows": int(len(out.is_error)),
        "errors_total": int(out.is_error.sum()),
        "errors_sampled": int(len(picked_errors)),
        "correct_total": int(len(correct)),
        "correct_sampled": int(len(picked_correct)),
        "sampled": int(len(rows)),
        "cap_sample_size": p.sample_size,
        "cap_max_errors": p.max_errors,
        "errors_by_kind": {k: int((out.kind == k).sum()) for k in ERROR_KINDS[task]},
        "errors_sampled_by_kind": {k: int((out.kind[rows] == k).sum()) for k in ERROR_KINDS[task]},
    }
    return Sample(rows=rows, weights=sample_weights(out, strata, rows), sizes=sizes)
