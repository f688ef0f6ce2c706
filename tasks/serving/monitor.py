"""Monitor: compare a new batch with the training reference and the production model's promised metrics.

Drift is measured per feature against gx/reference_profile.json with the validate step's metric and
thresholds (tasks.quality.drift). A batch covers a few weeks, the reference whole years: an unshifted
batch from August would "drift" on the month, the week number and on every seasonal feature (prices,
agents). So, as a NannyML or Evidently user picks a reference period of the same season, the reference
shares are taken from the training rows of the batch's own months (monitor.seasonal_reference), weighted
like the batch; the bins stay the profile's. When the batch carries labels, the production model scores it
and its primary metric is compared with the value recorded at promotion; every metric that cannot be
computed says why (`note`). The production model's predictions on every row of the batch are summarised
(tasks.serving.trend) and each batch appends one line to reports/monitoring_trend.jsonl. `decide_retraining` turns both into a decision with reasons; `monitor_batch`
writes reports/monitor.json; `summary_lines` is what a person reads (CLI and UI). No orchestrator here:
the monitoring flow (flows/monitoring.py) reads the decision and starts the training flow.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.core import io
from tasks.core.config import Config, DataParams, MonitorParams, PathsParams
from tasks.core.entry import step_main
from tasks.core.metrics import HIGHER_IS_BETTER, compute_metrics, primary_metric
from tasks.data.sources import read_snapshot, type_table
from tasks.quality.drift import current_frequencies, drift_report
from tasks.quality.gx_store import profile_path
from tasks.registry.catalog import production_version, read_record
from tasks.registry.manifest import load_production
from tasks.registry.records import utc_now
from tasks.serving.trend import TREND_FILE, append_trend, prediction_summary, trend_entry

STEP_VERSION = "3"  # 3: the report's `predictions` and the trend line per batch
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


def metric_drop(live: dict[str, float | None], reference: dict[str, float], metric: str) -> float | None:
    """Return how much worse `metric` is live than at promotion (positive = worse), or None when unknown."""
    live_value, reference_value = live.get(metric), reference.get(metric)
    if live_value is None or reference_value is None:
        return None
    diff = float(reference_value) - float(live_value)
    return diff if HIGHER_IS_BETTER.get(metric, True) else -diff


def decide_retraining(drifted: list[str], performance: dict[str, Any], p: MonitorParams) -> dict[str, Any]:
    """Return {"retrain": bool, "reasons": [...]}: drift errors (when enabled) or a metric drop beyond the limit."""
    reasons = []
    if drifted and p.retrain_on_drift:
        reasons.append(f"drift: {len(drifted)} feature(s) at the error level: {', '.join(drifted[:10])}")
    drop = performance.get("drop")
    if performance.get("judged") and drop is not None and drop > p.max_metric_drop:
        reasons.append(
            f"performance: {performance['metric']} {performance['live']:.4f} is {drop:.4f} below "
            f"{performance['reference']:.4f} at promotion (limit {p.max_metric_drop:g})"
        )
    return {"retrain": bool(reasons), "reasons": reasons}


def label_note(df: pd.DataFrame, target: str, metric: str) -> str | None:
    """Return why the batch gives no labelled rows to judge `metric` on, or None when it has some."""
    if target not in df.columns:
        return f"no label column `{target}` in the batch: live {metric} needs labelled rows"
    if df[target].isna().all():
        return f"the label column `{target}` is empty on all {len(df)} rows: live {metric} needs labelled rows"
    return None


def undefined_metric_note(metric: str, y: np.ndarray, task: str) -> str:
    """Return why `metric` came out undefined (NaN) on these labels."""
    if task != "regression" and len(np.unique(y)) < 2:
        return f"{metric} is undefined on {len(y)} labelled rows that hold one class only"
    return f"{metric} is undefined on these {len(y)} labelled rows"


def live_performance(
    bundle: Any, labelled: pd.DataFrame, reference: dict[str, float], task: str, min_rows: int
) -> dict[str, Any]:
    """Return the production model's metrics on labelled rows and the primary metric's drop since promotion.

    Never a bare NaN: a metric that cannot be computed is None with a `note` saying why."""
    metric = primary_metric(task)
    if bundle is None or labelled.empty:
        return {
            "judged": False,
            "rows": int(len(labelled)),
            "metric": metric,
            "note": "no production model in the registry" if bundle is None else "the batch has no labelled rows",
        }
    target = bundle.meta["target"]
    y = encode_labels(labelled[target], bundle.meta.get("classes") or [], task)
    scores = bundle.predict_scores(labelled.drop(columns=[target]))
    raw = compute_metrics(task, y, scores, float(bundle.meta.get("threshold") or 0.5))
    live = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in raw.items()}
    drop = metric_drop(live, reference, metric)
    out = {
        "rows": int(len(labelled)),
        "metric": metric,
        "live": live.get(metric),
        "reference": reference.get(metric),
        "drop": drop,
        "metrics": live,
    }
    if live.get(metric) is None:
        return {**out, "judged": False, "note": undefined_metric_note(metric, y, task)}
    if reference.get(metric) is None:
        return {**out, "judged": False, "note": f"the registry record of the production model has no {metric}"}
    if len(labelled) < min_rows:
        return {
            **out,
            "judged": False,
            "note": f"{len(labelled)} labelled rows, fewer than monitor.min_labelled_rows={min_rows}: reported, not judged",
        }
    return {**out, "judged": True}


def season_of(times: pd.Series, period: str) -> pd.Series:
    """Return each time's season as a nullable integer: month 1-12 or ISO week 1-53 (missing where the time is)."""
    t = pd.to_datetime(times, errors="coerce")
    season = t.dt.month if period == "month" else t.dt.isocalendar().week
    return pd.Series(season, index=times.index).astype("Int64")


