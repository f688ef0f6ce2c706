"""Leakage: a screen for features that know the answer, run on training rows only.

Per candidate feature (every column except the label, the time and id columns and the columns
data.drop_columns already excludes):
- single_feature_auc / single_feature_r2: how well the feature alone predicts the label. Numbers are
  scored by their value (max(auc, 1 - auc)); categories by their target rate computed out-of-fold, so a
  high-cardinality id cannot score by memorising rows. Regression uses out-of-fold bin / category means.
- copy_of_label: the feature is the label under another name (a one-to-one relabelling for classes,
  a monotone transform for a numeric label).
- after_event_time: a date column whose value is after data.time_column for most rows (written later).
Across features (tasks/quality/relations.py, tasks/quality/probes.py), on the columns no check above flagged:
- target_relation: a numeric label equal (or almost) to a + b, a - b, a * b or a / b of two features;
- reconstruction: a linear model or a shallow tree on all features rebuilds the label (out-of-fold ROC-AUC or
  R^2 >= validate.leakage_near_perfect); the columns responsible are named;
- dominance: one feature (or two or three) carries far more than any other; confirm it is known at prediction time;
- feature_relation (a warning): a feature equal (or almost) to a op b of two others.
Every finding is a suspect (tasks/quality/findings.py): it blocks promotion, not the run, until its columns are
dropped (data.drop_columns) or listed with a reason in validate.keep_suspects.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

from tasks.core.config import DataParams, ValidateParams
from tasks.core.schema import (
    excluded_columns,
    infer_feature_types,
    is_categorical_dtype,
)
from tasks.quality.findings import SUSPECT, WARN, Finding, make_finding, unexcused_columns
from tasks.quality.probes import (
    Fit,
    ProbeData,
    column_drops,
    dominant_group,
    fit_linear,
    fit_tree,
    probe_data,
    responsible_columns,
)
from tasks.quality.relations import Relation, feature_relations, target_relations

log = logging.getLogger(__name__)

NUMERIC_BINS = 20
MAX_NUMERIC_BINS = 200
ROWS_PER_BIN = 250
SMOOTHING = 1.0
DATE_PARSE_SHARE = 0.95


def subsample_rows(df: pd.DataFrame, max_rows: int, random_state: int) -> pd.DataFrame:
    """Return at most max_rows rows of df, drawn with a fixed random_state (df itself when small enough)."""
    if len(df) <= max_rows:
        return df
    return df.sample(n=max_rows, random_state=random_state).sort_index()


def category_codes(x: pd.Series) -> np.ndarray:
    """Return integer codes for the values of x, with missing values as a code of their own."""
    codes, _ = pd.factorize(x.astype(object).where(x.notna(), "__missing__"), use_na_sentinel=False)
    return codes.astype(np.int64)


def fold_indices(y: np.ndarray, folds: int, classification: bool, random_state: int) -> list[tuple]:
    """Return (fit, held-out) index pairs: stratified for classification when every class has enough rows."""
    if classification and np.bincount(y).min() >= folds:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        return list(splitter.split(np.zeros(len(y)), y))
    return list(KFold(n_splits=folds, shuffle=True, random_state=random_state).split(np.zeros(len(y))))


def oof_code_means(codes: np.ndarray, targets: np.ndarray, splits: list[tuple]) -> np.ndarray:
    """Return out-of-fold smoothed means of each target column per code (unseen codes get the fold mean)."""
    targets = targets.reshape(len(codes), -1).astype(float)
    out = np.zeros_like(targets)
    size = int(codes.max()) + 1 if len(codes) else 1
    for fit, held in splits:
        prior = targets[fit].mean(axis=0)
        counts = np.bincount(codes[fit], minlength=size).astype(float)
        for k in range(targets.shape[1]):
            sums = np.bincount(codes[fit], weights=targets[fit, k], minlength=size)
            out[held, k] = ((sums + SMOOTHING * prior[k]) / (counts + SMOOTHING))[codes[held]]
    return out


def numeric_scores(x: pd.Series) -> np.ndarray:
    """Return the values of a numeric feature as floats, missing values placed below the minimum."""
    v = pd.to_numeric(x, errors="coerce").astype(float).to_numpy()
    if np.isnan(v).all():
        return np.zeros(len(v))
    return np.where(np.isnan(v), np.nanmin(v) - 1.0, v)


def macro_auc(y: np.ndarray, scores: np.ndarray, n_classes: int, flip: bool) -> float:
    """Return ROC-AUC (binary) or macro one-vs-rest ROC-AUC; with flip, each AUC is max(auc, 1 - auc)."""
    aucs = []
    for k in [1] if n_classes == 2 else range(n_classes):
        col = scores[:, min(k, scores.shape[1] - 1)] if scores.ndim == 2 else scores
        auc = float(roc_auc_score((y == k).astype(int), col))
        aucs.append(max(auc, 1 - auc) if flip else auc)
    return float(np.mean(aucs))


def single_feature_auc(x: pd.Series, y: np.ndarray, categorical: bool, folds: int, random_state: int) -> float:
    """Return the ROC-AUC of one feature alone for class codes y (numbers as is, categories out-of-fold)."""
    n_classes = int(y.max()) + 1
    if not categorical:
        return macro_auc(y, numeric_scores(x), n_classes, flip=True)
    onehot = np.eye(n_classes)[y]
    splits = fold_indices(y, folds, True, random_state)
    return macro_auc(y, oof_code_means(category_codes(x), onehot, splits), n_classes, flip=False)


def quantile_codes(x: pd.Series, bins: int = NUMERIC_BINS) -> np.ndarray:
    """Return bin codes of a numeric feature by its own quantiles (no label used), missing as a bin."""
    v = pd.to_numeric(x, errors="coerce").astype(float)
    edges: np.ndarray | list[float] = (
        np.unique(np.nanquantile(v.to_numpy(), np.linspace(0, 1, bins + 1)[1:-1])) if v.notna().any() else []
    )
    codes = np.searchsorted(edges, v.to_numpy(), side="left")
    return np.where(v.isna().to_numpy(), len(edges) + 1, codes).astype(np.int64)


def single_feature_r2(x: pd.Series, y: np.ndarray, categorical: bool, folds: int, random_state: int) -> float:
    """Return the out-of-fold R^2 of predicting y by the mean of y in the feature's bin or category
    (for numbers also the squared correlation, scaled by the share of rows that have a value)."""
    bins = min(MAX_NUMERIC_BINS, max(NUMERIC_BINS, len(y) // ROWS_PER_BIN))
    codes = category_codes(x) if categorical else quantile_codes(x, bins)
    splits = fold_indices(np.zeros(len(y), dtype=int), folds, False, random_state)
    pred = oof_code_means(codes, y.astype(float), splits)[:, 0]
    r2 = float(r2_score(y, pred))
    if not categorical:
        v = pd.to_numeric(x, errors="coerce").astype(float)
        ok = v.notna().to_numpy()
        if ok.sum() > 2 and v[ok].std() > 0 and np.std(y[ok]) > 0:
            r2 = max(r2, float(np.corrcoef(v[ok], y[ok])[0, 1] ** 2) * ok.mean())
    return r2


def is_label_copy(x: pd.Series, y: pd.Series, task: str) -> bool:
    """Return True when x is the label relabelled one-to-one (classes) or a monotone transform (regression)."""
    if task == "regression":
        v = pd.to_numeric(x, errors="coerce") if not is_categorical_dtype(x) else None
        if v is None or v.notna().mean() < 0.99 or v.nunique() < 3:
            return False
        rho = pd.Series(v.to_numpy(dtype=float)).corr(pd.Series(y.to_numpy(dtype=float)), method="spearman")
        return bool(abs(rho) >= 0.9999)
    xc, yc = category_codes(x), category_codes(y)
    if len(np.unique(yc)) < 2:
        return False
    pairs = len(np.unique(xc * (int(yc.max()) + 1) + yc))
    return pairs == len(np.unique(xc)) == len(np.unique(yc))


def parse_dates(x: pd.Series) -> pd.Series | None:
    """Return x as datetimes when it is a datetime column or text that parses as ISO dates; else None."""
    if pd.api.types.is_datetime64_any_dtype(x):
        return x
    if not is_categorical_dtype(x) or x.notna().sum() == 0:
        return None
    uniques = pd.Series(pd.unique(x.dropna().astype(str)))
    parsed = pd.to_datetime(uniques, errors="coerce", format="ISO8601")
    if parsed.notna().mean() < DATE_PARSE_SHARE or not parsed.dt.year.between(1900, 2200).all():
        return None
    mapping = dict(zip(uniques, parsed))
    return pd.to_datetime(x.astype(object).map(lambda v: mapping.get(str(v)) if pd.notna(v) else pd.NaT))


def _naive_utc(s: pd.Series) -> pd.Series:
    return s.dt.tz_convert("UTC").dt.tz_localize(None) if s.dt.tz is not None else s


def after_event_share(dates: pd.Series, event: pd.Series) -> tuple[float, int]:
    """Return the share of rows (with both present) where dates fall after the event time, and that row count."""
    a, b = _naive_utc(pd.to_datetime(dates)), _naive_utc(pd.to_datetime(event))
    both = a.notna() & b.notna()
    n = int(both.sum())
    return (float((a[both] > b[both]).mean()) if n else 0.0), n


CHECK_TEXT = {
    "single_feature_auc": "alone it scores ROC-AUC {value:.4f} >= {threshold} on {rows} training rows",
    "single_feature_r2": "alone it scores out-of-fold R^2 {value:.4f} >= {threshold} on {rows} training rows",
    "copy_of_label": "it is the label under another name (one-to-one relabelling or monotone transform) on {rows} training rows",
    "after_event_time": "{value:.0%} of its dates fall after the event time (> {threshold:.0%}): written later",
}


def _finding(column: str, check: str, value: float, threshold: float, rows: int, p: ValidateParams) -> Finding:
    detail = CHECK_TEXT[check].format(value=float(value), threshold=threshold, rows=rows)
    return make_finding([column], check, value, threshold, SUSPECT, detail, p.keep_suspects, rows=rows)


def score_features(df: pd.DataFrame, y_codes: np.ndarray, data: DataParams, p: ValidateParams) -> dict[str, float]:
    """Return the single-feature metric (AUC or R^2) of every candidate feature of df."""
    ft = infer_feature_types(df, data)
    scores: dict[str, float] = {}
    for col in ft.all:
        categorical = col in ft.categorical
        if data.task == "regression":
            value = single_feature_r2(df[col], y_codes, categorical, p.leakage_folds, p.random_state)
        else:
            value = single_feature_auc(df[col], y_codes, categorical, p.leakage_folds, p.random_state)
        scores[col] = round(value, 6)
    return dict(sorted(scores.items()))


def after_event_findings(df: pd.DataFrame, data: DataParams, p: ValidateParams) -> list[Finding]:
    """Return after_event_time findings for date columns that mostly fall after data.time_column."""
    if not data.time_column or data.time_column not in df.columns:
        return []
    out = []
    for col in candidate_columns(df, data):
        dates = parse_dates(df[col])
        if dates is None:
            continue
        share, n = after_event_share(dates, df[data.time_column])
        if n and share > p.leakage_after_event_share:
            out.append(_finding(col, "after_event_time", share, p.leakage_after_event_share, n, p))
    return out


def candidate_columns(df: pd.DataFrame, data: DataParams) -> list[str]:
    """Return the columns the screen looks at: all but label, time, id and data.drop_columns."""
    excluded = excluded_columns(data)
    return [c for c in df.columns if c not in excluded]


def label_codes(y: pd.Series, task: str) -> np.ndarray:
    """Return the label as floats (regression) or class codes 0..K-1 in sorted order (classification)."""
    if task == "regression":
        return pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
    classes = sorted(pd.unique(y.dropna()).tolist(), key=str)
    return y.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)


def relation_findings(
    df: pd.DataFrame, data: DataParams, features: list[str], p: ValidateParams
) -> tuple[list[Finding], list[Relation]]:
    """Return target_relation suspects (numeric label = a op b) and feature_relation warnings, with the relations."""
    rows = len(df)
    found_target = (
        target_relations(df, data.target, features, p.leakage_relation_r2, p.leakage_relation_max_columns, p.random_state)
        if data.task == "regression"
        else []
    )
    out = []
    for r in found_target:
        kind = "exactly" if r.exact else "almost"
        detail = (
            f"the label is {kind} {r.left} {r.op} {r.right}: {r.formula} (R^2 {r.r2:.6f}, within float "
            f"tolerance on {r.exact_share:.1%} of {r.rows} rows); drop one of them or confirm both are known "
            "at prediction time"
        )
        out.append(
            make_finding(
                [r.left, r.right],
                "target_relation",
                r.r2,
                p.leakage_relation_r2,
                SUSPECT,
                detail,
                p.keep_suspects,
                rows=rows,
                formula=r.formula,
                exact=r.exact,
            )
        )
    relations = feature_relations(df, features, p.leakage_relation_r2, p.leakage_relation_max_columns, p.random_state)
    for r in relations:
        detail = (
            f"{r.formula} (R^2 {r.r2:.6f}, within float tolerance on {r.exact_share:.1%} of rows): one column "
            "is computed from two others; confirm all three are known at prediction time"
        )
        out.append(
            make_finding(
                [r.column, r.left, r.right],
                "feature_relation",
                r.r2,
                p.leakage_relation_r2,
                WARN,
                detail,
                p.keep_suspects,
                rows=rows,
                formula=r.formula,
                exact=r.exact,
            )
        )
    return out, found_target + relations


def reconstruction_findings(d: ProbeData, columns: list[str], base: dict[str, Fit], p: ValidateParams) -> list[Finding]:
    """Return a reconstruction suspect per probe (linear, tree) at or above leakage_near_perfect, naming the columns
    responsible (dropped one at a time, strongest first, until the score falls)."""
    out = []
    metric = "R^2" if d.task == "regression" else "ROC-AUC"
    for name, fitter in (("linear", fit_linear), ("tree", fit_tree)):
        score = base[name].score
        if not score >= p.leakage_near_perfect:
            continue
        responsible, seen = responsible_columns(
            partial(fitter, d), columns, p.leakage_near_perfect, p.leakage_dominance_candidates
        )
        named = responsible or ["(unresolved)"]
        detail = (
            f"a {name} model on all {len(columns)} features rebuilds the label: out-of-fold {metric} {score:.4f} "
            f">= {p.leakage_near_perfect}; without {', '.join(named)} it falls below (scores without each "
            f"column tried: {seen}); confirm they are known at prediction time"
        )
        out.append(
            make_finding(
                responsible,
                "reconstruction",
                score,
                p.leakage_near_perfect,
                SUSPECT,
                detail,
                p.keep_suspects,
                rows=int(len(d.y)),
                model=name,
                scores_without=seen,
            )
        )
    return out


def dominance_findings(d: ProbeData, columns: list[str], tree: Fit, p: ValidateParams) -> tuple[list[Finding], dict]:
    """Return dominance suspects (features that carry far more than any other) and the shares measured."""
    if len(columns) < 2 or not np.isfinite(tree.score):
        return [], {}
    drops = column_drops(d, tree, columns, p.leakage_dominance_candidates)
    shares = {c: v[0] for c, v in drops.items()}
    group, outside = dominant_group(shares, p.leakage_dominance_min_share, p.leakage_dominance_ratio)
    metric = "R^2" if d.task == "regression" else "ROC-AUC"
    threshold = round(max(p.leakage_dominance_min_share, p.leakage_dominance_ratio * outside), 6)
    out = []
    for c in group:
        detail = (
            f"it alone resolves {shares[c]:.1%} of what the other features leave unexplained (out-of-fold "
            f"{metric} {tree.score:.4f} with it, {tree.score - drops[c][1]:.4f} without); no feature outside "
            f"{group} resolves more than {outside:.1%}: it carries far more than any other, confirm it is "
            "known at prediction time"
        )
        out.append(
            make_finding(
                [c],
                "dominance",
                shares[c],
                threshold,
                SUSPECT,
                detail,
                p.keep_suspects,
                rows=int(len(d.y)),
                score_lost=round(drops[c][1], 6),
            )
        )
    measured = {c: {"share": round(v[0], 6), "score_lost": round(v[1], 6)} for c, v in drops.items()}
    return out, measured


def probe_findings(df: pd.DataFrame, data: DataParams, flagged: set[str], p: ValidateParams) -> tuple[list[Finding], dict]:
    """Return reconstruction and dominance suspects from quick models on the features not already flagged,
    and what the probes measured (scores, gain shares, drops)."""
    rows = subsample_rows(df, p.leakage_model_max_rows, p.random_state)
    ft = infer_feature_types(rows, data)
    numeric = [c for c in ft.numeric if c not in flagged]
    categorical = [c for c in ft.categorical if c not in flagged]
    columns = numeric + categorical
    info: dict = {"rows": int(len(rows)), "features": len(columns), "set_aside": sorted(flagged)}
    y = label_codes(rows[data.target], data.task)
    if not columns or len(rows) < 30 or (data.task != "regression" and len(np.unique(y)) < 2):
        info["note"] = "quick models skipped: too few rows, classes or features"
        return [], info
    d = probe_data(rows, y, data.task, numeric, categorical, p.leakage_folds, p.random_state)
    base = {"linear": fit_linear(d, columns), "tree": fit_tree(d, columns)}
    info |= {name: {"score": round(f.score, 6), "explained": round(f.explained, 6)} for name, f in base.items()}
    total = sum(base["tree"].importance.values()) or 1.0
    info["gain_share"] = {
        c: round(v / total, 4) for c, v in sorted(base["tree"].importance.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    }
    found = reconstruction_findings(d, columns, base, p)
    dominance, info["drops"] = dominance_findings(d, columns, base["tree"], p)
    return found + dominance, info


def single_column_findings(df: pd.DataFrame, data: DataParams, p: ValidateParams, report: dict) -> list[Finding]:
    """Return the per-column suspects (single-feature score, copy of the label, after the event) and fill the
    report's scores, metric and notes."""
    regression = data.task == "regression"
    threshold = p.leakage_r2_threshold if regression else p.leakage_auc_threshold
    report |= {"metric": "r2_out_of_fold" if regression else "roc_auc", "threshold": threshold}
    n_classes = 0 if regression else int(df[data.target].nunique())
    out = []
    if len(df) < 2 * p.leakage_folds or (not regression and n_classes < 2):
        report["notes"].append(f"single-feature scores skipped: {len(df)} labelled rows, {n_classes} class(es)")
    else:
        report["scores"] = score_features(df, label_codes(df[data.target], data.task), data, p)
        check = "single_feature_r2" if regression else "single_feature_auc"
        out += [_finding(c, check, v, threshold, len(df), p) for c, v in report["scores"].items() if v >= threshold]
        if n_classes > 2:
            report["notes"].append("multiclass: AUC is the macro one-vs-rest average")
    for col in candidate_columns(df, data):
        if is_label_copy(df[col], df[data.target], data.task):
            out.append(_finding(col, "copy_of_label", 1.0, 1.0, len(df), p))
    return out + after_event_findings(df, data, p)


