"""Scale benchmark: the pipeline on 100k / 1M / 5M-row copies of the hotel table, against a plain script.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 100k,1m,5m] [--flow-sizes 1m] [--tune-trials 0]
                                               [--skip-plain] [--skip-rerun] [--rerun-size 100k]
                                               [--dask-workers 0] [--work DIR] [--keep]

For each size:
1. builds the table by resampling hotel rows with noise (numbers jittered inside their observed range,
   categories kept as categories with the original category sets and 2% of cells swapped between rows,
   arrival dates jittered by up to +-3 days inside the original date range with the year / month / week /
   day parts rewritten to match, rows in source-row order, the label copied from the sampled row) and
   writes it as Parquet in a scratch directory;
2. in a scratch project (the repo's tasks/, flows/, dvc.yaml and params.yaml with ingest.source pointing
   at that Parquet file, split.test_start kept, tuning off unless --tune-trials, explain.sample_size kept)
   runs `snapshot`, the one-time suite `bootstrap` (reported, not counted: a project does it on its first run
   only) and then every step, each in a fresh process like `dvc repro` does (benchmarks/step_runner.py),
   recording wall seconds, seconds inside run(cfg), peak RSS (the process's VmHWM: Linux's ru_maxrss would
   include this parent's RSS), the RSS run(cfg) added, and rows/s;
3. runs benchmarks/plain_baseline.py on the same Parquet file (only the unavoidable work: read, time split,
   the same LightGBM fits, early-stopped then refitted on train + valid as train.refit does, the same SHAP call)
   and reports the ratio pipeline / plain, both on wall time with a fresh process per step (as `dvc repro`) and
   on the work alone (run() seconds against the plain script's timed parts: one process, as the in-process engine);
4. records the table's in-memory size (ingested table, df.memory_usage(deep=True).sum()) so
   "peak memory at most 3x the table" can be checked per step.
For each of --flow-sizes: a first full `tabgate run` (the Prefect flow, as users run it) in a fresh git + DVC
project. Once: cold start (`tabgate --help`, `python -c "import flows.training"`), and on the smallest size a
no-change re-run in a scratch git + DVC project after a full `tabgate run --engine dvc`:
`tabgate run --engine dvc --no-snapshot`, `dvc repro` and `tabgate run` (Prefect) with nothing to do.

Writes benchmarks/results/scale.json and benchmarks/results/scale.md (machine described: cpus, RAM,
python, package versions; the targets of the issue against what was measured; run() seconds per million
rows per step across sizes). Asserts nothing: the numbers are the result. Other processes on the machine
make the timings noisy; run it on a quiet machine for numbers worth quoting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scratch import copy_repo_items  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
STEPS = ("snapshot", "bootstrap", "ingest", "validate", "split", "preprocess", "cv", "train", "evaluate", "explain", "promote")
ONE_TIME = {"bootstrap"}  # learning the validation suite: a project's first run only, reported, not in the totals
# issue 19's targets: pipeline / plain script time ratios (in one process: run() seconds; per process: wall with a
# fresh process per step, as dvc repro), peak RSS against the table and the plain script, start-up and no-op re-run
TARGETS = {
    "ratio_in_process": {"1m": 1.25, "5m": 1.15},
    "ratio_per_process": {"1m": 1.4},
    "peak_over_table": {"5m": 3.0},
    "peak_below_plain": ("1m",),
    "noop_rerun_seconds": 3.0,
    "help_seconds": 0.3,
}
SOURCES = (REPO.parent / "shared" / "data" / "hotel_bookings.csv.gz", REPO / "sample" / "hotel_bookings.csv.gz")
ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "MPLBACKEND": "Agg",
    "DVC_NO_ANALYTICS": "1",
    "PYTHONUNBUFFERED": "1",
}
PACKAGES = (
    "pandas",
    "numpy",
    "pyarrow",
    "lightgbm",
    "shap",
    "scikit-learn",
    "prefect",
    "dvc",
    "great_expectations",
    "optuna",
    "dask",
    "distributed",
)
MONTH_NAMES = [
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
]
KEEP_CELLS = ("reservation_status", "reservation_status_date")  # tied to the label / outcome: copied, never swapped


# ----------------------------------------------------------------------------------------------- tables


def parse_size(text: str) -> int:
    """Return the row count of '100k', '1m', '5M' or '250000'."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise SystemExit(f"--sizes: cannot read {text!r} (use e.g. 100k,1m,5m)")
    return int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()])


