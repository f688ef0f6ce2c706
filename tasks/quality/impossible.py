"""Impossible values: numbers orders of magnitude outside the reference range, or outside bounds declared in
params.yaml. Either stops the run, whatever its share of the rows.

The reference range of a numeric column is its suite rule `value_range` (the reference min and max, widened by
validate.range_margin). A value more than validate.impossible_factor reference ranges beyond it is not a reading
the reference could produce (a sentinel such as 1e12, a unit change, a shifted decimal point): the table is
corrupt there. `validate.bounds` ({column: [min, max]}, null for an open side) declares limits known from the
domain (a rate is never negative, a share never above 1). Counted on every row with vectorised pandas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

MAX_EXAMPLES = 5
ERROR = "error"


def reference_ranges(results: list[dict]) -> dict[str, tuple[float, float]]:
    """Return {column: (min, max)} from the suite's value_range rules (as the validation results carry them)."""
    out = {}
    for r in results:
        conf = r.get("expectation_config") or {}
        kw = conf.get("kwargs") or {}
        if (conf.get("meta") or {}).get("rule") == "value_range" and kw.get("column") is not None:
            lo, hi = kw.get("min_value"), kw.get("max_value")
            if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
                out[str(kw["column"])] = (float(lo), float(hi))
    return out


def impossible_limits(lo: float, hi: float, factor: float) -> tuple[float, float]:
    """Return the limits beyond which a value is impossible: factor reference ranges outside [lo, hi]
    (a constant reference counts its own magnitude, at least 1, as its range)."""
    span = hi - lo if hi > lo else max(abs(hi), abs(lo), 1.0)
    return lo - factor * span, hi + factor * span


def outside(values: pd.Series, lo: float | None, hi: float | None) -> pd.Series:
    """Return the non-missing numeric values of a column that fall below lo or above hi (None: open side)."""
    x = pd.to_numeric(values, errors="coerce").dropna().astype(float)
    mask = pd.Series(False, index=x.index)
    if lo is not None:
        mask |= x < lo
    if hi is not None:
        mask |= x > hi
    return x[mask]


def _g(v: float | None) -> str:
    return "open" if v is None else f"{v:.6g}"


def examples(values: pd.Series) -> list[float]:
    """Return up to MAX_EXAMPLES of the most extreme values (by magnitude), distinct, as floats."""
    order = values.abs().sort_values(ascending=False, kind="stable")
    return [float(v) for v in pd.unique(values.loc[order.index])[:MAX_EXAMPLES]]


def failure(column: str, rule: str, bad: pd.Series, n_values: int, detail: str, **limits: float | None) -> dict:
    """Return one failure in the validation report's shape (severity error), with its limits."""
    share = len(bad) / n_values if n_values else 0.0
    return {
        "column": column,
        "rule": rule,
        "severity": ERROR,
        "expectation": "counted by tabgate (no GX rule)",
        "unexpected_count": int(len(bad)),
        "unexpected_share": round(share, 6),
        "examples": examples(bad),
        "detail": detail,
        **{k: (None if v is None or not math.isfinite(v) else round(v, 6)) for k, v in limits.items()},
    }


def impossible_failures(
    df: pd.DataFrame,
    ranges: Mapping[str, tuple[float, float]],
    bounds: Mapping[str, tuple[float | None, float | None]],
    factor: float,
) -> list[dict]:
    """Return an error per column with values impossible by the reference range or outside declared bounds."""
    out = []
    for column, (lo, hi) in sorted(ranges.items()):
        if column not in df.columns:
            continue
        low, high = impossible_limits(lo, hi, factor)
        bad = outside(df[column], low, high)
        if len(bad):
            n = int(df[column].notna().sum())
            detail = (
                f"{len(bad)} value(s) ({len(bad) / max(n, 1):.2%}) beyond [{_g(low)}, {_g(high)}], more than "
                f"{factor:g}x the reference range [{_g(lo)}, {_g(hi)}] outside it (validate.impossible_factor): "
                "a sentinel, a unit change or a shifted decimal point? Fix or remove those rows; if the range "
                "really changed, bootstrap the suite again (tabgate validate --bootstrap)"
            )
            out.append(
                failure(
                    column, "impossible_value", bad, n, detail, reference_min=lo, reference_max=hi, limit_min=low, limit_max=high
                )
            )
    for column, (lo_b, hi_b) in sorted(bounds.items()):
        if column not in df.columns:
            continue
        bad = outside(df[column], lo_b, hi_b)
        if len(bad):
            n = int(df[column].notna().sum())
            detail = (
                f"{len(bad)} value(s) ({len(bad) / max(n, 1):.2%}) outside the declared bounds "
                f"[{_g(lo_b)}, {_g(hi_b)}] (validate.bounds.{column}); fix or remove those rows"
            )
            out.append(failure(column, "declared_bounds", bad, n, detail, limit_min=lo_b, limit_max=hi_b))
    return out