def season_mix(batch_seasons: pd.Series, reference_seasons: pd.Series, min_rows: int) -> dict[int, float]:
    """Return {season: share of all batch rows} for the batch's seasons with at least min_rows reference rows."""
    shares = batch_seasons.value_counts(normalize=True, dropna=False)
    counts = reference_seasons.value_counts()
    return {int(s): float(w) for s, w in shares.items() if pd.notna(s) and int(counts.get(s, 0)) >= min_rows}


def unmatched_share(mix: dict[int, float]) -> float:
    """Return the share of batch rows no season of mix covers (0 when they all are, whatever the float sum says)."""
    return round(max(1.0 - sum(mix.values()), 0.0), 6)


def seasonal_profile(profile: dict, reference: pd.DataFrame, reference_seasons: pd.Series, mix: dict[int, float]) -> dict:
    """Return profile with each column's shares mixed from the reference rows of each season, weighted by the
    batch's share of it; the remaining weight (other seasons, rows without a time) keeps the profile's shares.

    Bins, categories and the min / max of the range check stay the profile's."""
    rest = unmatched_share(mix)
    parts = {s: reference[reference_seasons.eq(s).fillna(False).to_numpy(dtype=bool)] for s in mix}
    columns = {}
    for col, spec in profile["columns"].items():
        if col not in reference.columns:
            columns[col] = spec
            continue
        shares = rest * np.asarray(spec["frequencies"], dtype=float)
        for season, weight in mix.items():
            shares = shares + weight * current_frequencies(parts[season][col], spec)
        columns[col] = {**spec, "frequencies": [round(float(v), 6) for v in shares]}
    return {**profile, "columns": columns}


def training_rows(paths: PathsParams) -> pd.DataFrame | None:
    """Return the training rows (train + valid splits) the production model learned from, or None when absent."""
    parts = [io.read_frame(p) for p in (paths.train, paths.valid) if Path(p).exists()]
    return pd.concat(parts, ignore_index=True) if parts else None


