"""Messages: what a failed rule means in the data's terms, the error that stops the pipeline (naming each problem
and the files to open), the likely cause of a suite mismatch with the command that fixes it, and the one-line summary
of a validate report (pure, no IO).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tasks.core.errors import ValidationFailed
from tasks.quality.reports import DriftLevel, LeakageScreen, Severity, SuiteMismatch, ValidateReport
from tasks.quality.suite import python_value

MAX_EXAMPLES = 5

MAX_MESSAGE_ITEMS = 8

BOOTSTRAP_COMMAND = "tabgate validate --bootstrap"  # learns a new suite from the ingested table (flows/cli.py)


def example_values(values: list, limit: int = MAX_EXAMPLES) -> list:
    """Return up to limit distinct values, in order, as plain JSON values."""
    out: list = []
    for v in values:
        v = python_value(v)
        if v not in out:
            out.append(v)
        if len(out) == limit:
            break
    return out


def column_examples(df: pd.DataFrame, col: str) -> list:
    """Return a few distinct non-missing values of a column (as text) to show what it holds now."""
    if col not in df.columns:
        return []
    return example_values([str(v) for v in df[col].dropna().head(1000)])


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _new_columns(f: dict) -> str:
    new = sorted(set(map(str, f["df"].columns)) - set(f["meta"].get("_known_columns", [])))
    return f"; the table has new column(s) {new[:5]} (renamed?)" if new else ""


def _type_text(f: dict) -> str:
    col, family = f["kw"]["column"], f["meta"].get("family", "?")
    found = str(f["df"][col].dtype) if col in f["df"].columns else f["obs"]
    rows = f" in {f['n']} row(s)" if f["n"] else ""
    hint = " (numbers stored as text?)" if family == "numeric" and found in ("str", "object", "category") else ""
    return f"expected {family} values, found {found}{rows}{hint}"


def _mismatch(f: dict, key: str) -> list:
    return sorted(((f["result"].get("details") or {}).get("mismatched") or {}).get(key) or [])


def _pct(v: Any) -> str:
    return _fmt(round(float(v or 0), 2))


def _range(f: dict) -> str:
    return f"[{_fmt(f['kw'].get('min_value'))}, {_fmt(f['kw'].get('max_value'))}]"


def _allowed(f: dict) -> str:
    return _pct(100 * (1 - f["kw"].get("mostly", 1.0)))


FAILURE_TEXT: dict[str, Any] = {  # rule -> sentence saying what broke it, in the data's terms
    "min_rows": lambda f: f"the table has {f['obs']} rows; at least {f['kw'].get('min_value')} are needed (validate.min_rows)",
    "row_count_range": lambda f: (
        f"the table has {f['obs']} rows; the reference suggests {f['kw'].get('min_value')}..{f['kw'].get('max_value')}"
    ),
    "column_set": lambda f: f"columns differ from the suite: new {_mismatch(f, 'unexpected')}, missing {_mismatch(f, 'missing')}",
    "column_exists": lambda f: f"column is missing from the table{_new_columns(f)}",
    "column_type": _type_text,
    "not_all_null": lambda f: "every value is missing",
    "label_not_null": lambda f: f"{f['n']} row(s) have no label; every row needs one (drop or fill them upstream)",
    "null_rate": lambda f: f"{f['n']} missing value(s) ({_pct(f['pct'])}%); at most {_allowed(f)}% allowed",
    "value_range": lambda f: f"{f['n']} value(s) outside the reference range {_range(f)}",
    "central_range": lambda f: (
        f"{_pct(f['pct'])}% of values outside the reference 5%..95% range {_range(f)}; at most {_allowed(f)}% allowed"
    ),
    "category_set": lambda f: f"{f['n']} value(s) not seen in the reference",
    "unique_id": lambda f: f"{f['n']} row(s) share an id with another row",
    "label_domain": lambda f: f"{f['n']} label value(s) outside the reference classes {f['kw'].get('value_set')}",
    "label_two_classes": lambda f: f"the label has {f['obs']} distinct value(s); at least 2 classes are needed",
    "label_classes_present": lambda f: f"reference class(es) {f['result'].get('partial_missing_list')} are absent",
    "time_not_future": lambda f: f"{f['n']} timestamp(s) in the future (after now + 1 day)",
    "time_range": lambda f: f"{f['n']} timestamp(s) before {f['kw'].get('min_value')} (well before the reference start)",
    "time_parsable": lambda f: f"{f['n']} value(s) cannot be parsed as dates",
}


def describe_failure(rule: str, kw: dict, result: dict, meta: dict, df: pd.DataFrame) -> str:
    """Return one sentence saying what broke the rule, in the data's terms."""
    facts = {
        "kw": kw,
        "result": result,
        "meta": meta,
        "df": df,
        "n": result.get("unexpected_count"),
        "obs": result.get("observed_value"),
        "pct": result.get("unexpected_percent"),
    }
    text = FAILURE_TEXT.get(rule)
    return text(facts) if text else f"{facts['n'] if facts['n'] is not None else facts['obs']} unexpected"


