"""Evaluation report: CV mean ± std beside test metrics with 95% intervals, the lift over baselines, and segments."""

from __future__ import annotations

from tasks.core.metrics import HEADLINE


def _num(v) -> str:
    return "" if v is None else (f"{v:.4f}" if abs(v) < 1000 else f"{v:,.0f}")


def cv_section(cv: dict | None, metrics: list[str]) -> list[str]:
    """Return Markdown lines: one row per CV scheme and model with mean ± std of each metric."""
    if not cv:
        return ["_No cross-validation report found._"]
    lines = ["| scheme | model | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for scheme, body in cv["schemes"].items():
        for model in ("lightgbm", "baseline"):
            s = body["summary"].get(model, {})
            cells = [f"{_num(s[m]['mean'])} ± {_num(s[m]['std'])}" if m in s else "" for m in metrics]
            lines.append(f"| {scheme} | {model} | " + " | ".join(cells) + " |")
    flagged = [k for k, b in cv["schemes"].items() if b["summary"].get("high_variance")]
    if flagged:
        lines.append(f"\n**High variance across folds** in: {', '.join(flagged)}: the test number may not be stable.")
    lines += [f"\n**Note:** {note}" for note in cv.get("notes", [])]
    return lines


def test_section(report: dict, metrics: list[str]) -> list[str]:
    """Return Markdown lines: test metrics per model, with bootstrap intervals where computed."""
    lines = ["| model | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for model, values in report["models"].items():
        ci = report.get("intervals", {}).get(model, {})
        cells = []
        for m in metrics:
            v = values.get(m)
            iv = ci.get(m)
            cells.append(_num(v) + (f" ({_num(iv['low'])} .. {_num(iv['high'])})" if iv and iv.get("low") is not None else ""))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def segment_section(report: dict, metric: str) -> list[str]:
    """Return Markdown lines: per segment value, the row count and the primary metric."""
    lines: list[str] = []
    for col, values in report.get("segments", {}).items():
        lines += [f"\n**{col}**\n", f"| value | rows | {metric} |", "|---|---|---|"]
        lines += [f"| {v} | {s['rows']} | {_num(s.get(metric))} |" for v, s in values.items()]
    return lines or ["_No segment columns configured (data.segment_columns)._"]


def render_evaluation(report: dict, cv: dict | None) -> str:
    """Return the evaluation report as Markdown."""
    metrics, primary = HEADLINE[report["task"]], report["primary_metric"]
    lift = ", ".join(f"{k.replace('over_', 'over ')}: {v:+.4f}" for k, v in report.get("lift", {}).items())
    return "\n".join([
        f"# Evaluation ({report['task']}, primary metric {primary})", "",
        f"Test set: {report['test_rows']} rows, fingerprint `{report.get('test_fingerprint', '')[:16]}`, read once by "
        "the evaluate step after the models were chosen.", "",
        "## Cross-validation on the training part (mean ± std over folds)", "", *cv_section(cv, metrics), "",
        "## Test set (95% bootstrap intervals)", "", *test_section(report, metrics), "",
        f"LightGBM lift on {primary}: {lift}", "",
        "## Segments (LightGBM)", *segment_section(report, primary), "",
    ])
