"""Metrics that fit the problem: classification and regression scores, thresholds, bootstrap intervals."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

from tasks.core.errors import ConfigError

HIGHER_IS_BETTER = {
    "roc_auc": True,
    "pr_auc": True,
    "log_loss": False,
    "brier": False,
    "precision": True,
    "recall": True,
    "f1": True,
    "accuracy": True,
    "balanced_accuracy": True,
    "macro_f1": True,
    "mae": False,
    "rmse": False,
    "r2": True,
}
PRIMARY_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def primary_metric(task: str) -> str:
    """Return the metric the pipeline ranks models by for a task type."""
    return PRIMARY_METRIC[task]


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Return ROC-AUC, PR-AUC, log loss, Brier and thresholded scores for P(positive) p."""
    y = np.asarray(y)
    two_classes = len(np.unique(y)) == 2
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "roc_auc": float(skm.roc_auc_score(y, p)) if two_classes else float("nan"),
        "pr_auc": float(skm.average_precision_score(y, p)) if two_classes else float("nan"),
        "log_loss": float(skm.log_loss(y, pc, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, p)),
        **thresholded_metrics(y, np.asarray(p) >= threshold),
        "threshold": float(threshold),
    }


def thresholded_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Return precision, recall, F1 (0 when undefined) and accuracy of 0/1 labels y and boolean predictions.

    The values of scikit-learn's precision_score / recall_score / f1_score (zero_division=0) and accuracy_score,
    from one count of true and predicted positives; labels other than 0/1 go to scikit-learn itself.
    """
    is_pos = y == 1
    if not np.all(is_pos | (y == 0)):
        pred = pred.astype(int)
        return {
            "precision": float(skm.precision_score(y, pred, zero_division=0)),
            "recall": float(skm.recall_score(y, pred, zero_division=0)),
            "f1": float(skm.f1_score(y, pred, zero_division=0)),
            "accuracy": float(skm.accuracy_score(y, pred)),
        }
    tp, n_pred = float(np.count_nonzero(pred & is_pos)), float(np.count_nonzero(pred))
    n_pos = float(np.count_nonzero(is_pos))
    tn = len(y) - n_pred - n_pos + tp
    return {
        "precision": tp / n_pred if n_pred else 0.0,
        "recall": tp / n_pos if n_pos else 0.0,
        "f1": 2.0 * tp / (n_pos + n_pred) if n_pos + n_pred else 0.0,
        "accuracy": (tp + tn) / len(y),
    }


def multiclass_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Return log loss, accuracy, macro F1 and one-vs-rest ROC-AUC for class probabilities."""
    pred = proba.argmax(axis=1)
    labels = list(range(proba.shape[1]))
    present = len(np.unique(y)) == proba.shape[1]
    return {
        "log_loss": float(skm.log_loss(y, np.clip(proba, 1e-15, 1), labels=labels)),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
        "macro_f1": float(skm.f1_score(y, pred, average="macro", zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels)) if present else float("nan"),
    }


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Return MAE, RMSE and R² of predictions."""
    return {
        "mae": float(skm.mean_absolute_error(y, pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y, pred))),
        "r2": float(skm.r2_score(y, pred)) if len(y) > 1 else float("nan"),
    }


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p, 1e-15, 1 - 1e-15)


SINGLE_METRICS: dict[str, dict[str, Callable[[np.ndarray, np.ndarray, float], float]]] = {
    "binary": {
        "roc_auc": lambda y, p, t: float(skm.roc_auc_score(y, p)),
        "pr_auc": lambda y, p, t: float(skm.average_precision_score(y, p)),
        "log_loss": lambda y, p, t: float(-np.mean(y * np.log(_clip(p)) + (1 - y) * np.log(1 - _clip(p)))),
        "brier": lambda y, p, t: float(np.mean((p - y) ** 2)),
        "f1": lambda y, p, t: float(skm.f1_score(y, (p >= t).astype(int), zero_division=0)),
    },
    "multiclass": {
        "log_loss": lambda y, p, t: float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1)))),
        "accuracy": lambda y, p, t: float(np.mean(p.argmax(axis=1) == y)),
        "macro_f1": lambda y, p, t: float(skm.f1_score(y, p.argmax(axis=1), average="macro", zero_division=0)),
    },
    "regression": {
        "rmse": lambda y, p, t: float(np.sqrt(np.mean((y - p) ** 2))),
        "mae": lambda y, p, t: float(np.mean(np.abs(y - p))),
        "r2": lambda y, p, t: float(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)),
    },
}


def single_metric(task: str, name: str) -> Callable[[np.ndarray, np.ndarray, float], float]:
    """Return a fast function (y, scores, threshold) -> value for one metric, for resampling loops."""
    table = SINGLE_METRICS[task]
    if name in table:
        return table[name]
    return lambda y, p, t: compute_metrics(task, y, p, t)[name]


def compute_metrics(task: str, y: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Return the metrics that fit the task for labels y and model scores."""
    if task == "binary":
        return binary_metrics(y, scores, threshold)
    if task == "multiclass":
        return multiclass_metrics(y, scores)
    return regression_metrics(y, scores)