def size_label(n: int) -> str:
    """Return 100k / 1m / 5m style labels."""
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1_000}k" if n % 1_000 == 0 else str(n)


def load_source(params: dict) -> pd.DataFrame:
    """Return the real hotel table with string columns as categoricals (their category sets are the reference)."""
    path = next(p for p in SOURCES if p.exists())
    df = pd.read_csv(path)
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            df[col] = df[col].astype("category")
    return df


def arrival_dates(df: pd.DataFrame, parts: dict) -> pd.Series:
    """Return the arrival date built from the year / month-name / day parts."""
    month = df[parts["month"]].astype("string").map({m: i for i, m in enumerate(MONTH_NAMES, 1)}).astype("int64")
    return pd.to_datetime(pd.DataFrame({"year": df[parts["year"]], "month": month, "day": df[parts["day"]]}))


def jitter_numeric(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return v plus N(0, 5% of its std) noise, rounded when v is integral, clipped to v's observed range."""
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return v
    noise = rng.normal(0.0, 0.05 * float(np.std(finite)), v.size)
    out = v + (np.rint(noise) if np.all(np.mod(finite, 1) == 0) else noise)
    return np.clip(out, finite.min(), finite.max())


def swap_cells(s: pd.Series, share: float, rng: np.random.Generator) -> pd.Series:
    """Return s with `share` of its cells replaced by the value of another random row (value set unchanged)."""
    n = len(s)
    swap = np.flatnonzero(rng.random(n) < share)
    values = s.to_numpy(copy=True) if not isinstance(s.dtype, pd.CategoricalDtype) else s.cat.codes.to_numpy(copy=True)
    values[swap] = values[rng.integers(0, n, swap.size)]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical.from_codes(values, dtype=s.dtype), name=s.name)
    return pd.Series(values, name=s.name)


def enlarge_table(src: pd.DataFrame, n: int, params: dict, random_state: int = 0) -> pd.DataFrame:
    """Return n rows resampled from src with noise (see the module docstring); the label comes with its row."""
    rng = np.random.default_rng(random_state)
    data, parts = params["data"], params["ingest"]["time_from_parts"]
    idx = np.sort(rng.integers(0, len(src), n))  # source-row order: same ordering properties as the real file
    out = src.iloc[idx].reset_index(drop=True)
    dates = arrival_dates(src, parts)
    lo, hi = dates.min(), dates.max()
    new = (dates.iloc[idx].reset_index(drop=True) + pd.to_timedelta(rng.integers(-3, 4, n), unit="D")).clip(lo, hi)
    time_parts = {
        parts["year"]: new.dt.year.astype("int64"),
        parts["day"]: new.dt.day.astype("int64"),
        parts["month"]: pd.Series(
            pd.Categorical(np.asarray(MONTH_NAMES)[new.dt.month.to_numpy() - 1], dtype=src[parts["month"]].dtype)
        ),
        "arrival_date_week_number": new.dt.isocalendar().week.astype("int64").reset_index(drop=True),
    }
    cols = {}
    for col in out.columns:
        s = out[col]
        if col in time_parts and col in src.columns:
            cols[col] = time_parts[col]
        elif col == data["target"] or col in KEEP_CELLS:
            cols[col] = s
        elif col in data.get("categorical_columns", []) or isinstance(s.dtype, pd.CategoricalDtype):
            cols[col] = swap_cells(s, 0.02, rng)
        else:
            v = jitter_numeric(s.to_numpy(dtype="float64"), rng)
            cols[col] = pd.Series(v.astype(s.dtype) if pd.api.types.is_integer_dtype(s.dtype) else v, name=col)
    return pd.DataFrame(cols)


