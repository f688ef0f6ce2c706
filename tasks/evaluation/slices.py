"""Slices: find the segments of the test set where the model errs clearly more than overall (pure, vectorised).

A candidate segment is one level of one feature (a frequent category, a quantile bin of a number, or
"missing"), or a pair of the strongest single segments on different features. Each is scored against
the rest of the rows with a two-sample z-test on the per-row error value (0/1 for classification, so
a pooled two-proportion test; the absolute residual for regression) and ranked by excess errors
(rows x (segment rate - overall rate)) among those clearly above overall (z and lift thresholds).
Rows are never looped over in Python: levels are integer codes, statistics are bincounts and matmuls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tasks.core.config import ExplainParams

MISSING = "(missing)"
SLICE_COLUMNS = [
    "segment",
    "n_conditions",
    "feature_1",
    "level_1",
    "feature_2",
    "level_2",
    "rows",
    "errors",
    "error_rate",
    "overall_rate",
    "lift",
    "z",
    "z_vs_parent",
    "excess_errors",
    "flagged",
    "variance",
]


@dataclass(frozen=True)
class Levels:
    """One feature's rows as level codes (-1: in no candidate level) with a label and condition per level."""

    feature: str
    codes: np.ndarray
    labels: tuple[str, ...]
    conditions: tuple[dict[str, Any], ...]


