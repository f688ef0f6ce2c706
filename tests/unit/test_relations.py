"""Tests for tasks/quality/relations.py: a column equal to a op b of two others, exact or almost, and no spurious
relations from constant, zero-inflated or single-operand columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.quality.relations import feature_relations, target_relations


def table(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.uniform(1, 100, n).round(2)
    b = rng.uniform(1, 50, n).round(2)
    return pd.DataFrame(
        {"a": a, "b": b, "c": rng.normal(0, 1, n), "mostly_zero": np.where(rng.uniform(size=n) < 0.99, 0, 3), "one": np.ones(n)}
    )


@pytest.mark.parametrize(
    "make,formula",
    [
        (lambda d: d["a"] + d["b"], "y = a + b"),
        (lambda d: d["a"] - d["b"], "y = a - b"),
        (lambda d: d["b"] - d["a"], "y = b - a"),
        (lambda d: d["a"] * d["b"], "y = a × b"),
        (lambda d: d["a"] / d["b"], "y = a / b"),
    ],
)
def test_exact_relations_of_the_target_are_found_and_written_out(make, formula):
    d = table().assign(y=make)
    found = target_relations(d, "y", ["a", "b", "c", "mostly_zero", "one"], 0.995, 40, 0)
    assert [r.formula for r in found] == [formula]
    assert found[0].exact and found[0].r2 == pytest.approx(1.0) and found[0].rows == 2000


def test_an_almost_relation_is_reported_as_approximate():
    d = table()
    d["y"] = d["a"] * d["b"] * np.random.default_rng(1).normal(1, 0.02, len(d))
    [r] = target_relations(d, "y", ["a", "b", "c"], 0.995, 40, 0)
    assert r.formula == "y ≈ a × b" and not r.exact and 0.995 <= r.r2 < 1


def test_no_relation_from_a_single_operand_or_noise():
    d = table()
    d["y"] = d["a"] * 2 + np.random.default_rng(2).normal(0, 1, len(d))  # one column alone explains it
    assert target_relations(d, "y", ["a", "b", "c", "mostly_zero", "one"], 0.995, 40, 0) == []
    d["y"] = d["a"] + d["c"] * 30  # a relation, but not of the form a op b with these weights
    assert target_relations(d, "y", ["a", "b", "mostly_zero", "one"], 0.995, 40, 0) == []


def test_feature_relations_keep_one_simplest_form_per_three_columns():
    d = table().assign(total=lambda x: x["a"] + x["b"])
    found = feature_relations(d, ["a", "b", "c", "total"], 0.995, 40, 0)
    assert [r.formula for r in found] == ["total = a + b"]  # not also a = total - b, b = total - a


def test_the_search_is_capped_to_the_most_varied_columns():
    d = table().assign(total=lambda x: x["a"] + x["b"])
    assert feature_relations(d, ["a", "b", "c", "total"], 0.995, 2, 0) == []  # only two columns looked at