def drift_reference(
    profile: dict, batch: pd.DataFrame, cfg: Config, reference: pd.DataFrame | None
) -> tuple[dict, dict[str, Any]]:
    """Return the profile to compare the batch with and a note saying which reference rows it describes."""
    period, time_column = cfg.monitor.seasonal_reference, cfg.data.time_column
    whole = {"kind": "whole", "rows": profile.get("rows")}
    if period == "none":
        return profile, {**whole, "note": "all reference rows (monitor.seasonal_reference: none)"}
    if time_column is None or time_column not in batch.columns:
        return profile, {
            **whole,
            "note": f"all reference rows: no time column (data.time_column={time_column}) in the batch to match seasons by",
        }
    if reference is None or time_column not in reference.columns:
        return profile, {
            **whole,
            "note": f"all reference rows: no training rows at {cfg.paths.train} "
            "to match seasons with (run the pipeline once in this folder)",
        }
    ref_seasons, batch_seasons = season_of(reference[time_column], period), season_of(batch[time_column], period)
    mix = season_mix(batch_seasons, ref_seasons, cfg.monitor.seasonal_min_rows)
    counts = ref_seasons.value_counts()
    seasons = {
        str(s): {
            "batch_share": round(float(w), 4),
            "reference_rows": int(counts.get(s, 0)),
            "matched": pd.notna(s) and int(s) in mix,
        }
        for s, w in batch_seasons.value_counts(normalize=True, dropna=False).sort_index().items()
    }
    rest = unmatched_share(mix)
    note = (
        f"training rows of the batch's {period}(s) {', '.join(str(s) for s in sorted(mix)) or 'none'}, "
        f"weighted like the batch"
        + (
            f"; {rest:.0%} of the batch (seasons with fewer than "
            f"monitor.seasonal_min_rows={cfg.monitor.seasonal_min_rows} training rows, "
            "or no time) against all reference rows"
            if rest > 0
            else ""
        )
    )
    return seasonal_profile(profile, reference, ref_seasons, mix), {
        "kind": "seasonal",
        "period": period,
        "seasons": seasons,
        "whole_reference_share": round(rest, 4),
        "note": note,
    }


def read_batch(path: Path, cfg: Config) -> pd.DataFrame:
    """Return a batch file (CSV/Parquet, the source's raw layout) typed the way ingest types the source."""
    raw = read_snapshot(Path(path), cfg.ingest)
    return type_table(raw, cfg.ingest, cfg.data)[0]


def production_reference(registry_dir: Path) -> tuple[Any, str | None, dict[str, float]]:
    """Return (production bundle or None, its version, the test metrics recorded when it was registered)."""
    version = production_version(registry_dir)
    if version is None:
        return None, None, {}
    record = read_record(registry_dir, version)
    return load_production(registry_dir), version, record.metrics


def batch_predictions(bundle: Any, df: pd.DataFrame, task: str, target: str) -> dict[str, Any]:
    """Return {"summary": ...} of the production model's predictions on every batch row, or {"note": why none}."""
    if bundle is None:
        return {"note": "no production model in the registry"}
    if df.empty:
        return {"note": "the batch has no rows"}
    try:
        scores = bundle.predict_scores(df.drop(columns=[target], errors="ignore"))
    except (ValueError, KeyError, TypeError) as err:
        return {"note": f"the production model could not score the batch ({type(err).__name__}: {err})"}
    return {"summary": prediction_summary(scores, task, bundle.meta.get("classes") or []).model_dump()}


