"""Probes: two quick models on every candidate feature of a capped sample of training rows, to find leaks
that no single column shows on its own.

- reconstruction: a linear model and a shallow LightGBM, scored out of fold (validate.leakage_folds folds, every
  row predicted by a model that did not see it; ROC-AUC, macro one-vs-rest for several classes, or R^2). At or above validate.leakage_near_perfect the label can be rebuilt from the
  features; the smallest set of columns responsible is found by dropping columns one at a time (strongest
  first) and watching the score fall below the threshold.
- dominance: the shallow LightGBM refitted without each of its strongest features (by gain). Explained deviance
  is 1 - loss / loss of the prior (log loss for classes, squared error for numbers: R^2). A feature's share is
  what the model loses without it over what the model without it leaves unexplained (a partial R^2: the part of
  the remaining uncertainty only this feature resolves). At least validate.leakage_dominance_min_share, and at
  least validate.leakage_dominance_ratio times any other feature's share: it carries far more than the rest,
  confirm it is known at prediction time. Two features may dominate together (MAX_GROUP: leaks side by side).
Everything is fitted with one thread and a fixed random_state, so the same rows give the same findings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold
from threadpoolctl import threadpool_limits

MAX_CATEGORY_LEVELS = 63  # most frequent levels kept per category column (the rest share one code)
LINEAR_MAX_LEVELS = 20  # one-hot levels per category column in the linear probe
MAX_GROUP = 2  # features that may dominate together (two leaks side by side)
MAX_STEPS = 4  # rounds of "drop the strongest, look again" when no single column is responsible alone
TREE_PARAMS = {
    "num_leaves": 15,
    "max_depth": 5,
    "learning_rate": 0.1,
    "min_data_in_leaf": 20,
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "max_bin": 127,
}
TREE_ROUNDS = 100


@dataclass(frozen=True)
class ProbeData:
    """The probe's view of the rows: encoded features, label codes, the folds and the task."""

    X: pd.DataFrame  # numbers as floats, categories as pandas categories of integer codes
    y: np.ndarray
    task: str
    n_classes: int
    folds: list[tuple[np.ndarray, np.ndarray]]  # (fit, held) positions; every row is held out once
    categorical: tuple[str, ...]
    random_state: int


@dataclass(frozen=True)
class Fit:
    """A probe scored out of fold."""

    score: float  # ROC-AUC (macro one-vs-rest) or R^2
    explained: float  # 1 - loss / loss of the prior
    importance: dict[str, float]


def encode_features(df: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Return numbers as floats and categories as codes of their most frequent levels (rare ones shared, missing NaN)."""
    out = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan) for c in numeric}
    for c in categorical:
        text = df[c].astype(object).where(df[c].notna(), None)
        top = text.value_counts().index[:MAX_CATEGORY_LEVELS]
        codes = pd.Series(pd.Categorical(text, categories=list(top)).codes, index=df.index).astype(float)
        codes[(codes < 0) & text.notna()] = len(top)
        codes[text.isna()] = np.nan
        out[c] = pd.Categorical(codes.to_numpy(), categories=np.arange(len(top) + 1, dtype=float))
    return pd.DataFrame(out, index=np.arange(len(df)))


def fold_positions(y: np.ndarray, classification: bool, folds: int, random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (fit, held) positions of shuffled folds, stratified by class when every class has enough rows."""
    if classification and np.bincount(y).min() >= folds:
        splitter: StratifiedKFold | KFold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=random_state)
    return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(np.zeros(len(y)), y)]


def probe_data(
    df: pd.DataFrame, y: np.ndarray, task: str, numeric: list[str], categorical: list[str], folds: int, random_state: int
) -> ProbeData:
    """Return the probe's view of df (label codes y: floats for regression, 0..K-1 for classes)."""
    classification = task != "regression"
    n_classes = int(y.max()) + 1 if classification else 0
    return ProbeData(
        encode_features(df, numeric, categorical),
        y,
        task,
        n_classes,
        fold_positions(y, classification, folds, random_state),
        tuple(categorical),
        random_state,
    )


