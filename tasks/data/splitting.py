"""Splitting: hold out the test set before anything looks at the data (by time, by group or at random),
then carve a validation slice from the training part; row fingerprints to prove the parts share no rows.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from tasks.core.config import DataParams, SplitParams
from tasks.core.errors import SchemaError
from tasks.core.schema import require_columns

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holdout:
    """Row positions of the training part and the test set, and how they were chosen."""

    train_idx: np.ndarray
    test_idx: np.ndarray
    strategy: str
    detail: dict


def choose_strategy(df: pd.DataFrame, data: DataParams, p: SplitParams) -> str:
    """Return time, group or random: what `auto` resolves to for this table."""
    if p.strategy != "auto":
        return p.strategy
    if data.time_column:
        return "time"
    if data.id_column and df[data.id_column].duplicated().any():
        return "group"
    return "random"


def stratify_labels(y: pd.Series, task: str) -> pd.Series | None:
    """Return labels to stratify on for classification (None for regression or tiny classes)."""
    if task == "regression":
        return None
    counts = y.value_counts()
    return y if len(counts) > 1 and counts.min() >= 2 else None


def time_cutoff(times: pd.Series, p: SplitParams) -> pd.Timestamp:
    """Return the first test timestamp: split.test_start, or the (1 - test_size) time quantile."""
    if p.test_start is not None:
        return pd.Timestamp(p.test_start)
    return pd.Timestamp(times.quantile(1 - p.test_size, interpolation="higher"))


def split_by_time(df: pd.DataFrame, data: DataParams, p: SplitParams) -> Holdout:
    """Return a holdout where every training time is before cutoff - gap and every test time at or after cutoff."""
    times = df[data.time_column]
    if times.isna().any():
        raise SchemaError(
            f"data.time_column '{data.time_column}' has {int(times.isna().sum())} missing or "
            "unparsable timestamps; fix them (see reports/ingest.json) before a temporal split"
        )
    cutoff = time_cutoff(times, p)
    train_end = cutoff - pd.Timedelta(days=p.gap_days)
    test_mask = (times >= cutoff).to_numpy()
    train_mask = (times < train_end).to_numpy()
    if not test_mask.any() or not train_mask.any():
        raise SchemaError(
            f"split: cutoff {cutoff.date()} leaves {int(train_mask.sum())} training and "
            f"{int(test_mask.sum())} test rows (times run {times.min()} .. {times.max()}); "
            "change split.test_start or split.test_size"
        )
    return Holdout(
        np.flatnonzero(train_mask),
        np.flatnonzero(test_mask),
        "time",
        {
            "cutoff": cutoff,
            "train_end": train_end,
            "gap_days": p.gap_days,
            "dropped_in_gap": int((~test_mask & ~train_mask).sum()),
        },
    )


def split_by_group(df: pd.DataFrame, data: DataParams, p: SplitParams) -> Holdout:
    """Return a holdout where no value of data.id_column is on both sides."""
    splitter = GroupShuffleSplit(n_splits=1, test_size=p.test_size, random_state=p.random_state)
    train_idx, test_idx = next(splitter.split(df, groups=df[data.id_column].to_numpy()))
    return Holdout(np.sort(train_idx), np.sort(test_idx), "group", {"id_column": data.id_column})


def split_at_random(df: pd.DataFrame, data: DataParams, p: SplitParams) -> Holdout:
    """Return a random holdout, stratified on the label for classification."""
    positions = np.arange(len(df))
    strat = stratify_labels(df[data.target], data.task)
    train_idx, test_idx = train_test_split(
        positions, test_size=p.test_size, random_state=p.random_state, stratify=None if strat is None else strat.to_numpy()
    )
    return Holdout(np.sort(train_idx), np.sort(test_idx), "random", {"stratified": strat is not None})


def split_by_row_order(df: pd.DataFrame, data: DataParams, p: SplitParams) -> Holdout:
    """Return the last split.test_size of the rows, in file order, as the test set (tables kept in time order)."""
    n_test = max(1, int(round(len(df) * p.test_size)))
    positions = np.arange(len(df))
    return Holdout(
        positions[: len(df) - n_test], positions[len(df) - n_test :], "row_order", {"first_test_row": int(len(df) - n_test)}
    )


def holdout_split(df: pd.DataFrame, data: DataParams, p: SplitParams) -> Holdout:
    """Return the test holdout for df by the configured (or auto-chosen) strategy."""
    require_columns(df, [data.target] + [c for c in (data.time_column, data.id_column) if c], "split")
    strategy = choose_strategy(df, data, p)
    if strategy == "time" and not data.time_column:
        raise SchemaError("split.strategy 'time' needs data.time_column")
    if strategy == "group" and not data.id_column:
        raise SchemaError("split.strategy 'group' needs data.id_column")
    return {"time": split_by_time, "group": split_by_group, "random": split_at_random, "row_order": split_by_row_order}[strategy](
        df, data, p
    )


def training_rows(df: pd.DataFrame, data: DataParams, p: SplitParams) -> pd.DataFrame:
    """Return the non-test rows of df (the training part), exactly as the split step would choose them."""
    return df.iloc[holdout_split(df, data, p).train_idx]


def carve_validation(train: pd.DataFrame, data: DataParams, p: SplitParams) -> tuple[np.ndarray, np.ndarray]:
    """Return positions (fit, valid) in the training part: the latest slice by time, else grouped/stratified."""
    n = len(train)
    if p.strategy == "row_order":  # the latest rows in file order validate, as the test set is the last rows
        n_valid = max(1, int(round(n * p.valid_size)))
        return np.arange(n - n_valid), np.arange(n - n_valid, n)
    if data.time_column:
        order = np.argsort(train[data.time_column].to_numpy(), kind="stable")
        n_valid = max(1, int(round(n * p.valid_size)))
        return np.sort(order[: n - n_valid]), np.sort(order[n - n_valid :])
    if data.id_column and train[data.id_column].duplicated().any():
        gss = GroupShuffleSplit(n_splits=1, test_size=p.valid_size, random_state=p.random_state)
        fit_idx, valid_idx = next(gss.split(train, groups=train[data.id_column].to_numpy()))
        return np.sort(fit_idx), np.sort(valid_idx)
    strat = stratify_labels(train[data.target], data.task)
    fit_idx, valid_idx = train_test_split(
        np.arange(n), test_size=p.valid_size, random_state=p.random_state, stratify=None if strat is None else strat.to_numpy()
    )
    return np.sort(fit_idx), np.sort(valid_idx)


def fingerprint_rows(df: pd.DataFrame) -> str:
    """Return a sha256 over the rows' content hashes, independent of row order."""
    hashes = np.sort(pd.util.hash_pandas_object(df, index=False).to_numpy())
    return hashlib.sha256(hashes.tobytes()).hexdigest()


