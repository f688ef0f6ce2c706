"""Folds: cross-validation schemes (stratified k-fold, walk-forward, group) on the training part, with the
preprocessing and models refitted inside every fold, and their summary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

from tasks.core.config import (
    CVParams,
    DataParams,
    PreprocessParams,
    SplitParams,
    TrainParams,
)
from tasks.core.errors import ConfigError
from tasks.core.metrics import HIGHER_IS_BETTER, choose_threshold, compute_metrics, primary_metric
from tasks.core.sampling import baseline_rows
from tasks.core.schema import FeatureTypes, encode_target, infer_feature_types, label_classes
from tasks.core.step_inputs import CvInput
from tasks.data.splitting import carve_validation
from tasks.modelling.compute import fold_runner
from tasks.modelling.estimators import fit_lightgbm, fit_linear, resolve_class_weight
from tasks.modelling.preprocessing import fit_preprocessors

log = logging.getLogger(__name__)


UNBOUNDED = {"rmse", "mae", "log_loss"}


class WalkForwardSplit(BaseEstimator):
    """Yield (train, valid) positions in time order: each fold validates on the next period after its training rows.

    window="expanding" trains on everything before the period, "sliding" on the one period before it;
    gap_days leaves out training rows within that many days before the validation period.
    """

    def __init__(self, n_splits: int = 5, window: str = "expanding", gap_days: int = 0):
        self.n_splits = n_splits
        self.window = window
        self.gap_days = gap_days

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Return the number of folds."""
        return self.n_splits

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield folds; `groups` carries the timestamps (array-like of datetimes), or None for row order.

        Without timestamps the row position is the clock (a table kept in time order, split by row order):
        each fold validates on the next block of rows and trains only on rows before it; gap_days is then
        read as a gap of that many rows.
        """
        if groups is None:
            times = np.arange(len(X)).astype("datetime64[D]")  # one "day" per row: a gap of gap_days rows
        else:
            times = pd.to_datetime(pd.Series(np.asarray(groups))).to_numpy()
        order = np.argsort(times, kind="stable")
        chunks = np.array_split(order, self.n_splits + 1)
        for k in range(1, self.n_splits + 1):
            valid = chunks[k]
            start = times[valid].min()
            first = 0 if self.window == "expanding" else k - 1
            train = np.concatenate(chunks[first:k])
            train = train[times[train] < start - np.timedelta64(self.gap_days, "D")]
            if len(train) and len(valid):
                yield np.sort(train), np.sort(valid)


def resolve_schemes(df: pd.DataFrame, data: DataParams, p: CVParams, sp: SplitParams | None = None) -> list[str]:
    """Return the CV schemes to run: `auto` means stratified (or kfold), plus walk_forward and group when they apply.

    walk_forward applies with a time column, or when the split is by row order (sp.strategy row_order): the
    test set is then the last rows, so CV walks forward by row position as it walks by time otherwise.
    """
    schemes: list[str] = []
    for s in p.schemes:
        if s != "auto":
            schemes.append(s)
            continue
        schemes.append("kfold" if data.task == "regression" else "stratified")
        if data.time_column or by_row_order(sp):
            schemes.append("walk_forward")
        if data.id_column and df[data.id_column].duplicated().any():
            schemes.append("group")
    return list(dict.fromkeys(schemes))


def by_row_order(sp: SplitParams | None) -> bool:
    """Return True when the split holds out the last rows in file order (row position is the clock)."""
    return sp is not None and sp.strategy == "row_order"


def fold_indices(
    df: pd.DataFrame, y: np.ndarray, scheme: str, data: DataParams, p: CVParams, sp: SplitParams | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the (train, valid) positions of every fold of a scheme (walk_forward by time, else by row order)."""
    if scheme == "stratified":
        return list(StratifiedKFold(p.n_splits, shuffle=True, random_state=p.random_state).split(df, y))
    if scheme == "kfold":
        return list(KFold(p.n_splits, shuffle=True, random_state=p.random_state).split(df))
    if scheme == "group":
        if not data.id_column:
            raise ValueError("cv scheme 'group' needs data.id_column")
        return list(GroupKFold(p.n_splits).split(df, groups=df[data.id_column].to_numpy()))
    if data.time_column:
        return list(WalkForwardSplit(p.n_splits, p.window, p.gap_days).split(df, groups=df[data.time_column]))
    if by_row_order(sp):
        return list(WalkForwardSplit(p.n_splits, p.window, p.gap_days).split(df))
    raise ValueError("cv scheme 'walk_forward' needs data.time_column or split.strategy row_order")


