"""Deterministic row samples shared by steps: the rows the linear baseline (and its preprocessor) is fitted on.

Plain numpy; the same positions come out wherever the same labels and parameters go in (preprocess, cv, train).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.core.config import DataParams, TrainParams
from tasks.core.schema import encode_target, label_classes


def stratum_quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """Return rows to take per stratum: proportional to counts (largest remainders), summing to total (< counts.sum()).

    Every stratum keeps at least one row when total allows it (a share that rounds to none is taken back from the
    largest strata), and none gets more rows than it has.
    """
    exact = counts * (total / counts.sum())
    quota = np.floor(exact).astype(np.int64)
    if total >= len(counts):
        quota = np.maximum(quota, 1)
    short = total - int(quota.sum())
    if short > 0:  # the largest remainders, among the strata not raised to one
        remainder = np.where(exact > quota, exact - quota, -1.0)
        quota[np.argsort(-remainder, kind="stable")[:short]] += 1
    for _ in range(-short):  # at most one per stratum raised to one
        quota[np.argmax(quota)] -= 1
    return quota


def baseline_rows(y: np.ndarray, task: str, max_rows: int, random_state: int) -> np.ndarray | None:
    """Return the sorted positions of the max_rows rows the linear baseline is fitted on, or None for all rows.

    A deterministic random sample (random_state) when there are more rows; stratified by class for classification
    (each class keeps its share, and at least one row, so the baseline still knows every class).
    """
    n = len(y)
    if n <= max_rows:
        return None
    strata = np.zeros(n, dtype=np.int64) if task == "regression" else np.unique(y, return_inverse=True)[1].ravel()
    counts = np.bincount(strata)
    present = counts > 0
    quota = np.zeros(len(counts), dtype=np.int64)
    quota[present] = stratum_quotas(counts[present], max_rows)
    order = np.lexsort((np.random.default_rng(random_state).random(n), strata))  # by stratum, then at random
    rank = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)  # position within the stratum along order
    return np.sort(order[rank < np.repeat(quota, counts)])


def linear_fit_rows(target: pd.Series, data: DataParams, p: TrainParams) -> np.ndarray | None:
    """Return the positions of the rows (of the frame target comes from) the linear baseline is fitted on, or None
    for all of them: baseline_rows of the encoded label, the same rows train's fit_linear takes from that frame."""
    y = encode_target(target, label_classes(target, data), data)
    return baseline_rows(y, data.task, p.baseline_max_rows, p.random_state)