def write_table(src: pd.DataFrame, n: int, params: dict, work: Path) -> tuple[Path, dict]:
    """Write the n-row table as Parquet under work; return its path and how long it took, its bytes and memory."""
    t0 = time.perf_counter()
    df = enlarge_table(src, n, params)
    path = work / "tables" / f"hotel_{size_label(n)}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    return path, {
        "generate_seconds": round(time.perf_counter() - t0, 2),
        "parquet_mb": round(path.stat().st_size / 2**20, 1),
        "source_table_mb": round(float(df.memory_usage(deep=True).sum()) / 2**20, 1),
    }


# ------------------------------------------------------------------------------------------- processes


def bench_env(root: Path | None = None) -> dict[str, str]:
    """Return the environment of a user with the venv active (and the scratch project first on sys.path)."""
    env = {**os.environ, **ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PREFECT_API_URL", None)
    if root is not None:
        env["PYTHONPATH"] = str(root)
    return env


def vm_hwm_mib(pid: int) -> float:
    """Return the process's own peak RSS so far (VmHWM, MiB; 0 when it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next((l for l in status if l.startswith("VmHWM:")), None)
    except OSError:
        return 0.0
    return int(line.split()[1]) / 1024 if line else 0.0


def run_measured(cmd: list[str], cwd: Path, env: dict, log: Path) -> dict:
    """Run cmd; return wall seconds, exit code, stdout and peak RSS in MiB.

    The peak is the process's own VmHWM, read every 0.2 s while it runs (growth in its last 0.2 s is missed).
    wait4's ru_maxrss is not used: it counts this benchmark's own RSS, copied into the child at fork, and the
    benchmark holds the generated tables. Child processes (a temporary Prefect server, dvc) are not included.
    """
    import threading

    t0 = time.perf_counter()
    with open(log, "ab") as err:
        err.write(f"\n$ {' '.join(cmd)}\n".encode())
        err.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err)
        peak, done = [0.0], threading.Event()

        def poll() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], vm_hwm_mib(proc.pid))
                done.wait(0.2)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        out = proc.stdout.read().decode(errors="replace")
        done.set()
        poller.join()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_seconds": round(time.perf_counter() - t0, 3),
        "peak_rss_mb": round(peak[0] or usage.ru_maxrss / 1024, 1),
        "exit_code": proc.returncode,
        "stdout": out,
    }


def tagged_json(stdout: str, tag: str) -> dict:
    """Return the JSON payload of the last `TAG {...}` line in stdout ({} if none)."""
    lines = [line for line in stdout.splitlines() if line.startswith(tag + " ")]
    return json.loads(lines[-1][len(tag) + 1 :]) if lines else {}


def scratch_params(table: Path, tune_trials: int, dask_workers: int = 0) -> dict:
    """Return the repo's params.yaml pointing at the generated table, tuning off or bounded, folds local or on Dask."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"].update(source=str(table), format="parquet")
    if dask_workers:
        params["compute"] = {**params.get("compute", {}), "engine": "dask", "n_workers": dask_workers}
    params["train"]["tune"].update(enabled=tune_trials > 0, n_trials=max(tune_trials, 1))  # counted, never timed
    return params


def scratch_project(root: Path, params: dict) -> Path:
    """Create a project under root: the repo's code and dvc.yaml, a fresh gx/ (suite bootstrapped from the table)."""
    root.mkdir(parents=True, exist_ok=True)
    copy_repo_items(root, ("tasks", "flows", "dvc.yaml", ".dvcignore", "gx/great_expectations.yml"))
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / ".gitignore").write_text("/artifacts/\n/registry/\n/gx/uncommitted/\n__pycache__/\n/bench.log\n")
    return root


