"""Train: a dummy and a linear baseline, and LightGBM with early stopping on the validation slice.

The fitting functions here are shared with cv, which calls them inside every fold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tasks import io
from tasks.config import ComputeParams, Config, DataParams, LightGBMParams, TrainParams
from tasks.entry import step_main
from tasks.metrics import choose_threshold, compute_metrics
from tasks.model import PREPROCESSOR, ModelBundle, load_skops, predict_transformed, save_bundle
from tasks.sampling import baseline_rows
from tasks.schema import FeatureTypes, encode_target, label_classes

STEP_VERSION = "1"
log = logging.getLogger(__name__)
MODEL_NAMES = ("lightgbm", "baseline", "dummy")


@dataclass(frozen=True)
class Labels:
    """Encoded labels and what the codes mean."""

    y: np.ndarray
    classes: list


def resolve_class_weight(y: np.ndarray, task: str, p: TrainParams) -> str | None:
    """Return 'balanced' when asked, or when `auto` and the majority/minority ratio exceeds imbalance_ratio."""
    if task == "regression" or p.class_weight == "none":
        return None
    if p.class_weight == "balanced":
        return "balanced"
    counts = np.bincount(y)
    counts = counts[counts > 0]
    return "balanced" if counts.max() / counts.min() >= p.imbalance_ratio else None


def lightgbm_threads(n_rows: int) -> int:
    """Return LightGBM's thread count: one for small data (OpenMP overhead dominates), else the cores."""
    import os

    return 1 if n_rows < 20_000 else max(1, min(os.cpu_count() or 1, 8))


def lightgbm_estimator(task: str, lp: LightGBMParams, class_weight: str | None, random_state: int, n_jobs: int = 1):
    """Return an unfitted, deterministic LightGBM scikit-learn estimator for the task."""
    import lightgbm as lgb

    common = dict(
        n_estimators=lp.n_estimators, learning_rate=lp.learning_rate, num_leaves=lp.num_leaves,
        min_child_samples=lp.min_child_samples, subsample=lp.subsample, subsample_freq=lp.subsample_freq,
        colsample_bytree=lp.colsample_bytree, reg_lambda=lp.reg_lambda, random_state=random_state,
        deterministic=True, force_row_wise=True, n_jobs=n_jobs, verbose=-1,
    )
    if task == "regression":
        return lgb.LGBMRegressor(**common)
    return lgb.LGBMClassifier(class_weight=class_weight, **common)


def fit_lightgbm(pre, fit_df: pd.DataFrame, y_fit: np.ndarray, es_df: pd.DataFrame, y_es: np.ndarray,
                 ft: FeatureTypes, task: str, lp: LightGBMParams, class_weight: str | None, random_state: int):
    """Return a LightGBM estimator fitted on fit_df with early stopping on es_df (pre is already fitted)."""
    import lightgbm as lgb

    est = lightgbm_estimator(task, lp, class_weight, random_state, lightgbm_threads(len(fit_df)))
    est.fit(pre.transform(fit_df[ft.all]), y_fit, eval_X=(pre.transform(es_df[ft.all]),), eval_y=(y_es,),
            categorical_feature=list(ft.categorical) or "auto",
            callbacks=[lgb.early_stopping(lp.early_stopping_rounds, verbose=False)])
    return est


def baseline_fit_rows(n_rows: int, p: TrainParams) -> int:
    """Return how many rows fit_linear fits the baseline on: all, or train.baseline_max_rows of them."""
    return min(n_rows, p.baseline_max_rows)


def fit_linear(pre, fit_df: pd.DataFrame, y: np.ndarray, ft: FeatureTypes, task: str, p: TrainParams,
               class_weight: str | None):
    """Return a logistic regression (classification) or ridge regression fitted on fit_df (pre is already fitted).

    Fitted on baseline_rows of fit_df (all of them up to train.baseline_max_rows): only those rows are transformed.
    """
    from sklearn.linear_model import LogisticRegression, Ridge

    rows = baseline_rows(y, task, p.baseline_max_rows, p.random_state)
    if rows is not None:
        fit_df, y = fit_df.iloc[rows], y[rows]
    x = pre.transform(fit_df[ft.all])
    if task == "regression":
        return Ridge(alpha=1.0 / p.baseline_c).fit(x, y)
    return LogisticRegression(C=p.baseline_c, max_iter=p.baseline_max_iter, class_weight=class_weight).fit(x, y)