def prior_predictions(d: ProbeData) -> np.ndarray:
    """Return, out of fold, what a model without features predicts: the fit rows' mean or class shares."""
    out = np.zeros((len(d.y), max(d.n_classes, 1)))
    for fit, held in d.folds:
        if d.task == "regression":
            out[held, 0] = d.y[fit].mean()
        else:
            out[held] = np.bincount(d.y[fit], minlength=d.n_classes) / len(fit)
    return out[:, 0] if d.task == "regression" else out


def score_predictions(d: ProbeData, pred: np.ndarray) -> tuple[float, float]:
    """Return (score, explained deviance) of out-of-fold predictions (probabilities or values) of every row."""
    y, prior = d.y, prior_predictions(d)
    if d.task == "regression":
        sst = float(((y - prior) ** 2).sum())
        explained = 1 - float(((y - pred) ** 2).sum()) / sst if sst > 0 else 0.0
        return explained, explained
    proba = pred if pred.ndim == 2 else np.column_stack([1 - pred, pred])
    classes = list(range(d.n_classes))
    loss = log_loss(y, np.clip(proba, 1e-12, 1), labels=classes)
    loss0 = log_loss(y, np.clip(prior, 1e-12, 1), labels=classes)
    if d.n_classes == 2:
        auc = float(roc_auc_score(y, proba[:, 1]))
    else:
        present = [k for k in classes if 0 < (y == k).sum() < len(y)]
        auc = float(np.mean([roc_auc_score(y == k, proba[:, k]) for k in present])) if present else float("nan")
    return auc, float(1 - loss / loss0) if loss0 > 0 else 0.0


