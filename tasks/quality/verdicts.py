"""Verdicts: Great Expectations' results recounted on every row of the table (tasks/quality/rule_counts.py), then
read into the failures the report lists (follow-on failures of a missing or retyped column dropped), and the check
that the table is the one the suite was learnt from (pure, no IO).
"""

from __future__ import annotations

import pandas as pd

from tasks.quality.messages import column_examples, describe_failure, example_values
from tasks.quality.rule_counts import whole_table_verdict
from tasks.quality.suite import ERROR, WARN, gx_column, type_family

PRIMARY_RULES = ("column_exists", "column_type")

NULL_RULES = ("null_rate", "label_not_null", "not_all_null")

TABLE = "(table)"

SAMPLE_ONLY_KEYS = frozenset(
    {  # counts GX took on its sample that a whole-table verdict does not recount: dropped
        "missing_count",
        "missing_percent",
        "unexpected_percent_total",
        "unexpected_percent_nonmissing",
        "partial_unexpected_counts",
        "partial_unexpected_index_list",
    }
)

OTHER_TABLE_SHARE = 0.5  # this share of the suite's columns (or more) missing: the table is not the one the suite knows


def with_whole_table_verdicts(results: list[dict], df: pd.DataFrame, parameters: dict[str, str]) -> list[dict]:
    """Return GX's results with success, counts and examples recounted on every row of df (tasks.quality.rule_counts).

    Results GX could not evaluate keep GX's error; `sample_success` keeps what GX found on its sample.
    """
    views: dict[str, pd.Series] = {}

    def column(name: str) -> pd.Series:
        if name not in views:
            s = df[name]
            text_categories = isinstance(s.dtype, pd.CategoricalDtype) and type_family(pd.Series(s.cat.categories)) == "text"
            views[name] = s if text_categories else gx_column(s)  # categories compare as their text: no per-row copy
        return views[name]

    out = []
    for res in results:
        conf = res["expectation_config"]
        verdict = None if exception_message(res) else whole_table_verdict(conf["type"], conf["kwargs"], df, column, parameters)
        if verdict is None:
            out.append(res)
            continue
        success = verdict.pop("success")
        sample_result = {k: v for k, v in (res.get("result") or {}).items() if k not in SAMPLE_ONLY_KEYS}
        out.append({**res, "success": success, "result": {**sample_result, **verdict, "sample_success": res.get("success")}})
    return out


def exception_message(res: dict) -> str | None:
    """Return the first line of the exception GX raised while evaluating a result, or None."""
    info = res.get("exception_info") or {}
    entries = [info] if "raised_exception" in info else list(info.values())
    for e in entries:
        if isinstance(e, dict) and e.get("raised_exception"):
            return str(e.get("exception_message") or "error").splitlines()[0][:200]
    return None


def read_result(res: dict, df: pd.DataFrame, known_columns: list[str]) -> dict:
    """Return a failed result as {column, rule, severity, unexpected_count, examples, detail[, note]}."""
    conf = res["expectation_config"]
    kw, meta = conf["kwargs"], dict(conf.get("meta") or {})
    meta["_known_columns"] = known_columns
    result = res.get("result") or {}
    rule = meta.get("rule", conf["type"])
    out = {
        "column": kw.get("column", TABLE),
        "rule": rule,
        "severity": meta.get("severity", ERROR),
        "expectation": conf["type"],
        "unexpected_count": result.get("unexpected_count"),
    }
    examples = result.get("partial_unexpected_list") or result.get("partial_missing_list") or []
    if rule == "column_type":
        out["examples"] = column_examples(df, kw["column"])
    else:
        out["examples"] = [] if rule in NULL_RULES else example_values(examples)
    error = exception_message(res)
    if error:
        out["note"] = f"could not be evaluated: {error}"
        out["detail"] = out["note"]
    else:
        out["detail"] = describe_failure(rule, kw, result, meta, df)
    if rule == "min_rows" or rule == "row_count_range":
        out["unexpected_count"] = None
    if result.get("sample_success") is True and not res.get("success"):
        out["detail"] += " (found on the whole table; Great Expectations' row sample has no such row)"
    return out


def failed_expectations(results: list[dict], df: pd.DataFrame, known_columns: list[str]) -> list[dict]:
    """Return the failed results worth reading: follow-on failures of a missing or retyped column are dropped."""
    failed = [read_result(r, df, known_columns) for r in results if not r.get("success")]
    primary = {f["column"] for f in failed if f["rule"] in PRIMARY_RULES}
    missing = {f["column"] for f in failed if f["rule"] == "column_exists"}
    empty = len(df) == 0
    keep = []
    for f in failed:
        if f["column"] in missing and f["rule"] != "column_exists":
            continue
        if f["rule"] in PRIMARY_RULES or f["column"] == TABLE:
            keep.append(f)
        elif empty:
            continue
        elif f["column"] in primary and "note" in f:
            continue
        else:
            keep.append(f)
    order = {ERROR: 0, WARN: 1}
    return sorted(keep, key=lambda f: (order.get(f["severity"], 2), f["column"] != TABLE, f["column"], f["rule"]))


def suite_columns(results: list[dict]) -> list[str]:
    """Return the reference table's columns (from the column_set rule, else the column_exists rules)."""
    known: set[str] = set()
    for r in results:
        conf = r["expectation_config"]
        rule = (conf.get("meta") or {}).get("rule")
        if rule == "column_set":
            known.update(conf["kwargs"].get("column_set") or [])
        elif rule == "column_exists":
            known.add(conf["kwargs"]["column"])
    return sorted(known)


def suite_mismatch(known: list[str], df: pd.DataFrame) -> dict | None:
    """Return the suite's missing and the table's unknown columns when at least OTHER_TABLE_SHARE of the suite's
    columns are missing (the table looks like another table than the suite was learned from), else None."""
    columns = [str(c) for c in df.columns]
    missing, unknown = sorted(set(known) - set(columns)), sorted(set(columns) - set(known))
    if not known or len(missing) < OTHER_TABLE_SHARE * len(known):
        return None
    return {"suite_columns": len(known), "missing": missing, "table_columns": len(columns), "unknown": unknown}


def count_failures(failures: list[dict], n_expectations: int) -> dict:
    """Return the expectation counts: total and failed by severity."""
    errors = sum(1 for f in failures if f["severity"] == ERROR)
    return {"expectations": n_expectations, "failed_error": errors, "failed_warn": len(failures) - errors}