def fit_dummy(pre, fit_df: pd.DataFrame, y: np.ndarray, ft: FeatureTypes, task: str):
    """Return a model that predicts the training prior (classification) or mean (regression).

    The dummy reads only the shape of its input (and column names of a frame): unless pre outputs a frame, it is
    fitted on an all-zero sparse matrix as wide as pre's output (one row transformed), not on the transformed rows.
    """
    from scipy import sparse
    from sklearn.dummy import DummyClassifier, DummyRegressor

    first = pre.transform(fit_df[ft.all].iloc[:1])
    if isinstance(first, pd.DataFrame):
        x = pre.transform(fit_df[ft.all])
    else:
        x = sparse.csr_matrix((len(fit_df), first.shape[1]))
    return DummyRegressor(strategy="mean").fit(x, y) if task == "regression" else DummyClassifier(strategy="prior").fit(x, y)


def model_meta(kind: str, data: DataParams, ft: FeatureTypes, labels: Labels, train_df: pd.DataFrame) -> dict:
    """Return the description saved with a model: label, classes, features and their input types."""
    return {
        "kind": kind, "task": data.task, "target": data.target, "classes": labels.classes,
        "positive_label": labels.classes[-1] if data.task == "binary" else None,
        "features": ft.all, "numeric": list(ft.numeric), "categorical": list(ft.categorical),
        "input_schema": {c: ("numeric" if c in ft.numeric else "categorical") for c in ft.all},
        "train_rows": int(len(train_df)), "step_version": STEP_VERSION,
    }


def with_threshold(bundle: ModelBundle, valid_scores: np.ndarray, y_valid: np.ndarray, objective: str) -> ModelBundle:
    """Return the bundle with its decision threshold chosen on its scores of the validation rows (binary only)."""
    if bundle.task != "binary":
        return bundle
    threshold = choose_threshold(y_valid, valid_scores, objective)
    return ModelBundle(bundle.kind, bundle.preprocessor, bundle.estimator, {**bundle.meta, "threshold": threshold})


def input_key(bundle: ModelBundle) -> tuple:
    """Return what identifies a bundle's input matrix: its preprocessor (the saved file when loaded) and features.

    A dummy's scores do not depend on the rows' values, so every dummy shares one stand-in input.
    """
    if bundle.kind == "dummy":
        return ("dummy",)
    return (bundle.meta.get("checksums", {}).get(PREPROCESSOR) or id(bundle.preprocessor), tuple(bundle.features))


