"""Tests for tasks/quality/drift.py: reference bins, PSI / Jensen-Shannon values and drift levels."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from tasks.quality.drift import (
    category_frequencies,
    drift_level,
    drift_report,
    jensen_shannon,
    numeric_frequencies,
    psi,
    reference_profile,
)


def reference(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "lead_time": rng.normal(100, 20, n),
            "country": pd.Categorical(rng.choice(["PRT", "GBR", "ESP"], n, p=[0.5, 0.3, 0.2])),
        }
    )


def profile_of(df: pd.DataFrame) -> dict:
    return reference_profile(df, ["lead_time"], ["country"], bins=10, max_categories=50)


def test_psi_of_identical_distributions_is_zero():
    df = reference()
    report = drift_report(df, profile_of(df), "psi", warn=0.1, error=0.5)
    assert report["columns"]["lead_time"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert report["columns"]["country"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert report["counts"] == {"ok": 2, "warn": 0, "error": 0}


def test_psi_of_a_fresh_sample_stays_below_warn():
    report = drift_report(reference(seed=1), profile_of(reference()), "psi", warn=0.1, error=0.5)
    assert report["columns"]["lead_time"]["value"] < 0.05
    assert report["columns"]["lead_time"]["level"] == "ok"


def test_psi_of_a_shifted_distribution_is_above_error_threshold():
    ref = reference()
    shifted = ref.assign(lead_time=ref["lead_time"] + 40, country=pd.Categorical(np.where(ref["country"] == "PRT", "GBR", "PRT")))
    report = drift_report(shifted, profile_of(ref), "psi", warn=0.1, error=0.5)
    assert report["columns"]["lead_time"]["value"] > 0.5
    assert report["columns"]["lead_time"]["level"] == "error"
    assert report["columns"]["country"]["value"] > 0.1
    assert report["counts"]["error"] >= 1


def test_psi_matches_the_formula():
    # sum((a - e) ln(a / e)) for (0.9, 0.1) vs (0.1, 0.9) = 2 * 0.8 * ln 9, up to the tiny smoothing.
    assert psi(np.array([0.9, 0.1]), np.array([0.1, 0.9])) == pytest.approx(1.6 * math.log(9), rel=1e-3)
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(0.0, abs=1e-12)


def test_jensen_shannon_is_zero_for_equal_and_near_one_for_disjoint():
    assert jensen_shannon(np.array([0.3, 0.7]), np.array([0.3, 0.7])) == pytest.approx(0.0, abs=1e-9)
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) > 0.99
    ref = reference()
    shifted = ref.assign(lead_time=ref["lead_time"] + 40)
    report = drift_report(shifted, profile_of(ref), "jensen_shannon", warn=0.1, error=0.3)
    assert report["metric"] == "jensen_shannon"
    assert 0.3 < report["columns"]["lead_time"]["value"] <= 1.0


def test_unseen_categories_and_missing_values_have_their_own_buckets():
    values = pd.Series(["a", "b", "zzz", None, "a"], dtype=object)
    shares = category_frequencies(values, ["a", "b"])
    assert shares.tolist() == pytest.approx([0.4, 0.2, 0.2, 0.2])


def test_numeric_bins_are_right_closed_with_missing_last():
    shares = numeric_frequencies(pd.Series([0.0, 1.0, 1.5, 2.0, 9.0, np.nan]), [1.0, 2.0])
    # bins: (-inf, 1], (1, 2], (2, inf), missing
    assert shares.tolist() == pytest.approx([2 / 6, 2 / 6, 1 / 6, 1 / 6])


def test_missing_column_and_changed_type_are_errors_with_a_note():
    ref = reference()
    report = drift_report(
        ref.drop(columns=["country"]).assign(lead_time=ref["lead_time"].astype(str)), profile_of(ref), "psi", 0.1, 0.5
    )
    assert report["columns"]["country"] == {"value": None, "level": "error", "note": "column missing"}
    assert report["columns"]["lead_time"]["level"] == "error"
    assert "type changed" in report["columns"]["lead_time"]["note"]


def test_drift_level_thresholds():
    assert [drift_level(v, 0.1, 0.5) for v in (0.0, 0.0999, 0.1, 0.49, 0.5, 3.0)] == [
        "ok",
        "ok",
        "warn",
        "warn",
        "error",
        "error",
    ]


def test_reference_profile_is_json_and_caps_categories():
    df = pd.DataFrame({"code": [f"c{i % 30}" for i in range(300)], "x": np.arange(300.0)})
    profile = reference_profile(df, ["x"], ["code"], bins=4, max_categories=5)
    assert json.loads(json.dumps(profile)) == profile
    assert len(profile["columns"]["code"]["categories"]) == 5
    assert profile["columns"]["x"]["edges"] == pytest.approx([74.75, 149.5, 224.25])
    assert sum(profile["columns"]["x"]["frequencies"]) == pytest.approx(1.0)
    # 25 of 30 codes fall in "other": 250 of 300 rows
    assert profile["columns"]["code"]["frequencies"][-2] == pytest.approx(250 / 300)


def test_values_far_outside_the_reference_range_are_seen_by_the_drift_measure():
    ref = reference()
    profile = profile_of(ref)
    assert profile["columns"]["lead_time"]["min"] == pytest.approx(ref["lead_time"].min())
    corrupt = ref.copy()
    corrupt.loc[corrupt.index[:200], "lead_time"] = 1e12  # 5% of the rows; quantile bins alone put them in the top bin
    old_style = {"columns": {"lead_time": {k: v for k, v in profile["columns"]["lead_time"].items() if k not in ("min", "max")}}}
    blind = drift_report(corrupt, old_style, "psi", warn=0.1, error=0.5)["columns"]["lead_time"]
    assert blind["value"] < 0.1 and blind["level"] == "ok"  # what the old profile saw
    seen = drift_report(corrupt, profile, "psi", warn=0.1, error=0.5)["columns"]["lead_time"]
    assert seen["value"] > 0.25 and seen["level"] == "warn"
    assert seen["outside"]["share"] == pytest.approx(0.05) and seen["outside"]["ranges_beyond"] > 1e9
    far = drift_report(corrupt, profile, "psi", warn=0.1, error=0.5, far=100)["columns"]["lead_time"]
    assert far["level"] == "error" and "reference ranges beyond the reference" in far["note"]


def test_a_fresh_sample_slightly_beyond_the_reference_range_barely_moves():
    ref = reference()
    report = drift_report(reference(seed=3), profile_of(ref), "psi", warn=0.1, error=0.5, far=100)
    lead = report["columns"]["lead_time"]
    assert lead["level"] == "ok" and lead["value"] < 0.05
    assert lead.get("outside", {"share": 0})["share"] < 0.002
