"""Evaluate: segments from one factorisation, intervals of both models from shared resamples and scores with one
transform per preprocessor give exactly the numbers of the former one-at-a-time code (kept here as references)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from tasks import preprocess, split, train
from tasks.core import io, metrics
from tasks.core.config import DataParams, EvaluateParams
from tasks.core.metrics import (
    binary_bootstrap_intervals,
    bootstrap_interval,
    compute_metrics,
    single_metric,
)
from tasks.evaluation import holdout
from tasks.modelling import bundle
from tasks.modelling.bundle import load_bundle
from tests.conftest import make_config, synthetic_frame


def reference_segments(test, y, scores, threshold, data, p):
    """The former segment_metrics: one string comparison per segment value."""
    out = {}
    for col in data.segment_columns:
        if col not in test.columns:
            continue
        keys = test[col].astype("string").fillna("<missing>").to_numpy()
        per_value = {}
        for value in pd.unique(keys):
            mask = keys == value
            if mask.sum() < p.segment_min_rows:
                continue
            try:
                m = compute_metrics(data.task, y[mask], scores[mask], threshold)
            except ValueError:
                continue
            per_value[str(value)] = {"rows": int(mask.sum()), **{k: m[k] for k in metrics.HEADLINE[data.task] if k in m}}
        out[col] = dict(sorted(per_value.items()))
    return out


def reference_intervals(task, y, scores, threshold, p):
    """The one-model-at-a-time intervals (test rows below evaluate.bootstrap_max_rows: the ordinary bootstrap)."""
    info = {"method": "bootstrap", "rows": len(y), "resample_rows": len(y), "resamples": p.bootstrap_samples}
    if task == "binary":
        names = [n for n in metrics.HEADLINE[task] if n != "roc_auc"]
        boot = binary_bootstrap_intervals(y, scores, threshold, names, p.bootstrap_samples, p.random_state)
        return {"roc_auc": metrics.delong_interval(y, scores), **{n: {**iv, **info} for n, iv in boot.items()}}
    out = {}
    for name in metrics.HEADLINE[task]:
        metric = single_metric(task, name)
        out[name] = {
            **bootstrap_interval(
                lambda idx: metric(y[idx], scores[idx], threshold),  # noqa: B023
                len(y),
                p.bootstrap_samples,
                p.random_state,
            ),
            **info,
        }
    return out


def segment_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue", "grey"], size=n, p=[0.5, 0.3, 0.19, 0.01]),
            "code": rng.choice([1.0, 2.0, 3.5, np.nan], size=n),
            "flag": pd.Categorical(rng.choice(["a", "b"], size=n)),
        }
    )
    df.loc[rng.random(n) < 0.05, "colour"] = None
    df.loc[:19, "colour"] = "twenty"  # exactly segment_min_rows rows: reported
    return df


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_segment_metrics_match_the_per_value_comparison(task):
    rng = np.random.default_rng(1)
    test = segment_frame(800, 2)
    if task == "binary":
        y, scores = (rng.random(800) < 0.3).astype(int), rng.random(800)
        y[test["colour"].to_numpy() == "blue"] = 0  # one segment with a single class: roc_auc is nan there
    elif task == "multiclass":
        y, scores = rng.integers(0, 3, 800), rng.dirichlet(np.ones(3), 800)
    else:
        y, scores = rng.normal(size=800), rng.normal(size=800)
    data = DataParams(target="label", task=task, segment_columns=["colour", "code", "flag", "absent"])
    p = EvaluateParams(segment_min_rows=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = holdout.segment_metrics(test, y, scores, 0.4, data, p)
        expected = reference_segments(test, y, scores, 0.4, data, p)
    assert got.keys() == expected.keys() and got["colour"].keys() == expected["colour"].keys()
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)  # NaN-aware, every digit
    assert "grey" not in got["colour"] and {"<missing>", "twenty"} <= set(got["colour"])


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_model_intervals_are_each_models_own_intervals(task):
    rng = np.random.default_rng(3)
    n = 500
    if task == "binary":
        y = (rng.random(n) < 0.35).astype(int)
        models = {"lightgbm": (np.round(rng.random(n), 2), 0.4), "baseline": (rng.random(n), 0.55)}
    elif task == "multiclass":
        y = rng.integers(0, 3, n)
        models = {"lightgbm": (rng.dirichlet(np.ones(3), n), 0.5), "baseline": (rng.dirichlet(np.ones(3), n), 0.5)}
    else:
        y = rng.normal(size=n)
        models = {"lightgbm": (y + rng.normal(size=n), 0.5), "baseline": (rng.normal(size=n), 0.5)}
    p = EvaluateParams(bootstrap_samples=40, random_state=9)
    got = holdout.model_intervals(task, y, models, p)
    assert got == {m: reference_intervals(task, y, s, t, p) for m, (s, t) in models.items()}
    assert got["lightgbm"] == holdout.metric_intervals(task, y, *models["lightgbm"], p)


def test_scores_of_every_model_are_its_own_predictions(tmp_path):
    cfg = make_config(tmp_path)
    io.write_frame(synthetic_frame(n=900, seed=12), cfg.paths.ingested)
    for step in (split, preprocess, train):
        step.run(cfg)
    models = {name: load_bundle(cfg.paths.models_dir / name) for name in bundle.MODEL_NAMES}
    models["copy"] = load_bundle(cfg.paths.models_dir / "lightgbm")
    test = io.read_frame(cfg.paths.test)
    got = holdout.score_models(models, test)
    assert got.keys() == models.keys()
    for name, b in models.items():
        np.testing.assert_array_equal(got[name], b.predict_scores(test))
