"""Promote speed-ups give the plain code's numbers bit for bit: ROC-AUC of resamples and segments from scores
sorted once, the paired bootstrap and the segment rules, and single-row latency through the direct preprocessor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from tasks.core.config import PromoteParams
from tasks.core.metrics import bootstrap_indices
from tasks.evaluation import gate
from tasks.evaluation.gate import (
    ModelScores,
    gain,
    metric_value,
    rank_scores,
    weighted_roc_auc,
)


def reference_paired_bootstrap_gain(task, metric, y, challenger, champion, n_samples, random_state):
    """paired_bootstrap_gain as first written: every resample materialised and scored by sklearn."""
    diffs = []
    for idx in bootstrap_indices(len(y), n_samples, random_state) if n_samples > 0 and len(y) > 1 else []:
        a = metric_value(task, metric, y[idx], challenger.scores[idx], challenger.threshold)
        b = metric_value(task, metric, y[idx], champion.scores[idx], champion.threshold)
        if np.isfinite(a) and np.isfinite(b):
            diffs.append(gain(metric, a, b))
    if not diffs:
        return {"low": float("nan"), "high": float("nan"), "n_samples": 0}
    arr = np.asarray(diffs)
    return {"low": float(np.quantile(arr, 0.025)), "high": float(np.quantile(arr, 0.975)), "n_samples": len(arr)}


def same(a: dict, b: dict) -> bool:
    """Equal dicts, NaN equal to NaN."""
    return a.keys() == b.keys() and all(a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])) for k in a)


def scores_with_ties(rng: np.random.Generator, y: np.ndarray, digits: int) -> np.ndarray:
    """Return scores related to y, rounded so that many rows tie (digits=None: no rounding)."""
    raw = 1 / (1 + np.exp(-(1.5 * y - 0.75 + rng.normal(size=len(y)))))
    return raw if digits is None else np.round(raw, digits)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 400),
    digits=st.sampled_from([None, 1, 2, 3]),
    positive_share=st.sampled_from([0.0, 0.02, 0.3, 0.5, 1.0]),
)
def test_weighted_roc_auc_equals_sklearn_on_the_repeated_rows(seed, n, digits, positive_share):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_share).astype(int)
    scores = scores_with_ties(rng, y, digits)
    scores[rng.random(n) < 0.05] = -0.0  # -0.0 and 0.0 tie
    ranked = rank_scores("binary", "roc_auc", y, scores)
    for idx in (rng.integers(0, n, n), rng.integers(0, n, max(1, n // 3)), np.arange(n), np.arange(n)[::2]):
        expected = metric_value("binary", "roc_auc", y[idx], scores[idx])
        got = weighted_roc_auc(ranked, np.bincount(idx, minlength=n))
        assert (np.isnan(got) and np.isnan(expected)) or got == expected, (got, expected)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("digits", [None, 2])
def test_paired_bootstrap_gain_equals_the_plain_bootstrap(seed, digits):
    rng = np.random.default_rng(seed)
    y = (rng.random(3000) < 0.3).astype(int)
    challenger = ModelScores(scores_with_ties(rng, y, digits), 0.4)
    champion = ModelScores(scores_with_ties(rng, y, digits), 0.5)
    for n_samples in (0, 1, 30):
        got = gate.paired_bootstrap_gain("binary", "roc_auc", y, challenger, champion, n_samples, seed)
        assert same(got, reference_paired_bootstrap_gain("binary", "roc_auc", y, challenger, champion, n_samples, seed))
    tiny = y[:3] * 0  # one class in every resample: no interval
    assert (
        gate.paired_bootstrap_gain(
            "binary", "roc_auc", tiny, ModelScores(challenger.scores[:3]), ModelScores(champion.scores[:3]), 10, 0
        )["n_samples"]
        == 0
    )


def test_paired_bootstrap_gain_of_other_metrics_and_nan_scores_is_unchanged():
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.4).astype(int)
    a, b = ModelScores(scores_with_ties(rng, y, 2)), ModelScores(scores_with_ties(rng, y, None))
    with_nan = ModelScores(np.where(rng.random(500) < 0.01, np.nan, a.scores))
    for metric, ch, pr in (("pr_auc", a, b), ("log_loss", a, b), ("roc_auc", with_nan, b)):
        got = gate.paired_bootstrap_gain("binary", metric, y, ch, pr, 20, 1)
        expected = reference_paired_bootstrap_gain("binary", metric, y, ch, pr, 20, 1)
        assert same(got, expected)
    yr = rng.normal(size=300)
    r1, r2 = ModelScores(yr + rng.normal(size=300)), ModelScores(yr + rng.normal(size=300))
    assert same(
        gate.paired_bootstrap_gain("regression", "rmse", yr, r1, r2, 20, 1),
        reference_paired_bootstrap_gain("regression", "rmse", yr, r1, r2, 20, 1),
    )


def reference_segment_values(y, model, segments, min_rows):
    """What segment_rules scored before: sklearn on each segment's rows."""
    out = {}
    for col in segments.columns:
        codes = segments[col].astype("string").fillna("<missing>").to_numpy()
        for value in sorted(set(codes)):
            idx = np.flatnonzero(codes == value)
            if len(idx) >= min_rows:
                out[f"{col}={value}"] = metric_value("binary", "roc_auc", y[idx], model.scores[idx], model.threshold)
    return out


def test_segment_rules_score_segments_like_sklearn():
    rng = np.random.default_rng(11)
    n = 2000
    y = (rng.random(n) < 0.3).astype(int)
    segs = pd.DataFrame({"a": rng.choice(["x", "y", "z", None], n), "b": pd.Categorical(rng.choice(["p", "q"], n))})
    y[(segs["a"] == "z").to_numpy()] = 0  # a segment with one class: no rule
    ch, pr = ModelScores(scores_with_ties(rng, y, 2), 0.4), ModelScores(scores_with_ties(rng, y, None), 0.4)
    rules = gate.segment_rules("binary", "roc_auc", y, ch, pr, segs, 50, PromoteParams(segment_tolerance=0.01))
    ref_ch, ref_pr = reference_segment_values(y, ch, segs, 50), reference_segment_values(y, pr, segs, 50)
    expected = {k: gain("roc_auc", ref_pr[k], ref_ch[k]) for k in ref_ch if np.isfinite(ref_ch[k]) and np.isfinite(ref_pr[k])}
    assert {r.rule.removeprefix("segment "): r.value for r in rules} == expected
    assert "a=z" not in expected and len(expected) == 5


def test_rank_scores_leaves_what_it_cannot_rank_to_sklearn():
    y = np.array([0, 1, 1, 0])
    assert rank_scores("binary", "roc_auc", y, np.array([0.1, 0.2, np.nan, 0.3])) is None
    assert rank_scores("binary", "roc_auc", np.array([0, 2, 2, 0]), np.array([0.1, 0.2, 0.3, 0.4])) is None
    assert rank_scores("binary", "pr_auc", y, np.array([0.1, 0.2, 0.3, 0.4])) is None
    assert rank_scores("multiclass", "roc_auc", y, np.ones((4, 2))) is None
    ranked = rank_scores("binary", "roc_auc", y, np.array([0.1, 0.2, 0.2, 0.4]))
    assert (
        ranked.cell.tolist() == [4, 3, 3, 0]
        and ranked.n_scores == 3
        and weighted_roc_auc(ranked, np.ones(4, int)) == skm.roc_auc_score(y, [0.1, 0.2, 0.2, 0.4])
    )
