"""Whole-table verdicts for the suite's expectations, vectorised: what Great Expectations would find on every row.

validate runs Great Expectations on a bounded sample of the table (validate.gx_max_rows; its results are the Data
Docs pages), because GX evaluates many rules row by row in Python (~25 s per million rows here). The verdicts that
stop or warn come from these counts over the whole table, so a rare problem outside the sample (one duplicated id,
one future date, a few labels missing) is still caught. Each function mirrors one GX 1.x expectation on a column as
gx_view presents it; tests/unit/test_rule_counts.py checks they agree with GX on tables GX sees whole.

Expectations not listed in RULES (column existence, the column set, dtype checks of typed columns) read the same on
a sample as on the whole table, so GX's own result stands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

MAX_EXAMPLES = 20


def _param(value: Any, parameters: dict[str, Any]) -> Any:
    """Return value with a {"$PARAMETER": name} reference replaced by its value."""
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


def _examples(values: pd.Series) -> list:
    """Return up to MAX_EXAMPLES unexpected values, in row order, as GX reports them (times as ISO text)."""
    return [v.isoformat() if isinstance(v, pd.Timestamp) else v for v in values.head(MAX_EXAMPLES).tolist()]


def _map_verdict(col: pd.Series, unexpected: pd.Series, mostly: float | None, base: int) -> dict:
    """Return the GX map-expectation result for a boolean mask of unexpected values among `base` counted rows."""
    count = int(unexpected.sum())
    share_ok = (base - count) / base if base else 1.0
    return {
        "success": bool(share_ok >= (1.0 if mostly is None else mostly)),
        "unexpected_count": count,
        "unexpected_percent": 100.0 * count / base if base else 0.0,
        "element_count": int(len(col)),
        "partial_unexpected_list": _examples(col[unexpected]),
    }


def not_null(col: pd.Series, kw: dict, parameters: dict) -> dict:
    """expect_column_values_to_not_be_null: missing values among all rows."""
    return _map_verdict(col, col.isna(), kw.get("mostly"), len(col)) | {"partial_unexpected_list": []}


def _comparable(values: pd.Series, bound: Any) -> Any:
    """Return bound in the values' terms (a Timestamp for datetime columns), or raise TypeError when not comparable."""
    if bound is None:
        return None
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.Timestamp(bound)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return float(bound)
    raise TypeError("not a number or time column")


def between(col: pd.Series, kw: dict, parameters: dict) -> dict | None:
    """expect_column_values_to_be_between: non-missing values outside [min_value, max_value]."""
    values = col.dropna()
    try:
        lo = _comparable(values, _param(kw.get("min_value"), parameters))
        hi = _comparable(values, _param(kw.get("max_value"), parameters))
    except (TypeError, ValueError):
        return None  # GX's own result (an evaluation error on such a column) stands
    if kw.get("strict_min") or kw.get("strict_max"):
        return None
    outside = pd.Series(False, index=values.index)
    if lo is not None:
        outside |= values < lo
    if hi is not None:
        outside |= values > hi
    return _map_verdict(values, outside, kw.get("mostly"), len(values))


def in_set(col: pd.Series, kw: dict, parameters: dict) -> dict:
    """expect_column_values_to_be_in_set: non-missing values not in value_set."""
    values = col.dropna()
    return _map_verdict(values, ~values.isin(list(kw["value_set"])), kw.get("mostly"), len(values))


def unique(col: pd.Series, kw: dict, parameters: dict) -> dict:
    """expect_column_values_to_be_unique: non-missing values that occur more than once (every occurrence counts)."""
    values = col.dropna()
    return _map_verdict(values, values.duplicated(keep=False), kw.get("mostly"), len(values))


def in_type_list(col: pd.Series, kw: dict, parameters: dict) -> dict | None:
    """expect_column_values_to_be_in_type_list on a text (object) column: values whose Python type is not listed.

    Typed columns are checked by their dtype, which a sample shares with the whole table: GX's result stands.
    """
    if col.dtype != object:
        return None
    values = col.dropna()
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty") and "str" in kw["type_list"]:
        return _map_verdict(values, pd.Series(False, index=values.index), kw.get("mostly"), len(values))
    names = values.map(lambda v: type(v).__name__)  # only reached when the column mixes types
    return _map_verdict(values, ~names.isin(list(kw["type_list"])), kw.get("mostly"), len(values))


def parseable_dates(col: pd.Series, kw: dict, parameters: dict) -> dict:
    """expect_column_values_to_be_dateutil_parseable: non-missing values that do not parse as dates."""
    values = col.dropna()
    parsed = pd.to_datetime(values.astype(str), errors="coerce", format="mixed")
    return _map_verdict(values, parsed.isna(), kw.get("mostly"), len(values))


def _within(value: float, kw: dict) -> bool:
    """Return whether value lies between kw's min_value / max_value (strict_min / strict_max honoured)."""
    lo, hi = kw.get("min_value"), kw.get("max_value")
    if lo is not None and (value <= lo if kw.get("strict_min") else value < lo):
        return False
    return not (hi is not None and (value >= hi if kw.get("strict_max") else value > hi))


def non_null_share(col: pd.Series, kw: dict, parameters: dict) -> dict:
    """expect_column_proportion_of_non_null_values_to_be_between."""
    share = float(col.notna().mean()) if len(col) else 0.0
    return {"success": _within(share, kw), "observed_value": share}


def unique_value_count(col: pd.Series, kw: dict, parameters: dict) -> dict:
    """expect_column_unique_value_count_to_be_between."""
    n = int(col.nunique(dropna=True))
    return {"success": _within(n, kw), "observed_value": n}


def contains_set(col: pd.Series, kw: dict, parameters: dict) -> dict:
    """expect_column_distinct_values_to_contain_set: every listed value occurs at least once."""
    present = set(col.dropna().unique().tolist())
    missing = [v for v in kw["value_set"] if v not in present]
    return {"success": not missing, "observed_value": sorted(present, key=str), "partial_missing_list": missing}


COLUMN_RULES: dict[str, Callable[[pd.Series, dict, dict], dict | None]] = {
    "expect_column_values_to_not_be_null": not_null,
    "expect_column_values_to_be_between": between,
    "expect_column_values_to_be_in_set": in_set,
    "expect_column_values_to_be_unique": unique,
    "expect_column_values_to_be_in_type_list": in_type_list,
    "expect_column_values_to_be_dateutil_parseable": parseable_dates,
    "expect_column_proportion_of_non_null_values_to_be_between": non_null_share,
    "expect_column_unique_value_count_to_be_between": unique_value_count,
    "expect_column_distinct_values_to_contain_set": contains_set,
}


def whole_table_verdict(
    expectation_type: str, kw: dict, df: pd.DataFrame, column: Callable[[str], pd.Series], parameters: dict
) -> dict | None:
    """Return {success, counts...} of one expectation on every row of df, or None when GX's sample result stands.

    `column(name)` returns a column as GX sees it (tasks.validate.gx_column), so values compare as in GX.
    """
    if expectation_type == "expect_table_row_count_to_be_between":
        return {"success": _within(len(df), kw), "observed_value": int(len(df))}
    rule = COLUMN_RULES.get(expectation_type)
    if rule is None or kw.get("column") not in df.columns:
        return None
    return rule(column(kw["column"]), kw, parameters)


def sample_rows(n: int, max_rows: int, random_state: int) -> np.ndarray | None:
    """Return the sorted positions of a deterministic sample of max_rows of n rows, or None when n fits whole."""
    if n <= max_rows:
        return None
    return np.sort(np.random.default_rng(random_state).choice(n, size=max_rows, replace=False))
