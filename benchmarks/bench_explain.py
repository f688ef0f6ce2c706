"""Benchmark: the explain step's wall time against LightGBM training time, on the hotel table and a >= 1M-row copy.

    .venv/bin/python benchmarks/bench_explain.py [--rows 1200000] [--large-rounds 200] [--skip-large]

For each table: time-split (params.yaml split.test_start), tree preprocessor fitted on train, LightGBM trained with
params.yaml train.lightgbm and early stopping on the validation slice (timed), test scored, bundle saved; then
tasks.explain.run is timed end to end (reads, SHAP, permutation importance, slices, figures, HTML, writes), and its
main parts separately. The large table resamples the hotel rows with noise (numbers jittered, 2% of categories
swapped); its boosting rounds are capped (--large-rounds) to keep the whole benchmark under ~5 minutes on 2 cores.
Prints JSON and a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

from tasks.core import io  # noqa: E402
from tasks.core.config import Config, load_config  # noqa: E402
from tasks.core.metrics import choose_threshold, score_frame  # noqa: E402
from tasks.core.schema import encode_target, infer_feature_types, label_classes  # noqa: E402
from tasks.evaluation import error_analysis, error_outcomes, feature_importance
from tasks.modelling.bundle import ModelBundle, save_bundle  # noqa: E402
from tasks.modelling.preprocessing import build_tree_preprocessor

SHARED = Path("/work/shared/data/hotel_bookings.csv.gz")
MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        1,
    )
}


def load_hotel(path: Path) -> pd.DataFrame:
    """Return the hotel table with the arrival_date column ingest builds."""
    df = pd.read_csv(path)
    df["arrival_date"] = pd.to_datetime(
        dict(year=df["arrival_date_year"], month=df["arrival_date_month"].map(MONTHS), day=df["arrival_date_day_of_month"])
    )
    return df


def enlarge(df: pd.DataFrame, n_rows: int, cfg: Config, random_state: int = 0) -> pd.DataFrame:
    """Return n_rows resampled from df with noise: numeric features jittered, 2% of categorical cells swapped."""
    rng = np.random.default_rng(random_state)
    out = df.iloc[rng.integers(0, len(df), n_rows)].reset_index(drop=True)
    ft = infer_feature_types(out, cfg.data)
    for col in ft.numeric:
        v = out[col].to_numpy(dtype=float)
        noise = rng.normal(0, 0.05 * np.nanstd(v), n_rows)
        out[col] = np.round(v + noise) if np.all(np.mod(v[np.isfinite(v)], 1) == 0) else v + noise
    for col in ft.categorical:
        swap = rng.random(n_rows) < 0.02
        out.loc[swap, col] = out[col].to_numpy()[rng.integers(0, n_rows, int(swap.sum()))]
    return out


def lgb_params(cfg: Config) -> dict:
    """Return lgb.train parameters from params.yaml train.lightgbm."""
    p = cfg.train.lightgbm
    return {
        "objective": "binary",
        "learning_rate": p.learning_rate,
        "num_leaves": p.num_leaves,
        "min_data_in_leaf": p.min_child_samples,
        "bagging_fraction": p.subsample,
        "bagging_freq": p.subsample_freq,
        "feature_fraction": p.colsample_bytree,
        "lambda_l2": p.reg_lambda,
        "seed": cfg.train.random_state,
        "num_threads": os.cpu_count() or 2,
        "verbose": -1,
    }


def prepare(df: pd.DataFrame, cfg: Config, root: Path, max_rounds: int) -> tuple[Config, dict]:
    """Split, fit, train (timed), score and save everything explain reads under root; return its config and sizes."""
    import lightgbm as lgb

    data = cfg.data
    df = df.sort_values(data.time_column, kind="mergesort").reset_index(drop=True)
    is_test = df[data.time_column] >= pd.Timestamp(cfg.split.test_start)
    fit_part, test = df[~is_test], df[is_test].reset_index(drop=True)
    n_valid = int(len(fit_part) * cfg.split.valid_size)
    train, valid = fit_part.iloc[: len(fit_part) - n_valid], fit_part.iloc[len(fit_part) - n_valid :]
    ft = infer_feature_types(train, data)
    classes = label_classes(train[data.target], data)
    pre = build_tree_preprocessor(ft, cfg.preprocess).fit(train[ft.all])
    x_train, x_valid = pre.transform(train[ft.all]), pre.transform(valid[ft.all])
    y_train, y_valid = encode_target(train[data.target], classes, data), encode_target(valid[data.target], classes, data)
    t0 = time.perf_counter()
    booster = lgb.train(
        lgb_params(cfg),
        lgb.Dataset(x_train, y_train, categorical_feature=list(ft.categorical)),
        num_boost_round=min(cfg.train.lightgbm.n_estimators, max_rounds),
        valid_sets=[lgb.Dataset(x_valid, y_valid, categorical_feature=list(ft.categorical))],
        callbacks=[lgb.early_stopping(cfg.train.lightgbm.early_stopping_rounds, verbose=False)],
    )
    train_seconds = time.perf_counter() - t0
    best = int(booster.best_iteration or booster.current_iteration())
    threshold = choose_threshold(y_valid, booster.predict(x_valid, num_iteration=best), cfg.train.threshold_objective)
    meta = {
        "task": data.task,
        "target": data.target,
        "classes": classes,
        "features": ft.all,
        "numeric": list(ft.numeric),
        "categorical": list(ft.categorical),
        "threshold": threshold,
        "best_iteration": best,
    }
    save_bundle(ModelBundle("lightgbm", pre, booster, meta), root / "models" / "lightgbm")
    scores = booster.predict(pre.transform(test[ft.all]), num_iteration=best)
    scored = pd.concat(
        [
            test,
            pd.DataFrame({"y_true": encode_target(test[data.target], classes, data)}),
            score_frame("lightgbm", data.task, scores, threshold),
        ],
        axis=1,
    )
    io.write_frame(scored, root / "test_scored.parquet")
    io.write_frame(valid, root / "valid.parquet")
    paths = cfg.paths.model_copy(
        update={
            "scored_test": root / "test_scored.parquet",
            "valid": root / "valid.parquet",
            "models_dir": root / "models",
            "reports_dir": root / "reports",
        }
    )
    sizes = {
        "rows_total": len(df),
        "rows_train": len(train),
        "rows_valid": len(valid),
        "rows_test": len(test),
        "features": len(ft.all),
        "best_iteration": best,
        "max_rounds": min(cfg.train.lightgbm.n_estimators, max_rounds),
        "train_seconds": round(train_seconds, 2),
    }
    return cfg.model_copy(update={"paths": paths}), sizes


def time_explain(cfg: Config) -> dict:
    """Return wall seconds of tasks.explain.run end to end, and of its SHAP, permutation and slice parts alone."""
    from tasks import explain as ex
    from tasks.evaluation.slices import find_error_slices
    from tasks.modelling.bundle import load_bundle

    t0 = time.perf_counter()
    report = ex.run(cfg)
    total = time.perf_counter() - t0
    scored, valid = io.read_frame(cfg.paths.scored_test), io.read_frame(cfg.paths.valid)
    bundle = load_bundle(cfg.paths.models_dir / "lightgbm")
    out = error_outcomes.derive_outcomes(scored, bundle.meta)
    sample = error_outcomes.sample_rows(out, bundle.task, cfg.explain)
    x = bundle.transform(scored.iloc[sample.rows])
    t = time.perf_counter()
    feature_importance.compute_shap(bundle, x, out.pred[sample.rows], out.y_true[sample.rows].astype(int))
    shap_s = time.perf_counter() - t
    xv, yv = feature_importance.validation_matrix(bundle, valid, cfg.data, cfg.explain)
    t = time.perf_counter()
    feature_importance.permutation_importance(
        bundle, xv, yv, "roc_auc", cfg.explain.permutation_repeats, cfg.explain.random_state
    )
    perm_s = time.perf_counter() - t
    numeric, categorical = error_analysis.slice_columns(scored, bundle.meta, cfg.data)
    t = time.perf_counter()
    find_error_slices(scored, out.error_value, numeric, categorical, cfg.explain)
    slices_s = time.perf_counter() - t
    return {
        "explain_seconds": round(total, 2),
        "shap_seconds": round(shap_s, 2),
        "permutation_seconds": round(perm_s, 2),
        "slices_seconds": round(slices_s, 2),
        "n_sampled": report.sample.sampled,
        "n_slices_flagged": report.slices.n_flagged,
        "top_segment": report.slices.top[0].segment if report.slices.top else None,
        "top_feature": report.global_importance[0].feature,
        "warnings": len(report.warnings),
    }


def bench(name: str, df: pd.DataFrame, cfg: Config, max_rounds: int) -> dict:
    """Return the timings of one table."""
    with tempfile.TemporaryDirectory(prefix=f"bench_explain_{name}_") as tmp:
        cfg_tmp, sizes = prepare(df, cfg, Path(tmp), max_rounds)
        timings = time_explain(cfg_tmp)
    row = {"table": name, **sizes, **timings}
    row["explain_over_train"] = round(row["explain_seconds"] / max(row["train_seconds"], 1e-9), 3)
    return row


def print_table(rows: list[dict]) -> None:
    """Print the key numbers as an aligned text table."""
    cols = [
        "table",
        "rows_train",
        "rows_test",
        "best_iteration",
        "train_seconds",
        "explain_seconds",
        "shap_seconds",
        "permutation_seconds",
        "slices_seconds",
        "explain_over_train",
        "top_segment",
    ]
    widths = [max(len(c), *(len(str(r.get(c))) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(str(r.get(c)).ljust(w) for c, w in zip(cols, widths)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_200_000, help="rows of the synthetic table (>= 1M)")
    parser.add_argument("--large-rounds", type=int, default=200, help="boosting-round cap on the synthetic table")
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    cfg = load_config(ROOT / "params.yaml")
    hotel = load_hotel(SHARED if SHARED.exists() else ROOT / "sample" / "hotel_bookings.csv.gz")
    rows = [bench("hotel", hotel, cfg, cfg.train.lightgbm.n_estimators)]
    if not args.skip_large:
        rows.append(bench(f"hotel_x{args.rows // len(hotel)}", enlarge(hotel, args.rows, cfg), cfg, args.large_rounds))
    print(json.dumps(rows, indent=2))
    print_table(rows)


if __name__ == "__main__":
    main()