def score_bundles(bundles: dict[str, ModelBundle], df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return each bundle's predict_scores on df; df goes through each distinct preprocessor once."""
    from scipy import sparse

    keys = {name: input_key(b) for name, b in bundles.items()}
    last_use = {key: name for name, key in keys.items()}
    inputs: dict[tuple, object] = {}
    scores = {}
    for name, b in bundles.items():
        key = keys[name]
        if key not in inputs:
            inputs[key] = sparse.csr_matrix((len(df), 0)) if key == ("dummy",) else b.transform(df)
        scores[name] = predict_transformed(b, inputs[key])
        if last_use[key] == name:
            del inputs[key]
    return scores


def fit_models(train: pd.DataFrame, valid: pd.DataFrame, pre: dict, ft: FeatureTypes, data: DataParams, p: TrainParams,
               compute: ComputeParams | None = None) -> tuple[dict[str, ModelBundle], dict[str, np.ndarray]]:
    """Return train_models' bundles and their scores of the validation rows (scored once: thresholds and metrics)."""
    classes = label_classes(train[data.target], data)
    y_train = encode_target(train[data.target], classes, data)
    y_valid = encode_target(valid[data.target], classes, data)
    labels = Labels(y_train, classes)
    cw = resolve_class_weight(y_train, data.task, p)
    if compute is not None and compute.lightgbm_dask:
        from tasks.compute import fit_lightgbm_dask

        lgbm = fit_lightgbm_dask(pre["tree"], train, y_train, valid, y_valid, ft, data.task, p.lightgbm, cw, p.random_state,
                                 compute)
    else:
        lgbm = fit_lightgbm(pre["tree"], train, y_train, valid, y_valid, ft, data.task, p.lightgbm, cw, p.random_state)
    meta = lambda kind: model_meta(kind, data, ft, labels, train) | {"class_weight": cw}
    bundles = {
        "lightgbm": ModelBundle("lightgbm", pre["tree"], lgbm.booster_,
                                meta("lightgbm") | {"best_iteration": int(lgbm.best_iteration_ or p.lightgbm.n_estimators)}),
        "baseline": ModelBundle("linear", pre["linear"], fit_linear(pre["linear"], train, y_train, ft, data.task, p, cw),
                                meta("linear") | {"fit_rows": baseline_fit_rows(len(train), p)}),
        "dummy": ModelBundle("dummy", pre["linear"], fit_dummy(pre["linear"], train, y_train, ft, data.task), meta("dummy")),
    }
    scores = score_bundles(bundles, valid)
    return {name: with_threshold(b, scores[name], y_valid, p.threshold_objective) for name, b in bundles.items()}, scores


def train_models(train: pd.DataFrame, valid: pd.DataFrame, pre: dict, ft: FeatureTypes, data: DataParams,
                 p: TrainParams, compute: ComputeParams | None = None) -> dict[str, ModelBundle]:
    """Return the lightgbm, baseline and dummy bundles, fitted on train (early stopping and thresholds on valid).

    The baseline is fitted on at most train.baseline_max_rows of the rows (fit_linear). compute.lightgbm_dask
    trains LightGBM with lightgbm.dask instead (tasks.compute.fit_lightgbm_dask: close to, not bit-identical with,
    the local fit).
    """
    return fit_models(train, valid, pre, ft, data, p, compute)[0]


def validation_metrics(bundles: dict[str, ModelBundle], valid: pd.DataFrame, data: DataParams,
                       scores: dict[str, np.ndarray] | None = None) -> dict:
    """Return each model's metrics on the validation slice (never the test set), from its scores of it if given."""
    scores = score_bundles(bundles, valid) if scores is None else scores
    out = {}
    for name, b in bundles.items():
        y = encode_target(valid[data.target], b.meta["classes"], data)
        out[name] = compute_metrics(data.task, y, scores[name], b.meta.get("threshold", 0.5))
    return out


def load_preprocessors(pre_dir: Path) -> tuple[dict, FeatureTypes]:
    """Return the fitted preprocessors saved by the preprocess step and their feature types."""
    features = io.read_json(pre_dir / "features.json")
    ft = FeatureTypes(tuple(features["numeric"]), tuple(features["categorical"]))
    return {kind: load_skops(pre_dir / f"{kind}.skops") for kind in ("linear", "tree")}, ft


def tuned_params(train: pd.DataFrame, cfg: Config) -> tuple[TrainParams, dict | None]:
    """Return the train params with LightGBM's tuned by Optuna on the training split when enabled, and the trials."""
    if not cfg.train.tune.enabled:
        return cfg.train, None
    from tasks.tune import tune_lightgbm

    best, table = tune_lightgbm(train, cfg.data, cfg.train, cfg.cv, cfg.preprocess, cfg.split, cfg.compute)
    return cfg.train.model_copy(update={"lightgbm": best}), table


def run(cfg: Config) -> dict:
    """Fit the models on the train split, choose thresholds on valid, save the bundles and a report."""
    train, valid = io.read_frame(cfg.paths.train), io.read_frame(cfg.paths.valid)
    pre, ft = load_preprocessors(cfg.paths.preprocess_dir)
    params, tuning = tuned_params(train, cfg)
    log.info("train: fitting dummy, linear baseline and LightGBM on %d rows (%d features); the baseline on %d of "
             "them (train.baseline_max_rows)", len(train), len(ft.all), baseline_fit_rows(len(train), params))
    bundles, valid_scores = fit_models(train, valid, pre, ft, cfg.data, params, cfg.compute)
    for name, bundle in bundles.items():
        save_bundle(bundle, cfg.paths.models_dir / name)
    report = {
        "step_version": STEP_VERSION, "train_rows": int(len(train)), "valid_rows": int(len(valid)),
        "features": ft.all, "class_weight": bundles["lightgbm"].meta.get("class_weight"),
        "best_iteration": bundles["lightgbm"].meta["best_iteration"],
        "thresholds": {n: b.meta.get("threshold") for n, b in bundles.items()},
        "validation_metrics": validation_metrics(bundles, valid, cfg.data, valid_scores),
        "baseline_fit_rows": bundles["baseline"].meta["fit_rows"],
        "left_out_columns": dict(cfg.data.drop_columns),
        "lightgbm_params": params.lightgbm.model_dump(), "tuned": tuning is not None,
    }
    if cfg.compute.lightgbm_dask:
        report["lightgbm_trained_with"] = "lightgbm.dask (all rounds, best iteration chosen on valid afterwards)"
    if tuning is not None:
        report["tuning"] = {k: v for k, v in tuning.items() if k != "trials"}
    io.write_json(tuning or {"enabled": False}, cfg.paths.reports_dir / "tuning.json")
    io.write_json(report, cfg.paths.reports_dir / "train.json")
    log.info("train: LightGBM stopped at %d trees; validation %s", report["best_iteration"],
             {k: round(v, 4) for k, v in report["validation_metrics"]["lightgbm"].items() if k in ("roc_auc", "rmse", "log_loss")})
    return report


if __name__ == "__main__":
    step_main("train", run, __doc__)
