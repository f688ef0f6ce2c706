"""Relations: a numeric column that is (almost) a + b, a - b, a * b or a / b of two other columns.

Judged by R^2 = 1 - SSE / SST of the column against the formula itself (no fitting), on the rows where both
sides are finite; "exact" when at least EXACT_SHARE of those rows agree within float tolerance. A formula that
is as good with one operand alone (the other constant or a copy) is not a relation of two columns.
Candidates come from a small sample and are confirmed on the whole (capped) sample, so the search stays cheap:
columns^3 formulas on PRESCREEN_ROWS rows, then a few on every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PRESCREEN_ROWS = 400
PRESCREEN_SLACK = 0.02  # a candidate may miss the R^2 threshold by this much on the prescreen sample
REL_TOL = 1e-6  # float tolerance of an exact relation (relative), with ABS_TOL for values near zero
ABS_TOL = 1e-9
EXACT_SHARE = 0.99
MIN_COVERAGE = 0.9  # rows where both sides are finite, at least this share of the rows
OPERATIONS = ("+", "*", "-", "/")  # order of preference when one relation can be written several ways


@dataclass(frozen=True)
class Relation:
    """column = left op right, with its R^2, the share of rows it holds exactly on, and the rows compared."""

    column: str
    left: str
    op: str
    right: str
    r2: float
    exact_share: float
    rows: int

    @property
    def exact(self) -> bool:
        """True when the relation holds within float tolerance on at least EXACT_SHARE of the rows."""
        return self.exact_share >= EXACT_SHARE

    @property
    def formula(self) -> str:
        """The relation as text, e.g. "price = land + building"."""
        return f"{self.column} {'=' if self.exact else '≈'} {self.left} {'×' if self.op == '*' else self.op} {self.right}"


def numeric_matrix(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Return the columns as a float matrix (rows x columns), missing or non-numeric values as NaN."""
    if not columns:
        return np.empty((len(df), 0))
    return np.column_stack([pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan) for c in columns])


