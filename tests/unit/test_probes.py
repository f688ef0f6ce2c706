"""Tests for tasks/quality/probes.py: out-of-fold quick models, the columns responsible for a rebuilt label,
and when a feature dominates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.quality.probes import dominant_group, fit_linear, fit_tree, probe_data, responsible_columns


def frame(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.normal(size=n),
            "city": pd.Categorical(rng.choice(["x", "y", "z"], n)),
        }
    )
    return d, (d["a"] + d["b"] + rng.normal(0, 0.5, n)).to_numpy()


def test_scores_are_out_of_fold_and_deterministic():
    d, y = frame()
    data = probe_data(d, y, "regression", ["a", "b", "c"], ["city"], 3, 0)
    assert sorted(np.concatenate([held for _, held in data.folds]).tolist()) == list(range(len(d)))
    linear, tree = fit_linear(data, ["a", "b", "c", "city"]), fit_tree(data, ["a", "b", "c", "city"])
    assert linear.score == pytest.approx(2 / 2.25, abs=0.02)  # R^2 of a + b with noise 0.5
    assert 0.7 < tree.score < linear.score
    assert fit_tree(data, ["a", "b", "c", "city"]) == tree
    assert max(linear.importance, key=linear.importance.get) in ("a", "b")


def test_responsible_columns_are_the_ones_whose_removal_breaks_the_score():
    d, _ = frame()
    y = (d["a"] + d["b"]).to_numpy()
    data = probe_data(d, y, "regression", ["a", "b", "c"], ["city"], 3, 0)
    columns = ["a", "b", "c", "city"]
    responsible, seen = responsible_columns(lambda cols: fit_linear(data, cols), columns, 0.999, 4)
    assert sorted(responsible) == ["a", "b"]
    assert seen["a"] < 0.999 and seen["b"] < 0.999 and seen["c"] >= 0.999


def test_copies_are_set_aside_one_by_one_until_one_is_responsible():
    d, _ = frame()
    y = d["a"].to_numpy() * 3
    d = d.assign(a_copy=d["a"] * 2)  # two columns that each rebuild the label alone
    data = probe_data(d, y, "regression", ["a", "a_copy", "b", "c"], ["city"], 3, 0)
    responsible, _ = responsible_columns(lambda cols: fit_linear(data, cols), ["a", "a_copy", "b", "c", "city"], 0.999, 4)
    assert sorted(responsible) == ["a", "a_copy"]


@pytest.mark.parametrize(
    "shares,group,outside",
    [
        ({"x": 0.30, "y": 0.05, "z": 0.02}, ["x"], 0.05),  # far more than any other
        ({"x": 0.30, "y": 0.20, "z": 0.02}, ["x", "y"], 0.02),  # two side by side, far above the rest
        ({"x": 0.18, "y": 0.10, "z": 0.08}, [], 0.10),  # the strongest, not far above the next
        ({"x": 0.05, "y": 0.00, "z": -0.01}, [], 0.0),  # far above, but below the minimum share
    ],
)
def test_dominant_group(shares, group, outside):
    assert dominant_group(shares, 0.1, 2.0) == (group, outside)


def test_classification_probe_scores_roc_auc_and_explained_deviance():
    d, y = frame()
    labels = (y > 0).astype(int)
    data = probe_data(d, labels, "binary", ["a", "b", "c"], ["city"], 3, 0)
    tree = fit_tree(data, ["a", "b", "c", "city"])
    assert 0.85 < tree.score < 0.99 and 0.3 < tree.explained < tree.score
    multi = probe_data(d, np.digitize(y, [-1, 1]), "multiclass", ["a", "b", "c"], ["city"], 3, 0)
    assert 0.8 < fit_linear(multi, ["a", "b", "c", "city"]).score < 0.99
