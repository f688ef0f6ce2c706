"""Suite: the expectations the data gate checks, learnt from a reference table (pure, no IO), and the plain-dtype
view of a frame Great Expectations checks them on.

Every expectation carries meta {severity, rule}: "error" stops the pipeline, "warn" is reported only. The drift
reference profile is learnt with the suite (build_reference_profile). Writing both into the GX project is
tasks/quality/gx_store.py's; the gate that uses them is tasks/quality/validation.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from tasks.core.config import DataParams, ValidateParams
from tasks.core.schema import infer_feature_types, require_columns
from tasks.quality.drift import reference_profile

ERROR, WARN = "error", "warn"

GX_SEVERITY = {ERROR: "critical", WARN: "warning"}

TYPE_FAMILIES: dict[str, list[str]] = {  # as GX checks them on the gx_view of a frame
    "numeric": [
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "int",
        "float",
    ],
    "boolean": ["bool"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
    "text": ["str"],
}

CENTRAL_QUANTILES = (0.05, 0.95)

FUTURE_SLACK = timedelta(days=1)


def gx_column(s: pd.Series) -> pd.Series:
    """Return a column in the plain dtypes GX checks reliably: text as Python str objects, categories as
    their values, nullable numbers as float64, timezone-aware times as naive UTC."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if pd.api.types.is_numeric_dtype(cats) and not pd.api.types.is_bool_dtype(cats):
            return s.astype("float64")
        if pd.api.types.is_datetime64_any_dtype(cats):
            return gx_column(s.astype(cats.dtype))
        return s.astype(object).where(s.notna(), None)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").dt.tz_localize(None)
    if (
        pd.api.types.is_extension_array_dtype(dtype)
        and pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
    ):
        return pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index, name=s.name)
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_extension_array_dtype(dtype):
        return s.astype(object).where(s.notna(), None)
    return s


def gx_view(df: pd.DataFrame) -> pd.DataFrame:
    """Return a new frame with every column as gx_column makes it (the frame GX validates; df is untouched)."""
    return pd.DataFrame({c: gx_column(df[c]) for c in df.columns}, index=df.index)


def type_family(s: pd.Series) -> str:
    """Return numeric, boolean, datetime or text: the kind of values a (gx_view) column holds."""
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    kind = pd.api.types.infer_dtype(s, skipna=True)
    if kind == "boolean":
        return "boolean"
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numeric"
    return "text"


def expectation(kind: str, severity: str, rule: str, **kwargs: Any) -> dict:
    """Return one expectation as the JSON GX stores: type, kwargs, meta {severity, rule} and GX severity."""
    meta = {"severity": severity, "rule": rule}
    return {"type": f"expect_{kind}", "kwargs": kwargs, "meta": meta, "severity": GX_SEVERITY[severity]}


def python_value(v: Any) -> Any:
    """Return v as a plain JSON-able Python value (numpy scalars unwrapped, timestamps as ISO text)."""
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (pd.Timestamp, datetime)):
        return v.isoformat()
    return v if isinstance(v, (int, str)) or v is None else str(v)