def time_steps(root: Path, rows: int) -> list[dict]:
    """Run snapshot and every step in a fresh process each; return wall, run() seconds, peak RSS and rows/s."""
    out = []
    for step in STEPS:
        r = run_measured([sys.executable, str(BENCH / "step_runner.py"), step], root, bench_env(root), root / "bench.log")
        inner = tagged_json(r["stdout"], "STEP_JSON")
        peak = inner.get("peak_rss_mb") or r["peak_rss_mb"]  # the step's own VmHWM; wait4's includes the parent's
        row = {
            "step": step,
            "wall_seconds": r["wall_seconds"],
            "run_seconds": inner.get("run_seconds"),
            "import_seconds": inner.get("import_seconds"),
            "peak_rss_mb": round(peak, 1),
            "import_rss_mb": inner.get("import_rss_mb"),
            "run_rss_increase_mb": round(peak - inner["import_rss_mb"], 1) if inner.get("import_rss_mb") else None,
            "rows_per_second": round(rows / r["wall_seconds"]) if r["wall_seconds"] else None,
            "exit_code": r["exit_code"],
        }
        out.append(row)
        print(f"    {step:<11}{row['wall_seconds']:>9.1f} s{row['peak_rss_mb']:>9.0f} MiB", flush=True)
        if r["exit_code"] != 0:
            print(f"    {step} failed (exit {r['exit_code']}); see {root / 'bench.log'}", flush=True)
            break
    return out


def frame_memory_mb(path: Path) -> float:
    """Return the in-memory size (deep) of a Parquet table as pandas reads it, in MiB."""
    return round(float(pd.read_parquet(path).memory_usage(deep=True).sum()) / 2**20, 1)


def bench_size(src: pd.DataFrame, n: int, args: argparse.Namespace, work: Path) -> dict:
    """Return the full result of one table size."""
    label = size_label(n)
    print(f"== {label} rows", flush=True)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    table, gen = write_table(src, n, params, work)
    print(f"  table written: {table} ({gen['parquet_mb']} MiB Parquet, {gen['generate_seconds']} s)", flush=True)
    sp = scratch_params(table, args.tune_trials, args.dask_workers)
    root = scratch_project(work / f"project_{label}", sp)
    steps = time_steps(root, n)
    recurring = [s for s in steps if s["step"] not in ONE_TIME]
    result = {
        "rows": n,
        "label": label,
        "table": gen,
        "steps": steps,
        "pipeline_wall_seconds": round(sum(s["wall_seconds"] for s in recurring), 2),
        "pipeline_run_seconds": round(sum(s["run_seconds"] or 0 for s in recurring), 2),
        "completed": all(s["exit_code"] == 0 for s in steps) and len(steps) == len(STEPS),
    }
    ingested = root / sp["paths"]["ingested"]
    if ingested.exists():
        result["table_memory_mb"] = frame_memory_mb(ingested)
        result["max_peak_rss_mb"] = max(s["peak_rss_mb"] for s in recurring)
        result["max_peak_over_table"] = round(result["max_peak_rss_mb"] / result["table_memory_mb"], 2)
        result["max_added_over_table"] = round(
            max(s["run_rss_increase_mb"] or 0 for s in recurring) / result["table_memory_mb"], 2
        )
        for s in steps:
            s["peak_over_table"] = round(s["peak_rss_mb"] / result["table_memory_mb"], 2)
            if s["run_rss_increase_mb"] is not None:  # what run(cfg) added on top of the interpreter and its imports
                s["increase_over_table"] = round(s["run_rss_increase_mb"] / result["table_memory_mb"], 2)
    if not args.skip_plain:
        print("  plain baseline ...", flush=True)
        r = run_measured(
            [sys.executable, str(BENCH / "plain_baseline.py"), str(table), "--params", str(root / "params.yaml")],
            root,
            bench_env(),
            root / "bench.log",
        )
        plain = tagged_json(r["stdout"], "PLAIN_JSON")
        result["plain"] = {
            "wall_seconds": r["wall_seconds"],
            "exit_code": r["exit_code"],
            **plain,
            "peak_rss_mb": plain.get("peak_rss_mb") or r["peak_rss_mb"],
        }
        if r["exit_code"] == 0 and result["completed"]:
            result["ratio_per_process"] = round(result["pipeline_wall_seconds"] / r["wall_seconds"], 3)
            plain_work = plain.get("total_seconds") or r["wall_seconds"]  # the plain script's work, without imports
            result["ratio_in_process"] = round(result["pipeline_run_seconds"] / plain_work, 3)
            if result.get("max_peak_rss_mb") and result["plain"]["peak_rss_mb"]:
                result["peak_over_plain"] = round(result["max_peak_rss_mb"] / result["plain"]["peak_rss_mb"], 3)
        print(f"  plain {r['wall_seconds']:.1f} s vs pipeline {result['pipeline_wall_seconds']:.1f} s", flush=True)
    if not args.keep:
        shutil.rmtree(root / "artifacts", ignore_errors=True)
    return result


