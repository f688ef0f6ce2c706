"""Findings: one machine-readable shape for what the data checks flag, and how a finding is excused.

Every report lists its findings under `suspects`, one dict per finding:
  {"columns": [...], "check": name, "value": number, "threshold": number, "severity": ..., "excused": bool,
   "detail": one sentence a user can act on, ["reason": why it is excused], ...evidence}
Severities:
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

ERROR, SUSPECT, WARN = "error", "suspect", "warn"
SEVERITIES = (ERROR, SUSPECT, WARN)


def _number(v: Any) -> Any:
    return round(float(v), 6) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def make_finding(columns: Iterable[str], check: str, value: Any, threshold: Any, severity: str, detail: str,
                 excuses: Mapping[str, str], **evidence: Any) -> dict:
    """Return one finding in the shared shape, excused when every column has a reason in excuses."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {SEVERITIES}")
    cols = [str(c) for c in columns]
    out = {"columns": cols, "check": check, "value": _number(value), "threshold": _number(threshold),
           "severity": severity, "detail": detail, **evidence}
    return with_excuse(out, excuses)


def with_excuse(finding: Mapping[str, Any], excuses: Mapping[str, str]) -> dict:
    """Return the finding with `excused` (and `reason`) set from excuses; errors are never excused."""
    out = {k: v for k, v in finding.items() if k not in ("excused", "reason")}
    cols = list(out.get("columns") or [])
    excused = bool(cols) and out.get("severity") != ERROR and all(c in excuses for c in cols)
    out["excused"] = excused
    if excused:
        out["reason"] = excuses[cols[0]] if len(cols) == 1 else "; ".join(f"{c}: {excuses[c]}" for c in cols)
    return out


def excuse_all(findings: Iterable[Mapping[str, Any]], excuses: Mapping[str, str]) -> list[dict]:
    """Return every finding re-excused against the current excuses (a params change needs no re-screen)."""
    return [with_excuse(f, excuses) for f in findings]


def blocking(findings: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Return the unexcused suspects: the findings that stop promotion."""
    return [dict(f) for f in findings if f.get("severity") == SUSPECT and not f.get("excused")]


def stopping(findings: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Return the errors: the findings that stop the run."""
    return [dict(f) for f in findings if f.get("severity") == ERROR]


def unexcused_columns(findings: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the sorted columns named by unexcused suspects."""
    return sorted({c for f in blocking(findings) for c in f["columns"]})


def finding_line(f: Mapping[str, Any]) -> str:
    """Return one line for logs and messages: columns, check, value against threshold, detail, excuse."""
    cols = ", ".join(f"'{c}'" for c in f.get("columns") or []) or "(table)"
    excuse = f" [excused: {f['reason']}]" if f.get("excused") else ""
    return f"{f.get('severity')} {cols} [{f.get('check')}]: {f.get('detail')}{excuse}"


def check_named_columns(columns: list[str], named: Mapping[str, object], key: str) -> None:
    """Raise ConfigError naming the params key of any entry that names a column the table does not have."""
    missing = sorted(c for c in named if c not in columns)
    if missing:
        raise ConfigError(f"params.yaml {key}.{missing[0]}: no column '{missing[0]}' in the table"
                          + (f" (also {missing[1:]})" if len(missing) > 1 else "")
                          + f"; it has {len(columns)} columns, e.g. {columns[:12]}. Fix the name or remove the entry")
