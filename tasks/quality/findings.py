"""Findings: one typed shape for what the data checks flag, and how a finding is excused.

Every report lists its findings under `suspects`, one `Finding` per finding: the columns, the check, value against
threshold, severity, whether it is excused (and why), one sentence a user can act on, and the check's evidence.
Severities (`FindingSeverity`):
- "error":   stops the run (impossible values, values outside declared bounds);
- "suspect": the run goes on, promotion is blocked until every column is dropped (data.drop_columns) or
             listed with a reason in validate.keep_suspects (leak suspects, a near-perfect model);
- "warn":    reported (train vs test differences, relations between features).
A finding is excused when every column it names has a reason in the excusing mapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tasks.core.errors import ConfigError
from tasks.core.reports import Finding, FindingSeverity, build_report

__all__ = [
    "ERROR",
    "SUSPECT",
    "WARN",
    "Finding",
    "FindingSeverity",
    "make_finding",
    "with_excuse",
    "excuse_all",
    "blocking",
    "stopping",
    "unexcused_columns",
    "finding_line",
    "check_named_columns",
]


ERROR, SUSPECT, WARN = FindingSeverity.ERROR, FindingSeverity.SUSPECT, FindingSeverity.WARN
SEVERITIES = tuple(FindingSeverity)


def _number(v: Any) -> Any:
    return round(float(v), 6) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def make_finding(
    columns: Iterable[str],
    check: str,
    value: Any,
    threshold: Any,
    severity: str,
    detail: str,
    excuses: Mapping[str, str],
    **evidence: Any,
) -> Finding:
    """Return one finding, excused when every column has a reason in excuses; built from its JSON form (numpy
    numbers and timestamps become what the report file holds). ValueError for an unknown severity."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {[s.value for s in SEVERITIES]}")
    cols = [str(c) for c in columns]
    data = {
        "columns": cols,
        "check": check,
        "value": _number(value),
        "threshold": _number(threshold),
        "severity": severity,
        "detail": detail,
        **evidence,
    }
    return build_report(Finding, {**data, **_excuse(cols, FindingSeverity(severity), excuses)})


def _excuse(columns: list[str], severity: FindingSeverity, excuses: Mapping[str, str]) -> dict[str, Any]:
    """Return `excused` (and `reason`) of a finding on these columns; errors are never excused."""
    excused = bool(columns) and severity is not ERROR and all(c in excuses for c in columns)
    if not excused:
        return {"excused": False}
    reason = excuses[columns[0]] if len(columns) == 1 else "; ".join(f"{c}: {excuses[c]}" for c in columns)
    return {"excused": True, "reason": reason}


def with_excuse(finding: Finding, excuses: Mapping[str, str]) -> Finding:
    """Return the finding with `excused` (and `reason`) set from excuses; errors are never excused."""
    data = {k: v for k, v in finding.to_data().items() if k not in ("excused", "reason")}
    return Finding.model_validate({**data, **_excuse(finding.columns, finding.severity, excuses)})


def excuse_all(findings: Iterable[Finding], excuses: Mapping[str, str]) -> list[Finding]:
    """Return every finding re-excused against the current excuses (a params change needs no re-screen)."""
    return [with_excuse(f, excuses) for f in findings]


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """Return the unexcused suspects: the findings that stop promotion."""
    return [f for f in findings if f.blocks_promotion]


def stopping(findings: Iterable[Finding]) -> list[Finding]:
    """Return the errors: the findings that stop the run."""
    return [f for f in findings if f.severity is ERROR]


def unexcused_columns(findings: Iterable[Finding]) -> list[str]:
    """Return the sorted columns named by unexcused suspects."""
    return sorted({c for f in blocking(findings) for c in f.columns})


def finding_line(f: Finding) -> str:
    """Return one line for logs and messages: columns, check, value against threshold, detail, excuse."""
    cols = ", ".join(f"'{c}'" for c in f.columns) or "(table)"
    excuse = f" [excused: {f.reason}]" if f.excused else ""
    return f"{f.severity.value} {cols} [{f.check}]: {f.detail}{excuse}"


def check_named_columns(columns: list[str], named: Mapping[str, object], key: str) -> None:
    """Raise ConfigError naming the params key of any entry that names a column the table does not have."""
    missing = sorted(c for c in named if c not in columns)
    if missing:
        raise ConfigError(
            f"params.yaml {key}.{missing[0]}: no column '{missing[0]}' in the table"
            + (f" (also {missing[1:]})" if len(missing) > 1 else "")
            + f"; it has {len(columns)} columns, e.g. {columns[:12]}. Fix the name or remove the entry"
        )