def apply_op(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return a op b elementwise; division by zero gives NaN (not inf)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        out = a / b
    return np.where(np.isfinite(out), out, np.nan)


def r2_columns(t: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, per column of f, R^2 of t against f (no fitting) and the share of rows where both are finite."""
    f = f.reshape(len(t), -1)
    ok = np.isfinite(f) & np.isfinite(t)[:, None]
    n = ok.sum(axis=0)
    tt = np.where(ok, t[:, None], 0.0)
    mean = tt.sum(axis=0) / np.maximum(n, 1)
    sst = (np.where(ok, tt - mean, 0.0) ** 2).sum(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        sse = (np.where(ok, tt - np.where(ok, f, 0.0), 0.0) ** 2).sum(axis=0)
        r2 = np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1.0), -np.inf)
    return np.nan_to_num(r2, nan=-np.inf), n / max(len(t), 1)


def squared_correlation(t: np.ndarray, x: np.ndarray) -> float:
    """Return corr(t, x)^2 on rows where both are finite (0 when either is constant there)."""
    ok = np.isfinite(t) & np.isfinite(x)
    if ok.sum() < 3 or np.std(t[ok]) == 0 or np.std(x[ok]) == 0:
        return 0.0
    return float(np.corrcoef(t[ok], x[ok])[0, 1] ** 2)


def candidate_pairs(t: np.ndarray, X: np.ndarray, threshold: float) -> list[tuple[int, str, int]]:
    """Return (left, op, right) positions in X whose formula scores R^2 >= threshold - slack against t."""
    out = []
    m = X.shape[1]
    for i in range(m):
        for op in OPERATIONS:
            js = np.arange(i + 1, m) if op in ("+", "*") else np.array([j for j in range(m) if j != i])
            if not len(js):
                continue
            r2, coverage = r2_columns(t, apply_op(op, X[:, [i]], X[:, js]))
            keep = (r2 >= threshold - PRESCREEN_SLACK) & (coverage >= MIN_COVERAGE)
            out += [(i, op, int(j)) for j in js[keep]]
    return out


def confirm(
    column: str, t: np.ndarray, X: np.ndarray, names: list[str], pair: tuple[int, str, int], threshold: float
) -> Relation | None:
    """Return the relation when it holds on every row given (R^2, coverage) and needs both operands; else None."""
    i, op, j = pair
    f = apply_op(op, X[:, i], X[:, j])
    r2, coverage = (float(v[0]) for v in r2_columns(t, f))
    if r2 < threshold or coverage < MIN_COVERAGE:
        return None
    if max(squared_correlation(t, X[:, i]), squared_correlation(t, X[:, j])) >= threshold:
        return None  # one operand alone explains the column: a copy, not a relation of two
    ok = np.isfinite(t) & np.isfinite(f)
    close = np.isclose(t[ok], f[ok], rtol=REL_TOL, atol=ABS_TOL)
    return Relation(column, names[i], op, names[j], r2, float(close.mean()) if ok.any() else 0.0, int(ok.sum()))


def relations_of(
    column: str, t: np.ndarray, X: np.ndarray, names: list[str], threshold: float, prescreen: np.ndarray
) -> list[Relation]:
    """Return the relations column = a op b over the columns of X (names), best first."""
    finite = t[np.isfinite(t)]
    if len(finite) < 3 or np.std(finite) == 0:
        return []
    pairs = candidate_pairs(t[prescreen], X[prescreen], threshold)
    found = [r for p in pairs if (r := confirm(column, t, X, names, p, threshold)) is not None]
    return sorted(found, key=lambda r: (not r.exact, OPERATIONS.index(r.op), -r.r2, r.left, r.right))


def varied_columns(df: pd.DataFrame, columns: list[str], limit: int) -> list[str]:
    """Return at most limit numeric columns with at least 3 distinct values, the most varied first (ties by name)."""
    counts = {c: int(pd.to_numeric(df[c], errors="coerce").nunique()) for c in columns}
    ranked = sorted((c for c in columns if counts[c] >= 3), key=lambda c: (-counts[c], c))
    return sorted(ranked[:limit], key=columns.index)


def prescreen_rows(n: int, random_state: int) -> np.ndarray:
    """Return the positions of the prescreen sample (all rows when there are few)."""
    if n <= PRESCREEN_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, PRESCREEN_ROWS, replace=False))


def target_relations(
    df: pd.DataFrame, target: str, features: list[str], threshold: float, limit: int, random_state: int
) -> list[Relation]:
    """Return relations target = a op b over the numeric features (best first; one per pair of operands)."""
    names = varied_columns(df, features, limit)
    t = numeric_matrix(df, [target])[:, 0]
    found = relations_of(target, t, numeric_matrix(df, names), names, threshold, prescreen_rows(len(df), random_state))
    seen: set[frozenset] = set()
    out = []
    for r in found:
        if frozenset((r.left, r.right)) not in seen:
            seen.add(frozenset((r.left, r.right)))
            out.append(r)
    return out


def feature_relations(df: pd.DataFrame, features: list[str], threshold: float, limit: int, random_state: int) -> list[Relation]:
    """Return relations among the numeric features, one per set of three columns (the simplest form kept)."""
    names = varied_columns(df, features, limit)
    X = numeric_matrix(df, names)
    rows = prescreen_rows(len(df), random_state)
    best: dict[frozenset, Relation] = {}
    for k, column in enumerate(names):
        others = [c for c in names if c != column]
        found = relations_of(column, X[:, k], X[:, [names.index(c) for c in others]], others, threshold, rows)
        for r in found:
            key = frozenset((r.column, r.left, r.right))
            old = best.get(key)
            if old is None or (not r.exact, OPERATIONS.index(r.op), -r.r2) < (not old.exact, OPERATIONS.index(old.op), -old.r2):
                best[key] = r
    return sorted(best.values(), key=lambda r: (names.index(r.column), r.left, r.right))