def table_expectations(df: pd.DataFrame, p: ValidateParams) -> list[dict]:
    """Return table rules: at least validate.min_rows (error); row count and column set as in the reference (warn)."""
    n = len(df)
    return [
        expectation("table_row_count_to_be_between", ERROR, "min_rows", min_value=p.min_rows),
        expectation("table_row_count_to_be_between", WARN, "row_count_range", min_value=n // 2, max_value=2 * n),
        expectation("table_columns_to_match_set", WARN, "column_set", column_set=sorted(map(str, df.columns)), exact_match=True),
    ]


def presence_expectations(col: str, s: pd.Series, p: ValidateParams) -> list[dict]:
    """Return existence and type (error), not-all-null (error) and null-rate (warn) rules for one column."""
    family = type_family(s)
    out = [
        expectation("column_to_exist", ERROR, "column_exists", column=col),
        expectation("column_values_to_be_in_type_list", ERROR, "column_type", column=col, type_list=TYPE_FAMILIES[family]),
    ]
    out[1]["meta"]["family"] = family
    null_rate = float(s.isna().mean()) if len(s) else 0.0
    if s.notna().any():
        out.append(
            expectation(
                "column_proportion_of_non_null_values_to_be_between",
                ERROR,
                "not_all_null",
                column=col,
                min_value=0.0,
                strict_min=True,
            )
        )
    mostly = round(1.0 - null_rate - p.null_tolerance, 6)
    if mostly > 0:
        out.append(expectation("column_values_to_not_be_null", WARN, "null_rate", column=col, mostly=mostly))
    return out


def numeric_expectations(col: str, s: pd.Series, p: ValidateParams, severity: str = WARN) -> list[dict]:
    """Return the value range (reference min/max widened by range_margin) and the central 5%..95% range rules."""
    x = pd.to_numeric(s, errors="coerce").dropna().astype(float)
    if x.empty:
        return []
    lo, hi = float(x.min()), float(x.max())
    margin = p.range_margin * (hi - lo) if hi > lo else max(abs(lo) * p.range_margin, p.range_margin)
    q_lo, q_hi = (float(v) for v in np.quantile(x.to_numpy(), CENTRAL_QUANTILES))
    inside = float(x.between(q_lo, q_hi).mean())
    out = [
        expectation(
            "column_values_to_be_between",
            severity,
            "value_range",
            column=col,
            min_value=round(lo - margin, 6),
            max_value=round(hi + margin, 6),
        )
    ]
    mostly = round(inside - p.range_tolerance, 6)
    if mostly > 0 and q_hi > q_lo:
        out.append(
            expectation(
                "column_values_to_be_between", WARN, "central_range", column=col, min_value=q_lo, max_value=q_hi, mostly=mostly
            )
        )
    return out


def category_values(s: pd.Series) -> list:
    """Return the distinct non-missing values of s as plain Python values, sorted."""
    return sorted((python_value(v) for v in pd.unique(s.dropna())), key=lambda v: (str(type(v)), str(v)))


def category_expectations(col: str, s: pd.Series, p: ValidateParams) -> list[dict]:
    """Return the category-set rule (warn) for a low-cardinality column; none above max_categories_in_suite."""
    if pd.api.types.is_bool_dtype(s) or s.nunique() > p.max_categories_in_suite or s.notna().sum() == 0:
        return []
    return [expectation("column_values_to_be_in_set", WARN, "category_set", column=col, value_set=category_values(s))]


def label_expectations(s: pd.Series, data: DataParams, p: ValidateParams) -> list[dict]:
    """Return label rules: not null, known classes, at least two classes (errors), all classes present (warn)."""
    col = data.target
    family = type_family(s)
    out = [
        expectation("column_to_exist", ERROR, "column_exists", column=col),
        expectation("column_values_to_be_in_type_list", ERROR, "column_type", column=col, type_list=TYPE_FAMILIES[family]),
        expectation("column_values_to_not_be_null", ERROR, "label_not_null", column=col),
    ]
    out[1]["meta"]["family"] = family
    if data.task == "regression":
        return out + numeric_expectations(col, s, p)
    classes = category_values(s)
    out += [
        expectation("column_values_to_be_in_set", ERROR, "label_domain", column=col, value_set=classes),
        expectation("column_unique_value_count_to_be_between", ERROR, "label_two_classes", column=col, min_value=2),
    ]
    if len(classes) > 2:
        out.append(
            expectation("column_distinct_values_to_contain_set", WARN, "label_classes_present", column=col, value_set=classes)
        )
    return out


def time_expectations(col: str, s: pd.Series) -> list[dict]:
    """Return time rules: parsable, never after now (errors), not before the reference start (warn)."""
    if type_family(s) != "datetime":
        return [expectation("column_values_to_be_dateutil_parseable", ERROR, "time_parsable", column=col)]
    out = [expectation("column_values_to_be_between", ERROR, "time_not_future", column=col, max_value={"$PARAMETER": "now"})]
    t = s.dropna()
    if not t.empty:
        start = t.min() - (t.max() - t.min()) * 0.1
        out.append(expectation("column_values_to_be_between", WARN, "time_range", column=col, min_value=start.isoformat()))
    return out


def build_suite(df: pd.DataFrame, data: DataParams, p: ValidateParams) -> dict:
    """Return the suite definition {"name", "expectations"} learnt from a reference frame (no IO)."""
    require_columns(df, [c for c in (data.target, data.time_column, data.id_column) if c], "validate")
    ft = infer_feature_types(df, data)
    view = gx_view(df)
    out = table_expectations(df, p)
    for col in df.columns:
        s = view[col]
        if col in data.drop_columns:
            continue
        if col == data.target:
            out += label_expectations(s, data, p)
            continue
        out += presence_expectations(col, s, p)
        if col == data.time_column:
            out += time_expectations(col, s)
        elif col == data.id_column:
            if s.notna().all() and s.is_unique:
                out.append(expectation("column_values_to_be_unique", ERROR, "unique_id", column=col))
        elif col in ft.categorical:
            out += category_expectations(col, s, p)
        elif col in ft.numeric:
            out += numeric_expectations(col, s, p)
    return {"name": p.suite_name, "expectations": out}


def build_reference_profile(df: pd.DataFrame, data: DataParams, p: ValidateParams) -> dict:
    """Return the drift reference: bins and shares for every feature and the label."""
    ft = infer_feature_types(df, data)
    numeric, categorical = list(ft.numeric), list(ft.categorical)
    if data.target in df.columns:
        (numeric if data.task == "regression" else categorical).append(data.target)
    return reference_profile(df, numeric, categorical, p.drift_bins, p.max_categories_in_suite)


def time_parameters(now: datetime) -> dict[str, str]:
    """Return the $PARAMETER values the suite's time rules use: now (naive UTC, plus a day of slack)."""
    limit = now.astimezone(UTC) + FUTURE_SLACK
    return {"now": limit.replace(tzinfo=None).isoformat()}
