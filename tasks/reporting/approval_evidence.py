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


def cell(x: Any) -> str:
    """Return text safe inside a Markdown table cell."""
    return str("" if x is None else x).replace("|", "\\|").replace("\n", " ")


def gate_lines(report: PromotionReport | None, record: VersionRecord) -> list[str]:
    """Return the gate's rules: every rule from the promote report of this version, else the record's summary."""
    if report is None:
        failed = record.decision.failed_rule_names() if record.decision else []
        return ["The promote report on this machine describes another run; the registry record says: outcome "
                f"`{record.decision.outcome if record.decision else 'none'}`, failed rules: {failed or 'none'}."]
    lines = ["| rule | metric | value | threshold | result | reason |", "|---|---|---|---|---|---|"]
    for r in report.decision.rules:
        lines.append("| " + " | ".join(cell(c) for c in (r.rule, r.metric or "", fmt(r.value), fmt(r.threshold),
                                                           RESULT[r.verdict], r.reason)) + " |")
    return lines


def metric_lines(record: VersionRecord, report: PromotionReport | None, metrics: EvaluateReport | None) -> list[str]:
    """Return the test metrics of this version beside production's, with this version's 95% intervals."""
    production = (report.decision.metrics.get("production") or {}) if report else {}
    names = [n for n in record.metrics if isinstance(record.metrics.get(n), (int, float))]
    if not names:
        return ["No test metrics in the registry record."]
    lines = ["| metric | this version | 95% interval | production |", "|---|---|---|---|"]
    for name in names:
        ci = metrics.interval("lightgbm", name) if metrics else None
        interval = f"{fmt(ci.low)} .. {fmt(ci.high)}" if ci and ci.low is not None and ci.high is not None else ""
        mark = " **(primary)**" if name == record.primary_metric else ""
        lines.append(f"| {name}{mark} | {fmt(record.metrics[name])} | {interval} | {fmt(production.get(name))} |")
    return lines


def finding_lines(report: PromotionReport | None) -> list[str]:
    """Return the leak suspects and other findings with their excuses (what each does to promotion)."""
    if report is None:
        return ["(not available: the promote report on this machine describes another run)"]
    if not report.suspects:
        return ["No findings: no leak suspect, no near-perfect model, no train-vs-test warning."]
    lines = ["| columns | check | value | threshold | effect | detail |", "|---|---|---|---|---|---|"]
    for f in report.suspects:
        effect = f"excused: {f.get('reason')}" if f.get("excused") else str(f.get("severity"))
        lines.append("| " + " | ".join(cell(c) for c in (", ".join(f.get("columns") or []) or "(rows)", f.get("check"),
                                                           fmt(f.get("value")), fmt(f.get("threshold")), effect,
                                                           f.get("detail"))) + " |")
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
    lines = [f"### Approve or reject `{version_id}`", "",
             f"- registered {record.created_at}; task `{record.task}`, primary metric `{record.primary_metric}`",
             f"- production now: `{production_version(registry_dir) or 'none'}`; the gate compared it with "
             f"`{record.compared_with or 'no production model (first model)'}`",
             f"- data version `{record.data_version or 'unversioned'}`, code `{(record.git_commit or '?')[:12]}`"
             f"{' (uncommitted changes)' if record.git_dirty else ''}, test rows {record.test_rows}", "",
             "#### Gate rules", "", *gate_lines(report, record), "",
             "#### Test metrics", "", *metric_lines(record, report, metrics), "",
             "#### Leak suspects and findings", "", *finding_lines(report), "",
             "#### Reports", "",
             f"- model card: `{card.resolve()}`" + ("" if card.exists() else " (not written)"),
             f"- explain report: [{explain.name}]({explain.as_uri()}) `{explain}`"
             + ("" if explain.exists() else " (not on this machine)"), "",
             "Approve switches production exactly as `tabgate models promote` does; reject records it and leaves "
             "production alone. Both need a reason and your name."]
    return "\n".join(lines) + "\n"


def expired_markdown(version_id: str, expired_at: str, timeout_seconds: float) -> str:
    """Return the artifact text of an approval left waiting past promote.approval_timeout_seconds."""
    return (f"## Approval of `{version_id}` EXPIRED\n\nexpired at {expired_at} after {timeout_seconds:g} s without a "
            f"decision. `{version_id}` is still pending approval; production is unchanged.\n\nDecide with "
            f"`tabgate models promote {version_id} --reason \"...\"` or `tabgate models reject {version_id} "
            "--reason \"...\"`, or run the `tabgate-approve-version` / `tabgate-reject-version` deployment.\n")
