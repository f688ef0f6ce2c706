"""Training: fit the lightgbm, baseline and dummy bundles on the train split, choose thresholds and score them on
the validation slice (never the test set).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.core.config import ComputeParams, DataParams, TrainParams
from tasks.core.metrics import choose_threshold, compute_metrics
from tasks.core.schema import FeatureTypes, encode_target, label_classes
from tasks.modelling import drift_choices
from tasks.modelling.bundle import (
    ModelBundle,
    score_bundles,
)
from tasks.modelling.compute import LocalLightGBM, lightgbm_trainer
from tasks.modelling.estimators import (
    baseline_fit_rows,
    fit_dummy,
    fit_linear,
    recency_weights,
    refit_rounds,
    resolve_class_weight,
)
from tasks.modelling.integrity import load_skops_bytes, read_verified_dir

log = logging.getLogger(__name__)
TRAINING_VERSION = "1"  # the train step's version, recorded in every bundle's meta


@dataclass(frozen=True)
class Labels:
    """Encoded labels and what the codes mean."""

    y: np.ndarray
    classes: list


def model_meta(kind: str, data: DataParams, ft: FeatureTypes, labels: Labels, train_df: pd.DataFrame) -> dict:
    """Return the description saved with a model: label, classes, features and their input types."""
    return {
        "kind": kind,
        "task": data.task,
        "target": data.target,
        "classes": labels.classes,
        "positive_label": labels.classes[-1] if data.task == "binary" else None,
        "features": ft.all,
        "numeric": list(ft.numeric),
        "categorical": list(ft.categorical),
        "input_schema": {c: ("numeric" if c in ft.numeric else "categorical") for c in ft.all},
        "train_rows": int(len(train_df)),
        "step_version": TRAINING_VERSION,
    }


def with_threshold(bundle: ModelBundle, valid_scores: np.ndarray, y_valid: np.ndarray, objective: str) -> ModelBundle:
    """Return the bundle with its decision threshold chosen on its scores of the validation rows (binary only)."""
    if bundle.task != "binary":
        return bundle
    threshold = choose_threshold(y_valid, valid_scores, objective)
    return ModelBundle(bundle.kind, bundle.preprocessor, bundle.estimator, {**bundle.meta, "threshold": threshold})


def threshold_from_evidence(bundle: ModelBundle, fold_thresholds: list[float]) -> tuple[ModelBundle, dict | None]:
    """Return the bundle with the threshold drift_choices.choose_threshold ships (the validation slice's, or the CV
    folds' median when the two are far apart) and the evidence; (bundle, None) for tasks without a threshold."""
    if bundle.task != "binary" or bundle.meta.get("threshold") is None:
        return bundle, None
    chosen, evidence = drift_choices.choose_threshold(float(bundle.meta["threshold"]), fold_thresholds)
    if evidence["source"] == "folds":
        log.warning("train: %s", evidence["why"])
    return ModelBundle(bundle.kind, bundle.preprocessor, bundle.estimator, {**bundle.meta, "threshold": chosen}), evidence


# The tree count rule (issue 24). Early stopping on the validation slice is one draw: on a table that drifts, the
# latest slice can stop after a handful of trees while every CV fold of the scheme the split implies (walk-forward for
# time and row-order splits) wants far more. We therefore keep validation's count when it agrees with the folds, and
# follow the folds -- the median of their best iterations, floored at TREE_FLOOR -- when the two disagree by more than
# DISAGREEMENT_RATIO either way. The median of several folds is what a single drifting slice cannot swing; the ratio
# keeps the count unchanged on stable tables, where the slice and the folds agree. The choice and why go to train.json.
DISAGREEMENT_RATIO = 3.0
TREE_FLOOR = 10


def choose_tree_count(valid_best: int, fold_best: list[int] | None, n_estimators: int) -> tuple[int, dict]:
    """Return the early-stopping count to refit from (validation's, or the folds' median when they disagree sharply)
    and the evidence: best iteration per fold, validation's, the chosen count and why."""
    evidence: dict = {"validation_best_iteration": int(valid_best), "fold_best_iterations": list(fold_best or [])}
    if not fold_best:
        return int(valid_best), evidence | {
            "chosen": int(valid_best),
            "source": "validation",
            "why": "no CV folds of the implied scheme to compare with",
        }
    median = int(np.median(fold_best))
    ratio = max(median, 1) / max(valid_best, 1)
    evidence |= {"fold_median": median, "ratio_folds_to_validation": round(ratio, 3)}
    if ratio > DISAGREEMENT_RATIO or ratio < 1 / DISAGREEMENT_RATIO:
        chosen = max(median, min(TREE_FLOOR, n_estimators))
        return chosen, evidence | {
            "chosen": chosen,
            "source": "folds",
            "why": (
                f"validation stopped at {valid_best} trees, the folds' median is {median} (ratio {ratio:.2f}, beyond "
                f"{DISAGREEMENT_RATIO:g}x): one drifting slice disagrees with the folds, so the folds decide"
            ),
        }
    return int(valid_best), evidence | {
        "chosen": int(valid_best),
        "source": "validation",
        "why": (f"validation ({valid_best}) and the folds' median ({median}) agree within {DISAGREEMENT_RATIO:g}x"),
    }


def fit_models(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    pre: dict,
    ft: FeatureTypes,
    data: DataParams,
    p: TrainParams,
    compute: ComputeParams | None = None,
    fold_best: list[int] | None = None,
) -> tuple[dict[str, ModelBundle], dict[str, np.ndarray]]:
    """Return train_models' bundles and their scores of the validation rows (scored once: thresholds and metrics).

    fold_best (the CV folds' best iterations) decides the refit's tree count with validation's (choose_tree_count).
    """
    classes = label_classes(train[data.target], data)
    y_train = encode_target(train[data.target], classes, data)
    y_valid = encode_target(valid[data.target], classes, data)
    labels = Labels(y_train, classes)
    cw = resolve_class_weight(y_train, data.task, p)
    with lightgbm_trainer(compute) as trainer:
        lgbm = trainer.fit(
            pre["tree"],
            train,
            y_train,
            valid,
            y_valid,
            ft,
            data.task,
            p.lightgbm,
            cw,
            p.random_state,
            recency_weights(time_key(train, data), len(train), p.recency_half_life),
        )
        meta = lambda kind: model_meta(kind, data, ft, labels, train) | {"class_weight": cw}
        bundles = {
            "lightgbm": ModelBundle(
                "lightgbm",
                pre["tree"],
                lgbm.booster_,
                meta("lightgbm") | {"best_iteration": int(lgbm.best_iteration_ or p.lightgbm.n_estimators)},
            ),
            "baseline": ModelBundle(
                "linear",
                pre["linear"],
                fit_linear(pre["linear"], train, y_train, ft, data.task, p, cw),
                meta("linear") | {"fit_rows": baseline_fit_rows(len(train), p)},
            ),
            "dummy": ModelBundle("dummy", pre["linear"], fit_dummy(pre["linear"], train, y_train, ft, data.task), meta("dummy")),
        }
        scores = score_bundles(bundles, valid)
        bundles = {name: with_threshold(b, scores[name], y_valid, p.threshold_objective) for name, b in bundles.items()}
        if p.refit:
            bundles["lightgbm"] = refitted_bundle(
                bundles["lightgbm"], trainer, pre["tree"], train, y_train, valid, y_valid, ft, data.task, p, cw, fold_best, data
            )
    return bundles, scores


def refitted_bundle(
    es_bundle: ModelBundle,
    trainer: LocalLightGBM,
    pre,
    train: pd.DataFrame,
    y_train: np.ndarray,
    valid: pd.DataFrame,
    y_valid: np.ndarray,
    ft: FeatureTypes,
    task: str,
    p: TrainParams,
    cw: str | None,
    fold_best: list[int] | None = None,
    data: DataParams | None = None,
) -> ModelBundle:
    """Return the early-stopped bundle's model refitted (by trainer) on train + valid with its best iteration scaled
    to the rows.

    The decision threshold and the validation metrics stay those of the early-stopped model (chosen on rows it did
    not see); the refitted model has seen the validation rows, so its own validation scores would flatter it.
    """
    best, evidence = choose_tree_count(int(es_bundle.meta["best_iteration"]), fold_best, p.lightgbm.n_estimators)
    if evidence["source"] == "folds":
        log.warning("train: %s", evidence["why"])
    rounds = refit_rounds(best, len(train), len(train) + len(valid))
    both = pd.concat([train, valid], ignore_index=True) if p.recency_half_life and data else train
    weights = recency_weights(time_key(both, data), len(both), p.recency_half_life) if data else None
    est = trainer.refit(pre, train, y_train, valid, y_valid, ft, task, p.lightgbm, cw, p.random_state, rounds, weights)
    refit = {
        "rows": int(len(train) + len(valid)),
        "early_stopping_iteration": int(es_bundle.meta["best_iteration"]),
        "n_estimators": rounds,
        "tree_count": evidence,
    }
    log.info(
        "train: LightGBM refitted on train + valid (%d rows) with %d trees (early stopping chose %d on %d rows)",
        refit["rows"],
        rounds,
        best,
        len(train),
    )
    return ModelBundle(
        es_bundle.kind,
        es_bundle.preprocessor,
        est.booster_,
        {**es_bundle.meta, "best_iteration": rounds, "train_rows": refit["rows"], "refit": refit},
    )


def time_key(df: pd.DataFrame, data: DataParams | None) -> pd.Series | None:
    """Return df's time column for recency_weights, or None: the row position is then the clock."""
    col = data.time_column if data else None
    return df[col].reset_index(drop=True) if col and col in df.columns else None


def train_models(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    pre: dict,
    ft: FeatureTypes,
    data: DataParams,
    p: TrainParams,
    compute: ComputeParams | None = None,
) -> dict[str, ModelBundle]:
    """Return the lightgbm, baseline and dummy bundles, fitted on train (early stopping and thresholds on valid).

    With train.refit (the default) LightGBM is then refitted on train + valid with the early-stopped number of
    trees scaled to the rows (refitted_bundle); its threshold stays the one chosen on valid before the refit.

    The baseline is fitted on at most train.baseline_max_rows of the rows (fit_linear). compute.lightgbm_dask
    fits and refits LightGBM with lightgbm.dask instead (tasks.modelling.compute.DaskLightGBM: close to, not
    bit-identical with, the local fit).
    """
    return fit_models(train, valid, pre, ft, data, p, compute)[0]


def validation_metrics(
    bundles: dict[str, ModelBundle], valid: pd.DataFrame, data: DataParams, scores: dict[str, np.ndarray] | None = None
) -> dict:
    """Return each model's metrics on the validation slice (never the test set), from its scores of it if given."""
    scores = score_bundles(bundles, valid) if scores is None else scores
    out = {}
    for name, b in bundles.items():
        y = encode_target(valid[data.target], b.meta["classes"], data)
        out[name] = compute_metrics(data.task, y, scores[name], b.meta.get("threshold", 0.5))
    return out


def load_preprocessors(pre_dir: Path) -> tuple[dict, FeatureTypes]:
    """Return the fitted preprocessors saved by the preprocess step and their feature types.

    Every file is checked against the step's manifest.json and built from the bytes checked
    (tasks.modelling.integrity); ModelIntegrityError names a file that differs.
    """
    files = read_verified_dir(Path(pre_dir))
    features = json.loads(files["features.json"].decode("utf-8"))
    ft = FeatureTypes(tuple(features["numeric"]), tuple(features["categorical"]))
    return {kind: load_skops_bytes(files[f"{kind}.skops"], Path(pre_dir) / f"{kind}.skops") for kind in ("linear", "tree")}, ft
