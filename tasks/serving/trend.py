"""Monitoring trend: one line per monitored batch in reports/monitoring_trend.jsonl, the table rows and the chart.

`prediction_summary` describes what the production model predicted on a batch (binary: P(positive) mean and
quantiles; multiclass: the share of rows given each class; regression: the predictions' mean and quantiles).
`trend_entry` turns a monitor report (tasks.serving.monitor) into one TrendEntry; `append_trend` / `read_trend` keep
the file; `trend_rows` and `trend_svg` are what the Prefect UI shows (flows.artifacts). No orchestrator here.
"""

from __future__ import annotations

import json
import logging
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from tasks.core import io

TREND_FILE = "monitoring_trend.jsonl"  # under paths.reports_dir
CHART_BATCHES = 30  # the table and the chart show the last this many batches
QUANTILES = (0.1, 0.5, 0.9)
log = logging.getLogger(__name__)


class PredictionSummary(BaseModel):
    """What the model predicted on a batch: `mean` is the mean P(positive) (binary), the mean predicted value
    (regression) or the mean top-class probability (multiclass); `what` says which."""

    model_config = ConfigDict(frozen=True)

    rows: int
    what: str
    mean: float
    quantiles: dict[str, float] = {}  # "p10", "p50", "p90" (binary, regression)
    class_shares: dict[str, float] = {}  # class -> share of rows predicted as it (multiclass)


class TrendEntry(BaseModel):
    """One monitored batch: when, how many rows, the predictions, the drift verdict and the live metric."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    batch: str
    at: str
    rows: int
    production_version: str | None = None
    predictions: PredictionSummary | None = None
    prediction_note: str | None = None
    drift: str  # "ok", "warn: a, b" or "error: c"
    retrain: bool = False
    metric: str | None = None
    live: float | None = None  # the live metric on the batch's labelled rows (None without labels)
    reference: float | None = None  # the same metric when the production model was promoted
    labelled_rows: int = 0


def prediction_summary(scores: np.ndarray, task: str, classes: list[Any]) -> PredictionSummary:
    """Return the summary of a batch's scores (predict_scores' output for task)."""
    scores = np.asarray(scores, dtype=float)
    if task == "multiclass":
        picked = scores.argmax(axis=1)
        names = [str(c) for c in classes] or [str(i) for i in range(scores.shape[1])]
        shares = {names[k]: round(float(np.mean(picked == k)), 4) for k in range(scores.shape[1])}
        return PredictionSummary(
            rows=len(scores),
            what="mean top-class probability",
            mean=round(float(scores.max(axis=1).mean()), 4),
            class_shares=shares,
        )
    what = "mean predicted value" if task == "regression" else "mean P(positive)"
    qs = {f"p{round(q * 100)}": round(float(v), 4) for q, v in zip(QUANTILES, np.quantile(scores, QUANTILES))}
    return PredictionSummary(rows=len(scores), what=what, mean=round(float(scores.mean()), 4), quantiles=qs)


def drift_verdict(drift: dict[str, Any]) -> str:
    """Return the batch's drift verdict: "error: ..." (features at the error level), "warn: ..." or "ok"."""
    for level in ("error", "warn"):
        moved = sorted(c for c, d in drift.get("columns", {}).items() if d.get("level") == level)
        if moved:
            return f"{level}: {', '.join(moved)}"
    return "ok"


def trend_entry(report: dict[str, Any], at: str) -> TrendEntry:
    """Return the trend line of one monitor report (monitor_batch's output), stamped `at`."""
    perf = report.get("performance") or {}
    predictions = report.get("predictions") or {}
    return TrendEntry(
        batch=str(report["batch"]),
        at=at,
        rows=int(report["rows"]),
        production_version=report.get("production_version"),
        predictions=predictions.get("summary"),
        prediction_note=predictions.get("note"),
        drift=drift_verdict(report["drift"]),
        retrain=bool(report.get("retrain")),
        metric=perf.get("metric"),
        live=perf.get("live"),
        reference=perf.get("reference"),
        labelled_rows=int(perf.get("rows") or 0),
    )