# ------------------------------------------------------------------------------------- cold start, re-run


def time_cold_start(repeats: int = 3) -> dict:
    """Return the best of `repeats` wall times of `tabgate --help` and of importing the training flow."""
    env = bench_env()
    tabgate = str(Path(sys.executable).with_name("tabgate"))
    out = {}
    for key, cmd in (
        ("tabgate_help_seconds", [tabgate, "--help"]),
        ("import_flows_training_seconds", [sys.executable, "-c", "import flows.training"]),
    ):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        out[key] = round(min(times), 3)
    return out


def git_dvc_project(src: pd.DataFrame, n: int, args: argparse.Namespace, work: Path, name: str) -> tuple[Path, dict]:
    """Return a scratch git + DVC project on the n-row table (as a user's repository) and its environment."""
    table = work / "tables" / f"hotel_{size_label(n)}.parquet"
    if not table.exists():
        write_table(src, n, yaml.safe_load((REPO / "params.yaml").read_text()), work)
    root = scratch_project(work / f"{name}_{size_label(n)}", scratch_params(table, args.tune_trials))
    env = bench_env(root)
    dvc = str(Path(sys.executable).with_name("dvc"))
    for cmd in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "bench@example.com"],
        ["git", "config", "user.name", "bench"],
        [dvc, "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "bench project"],
    ):
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)
    return root, env


def time_flow_run(src: pd.DataFrame, n: int, args: argparse.Namespace, work: Path) -> dict:
    """Return the wall time and peak RSS of a first full `tabgate run` (the Prefect flow) in a fresh git + DVC project.

    This is the pipeline as users run it: one process, a temporary Prefect server started on the way (no
    PREFECT_API_URL), the DVC snapshot, the first-run suite bootstrap, every step, artifacts and `dvc commit`.
    """
    root, env = git_dvc_project(src, n, args, work, "flow")
    tabgate = str(Path(sys.executable).with_name("tabgate"))
    print(f"  full `tabgate run` (Prefect flow) on {size_label(n)} ...", flush=True)
    r = run_measured([tabgate, "run"], root, env, root / "bench.log")
    r.pop("stdout", None)
    print(f"    {r['wall_seconds']:.1f} s, peak {r['peak_rss_mb']:.0f} MiB (exit {r['exit_code']})", flush=True)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return {"rows": n, **r}


def time_no_change_rerun(src: pd.DataFrame, n: int, args: argparse.Namespace, work: Path) -> dict:
    """Full `tabgate run --engine dvc` in a scratch git + DVC project, then three runs that have nothing to do."""
    root, env = git_dvc_project(src, n, args, work, "rerun")
    log = root / "bench.log"
    dvc, tabgate = str(Path(sys.executable).with_name("dvc")), str(Path(sys.executable).with_name("tabgate"))
    print(f"  no-change re-run on {size_label(n)}: first full `tabgate run --engine dvc` ...", flush=True)
    runs = {"rows": n, "first_run_dvc": run_measured([tabgate, "run", "--engine", "dvc"], root, env, log)}
    for key, cmd in (
        ("noop_tabgate_run_dvc_no_snapshot", [tabgate, "run", "--engine", "dvc", "--no-snapshot"]),
        ("noop_dvc_repro", [dvc, "repro"]),
        ("noop_tabgate_run_prefect", [tabgate, "run"]),
    ):
        runs[key] = run_measured(cmd, root, env, log)
        print(f"    {key:<36}{runs[key]['wall_seconds']:>8.1f} s (exit {runs[key]['exit_code']})", flush=True)
    status = subprocess.run([dvc, "status"], cwd=root, env=env, capture_output=True, text=True)
    runs["dvc_status_after"] = status.stdout.strip()[-500:]
    for r in runs.values():
        if isinstance(r, dict):
            r.pop("stdout", None)
    return runs


