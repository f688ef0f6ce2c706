"""Drift options measured before adoption: recent rows weighted more (train.recency_half_life) and an ensemble of
the CV fold models, on the split files a bench_quality run left in its scratch projects.

    python benchmarks/bench_drift_options.py SCRATCH_DIR [SCRATCH_DIR ...] --out benchmarks/results/drift_options_dev.json

For each scratch project (a `tabgate-quality-<table>-*` folder of bench_quality, whose row names it in `scratch`):

- `tabgate`: train's fit as the train step does it (fit_models with the LightGBM values train.json records, tuned
  or not, and the CV folds' tree counts), scored on the test rows; it must equal the bench's tabgate number;
- `recency_<h>`: the same with train.recency_half_life = h;
- `folds`: the mean of the scores of the models the cv step fits in each fold of the scheme the split implies
  (walk-forward for time and row-order splits; fitted here the way cv fits them: params.yaml's LightGBM values,
  preprocessing refitted on the fold's rows), and `blend`: half the refitted model, half that mean.

Nothing here chooses anything: the numbers go to docs/quality.md, and a choice is made on the dev set only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tasks.core import io  # noqa: E402
from tasks.core.config import LightGBMParams, load_config  # noqa: E402
from tasks.core.metrics import compute_metrics, primary_metric  # noqa: E402
from tasks.core.reports import CvReport, read_report  # noqa: E402
from tasks.core.sampling import baseline_rows  # noqa: E402
from tasks.core.schema import encode_target, infer_feature_types, label_classes  # noqa: E402
from tasks.data.splitting import carve_validation  # noqa: E402
from tasks.modelling.estimators import fit_lightgbm, lightgbm_matrix, resolve_class_weight  # noqa: E402
from tasks.modelling.folds import fold_indices, key_columns, model_columns  # noqa: E402
from tasks.modelling.preprocessing import fit_preprocessors  # noqa: E402
from tasks.modelling.reports import TrainReport  # noqa: E402
from tasks.modelling.training import fit_models, load_preprocessors  # noqa: E402

HALF_LIVES = (0.25, 0.5)


def test_metric(task: str, y: np.ndarray, scores: np.ndarray) -> float:
    """Return the primary metric of scores on the test rows (threshold-free for every primary metric)."""
    return float(compute_metrics(task, y, scores, 0.5)[primary_metric(task)])


def fold_model_scores(cfg, train_valid: pd.DataFrame, test: pd.DataFrame, scheme: str) -> list[np.ndarray]:
    """Return each fold model's test scores, the fold fitted as the cv step fits it (tasks.modelling.folds)."""
    data, tp = cfg.data, cfg.train
    df = train_valid[model_columns(train_valid, data)]
    classes = label_classes(df[data.target], data)
    y = encode_target(df[data.target], classes, data)
    out = []
    for train_pos, _ in fold_indices(df, y, scheme, data, cfg.cv, cfg.split):
        fold = df.iloc[train_pos].reset_index(drop=True)
        fit_idx, es_idx = carve_validation(fold[key_columns(data)], data, cfg.split)
        fit_df, es_df = fold.iloc[fit_idx], fold.iloc[es_idx]
        ft = infer_feature_types(fit_df, data)
        y_fit, y_es = (encode_target(f[data.target], classes, data) for f in (fit_df, es_df))
        pre = fit_preprocessors(
            fit_df, ft, cfg.preprocess, baseline_rows(y_fit, data.task, tp.baseline_max_rows, tp.random_state)
        )["tree"]
        est = fit_lightgbm(
            pre,
            fit_df,
            y_fit,
            es_df,
            y_es,
            ft,
            data.task,
            tp.lightgbm,
            resolve_class_weight(y_fit, data.task, tp),
            tp.random_state,
        )
        x = lightgbm_matrix(pre, test, ft)[0]
        scores = est.predict(x) if data.task == "regression" else est.predict_proba(x)
        out.append(scores[:, 1] if data.task == "binary" else scores)
    return out


def measure(root: Path) -> dict:
    """Return the test metric of tabgate's fit, the recency-weighted fits and the fold ensembles on one scratch project."""
    cfg = load_config(root / "params.yaml")
    train, valid, test = (io.read_frame(p) for p in (cfg.paths.train, cfg.paths.valid, cfg.paths.test))
    pre, ft = load_preprocessors(cfg.paths.preprocess_dir)
    report = read_report(TrainReport, cfg.paths.reports_dir / "train.json")
    cv = read_report(CvReport, cfg.paths.reports_dir / "cv.json")
    scheme = cv.refit_scheme()
    fold_best = [int(f["lightgbm"]["best_iteration"]) for f in cv.schemes[scheme].folds] if scheme else None
    params = cfg.train.model_copy(update={"lightgbm": LightGBMParams.model_validate(report.lightgbm_params)})
    task = cfg.data.task
    classes = label_classes(train[cfg.data.target], cfg.data)
    y_test = encode_target(test[cfg.data.target], classes, cfg.data)
    row: dict = {"table": root.name.split("-")[2], "task": task, "metric": primary_metric(task), "scheme": scheme}
    refit_scores = None
    for half_life in (None, *HALF_LIVES):
        p = params.model_copy(update={"recency_half_life": half_life})
        bundles, _ = fit_models(train, valid, pre, ft, cfg.data, p, None, fold_best)
        scores = bundles["lightgbm"].predict_scores(test)
        key = "tabgate" if half_life is None else f"recency_{half_life:g}"
        row[key] = test_metric(task, y_test, scores)
        row[f"{key}_trees"] = int(bundles["lightgbm"].estimator.num_trees())
        refit_scores = scores if half_life is None else refit_scores
    if scheme:
        folds = fold_model_scores(cfg, pd.concat([train, valid], ignore_index=True), test, scheme)
        mean = np.mean(folds, axis=0)
        row["folds"] = test_metric(task, y_test, mean)
        row["blend"] = test_metric(task, y_test, (np.asarray(refit_scores) + mean) / 2)
        row["folds_each"] = [test_metric(task, y_test, s) for s in folds]
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scratch", nargs="+", type=Path, help="bench_quality scratch projects")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [measure(root) for root in args.scratch]
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    args.out.write_text(json.dumps({"commit": head, "half_lives": list(HALF_LIVES), "tables": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
