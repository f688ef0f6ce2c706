"""Drift: a reference profile of each column (bins and category frequencies) and PSI / Jensen-Shannon against it.

The profile is taken once, when the validation suite is bootstrapped, and kept as JSON beside the suite
(gx/reference_profile.json). Every later table is binned with the *reference* edges and categories, so the
two frequency vectors are comparable. Missing values are a bin of their own, so a jump in missingness is drift.

Quantile bins alone cannot see how far outside the reference values fall: 5% of a column set to 1e12 lands in
the top bin beside the reference's largest 10% and barely moves PSI. A numeric profile therefore also keeps the
reference min and max; values below or above them get two bins of their own (the reference has none there), and
`outside` reports their share and how many reference ranges beyond the range the farthest one lies. With `far`
set, a column with a value that far out is at level error whatever its PSI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.core.schema import is_categorical_dtype

MISSING = "__missing__"
OTHER = "__other__"
EPS = 1e-4
DRIFT_LEVELS = ("ok", "warn", "error")


def _rounded(values: np.ndarray, digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in values]


def numeric_edges(values: pd.Series, bins: int) -> list[float]:
    """Return the inner bin edges: the distinct reference quantiles at 1/bins, 2/bins, ... (empty when constant)."""
    x = pd.to_numeric(values, errors="coerce").dropna().astype(float)
    if x.empty:
        return []
    qs = np.quantile(x.to_numpy(), np.linspace(0, 1, bins + 1)[1:-1])
    return sorted({float(q) for q in qs})


def numeric_frequencies(values: pd.Series, edges: list[float]) -> np.ndarray:
    """Return shares per bin (len(edges)+1 bins, right-closed like pandas.cut) plus a last bin for missing."""
    x = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    n = len(x)
    if n == 0:
        return np.zeros(len(edges) + 2)
    missing = np.isnan(x)
    idx = np.searchsorted(np.asarray(edges, dtype=float), x[~missing], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return np.append(counts, missing.sum()) / n


def text_counts(values: pd.Series) -> pd.Series:
    """Return how often each non-missing value occurs, keyed by the value as text.

    Counts first, then turns the (few) distinct values into text: not the other way round, which converts every
    row to a Python string (seconds per million rows).
    """
    counts = values.value_counts(dropna=True)
    counts = counts[counts > 0]
    counts.index = pd.Index(counts.index.astype(object)).map(str)
    return counts.groupby(level=0).sum()


def category_frequencies(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Return shares of each reference category, then the share of other values, then of missing values."""
    n = len(values)
    if n == 0:
        return np.zeros(len(categories) + 2)
    n_missing = int(values.isna().sum())
    counts = text_counts(values)
    known = np.array([float(counts.get(c, 0)) for c in categories])
    other = float(n - n_missing - known.sum())
    return np.append(known, [other, float(n_missing)]) / n


def profile_column(values: pd.Series, bins: int, max_categories: int, categorical: bool) -> dict:
    """Return the reference profile of one column: kind, bins or categories, and the reference shares."""
    if categorical or is_categorical_dtype(values):
        counts = text_counts(values)
        ordered = sorted(counts.index, key=lambda c: (-int(counts[c]), c))[:max_categories]
        categories = sorted(ordered)
        return {
            "kind": "categorical",
            "categories": categories,
            "frequencies": _rounded(category_frequencies(values, categories)),
        }
    edges = numeric_edges(values, bins)
    out: dict = {"kind": "numeric", "edges": edges, "frequencies": _rounded(numeric_frequencies(values, edges))}
    x = pd.to_numeric(values, errors="coerce").dropna()
    if len(x):
        out |= {"min": float(x.min()), "max": float(x.max())}
    return out


def reference_profile(df: pd.DataFrame, numeric: list[str], categorical: list[str], bins: int, max_categories: int) -> dict:
    """Return {"rows": n, "columns": {col: profile}} for the given columns of the reference frame."""
    columns = {c: profile_column(df[c], bins, max_categories, categorical=False) for c in numeric}
    columns.update({c: profile_column(df[c], bins, max_categories, categorical=True) for c in categorical})
    return {"rows": int(len(df)), "bins": bins, "columns": dict(sorted(columns.items()))}


def current_frequencies(values: pd.Series, spec: dict) -> np.ndarray:
    """Return the shares of values in the reference bins or categories of spec."""
    if spec["kind"] == "numeric":
        return numeric_frequencies(values, spec["edges"])
    return category_frequencies(values, spec["categories"])