def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> list[list[int]]:
    """Return the confusion matrix (rows: true class, columns: predicted) as nested lists."""
    return skm.confusion_matrix(y, pred, labels=list(range(n_classes))).tolist()


def threshold_grid(p: np.ndarray) -> np.ndarray:
    """Return the candidate decision thresholds: the distinct 1%..99% quantiles of the scores (197 of them)."""
    return np.unique(np.quantile(p, np.linspace(0.01, 0.99, 197)))


def positives_at_thresholds(y: np.ndarray, p: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, for each threshold t of grid, the rows with p >= t and the true positives among them (two sorts)."""
    below = np.searchsorted(np.sort(p), grid, side="left")
    pos_scores = np.sort(p[y == 1])
    return len(p) - below, len(pos_scores) - np.searchsorted(pos_scores, grid, side="left")


def threshold_objective_values(predicted: np.ndarray, tp: np.ndarray, n_pos: int, n: int, objective: str) -> np.ndarray:
    """Return the objective at each threshold from its confusion counts, exactly as scikit-learn computes it."""
    predicted, tp = predicted.astype(float), tp.astype(float)
    fp, n_neg = predicted - tp, n - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = tp / n_pos if n_pos else np.zeros_like(tp)
        if objective == "balanced_accuracy":  # mean recall of the classes present in y
            if n_pos and n_neg:
                return (recall + (n_neg - fp) / n_neg) / 2
            return recall if n_pos else (n_neg - fp) / n_neg
        if objective == "precision_at_recall":
            return np.where(recall >= 0.8, precision, -1.0)
        denom = 1.0 * n_pos + predicted
        return np.where(denom > 0, 2.0 * tp / denom, 0.0)


def choose_threshold(y: np.ndarray, p: np.ndarray, objective: str) -> float:
    """Return the decision threshold on P(positive) that maximises the objective on these (validation) rows.

    The thresholds are threshold_grid(p); the first best one wins. Every threshold is scored at once from
    confusion counts (threshold_objective_values), the same numbers as scikit-learn's f1 / balanced accuracy /
    precision scores of (p >= t) one threshold at a time.
    """
    grid = threshold_grid(p)
    if not len(grid):
        return 0.5
    if np.isnan(grid).any():  # NaN scores: np.quantile's grid is [nan]
        return float(grid[0])
    y = np.asarray(y)
    predicted, tp = positives_at_thresholds(y, p, grid)
    values = threshold_objective_values(predicted, tp, int(np.sum(y == 1)), len(y), objective)
    return float(grid[int(np.argmax(values))])


def bootstrap_indices(n: int, n_samples: int, random_state: int) -> np.ndarray:
    """Return an (n_samples, n) array of row indices drawn with replacement."""
    rng = np.random.default_rng(random_state)
    return rng.integers(0, n, size=(n_samples, n))


def iter_bootstrap_indices(n: int, n_samples: int, random_state: int, size: int | None = None) -> Iterator[np.ndarray]:
    """Yield the rows of bootstrap_indices(n, n_samples, random_state) one at a time (same draws, O(n) memory).

    size: rows drawn per resample (with replacement, from all n); None draws n, the ordinary bootstrap.
    """
    rng = np.random.default_rng(random_state)
    for _ in range(n_samples):
        yield rng.integers(0, n, size=n if size is None else size)


def bootstrap_interval(
    metric: Callable[[np.ndarray], float], n: int, n_samples: int, random_state: int, level: float = 0.95
) -> dict[str, float]:
    """Return the percentile bootstrap interval of metric(idx) over resampled row indices."""
    if n_samples <= 0 or n < 2:
        return {"low": float("nan"), "high": float("nan"), "n_samples": 0}
    values = []
    for idx in iter_bootstrap_indices(n, n_samples, random_state):  # not the (n_samples, n) matrix: GBs at 1M+ rows
        try:
            values.append(metric(idx))
        except ValueError:  # a resample with one class has no ROC-AUC
            continue
    return percentile_interval(values, level)


def percentile_interval(values: list[float], level: float = 0.95) -> dict[str, float]:
    """Return the percentile interval of the finite values, and how many there were."""
    arr = np.asarray([v for v in values if np.isfinite(v)])
    if len(arr) == 0:
        return {"low": float("nan"), "high": float("nan"), "n_samples": 0}
    alpha = (1 - level) / 2
    return {"low": float(np.quantile(arr, alpha)), "high": float(np.quantile(arr, 1 - alpha)), "n_samples": int(len(arr))}


def tie_groups(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the order of p by descending score and, along it, the index of each row's group of equal scores."""
    order = np.argsort(-p, kind="mergesort")
    ps = p[order]
    return order, np.cumsum(np.r_[True, ps[1:] != ps[:-1]]) - 1


@dataclass(frozen=True)
class ResampleTerms:
    """One model's per-row terms of the binary metrics, computed once and reused by every bootstrap resample."""

    order: np.ndarray  # rows by descending score (tie_groups)
    cell: np.ndarray  # along order, 2 * (index of the row's group of equal scores) + (1 if positive else 0)
    n_groups: int
    log_term: np.ndarray  # y log p + (1 - y) log(1 - p), p clipped as in log_loss
    sq_err: np.ndarray  # (p - y)^2
    groups_above: int  # groups scored >= the threshold (the first ones along order)


def resample_terms(y: np.ndarray, p: np.ndarray, threshold: float) -> ResampleTerms:
    """Return what weighted_binary_metrics needs of labels y and scores p, for any resample's row weights."""
    order, group = tie_groups(p)
    pc = _clip(p)
    above = int(np.count_nonzero(p >= threshold))  # NaN scores sort last and are never above
    log_term = y * np.log(pc) + (1 - y) * np.log(1 - pc)  # as in SINGLE_METRICS' log_loss, row by row
    return ResampleTerms(
        order, 2 * group + (y[order] == 1), int(group[-1]) + 1, log_term, (p - y) ** 2, int(group[above - 1]) + 1 if above else 0
    )


def weighted_binary_metrics(t: ResampleTerms, w: np.ndarray) -> dict[str, float] | None:
    """Return roc_auc, pr_auc, log_loss, brier and f1 of the rows repeated w times (None when a class is absent).

    The same values as SINGLE_METRICS on the repeated rows (up to float rounding), in O(n) without sorting:
    the resample's row counts are summed per group of tied scores and class (exact: integer counts).
    """
    counts = np.bincount(t.cell, weights=w[t.order], minlength=2 * t.n_groups)
    neg, pos = counts[0::2], counts[1::2]
    cpos, cneg = np.cumsum(pos), np.cumsum(neg)
    if cpos[-1] == 0 or cneg[-1] == 0:
        return None
    keep = (pos + neg) > 0
    tps, fps = cpos[keep], cneg[keep]
    tpr, fpr, recall = np.r_[0.0, tps / tps[-1]], np.r_[0.0, fps / fps[-1]], tps / tps[-1]
    total = w.sum()
    tp, fp = (cpos[t.groups_above - 1], cneg[t.groups_above - 1]) if t.groups_above else (0.0, 0.0)
    fn = cpos[-1] - tp
    return {
        "roc_auc": float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)),
        "pr_auc": float(np.sum(np.diff(np.r_[0.0, recall]) * tps / (tps + fps))),
        "log_loss": float(-np.sum(w * t.log_term) / total),
        "brier": float(np.sum(w * t.sq_err) / total),
        "f1": float(2 * tp / (2 * tp + fp + fn)) if (2 * tp + fp + fn) > 0 else 0.0,
    }


