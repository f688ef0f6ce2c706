"""Approval evidence: the Markdown a person reads before approving or rejecting a version pending approval.

Built from the version's registry record and, when they describe this version, the promote step's report
(reports/promotion.json: every gate rule, the findings) and evaluate's report (reports/metrics.json: the
intervals). Shown as the description of the approval form in the Prefect UI and as the `approval-<version>`
artifact.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tasks.core.reports import EvaluateReport, read_optional_report
from tasks.registry.catalog import model_card_path, production_version, read_record
from tasks.registry.records import VersionRecord
from tasks.reporting.promotion_report import PromotionReport, Verdict

RESULT = {Verdict.PASS: "pass", Verdict.FAIL: "**FAIL**", Verdict.NOT_APPLICABLE: "n/a"}


def fmt(x: Any) -> str:
    """Return a number as the evidence shows it (4 decimals; n/a when missing or not finite)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return "n/a" if x is None else str(x)
    return "n/a" if not math.isfinite(x) else f"{x:g}" if float(x).is_integer() else f"{x:.4f}"


def text(x: Any) -> str:
    """Return text safe inside one Markdown list item (no line break, no stray emphasis or code)."""
    return str("" if x is None else x).replace("\n", " ").replace("*", "\\*").replace("`", "'")


def number(x: Any) -> bool:
    """Return whether x is a finite number (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def relation(value: Any, threshold: Any) -> str:
    """Return how a rule's value stands against its threshold ("0.9100 > 0.8000"; "limit 200" without a value)."""
    if not number(value):
        return f"limit {fmt(threshold)}" if threshold is not None else "no value"
    if not number(threshold):
        return fmt(value)
    sign = ">" if value > threshold else "<" if value < threshold else "="
    return f"{fmt(value)} {sign} {fmt(threshold)}"


def gate_lines(report: PromotionReport | None, record: VersionRecord) -> list[str]:
    """Return the gate's rules, one line each (narrow enough for the Resume form): every rule from the promote
    report of this version, else the record's summary."""
    if report is None:
        failed = record.decision.failed_rule_names() if record.decision else []
        return [
            "The promote report on this machine describes another run; the registry record says: outcome "
            f"`{record.decision.outcome if record.decision else 'none'}`, failed rules: {failed or 'none'}."
        ]
    return [
        f"- **{text(r.rule)}**: {relation(r.value, r.threshold)} — {RESULT[r.verdict]}"
        + (f"; {text(r.reason)}" if r.reason else "")
        for r in report.decision.rules
    ]


def interval_text(metrics: EvaluateReport | None, model: str, name: str) -> str:
    """Return " [low, high]" (the 95% interval of one model's metric), or "" when not computed."""
    ci = metrics.interval(model, name) if metrics else None
    return f" [{fmt(ci.low)}, {fmt(ci.high)}]" if ci and ci.low is not None and ci.high is not None else ""


def metric_lines(record: VersionRecord, report: PromotionReport | None, metrics: EvaluateReport | None) -> list[str]:
    """Return the test metrics of this version with their 95% intervals beside production's, one line each."""
    production = (report.decision.metrics.get("production") or {}) if report else {}
    prod_ci = metrics if metrics and metrics.production_version and metrics.production_version == record.compared_with else None
    names = [n for n in record.metrics if isinstance(record.metrics.get(n), (int, float))]
    if not names:
        return ["No test metrics in the registry record."]
    lines = []
    for name in names:
        mark = " (primary)" if name == record.primary_metric else ""
        beside = (
            f" vs production {fmt(production.get(name))}{interval_text(prod_ci, 'production', name)}"
            if production.get(name) is not None
            else " (no production value)"
        )
        lines.append(f"- **{text(name)}**{mark}: {fmt(record.metrics[name])}{interval_text(metrics, 'lightgbm', name)}{beside}")
    return [*lines, "", "_[low, high]: 95% interval on the test rows._"]


def finding_lines(report: PromotionReport | None) -> list[str]:
    """Return the leak suspects and other findings with their excuses (what each does to promotion), one line each."""
    if report is None:
        return ["(not available: the promote report on this machine describes another run)"]
    if not report.suspects:
        return ["No findings: no leak suspect, no near-perfect model, no train-vs-test warning."]
    lines = []
    for f in report.suspects:
        effect = f"excused: {text(f.reason)}" if f.excused else f"**{text(f.severity.value)}**"
        columns = ", ".join(f.columns) or "(rows)"
        lines.append(
            f"- **{text(columns)}** {text(f.check)} {relation(f.value, f.threshold)}"
            f" — {effect}" + (f"; {text(f.detail)}" if f.detail else "")
        )
    return lines


def own_report(reports_dir: Path, version_id: str) -> PromotionReport | None:
    """Return reports/promotion.json when it is the report of the run that registered version_id, else None."""
    report = read_optional_report(PromotionReport, Path(reports_dir) / "promotion.json")
    return report if report is not None and report.version_id == version_id else None


def approval_evidence(registry_dir: Path, reports_dir: Path, version_id: str) -> str:
    """Return the Markdown evidence for deciding version_id: gate rules, metrics, findings, links."""
    record = read_record(registry_dir, version_id)
    report = own_report(reports_dir, version_id)
    metrics = read_optional_report(EvaluateReport, Path(reports_dir) / "metrics.json")
    if metrics is not None and metrics.test_fingerprint != record.test_fingerprint:
        metrics = None
    card = model_card_path(registry_dir, version_id)
    explain = (Path(reports_dir) / "explain" / "report.html").resolve()
    lines = [
        f"### Approve or reject `{version_id}`",
        "",
        f"- registered {record.created_at}; task `{record.task}`, primary metric `{record.primary_metric}`",
        f"- production now: `{production_version(registry_dir) or 'none'}`; the gate compared it with "
        f"`{record.compared_with or 'no production model (first model)'}`",
        f"- data version `{record.data_version or 'unversioned'}`, code `{(record.git_commit or '?')[:12]}`"
        f"{' (uncommitted changes)' if record.git_dirty else ''}, test rows {record.test_rows}",
        "",
        "#### Gate rules",
        "",
        *gate_lines(report, record),
        "",
        "#### Test metrics",
        "",
        *metric_lines(record, report, metrics),
        "",
        "#### Leak suspects and findings",
        "",
        *finding_lines(report),
        "",
        "#### Reports",
        "",
        f"- model card: `{card.resolve()}`" + ("" if card.exists() else " (not written)"),
        f"- explain report: [{explain.name}]({explain.as_uri()}) `{explain}`"
        + ("" if explain.exists() else " (not on this machine)"),
        "",
        "Approve switches production exactly as `tabgate models promote` does; reject records it and leaves "
        "production alone. Both need a reason and your name.",
    ]
    return "\n".join(lines) + "\n"


def expired_markdown(version_id: str, expired_at: str, timeout_seconds: float) -> str:
    """Return the artifact text of an approval left waiting past promote.approval_timeout_seconds."""
    return (
        f"## Approval of `{version_id}` EXPIRED\n\nexpired at {expired_at} after {timeout_seconds:g} s without a "
        f"decision. `{version_id}` is still pending approval; production is unchanged.\n\nDecide with "
        f'`tabgate models promote {version_id} --reason "..."` or `tabgate models reject {version_id} '
        '--reason "..."`, or run the `tabgate-approve-version` / `tabgate-reject-version` deployment.\n'
    )
