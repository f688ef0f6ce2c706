"""Plain baseline: only the work a pipeline run cannot avoid, as one script with no orchestration, checks or reports.

    python benchmarks/plain_baseline.py TABLE.parquet [--params params.yaml]

Reads the Parquet table, builds the time column from its year / month / day parts, holds out the test
set at split.test_start, carves the validation slice (the latest split.valid_size of the training
part), then does the same LightGBM fits as the pipeline (every CV fold of the stratified and the
walk-forward scheme, each with early stopping on the latest slice of its fold, the final fit with
early stopping on the validation slice and, as train does with train.refit, the refit on train + valid with
the early-stopped tree count scaled by the rows (params.yaml train.lightgbm, tuning off) and one SHAP
TreeExplainer call on explain.sample_size test rows of the refitted model. No linear baseline, no data gate, no metrics
beyond the fold score, no files written. Prints one JSON line: seconds per part and in all.

It deliberately does not import tasks/: it is the "what would a hand-written script cost" yardstick
that benchmarks/bench_scale.py compares the pipeline's wall time with.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.core.config import effective_params

MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}


def load_table(path: Path, params: dict) -> pd.DataFrame:
    """Return the table with the time column built from the parts named in params.yaml (ingest.time_from_parts)."""
    df = pd.read_parquet(path)
    parts, time_col = params["ingest"]["time_from_parts"], params["data"]["time_column"]
    month = df[parts["month"]]
    month = month.astype("string").str.lower().map(MONTHS) if not pd.api.types.is_numeric_dtype(month) else month
    df[time_col] = pd.to_datetime(
        pd.DataFrame({"year": df[parts["year"]], "month": month.astype("float64"), "day": df[parts["day"]]}), errors="coerce"
    )
    return df


def feature_frame(df: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Return the model input: every column but label, time and dropped ones; strings and ID codes as category."""
    data = params["data"]
    drop = {data["target"], data["time_column"], *data.get("drop_columns", {})}
    x = df[[c for c in df.columns if c not in drop]]
    cats = {
        c: x[c].astype("category")
        for c in x.columns
        if c in data.get("categorical_columns", []) or not pd.api.types.is_numeric_dtype(x[c])
    }
    return x.assign(**cats) if cats else x


def latest_slice(times: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (fit, valid) positions: valid is the latest `share` of rows by time."""
    order = np.argsort(times, kind="stable")
    n_valid = max(1, int(round(len(times) * share)))
    return np.sort(order[: len(times) - n_valid]), np.sort(order[len(times) - n_valid :])


def cv_folds(y: np.ndarray, times: np.ndarray, n_splits: int, random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the stratified k-fold and the expanding walk-forward folds (the pipeline's cv schemes for this table)."""
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y))
    chunks = np.array_split(np.argsort(times, kind="stable"), n_splits + 1)
    for k in range(1, n_splits + 1):
        valid = chunks[k]
        train = np.concatenate(chunks[:k])
        train = train[times[train] < times[valid].min()]
        folds.append((np.sort(train), np.sort(valid)))
    return folds


def lightgbm_classifier(n_rows: int, lp: dict, random_state: int, n_estimators: int | None = None):
    """Return an unfitted LGBMClassifier with the pipeline's parameters and thread rule."""
    import lightgbm as lgb

    threads = 1 if n_rows < 20_000 else int(lp.get("num_threads") or max(1, min(os.cpu_count() or 1, 8)))
    return lgb.LGBMClassifier(
        n_estimators=n_estimators or lp["n_estimators"],
        learning_rate=lp["learning_rate"],
        num_leaves=lp["num_leaves"],
        min_child_samples=lp["min_child_samples"],
        subsample=lp["subsample"],
        subsample_freq=lp["subsample_freq"],
        colsample_bytree=lp["colsample_bytree"],
        reg_lambda=lp["reg_lambda"],
        random_state=random_state,
        deterministic=True,
        force_row_wise=True,
        n_jobs=threads,
        verbose=-1,
    )