def append_resample_values(
    values: dict[str, list[float]], m: dict[str, float] | None, y: np.ndarray, p: np.ndarray, threshold: float, idx: np.ndarray
) -> None:
    """Append one resample's value of each named metric; a resample with one class is scored row by row."""
    for name, column in values.items():
        if m is not None:
            column.append(m[name])
            continue
        try:  # exactly what the per-metric loop does
            column.append(single_metric("binary", name)(y[idx], p[idx], threshold))
        except ValueError:
            continue


def binary_bootstrap_intervals(
    y: np.ndarray, p: np.ndarray, threshold: float, names: list[str], n_samples: int, random_state: int, level: float = 0.95
) -> dict[str, dict[str, float]]:
    """Return bootstrap_interval of each named binary metric, from one pass over the resamples.

    The resamples are bootstrap_interval's; each is scored from its row counts (weighted_binary_metrics) instead of
    re-sorting the resampled scores for every metric: O(n) rather than O(n log n) per resample and metric.
    """
    return shared_binary_bootstrap_intervals(y, {"m": (p, threshold)}, names, n_samples, random_state, level)["m"]


def shared_binary_bootstrap_intervals(
    y: np.ndarray,
    models: dict[str, tuple[np.ndarray, float]],
    names: list[str],
    n_samples: int,
    random_state: int,
    level: float = 0.95,
) -> dict[str, dict[str, dict[str, float]]]:
    """Return binary_bootstrap_intervals of several models' (scores, threshold) on the same rows y, per model.

    Each model alone would draw the very same resamples (same row count, same random_state), so they are drawn
    once and every model is scored on each: the intervals are those of one call per model.
    """
    n = len(y)
    if n_samples <= 0 or n < 2:
        return {
            m: {name: bootstrap_interval(lambda idx: 0.0, n, n_samples, random_state, level) for name in names} for m in models
        }
    terms = {m: resample_terms(y, p, threshold) for m, (p, threshold) in models.items()}
    values: dict[str, dict[str, list[float]]] = {m: {name: [] for name in names} for m in models}
    for idx in iter_bootstrap_indices(n, n_samples, random_state):
        w = np.bincount(idx, minlength=n).astype(float)
        for m, (p, threshold) in models.items():
            append_resample_values(values[m], weighted_binary_metrics(terms[m], w), y, p, threshold, idx)
    return {m: {name: percentile_interval(v, level) for name, v in by_name.items()} for m, by_name in values.items()}


