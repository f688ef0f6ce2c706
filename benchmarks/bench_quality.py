"""Model quality on every table we can reach: tabgate's test metric against plain LightGBM, the baseline and FLAML.

    python benchmarks/bench_quality.py [--tables hotel,telco,...] [--no-flaml] [--out benchmarks/results/quality.json]

For each table, in a scratch project with params only (params.yaml for the bundled hotel sample,
examples/*/params.yaml for the other shared tables, a minimal params file for scikit-learn's bundled
datasets), runs tabgate's steps snapshot, ingest, split, preprocess, train, evaluate, each in a fresh
process (benchmarks/step_runner.py). validate, cv, explain and promote do not change the model or its
test metric and are left out. Then, on tabgate's own split files:

- default LightGBM: `LGBMClassifier()` / `LGBMRegressor()` with every setting at its default
  (n_jobs=2, random_state=0 only), fitted on train + valid, scored on test;
- FLAML AutoML (when installed) on train + valid, time budget = tabgate's train step time, n_jobs=2.

Both see the features tabgate uses (preprocess's features.json) with categorical columns as pandas
categories. Prints a table and writes JSON: commit, versions, load, wall times, metrics. Nothing is
asserted: the numbers are the result. With --merge, the rows of tables not run now are kept from --out;
every row names the commit it was measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tasks.core.config import parse_config  # noqa: E402
from tasks.core.metrics import HIGHER_IS_BETTER, compute_metrics, primary_metric  # noqa: E402
from tasks.core.schema import encode_target, label_classes  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
STEPS = ("snapshot", "ingest", "split", "preprocess", "train", "evaluate")
ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false", "MPLBACKEND": "Agg",
       "DVC_NO_ANALYTICS": "1"}
PATH_KEYS = ("data_dir", "ingested", "train", "valid", "test", "preprocess_dir", "models_dir", "scored_test",
             "reports_dir", "gx_dir", "registry_dir")


def sklearn_source(name: str, dest: Path) -> Path:
    """Write one of scikit-learn's bundled datasets as a CSV (label column `target`) and return its path."""
    import sklearn.datasets as d

    frame = getattr(d, f"load_{name}")(as_frame=True).frame
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    path = dest / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def sklearn_params(name: str, task: str, source: Path) -> dict:
    """Return the minimal params for a bundled scikit-learn dataset: label, task, source, random split."""
    return {"data": {"target": "target", "task": task}, "ingest": {"source": str(source)},
            "split": {"strategy": "random", "test_size": 0.2}, "validate": {"suite_name": name, "min_rows": 100}}


def table_params(name: str, root: Path) -> dict | None:
    """Return the raw params of a benchmark table (paths not yet rewritten), or None when the table is not here."""
    if name == "hotel":
        return yaml.safe_load((REPO / "params.yaml").read_text())
    if name in ("telco", "kc_house"):
        raw = yaml.safe_load((REPO / "examples" / name / "params.yaml").read_text())
        src = Path(raw["ingest"]["source"])
        src = src if src.is_absolute() else (REPO / src).resolve()
        if not src.exists():
            return None
        raw["ingest"]["source"] = str(src)
        return raw
    task = {"breast_cancer": "binary", "diabetes": "regression", "wine": "multiclass", "digits": "multiclass"}[name]
    return sklearn_params(name, task, sklearn_source(name, root))


def scratch_params(raw: dict, root: Path) -> dict:
    """Return raw params with every path under root and the source absolute (read from the repository)."""
    raw = {**raw, "paths": {k: str(root / Path(raw.get("paths", {}).get(k, k)).name) for k in PATH_KEYS}}
    raw["paths"].update(train=str(root / "split/train.parquet"), valid=str(root / "split/valid.parquet"),
                        test=str(root / "split/test.parquet"))
    src = Path(raw["ingest"]["source"])
    raw["ingest"] = {**raw["ingest"], "source": str(src if src.is_absolute() else REPO / src)}
    return raw


