"""Same inputs, same model: run train + evaluate twice on copies of this project, once on a quiet machine and once
beside busy CPU loops, and compare the LightGBM model text, the scored test file and the test metrics byte for byte.

    .venv/bin/python benchmarks/bench_determinism.py            # needs artifacts/split and artifacts/preprocess
    .venv/bin/python benchmarks/bench_determinism.py --busy 2   # how many `while True: pass` loops run beside B

Run it after `make run` (or `tabgate run`), which writes the split and preprocess files both copies start from.
Writes benchmarks/results/determinism.json with the commit, the load at the start of each run and the hashes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _scratch import REPO, copy_repo_items

sys.path.insert(0, str(REPO))
from tasks.core.reports import read_optional_report  # noqa: E402
from tasks.modelling.reports import TuningReport  # noqa: E402

PROJECT_ITEMS = ("tasks", "params.yaml", "artifacts/split", "artifacts/preprocess", "registry", "gx", "reports")
BUSY_LOOP = "while True: pass"


def sha256(path: Path) -> str:
    """Return the sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_commit() -> str:
    """Return the repository's HEAD commit (with '+dirty' when the tree has changes)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return head.strip() + ("+dirty" if dirty else "")


def run_steps(root: Path) -> float:
    """Run train then evaluate in fresh processes under root, as dvc.yaml calls them; return their wall seconds."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    start = time.perf_counter()
    for step in ("train", "evaluate"):
        subprocess.run([sys.executable, "-m", f"tasks.{step}"], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - start, 1)


def one_run(root: Path, busy: int) -> dict:
    """Copy the project under root, run train + evaluate beside `busy` CPU loops, and return what they produced."""
    copy_repo_items(root, PROJECT_ITEMS)
    loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(busy)]
    try:
        time.sleep(2 if busy else 0)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        seconds = run_steps(root)
    finally:
        for p in loops:
            p.kill()
    metrics = json.loads((root / "reports/metrics.json").read_text())
    tuning_report = read_optional_report(TuningReport, root / "reports/tuning.json")
    tuning = tuning_report.to_data() if tuning_report else {}
    return {
        "busy_loops": busy,
        "load_at_start": load,
        "train_evaluate_seconds": seconds,
        "model_txt_sha256": sha256(root / "artifacts/models/lightgbm/model.txt"),
        "test_scored_sha256": sha256(root / "artifacts/evaluate/test_scored.parquet"),
        "test_metrics_lightgbm": metrics["models"]["lightgbm"],
        "tuning": {k: tuning.get(k) for k in ("n_trials", "chosen_trial", "kept_defaults", "best_value")},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--busy", type=int, default=2, help="CPU loops beside run B (default 2: one per core here)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/determinism.json")
    args = ap.parse_args()
    if not (REPO / "artifacts/split").is_dir() or not (REPO / "artifacts/preprocess").is_dir():
        print("artifacts/split or artifacts/preprocess is missing: run `make run` first", file=sys.stderr)
        return 2
    runs = {}
    for name, busy in (("A", 0), ("B", args.busy)):
        with tempfile.TemporaryDirectory(prefix=f"tabgate-determinism-{name}-") as tmp:
            runs[name] = one_run(Path(tmp), busy)
        print(
            f"run {name}: {busy} busy loops, load {runs[name]['load_at_start']}, "
            f"{runs[name]['train_evaluate_seconds']} s, model.txt {runs[name]['model_txt_sha256'][:12]}"
        )
    same = {
        key: runs["A"][key] == runs["B"][key]
        for key in ("model_txt_sha256", "test_scored_sha256", "test_metrics_lightgbm", "tuning")
    }
    result = {
        "what": "train + evaluate on copies of the same split/preprocess files; run B beside busy CPU loops",
        "commit": git_commit(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "runs": runs,
        "identical": same,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("identical:", same)
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