def append_trend(entry: TrendEntry, path: Path) -> None:
    """Append one batch's line to the trend file (creating it and its folder; after a line torn by a crash, on a
    line of its own)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        with open(path, "rb+") as fh:
            fh.seek(-1, 2)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
    io.append_json_line(entry.model_dump(mode="json"), path)


def read_trend(path: Path) -> list[TrendEntry]:
    """Return every batch of the trend file, oldest first (an unreadable line, e.g. torn by a crash, is skipped)."""
    if not Path(path).exists():
        return []
    entries = []
    for text in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            entries.append(TrendEntry.model_validate(json.loads(text)))
        except (json.JSONDecodeError, ValidationError):
            log.warning("monitoring trend: skipping an unreadable line in %s", path)
    return entries


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def distribution_text(p: PredictionSummary | None, note: str | None) -> str:
    """Return the prediction distribution as one cell: mean and quantiles, or class shares."""
    if p is None:
        return note or ""
    if p.class_shares:
        return f"{p.what} {p.mean:.4f}; shares " + ", ".join(f"{k} {v:.0%}" for k, v in p.class_shares.items())
    return f"{p.what} {p.mean:.4f}; " + ", ".join(f"{k} {v:.4f}" for k, v in p.quantiles.items())


def trend_rows(entries: list[TrendEntry], last: int = CHART_BATCHES) -> list[dict[str, Any]]:
    """Return one table row per batch, newest first, for the last `last` batches (numbered from the first batch)."""
    numbered = list(enumerate(entries, start=1))[-last:]
    return [
        {
            "n": n,
            "batch": e.batch,
            "when": e.at,
            "rows": e.rows,
            "model": e.production_version or "",
            "predictions": distribution_text(e.predictions, e.prediction_note),
            "prediction_mean": _num(e.predictions.mean if e.predictions else None),
            "drift": e.drift,
            "metric": e.metric or "",
            "live": _num(e.live),
            "at_promotion": _num(e.reference),
            "labelled_rows": e.labelled_rows,
            "retrain": "yes" if e.retrain else "",
        }
        for n, e in reversed(numbered)
    ]


WIDTH, PANEL, PAD_LEFT, PAD_RIGHT, PAD_TOP = 640, 130, 70, 20, 28


def _scale(values: list[float], top: float) -> tuple[float, float, Any]:
    """Return (low, high, y(value)) mapping the values' range (padded; a flat series centred) onto one panel."""
    low, high = min(values), max(values)
    span = high - low or max(abs(high) * 0.1, 0.01)
    low, high = low - span * 0.1, high + span * 0.1
    return low, high, lambda v: top + PANEL - (v - low) / (high - low) * PANEL


def _panel(
    title: str, points: list[tuple[float, float]], top: float, css: str, colour: str, reference: float | None = None
) -> list[str]:
    """Return the SVG elements of one panel: frame, title, y range, the line, one circle per point, a reference."""
    parts = [
        f'<rect x="{PAD_LEFT}" y="{top}" width="{WIDTH - PAD_LEFT - PAD_RIGHT}" height="{PANEL}" fill="none" stroke="#ccc"/>',
        f'<text x="{PAD_LEFT}" y="{top - 8}" font-size="13" fill="#333">{escape(title)}</text>',
    ]
    if not points:
        return [
            *parts,
            f'<text x="{WIDTH / 2}" y="{top + PANEL / 2}" font-size="12" fill="#888" text-anchor="middle">no value yet</text>',
        ]
    values = [v for _, v in points] + ([reference] if reference is not None else [])
    low, high, y = _scale(values, top)
    parts += [
        f'<text x="{PAD_LEFT - 6}" y="{top + 10}" font-size="11" fill="#666" text-anchor="end">{high:.3f}</text>',
        f'<text x="{PAD_LEFT - 6}" y="{top + PANEL}" font-size="11" fill="#666" text-anchor="end">{low:.3f}</text>',
    ]
    if reference is not None:
        parts.append(
            f'<line class="reference" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y(reference):.1f}" '
            f'y2="{y(reference):.1f}" stroke="#999" stroke-dasharray="4 3"/>'
        )
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
    parts += [f'<circle class="{css}" cx="{x:.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}"/>' for x, v in points]
    return parts


def trend_svg(entries: list[TrendEntry], last: int = CHART_BATCHES) -> str:
    """Return an SVG of the last `last` batches: the live metric (with its value at promotion, dashed) and the
    prediction mean, one circle per batch that has the value, batches numbered from the first one."""
    numbered = list(enumerate(entries, start=1))[-last:]
    step = (WIDTH - PAD_LEFT - PAD_RIGHT - 20) / max(len(numbered) - 1, 1)
    xs = {n: PAD_LEFT + 10 + i * step for i, (n, _) in enumerate(numbered)}
    metric = next((e.metric for _, e in reversed(numbered) if e.metric), None) or "metric"
    reference = next((e.reference for _, e in reversed(numbered) if e.reference is not None), None)
    live = [(xs[n], e.live) for n, e in numbered if e.live is not None]
    mean = [(xs[n], e.predictions.mean) for n, e in numbered if e.predictions is not None]
    what = next((e.predictions.what for _, e in reversed(numbered) if e.predictions), "prediction mean")
    second = PAD_TOP + PANEL + 45
    height = second + PANEL + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        *_panel(f"live {metric} on labelled rows (dashed: at promotion)", live, PAD_TOP, "metric-point", "#1f77b4", reference),
        *_panel(what, mean, second, "mean-point", "#d62728"),
    ]
    parts += [
        f'<text x="{xs[n]:.1f}" y="{height - 10}" font-size="11" fill="#666" text-anchor="middle">{n}</text>'
        for n, _ in numbered
        if n in (numbered[0][0], numbered[-1][0])
    ]
    parts.append(
        f'<text x="{WIDTH / 2}" y="{height - 10}" font-size="11" fill="#666" text-anchor="middle">'
        f"batch ({len(numbered)} of {len(entries)})</text>"
    )
    return "\n".join([*parts, "</svg>"])