def monitor_batch(cfg: Config, batch_path: Path) -> dict[str, Any]:
    """Check one batch for drift and (with labels) performance; write reports/monitor.json; return it."""
    if not profile_path(cfg.paths).exists():
        raise io.InputError(f"{profile_path(cfg.paths)}: no reference profile; run the pipeline once (validate writes it)")
    df = read_batch(batch_path, cfg)
    v = cfg.validate
    profile = feature_profile(io.read_json(profile_path(cfg.paths)), cfg.data, cfg.monitor.ignore_drift)
    profile, reference_note = drift_reference(profile, df, cfg, training_rows(cfg.paths))
    drift = drift_report(df, profile, v.drift_metric, v.drift_warn, v.drift_error)
    drift["reference"] = reference_note
    drift["ignored"] = dict(cfg.monitor.ignore_drift)
    bundle, version, reference = production_reference(cfg.paths.registry_dir)
    metric = primary_metric(cfg.data.task)
    note = label_note(df, cfg.data.target, metric)
    performance = (
        {"judged": False, "rows": 0, "metric": metric, "note": note}
        if note
        else live_performance(bundle, labelled_rows(df, cfg.data.target), reference, cfg.data.task, cfg.monitor.min_labelled_rows)
    )
    decision = decide_retraining(drifted_features(drift), performance, cfg.monitor)
    report = {
        "batch": str(batch_path),
        "rows": int(len(df)),
        "production_version": version,
        "drift": drift,
        "drifted_features": drifted_features(drift),
        "performance": performance,
        "predictions": batch_predictions(bundle, df, cfg.data.task, cfg.data.target),
        **decision,
        "step_version": STEP_VERSION,
    }
    io.write_json(report, cfg.paths.reports_dir / "monitor.json")
    append_trend(trend_entry(report, utc_now()), cfg.paths.reports_dir / TREND_FILE)
    log.info(
        "monitor: %s rows, %d drifted feature(s), retrain advised=%s%s",
        report["rows"],
        len(report["drifted_features"]),
        decision["retrain"],
        (": " + "; ".join(decision["reasons"])) if decision["reasons"] else "",
    )
    return report


def performance_line(perf: dict[str, Any]) -> str:
    """Return the live-performance sentence: the metric against promotion, or why it is not judged."""
    if perf.get("live") is None:
        return f"not judged: {perf.get('note', 'no labelled rows')}"
    line = f"{perf['metric']} live {perf['live']:.4f} on {perf['rows']} labelled rows"
    if perf.get("reference") is not None and perf.get("drop") is not None:
        line += f" vs {perf['reference']:.4f} at promotion (drop {perf['drop']:+.4f})"
    return line + ("" if perf.get("judged") else f"; not judged: {perf.get('note', '')}")


def action_line(report: dict[str, Any], started: bool, disabled_by: str | None, ran: list[str] | None) -> str:
    """Return what monitoring did about its decision, never claiming a retrain that did not happen."""
    if not report["retrain"]:
        return "no retraining needed: nothing started"
    if started and ran is None:
        return "retraining started: the training flow runs as a subflow of this monitoring run"
    if started and ran is not None:
        what = ", ".join(ran) or "no step: none was stale (the batch is not in ingest.source; --force re-runs every step)"
        return f"retraining started: the training flow ran {what}"
    return f"retraining would be advised, but it is disabled ({disabled_by}): nothing started; run `tabgate run` to retrain"


def summary_lines(
    report: dict[str, Any], started: bool = False, disabled_by: str | None = None, ran: list[str] | None = None
) -> list[str]:
    """Return what a person reads about one monitoring check: reference, drift, performance, reasons, action."""
    drift = report["drift"]
    moved = {lvl: sorted(c for c, d in drift["columns"].items() if d["level"] == lvl) for lvl in ("error", "warn")}
    lines = [
        f"batch {report['batch']}: {report['rows']} rows; production model {report['production_version'] or 'none'}",
        f"drift ({drift['metric']}, warn {drift['warn']:g}, error {drift['error']:g}) against "
        f"{drift.get('reference', {}).get('note', 'the reference profile')}",
        f"  error: {', '.join(moved['error']) or 'none'}; warn: {', '.join(moved['warn']) or 'none'}",
    ]
    if drift.get("ignored"):
        lines.append(f"  not compared (monitor.ignore_drift): {', '.join(sorted(drift['ignored']))}")
    lines.append(f"performance: {performance_line(report['performance'])}")
    lines += [f"reason: {r}" for r in report["reasons"]] or ["reason: every threshold holds"]
    lines.append(f"action: {action_line(report, started, disabled_by, ran)}")
    return lines


def run(cfg: Config) -> dict[str, Any]:
    """Monitor monitor.batch_path (what the scheduled monitoring run checks)."""
    return monitor_batch(cfg, cfg.monitor.batch_path)


if __name__ == "__main__":
    from tasks.serving import monitor  # this module under its real name

    step_main("serving.monitor", monitor.run, __doc__)
