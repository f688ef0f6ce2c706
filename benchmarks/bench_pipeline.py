"""Time every step of the pipeline on the bundled sample, and the whole Prefect flow, in a scratch project.

    python benchmarks/bench_pipeline.py [--params params.yaml] [--skip-flow] [--out benchmarks/results/pipeline.json]

Prints a table (seconds and peak RSS per step) and writes the numbers as JSON. Nothing is asserted:
the numbers are the result. The scratch project is a temporary git + DVC repository, so the real
workspace is not touched.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scratch import copy_repo_items  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STEPS = ("ingest", "validate", "split", "preprocess", "cv", "train", "evaluate", "explain", "promote")
ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false", "MPLBACKEND": "Agg", "DVC_NO_ANALYTICS": "1"}


def scratch_project(params: Path) -> Path:
    """Return a temporary git + DVC project holding a copy of the code, the sample, the suite and params."""
    root = Path(tempfile.mkdtemp(prefix="tabgate-bench-"))
    copy_repo_items(
        root,
        (
            "tasks",
            "flows",
            "dvc.yaml",
            ".dvcignore",
            "sample",
            "gx/expectations",
            "gx/reference_profile.json",
            "gx/great_expectations.yml",
        ),
    )
    shutil.copy(params, root / "params.yaml")
    env = {**os.environ, **ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for cmd in (["git", "init", "-q"], [str(Path(sys.executable).with_name("dvc")), "init", "-q"]):
        subprocess.run(cmd, cwd=root, check=True, env=env)
    return root


def time_steps(root: Path) -> list[dict]:
    """Run every step in this process (as `tabgate step` would) and return seconds and peak RSS per step."""
    os.chdir(root)
    sys.path.insert(0, str(root))
    from tasks.core.config import load_config
    from tasks.data.sources import snapshot_source

    cfg = load_config("params.yaml")
    rows = []
    t0 = time.perf_counter()
    snapshot_source(cfg.ingest, cfg.paths.data_dir)
    rows.append({"step": "snapshot", "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()})
    for name in STEPS:
        module = importlib.import_module(f"tasks.{name}")
        t0 = time.perf_counter()
        module.run(cfg)
        rows.append({"step": name, "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()})
        print(f"  {name:<11} {rows[-1]['seconds']:7.1f} s", flush=True)
    return rows


def peak_rss_mb() -> float:
    """Return this process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_flow(root: Path) -> dict:
    """Run `tabgate run` (the Prefect flow with a temporary local server) twice; return both wall times."""
    env = {**os.environ, **ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PREFECT_API_URL", None)
    out = {}
    for label in ("flow_first_run_seconds", "flow_no_change_rerun_seconds"):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "flows.cli", "run"], cwd=root, env=env, capture_output=True, text=True)
        out[label] = time.perf_counter() - t0
        if proc.returncode != 0:
            out["flow_error"] = proc.stderr[-2000:]
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--skip-flow", action="store_true", help="only time the steps in-process")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "pipeline.json")
    args = parser.parse_args()
    os.environ.update(ENV)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    print(f"tabgate pipeline benchmark on {machine}")
    steps_root = scratch_project(args.params.resolve())
    rows = time_steps(steps_root)
    result = {
        "machine": machine,
        "params": str(args.params),
        "steps": rows,
        "steps_total_seconds": sum(r["seconds"] for r in rows),
    }
    if not args.skip_flow:
        print("  timing the Prefect flow (tabgate run) in a fresh scratch project ...", flush=True)
        result |= time_flow(scratch_project(args.params.resolve()))
    print(f"\n{'step':<12}{'seconds':>9}{'peak RSS MiB':>14}")
    for r in rows:
        print(f"{r['step']:<12}{r['seconds']:>9.1f}{r['peak_rss_mb']:>14.0f}")
    print(f"{'all steps':<12}{result['steps_total_seconds']:>9.1f}")
    for key in ("flow_first_run_seconds", "flow_no_change_rerun_seconds"):
        if key in result:
            print(f"{key.replace('_', ' ')}: {result[key]:.1f}")
    if "flow_error" in result:
        print("flow failed:\n" + result["flow_error"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
