"""A synthetic drifting table for the drift tests: in row order, its latest training rows (the validation slice)
have their labels flipped, a shift that defeats the latest slice but not the walk-forward folds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.core import io
from tasks.core.config import Config
from tests.conftest import make_config, synthetic_frame

# The project the tree-count, threshold and loss-diagnosis tests train: a row-order split, walk-forward folds by
# position, small trees that early-stop quickly on the flipped slice.
DRIFTING_PROJECT: dict[str, Any] = {
    "data": {"target": "label", "time_column": None, "segment_columns": ["colour"]},
    "split": {"strategy": "row_order"},
    "cv": {"n_splits": 3, "schemes": ["auto"]},
    "train": {"lightgbm": {"n_estimators": 80, "learning_rate": 0.1, "num_leaves": 7, "early_stopping_rounds": 10}},
}


def drifting_row_order_table(n: int = 1200) -> pd.DataFrame:
    """Return a table in time order whose latest training rows (the validation slice) have their labels flipped."""
    df = synthetic_frame(n=n, seed=11).drop(columns=["when", "customer"])
    n_train = n - int(round(n * 0.2))
    n_valid = int(round(n_train * 0.15))
    flipped = np.arange(n_train - n_valid, n_train)
    df.loc[flipped, "label"] = 1 - df.loc[flipped, "label"]  # the shift: the latest slice says the opposite
    return df


def drifting_project(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    """Return the config of DRIFTING_PROJECT (sections override whole sections) with the table ingested."""
    cfg = make_config(tmp_path, **{**DRIFTING_PROJECT, **sections})
    io.write_frame(drifting_row_order_table(), cfg.paths.ingested)
    return cfg