def run_step(step: str, root: Path) -> dict:
    """Run one tabgate step in a fresh process in root; return its STEP_JSON line plus the process wall time."""
    env = {**os.environ, **ENV, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "step_runner.py"), step], cwd=root, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"step {step} failed in {root}:\n{proc.stderr[-3000:]}")
    line = next(l for l in proc.stdout.splitlines() if l.startswith("STEP_JSON "))
    return {**json.loads(line[len("STEP_JSON "):]), "wall_seconds": round(wall, 2)}


def feature_frames(root: Path, raw: dict) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, list]:
    """Return (X, y) of train + valid and of test from tabgate's split files, categories as pandas categories."""
    cfg = parse_config(raw)
    feats = json.loads((Path(raw["paths"]["preprocess_dir"]) / "features.json").read_text())
    fit = pd.concat([pd.read_parquet(raw["paths"]["train"]), pd.read_parquet(raw["paths"]["valid"])], ignore_index=True)
    test = pd.read_parquet(raw["paths"]["test"])
    classes = label_classes(fit[cfg.data.target], cfg.data)
    cols = feats["numeric"] + feats["categorical"]
    x_fit, x_test = fit[cols].copy(), test[cols].copy()
    for c in feats["categorical"]:
        cats = pd.Index(sorted(x_fit[c].dropna().astype(str).unique()))
        x_fit[c] = pd.Categorical(x_fit[c].astype("string"), categories=cats)
        seen = x_test[c].astype("string")
        x_test[c] = pd.Categorical(seen.where(seen.isin(cats)), categories=cats)  # unseen -> missing
    return (x_fit, encode_target(fit[cfg.data.target], classes, cfg.data), x_test,
            encode_target(test[cfg.data.target], classes, cfg.data), classes)


def test_metric(task: str, y: np.ndarray, scores: np.ndarray) -> float:
    """Return the gate's primary metric (ROC-AUC, multiclass log loss, RMSE) of scores on the test labels."""
    return compute_metrics(task, y, scores)[primary_metric(task)]


def default_lightgbm(task: str, x_fit, y_fit, x_test, y_test) -> dict:
    """Return the test metric of LightGBM with its default settings, fitted on train + valid."""
    import lightgbm as lgb

    t0 = time.perf_counter()
    est = (lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier)(n_jobs=2, random_state=0, verbose=-1)
    est.fit(x_fit, y_fit)
    scores = est.predict(x_test) if task == "regression" else est.predict_proba(x_test)
    scores = scores[:, 1] if task == "binary" else scores
    return {"metric": test_metric(task, y_test, scores), "seconds": round(time.perf_counter() - t0, 2)}


FLAML_MISSING = "FLAML AutoML not importable here (`pip install \"flaml[automl]\"`: FLAML, and xgboost for its AutoML): no FLAML column"


def flaml_automl(task: str, x_fit, y_fit, x_test, y_test, budget: float) -> dict:
    """Return FLAML's test metric with a time budget of `budget` seconds, or {"skipped": why} when it is not installed."""
    try:
        from flaml import AutoML
    except ImportError:
        return {"skipped": FLAML_MISSING}
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    automl = AutoML()
    t0 = time.perf_counter()
    automl.fit(x_fit, y_fit, task="regression" if task == "regression" else "classification", metric=metric,
               time_budget=max(10.0, budget), n_jobs=2, seed=0, verbose=0)
    scores = automl.predict(x_test) if task == "regression" else automl.predict_proba(x_test)
    scores = scores[:, 1] if task == "binary" else scores
    return {"metric": test_metric(task, y_test, scores), "seconds": round(time.perf_counter() - t0, 2),
            "time_budget": round(max(10.0, budget), 1), "best_estimator": automl.best_estimator}


