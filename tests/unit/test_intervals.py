"""Intervals that cost a bounded sample: DeLong's ROC-AUC interval against a brute-force O(m n) DeLong and the
bootstrap, and the capped (m-out-of-n, rescaled) bootstrap against the full-data numbers it stands for."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from tasks.core.metrics import (
    bootstrap_interval,
    bootstrap_plan,
    capped_binary_bootstrap_intervals,
    capped_bootstrap_interval,
    delong_auc_variance,
    delong_interval,
    shared_binary_bootstrap_intervals,
    single_metric,
)

NAMES = ["pr_auc", "log_loss", "brier", "f1"]


def scored_rows(n: int, seed: int, decimals: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Return 0/1 labels (37% positive) and rounded scores (ties) that separate them well but not perfectly."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.37).astype(int)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * (2 * y - 1))))
    return y, np.round(p, decimals)


def brute_force_delong(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """DeLong (1988) from its definition: psi over every (positive, negative) pair, O(m n)."""
    pos, neg = p[y == 1], p[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(np.var(v10, ddof=1) / len(pos) + np.var(v01, ddof=1) / len(neg))


@pytest.mark.parametrize("seed,decimals", [(0, 3), (1, 1), (2, 6)])
def test_delong_matches_the_pairwise_definition_and_roc_auc_score(seed, decimals):
    y, p = scored_rows(700, seed, decimals)
    auc, var = delong_auc_variance(y, p)
    ref_auc, ref_var = brute_force_delong(y, p)
    assert auc == pytest.approx(ref_auc, abs=1e-12) and auc == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert var == pytest.approx(ref_var, rel=1e-9)


def test_delong_interval_is_as_wide_as_the_bootstrap_one():
    y, p = scored_rows(4000, 5)
    d = delong_interval(y, p)
    roc = single_metric("binary", "roc_auc")
    boot = bootstrap_interval(lambda idx: roc(y[idx], p[idx], 0.5), len(y), 400, 11)
    assert d["low"] < skm.roc_auc_score(y, p) < d["high"]
    assert (d["high"] - d["low"]) == pytest.approx(boot["high"] - boot["low"], rel=0.15)
    assert d["high"] - d["low"] == pytest.approx(2 * stats.norm.ppf(0.975) * d["se"], rel=1e-9)
    assert d["method"] == "delong" and d["rows"] == 4000


def test_delong_interval_of_one_class_is_nan():
    d = delong_interval(np.zeros(10, dtype=int), np.linspace(0, 1, 10))
    assert np.isnan(d["low"]) and np.isnan(d["high"])


def test_bootstrap_plan_caps_the_rows_and_scales_the_width():
    assert bootstrap_plan(5_000, 20_000) == (5_000, 1.0)
    m, scale = bootstrap_plan(80_000, 20_000)
    assert m == 20_000 and scale == pytest.approx(0.5)


def test_capped_bootstrap_equals_the_full_bootstrap_below_the_cap():
    y, p = scored_rows(3000, 4)
    got = capped_binary_bootstrap_intervals(y, {"a": (p, 0.4)}, NAMES, 50, 3000, 8)["a"]
    full = shared_binary_bootstrap_intervals(y, {"a": (p, 0.4)}, NAMES, 50, 8)["a"]
    for name in NAMES:
        assert (got[name]["low"], got[name]["high"]) == (full[name]["low"], full[name]["high"])
        assert got[name]["resample_rows"] == 3000 and got[name]["method"] == "bootstrap"


def test_capped_interval_covers_the_full_data_point_and_has_the_documented_width():
    """Documented (params.yaml evaluate.bootstrap_max_rows, docs/scale.md): resamples of m of the n rows, the spread
    scaled by sqrt(m / n) around the full-data value; the width is the full-data interval's up to the Monte-Carlo error
    of 200 resamples (within 25% here); for a mean (Brier, log loss) that is 2 * 1.96 * sd(row terms) / sqrt(n)."""
    y, p = scored_rows(60_000, 7)
    capped = capped_binary_bootstrap_intervals(y, {"a": (p, 0.45)}, NAMES, 200, 6_000, 3)["a"]
    full = shared_binary_bootstrap_intervals(y, {"a": (p, 0.45)}, NAMES, 200, 3)["a"]
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    row_terms = {"brier": (p - y) ** 2, "log_loss": -(y * np.log(pc) + (1 - y) * np.log(1 - pc))}
    for name in NAMES:
        point = single_metric("binary", name)(y, p, 0.45)
        c, f = capped[name], full[name]
        assert c["low"] <= point <= c["high"], name
        assert f["low"] <= point <= f["high"], name
        assert (c["high"] - c["low"]) == pytest.approx(f["high"] - f["low"], rel=0.25), name
        assert (c["rows"], c["resample_rows"], c["resamples"]) == (60_000, 6_000, 200)
        if name in row_terms:
            analytic = 2 * stats.norm.ppf(0.975) * row_terms[name].std(ddof=1) / np.sqrt(len(y))
            assert (c["high"] - c["low"]) == pytest.approx(analytic, rel=0.25), name


def test_capped_bootstrap_interval_of_any_metric_is_scaled_around_its_point():
    rng = np.random.default_rng(2)
    y = rng.normal(size=40_000)
    pred = y + rng.normal(size=40_000)
    rmse = single_metric("regression", "rmse")
    value = lambda idx: rmse(y[idx], pred[idx], 0.5)  # noqa: E731
    point = value(np.arange(len(y)))
    iv = capped_bootstrap_interval(value, point, len(y), 200, 4_000, 1)
    full = bootstrap_interval(value, len(y), 200, 1)
    assert iv["low"] <= point <= iv["high"]
    assert (iv["high"] - iv["low"]) == pytest.approx(full["high"] - full["low"], rel=0.25)
    assert iv["resample_rows"] == 4_000