def describe_part(df: pd.DataFrame, data: DataParams) -> dict:
    """Return rows, label balance and time range of one part of the split."""
    out: dict = {"rows": int(len(df))}
    if data.task != "regression":
        out["label_balance"] = {
            str(k): round(float(v), 4) for k, v in df[data.target].value_counts(normalize=True).sort_index().items()
        }
    else:
        out["label_mean"] = float(df[data.target].mean())
    if data.time_column:
        out["time_range"] = [df[data.time_column].min(), df[data.time_column].max()]
    return out


def labelled_rows(df: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """Return the rows that have a label (df itself, not a copy, when every row has one)."""
    missing = df[data.target].isna()
    return df[~missing].reset_index(drop=True) if missing.any() else df


def part_positions(df: pd.DataFrame, data: DataParams, p: SplitParams) -> tuple[Holdout, dict[str, np.ndarray]]:
    """Return the holdout and the row positions in df of the train, valid and test parts."""
    holdout = holdout_split(df, data, p)
    keys = [c for c in dict.fromkeys((data.time_column, data.id_column, data.target)) if c]
    fit_idx, valid_idx = carve_validation(df[keys].iloc[holdout.train_idx].reset_index(drop=True), data, p)
    return holdout, {"train": holdout.train_idx[fit_idx], "valid": holdout.train_idx[valid_idx], "test": holdout.test_idx}


def shared_hashes(train_hashes: np.ndarray, test_hashes: np.ndarray) -> int:
    """Return how many test rows' content hashes equal some training row's."""
    return int(np.isin(test_hashes, np.unique(train_hashes)).sum())


def shared_duplicates(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> int:
    """Return how many test rows are exact copies (on the given columns) of a training row."""
    return shared_hashes(
        pd.util.hash_pandas_object(train[columns], index=False).to_numpy(),
        pd.util.hash_pandas_object(test[columns], index=False).to_numpy(),
    )
