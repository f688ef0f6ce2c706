"""Explain speed-ups compute what the plain code computes: permutation importance re-scoring only the rows a
shuffle changed gives the same numbers as re-scoring every row; the hand-drawn waterfall adds up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.core import io
from tasks.core.metrics import HIGHER_IS_BETTER
from tasks.evaluation.feature_importance import (
    permutation_importance,
    unchanged_rows,
    validation_matrix,
)
from tasks.modelling.bundle import ModelBundle, load_bundle, predict_transformed
from tasks.reporting.report_html import format_raw, plot_waterfall, waterfall_rows
from tests.unit.test_explain import build_project, load


def reference_permutation_importance(
    bundle: ModelBundle, x: pd.DataFrame, y: np.ndarray, metric: str, n_repeats: int, random_state: int
) -> tuple[float, np.ndarray]:
    """Permutation importance as first written: every shuffle re-scores every row."""
    from sklearn import metrics as skm

    from tasks.core.metrics import compute_metrics

    def value(frame: pd.DataFrame) -> float:
        scores = predict_transformed(bundle, frame)
        if metric == "roc_auc" and bundle.task == "binary" and len(np.unique(y)) == 2:
            return float(skm.roc_auc_score(y, scores))
        if metric == "rmse" and bundle.task == "regression":
            return float(np.sqrt(skm.mean_squared_error(y, scores)))
        return float(compute_metrics(bundle.task, y, scores, float(bundle.meta.get("threshold", 0.5)))[metric])

    rng = np.random.default_rng(random_state)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    base = value(x)
    drops = np.zeros(x.shape[1])
    for j, col in enumerate(x.columns):
        values = x[col].to_numpy()
        scores = []
        for _ in range(n_repeats):
            shuffled = x.copy()
            shuffled[col] = values[rng.permutation(len(values))]
            scores.append(value(shuffled))
        drops[j] = sign * (base - float(np.mean(scores)))
    return base, drops


@pytest.mark.parametrize(
    ("task", "metric"), [("binary", "roc_auc"), ("binary", "log_loss"), ("multiclass", "log_loss"), ("regression", "rmse")]
)
def test_permutation_importance_equals_rescoring_every_row(tmp_path, task, metric):
    cfg = load(build_project(tmp_path, task, n_train=2000, n_valid=1500, n_test=300))
    bundle = load_bundle(cfg.paths.models_dir / "lightgbm")
    valid = io.read_frame(cfg.paths.valid)
    x, y = validation_matrix(bundle, valid, cfg.data, cfg.explain.model_copy(update={"permutation_rows": 1200}))
    city = x["city"].to_numpy()
    assert unchanged_rows(city, city[np.random.default_rng(0).permutation(len(city))]).mean() > 0.2  # few re-scored
    for seed in (0, 5):
        base, drops = permutation_importance(bundle, x, y, metric, 3, seed)
        ref_base, ref_drops = reference_permutation_importance(bundle, x, y, metric, 3, seed)
        assert base == ref_base
        np.testing.assert_array_equal(drops, ref_drops)
        assert np.any(drops != 0)


def test_permutation_importance_of_other_bundles_rescores_every_row(tmp_path):
    from sklearn.linear_model import LogisticRegression

    cfg = load(build_project(tmp_path, "binary", n_train=1500, n_valid=800, n_test=300))
    lgbm = load_bundle(cfg.paths.models_dir / "lightgbm")
    x, y = validation_matrix(lgbm, io.read_frame(cfg.paths.valid), cfg.data, cfg.explain)
    x = x.fillna(0.0)
    linear = ModelBundle("linear", None, LogisticRegression(max_iter=500).fit(x, y), {"task": "binary", "threshold": 0.5})
    base, drops = permutation_importance(linear, x, y, "roc_auc", 2, 3)
    ref_base, ref_drops = reference_permutation_importance(linear, x, y, "roc_auc", 2, 3)
    assert base == ref_base
    np.testing.assert_array_equal(drops, ref_drops)


def test_unchanged_rows_compares_exact_values():
    values = np.array([0.0, -0.0, np.nan, 1.5, 2.0])
    shuffled = np.array([0.0, 0.0, np.nan, 1.5, 3.0])
    assert unchanged_rows(values, shuffled).tolist() == [True, False, True, True, False]
    assert unchanged_rows(np.array([1, 2, 3]), np.array([1, 3, 3])).tolist() == [True, False, True]
    assert not unchanged_rows(np.array(["a", "b"], dtype=object), np.array(["a", "b"], dtype=object)).any()


def test_waterfall_rows_sum_from_base_to_the_output_with_the_largest_on_top():
    rng = np.random.default_rng(0)
    values = rng.normal(size=14)
    raw = [3.0, "Resort Hotel", np.nan, None, 2.5, 7, True, "x" * 40, *range(6)]
    features = [f"f{j}" for j in range(14)]
    labels, vals = waterfall_rows(values, raw, features, max_display=10)
    assert len(labels) == len(vals) == 10
    assert np.isclose(vals.sum(), values.sum())  # the bars go from the base value to the row's output
    top = np.argsort(-np.abs(values))[:9]
    assert labels[-1] == f"{format_raw(raw[top[0]])} = f{top[0]}" and vals[-1] == values[top[0]]
    assert labels[0] == "5 other features" and np.isclose(vals[0], values[np.argsort(-np.abs(values))[9:]].sum())
    assert list(np.abs(vals[1:])) == sorted(np.abs(vals[1:]))
    few_labels, few_vals = waterfall_rows(values[:4], raw[:4], features[:4], max_display=10)
    assert len(few_labels) == 4 and not any("other" in lab for lab in few_labels)


def test_format_raw_keeps_labels_short_and_readable():
    assert [format_raw(v) for v in (3.0, 2.5, 1 / 3, None, np.nan, pd.NA, np.float32(4.0), 7, True, "Resort Hotel")] == [
        "3",
        "2.5",
        "0.3333",
        "missing",
        "missing",
        "missing",
        "4",
        "7",
        "True",
        "Resort Hotel",
    ]
    assert len(format_raw("x" * 40)) == 24 and format_raw("x" * 40).endswith("...")


def test_plot_waterfall_returns_a_png():
    png = plot_waterfall(np.array([0.5, -0.2, 0.1]), -1.0, [1.0, "a", None], ["a", "b", "c"], "row 3")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("best", [None, 25])
def test_tree_shap_equals_shap_tree_explainer(tmp_path, task, best):
    import warnings

    import shap

    from tasks.evaluation.feature_importance import tree_shap

    cfg = load(build_project(tmp_path, task, n_train=1500, n_valid=300, n_test=400))
    bundle = load_bundle(cfg.paths.models_dir / "lightgbm")
    bundle.meta["best_iteration"] = best
    x = bundle.transform(io.read_frame(cfg.paths.scored_test))
    values, base = tree_shap(bundle, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        explainer = shap.TreeExplainer(bundle.estimator)
        expected = np.asarray(explainer.shap_values(x, tree_limit=best, check_additivity=False))
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_array_equal(base, np.atleast_1d(np.asarray(explainer.expected_value, dtype=float)))
    margin = bundle.estimator.predict(x, num_iteration=best or -1, raw_score=True)
    np.testing.assert_allclose(values.sum(axis=1) + base, margin, rtol=1e-6, atol=1e-6)  # additive