def _smoothed(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 0, None) + EPS
    return p / p.sum()


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Return the population stability index sum((a - e) * ln(a / e)), shares smoothed by EPS; 0 when equal."""
    e, a = _smoothed(expected), _smoothed(actual)
    return float(np.sum((a - e) * np.log(a / e)))


def jensen_shannon(expected: np.ndarray, actual: np.ndarray) -> float:
    """Return the Jensen-Shannon distance (base 2, in [0, 1]) between two share vectors."""
    e, a = _smoothed(expected), _smoothed(actual)
    m = (e + a) / 2
    js = 0.5 * np.sum(e * np.log2(e / m)) + 0.5 * np.sum(a * np.log2(a / m))
    return float(np.sqrt(max(js, 0.0)))


def drift_level(value: float, warn: float, error: float) -> str:
    """Return ok, warn or error for a drift value against the two thresholds."""
    if value >= error:
        return "error"
    return "warn" if value >= warn else "ok"


def range_excess(values: pd.Series, spec: dict) -> dict | None:
    """Return the share of rows below the reference min or above its max, and how many reference ranges beyond
    the range the farthest value lies (None for a profile without min / max)."""
    if spec.get("kind") != "numeric" or "min" not in spec or "max" not in spec:
        return None
    lo, hi = float(spec["min"]), float(spec["max"])
    span = hi - lo if hi > lo else max(abs(hi), abs(lo), 1.0)
    x = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    x = x[~np.isnan(x)]
    below, above = float((x < lo).sum()), float((x > hi).sum())
    beyond = max(float(lo - x.min()) if len(x) else 0.0, float(x.max() - hi) if len(x) else 0.0, 0.0) / span
    n = max(len(values), 1)
    return {"below": below / n, "above": above / n, "share": (below + above) / n, "ranges_beyond": beyond}


def with_tails(expected: np.ndarray, actual: np.ndarray, excess: dict) -> tuple[np.ndarray, np.ndarray]:
    """Return the share vectors with two more bins, below the reference min and above its max (reference: none);
    the values there leave the first and last quantile bins, where binning put them."""
    actual = actual.copy()
    actual[0] -= excess["below"]
    actual[-2] -= excess["above"]  # the last value bin (the very last is missing values)
    return np.append(expected, [0.0, 0.0]), np.append(np.clip(actual, 0, None), [excess["below"], excess["above"]])


def column_drift(values: pd.Series, spec: dict, metric: str, warn: float, error: float, far: float | None = None) -> dict:
    """Return {"value", "level"[, "outside"]} of one column's drift from its reference spec; with far, a value more
    than far reference ranges outside the reference range makes the level error."""
    if spec["kind"] == "numeric" and is_categorical_dtype(values) and not values.isna().all():
        return {"value": None, "level": "error", "note": "type changed: the reference column is numeric"}
    expected = np.asarray(spec["frequencies"], dtype=float)
    actual = current_frequencies(values, spec)
    excess = range_excess(values, spec)
    if excess is not None and excess["share"] > 0:
        expected, actual = with_tails(expected, actual, excess)
    value = psi(expected, actual) if metric == "psi" else jensen_shannon(expected, actual)
    out: dict = {"value": round(value, 6), "level": drift_level(value, warn, error)}
    if excess is not None and excess["share"] > 0:
        out["outside"] = {"share": round(excess["share"], 6), "ranges_beyond": round(excess["ranges_beyond"], 3)}
        if far is not None and excess["ranges_beyond"] >= far:
            out["level"] = "error"
            out["note"] = (
                f"values up to {excess['ranges_beyond']:.3g} reference ranges beyond the reference "
                f"[{spec['min']:g}, {spec['max']:g}]"
            )
    return out


def drift_report(df: pd.DataFrame, profile: dict, metric: str, warn: float, error: float, far: float | None = None) -> dict:
    """Return drift per profiled column of df ({"value", "level"}; missing columns are level error); with far, a
    value that many reference ranges outside a numeric column's reference range is level error too."""
    columns: dict[str, dict] = {}
    for col, spec in profile["columns"].items():
        if col not in df.columns:
            columns[col] = {"value": None, "level": "error", "note": "column missing"}
        else:
            columns[col] = column_drift(df[col], spec, metric, warn, error, far)
    counts = {lvl: sum(1 for c in columns.values() if c["level"] == lvl) for lvl in DRIFT_LEVELS}
    return {"metric": metric, "warn": warn, "error": error, "counts": counts, "columns": columns}
