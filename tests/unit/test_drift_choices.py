"""Drift choices: a drifting validation slice cannot set the decision threshold when the CV folds disagree sharply,
and train.json says which evidence each choice followed and why."""

import pytest

from tasks import cv, preprocess, split, train
from tasks.core import io
from tasks.core.reports import read_report
from tasks.modelling import drift_choices
from tasks.modelling.bundle import load_bundle
from tasks.modelling.reports import ChoiceSource, TrainReport
from tests.conftest import make_config
from tests.support.drifting import drifting_project, drifting_row_order_table


def test_threshold_follows_the_folds_only_when_validation_is_far_outside_their_spread():
    assert drift_choices.choose_threshold(0.45, [0.40, 0.42, 0.44])[1]["source"] == "validation"  # within 0.1
    chosen, ev = drift_choices.choose_threshold(0.05, [0.40, 0.42, 0.44])
    assert chosen == pytest.approx(0.42) and ev["source"] == "folds" and "folds' median ships" in ev["why"]
    assert ev["limit"] == pytest.approx(0.1)  # the floor: 2 x std (0.02) is smaller
    # wide folds: 2 x std is the limit, so a gap of 0.25 is still validation's
    assert drift_choices.choose_threshold(0.55, [0.1, 0.3, 0.5, 0.7])[1]["source"] == "validation"
    assert drift_choices.choose_threshold(0.05, [0.4])[1]["source"] == "validation"  # one fold: no spread to judge


def test_validation_vs_folds_flags_a_slice_far_from_the_folds_in_the_metrics_own_direction():
    out = drift_choices.validation_vs_folds("roc_auc", 0.40, [0.80, 0.82, 0.78])
    assert out["outlier"] and out["z"] < 0 and "worse" in out["why"]
    rmse = drift_choices.validation_vs_folds("rmse", 5.0, [10.0, 11.0, 9.0])  # lower rmse: better
    assert rmse["outlier"] and rmse["z"] > 0
    assert not drift_choices.validation_vs_folds("roc_auc", 0.81, [0.80, 0.82, 0.78])["outlier"]


def test_a_drifting_slice_does_not_set_the_threshold_and_train_json_says_why(tmp_path):
    cfg = drifting_project(tmp_path)
    split.run(cfg)
    preprocess.run(cfg)
    cv.run(cfg)
    train.run(cfg)
    report = read_report(TrainReport, cfg.paths.reports_dir / "train.json")
    tc = report.threshold_choice
    assert tc is not None and tc.folds_median is not None and tc.folds_std is not None
    assert len(tc.folds) == 3 and tc.source is ChoiceSource.FOLDS  # the flipped slice's threshold is far from the folds'
    assert abs(tc.validation - tc.folds_median) > max(0.1, 2 * tc.folds_std)
    shipped = load_bundle(cfg.paths.models_dir / "lightgbm").meta["threshold"]
    assert shipped == report.thresholds["lightgbm"] == pytest.approx(tc.folds_median)
    vf = report.validation_vs_folds
    assert vf.validation is not None and vf.folds_mean is not None
    assert vf.metric == "roc_auc" and vf.outlier and vf.validation < vf.folds_mean
    choices = report.choices
    assert choices.threshold is not None and choices.tree_count is not None
    assert choices.threshold.source is ChoiceSource.FOLDS and choices.tree_count.source is ChoiceSource.FOLDS
    assert choices.tuning_objective.source is ChoiceSource.CONFIGURED and "folds" in choices.threshold.why


def test_recency_weights_halve_every_half_life_of_the_rows_in_time_order_and_are_off_by_default():
    import numpy as np
    import pandas as pd

    from tasks.core.config import TrainParams
    from tasks.modelling.estimators import recency_weights

    assert TrainParams().recency_half_life is None and recency_weights(None, 5, None) is None
    w = recency_weights(None, 5, 0.5)  # row order: ages 1, .75, .5, .25, 0
    assert np.allclose(w, [0.25, 0.5**1.5, 0.5, 0.5**0.5, 1.0])
    times = pd.Series(pd.to_datetime(["2020-01-03", "2020-01-01", "2020-01-02"]))
    assert np.allclose(recency_weights(times, 3, 1.0), [1.0, 0.5, 0.5**0.5])  # by time, not position


def test_recency_half_life_reaches_the_shipped_model_and_train_json(tmp_path):
    cfg = make_config(
        tmp_path,
        data={"target": "label", "time_column": None, "segment_columns": ["colour"]},
        split={"strategy": "row_order"},
        train={"refit": True},
    )
    io.write_frame(drifting_row_order_table(), cfg.paths.ingested)
    split.run(cfg)
    preprocess.run(cfg)
    plain = train.run(cfg)
    trees = load_bundle(cfg.paths.models_dir / "lightgbm").estimator.model_to_string()
    weighted_cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"recency_half_life": 0.1})})
    weighted = train.run(weighted_cfg)
    assert plain.recency_half_life is None and weighted.recency_half_life == 0.1
    assert load_bundle(cfg.paths.models_dir / "lightgbm").estimator.model_to_string() != trees