def mismatch_message(mismatch: SuiteMismatch, suite_file: str, bootstrap_command: str = BOOTSTRAP_COMMAND) -> str:
    """Return what a suite mismatch likely means and the commands that fix it (suite_mismatch's result)."""
    missing, unknown = mismatch.missing, mismatch.unknown
    return (
        f"{len(missing)} of {mismatch.suite_columns} suite columns are missing (e.g. {missing[:MAX_EXAMPLES]}) "
        f"and {len(unknown)} of {mismatch.table_columns} table columns are unknown to the suite "
        f"(e.g. {unknown[:MAX_EXAMPLES]}): this looks like a different table from the one {suite_file} was "
        f"learned from. For a new table, learn a new suite from it: `{bootstrap_command}` (rewrites {suite_file} "
        "and the reference profile; or set validate.suite_name to a new name in params.yaml to keep the old "
        "suite). If it is the same table, check ingest.source and the reader options in params.yaml "
        "(ingest.separator, ingest.encoding, ingest.decimal)."
    )


def failure_lines(report: ValidateReport) -> list[str]:
    """Return one line per problem that stops the pipeline: column, rule, count, examples."""
    lines = []
    for f in report.failures:
        if f.severity is not Severity.ERROR:
            continue
        examples = f"; e.g. {f.examples}" if f.examples else ""
        lines.append(f"column '{f.column}' [{f.rule}]: {f.detail}{examples}")
    drift = report.drift
    if report.fail_on_drift:
        for col, d in drift.columns.items():
            if d.level is DriftLevel.ERROR:
                lines.append(f"column '{col}' [drift]: {drift.metric} {d.value} >= {drift.error}")
    return lines


def raise_for_report(report: ValidateReport, report_file: Path | str | None, bootstrap_command: str = BOOTSTRAP_COMMAND) -> None:
    """Raise ValidationFailed naming each stopping problem and the files to open, when the report did not pass.

    A table that looks like another one than the suite's (report.suite_mismatch) is said first, with the command
    that learns its own suite, instead of one line per missing column.
    """
    if report.passed:
        return
    lines = failure_lines(report)
    files = " and ".join(str(f) for f in (report_file, report.data_docs) if f)
    if report.suite_mismatch:
        raise ValidationFailed(
            mismatch_message(report.suite_mismatch, report.suite.file, bootstrap_command)
            + f"\n{len(lines)} problem(s) follow from it; open {files} for the details."
        )
    shown = lines[:MAX_MESSAGE_ITEMS] + (
        [f"... and {len(lines) - MAX_MESSAGE_ITEMS} more"] if len(lines) > MAX_MESSAGE_ITEMS else []
    )
    raise ValidationFailed(
        f"{len(lines)} problem(s) stop the pipeline:\n  - " + "\n  - ".join(shown) + f"\nOpen {files} for the details."
    )


def summary_line(report: ValidateReport) -> str:
    """Return a one-line human summary of a validate report."""
    c = report.counts
    leak = report.leakage or LeakageScreen()
    return (
        f"validate: {'PASSED' if report.passed else 'FAILED'} - {c.rows} rows, {c.expectations} "
        f"expectations, {c.failed_error} error / {c.failed_warn} warning failure(s), drift "
        f"{c.drift_warn} warn / {c.drift_error} error, leakage findings "
        f"{len(leak.suspects)} (unexcused suspects, which block promotion: "
        f"{leak.unexcused or 'none'})"
    )