# ---------------------------------------------------------------------------------------------- report


def machine() -> dict:
    """Return cpus, RAM, python, platform and the versions of the packages that matter here."""
    import psutil

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpus": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "tabgate_commit": tabgate_commit(),
    }


def tabgate_commit() -> str:
    """Return the commit of the code measured (git HEAD, '+changes' when the work tree differs from it)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no", "--", "tasks", "flows") else "")


def scaling_lines(result: dict) -> list[str]:
    """Return a table of run() seconds per million rows per step and size: flat rows mean linear growth."""
    sizes = [s for s in result["sizes"] if s["completed"]]
    if len(sizes) < 2:
        return []
    lines = [
        "## Growth with rows",
        "",
        "run() seconds per million rows (flat along a row = linear; falling = sub-linear, e.g. fixed costs or capped samples).",
        "",
        "| step | " + " | ".join(s["label"] for s in sizes) + " | largest / smallest |",
        "|---|" + "---:|" * (len(sizes) + 1),
    ]
    for step in STEPS:
        per = [next((r["run_seconds"] for r in s["steps"] if r["step"] == step), None) for s in sizes]
        rates = [v / (s["rows"] / 1e6) if v is not None else None for v, s in zip(per, sizes)]
        ratio = rates[-1] / rates[0] if rates[0] and rates[-1] else None
        lines.append(
            f"| {step} | " + " | ".join(f"{r:.1f}" if r is not None else "" for r in rates) + f" | {ratio:.2f} |"
            if ratio is not None
            else " | |"
        )
    return lines + [""]


def target_lines(result: dict) -> list[str]:
    """Return issue 19's targets next to what was measured, met or not (sizes not run are left out)."""
    by_label = {s["label"]: s for s in result["sizes"]}
    rows = []
    for key, what in (
        ("ratio_in_process", "pipeline / plain, work in one process (run() s)"),
        ("ratio_per_process", "pipeline / plain, a fresh process per step (wall s)"),
    ):
        for label, goal in TARGETS[key].items():
            if key in by_label.get(label, {}):
                value = by_label[label][key]
                rows.append((f"{what} at {label} rows", f"<= {goal}", value, value <= goal))
    for label, goal in TARGETS["peak_over_table"].items():
        if "max_peak_over_table" in by_label.get(label, {}):
            value = by_label[label]["max_peak_over_table"]
            rows.append((f"largest step peak RSS / table at {label} rows", f"<= {goal}", value, value <= goal))
    for label in TARGETS["peak_below_plain"]:
        if "peak_over_plain" in by_label.get(label, {}):
            value = by_label[label]["peak_over_plain"]
            rows.append((f"largest step peak RSS / plain script's peak RSS at {label} rows", "< 1", value, value < 1))
    for s in result["sizes"]:  # for information: every size's memory ratio
        if "max_peak_over_table" in s and s["label"] not in TARGETS["peak_over_table"]:
            rows.append(
                (f"(information) largest step peak RSS / table at {s['label']} rows", "-", s["max_peak_over_table"], None)
            )
    if "5m" in by_label:
        rows.append(("5M-row table completes", "yes", by_label["5m"]["completed"], by_label["5m"]["completed"]))
    if "cold_start" in result:
        h = result["cold_start"]["tabgate_help_seconds"]
        rows.append(("`tabgate --help`", f"<= {TARGETS['help_seconds']} s", h, h <= TARGETS["help_seconds"]))
    if "no_change_rerun" in result:
        for key in ("noop_tabgate_run_dvc_no_snapshot", "noop_dvc_repro", "noop_tabgate_run_prefect"):
            w = result["no_change_rerun"][key]["wall_seconds"]
            rows.append(
                (
                    f"no-change re-run: {key.removeprefix('noop_')}",
                    f"<= {TARGETS['noop_rerun_seconds']} s",
                    w,
                    w <= TARGETS["noop_rerun_seconds"],
                )
            )
    if not rows:
        return []
    met = {True: "yes", False: "**no**", None: ""}
    return [
        "## Targets (issue 19)",
        "",
        "| target | goal | measured | met |",
        "|---|---|---:|---|",
        *[f"| {name} | {goal} | {value} | {met[ok]} |" for name, goal, value, ok in rows],
        "",
    ]