def delong_auc_variance(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Return ROC-AUC of scores p for 0/1 labels y and DeLong's variance of it, in O(n log n) (midranks, Sun & Xu 2014).

    Ties count one half, as in roc_auc_score. Raises ValueError when y holds one class only.
    """
    y = np.asarray(y)
    pos, neg = p[y == 1], p[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        raise ValueError("ROC-AUC needs both classes")
    ranks_all = stats.rankdata(np.concatenate([pos, neg]))
    v_pos = (ranks_all[:m] - stats.rankdata(pos)) / n  # per positive: share of negatives scored below it
    v_neg = 1.0 - (ranks_all[m:] - stats.rankdata(neg)) / m  # per negative: share of positives scored above it
    auc = float(v_pos.mean())
    var = (float(np.var(v_pos, ddof=1)) / m if m > 1 else 0.0) + (float(np.var(v_neg, ddof=1)) / n if n > 1 else 0.0)
    return auc, var


def delong_interval(y: np.ndarray, p: np.ndarray, level: float = 0.95) -> dict:
    """Return the DeLong (normal, analytic) interval of ROC-AUC on every row, clipped to [0, 1], with its method and rows."""
    info = {"method": "delong", "rows": int(len(y)), "n_samples": 0}
    try:
        auc, var = delong_auc_variance(y, p)
    except ValueError:
        return {"low": float("nan"), "high": float("nan"), **info}
    half = float(stats.norm.ppf(0.5 + level / 2)) * np.sqrt(var)
    return {"low": max(0.0, auc - half), "high": min(1.0, auc + half), "se": float(np.sqrt(var)), **info}


def bootstrap_plan(n: int, max_rows: int) -> tuple[int, float]:
    """Return the rows drawn per resample (n, at most max_rows) and the width scale sqrt(rows / n) applied to them.

    m-out-of-n bootstrap: a statistic that settles like 1/sqrt(rows) (means, AUCs, F1 at a fixed threshold) spreads
    sqrt(n / m) times wider on m-row resamples than on n-row ones, so the spread is scaled back by sqrt(m / n).
    """
    m = min(n, max_rows)
    return m, float(np.sqrt(m / n)) if n else 1.0


def scaled_percentile_interval(values: list[float], point: float, scale: float, level: float = 0.95) -> dict[str, float]:
    """Return percentile_interval of values with its ends pulled towards point by scale (1: unchanged)."""
    iv = percentile_interval(values, level)
    if scale == 1.0 or not np.isfinite(iv["low"]):
        return iv
    return {**iv, "low": point + scale * (iv["low"] - point), "high": point + scale * (iv["high"] - point)}


def capped_binary_bootstrap_intervals(
    y: np.ndarray,
    models: dict[str, tuple[np.ndarray, float]],
    names: list[str],
    n_samples: int,
    max_rows: int,
    random_state: int,
    level: float = 0.95,
) -> dict[str, dict[str, dict]]:
    """Return, per model and named binary metric, a bootstrap interval whose cost is bounded by max_rows.

    Up to max_rows rows: shared_binary_bootstrap_intervals (every resample has n rows). Above: each resample draws
    max_rows rows with replacement from all n, and the interval is scaled by bootstrap_plan's sqrt(max_rows / n)
    around the full-data value, O(n_samples * max_rows log max_rows) whatever n. Each interval states its method,
    rows, rows per resample and resamples.
    """
    n = len(y)
    m, scale = bootstrap_plan(n, max_rows)
    info = {"method": "bootstrap", "rows": int(n), "resample_rows": int(m), "resamples": int(n_samples)}
    if m == n or n_samples <= 0:
        full = shared_binary_bootstrap_intervals(y, models, names, n_samples, random_state, level)
        return {model: {name: {**iv, **info} for name, iv in by_name.items()} for model, by_name in full.items()}
    points = {model: weighted_binary_metrics(resample_terms(y, p, t), np.ones(n)) or {} for model, (p, t) in models.items()}
    values: dict[str, dict[str, list[float]]] = {model: {name: [] for name in names} for model in models}
    for idx in iter_bootstrap_indices(n, n_samples, random_state, size=m):
        ys = y[idx]
        for model, (p, threshold) in models.items():
            ps = p[idx]
            one = np.ones(m)
            append_resample_values(
                values[model], weighted_binary_metrics(resample_terms(ys, ps, threshold), one), ys, ps, threshold, np.arange(m)
            )
    return {
        model: {
            name: {**scaled_percentile_interval(v, points[model].get(name, float("nan")), scale, level), **info}
            for name, v in by_name.items()
        }
        for model, by_name in values.items()
    }


def capped_bootstrap_interval(
    metric: Callable[[np.ndarray], float],
    point: float,
    n: int,
    n_samples: int,
    max_rows: int,
    random_state: int,
    level: float = 0.95,
) -> dict:
    """Return bootstrap_interval of metric(idx) on resamples of at most max_rows rows, scaled as bootstrap_plan says."""
    m, scale = bootstrap_plan(n, max_rows)
    info = {"method": "bootstrap", "rows": int(n), "resample_rows": int(m), "resamples": int(n_samples)}
    if n_samples <= 0 or n < 2:
        return {"low": float("nan"), "high": float("nan"), "n_samples": 0, **info}
    values = []
    for idx in iter_bootstrap_indices(n, n_samples, random_state, size=None if m == n else m):
        try:
            values.append(metric(idx))
        except ValueError:  # a resample with one class has no ROC-AUC
            continue
    return {**scaled_percentile_interval(values, point, scale, level), **info}


def score_columns(df: pd.DataFrame, model: str, task: str) -> np.ndarray:
    """Return a model's scores from a scored frame: score_<model>, or proba_<model>_<k> for multiclass."""
    if task == "multiclass":
        cols = sorted((c for c in df.columns if c.startswith(f"proba_{model}_")), key=lambda c: int(c.rsplit("_", 1)[1]))
        return df[cols].to_numpy(dtype=float)
    return df[f"score_{model}"].to_numpy(dtype=float)


def score_frame(model: str, task: str, scores: np.ndarray, threshold: float) -> pd.DataFrame:
    """Return the score_/proba_ and pred_ columns for one model's test scores."""
    if task == "multiclass":
        out = pd.DataFrame({f"proba_{model}_{k}": scores[:, k] for k in range(scores.shape[1])})
        out[f"pred_{model}"] = scores.argmax(axis=1)
        return out
    out = pd.DataFrame({f"score_{model}": scores})
    out[f"pred_{model}"] = (scores >= threshold).astype(int) if task == "binary" else scores
    return out


HEADLINE = {
    "binary": ["roc_auc", "pr_auc", "log_loss", "brier", "f1"],
    "multiclass": ["log_loss", "accuracy", "macro_f1"],
    "regression": ["rmse", "mae", "r2"],
}

# The metrics each task computes (what promote.thresholds may name).
TASK_METRICS = {
    "binary": ("roc_auc", "pr_auc", "log_loss", "brier", "precision", "recall", "f1", "accuracy"),
    "multiclass": ("log_loss", "accuracy", "balanced_accuracy", "macro_f1", "roc_auc"),
    "regression": ("mae", "rmse", "r2"),
}


def check_thresholds_fit(task: str, thresholds: Iterable[str]) -> None:
    """Raise ConfigError naming every promote.thresholds metric a task of this type does not compute.

    The one check: Config runs it when params load, and the gate again for a config built around the loader.
    """
    bad = sorted(m for m in thresholds if m not in TASK_METRICS[task] or m not in HIGHER_IS_BETTER)
    if bad:
        raise ConfigError(
            f"promote.thresholds names {', '.join(bad)}, which a {task} task (data.task) does not compute; "
            f"use some of {', '.join(m for m in TASK_METRICS[task] if m in HIGHER_IS_BETTER)}"
        )
