"""Leakage: a screen for features that know the answer, run on training rows only.

Three checks per candidate feature (every column except the label, the time and id columns and the
columns data.drop_columns already excludes):
- single_feature_auc / single_feature_r2: how well the feature alone predicts the label. Numbers are
  scored by their value (max(auc, 1 - auc)); categories by their target rate computed out-of-fold, so a
  high-cardinality id cannot score by memorising rows. Regression uses out-of-fold bin / category means.
- copy_of_label: the feature is the label under another name (a one-to-one relabelling for classes,
  a monotone transform for a numeric label).
- after_event_time: a date column whose value is after data.time_column for most rows (written later).
Suspects named in validate.keep_suspects are reported with the reason but do not stop the pipeline.
"""

from __future__ import annotations

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
    for k in ([1] if n_classes == 2 else range(n_classes)):
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
    edges: np.ndarray | list[float] = np.unique(np.nanquantile(v.to_numpy(), np.linspace(0, 1, bins + 1)[1:-1])) if v.notna().any() else []
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


def _finding(column: str, check: str, value: float, threshold: float, rows: int, p: ValidateParams) -> dict:
    excused = column in p.keep_suspects
    out = {"column": column, "check": check, "value": round(float(value), 6), "threshold": threshold,
           "rows": rows, "excused": excused}
    if excused:
        out["reason"] = p.keep_suspects[column]
    return out


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


def after_event_findings(df: pd.DataFrame, data: DataParams, p: ValidateParams) -> list[dict]:
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


def screen_leakage(train: pd.DataFrame, data: DataParams, p: ValidateParams) -> dict:
    """Return the leakage screen of training rows: per-feature scores, suspects with evidence, exclusions."""
    rows_training = int(len(train))
    df = subsample_rows(train[train[data.target].notna()], p.leakage_max_rows, p.random_state)
    report: dict = {"rows_training": rows_training, "rows_screened": int(len(df)), "folds": p.leakage_folds,
                    "excluded_by_configuration": dict(sorted(data.drop_columns.items())), "notes": [],
                    "suspects": [], "scores": {}}
    regression = data.task == "regression"
    report["metric"] = "r2_out_of_fold" if regression else "roc_auc"
    threshold = p.leakage_r2_threshold if regression else p.leakage_auc_threshold
    report["threshold"] = threshold
    n_classes = 0 if regression else int(df[data.target].nunique())
    if len(df) < 2 * p.leakage_folds or (not regression and n_classes < 2):
        report["notes"].append(f"single-feature scores skipped: {len(df)} labelled rows, {n_classes} class(es)")
    else:
        y = label_codes(df[data.target], data.task)
        report["scores"] = score_features(df, y, data, p)
        check = "single_feature_r2" if regression else "single_feature_auc"
        report["suspects"] += [_finding(c, check, v, threshold, len(df), p)
                               for c, v in report["scores"].items() if v >= threshold]
        if n_classes > 2:
            report["notes"].append("multiclass: AUC is the macro one-vs-rest average")
    for col in candidate_columns(df, data):
        if is_label_copy(df[col], df[data.target], data.task):
            report["suspects"].append(_finding(col, "copy_of_label", 1.0, 1.0, len(df), p))
    report["suspects"] += after_event_findings(df, data, p)
    report["suspects"].sort(key=lambda f: (f["column"], f["check"]))
    report["unexcused"] = sorted({f["column"] for f in report["suspects"] if not f["excused"]})
    return report


def shared_duplicate_rows(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> int:
    """Return how many test rows are exact copies, on the given columns, of some training row."""
    if train.empty or test.empty:
        return 0
    train_hashes = pd.util.hash_pandas_object(train[columns], index=False).to_numpy()
    test_hashes = pd.util.hash_pandas_object(test[columns], index=False).to_numpy()
    return int(np.isin(test_hashes, train_hashes).sum())