def score_fold(
    fit_df: pd.DataFrame,
    es_df: pd.DataFrame,
    fold_valid: pd.DataFrame,
    classes: list,
    data: DataParams,
    pp: PreprocessParams,
    tp: TrainParams,
) -> dict[str, dict[str, float]]:
    """Return metrics of the linear baseline and LightGBM fitted on the fold's training rows only, scored on fold_valid.

    fit_df trains, es_df (the fold's own latest / held-out slice of its training rows) stops LightGBM early. The
    linear baseline and its preprocessor are fitted on the same sample of fit_df as in train (baseline_rows), and
    the baseline is scored on a stratified sample of at most train.baseline_max_rows of fold_valid (all of it when
    smaller): its one-hot transform costs a sample, not the fold. LightGBM is scored on every row of fold_valid.
    Each fold states the rows the baseline was fitted (fit_rows) and scored (score_rows) on.
    """
    ft = infer_feature_types(fit_df, data)
    y_fit, y_es = (encode_target(f[data.target], classes, data) for f in (fit_df, es_df))
    rows = baseline_rows(y_fit, data.task, tp.baseline_max_rows, tp.random_state)
    pre = fit_preprocessors(fit_df, ft, pp, rows)
    y_valid = encode_target(fold_valid[data.target], classes, data)
    cw = resolve_class_weight(y_fit, data.task, tp)
    lgbm = fit_lightgbm(pre["tree"], fit_df, y_fit, es_df, y_es, ft, data.task, tp.lightgbm, cw, tp.random_state)
    linear_df, y_linear = (fit_df, y_fit) if rows is None else (fit_df.iloc[rows], y_fit[rows])  # drawn once
    linear = fit_linear(pre["linear"], linear_df, y_linear, ft, data.task, tp, cw)
    score_rows = baseline_rows(y_valid, data.task, tp.baseline_max_rows, tp.random_state)
    baseline_valid, y_baseline = (
        (fold_valid, y_valid) if score_rows is None else (fold_valid.iloc[score_rows], y_valid[score_rows])
    )
    out = {
        "lightgbm": fold_metrics(lgbm, pre["tree"], fold_valid, y_valid, ft, data.task, tp.threshold_objective),
        "baseline": fold_metrics(linear, pre["linear"], baseline_valid, y_baseline, ft, data.task),
    }
    out["lightgbm"]["best_iteration"] = float(lgbm.best_iteration_ or tp.lightgbm.n_estimators)
    out["baseline"]["fit_rows"] = float(len(linear_df))  # the capped stratified samples (train.baseline_max_rows)
    out["baseline"]["score_rows"] = float(len(baseline_valid))
    return out


def fold_metrics(
    est, pre, valid: pd.DataFrame, y_valid: np.ndarray, ft: FeatureTypes, task: str, threshold_objective: str | None = None
) -> dict[str, float]:
    """Return the metrics of a fitted estimator on the validation rows, through its preprocessor (threshold 0.5).

    With threshold_objective (binary), also `threshold`: the decision threshold that objective picks on these rows,
    as train picks it on the validation slice (train compares the two: tasks.modelling.drift_choices).
    """
    x = pre.transform(valid[ft.all])
    scores = est.predict(x) if task == "regression" else est.predict_proba(x)
    scores = scores[:, 1] if task == "binary" else scores
    out = compute_metrics(task, y_valid, scores, 0.5)
    if task == "binary" and threshold_objective:
        out["threshold"] = choose_threshold(y_valid, scores, threshold_objective)
    return out


def key_columns(data: DataParams) -> list[str]:
    """Return the columns that decide splits: time, id and label."""
    return [c for c in dict.fromkeys((data.time_column, data.id_column, data.target)) if c]


def score_fold_at(
    df: pd.DataFrame,
    train_pos: np.ndarray,
    valid_pos: np.ndarray,
    label: str,
    classes: list,
    data: DataParams,
    pp: PreprocessParams,
    tp: TrainParams,
    sp: SplitParams,
) -> dict[str, dict[str, float]]:
    """Return score_fold on the rows of df at train_pos / valid_pos (the unit of work a fold runner ships).

    The early-stopping slice is carved from the fold's training rows as split does it for the whole training part;
    the fit, early-stopping and validation frames are taken from df directly (no copy of the whole fold first).
    """
    log.info("cv: %s (%d train, %d valid rows)", label, len(train_pos), len(valid_pos))
    fit_idx, es_idx = carve_validation(df[key_columns(data)].iloc[train_pos].reset_index(drop=True), data, sp)
    return score_fold(df.iloc[train_pos[fit_idx]], df.iloc[train_pos[es_idx]], df.iloc[valid_pos], classes, data, pp, tp)


def model_columns(df: pd.DataFrame, data: DataParams) -> list[str]:
    """Return the features, label, time and id columns of df (what cv needs; dropped columns are left behind)."""
    return list(dict.fromkeys([*infer_feature_types(df, data).all, *key_columns(data)]))


