"""Row-order CV: a table split by row order walks forward by row position in cv and in tuning."""

import numpy as np
import pytest

from tasks.core.config import CVParams, DataParams, SplitParams
from tasks.core.step_inputs import CvInput
from tasks.data.splitting import carve_validation
from tasks.modelling import folds as cv_folds
from tasks.modelling import tuning as tune
from tests.conftest import make_config, synthetic_frame

ROW_ORDER = SplitParams(strategy="row_order")
NO_TIME = DataParams(target="label", time_column=None)


@pytest.mark.parametrize("window", ["expanding", "sliding"])
@pytest.mark.parametrize("gap", [0, 7])
def test_row_order_folds_never_train_on_later_rows_than_they_validate(window, gap):
    df = synthetic_frame(n=400, seed=5).drop(columns=["when"])
    y = df["label"].to_numpy()
    p = CVParams(n_splits=4, window=window, gap_days=gap)
    folds = cv_folds.fold_indices(df, y, "walk_forward", NO_TIME, p, ROW_ORDER)
    assert len(folds) == 4
    for tr, va in folds:
        assert tr.max() < va.min() - gap  # every training row comes before (and gap rows before) the validated block
        assert np.array_equal(va, np.arange(va.min(), va.max() + 1))  # a contiguous block of rows
    assert folds[-1][1].max() == len(df) - 1  # the last fold validates on the latest rows


def test_row_order_split_resolves_walk_forward_and_random_split_does_not():
    df = synthetic_frame(n=100).drop(columns=["when"])
    assert cv_folds.resolve_schemes(df, NO_TIME, CVParams(), ROW_ORDER) == ["stratified", "walk_forward"]
    assert cv_folds.resolve_schemes(df, NO_TIME, CVParams(), SplitParams(strategy="random")) == ["stratified"]
    with pytest.raises(ValueError, match="row_order"):
        cv_folds.fold_indices(df, df["label"].to_numpy(), "walk_forward", NO_TIME, CVParams(), SplitParams(strategy="random"))


def test_row_order_validation_slice_is_the_latest_rows():
    df = synthetic_frame(n=200).drop(columns=["when"])
    fit, valid = carve_validation(df, NO_TIME, ROW_ORDER.model_copy(update={"valid_size": 0.15}))
    assert fit.max() < valid.min() and valid.max() == len(df) - 1 and len(valid) == 30


def test_tuning_on_a_row_order_split_scores_on_row_order_folds(tmp_path, monkeypatch):
    cfg = make_config(
        tmp_path,
        data={"target": "label", "time_column": None, "segment_columns": ["colour"]},
        split={"strategy": "row_order"},
        train={"tune": {"enabled": True, "n_trials": 2}},
    )
    train = synthetic_frame(n=400, seed=2).drop(columns=["when"])
    seen = []
    real = tune.fold_score

    def spy(fold_train, fold_valid, *args):
        seen.append((fold_train.index.to_numpy(), fold_valid.index.to_numpy()))
        return real(fold_train, fold_valid, *args)

    monkeypatch.setattr(tune, "fold_score", spy)
    tune.tune_lightgbm(train, CvInput.from_config(cfg))
    assert seen
    for tr, va in seen:
        assert tr.max() < va.min()  # no random fold: tuning never trains on rows after the ones it scores