def out_of_fold(
    d: ProbeData, fit_predict: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Return out-of-fold predictions of every row and the importances summed over folds, from
    fit_predict(fit rows, held rows) -> (held predictions, importance vector)."""
    pred = np.zeros(len(d.y)) if d.task in ("regression", "binary") else np.zeros((len(d.y), d.n_classes))
    importance: np.ndarray | float = 0.0
    for fit, held in d.folds:
        p, imp = fit_predict(fit, held)
        pred[held] = p if d.task != "binary" or p.ndim == 1 else p[:, 1]
        importance = importance + imp
    return pred, np.asarray(importance)


def fit_tree(d: ProbeData, columns: list[str]) -> Fit:
    """Return the shallow LightGBM on columns: out-of-fold score, explained deviance and gain per column."""
    import lightgbm as lgb

    if not columns:
        return Fit(float("nan"), 0.0, {})
    objective = {"regression": {"objective": "regression"}, "binary": {"objective": "binary"}}.get(
        d.task, {"objective": "multiclass", "num_class": d.n_classes}
    )
    params = {**TREE_PARAMS, **objective, "seed": d.random_state}
    X = d.X[columns]

    def fit_predict(fit: np.ndarray, held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        booster = lgb.train(params, lgb.Dataset(X.iloc[fit], d.y[fit]), num_boost_round=TREE_ROUNDS)
        return np.asarray(booster.predict(X.iloc[held])), booster.feature_importance("gain")

    pred, gains = out_of_fold(d, fit_predict)
    score, explained = score_predictions(d, pred)
    return Fit(score, explained, {c: float(g) for c, g in zip(columns, gains)})


def linear_design(d: ProbeData, columns: list[str]) -> tuple[np.ndarray, list[str]]:
    """Return the linear probe's matrix (numbers median-imputed and standardised, categories one-hot of their most
    frequent levels) and, per matrix column, the feature it came from. Statistics of all rows: the scale only
    conditions the fit, the folds keep the scores honest."""
    blocks, owners = [], []
    for c in columns:
        if c in d.categorical:
            codes = d.X[c].cat.codes.to_numpy()
            levels = pd.Series(codes[codes >= 0]).value_counts().index[:LINEAR_MAX_LEVELS]
            blocks += [(codes == k).astype(float) for k in levels]
            owners += [c] * len(levels)
        else:
            v = d.X[c].to_numpy(dtype=float)
            med = float(np.nanmedian(v)) if np.isfinite(v).any() else 0.0
            v = np.where(np.isfinite(v), v, med)
            sd = float(np.std(v))
            blocks.append((v - float(np.mean(v))) / (sd if sd > 0 else 1.0))
            owners.append(c)
    return (np.column_stack(blocks) if blocks else np.zeros((len(d.y), 0))), owners


def fit_linear(d: ProbeData, columns: list[str]) -> Fit:
    """Return the linear probe (ridge, or logistic regression) on columns: out-of-fold score and |coef| per column."""
    M, owners = linear_design(d, columns)
    if M.shape[1] == 0:
        return Fit(float("nan"), 0.0, {})

    def fit_predict(fit: np.ndarray, held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if d.task == "regression":
            ridge = Ridge(alpha=1e-6 * len(fit)).fit(M[fit], d.y[fit])
            return ridge.predict(M[held]), np.abs(ridge.coef_).reshape(1, -1).sum(axis=0)
        clf = LogisticRegression(C=1.0, max_iter=300, tol=1e-4).fit(M[fit], d.y[fit])
        proba = clf.predict_proba(M[held])
        if clf.classes_.size < max(d.n_classes, 2):  # a class missing from the fit rows
            full = np.zeros((len(held), max(d.n_classes, 2)))
            full[:, clf.classes_] = proba
            proba = full
        return proba, np.abs(clf.coef_).sum(axis=0)

    with threadpool_limits(limits=1):  # one BLAS thread: many threads on a busy machine cost 20x here
        pred, weight = out_of_fold(d, fit_predict)
    score, explained = score_predictions(d, pred)
    importance = {c: float(weight[[k for k, o in enumerate(owners) if o == c]].sum()) for c in columns}
    return Fit(score, explained, importance)


def ranked(importance: dict[str, float], k: int) -> list[str]:
    """Return the k most important columns, ties by name."""
    return sorted(importance, key=lambda c: (-importance[c], c))[:k]


def responsible_columns(
    fit: Callable[[list[str]], Fit], columns: list[str], threshold: float, candidates: int
) -> tuple[list[str], dict[str, float]]:
    """Return the smallest set of columns without which the probe falls below threshold, and the score seen
    without each column tried. Strongest first: a column whose removal alone breaks the score is responsible;
    when none does (copies of each other), the strongest is set aside and the rest looked at again."""
    set_aside: list[str] = []
    seen: dict[str, float] = {}
    current = list(columns)
    for _ in range(MAX_STEPS):
        base = fit(current)
        if not base.score >= threshold:
            return set_aside, seen
        top = ranked(base.importance, candidates)
        for c in top:
            seen[c] = round(fit([x for x in current if x != c]).score, 6)
        needed = [c for c in top if not seen[c] >= threshold]
        if needed:
            return set_aside + needed, seen
        set_aside.append(top[0])
        current.remove(top[0])
    return set_aside, seen


def column_drops(d: ProbeData, base: Fit, columns: list[str], candidates: int) -> dict[str, tuple[float, float]]:
    """Return, for the strongest columns by gain, (share, score lost) when the tree is refitted without it: share
    is the explained deviance lost over what the model without it leaves unexplained (a partial R^2)."""
    out = {}
    for c in ranked(base.importance, candidates):
        without = fit_tree(d, [x for x in columns if x != c])
        share = (base.explained - without.explained) / max(1.0 - without.explained, 1e-9)
        out[c] = (share, base.score - without.score)
    return out


def dominant_group(drops: dict[str, float], min_drop: float, ratio: float) -> tuple[list[str], float]:
    """Return the smallest group (1..MAX_GROUP) of the largest drops that each reach min_drop and ratio times the
    largest drop outside the group, with that outside drop; ([], the second largest) when none dominates."""
    order = sorted(drops, key=lambda c: (-drops[c], c))
    for k in range(1, min(MAX_GROUP, len(order) - 1) + 1):
        inside, outside = drops[order[k - 1]], max(drops[order[k]], 0.0)
        if inside >= min_drop and inside >= ratio * outside:
            return order[:k], outside
    return [], max(drops[order[1]], 0.0) if len(order) > 1 else 0.0
