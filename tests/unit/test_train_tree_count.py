"""Tree count: a drifting validation slice that stops early cannot set the refit's trees when the folds say more."""

from tasks import cv, preprocess, split, train
from tasks.modelling.bundle import load_bundle
from tasks.modelling.reports import ChoiceSource
from tasks.modelling.training import DISAGREEMENT_RATIO, TREE_FLOOR, choose_tree_count
from tests.support.drifting import drifting_project


def test_refit_keeps_the_fold_count_when_a_drifting_slice_stops_after_a_handful_of_trees(tmp_path):
    cfg = drifting_project(tmp_path)
    split.run(cfg)
    preprocess.run(cfg)
    cv.run(cfg)
    report = train.run(cfg)
    tc = report.tree_count
    assert tc is not None and tc.fold_median is not None and report.refit is not None
    assert tc.validation_best_iteration <= 5  # the drifting slice stopped after a handful of trees
    assert len(tc.fold_best_iterations) == 3 and tc.fold_median > DISAGREEMENT_RATIO * tc.validation_best_iteration
    assert tc.source is ChoiceSource.FOLDS and tc.chosen == tc.fold_median and "folds decide" in tc.why
    model = load_bundle(cfg.paths.models_dir / "lightgbm")
    assert model.estimator.num_trees() == report.refit.n_estimators >= tc.fold_median  # the shipped model


def test_tree_count_rule_keeps_validation_when_it_agrees_and_floors_the_folds():
    assert choose_tree_count(40, [50, 60, 30], 200)[0] == 40  # within 3x: validation's count stands
    count, ev = choose_tree_count(2, [70, 90, 80], 200)
    assert count == 80 and ev["source"] == "folds"
    assert choose_tree_count(200, [3, 4, 2], 200)[0] == TREE_FLOOR  # folds rule, but never below the floor
    assert choose_tree_count(7, None, 200) == (7, choose_tree_count(7, None, 200)[1])
    assert choose_tree_count(7, None, 200)[1]["source"] == "validation"
