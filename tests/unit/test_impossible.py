"""Tests for tasks/quality/impossible.py: values orders of magnitude outside the reference range, and outside
declared bounds, are errors whatever their share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.quality.impossible import impossible_failures, impossible_limits, reference_ranges


def results(column: str, lo: float, hi: float) -> list[dict]:
    return [
        {
            "expectation_config": {
                "kwargs": {"column": column, "min_value": lo, "max_value": hi},
                "meta": {"rule": "value_range", "severity": "warn"},
            }
        },
        {
            "expectation_config": {
                "kwargs": {"column": "other", "min_value": 0, "max_value": 1, "mostly": 0.9},
                "meta": {"rule": "central_range"},
            }
        },
    ]


def test_reference_ranges_come_from_the_value_range_rules_only():
    assert reference_ranges(results("adr", -6.38, 5670.0)) == {"adr": (-6.38, 5670.0)}


def test_limits_are_factor_reference_ranges_beyond_the_range():
    assert impossible_limits(0.0, 10.0, 100) == (-1000.0, 1010.0)
    assert impossible_limits(5.0, 5.0, 100) == (-495.0, 505.0)  # constant reference: its magnitude is the range


def test_one_impossible_value_is_an_error_a_merely_large_one_is_not():
    df = pd.DataFrame({"adr": np.r_[np.linspace(0, 5000, 999), 1e12]})
    [f] = impossible_failures(df, {"adr": (0.0, 5400.0)}, {}, 100)
    assert (f["column"], f["rule"], f["severity"], f["unexpected_count"], f["examples"]) == (
        "adr",
        "impossible_value",
        "error",
        1,
        [1e12],
    )
    assert "more than 100x the reference range [0, 5400] outside it" in f["detail"]
    assert impossible_failures(df.assign(adr=df["adr"].clip(upper=50_000)), {"adr": (0.0, 5400.0)}, {}, 100) == []


def test_declared_bounds_are_errors_and_missing_columns_are_skipped():
    df = pd.DataFrame({"rate": [0.1, 0.5, -0.2, 1.5, np.nan]})
    [f] = impossible_failures(df, {"absent": (0.0, 1.0)}, {"rate": (0.0, 1.0), "absent": (0.0, None)}, 100)
    assert f["rule"] == "declared_bounds" and f["unexpected_count"] == 2 and f["unexpected_share"] == pytest.approx(0.5)
    assert "outside the declared bounds [0, 1] (validate.bounds.rate)" in f["detail"]


def test_a_value_exactly_at_the_limit_is_possible_one_beyond_it_is_not():
    """`More than` factor ranges beyond: the limits themselves are still possible values (boundary of `>`)."""
    ranges = {"adr": (0.0, 10.0)}  # factor 100: limits -1000 and 1010
    at_limits = pd.DataFrame({"adr": [-1000.0, 5.0, 1010.0]})
    assert impossible_failures(at_limits, ranges, {}, 100) == []
    [f] = impossible_failures(pd.DataFrame({"adr": [-1000.5, 5.0, 1010.5]}), ranges, {}, 100)
    assert f["unexpected_count"] == 2 and (f["limit_min"], f["limit_max"]) == (-1000.0, 1010.0)


def test_the_factor_given_is_the_factor_used():
    df = pd.DataFrame({"adr": [5.0, 45.0]})  # 45 is 3.5 ranges above [0, 10]
    [f] = impossible_failures(df, {"adr": (0.0, 10.0)}, {}, 3)
    assert (f["limit_min"], f["limit_max"], f["examples"]) == (-30.0, 40.0, [45.0])
    assert "more than 3x the reference range" in f["detail"]
    assert impossible_failures(df, {"adr": (0.0, 10.0)}, {}, 4) == []
