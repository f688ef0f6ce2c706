"""Evaluate: the test set is read once, here, after the models are chosen; metrics, intervals, segments, plots.

Scores of every model (and of the production model, when there is one) are computed on the same
test rows and written to the scored test table, so promote and explain never read the test split.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from tasks import io
from tasks.config import Config, DataParams, EvaluateParams
from tasks.entry import step_main
from tasks.metrics import (HIGHER_IS_BETTER, bootstrap_interval, compute_metrics, confusion, primary_metric,
                           score_frame, shared_binary_bootstrap_intervals, single_metric)
from tasks.model import ModelBundle, load_bundle
from tasks.schema import encode_target
from tasks.train import MODEL_NAMES, score_bundles

STEP_VERSION = "1"
log = logging.getLogger(__name__)
HEADLINE = {"binary": ["roc_auc", "pr_auc", "log_loss", "brier", "f1"], "multiclass": ["log_loss", "accuracy", "macro_f1"],
            "regression": ["rmse", "mae", "r2"]}


def load_models(models_dir: Path, registry_dir: Path) -> dict[str, ModelBundle]:
    """Return the freshly trained bundles and, when there is one, the production model."""
    from tasks.registry import production_bundle_dir

    models = {name: load_bundle(models_dir / name) for name in MODEL_NAMES}
    prod_dir = production_bundle_dir(registry_dir)
    if prod_dir is not None:
        models["production"] = load_bundle(prod_dir)
    return models


def score_models(models: dict[str, ModelBundle], test: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return each model's scores on the test rows."""
    return score_bundles(models, test)


def metric_intervals(task: str, y: np.ndarray, scores: np.ndarray, threshold: float, p: EvaluateParams) -> dict:
    """Return bootstrap 95% intervals of the headline metrics."""
    return model_intervals(task, y, {"model": (scores, threshold)}, p)["model"]


def model_intervals(task: str, y: np.ndarray, models: dict[str, tuple[np.ndarray, float]], p: EvaluateParams) -> dict:
    """Return, per model, metric_intervals of its (scores, threshold) on the same rows.

    Every model is resampled with the same row draws (same seed) in any case; binary models share them in one pass,
    O(n) per resample (minutes saved at 1M+ test rows).
    """
    if task == "binary":
        return shared_binary_bootstrap_intervals(y, models, HEADLINE[task], p.bootstrap_samples, p.random_state)
    out: dict = {}
    for model, (scores, threshold) in models.items():
        out[model] = {}
        for name in HEADLINE[task]:
            metric = single_metric(task, name)
            out[model][name] = bootstrap_interval(lambda idx: metric(y[idx], scores[idx], threshold),
                                                  len(y), p.bootstrap_samples, p.random_state)
    return out


def segment_metrics(test: pd.DataFrame, y: np.ndarray, scores: np.ndarray, threshold: float, data: DataParams,
                    p: EvaluateParams) -> dict:
    """Return, per segment column and value with enough rows, the row count and the headline metrics."""
    out: dict = {}
    for col in data.segment_columns:
        if col not in test.columns:
            continue
        codes, values = pd.factorize(test[col].astype("string").fillna("<missing>"))
        counts = np.bincount(codes, minlength=len(values))
        per_value = {}
        for code in np.flatnonzero(counts >= p.segment_min_rows):
            mask = codes == code
            try:
                m = compute_metrics(data.task, y[mask], scores[mask], threshold)
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


def evaluate_models(test: pd.DataFrame, models: dict[str, ModelBundle], data: DataParams, p: EvaluateParams) -> tuple[dict, pd.DataFrame]:
    """Return the metrics report and the scored test table for models on the test rows."""
    ref = models["lightgbm"]
    y = encode_target(test[data.target], ref.meta["classes"], data)
    scores = score_models(models, test)
    scored = scored_table(test, y, models, scores)
    metrics = {n: compute_metrics(data.task, y, s, models[n].meta.get("threshold", 0.5)) for n, s in scores.items()}
    threshold = ref.meta.get("threshold", 0.5)
    report = {
        "task": data.task, "primary_metric": primary_metric(data.task), "test_rows": int(len(test)),
        "models": metrics, "lift": lift(metrics, primary_metric(data.task)),
        "intervals": model_intervals(data.task, y, {n: (scores[n], models[n].meta.get("threshold", 0.5))
                                                    for n in ("lightgbm", "baseline")}, p),
        "segments": segment_metrics(test, y, scores["lightgbm"], threshold, data, p),
    }
    if data.task != "regression":
        n_classes = len(ref.meta["classes"])
        report["confusion_matrix"] = {n: confusion(y, scored[f"pred_{n}"].to_numpy(), n_classes) for n in scores}
        report["classes"] = [str(c) for c in ref.meta["classes"]]
    return report, scored


def run(cfg: Config) -> dict:
    """Score every model on the test set (read once), write metrics, plots and the scored test table."""
    from tasks.split import fingerprint_rows

    models = load_models(cfg.paths.models_dir, cfg.paths.registry_dir)
    test = io.read_frame(cfg.paths.test)
    log.info("evaluate: scoring %s on %d test rows (the only read of the test set)", sorted(models), len(test))
    report, scored = evaluate_models(test, models, cfg.data, cfg.evaluate)
    from tasks.registry import production_version

    report |= {"step_version": STEP_VERSION, "test_fingerprint": fingerprint_rows(test),
               "production_version": production_version(cfg.paths.registry_dir) if "production" in models else None}
    io.write_frame(scored, cfg.paths.scored_test)
    io.write_json(report, cfg.paths.reports_dir / "metrics.json")
    from tasks.evaluation_report import render_evaluation
    from tasks.plots import write_evaluation_plots

    cv_file = cfg.paths.reports_dir / "cv.json"
    io.write_text(render_evaluation(report, io.read_json(cv_file) if cv_file.exists() else None),
                  cfg.paths.reports_dir / "evaluate" / "report.md")
    write_evaluation_plots(scored, report, list(models), cfg.paths.reports_dir / "evaluate")
    pm = report["primary_metric"]
    log.info("evaluate: test %s lightgbm %.4f, baseline %.4f%s", pm, report["models"]["lightgbm"][pm],
             report["models"]["baseline"][pm],
             f", production {report['models']['production'][pm]:.4f}" if "production" in models else "")
    return report


if __name__ == "__main__":
    step_main("evaluate", run, __doc__)
