"""Tree count: a drifting validation slice that stops early cannot set the refit's trees when the folds say more."""

import numpy as np

from tasks import cv, preprocess, split, train
from tasks.core import io
from tasks.modelling.bundle import load_bundle
from tasks.modelling.training import DISAGREEMENT_RATIO, TREE_FLOOR, choose_tree_count
from tests.conftest import make_config, synthetic_frame


def drifting_row_order_table(n: int = 1200) -> "tuple":
    """Return a table in time order whose latest training rows (the validation slice) have their labels flipped."""
    df = synthetic_frame(n=n, seed=11).drop(columns=["when", "customer"])
    n_train = n - int(round(n * 0.2))
    n_valid = int(round(n_train * 0.15))
    flipped = np.arange(n_train - n_valid, n_train)
    df.loc[flipped, "label"] = 1 - df.loc[flipped, "label"]  # the shift: the latest slice says the opposite
    return df


def test_refit_keeps_the_fold_count_when_a_drifting_slice_stops_after_a_handful_of_trees(tmp_path):
    cfg = make_config(tmp_path, data={"target": "label", "time_column": None, "segment_columns": ["colour"]},
                      split={"strategy": "row_order"}, cv={"n_splits": 3, "schemes": ["auto"]},
                      train={"lightgbm": {"n_estimators": 80, "learning_rate": 0.1, "num_leaves": 7,
                                          "early_stopping_rounds": 10}})
    io.write_frame(drifting_row_order_table(), cfg.paths.ingested)
    split.run(cfg)
    preprocess.run(cfg)
    cv.run(cfg)
    report = train.run(cfg)
    tc = report["tree_count"]
    assert tc["validation_best_iteration"] <= 5  # the drifting slice stopped after a handful of trees
    assert len(tc["fold_best_iterations"]) == 3 and tc["fold_median"] > DISAGREEMENT_RATIO * tc["validation_best_iteration"]
    assert tc["source"] == "folds" and tc["chosen"] == tc["fold_median"] and "folds decide" in tc["why"]
    model = load_bundle(cfg.paths.models_dir / "lightgbm")
    assert model.estimator.num_trees() == report["refit"]["n_estimators"] >= tc["fold_median"]  # the shipped model


def test_tree_count_rule_keeps_validation_when_it_agrees_and_floors_the_folds():
    assert choose_tree_count(40, [50, 60, 30], 200)[0] == 40  # within 3x: validation's count stands
    count, ev = choose_tree_count(2, [70, 90, 80], 200)
    assert count == 80 and ev["source"] == "folds"
    assert choose_tree_count(200, [3, 4, 2], 200)[0] == TREE_FLOOR  # folds rule, but never below the floor
    assert choose_tree_count(7, None, 200) == (7, choose_tree_count(7, None, 200)[1])
    assert choose_tree_count(7, None, 200)[1]["source"] == "validation"