def markdown(result: dict) -> str:
    """Return the results as Markdown tables."""
    m = result["machine"]
    lines = [
        f"# tabgate scale benchmark ({result['started']})",
        "",
        f"Machine: {m['cpus']} CPUs, {m['ram_gib']} GiB RAM, load average at start {m['load_average_at_start']}, "
        f"Python {m['python']}, {m['platform']}. Code: tabgate {m.get('tabgate_commit', 'unknown')}.",
        "",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v),
        "",
        f"Tuning: {'off' if not result['tune_trials'] else str(result['tune_trials']) + ' trials'}. "
        f"CV / tuning folds: {'local Dask cluster of ' + str(result['dask_workers']) + ' workers' if result.get('dask_workers') else 'in-process'}. "
        "Each step runs in a fresh process (as under `dvc repro`); wall includes imports.",
        "",
    ]
    for s in result["sizes"]:
        lines += [
            f"## {s['label']} rows",
            "",
            f"Table in memory (ingested, deep): {s.get('table_memory_mb', '?')} MiB; Parquet {s['table']['parquet_mb']} MiB; "
            f"largest step peak RSS / table: {s.get('max_peak_over_table', '?')}x. "
            "'run() added' is the peak RSS minus the RSS after imports (what the step's work itself needed).",
            "",
            "| step | wall s | run() s | import s | peak RSS MiB | peak / table | run() added MiB | added / table | rows/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in s["steps"]:
            lines.append(
                f"| {r['step']} | {r['wall_seconds']:.1f} | {r['run_seconds'] or float('nan'):.1f} | "
                f"{r['import_seconds'] or float('nan'):.1f} | {r['peak_rss_mb']:.0f} | {r.get('peak_over_table', '')} | "
                f"{r.get('run_rss_increase_mb', '')} | {r.get('increase_over_table', '')} | {r['rows_per_second']:,} |"
            )
        lines.append(
            f"| **pipeline** | **{s['pipeline_wall_seconds']:.1f}** | {s['pipeline_run_seconds']:.1f} | | | | | | "
            f"{round(s['rows'] / s['pipeline_wall_seconds']):,} |"
        )
        if "plain" in s:
            p = s["plain"]
            lines.append(
                f"| plain script | {p['wall_seconds']:.1f} | {p.get('total_seconds') or float('nan'):.1f} | | "
                f"{p['peak_rss_mb']:.0f} | | | | |"
            )
            lines += [
                "",
                f"Pipeline / plain script: **{s.get('ratio_per_process', 'n/a')}** with every step in a fresh "
                "process as `dvc repro` runs them (wall, imports included); "
                f"**{s.get('ratio_in_process', 'n/a')}** on the work alone (run() seconds against the plain "
                "script's timed parts, as the in-process engine runs them in one process). Largest step peak "
                f"RSS / plain script's peak RSS: {s.get('peak_over_plain', 'n/a')}. Plain parts: {p.get('seconds')}.",
            ]
        lines.append("")
    lines += scaling_lines(result) + target_lines(result)
    if "cold_start" in result:
        c = result["cold_start"]
        lines += [
            "## Cold start",
            "",
            f"`tabgate --help`: {c['tabgate_help_seconds']} s; "
            f'`python -c "import flows.training"`: {c["import_flows_training_seconds"]} s (best of 3).',
            "",
        ]
    if result.get("flow_runs"):
        lines += [
            "## The pipeline as users run it: a first full `tabgate run` (Prefect flow)",
            "",
            "One process; includes starting a temporary Prefect server, the DVC snapshot (`dvc add`), the first-run "
            "suite bootstrap, every step, the Prefect artifacts and `dvc commit`. Peak RSS: the `tabgate run` process "
            "itself (VmHWM; the temporary server and dvc run in child processes).",
            "",
            "| rows | wall s | peak RSS MiB | peak / table | exit |",
            "|---|---:|---:|---:|---:|",
        ]
        for f in result["flow_runs"]:
            table_mb = next(
                (s["table_memory_mb"] for s in result["sizes"] if s["rows"] == f["rows"] and "table_memory_mb" in s), None
            )
            ratio = f"{f['peak_rss_mb'] / table_mb:.2f}" if table_mb else ""
            lines.append(
                f"| {size_label(f['rows'])} | {f['wall_seconds']:.1f} | {f['peak_rss_mb']:.0f} | {ratio} | {f['exit_code']} |"
            )
        lines.append("")
    if "no_change_rerun" in result:
        r = result["no_change_rerun"]
        lines += [
            f"## No-change re-run ({size_label(r['rows'])} rows, after a full `tabgate run --engine dvc` "
            f"of {r['first_run_dvc']['wall_seconds']:.0f} s)",
            "",
            "| command | wall s | exit |",
            "|---|---:|---:|",
        ]
        for key, label in (
            ("noop_tabgate_run_dvc_no_snapshot", "`tabgate run --engine dvc --no-snapshot`"),
            ("noop_dvc_repro", "`dvc repro`"),
            ("noop_tabgate_run_prefect", "`tabgate run` (Prefect)"),
        ):
            lines.append(f"| {label} | {r[key]['wall_seconds']:.1f} | {r[key]['exit_code']} |")
        lines += ["", f"`dvc status` afterwards: `{r['dvc_status_after'] or '(empty)'}`", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1m,5m", help="comma-separated row counts: 100k,1m,5m")
    parser.add_argument("--tune-trials", type=int, default=0, help="Optuna trials in train (0: tuning off)")
    parser.add_argument(
        "--dask-workers",
        type=int,
        default=0,
        help="run cv / tuning folds on a local Dask cluster of this many workers (0: in-process)",
    )
    parser.add_argument("--skip-plain", action="store_true", help="do not run the plain baseline")
    parser.add_argument("--skip-rerun", action="store_true", help="do not time the no-change re-run")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument(
        "--flow-sizes",
        default="1m",
        help="sizes at which to also time a full `tabgate run` (Prefect flow) in a git + DVC project ('' for none)",
    )
    parser.add_argument("--rerun-size", default=None, help="table size of the no-change re-run (default: the smallest)")
    parser.add_argument("--work", type=Path, default=None, help="scratch directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory and artifacts")
    parser.add_argument("--out-dir", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    work = args.work or Path(tempfile.mkdtemp(prefix="tabgate-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    result = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "tune_trials": args.tune_trials,
        "dask_workers": args.dask_workers,
        "work_dir": str(work),
        "sizes": [],
    }
    print(f"tabgate scale benchmark, scratch dir {work}\n{json.dumps(result['machine'])}", flush=True)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    src = load_source(params)
    try:
        for n in sizes:
            result["sizes"].append(bench_size(src, n, args, work))
        if not args.skip_cold_start:
            result["cold_start"] = time_cold_start()
        for n in [parse_size(x) for x in args.flow_sizes.split(",") if x.strip()]:
            result.setdefault("flow_runs", []).append(time_flow_run(src, n, args, work))
        if not args.skip_rerun:
            result["no_change_rerun"] = time_no_change_rerun(
                src, parse_size(args.rerun_size) if args.rerun_size else min(sizes), args, work
            )
    finally:
        result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "scale.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        (args.out_dir / "scale.md").write_text(markdown(result))
        print(f"written {args.out_dir / 'scale.json'} and {args.out_dir / 'scale.md'}", flush=True)
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
