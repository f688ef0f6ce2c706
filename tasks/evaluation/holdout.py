"""Holdout: score every model (and the production model) on the test set, read once, with intervals (DeLong for
ROC-AUC, a bootstrap capped in rows for the rest), segment metrics and the lift over the baselines.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.core.config import DataParams, EvaluateParams
from tasks.core.metrics import (
    HEADLINE,
    HIGHER_IS_BETTER,
    capped_binary_bootstrap_intervals,
    capped_bootstrap_interval,
    compute_metrics,
    confusion,
    delong_interval,
    primary_metric,
    score_frame,
    single_metric,
)
from tasks.core.reports import EvaluateReport
from tasks.core.schema import encode_target
from tasks.modelling.bundle import MODEL_NAMES, ModelBundle, load_bundle, score_bundles
from tasks.registry.manifest import production_bundle_dir

log = logging.getLogger(__name__)


def load_models(models_dir: Path, registry_dir: Path) -> dict[str, ModelBundle]:
    """Return the freshly trained bundles and, when there is one, the production model."""
    models = {name: load_bundle(models_dir / name) for name in MODEL_NAMES}
    prod_dir = production_bundle_dir(registry_dir)
    if prod_dir is not None:
        models["production"] = load_bundle(prod_dir)
    return models


def score_models(models: dict[str, ModelBundle], test: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return each model's scores on the test rows."""
    return score_bundles(models, test)


def metric_intervals(task: str, y: np.ndarray, scores: np.ndarray, threshold: float, p: EvaluateParams) -> dict:
    """Return 95% intervals of the headline metrics (model_intervals of one model)."""
    return model_intervals(task, y, {"model": (scores, threshold)}, p)["model"]


def model_intervals(task: str, y: np.ndarray, models: dict[str, tuple[np.ndarray, float]], p: EvaluateParams) -> dict:
    """Return, per model and headline metric, a 95% interval stating its method, rows and resamples.

    Binary ROC-AUC: DeLong's analytic interval on every row (O(n log n)). Every other metric: a bootstrap of
    evaluate.bootstrap_samples resamples of at most evaluate.bootstrap_max_rows rows, scaled to the test rows
    (tasks.core.metrics.bootstrap_plan), so its cost does not grow with the test set. Every model is resampled
    with the same row draws (same seed).
    """
    if task == "binary":
        names = [n for n in HEADLINE[task] if n != "roc_auc"]
        boot = capped_binary_bootstrap_intervals(y, models, names, p.bootstrap_samples, p.bootstrap_max_rows, p.random_state)
        return {model: {"roc_auc": delong_interval(y, scores), **boot[model]} for model, (scores, _) in models.items()}
    out: dict = {}
    everything = np.arange(len(y))
    for model, (scores, threshold) in models.items():
        out[model] = {}
        for name in HEADLINE[task]:
            metric = single_metric(task, name)
            value = lambda idx: metric(y[idx], scores[idx], threshold)  # noqa: B023, E731 (called at once)
            out[model][name] = capped_bootstrap_interval(
                value, value(everything), len(y), p.bootstrap_samples, p.bootstrap_max_rows, p.random_state
            )
    return out


def segment_metrics(
    test: pd.DataFrame, y: np.ndarray, scores: np.ndarray, threshold: float, data: DataParams, p: EvaluateParams
) -> dict:
    """Return, per segment column and value with enough rows, the row count and the headline metrics.

    One grouped pass per column: the rows are ordered by segment once (stable, so each segment keeps its row order)
    and every segment is a contiguous slice of that order, not a comparison of every row per value.
    """
    out: dict = {}
    for col in data.segment_columns:
        if col not in test.columns:
            continue
        codes, values = pd.factorize(test[col].astype("string").fillna("<missing>"))
        counts = np.bincount(codes, minlength=len(values))
        order = np.argsort(codes, kind="stable")
        starts = np.cumsum(counts) - counts
        per_value = {}
        for code in np.flatnonzero(counts >= p.segment_min_rows):
            rows = order[starts[code] : starts[code] + counts[code]]
            try:
                m = compute_metrics(data.task, y[rows], scores[rows], threshold)
            except ValueError:
                continue
            headline = {k: m[k] for k in HEADLINE[data.task] if k in m}
            per_value[str(values[code])] = {"rows": int(counts[code]), **headline}
        out[col] = dict(sorted(per_value.items()))
    return out


def lift(metrics: dict[str, dict], metric: str) -> dict:
    """Return the LightGBM gain on the metric over each other model (positive = LightGBM better)."""
    sign = 1 if HIGHER_IS_BETTER[metric] else -1
    best = metrics["lightgbm"][metric]
    return {f"over_{name}": sign * (best - m[metric]) for name, m in metrics.items() if name != "lightgbm"}


def scored_table(test: pd.DataFrame, y: np.ndarray, models: dict[str, ModelBundle], scores: dict) -> pd.DataFrame:
    """Return the test rows with y_true and every model's score_/proba_ and pred_ columns."""
    parts = [test.reset_index(drop=True), pd.DataFrame({"y_true": y})]
    for name, s in scores.items():
        parts.append(score_frame(name, models[name].task, s, models[name].meta.get("threshold", 0.5)))
    return pd.concat(parts, axis=1)


def evaluate_models(
    test: pd.DataFrame, models: dict[str, ModelBundle], data: DataParams, p: EvaluateParams
) -> tuple[EvaluateReport, pd.DataFrame]:
    """Return the metrics report (without the step's provenance fields) and the scored test table."""
    ref = models["lightgbm"]
    y = encode_target(test[data.target], ref.meta["classes"], data)
    scores = score_models(models, test)
    scored = scored_table(test, y, models, scores)
    metrics = {n: compute_metrics(data.task, y, s, models[n].meta.get("threshold", 0.5)) for n, s in scores.items()}
    threshold = ref.meta.get("threshold", 0.5)
    report: dict = {
        "task": data.task,
        "primary_metric": primary_metric(data.task),
        "test_rows": int(len(test)),
        "models": metrics,
        "lift": lift(metrics, primary_metric(data.task)),
        "intervals": model_intervals(
            data.task, y, {n: (scores[n], models[n].meta.get("threshold", 0.5)) for n in ("lightgbm", "baseline")}, p
        ),
        "segments": segment_metrics(test, y, scores["lightgbm"], threshold, data, p),
    }
    if data.task != "regression":
        n_classes = len(ref.meta["classes"])
        report["confusion_matrix"] = {n: confusion(y, scored[f"pred_{n}"].to_numpy(), n_classes) for n in scores}
        report["classes"] = [str(c) for c in ref.meta["classes"]]
    return EvaluateReport.model_validate(report), scored