def fit_lightgbm(x: pd.DataFrame, y: np.ndarray, x_es: pd.DataFrame, y_es: np.ndarray, lp: dict, random_state: int):
    """Return LGBMClassifier fitted with early stopping (the pipeline's parameters and thread rule)."""
    import lightgbm as lgb

    est = lightgbm_classifier(len(x), lp, random_state)
    return est.fit(x, y, eval_set=[(x_es, y_es)], callbacks=[lgb.early_stopping(lp["early_stopping_rounds"], verbose=False)])


def refit_lightgbm(x: pd.DataFrame, y: np.ndarray, best_iteration: int, n_fit: int, lp: dict, random_state: int):
    """Return LGBMClassifier refitted on all of x with best_iteration * len(x) / n_fit trees (train.refit's rule)."""
    rounds = max(1, int(round(best_iteration * len(x) / max(n_fit, 1))))
    return lightgbm_classifier(len(x), lp, random_state, rounds).fit(x, y)


def run(path: Path, params: dict) -> dict:
    """Do the unavoidable work on the table; return seconds per part."""
    import shap

    secs: dict[str, float] = {}
    t = time.perf_counter()
    df = load_table(path, params)
    data, lp = params["data"], params["train"]["lightgbm"]
    df = df[df[data["target"]].notna()]
    times = df[data["time_column"]].to_numpy()
    is_test = times >= np.datetime64(str(params["split"]["test_start"]))
    x_all, y_all = feature_frame(df, params), (df[data["target"]] == data.get("positive_label", 1)).to_numpy(int)
    x_tr, y_tr, t_tr = x_all[~is_test], y_all[~is_test], times[~is_test]
    x_te = x_all[is_test]
    secs["read_split"] = time.perf_counter() - t

    t = time.perf_counter()
    rs = params["train"].get("random_state", 42)
    for tr, va in cv_folds(y_tr, t_tr, params["cv"]["n_splits"], params["cv"].get("random_state", 42)):
        fit, es = latest_slice(t_tr[tr], params["split"]["valid_size"])
        est = fit_lightgbm(x_tr.iloc[tr[fit]], y_tr[tr[fit]], x_tr.iloc[tr[es]], y_tr[tr[es]], lp, rs)
        est.predict_proba(x_tr.iloc[va])
    secs["cv_fits"] = time.perf_counter() - t

    t = time.perf_counter()
    fit, es = latest_slice(t_tr, params["split"]["valid_size"])
    stopped = fit_lightgbm(x_tr.iloc[fit], y_tr[fit], x_tr.iloc[es], y_tr[es], lp, rs)
    secs["final_fit"] = time.perf_counter() - t

    t = time.perf_counter()
    best = int(stopped.best_iteration_ or lp["n_estimators"])
    final = stopped
    if params["train"].get("refit", True):
        final = refit_lightgbm(x_tr, y_tr, best, len(fit), lp, rs)
    secs["refit"] = time.perf_counter() - t

    t = time.perf_counter()
    n = min(params["explain"]["sample_size"], len(x_te))
    sample = x_te.sample(n, random_state=params["explain"].get("random_state", 42))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        shap.TreeExplainer(final.booster_).shap_values(sample, check_additivity=False)
    secs["shap"] = time.perf_counter() - t
    return {
        "rows": int(len(df)),
        "train_rows": int(len(x_tr)),
        "test_rows": int(len(x_te)),
        "best_iteration": best,
        "final_trees": int(final.booster_.num_trees()),
        "seconds": {k: round(v, 3) for k, v in secs.items()},
        "total_seconds": round(sum(secs.values()), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", type=Path)
    parser.add_argument("--params", type=Path, default=Path(__file__).resolve().parents[1] / "params.yaml")
    args = parser.parse_args()
    result = run(args.table, effective_params(args.params))  # every key, defaults filled in
    result["peak_rss_mb"] = vm_hwm_mb()
    print("PLAIN_JSON " + json.dumps(result), flush=True)


def vm_hwm_mb() -> float | None:
    """Return this process's peak RSS in MiB (VmHWM; not ru_maxrss, which Linux carries over from the parent)."""
    try:
        with open("/proc/self/status") as fh:
            return int(next(l for l in fh if l.startswith("VmHWM:")).split()[1]) / 1024
    except (OSError, StopIteration):
        return None


if __name__ == "__main__":
    main()
