"""Metrics that fit the problem: classification and regression scores, thresholds, bootstrap intervals."""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pandas as pd
from sklearn import metrics as skm

HIGHER_IS_BETTER = {
    "roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False, "precision": True,
    "recall": True, "f1": True, "accuracy": True, "balanced_accuracy": True, "macro_f1": True,
    "mae": False, "rmse": False, "r2": True,
}
PRIMARY_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def primary_metric(task: str) -> str:
    """Return the metric the pipeline ranks models by for a task type."""
    return PRIMARY_METRIC[task]


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Return ROC-AUC, PR-AUC, log loss, Brier and thresholded scores for P(positive) p."""
    pred = (p >= threshold).astype(int)
    two_classes = len(np.unique(y)) == 2
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "roc_auc": float(skm.roc_auc_score(y, p)) if two_classes else float("nan"),
        "pr_auc": float(skm.average_precision_score(y, p)) if two_classes else float("nan"),
        "log_loss": float(skm.log_loss(y, pc, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, p)),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "threshold": float(threshold),
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


def choose_threshold(y: np.ndarray, p: np.ndarray, objective: str) -> float:
    """Return the decision threshold on P(positive) that maximises the objective on these (validation) rows."""
    grid = np.unique(np.quantile(p, np.linspace(0.01, 0.99, 197)))
    if objective == "balanced_accuracy":
        score: Callable[[np.ndarray], float] = lambda pred: skm.balanced_accuracy_score(y, pred)
    elif objective == "precision_at_recall":
        score = lambda pred: skm.precision_score(y, pred, zero_division=0) if skm.recall_score(y, pred) >= 0.8 else -1.0
    else:
        score = lambda pred: skm.f1_score(y, pred, zero_division=0)
    values = [score((p >= t).astype(int)) for t in grid]
    return float(grid[int(np.argmax(values))]) if len(grid) else 0.5


def bootstrap_indices(n: int, n_samples: int, random_state: int) -> np.ndarray:
    """Return an (n_samples, n) array of row indices drawn with replacement."""
    rng = np.random.default_rng(random_state)
    return rng.integers(0, n, size=(n_samples, n))


def iter_bootstrap_indices(n: int, n_samples: int, random_state: int) -> Iterator[np.ndarray]:
    """Yield the rows of bootstrap_indices(n, n_samples, random_state) one at a time (same draws, O(n) memory)."""
    rng = np.random.default_rng(random_state)
    for _ in range(n_samples):
        yield rng.integers(0, n, size=n)


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


def weighted_binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float, order: np.ndarray, group: np.ndarray,
                            w: np.ndarray) -> dict[str, float] | None:
    """Return roc_auc, pr_auc, log_loss, brier and f1 of the rows repeated w times (None when a class is absent).

    The same values as SINGLE_METRICS on the repeated rows (up to float rounding), in O(n) without sorting:
    order / group come from tie_groups(p), computed once for every resample.
    """
    ws, ys = w[order], y[order].astype(float)
    pos = np.bincount(group, weights=ws * ys)
    neg = np.bincount(group, weights=ws * (1.0 - ys))
    keep = (pos + neg) > 0
    tps, fps = np.cumsum(pos[keep]), np.cumsum(neg[keep])
    if tps[-1] == 0 or fps[-1] == 0:
        return None
    tpr, fpr, recall = np.r_[0.0, tps / tps[-1]], np.r_[0.0, fps / fps[-1]], tps / tps[-1]
    total, pc = w.sum(), _clip(p)
    pred = p >= threshold
    tp, fp, fn = w[pred & (y == 1)].sum(), w[pred & (y == 0)].sum(), w[~pred & (y == 1)].sum()
    return {
        "roc_auc": float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)),
        "pr_auc": float(np.sum(np.diff(np.r_[0.0, recall]) * tps / (tps + fps))),
        "log_loss": float(-np.sum(w * (y * np.log(pc) + (1 - y) * np.log(1 - pc))) / total),
        "brier": float(np.sum(w * (p - y) ** 2) / total),
        "f1": float(2 * tp / (2 * tp + fp + fn)) if (2 * tp + fp + fn) > 0 else 0.0,
    }


def binary_bootstrap_intervals(y: np.ndarray, p: np.ndarray, threshold: float, names: list[str], n_samples: int,
                               random_state: int, level: float = 0.95) -> dict[str, dict[str, float]]:
    """Return bootstrap_interval of each named binary metric, from one pass over the resamples.

    The resamples are bootstrap_interval's; each is scored from its row counts (weighted_binary_metrics) instead of
    re-sorting the resampled scores for every metric: O(n) rather than O(n log n) per resample and metric.
    """
    n = len(y)
    if n_samples <= 0 or n < 2:
        return {name: bootstrap_interval(lambda idx: 0.0, n, n_samples, random_state, level) for name in names}
    order, group = tie_groups(p)
    values: dict[str, list[float]] = {name: [] for name in names}
    for idx in iter_bootstrap_indices(n, n_samples, random_state):
        m = weighted_binary_metrics(y, p, threshold, order, group, np.bincount(idx, minlength=n).astype(float))
        for name in names:
            if m is not None:
                values[name].append(m[name])
                continue
            try:  # a resample with one class: exactly what the per-metric loop does
                values[name].append(single_metric("binary", name)(y[idx], p[idx], threshold))
            except ValueError:
                continue
    return {name: percentile_interval(v, level) for name, v in values.items()}


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
