"""Slice finder: planted weak segments are found and ranked first; statistics are the textbook ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.core.config import ExplainParams
from tasks.evaluation.slices import (
    categorical_levels,
    find_error_slices,
    numeric_levels,
    score_segments,
    slice_conditions,
    slice_drivers,
    slice_masks,
)

P = ExplainParams(slice_min_support=50)


def planted_frame(n: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Return a frame whose rows in grp == 'Z' err half the time, elsewhere 5%, plus a mild numeric effect."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "grp": rng.choice(list("ABCDZ"), n, p=[0.3, 0.3, 0.2, 0.15, 0.05]),
            "x": rng.normal(size=n),
            "k": rng.integers(0, 3, n),
            "city": pd.Series(rng.choice(["Lisbon", "Porto", None], n), dtype="str"),
        }
    )
    err = np.where(df["grp"] == "Z", rng.random(n) < 0.5, rng.random(n) < 0.05)
    err |= (df["x"].to_numpy() > 1.0) & (rng.random(n) < 0.04)  # a weaker, larger segment
    return df, err.astype(float)


def test_planted_noise_category_ranks_first():
    df, err = planted_frame()
    table, levels = find_error_slices(df, err, ["x", "k"], ["grp", "city"], P)
    assert table.loc[0, "segment"] == "grp = Z"
    assert bool(table.loc[0, "flagged"])
    assert table.loc[0, "lift"] > 3
    assert slice_conditions(table.head(1), levels) == [[{"feature": "grp", "equals": "Z"}]]
    # the weaker numeric segment is found too, but ranks below the planted one
    flagged = table[table["flagged"]]["segment"].tolist()
    assert any(s.endswith("≤ x") for s in flagged[1:])
    # pairs that only inherit Z's noise are not flagged
    assert not table[(table["n_conditions"] == 2) & table["segment"].str.contains("grp = Z")]["flagged"].any()


def test_interaction_is_found_as_pair():
    rng = np.random.default_rng(1)
    n = 30_000
    df = pd.DataFrame({"a": rng.choice(["u", "v"], n), "b": rng.choice(["p", "q"], n)})
    inter = (df["a"] == "u") & (df["b"] == "p")
    err = np.where(inter, rng.random(n) < 0.4, rng.random(n) < 0.05).astype(float)
    table, _ = find_error_slices(df, err, [], ["a", "b"], P)
    assert table.loc[0, "segment"] == "a = u & b = p"
    assert table.loc[0, "n_conditions"] == 2
    assert table.loc[0, "z_vs_parent"] > 3


def test_small_segment_below_support_is_not_flagged():
    rng = np.random.default_rng(2)
    n = 5000
    df = pd.DataFrame({"g": np.where(np.arange(n) < 20, "tiny", rng.choice(["a", "b"], n))})
    err = np.where(df["g"] == "tiny", 1.0, (rng.random(n) < 0.05).astype(float))
    table, _ = find_error_slices(df, err, [], ["g"], ExplainParams(slice_min_support=100))
    tiny = table[table["segment"] == "g = tiny"].iloc[0]
    assert tiny["rows"] == 20 and tiny["error_rate"] == 1.0
    assert not tiny["flagged"]


def test_score_segments_matches_two_proportion_test():
    err = np.r_[np.ones(30), np.zeros(70), np.ones(50), np.zeros(850)]
    stats = score_segments(np.array([100]), np.array([30.0]), err, P)
    p_all = err.mean()
    rest_rate = 50 / 900
    z = (0.30 - rest_rate) / np.sqrt(p_all * (1 - p_all) * (1 / 100 + 1 / 900))
    assert stats.loc[0, "z"] == pytest.approx(z)
    assert stats.loc[0, "lift"] == pytest.approx(0.30 / p_all)
    assert stats.loc[0, "excess_errors"] == pytest.approx(100 * (0.30 - p_all))


def test_numeric_levels_bins_cover_rows_and_missing():
    s = pd.Series(np.r_[np.arange(100, dtype=float), [np.nan] * 5], name="lead")
    lv = numeric_levels(s, 4)
    assert (lv.codes >= 0).all()
    assert lv.labels[-1] == "lead is missing" and (lv.codes == len(lv.labels) - 1).sum() == 5
    counts = np.bincount(lv.codes)
    assert counts[:-1].tolist() == [25, 25, 25, 25]
    assert lv.labels[0] == "lead < 24.75" and lv.labels[-2] == "74.25 ≤ lead"


def test_numeric_levels_few_values_and_skew():
    few = numeric_levels(pd.Series([0, 1, 2, 1, 0], name="kids"), 5)
    assert few.labels == ("kids = 0", "kids = 1", "kids = 2")
    skew = numeric_levels(pd.Series(np.r_[np.zeros(990), np.arange(1, 11)], name="w"), 5)
    assert np.bincount(skew.codes).tolist() == [990, 10]


def test_categorical_levels_keeps_most_frequent_and_missing():
    s = pd.Series(["a"] * 5 + ["b"] * 3 + ["c"] + [None] * 2, name="g", dtype="str")
    lv = categorical_levels(s, max_levels=2)
    assert lv.labels == ("g = a", "g = b", "g is missing")
    assert lv.codes.tolist() == [0] * 5 + [1] * 3 + [-1] + [2] * 2


def test_masks_and_drivers_point_at_the_inflated_feature():
    df, err = planted_frame(5000, seed=3)
    table, levels = find_error_slices(df, err, ["x"], ["grp"], P)
    top = table.head(1)
    rows = np.arange(0, 5000, 2)  # a "sample"
    member = slice_masks(top, levels, rows)
    assert member[:, 0].tolist() == (df["grp"].to_numpy()[rows] == "Z").tolist()
    rng = np.random.default_rng(0)
    abs_shap = np.abs(rng.normal(size=(len(rows), 3)))
    abs_shap[member[:, 0], 2] += 5  # feature "f2" drives the segment's rows
    out = slice_drivers(member, err[rows].astype(bool), abs_shap, abs_shap.mean(axis=0), ["f0", "f1", "f2"])
    assert out[0]["n_sampled_errors"] == int((member[:, 0] & (err[rows] > 0)).sum())
    assert out[0]["drivers"][0]["feature"] == "f2"
    assert all(d["excess"] > 0 for d in out[0]["drivers"])


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="differ in length"):
        find_error_slices(pd.DataFrame({"g": ["a", "b"]}), np.zeros(3), [], ["g"], P)
