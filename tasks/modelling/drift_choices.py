"""Drift choices: which evidence each model choice follows, the validation slice or the CV folds, and why.

Why this module exists (issue 24). The validation slice is the latest `split.valid_size` of the training rows: one
draw, and on a table that drifts over time the latest slice can sit in a regime neither the earlier rows nor the test
period share. A choice taken on it alone (the decision threshold, the early-stopped tree count) can then be swung by
that one slice. The CV folds of the scheme the split implies (walk-forward for time and row-order splits) are several
draws of "train on the past, judge on the next period": their median is what one drifting slice cannot swing, and
their spread says how far a single draw may fall from it. So each rule here keeps the validation slice's choice while
it lies within the folds' spread, and follows the folds' median when it is far outside it; every rule returns the
evidence with the choice, which train.json records.

Pure functions of numbers: no IO, no model, no config (the callers read cv.json and train's scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tasks.core.metrics import HIGHER_IS_BETTER

# The threshold rule: follow the folds when |validation - median(folds)| > max(THRESHOLD_MIN_GAP, THRESHOLD_STD_MULT *
# std(folds)). The floor keeps small, harmless disagreements (thresholds on a flat F1 curve wander by a few hundredths)
# from flipping the source; twice the folds' std is "outside what one more fold would plausibly give".
THRESHOLD_MIN_GAP = 0.1
THRESHOLD_STD_MULT = 2.0
MIN_FOLDS = 2  # fewer folds than this: no spread to judge by, validation decides
# validation_vs_folds flags a slice whose metric lies more than this many fold standard deviations from the folds' mean
METRIC_Z_LIMIT = 2.0


def folds_std(values: Sequence[float]) -> float:
    """Return the sample standard deviation of the fold values (0 for fewer than two)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def choose_threshold(validation: float, fold_thresholds: Sequence[float] | None) -> tuple[float, dict[str, Any]]:
    """Return the decision threshold to ship and the evidence (train.json `threshold_choice`).

    The validation slice's threshold stands unless it lies more than max(THRESHOLD_MIN_GAP, THRESHOLD_STD_MULT x
    std) from the folds' median threshold (each fold's threshold chosen on its own validation period by the same
    objective); then the folds' median ships.
    """
    folds = [float(t) for t in (fold_thresholds or []) if t is not None and np.isfinite(t)]
    evidence: dict[str, Any] = {"validation": float(validation), "folds": folds}
    if len(folds) < MIN_FOLDS:
        return float(validation), evidence | {
            "source": "validation",
            "chosen": float(validation),
            "why": f"fewer than {MIN_FOLDS} CV folds with a threshold to compare with",
        }
    median, std = float(np.median(folds)), folds_std(folds)
    limit = max(THRESHOLD_MIN_GAP, THRESHOLD_STD_MULT * std)
    gap = abs(float(validation) - median)
    evidence |= {"folds_median": median, "folds_std": std, "gap": gap, "limit": limit}
    if gap > limit:
        return median, evidence | {
            "source": "folds",
            "chosen": median,
            "why": (
                f"the validation slice's threshold {validation:.3f} is {gap:.3f} from the folds' median {median:.3f}, "
                f"beyond max({THRESHOLD_MIN_GAP:g}, {THRESHOLD_STD_MULT:g} x std {std:.3f}) = {limit:.3f}: one drifting "
                "slice disagrees with the folds, so the folds' median ships"
            ),
        }
    return float(validation), evidence | {
        "source": "validation",
        "chosen": float(validation),
        "why": (f"the validation slice's threshold {validation:.3f} is within {limit:.3f} of the folds' median {median:.3f}"),
    }


def validation_vs_folds(metric: str, validation: float | None, fold_values: Sequence[float] | None) -> dict[str, Any]:
    """Return the metric on the validation slice beside the folds' mean and std, and whether the slice is an outlier.

    `z` is (validation - folds mean) / folds std, signed so that + means the slice scores better than the folds;
    `outlier` is |z| > METRIC_Z_LIMIT (with at least MIN_FOLDS folds and a nonzero std).
    """
    folds = [float(v) for v in (fold_values or []) if v is not None and np.isfinite(v)]
    out: dict[str, Any] = {"metric": metric, "validation": None if validation is None else float(validation), "folds": folds}
    if validation is None or len(folds) < MIN_FOLDS:
        return out | {"outlier": False, "why": "no validation value or fewer than 2 folds to compare with"}
    mean, std = float(np.mean(folds)), folds_std(folds)
    sign = 1.0 if HIGHER_IS_BETTER.get(metric, True) else -1.0
    z = sign * (float(validation) - mean) / std if std > 0 else 0.0
    outlier = bool(std > 0 and abs(z) > METRIC_Z_LIMIT)
    side = "better" if z > 0 else "worse"
    why = (
        f"validation {metric} {validation:.4f} is {abs(z):.1f} fold std {side} than the folds' mean {mean:.4f} "
        f"(std {std:.4f}): " + ("the latest slice is not like the folds" if outlier else f"within {METRIC_Z_LIMIT:g} std")
    )
    return out | {"folds_mean": mean, "folds_std": std, "z": round(z, 3), "outlier": outlier, "why": why}


def choice_evidence(
    tree_count: dict[str, Any] | None, threshold: dict[str, Any] | None, tuned: bool, scheme: str | None
) -> dict[str, dict[str, str]]:
    """Return, per model choice, the evidence it followed (validation | folds | configured) and why (train.json)."""
    folds_name = f"the {scheme} CV folds" if scheme else "the CV folds"
    out: dict[str, dict[str, str]] = {
        "tuning_objective": (
            {
                "source": "folds",
                "why": f"tuning scores each trial by its mean over {folds_name} of "
                "the train split (never the validation slice alone)",
            }
            if tuned
            else {"source": "configured", "why": "train.tune.enabled is false: params.yaml's values"}
        ),
    }
    if tree_count is not None:
        out["tree_count"] = {"source": str(tree_count.get("source")), "why": str(tree_count.get("why"))}
    if threshold is not None:
        out["threshold"] = {"source": str(threshold.get("source")), "why": str(threshold.get("why"))}
    return out
