"""Metrics: the vectorised threshold search, counted thresholded scores and the shared bootstrap give exactly the
numbers of the straightforward implementations they replaced (kept here as references)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from tasks.core.metrics import (
    _clip,
    binary_bootstrap_intervals,
    binary_metrics,
    choose_threshold,
    iter_bootstrap_indices,
    percentile_interval,
    shared_binary_bootstrap_intervals,
    single_metric,
    tie_groups,
)

NAMES = ["roc_auc", "pr_auc", "log_loss", "brier", "f1"]
OBJECTIVES = ["f1", "balanced_accuracy", "precision_at_recall"]


def reference_choose_threshold(y, p, objective):
    """The former choose_threshold: scikit-learn's score of (p >= t) at each of the 197 quantile thresholds."""
    grid = np.unique(np.quantile(p, np.linspace(0.01, 0.99, 197)))
    if objective == "balanced_accuracy":
        score = lambda pred: skm.balanced_accuracy_score(y, pred)
    elif objective == "precision_at_recall":
        score = lambda pred: skm.precision_score(y, pred, zero_division=0) if skm.recall_score(y, pred) >= 0.8 else -1.0
    else:
        score = lambda pred: skm.f1_score(y, pred, zero_division=0)
    values = [score((p >= t).astype(int)) for t in grid]
    return float(grid[int(np.argmax(values))]) if len(grid) else 0.5


def reference_thresholded(y, p, threshold):
    pred = (p >= threshold).astype(int)
    return {
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y, pred)),
    }


def reference_weighted(y, p, threshold, order, group, w):
    """The former weighted_binary_metrics: every per-row term recomputed for each resample."""
    ws, ys = w[order], y[order].astype(float)
    pos = np.bincount(group, weights=ws * ys)
    neg = np.bincount(group, weights=ws * (1.0 - ys))
    keep = (pos + neg) > 0
    tps, fps = np.cumsum(pos[keep]), np.cumsum(neg[keep])
    if tps[-1] == 0 or fps[-1] == 0:
        return None
    tpr, fpr, recall = np.r_[0.0, tps / tps[-1]], np.r_[0.0, fps / fps[-1]], tps / tps[-1]
    total, pc = w.sum(), _clip(p)
    pred = p >= threshold
    tp, fp, fn = w[pred & (y == 1)].sum(), w[pred & (y == 0)].sum(), w[~pred & (y == 1)].sum()
    return {
        "roc_auc": float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)),
        "pr_auc": float(np.sum(np.diff(np.r_[0.0, recall]) * tps / (tps + fps))),
        "log_loss": float(-np.sum(w * (y * np.log(pc) + (1 - y) * np.log(1 - pc))) / total),
        "brier": float(np.sum(w * (p - y) ** 2) / total),
        "f1": float(2 * tp / (2 * tp + fp + fn)) if (2 * tp + fp + fn) > 0 else 0.0,
    }


def reference_bootstrap(y, p, threshold, n_samples, random_state):
    """The former binary_bootstrap_intervals (one model, its own draws)."""
    n = len(y)
    order, group = tie_groups(p)
    values = {name: [] for name in NAMES}
    for idx in iter_bootstrap_indices(n, n_samples, random_state):
        m = reference_weighted(y, p, threshold, order, group, np.bincount(idx, minlength=n).astype(float))
        for name in NAMES:
            if m is not None:
                values[name].append(m[name])
                continue
            try:
                values[name].append(single_metric("binary", name)(y[idx], p[idx], threshold))
            except ValueError:
                continue
    return {name: percentile_interval(v) for name, v in values.items()}