def screen_leakage(train: pd.DataFrame, data: DataParams, p: ValidateParams) -> dict:
    """Return the leakage screen of training rows: per-feature scores, relations, quick-model probes, suspects
    as Findings with evidence (tasks/quality/findings.py) and the configured exclusions."""
    rows_training = int(len(train))
    df = subsample_rows(train[train[data.target].notna()], p.leakage_max_rows, p.random_state)
    report: dict = {
        "rows_training": rows_training,
        "rows_screened": int(len(df)),
        "folds": p.leakage_folds,
        "excluded_by_configuration": dict(sorted(data.drop_columns.items())),
        "notes": [],
        "suspects": [],
        "scores": {},
    }
    started = time.perf_counter()
    suspects = single_column_findings(df, data, p, report)
    timings = {"single_column": time.perf_counter() - started}
    ft = infer_feature_types(df, data)
    flagged = {c for f in suspects for c in f.columns}
    started = time.perf_counter()
    relations, _ = relation_findings(df, data, [c for c in ft.numeric if c not in flagged], p)
    timings["relations"] = time.perf_counter() - started
    suspects += relations
    flagged |= {c for f in relations if f.severity is SUSPECT for c in f.columns}
    started = time.perf_counter()
    probed, report["probes"] = probe_findings(df, data, flagged, p)
    timings["probes"] = time.perf_counter() - started
    suspects += probed
    report["suspects"] = sorted(suspects, key=lambda f: (f.columns, f.check))
    report["unexcused"] = unexcused_columns(report["suspects"])
    log.info("leakage screen on %d rows: %s", len(df), ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return report


def shared_duplicate_rows(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> int:
    """Return how many test rows are exact copies, on the given columns, of some training row."""
    if train.empty or test.empty:
        return 0
    train_hashes = pd.util.hash_pandas_object(train[columns], index=False).to_numpy()
    test_hashes = pd.util.hash_pandas_object(test[columns], index=False).to_numpy()
    return int(np.isin(test_hashes, train_hashes).sum())
