"""Monitor: compare a new batch with the training reference and the production model's promised metrics.

Drift is measured per feature against gx/reference_profile.json with the validate step's metric and
thresholds (tasks.quality.drift). When the batch carries labels, the production model scores it and its
primary metric is compared with the value recorded at promotion. `decide_retraining` turns both into
a decision with reasons; `monitor_batch` writes reports/monitor.json. No orchestrator here: the
monitoring flow (flows/monitoring.py) reads the decision and starts the training flow.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.core import io
from tasks.core.config import Config, DataParams, MonitorParams
from tasks.core.entry import step_main
from tasks.core.metrics import HIGHER_IS_BETTER, compute_metrics, primary_metric
from tasks.data.sources import read_snapshot, type_table
from tasks.quality.drift import drift_report
from tasks.quality.validation import profile_path
from tasks.registry import store as registry

STEP_VERSION = "1"
log = logging.getLogger("tasks.serving.monitor")


def feature_profile(profile: dict, data: DataParams, ignore: dict[str, str]) -> dict:
    """Return the reference profile restricted to model features (no label, dropped or ignored columns)."""
    skip = {data.target, *data.drop_columns, *ignore}
    return {**profile, "columns": {c: s for c, s in profile["columns"].items() if c not in skip}}


def drifted_features(drift: dict) -> list[str]:
    """Return the features whose drift reached the error level, sorted by name."""
    return sorted(c for c, d in drift["columns"].items() if d["level"] == "error")


def labelled_rows(df: pd.DataFrame, target: str) -> pd.DataFrame:
    """Return the rows of df that carry a label (empty when the label column is absent)."""
    if target not in df.columns:
        return df.iloc[0:0]
    return df[df[target].notna()].reset_index(drop=True)


def encode_labels(y: pd.Series, classes: list, task: str) -> np.ndarray:
    """Return labels encoded as the model's classes (0..K-1), or floats for regression."""
    if task == "regression":
        return pd.to_numeric(y, errors="raise").to_numpy(dtype=float)
    by_text = {str(c): i for i, c in enumerate(classes)}
    codes = y.map(lambda v: by_text.get(str(v), -1)).to_numpy(dtype=int)
    if (codes < 0).any():
        unknown = sorted({str(v) for v, c in zip(y, codes) if c < 0})[:10]
        raise ValueError(f"label values {unknown} were not seen in training (classes {classes})")
    return codes


def metric_drop(live: dict[str, float], reference: dict[str, float], metric: str) -> float | None:
    """Return how much worse `metric` is live than at promotion (positive = worse), or None when unknown."""
    if live.get(metric) is None or reference.get(metric) is None:
        return None
    diff = float(reference[metric]) - float(live[metric])
    return diff if HIGHER_IS_BETTER.get(metric, True) else -diff


def decide_retraining(drifted: list[str], performance: dict[str, Any], p: MonitorParams) -> dict[str, Any]:
    """Return {"retrain": bool, "reasons": [...]}: drift errors (when enabled) or a metric drop beyond the limit."""
    reasons = []
    if drifted and p.retrain_on_drift:
        reasons.append(f"drift: {len(drifted)} feature(s) at the error level: {', '.join(drifted[:10])}")
    drop = performance.get("drop")
    if performance.get("judged") and drop is not None and drop > p.max_metric_drop:
        reasons.append(f"performance: {performance['metric']} {performance['live']:.4f} is {drop:.4f} below "
                       f"{performance['reference']:.4f} at promotion (limit {p.max_metric_drop:g})")
    return {"retrain": bool(reasons), "reasons": reasons}


def live_performance(bundle: Any, labelled: pd.DataFrame, reference: dict[str, float], task: str,
                     min_rows: int) -> dict[str, Any]:
    """Return the production model's metrics on labelled rows and the primary metric's drop since promotion."""
    metric = primary_metric(task)
    if bundle is None or labelled.empty:
        return {"judged": False, "rows": int(len(labelled)), "metric": metric,
                "note": "no production model" if bundle is None else "the batch has no labels"}
    target = bundle.meta["target"]
    y = encode_labels(labelled[target], bundle.meta.get("classes") or [], task)
    scores = bundle.predict_scores(labelled.drop(columns=[target]))
    live = compute_metrics(task, y, scores, float(bundle.meta.get("threshold") or 0.5))
    drop = metric_drop(live, reference, metric)
    judged = len(labelled) >= min_rows and drop is not None
    return {"judged": judged, "rows": int(len(labelled)), "metric": metric, "live": live.get(metric),
            "reference": reference.get(metric), "drop": drop, "metrics": live,
            **({} if judged else {"note": f"fewer than monitor.min_labelled_rows={min_rows} labelled rows"})}


def read_batch(path: Path, cfg: Config) -> pd.DataFrame:
    """Return a batch file (CSV/Parquet, the source's raw layout) typed the way ingest types the source."""
    raw = read_snapshot(Path(path), cfg.ingest)
    return type_table(raw, cfg.ingest, cfg.data)[0]


def production_reference(registry_dir: Path) -> tuple[Any, str | None, dict[str, float]]:
    """Return (production bundle or None, its version, the test metrics recorded when it was registered)."""
    version = registry.production_version(registry_dir)
    if version is None:
        return None, None, {}
    record = registry.read_record(registry_dir, version)
    return registry.load_production(registry_dir), version, record.get("metrics") or {}


def monitor_batch(cfg: Config, batch_path: Path) -> dict[str, Any]:
    """Check one batch for drift and (with labels) performance; write reports/monitor.json; return it."""
    if not profile_path(cfg).exists():
        raise io.InputError(f"{profile_path(cfg)}: no reference profile; run the pipeline once (validate writes it)")
    df = read_batch(batch_path, cfg)
    v = cfg.validate
    profile = feature_profile(io.read_json(profile_path(cfg)), cfg.data, cfg.monitor.ignore_drift)
    drift = drift_report(df, profile, v.drift_metric, v.drift_warn, v.drift_error)
    bundle, version, reference = production_reference(cfg.paths.registry_dir)
    performance = live_performance(bundle, labelled_rows(df, cfg.data.target), reference, cfg.data.task,
                                   cfg.monitor.min_labelled_rows)
    decision = decide_retraining(drifted_features(drift), performance, cfg.monitor)
    report = {"batch": str(batch_path), "rows": int(len(df)), "production_version": version,
              "drift": drift, "drifted_features": drifted_features(drift), "performance": performance,
              **decision, "step_version": STEP_VERSION}
    io.write_json(report, cfg.paths.reports_dir / "monitor.json")
    log.info("monitor: %s rows, %d drifted feature(s), retrain=%s%s", report["rows"], len(report["drifted_features"]),
             decision["retrain"], (": " + "; ".join(decision["reasons"])) if decision["reasons"] else "")
    return report


def run(cfg: Config) -> dict[str, Any]:
    """Monitor monitor.batch_path (what the scheduled monitoring run checks)."""
    return monitor_batch(cfg, cfg.monitor.batch_path)


if __name__ == "__main__":
    from tasks.serving import monitor  # this module under its real name

    step_main("serving.monitor", monitor.run, __doc__)
