"""Train quality (issue 14): one objective (no weights unless asked, early stopping on the gate's metric), the final
model refitted on train + valid with the scaled best iteration, and a model file that does not depend on the machine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tasks import preprocess, split, train
from tasks.core import io
from tasks.core.config import LightGBMParams, PreprocessParams, TrainParams
from tasks.core.schema import encode_target, infer_feature_types, label_classes
from tasks.modelling import estimators
from tasks.modelling.bundle import load_bundle
from tasks.modelling.preprocessing import build_tree_preprocessor
from tests.conftest import make_config, synthetic_frame


def tree_inputs(task: str = "binary", n: int = 900, seed: int = 3):
    """Return (fit frame, its labels, early-stopping frame, its labels, feature types, fitted tree preprocessor, cfg)."""
    cfg = make_config(__import__("pathlib").Path("/nonexistent"), task=task)
    df = synthetic_frame(n=n, seed=seed, task=task)
    ft = infer_feature_types(df, cfg.data)
    y = encode_target(df[cfg.data.target], label_classes(df[cfg.data.target], cfg.data), cfg.data)
    cut = int(n * 0.75)
    pre = build_tree_preprocessor(ft, PreprocessParams(min_category_frequency=1)).fit(df.iloc[:cut][ft.all])
    return df.iloc[:cut], y[:cut], df.iloc[cut:], y[cut:], ft, pre, cfg


def test_class_weights_only_when_asked():
    imbalanced = np.array([0] * 90 + [1] * 10)
    assert TrainParams().class_weight == "none"
    assert estimators.resolve_class_weight(imbalanced, "binary", TrainParams()) is None
    assert estimators.resolve_class_weight(imbalanced, "binary", TrainParams(class_weight="auto")) == "balanced"


@pytest.mark.parametrize("task,metric", [("binary", "auc"), ("multiclass", "multi_logloss"), ("regression", "rmse")])
def test_early_stopping_watches_only_the_gates_metric(task, metric):
    fit_df, y_fit, es_df, y_es, ft, pre, _ = tree_inputs(task)
    est = estimators.fit_lightgbm(
        pre, fit_df, y_fit, es_df, y_es, ft, task, LightGBMParams(n_estimators=200, early_stopping_rounds=20), None, 0
    )
    assert estimators.early_stopping_metric(task) == metric
    assert list(est.evals_result_["valid_0"]) == [metric]


def test_weighted_training_stops_where_the_unweighted_gate_metric_peaks():
    """With class_weight balanced the model trains on a weighted loss; early stopping must still pick the iteration
    with the best unweighted ROC-AUC on the early-stopping rows (what the gate judges), not a weighted or log loss."""
    fit_df, y_fit, es_df, y_es, ft, pre, _ = tree_inputs("binary", n=1200, seed=8)
    keep = np.flatnonzero((y_fit == 0) | (np.arange(len(y_fit)) % 4 == 0))  # about 4:1 imbalance
    fit_df, y_fit = fit_df.iloc[keep], y_fit[keep]
    lp = LightGBMParams(n_estimators=300, learning_rate=0.2, num_leaves=15, min_child_samples=5, early_stopping_rounds=300)
    est = estimators.fit_lightgbm(pre, fit_df, y_fit, es_df, y_es, ft, "binary", lp, "balanced", 0)
    x_es = pre.transform(es_df[ft.all])
    watched = est.evals_result_["valid_0"]["auc"]
    best = est.best_iteration_
    assert best == int(np.argmax(watched)) + 1 < len(watched)
    # the watched values are the plain (unweighted) ROC-AUC of the kept trees' scores, as the gate computes it
    aucs = [roc_auc_score(y_es, est.predict_proba(x_es, num_iteration=k)[:, 1]) for k in range(1, best + 1)]
    np.testing.assert_allclose(watched[:best], aucs, atol=1e-3)  # LightGBM breaks ties among equal scores its own way


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_final_model_is_refitted_on_train_and_valid_with_the_scaled_best_iteration(tmp_path, task):
    cfg = make_config(tmp_path, task=task)
    io.write_frame(synthetic_frame(n=900, seed=11, task=task), cfg.paths.ingested)
    split.run(cfg)
    preprocess.run(cfg)
    report = train.run(cfg)
    n_train, n_valid = report.train_rows, report.valid_rows
    bundle = load_bundle(cfg.paths.models_dir / "lightgbm")
    refit = bundle.meta["refit"]
    expected = estimators.refit_rounds(refit["early_stopping_iteration"], n_train, n_train + n_valid)
    assert expected == round(refit["early_stopping_iteration"] * (n_train + n_valid) / n_train)
    assert refit["n_estimators"] == expected == bundle.meta["best_iteration"] == report.best_iteration
    assert bundle.estimator.current_iteration() == expected  # all trees are used, none trained past the count
    trees = bundle.estimator.dump_model()["tree_info"]
    assert {t["tree_structure"].get("internal_count", t["tree_structure"].get("leaf_count")) for t in trees[:3]} == {
        n_train + n_valid
    }  # every row of train + valid reached the root (no bagging by default)
    assert refit["rows"] == n_train + n_valid == bundle.meta["train_rows"]


def test_refit_keeps_the_threshold_chosen_before_it_and_can_be_switched_off(tmp_path):
    cfg = make_config(tmp_path)
    io.write_frame(synthetic_frame(n=900, seed=12), cfg.paths.ingested)
    split.run(cfg)
    preprocess.run(cfg)
    refitted = train.run(cfg)
    plain = train.run(cfg.model_copy(update={"train": cfg.train.model_copy(update={"refit": False})}))
    assert plain.refit is None and refitted.refit is not None and refitted.refit.early_stopping_iteration == plain.best_iteration
    assert refitted.thresholds == plain.thresholds
    assert refitted.validation_metrics == plain.validation_metrics  # honest: measured before the refit


def test_model_file_does_not_depend_on_the_machines_core_count(monkeypatch):
    """The thread count comes from params (lightgbm.num_threads), so the model text is the same on any machine."""
    import os

    rng = np.random.default_rng(0)
    n = 24_000  # above the one-thread cut-off, so num_threads is used
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.integers(0, 5, n).astype(float)})
    df["label"] = (df.a + df.b * df.c + rng.logistic(size=n) > 0).astype(int)
    df["when"] = pd.Timestamp("2020-01-01")
    cfg = make_config(__import__("pathlib").Path("/nonexistent"))
    ft = infer_feature_types(df, cfg.data)
    pre = build_tree_preprocessor(ft, PreprocessParams()).fit(df[ft.all])
    y = df["label"].to_numpy()
    lp = LightGBMParams(n_estimators=15, subsample=0.8, colsample_bytree=0.8)
    texts = []
    for cores in (1, 16):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        monkeypatch.setenv("OMP_NUM_THREADS", str(cores))
        est = estimators.fit_lightgbm(pre, df.iloc[:20_000], y[:20_000], df.iloc[20_000:], y[20_000:], ft, "binary", lp, None, 0)
        texts.append(est.booster_.model_to_string())
    assert texts[0] == texts[1]
    assert f"[num_threads: {lp.num_threads}]" in texts[0]


def test_the_shipped_model_file_records_determinism_and_the_seed_of_params(tmp_path):
    """The train step's LightGBM model is deterministic by construction: the flags and train.random_state are in the
    model file itself (force_row_wise and deterministic fix the histogram path; the seed fixes bagging)."""
    cfg = make_config(
        tmp_path,
        train={"random_state": 7, "lightgbm": {"n_estimators": 20, "num_leaves": 7, "subsample": 0.8, "subsample_freq": 1}},
    )
    io.write_frame(synthetic_frame(n=600, seed=4), cfg.paths.ingested)
    for step in (split, preprocess, train):
        step.run(cfg)
    text = (cfg.paths.models_dir / "lightgbm" / "model.txt").read_text()
    for flag in ("[deterministic: 1]", "[force_row_wise: 1]", "[seed: 7]", "[num_threads: 1]"):
        assert flag in text, flag
    first = (cfg.paths.models_dir / "lightgbm" / "model.txt").read_bytes()
    train.run(cfg)
    assert (cfg.paths.models_dir / "lightgbm" / "model.txt").read_bytes() == first  # same seed, same bytes
