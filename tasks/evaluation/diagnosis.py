"""Diagnosis: when the challenger loses to the linear baseline, what the reports show and what to try next.

Why: a rejected model leaves the user with nothing, and the gate's rule only says "worse than the baseline". The
evidence for why is already in the step reports: how many trees the refit kept and why (train.json `tree_count`), how
the latest validation slice compares with the CV folds (`validation_vs_folds`), the decision threshold's source, the
cv step's notes (random folds optimistic on drifting data), and how different the test period is from training
(split.json `train_vs_test`: the adversarial ROC-AUC, label shift, shifted features). This module turns that evidence
into a few plain sentences and concrete next steps (train.recency_half_life, a time split, ...), for
reports/promotion.{json,md}, the promote log and the run summary. Pure: numbers and report fields in, text out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tasks.modelling.reports import ChoiceSource, TrainReport
from tasks.reporting.promotion_report import LossDiagnosis

LIFT_RULE = "lift over baseline"  # tasks.evaluation.gate.lift_rule's name
FEW_TREES = 10  # a refit of at most this many trees is "a handful"
SEPARABLE_AUC = 0.7  # adversarial ROC-AUC at or above which test rows are easy to tell from training rows
LABEL_PSI = 0.1  # label PSI at or above which the label's distribution moved


def lost_to_baseline(rules: Sequence[Any]) -> Any | None:
    """Return the failed lift-over-baseline RuleResult, or None when the challenger did not lose to the baseline."""
    return next((r for r in rules if r.rule == LIFT_RULE and r.passed is False), None)


def tree_evidence(train: TrainReport | None) -> tuple[list[str], bool]:
    """Return sentences on the refit's tree count and whether it is a handful of trees."""
    if train is None:
        return [], False
    trees, tc = train.refit.n_estimators if train.refit else train.best_iteration, train.tree_count
    line = f"the shipped LightGBM has {trees} trees"
    if tc:
        median = tc.fold_median if tc.fold_median is not None else "-"
        line += (
            f" (validation stopped at {tc.validation_best_iteration}, the CV folds' median is "
            f"{median}; followed: {tc.source.value})"
        )
    return [line], trees <= FEW_TREES


def slice_evidence(train: TrainReport | None) -> tuple[list[str], bool]:
    """Return sentences on the validation slice against the folds, and whether the slice is an outlier."""
    if train is None:
        return [], False
    vf, th = train.validation_vs_folds, train.threshold_choice
    lines = [vf.why] if vf.why and vf.folds else []
    if th is not None and th.source is ChoiceSource.FOLDS:
        lines.append(th.why)
    return lines, vf.outlier


def shift_evidence(train_vs_test: Mapping[str, Any], shifted: Sequence[str]) -> tuple[list[str], bool]:
    """Return sentences on how far the test period is from training, and whether it drifted."""
    lines, drifted = [], False
    adv = train_vs_test.get("adversarial") or {}
    auc = adv.get("roc_auc")
    if auc is not None:
        drifted = auc >= SEPARABLE_AUC
        top = ", ".join(str(f.get("feature")) for f in (adv.get("top_features") or [])[:3])
        lines.append(
            f"a classifier tells test rows from training rows with ROC-AUC {auc:.3f}"
            + (
                f" (mostly by {top}): the test period differs from training"
                if drifted and top
                else ": the test period differs from training"
                if drifted
                else ": no clear shift"
            )
        )
    label_psi = (train_vs_test.get("label") or {}).get("psi")
    if label_psi is not None and label_psi >= LABEL_PSI:
        drifted = True
        lines.append(f"the label's distribution moved from training to test (PSI {label_psi:.3f})")
    if shifted:
        lines.append(f"features shifted from training to test (unexcused): {', '.join(shifted[:5])}")
    return lines, drifted


def next_steps(strategy: str | None, few_trees: bool, outlier: bool, drifted: bool, recency: float | None) -> list[str]:
    """Return what to try, most specific first."""
    steps = []
    if strategy == "random" and (drifted or outlier):
        steps.append(
            "the split is random but the data looks time-ordered: hold out the latest period "
            "(split.strategy: time with data.time_column, or row_order when the file is in time order)"
        )
    if (drifted or outlier or few_trees) and not recency:
        steps.append("weigh recent rows more: train.recency_half_life (e.g. 0.25, a quarter of the training period)")
    if few_trees:
        steps.append(
            "a handful of trees: check the folds in reports/cv.json; a lower train.lightgbm.learning_rate "
            "or more train.lightgbm.early_stopping_rounds give early stopping more room"
        )
    if drifted:
        steps.append(
            "drop or excuse the features that moved most (split.expected_shift, data.drop_columns) if "
            "they will not look like training at prediction time"
        )
    steps.append("the linear baseline may simply fit this table better: compare both on reports/cv.json's folds")
    return steps


def diagnose_loss(
    rules: Sequence[Any],
    primary: str,
    train: TrainReport | None,
    strategy: str | None,
    train_vs_test: Mapping[str, Any] | None,
    shifted: Sequence[str],
    cv_notes: Sequence[str],
) -> LossDiagnosis | None:
    """Return the diagnosis when the gate's lift-over-baseline rule failed, else None.

    rules: the gate's RuleResults; train: train.json (None when train has not run); strategy: split.strategy; train_vs_test: split.json's
    evidence; shifted: unexcused shifted features; cv_notes: cv.json's notes. Whether recent rows were already
    weighted more is train.json's `recency_half_life`.
    """
    lost = lost_to_baseline(rules)
    if lost is None:
        return None
    trees, few = tree_evidence(train)
    slice_lines, outlier = slice_evidence(train)
    shift_lines, drifted = shift_evidence(train_vs_test or {}, shifted)
    lift = lost.value if lost.value is not None else float("nan")
    head = (
        f"the challenger loses to the linear baseline on {primary} by {abs(lift):.4f}"
        if not lift >= 0
        else f"the challenger beats the linear baseline on {primary} by only {lift:.4f} (the gate needs {lost.threshold:g})"
    )
    evidence = [head, *trees, *slice_lines, *shift_lines, *cv_notes]
    return LossDiagnosis(
        lost_to="baseline",
        primary_metric=primary,
        lift=lost.value,
        evidence=evidence,
        try_next=next_steps(strategy, few, outlier, drifted, train.recency_half_life if train else None),
    )


def diagnosis_markdown(d: LossDiagnosis | None) -> list[str]:
    """Return the promotion.md section on why the model lost to the baseline (nothing when it did not)."""
    if d is None:
        return []
    return [
        "",
        f"## Why the model lost to the {d.lost_to}",
        "",
        "What the reports show:",
        *[f"- {e}" for e in d.evidence],
        "",
        "What to try:",
        *[f"- {s}" for s in d.try_next],
    ]