def format_value(value: Any) -> str:
    """Return a short display string for a raw value (integral floats without '.0')."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{float(value):.4g}"
    return str(value)


def json_scalar(value: Any) -> Any:
    """Return a JSON-safe Python scalar for a raw cell (NaN/NA -> None, numpy -> builtin, other -> str)."""
    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def categorical_levels(s: pd.Series, max_levels: int) -> Levels:
    """Return the most frequent categories (ties by label) plus missing as levels; other categories get -1."""
    raw_codes, uniques = pd.factorize(s, use_na_sentinel=True)
    counts = np.bincount(raw_codes[raw_codes >= 0], minlength=len(uniques))
    labels = [format_value(u) for u in uniques]
    order = sorted(range(len(uniques)), key=lambda i: (-counts[i], labels[i]))[:max_levels]
    lookup = np.full(len(uniques) + 1, -1, dtype=np.int32)  # last slot: the NA sentinel -1
    lookup[order] = np.arange(len(order), dtype=np.int32)
    codes = lookup[raw_codes]
    out_labels = [f"{s.name} = {labels[i]}" for i in order]
    conditions: list[dict[str, Any]] = [{"feature": str(s.name), "equals": json_scalar(uniques[i])} for i in order]
    if (raw_codes < 0).any():
        codes = np.where(raw_codes < 0, len(order), codes).astype(np.int32)
        out_labels.append(f"{s.name} is missing")
        conditions.append({"feature": str(s.name), "is_missing": True})
    return Levels(str(s.name), codes, tuple(out_labels), tuple(conditions))


def numeric_levels(s: pd.Series, n_bins: int) -> Levels:
    """Return quantile bins (or each value when there are few) plus missing as levels of a numeric feature."""
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(v)
    values = np.unique(v[finite])
    name = str(s.name)
    if len(values) <= n_bins:
        codes = np.where(finite, np.searchsorted(values, np.where(finite, v, 0.0)), -1).astype(np.int32)
        labels = [f"{name} = {format_value(x)}" for x in values]
        conditions: list[dict[str, Any]] = [{"feature": name, "equals": float(x)} for x in values]
    else:
        inner = np.unique(np.quantile(v[finite], np.linspace(0, 1, n_bins + 1)))[1:-1]
        if len(inner) == 0:  # one value holds nearly every row: split it from the rest
            inner = values[1:2]
        codes = np.where(finite, np.searchsorted(inner, np.where(finite, v, 0.0), side="right"), -1).astype(np.int32)
        bounds = [None, *inner.tolist(), None]
        labels, conditions = [], []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            left = "" if lo is None else f"{format_value(lo)} ≤ "
            right = "" if hi is None else f" < {format_value(hi)}"
            labels.append(f"{left}{name}{right}")
            conditions.append({"feature": name, "min_inclusive": lo, "max_exclusive": hi})
    if (~finite).any():
        codes = np.where(finite, codes, len(labels)).astype(np.int32)
        labels.append(f"{name} is missing")
        conditions.append({"feature": name, "is_missing": True})
    return Levels(name, codes, tuple(labels), tuple(conditions))


def build_levels(df: pd.DataFrame, numeric: list[str], categorical: list[str], p: ExplainParams) -> list[Levels]:
    """Return the candidate levels of every feature column (numeric first, then categorical)."""
    out = [numeric_levels(df[c], p.numeric_bins) for c in numeric]
    out += [categorical_levels(df[c], p.slice_max_categories) for c in categorical]
    return out


def score_segments(rows: np.ndarray, sums: np.ndarray, err: np.ndarray, p: ExplainParams) -> pd.DataFrame:
    """Return rate, lift, z (segment vs rest, pooled variance) and excess errors for segment row counts and error sums."""
    n, total, var = len(err), float(err.sum()), float(err.var())
    overall = total / n if n else 0.0
    rows = rows.astype(float)
    rest = n - rows
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rows > 0, sums / rows, 0.0)
        rest_rate = np.where(rest > 0, (total - sums) / rest, overall)
        se = np.sqrt(var * (1.0 / rows + 1.0 / rest))
        z = np.where((rows > 0) & (rest > 0) & (se > 0), (rate - rest_rate) / se, 0.0)
        lift = np.where(overall > 0, rate / overall, np.where(rate > 0, np.inf, 1.0))
    excess = rows * (rate - overall)
    flagged = (rows >= p.slice_min_support) & (z >= p.slice_min_z) & (lift >= p.slice_min_lift)
    return pd.DataFrame(
        {
            "rows": rows.astype(np.int64),
            "errors": sums,
            "error_rate": rate,
            "overall_rate": overall,
            "lift": lift,
            "z": z,
            "excess_errors": excess,
            "flagged": flagged,
        }
    )


def single_slices(levels: list[Levels], err: np.ndarray, p: ExplainParams) -> pd.DataFrame:
    """Return one scored row per (feature, level): counts and error sums by bincount."""
    parts = []
    for f, lv in enumerate(levels):
        inside = lv.codes >= 0
        k = len(lv.labels)
        rows = np.bincount(lv.codes[inside], minlength=k)
        sums = np.bincount(lv.codes[inside], weights=err[inside], minlength=k)
        sumsq = np.bincount(lv.codes[inside], weights=err[inside] ** 2, minlength=k)
        stats = score_segments(rows, sums, err, p)
        with np.errstate(divide="ignore", invalid="ignore"):
            stats["variance"] = np.where(rows > 0, sumsq / np.maximum(rows, 1) - stats["error_rate"] ** 2, 0.0)
        stats.insert(0, "segment", list(lv.labels))
        stats.insert(1, "feature_1", f)
        stats.insert(2, "level_1", np.arange(k))
        parts.append(stats)
    if not parts:
        return pd.DataFrame(columns=SLICE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["feature_2"], out["level_2"], out["n_conditions"], out["z_vs_parent"] = -1, -1, 1, np.nan
    return out[SLICE_COLUMNS]


def pair_slices(levels: list[Levels], singles: pd.DataFrame, err: np.ndarray, p: ExplainParams) -> pd.DataFrame:
    """Return pairs of the strongest single segments (different features) that err more than both parents.

    A pair is flagged only if it is also clearly worse than its worse parent (z_vs_parent >= slice_min_z),
    so "Z & any bin" does not crowd the report when Z alone explains the errors.
    """
    base = singles[(singles["rows"] >= p.slice_min_support) & (singles["excess_errors"] > 0)]
    base = base.sort_values(["excess_errors", "segment"], ascending=[False, True]).head(p.slice_pair_candidates)
    if len(base) < 2:
        return pd.DataFrame(columns=SLICE_COLUMNS)
    f_idx, l_idx = base["feature_1"].to_numpy(), base["level_1"].to_numpy()
    member = np.column_stack([levels[f].codes == lvl for f, lvl in zip(f_idx, l_idx)]).astype(np.float64)
    rows = member.T @ member
    sums = member.T @ (member * err[:, None])
    i, j = np.triu_indices(len(base), k=1)
    keep = f_idx[i] != f_idx[j]
    i, j = i[keep], j[keep]
    i, j = np.where(f_idx[i] < f_idx[j], i, j), np.where(f_idx[i] < f_idx[j], j, i)  # name pairs in feature order
    stats = score_segments(rows[i, j], sums[i, j], err, p)
    rate, var = base["error_rate"].to_numpy(), np.clip(base["variance"].to_numpy(), 0.0, None)
    parent = np.where(rate[i] >= rate[j], i, j)
    parent_rate, parent_var = rate[parent], var[parent]
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(parent_var / stats["rows"].to_numpy())
        z_parent = np.where(se > 0, (stats["error_rate"].to_numpy() - parent_rate) / se, 0.0)
    stats["z_vs_parent"] = z_parent
    stats["variance"] = np.nan
    stats["flagged"] = stats["flagged"] & (z_parent >= p.slice_min_z)
    labels = base["segment"].to_numpy()
    stats.insert(0, "segment", [f"{a} & {b}" for a, b in zip(labels[i], labels[j])])
    stats["feature_1"], stats["level_1"], stats["feature_2"], stats["level_2"] = f_idx[i], l_idx[i], f_idx[j], l_idx[j]
    stats["n_conditions"] = 2
    stats = stats[(stats["error_rate"] > parent_rate) & (stats["rows"] > 0)]
    return stats[SLICE_COLUMNS].reset_index(drop=True)


def rank_slices(table: pd.DataFrame) -> pd.DataFrame:
    """Return the slices ordered: flagged first, then by excess errors, z, and label for ties."""
    return table.sort_values(
        ["flagged", "excess_errors", "z", "segment"], ascending=[False, False, False, True], kind="mergesort"
    ).reset_index(drop=True)


def find_error_slices(
    df: pd.DataFrame, err: np.ndarray, numeric: list[str], categorical: list[str], p: ExplainParams
) -> tuple[pd.DataFrame, list[Levels]]:
    """Return every candidate segment (single and pair) ranked, and the feature levels they index into."""
    err = np.asarray(err, dtype=float)
    if len(err) != len(df):
        raise ValueError(f"error values ({len(err)}) and rows ({len(df)}) differ in length")
    levels = build_levels(df, numeric, categorical, p)
    singles = single_slices(levels, err, p)
    pairs = pair_slices(levels, singles, err, p)
    table = pd.concat([singles, pairs], ignore_index=True) if len(pairs) else singles
    return rank_slices(table), levels


def slice_masks(table: pd.DataFrame, levels: list[Levels], rows: np.ndarray | None = None) -> np.ndarray:
    """Return a (rows x slices) boolean membership matrix for the slices in table (optionally for some rows only)."""
    idx = slice(None) if rows is None else np.asarray(rows)
    n = len(levels[0].codes[idx]) if levels else 0
    out = np.zeros((n, len(table)), dtype=bool)
    for k, (f1, l1, f2, l2) in enumerate(table[["feature_1", "level_1", "feature_2", "level_2"]].to_numpy(dtype=int)):
        mask = levels[f1].codes[idx] == l1
        out[:, k] = mask & (levels[f2].codes[idx] == l2) if f2 >= 0 else mask
    return out


def slice_conditions(table: pd.DataFrame, levels: list[Levels]) -> list[list[dict[str, Any]]]:
    """Return the conditions (feature, equals / bin bounds / missing) that define each slice in table."""
    out = []
    for f1, l1, f2, l2 in table[["feature_1", "level_1", "feature_2", "level_2"]].to_numpy(dtype=int):
        conds = [levels[f1].conditions[l1]]
        if f2 >= 0:
            conds.append(levels[f2].conditions[l2])
        out.append(conds)
    return out


def slice_drivers(
    member: np.ndarray,
    is_error: np.ndarray,
    abs_shap: np.ndarray,
    global_mean: np.ndarray,
    features: list[str],
    top_n: int = 3,
) -> list[dict[str, Any]]:
    """Return, per slice, the features whose mean |SHAP| on the slice's sampled errors most exceeds the global mean."""
    w = (member & is_error[:, None]).astype(float)
    counts = w.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        seg_mean = (w.T @ abs_shap) / counts[:, None]
    out = []
    for k in range(member.shape[1]):
        drivers = []
        if counts[k] > 0:
            excess = seg_mean[k] - global_mean
            for j in np.lexsort((np.arange(len(features)), -excess))[:top_n]:
                if not excess[j] > 0:
                    break
                drivers.append(
                    {
                        "feature": features[j],
                        "mean_abs_shap_errors": float(seg_mean[k, j]),
                        "global_mean_abs_shap": float(global_mean[j]),
                        "excess": float(excess[j]),
                        "ratio": float(seg_mean[k, j] / global_mean[j]) if global_mean[j] > 0 else None,
                    }
                )
        out.append({"n_sampled_errors": int(counts[k]), "drivers": drivers})
    return out