def bench_table(name: str, use_flaml: bool) -> dict | None:
    """Run tabgate's steps on one table and the comparison models on its split; return the row."""
    root = Path(tempfile.mkdtemp(prefix=f"tabgate-quality-{name}-"))
    raw = table_params(name, root)
    if raw is None:
        return None
    raw = scratch_params(raw, root)
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    steps = {step: run_step(step, root) for step in STEPS}
    metrics = json.loads((Path(raw["paths"]["reports_dir"]) / "metrics.json").read_text())
    train_report = json.loads((Path(raw["paths"]["reports_dir"]) / "train.json").read_text())
    task, pm = metrics["task"], metrics["primary_metric"]
    x_fit, y_fit, x_test, y_test, _ = feature_frames(root, raw)
    row = {"table": name, "task": task, "metric": pm, "rows_fit": int(len(x_fit)), "rows_test": int(len(x_test)),
           "tabgate": metrics["models"]["lightgbm"][pm], "baseline": metrics["models"]["baseline"][pm],
           "default_lightgbm": default_lightgbm(task, x_fit, y_fit, x_test, y_test),
           "train_seconds": steps["train"]["run_seconds"], "steps": steps,
           "train_report": {k: train_report.get(k) for k in ("best_iteration", "class_weight", "tuned", "lightgbm_params",
                                                               "tuning", "refit", "n_estimators_final")},
           "scratch": str(root)}
    if use_flaml:
        row["flaml"] = flaml_automl(task, x_fit, y_fit, x_test, y_test, steps["train"]["run_seconds"])
    return row


def versions() -> dict:
    """Return the versions of Python and the libraries that decide the numbers."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("lightgbm", "scikit-learn", "optuna", "pandas", "numpy", "flaml", "xgboost-cpu"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def commit() -> str:
    """Return the repository's HEAD commit (with -dirty when the work tree has changes to tracked files)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    if not head:
        return "unknown (not a git work tree)"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "tasks", "params.yaml"], cwd=REPO).returncode
    return head + ("-dirty" if dirty else "")


def better(metric: str, a: float, b: float) -> bool:
    """Return whether a is at least as good as b on metric."""
    return a >= b if HIGHER_IS_BETTER[metric] else a <= b


def print_table(rows: list[dict]) -> None:
    """Print one line per table: metric, tabgate, default LightGBM, baseline, FLAML, train seconds."""
    print(f"{'table':<14}{'metric':<9}{'tabgate':>12}{'default':>12}{'baseline':>12}{'flaml':>12}{'train s':>9}  ok")
    for r in rows:
        fl = r.get("flaml") or {}
        ok = better(r["metric"], r["tabgate"], r["default_lightgbm"]["metric"])
        print(f"{r['table']:<14}{r['metric']:<9}{r['tabgate']:>12.4f}{r['default_lightgbm']['metric']:>12.4f}"
              f"{r['baseline']:>12.4f}{fl.get('metric', float('nan')):>12.4f}{r['train_seconds']:>9.1f}  {'yes' if ok else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default="hotel,telco,kc_house,breast_cancer,diabetes,wine,digits")
    parser.add_argument("--no-flaml", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quality.json")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of the tables not run now from --out (each row names its commit)")
    parser.add_argument("--print", dest="print_only", type=Path, help="print the table of an existing results file")
    args = parser.parse_args()
    if args.print_only:
        print_table(json.loads(args.print_only.read_text())["tables"])
        return
    sys.path.insert(0, str(REPO))
    started, rows = time.perf_counter(), []
    for name in args.tables.split(","):
        t0 = time.perf_counter()
        row = bench_table(name, not args.no_flaml)
        if row is None:
            print(f"{name}: source not found, skipped", flush=True)
            continue
        row["wall_seconds"] = round(time.perf_counter() - t0, 1)
        row["commit"] = commit()
        rows.append(row)
        print(f"{name}: tabgate {row['tabgate']:.4f} default {row['default_lightgbm']['metric']:.4f} "
              f"({row['wall_seconds']:.0f}s)", flush=True)
    if args.merge and args.out.exists():
        ran = {r["table"] for r in rows}
        rows = [r for r in json.loads(args.out.read_text())["tables"] if r["table"] not in ran] + rows
        order = parser.get_default("tables").split(",")
        rows.sort(key=lambda r: order.index(r["table"]) if r["table"] in order else len(order))
    print_table(rows)
    if not args.no_flaml and any("skipped" in (r.get("flaml") or {}) for r in rows):
        print(f"FLAML: {FLAML_MISSING}")
    result = {"commit": commit(), "versions": versions(), "cpus": os.cpu_count(), "loadavg_end": os.getloadavg(),
              "total_seconds": round(time.perf_counter() - started, 1), "tables": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