def summarize_folds(folds: list[dict[str, dict[str, float]]], high_std: float, primary: str) -> dict:
    """Return mean and std per model and metric, and whether the primary metric varies too much across folds."""
    summary: dict = {}
    for model in folds[0]:
        frame = pd.DataFrame([f[model] for f in folds])
        summary[model] = {
            m: {"mean": float(frame[m].mean()), "std": float(frame[m].std(ddof=1)) if len(frame) > 1 else 0.0}
            for m in frame.columns
        }
    stats = summary["lightgbm"].get(primary, {"mean": 0.0, "std": 0.0})
    summary["spread"] = fold_spread(stats["mean"], stats["std"], primary)
    summary["high_variance"] = bool(summary["spread"] > high_std)
    return summary


def fold_spread(mean: float, std: float, metric: str) -> float:
    """Return the std across folds, relative to the mean for unbounded metrics (rmse, mae, log loss)."""
    return std / abs(mean) if metric in UNBOUNDED and mean else std


def spread_text(metric: str, spread: float, limit: float) -> str:
    """Return how the fold spread of metric compares with its limit, in the metric's own terms (relative for rmse, mae, log loss)."""
    if metric in UNBOUNDED:
        return f"std of {metric} is {spread:.1%} of its mean, above {limit:.1%}"
    return f"std of {metric} is {spread:.3f}, above {limit:.3f}"


def cross_validate(df: pd.DataFrame, inp: CvInput) -> dict:
    """Return per-scheme fold metrics and their summaries for the training part df.

    inp.compute.engine dask runs the folds on a Dask cluster; the numbers are the same as in-process.
    """
    data, p, pp, tp, sp = inp.data, inp.cv, inp.preprocess, inp.train, inp.split
    df = df[model_columns(df, data)]
    classes = label_classes(df[data.target], data)
    y = encode_target(df[data.target], classes, data)
    schemes = resolve_schemes(df, data, p, sp)
    jobs = [
        (scheme, k, tr, va) for scheme in schemes for k, (tr, va) in enumerate(fold_indices(df, y, scheme, data, p, sp), start=1)
    ]
    with fold_runner(inp.compute) as runner:
        shared = runner.share(df)
        results = runner.map(
            score_fold_at,
            [(shared, tr, va, f"{scheme} fold {k}/{p.n_splits}") for scheme, k, tr, va in jobs],
            classes,
            data,
            pp,
            tp,
            sp,
        )
    report: dict = {}
    for scheme in schemes:
        folds = [r for (s, *_), r in zip(jobs, results) if s == scheme]
        if not folds:
            raise ConfigError(fold_shortfall_note(scheme, 0, p))
        report[scheme] = {"folds": folds, "summary": summarize_folds(folds, p.high_variance_std, primary_metric(data.task))}
        if len(folds) < p.n_splits:
            report[scheme]["short"] = fold_shortfall_note(scheme, len(folds), p)
            log.warning("cv: %s", report[scheme]["short"])
        if report[scheme]["summary"]["high_variance"]:
            log.warning(
                "cv: %s folds vary a lot (%s); the test number may not be stable",
                scheme,
                spread_text(primary_metric(data.task), report[scheme]["summary"]["spread"], p.high_variance_std),
            )
    return report


def fold_shortfall_note(scheme: str, ran: int, p: CVParams) -> str:
    """Return why a scheme ran fewer folds than cv.n_splits asked for."""
    why = (
        f"cv.gap_days={p.gap_days} leaves no training rows before the earliest validation period(s)"
        if scheme == "walk_forward" and p.gap_days
        else "too few rows or groups for that many folds"
    )
    return f"{scheme} ran {ran} of the {p.n_splits} folds asked for (cv.n_splits): {why}; lower cv.n_splits or cv.gap_days"


def difference_se(std_a: float, n_a: int, std_b: float, n_b: int) -> float:
    """Return the standard error of the difference of two fold means (n folds each, at least 2 assumed)."""
    return max(float(np.sqrt(std_a**2 / max(n_a, 2) + std_b**2 / max(n_b, 2))), 1e-12)


def compare_schemes(schemes: dict, metric: str) -> list[str]:
    """Return notes when random folds look better than walk-forward by more than two standard errors (either direction of metric)."""
    if "walk_forward" not in schemes:
        return []
    wf = schemes["walk_forward"]["summary"]["lightgbm"][metric]
    notes = []
    for name in ("stratified", "kfold"):
        if name not in schemes:
            continue
        other = schemes[name]["summary"]["lightgbm"][metric]
        gain = (other["mean"] - wf["mean"]) * (1 if HIGHER_IS_BETTER[metric] else -1)  # + when random folds look better
        if gain > 2 * difference_se(
            wf["std"], len(schemes["walk_forward"].get("folds", [])), other["std"], len(schemes[name].get("folds", []))
        ):
            notes.append(
                f"{name} folds score {metric} {other['mean']:.4f} against walk-forward {wf['mean']:.4f}: "
                "random folds mix future rows into training and are optimistic when the data drifts "
                "over time; trust walk-forward (and the time-based test set)"
            )
    return notes
