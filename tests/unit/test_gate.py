"""Gate: every rule compares every metric the right way round (higher-is-better ROC-AUC, F1 ...; lower-is-better
RMSE, log loss, Brier ...): a challenger worse than the reference is rejected, a better one accepted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.core.config import PromoteParams
from tasks.core.metrics import HIGHER_IS_BETTER, TASK_METRICS, compute_metrics
from tasks.evaluation.gate import GateInput, ModelScores, decide_promotion

N = 600
CASES = [(task, metric) for task, metrics in TASK_METRICS.items() for metric in metrics]


def world(task: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return labels, a good model's scores and a clearly worse model's scores (a third of its rows turned wrong)."""
    rng = np.random.default_rng(7)
    signal = rng.normal(size=N)
    flipped = rng.random(N) < 0.35
    if task == "regression":
        y = signal * 3 + 10
        return y, y + rng.normal(scale=0.3, size=N), y + rng.normal(scale=2.5, size=N)
    if task == "binary":
        y = (signal + rng.normal(scale=0.5, size=N) > 0).astype(int)
        good = 1 / (1 + np.exp(-3 * signal))
        return y, good, np.where(flipped, 1 - good, good)
    y = np.digitize(signal + rng.normal(scale=0.3, size=N), [-0.5, 0.5])
    logits = -3 * (signal[:, None] - np.array([-1.0, 0.0, 1.0])[None, :]) ** 2
    good = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, good, np.where(flipped[:, None], np.roll(good, 1, axis=1), good)


def gate(task: str, metric: str, y: np.ndarray, challenger: np.ndarray, other: np.ndarray, limit: float):
    """Return the decision on challenger with other as baseline and production, metric as primary and threshold."""
    p = PromoteParams(thresholds={metric: limit}, bootstrap_samples=20)
    segments = pd.DataFrame({"half": np.where(np.arange(len(y)) % 2 == 0, "even", "odd")})
    return decide_promotion(
        GateInput(
            task,
            metric,
            y,
            ModelScores(challenger, digest="challenger"),
            ModelScores(other),
            ModelScores(other, digest="production"),
            segments,
            100,
        ),
        p,
    )


def rules_on(decision, metric: str) -> dict[str, bool | None]:
    """Return the result of each rule that judges the metric (threshold, lift, gain over production, segments)."""
    return {r.rule: r.passed for r in decision.rules if r.metric == metric}


@pytest.mark.parametrize("task,metric", CASES, ids=[f"{t}-{m}" for t, m in CASES])
def test_better_challenger_passes_and_worse_one_fails_every_rule(task, metric):
    y, good, bad = world(task)
    v_good, v_bad = (compute_metrics(task, y, s)[metric] for s in (good, bad))
    assert (v_good > v_bad) == HIGHER_IS_BETTER[metric] and v_good != v_bad  # the world is what the test claims
    limit = (v_good + v_bad) / 2  # a floor (or ceiling) between the two

    better = gate(task, metric, y, good, bad, limit)
    assert set(rules_on(better, metric)) == {
        f"threshold {metric}",
        "lift over baseline",
        "gain over production (CI low)",
        "segment half=even",
        "segment half=odd",
    }
    assert all(rules_on(better, metric).values()), [r.reason for r in better.rules if r.passed is False]
    assert better.outcome == "promote"

    worse = gate(task, metric, y, bad, good, limit)
    assert not any(rules_on(worse, metric).values()), [r.reason for r in worse.rules if r.passed]
    assert worse.outcome == "reject"


def test_a_gain_whose_interval_straddles_zero_is_rejected_and_judged_by_its_lower_end():
    """The gain over production is judged by the lower end of its paired-bootstrap CI, not the point or upper end."""
    rng = np.random.default_rng(11)
    y = (rng.random(N) < 0.4).astype(int)
    production = np.clip(0.5 * y + rng.normal(0.25, 0.3, N), 0, 1)
    challenger = np.clip(production + rng.normal(0, 0.02, N), 0, 1)  # the same model give or take noise
    p = PromoteParams(thresholds={"roc_auc": 0.5}, bootstrap_samples=100)
    d = decide_promotion(
        GateInput("binary", "roc_auc", y, ModelScores(challenger, digest="new"), None, ModelScores(production, digest="old")), p
    )
    [rule] = [r for r in d.rules if r.rule == "gain over production (CI low)"]
    low, high = (float(x) for x in rule.reason.split("95% CI [")[1].split("]")[0].split(", "))
    assert low < 0 < high  # the world is what the test claims: no clear gain either way
    assert rule.value == pytest.approx(low, abs=1e-4) and rule.passed is False
    assert d.outcome == "reject"


def test_segment_drops_in_label_units_are_measured_relative_to_production():
    """RMSE and MAE are in label units: a segment's drop is judged as a share of production's value there."""
    rng = np.random.default_rng(5)
    y = rng.normal(1000, 300, N)
    noise = rng.normal(size=N)
    production, challenger = y + 10 * noise, y + 10.5 * noise  # 5% worse everywhere: 0.5 label units of RMSE
    segments = pd.DataFrame({"half": np.where(np.arange(N) % 2 == 0, "even", "odd")})
    for tolerance, passed in ((0.1, True), (0.02, False)):
        d = decide_promotion(
            GateInput(
                "regression",
                "rmse",
                y,
                ModelScores(challenger, digest="new"),
                None,
                ModelScores(production, digest="old"),
                segments,
                100,
            ),
            PromoteParams(segment_tolerance=tolerance, bootstrap_samples=0),
        )
        seg = [r for r in d.rules if r.rule.startswith("segment half=")]
        assert [r.value for r in seg] == pytest.approx([0.05, 0.05]) and all("(relative)" in r.reason for r in seg)
        assert [r.passed for r in seg] == [passed, passed], tolerance
