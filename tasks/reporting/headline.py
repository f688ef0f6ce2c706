"""Headline metrics: the twenty-odd numbers `dvc metrics show/diff` and `dvc exp show` display (reports/headline.json).

The detailed reports (metrics.json, cv.json, promotion.json ...) stay DVC outputs; this file is the only one declared
under `metrics:` in dvc.yaml, so "what changed" between two runs fits on one screen: LightGBM's test metrics with
the primary metric's 95% interval, the baseline's primary metric (no interval), the lift, LightGBM's CV mean and std per scheme,
the row counts and the promotion outcome. Every other interval and the baseline's other metrics are in metrics.json.
"""

from __future__ import annotations

from tasks.core.metrics import HEADLINE
from tasks.core.reports import CvReport, EvaluateReport, IngestReport, SplitReport
from tasks.reporting.promotion_report import PromotionReport


def test_numbers(metrics_report: EvaluateReport, model: str, names: tuple[str, ...], *, interval: bool) -> dict:
    """Return the model's test metrics among names; with interval, the primary one's 95% bounds where computed."""
    values = metrics_report.model(model)
    out: dict = {}
    for name in names:
        value = values.value(name)
        if value is None:
            continue
        out[name] = value
        iv = metrics_report.interval(model, name)
        if interval and name == metrics_report.primary_metric and iv is not None and iv.low is not None:
            out[f"{name}_low"], out[f"{name}_high"] = iv.low, iv.high
    return out


def cv_numbers(cv: CvReport | None, metric: str) -> dict:
    """Return, per CV scheme, LightGBM's mean and std of metric over folds."""
    out: dict = {}
    for scheme, body in (cv.schemes if cv else {}).items():
        if metric in (stats := body.summary.model("lightgbm")):
            out[scheme] = {"lightgbm": {"mean": stats[metric].mean, "std": stats[metric].std}}
    return out


def headline_metrics(
    metrics_report: EvaluateReport,
    cv: CvReport | None,
    split: SplitReport | None,
    ingest: IngestReport | None,
    promotion: PromotionReport,
) -> dict:
    """Return the headline: row counts, test metrics with CIs, CV mean/std of the primary metric, promotion status."""
    primary = metrics_report.primary_metric
    return {
        "primary_metric": primary,
        "rows": {
            "ingested": ingest.rows if ingest else None,
            "train": split.train.rows if split else None,
            "valid": split.valid.rows if split else None,
            "test": metrics_report.test_rows,
        },
        "test": {
            "lightgbm": test_numbers(metrics_report, "lightgbm", tuple(HEADLINE[metrics_report.task]), interval=True),
            "baseline": test_numbers(metrics_report, "baseline", (primary,), interval=False),
        },
        "lift_over_baseline": metrics_report.lift.over_baseline,
        "cv": cv_numbers(cv, primary),
        "promotion": {"status": promotion.status.value, "outcome": promotion.decision.outcome.value},
    }
