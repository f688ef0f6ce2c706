"""Metrics: the one-pass bootstrap gives the per-metric loop's intervals; row-by-row resamples are the matrix's rows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tasks.core.metrics import (
    binary_bootstrap_intervals,
    bootstrap_indices,
    bootstrap_interval,
    iter_bootstrap_indices,
    single_metric,
)

NAMES = ["roc_auc", "pr_auc", "log_loss", "brier", "f1"]


def per_metric_intervals(y, p, threshold, n_samples, random_state):
    return {
        n: bootstrap_interval(
            lambda idx, m=single_metric("binary", n): m(y[idx], p[idx], threshold), len(y), n_samples, random_state
        )
        for n in NAMES
    }


def test_iter_bootstrap_indices_yields_the_rows_of_the_matrix():
    rows = np.stack(list(iter_bootstrap_indices(997, 25, 42)))
    np.testing.assert_array_equal(rows, bootstrap_indices(997, 25, 42))


@pytest.mark.parametrize("n,ties", [(12, True), (60, False), (400, True), (2500, False)])
def test_one_pass_bootstrap_matches_the_per_metric_loop(n, ties):
    rng = np.random.default_rng(n)
    y = (rng.random(n) < 0.3).astype(int)
    p = np.clip((np.round(rng.random(n), 1) if ties else rng.random(n)) * 0.7 + 0.3 * y * rng.random(n), 0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny resamples with one class
        expected = per_metric_intervals(y, p, 0.4, 120, 7)
        got = binary_bootstrap_intervals(y, p, 0.4, NAMES, 120, 7)
    for name in NAMES:
        assert got[name]["n_samples"] == expected[name]["n_samples"]
        np.testing.assert_allclose(
            [got[name]["low"], got[name]["high"]], [expected[name]["low"], expected[name]["high"]], rtol=0, atol=1e-12
        )


def test_one_pass_bootstrap_without_samples_is_empty():
    out = binary_bootstrap_intervals(np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9]), 0.5, NAMES, 0, 1)
    assert all(v["n_samples"] == 0 and np.isnan(v["low"]) for v in out.values())