def random_case(seed: int, n: int, ties: bool, rate: float = 0.3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    raw = rng.random(n) * 0.7 + 0.3 * y * rng.random(n)
    p = np.round(raw, int(rng.integers(1, 3))) if ties else raw
    return y, np.clip(p, 0, 1)


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("seed", range(6))
def test_choose_threshold_matches_the_per_threshold_loop(objective, seed):
    n = [7, 40, 300, 2000][seed % 4]
    y, p = random_case(seed, n, ties=seed % 2 == 0, rate=[0.3, 0.05, 0.6][seed % 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = reference_choose_threshold(y, p, objective)
    assert choose_threshold(y, p, objective) == expected


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("case", ["all_negative", "all_positive", "constant_scores", "two_rows", "nan_score", "float_labels"])
def test_choose_threshold_matches_the_loop_on_degenerate_rows(objective, case):
    rng = np.random.default_rng(3)
    y, p = (rng.random(50) < 0.4).astype(int), rng.random(50)
    if case == "all_negative":
        y = np.zeros(50, dtype=int)
    elif case == "all_positive":
        y = np.ones(50, dtype=int)
    elif case == "constant_scores":
        p = np.full(50, 0.3)
    elif case == "two_rows":
        y, p = np.array([0, 1]), np.array([0.4, 0.6])
    elif case == "nan_score":
        p = p.copy()
        p[4] = np.nan
    else:
        y = y.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = reference_choose_threshold(y, p, objective)
    got = choose_threshold(y, p, objective)
    assert got == expected or (np.isnan(got) and np.isnan(expected))


@pytest.mark.parametrize("seed", range(8))
def test_thresholded_binary_metrics_match_scikit_learn(seed):
    y, p = random_case(seed, [1, 5, 60, 999][seed % 4], ties=True, rate=[0.3, 0.0, 1.0, 0.5][seed % 4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = reference_thresholded(y, p, 0.45)
        got = binary_metrics(y, p, 0.45)
    assert {k: got[k] for k in expected} == expected


def test_thresholded_metrics_of_other_labels_are_scikit_learns():
    y, p = np.array([0, 1, 2, 1]), np.array([0.1, 0.8, 0.9, 0.3])
    with pytest.raises(ValueError):  # scikit-learn refuses a multiclass target for a binary average
        binary_metrics(y, p, 0.5)


@pytest.mark.parametrize("n,ties", [(12, True), (60, False), (400, True), (2500, False)])
def test_bootstrap_intervals_equal_the_former_implementation_exactly(n, ties):
    y, p = random_case(n, n, ties)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny resamples with one class
        expected = reference_bootstrap(y, p, 0.4, 120, 7)
        got = binary_bootstrap_intervals(y, p, 0.4, NAMES, 120, 7)
    assert got == expected


def test_shared_draws_give_each_model_its_own_intervals():
    y, p1 = random_case(5, 700, ties=True)
    _, p2 = random_case(6, 700, ties=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shared = shared_binary_bootstrap_intervals(y, {"a": (p1, 0.4), "b": (p2, 0.55)}, NAMES, 60, 3)
        alone = {"a": reference_bootstrap(y, p1, 0.4, 60, 3), "b": reference_bootstrap(y, p2, 0.55, 60, 3)}
    assert shared == alone


def test_bootstrap_threshold_outside_the_scores_and_nan_scores():
    y, p = random_case(9, 300, ties=True)
    p = p.copy()
    p[[3, 50]] = np.nan
    for threshold in (-1.0, 0.4, 2.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = reference_bootstrap(y, p, threshold, 30, 1)
            got = binary_bootstrap_intervals(y, p, threshold, NAMES, 30, 1)
        assert {k: v["n_samples"] for k, v in got.items()} == {k: v["n_samples"] for k, v in expected.items()}
        for name in NAMES:
            np.testing.assert_array_equal([got[name]["low"], got[name]["high"]], [expected[name]["low"], expected[name]["high"]])


def test_precision_at_recall_accepts_a_recall_of_exactly_0_8():
    y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.85, 0.8, 0.75, 0.1, 0.7, 0.6, 0.2, 0.15, 0.05])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = reference_choose_threshold(y, p, "precision_at_recall")
    assert 0.7 < expected <= 0.75  # recall 4/5 = 0.8 qualifies, at precision 1
    assert choose_threshold(y, p, "precision_at_recall") == expected
