"""Evaluation report: CV mean ± std beside test metrics with 95% intervals, the lift over baselines, segments, and
whether the test set is like the training part (the split step's comparison: label shift, drift, adversarial
validation, new categories, rows and entities on both sides)."""

from __future__ import annotations

from tasks.core.metrics import HEADLINE
from tasks.core.reports import CvReport, EvaluateReport, IntervalMethod, SplitReport


def _num(v) -> str:
    return "" if v is None else (f"{v:.4f}" if abs(v) < 1000 else f"{v:,.0f}")


def cv_section(cv: CvReport | None, metrics: list[str]) -> list[str]:
    """Return Markdown lines: one row per CV scheme and model with mean ± std of each metric."""
    if not cv:
        return ["_No cross-validation report found._"]
    lines = ["| scheme | model | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for scheme, body in cv.schemes.items():
        for model in ("lightgbm", "baseline"):
            s = body.summary.model(model)
            cells = [f"{_num(s[m].mean)} ± {_num(s[m].std)}" if m in s else "" for m in metrics]
            lines.append(f"| {scheme} | {model} | " + " | ".join(cells) + " |")
    flagged = [k for k, b in cv.schemes.items() if b.summary.high_variance]
    if flagged:
        lines.append(f"\n**High variance across folds** in: {', '.join(flagged)}: the test number may not be stable.")
    lines += [f"\n**Note:** {note}" for note in cv.notes]
    return lines


def test_section(report: EvaluateReport, metrics: list[str]) -> list[str]:
    """Return Markdown lines: test metrics per model, with their 95% intervals where computed."""
    lines = ["| model | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for model, values in report.models.items():
        cells = []
        for m in metrics:
            iv = report.interval(model, m)
            cells.append(_num(values.value(m)) + (f" ({_num(iv.low)} .. {_num(iv.high)})" if iv and iv.low is not None else ""))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def interval_methods(report: EvaluateReport) -> str:
    """Return how the intervals were computed: the method, rows, rows per resample and resamples of each kind."""
    seen: dict[str, str] = {}
    for by_metric in report.intervals.values():
        for name, iv in by_metric.items():
            if iv.method == IntervalMethod.DELONG:
                seen.setdefault("delong", f"{name}: DeLong's analytic interval on all {iv.rows} rows")
            elif iv.method == IntervalMethod.BOOTSTRAP:
                scaled = (
                    f" of {iv.resample_rows} rows each, scaled by sqrt({iv.resample_rows} / {iv.rows})"
                    if (iv.resample_rows or 0) < (iv.rows or 0)
                    else f" of all {iv.rows} rows"
                )
                seen.setdefault("bootstrap", f"the others: percentile bootstrap, {iv.resamples} resamples{scaled}")
    return "; ".join(seen.values())


def segment_section(report: EvaluateReport, metric: str) -> list[str]:
    """Return Markdown lines: per segment value, the row count and the primary metric."""
    lines: list[str] = []
    for col, values in report.segments.items():
        lines += [f"\n**{col}**\n", f"| value | rows | {metric} |", "|---|---|---|"]
        lines += [f"| {v} | {s.rows} | {_num(s.value(metric))} |" for v, s in values.items()]
    return lines or ["_No segment columns configured (data.segment_columns)._"]


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


def label_lines(label: dict) -> list[str]:
    """Return Markdown lines comparing the label in training and in test (rates or mean, 95% intervals)."""
    if label.get("kind") == "mean":
        rows = [(name, label[name]) for name in ("train", "test")]
        return [
            "| part | label mean | 95% interval |",
            "|---|---|---|",
            *[f"| {n} | {_num(v['mean'])} | {_num(v['low'])} .. {_num(v['high'])} |" for n, v in rows],
        ]
    lines = ["| class | training rate (95% CI) | test rate (95% CI) |", "|---|---|---|"]
    for c, a in (label.get("train") or {}).items():
        b = (label.get("test") or {}).get(c) or {}
        lines.append(
            f"| {c} | {_pct(a.get('rate'))} ({_pct(a.get('low'))} .. {_pct(a.get('high'))}) | "
            f"{_pct(b.get('rate'))} ({_pct(b.get('low'))} .. {_pct(b.get('high'))}) |"
        )
    return lines


def shift_section(split: SplitReport | None) -> list[str]:
    """Return Markdown lines: is the test set like the training part, and the warnings the split step raised."""
    tvt = split.train_vs_test if split else None
    if not tvt:
        return ["_No train-vs-test comparison found (reports/split.json)._"]
    adv = tvt.get("adversarial") or {}
    top = ", ".join(f"{t['feature']} ({t['gain_share']:.0%})" for t in adv.get("top_features") or [])
    left = adv.get("left_out") or []
    rows, ents = tvt.get("shared_rows") or {}, tvt.get("shared_entities")
    drifted = sorted(((c, v) for c, v in (tvt.get("feature_psi") or {}).items()), key=lambda kv: -kv[1])[:5]
    new = ", ".join(f"{c} ({v['test_share']:.1%} of rows)" for c, v in (tvt.get("new_categories") or {}).items())
    lines = [
        *label_lines(tvt.get("label") or {}),
        "",
        f"- label PSI training -> test: {_num((tvt.get('label') or {}).get('psi'))}",
        f"- adversarial validation: a model tells test rows from training rows with ROC-AUC "
        f"{_num(adv.get('roc_auc'))} (0.5: it cannot); strongest features: {top or 'n/a'}"
        + (f"; left out as expected shifts: {', '.join(left)}" if left else ""),
        f"- largest feature drift (PSI): {', '.join(f'{c} {v:.3f}' for c, v in drifted) or 'n/a'}",
        f"- new categories in test: {new or 'none'}",
        f"- test rows copying a training row: {rows.get('test_rows', 0)} ({_pct(rows.get('test_share'))})"
        + (f"; entities on both sides: {ents['entities']} ({_pct(ents['test_share'])} of test rows)" if ents else ""),
    ]
    warnings = split.suspects if split else []
    if warnings:
        lines += [
            "",
            "**Warnings:**",
            *[
                f"- {', '.join(f.columns) or '(rows)'} [{f.check}]: {f.detail}"
                + (f" (expected: {f.reason})" if f.excused else "")
                for f in warnings
            ],
        ]
    return lines


def render_evaluation(report: EvaluateReport, cv: CvReport | None, split: SplitReport | None = None) -> str:
    """Return the evaluation report as Markdown."""
    metrics, primary = HEADLINE[report.task], report.primary_metric
    lift = ", ".join(f"{k.replace('over_', 'over ')}: {v:+.4f}" for k, v in report.lift.to_data().items())
    return "\n".join(
        [
            f"# Evaluation ({report.task}, primary metric {primary})",
            "",
            f"Test set: {report.test_rows} rows, fingerprint `{(report.test_fingerprint or '')[:16]}`, read once by "
            "the evaluate step after the models were chosen.",
            "",
            "## Cross-validation on the training part (mean ± std over folds)",
            "",
            *cv_section(cv, metrics),
            "",
            "## Test set (95% intervals)",
            "",
            f"Intervals: {interval_methods(report) or 'none computed'}.",
            "",
            *test_section(report, metrics),
            "",
            f"LightGBM lift on {primary}: {lift}",
            "",
            "## Is the test set like the training part? (split step)",
            "",
            *shift_section(split),
            "",
            "## Segments (LightGBM)",
            *segment_section(report, primary),
            "",
        ]
    )
