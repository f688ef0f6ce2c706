"""Fit FLAML or AutoGluon on one benchmark table under a time budget and write its test scores (run by bench_quality.py).

    <automl-python> benchmarks/automl_runner.py WORKDIR

WORKDIR holds fit.parquet and test.parquet (features plus the encoded label `__label__`) and spec.json
({"tool": "flaml"|"autogluon", "task", "budget_seconds", "categorical": [...], "n_jobs"}). Writes scores.parquet
(one column per score: `score` for binary and regression, `p0..pk` for multiclass) and result.json (seconds,
best model). Imports nothing of tabgate: it runs in whatever interpreter has the AutoML tool, for AutoGluon a
separate venv, because autogluon.tabular pins pandas < 2.4 and tabgate's venv has pandas 3 (docs/quality.md).
CPU only; AutoGluon without neural networks (NN_TORCH and FASTAI excluded, torch is not installed).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LABEL = "__label__"


def read_frames(work: Path, categorical: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the fit and test frames with the categorical columns as pandas categories of the fit part's values."""
    fit, test = pd.read_parquet(work / "fit.parquet"), pd.read_parquet(work / "test.parquet")
    for c in categorical:
        cats = sorted(fit[c].dropna().astype(str).unique())
        fit[c] = pd.Categorical(
            fit[c].astype("object").where(fit[c].notna()).map(lambda v: v if v is None else str(v)), categories=cats
        )
        seen = test[c].astype("object").where(test[c].notna()).map(lambda v: v if v is None else str(v))
        test[c] = pd.Categorical(seen.where(seen.isin(cats)), categories=cats)
    return fit, test


def run_flaml(task: str, fit: pd.DataFrame, test: pd.DataFrame, budget: float, n_jobs: int) -> tuple[np.ndarray, str]:
    """Return FLAML's test scores and best estimator after `budget` seconds of AutoML on fit."""
    from flaml import AutoML

    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    automl = AutoML()
    automl.fit(
        fit.drop(columns=[LABEL]),
        fit[LABEL].to_numpy(),
        task="regression" if task == "regression" else "classification",
        metric=metric,
        time_budget=budget,
        n_jobs=n_jobs,
        seed=0,
        verbose=0,
    )
    x = test.drop(columns=[LABEL])
    scores = automl.predict(x) if task == "regression" else automl.predict_proba(x)
    return np.asarray(scores), str(automl.best_estimator)


def run_autogluon(task: str, fit: pd.DataFrame, test: pd.DataFrame, budget: float, n_jobs: int) -> tuple[np.ndarray, str]:
    """Return AutoGluon's test scores (medium_quality, no neural nets, CPU) and best model after `budget` seconds."""
    from autogluon.tabular import TabularPredictor

    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "root_mean_squared_error"}[task]
    predictor = TabularPredictor(
        label=LABEL, problem_type=task, eval_metric=metric, verbosity=0, path=tempfile.mkdtemp(prefix="tabgate-autogluon-models-")
    )
    predictor.fit(
        fit, time_limit=budget, presets="medium_quality", excluded_model_types=["NN_TORCH", "FASTAI"], num_cpus=n_jobs, num_gpus=0
    )
    x = test.drop(columns=[LABEL])
    best = f"{predictor.model_best} of {','.join(predictor.model_names())}"
    if task == "regression":
        scores = predictor.predict(x).to_numpy()
    else:
        proba = predictor.predict_proba(x)
        scores = proba[sorted(proba.columns)].to_numpy()  # columns are the encoded labels 0..k-1
    shutil.rmtree(predictor.path, ignore_errors=True)  # the fitted models are not needed after scoring
    return scores, best


def main(work: Path) -> None:
    spec = json.loads((work / "spec.json").read_text())
    fit, test = read_frames(work, spec["categorical"])
    runner = {"flaml": run_flaml, "autogluon": run_autogluon}[spec["tool"]]
    t0 = time.perf_counter()
    scores, best = runner(spec["task"], fit, test, float(spec["budget_seconds"]), int(spec["n_jobs"]))
    seconds = time.perf_counter() - t0
    if spec["task"] == "binary" and scores.ndim == 2:
        scores = scores[:, 1]
    cols = {"score": scores} if scores.ndim == 1 else {f"p{i}": scores[:, i] for i in range(scores.shape[1])}
    pd.DataFrame(cols).to_parquet(work / "scores.parquet")
    (work / "result.json").write_text(json.dumps({"seconds": round(seconds, 2), "best_model": best}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
