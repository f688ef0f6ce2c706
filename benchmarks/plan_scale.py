"""Size a run past one machine from the measured scale benchmark: docs/scale.md's tables, derived, never invented.

    .venv/bin/python benchmarks/plan_scale.py [--results benchmarks/results/scale.json] [--rows 50m,500m]
                                              [--workers 2,4,8] [--params params.yaml]

Reads the per-step run() seconds and memory at the two largest sizes of benchmarks/results/scale.json (1M and 5M
rows: one process per step, 2 cores, LightGBM num_threads 2) and prints, as Markdown:
1. per step, seconds per million rows between the two sizes (the slope) and the time extrapolated linearly from
   the largest size: t(N) = t(5M) + slope x (N - 5M) (a step that samples has a small slope, which this keeps);
2. memory: bytes per row of the ingested table, and each step's peak extrapolated as its RSS after imports plus
   its measured added memory per byte of table at the largest size, times the table at N;
3. the Dask plan: cv folds placed on w workers (longest fold first; fold sizes from cv.n_splits, both schemes),
   tuning trials as walk-forward folds, the final LightGBM with lightgbm.dask (all n_estimators rounds, then the
   refit), at perfect parallel efficiency (a lower bound on time: lightgbm.dask's efficiency was not measured).
Asserts nothing and times nothing: the numbers are arithmetic on the benchmark's, which are as good as its machine.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from tasks.core.config import effective_params

REPO = Path(__file__).resolve().parents[1]
DRIVER_STEPS = ("ingest", "validate", "split", "preprocess", "evaluate", "explain", "promote")
MIB = 2**20


def parse_rows(text: str) -> int:
    """Return the row count of '50m', '500M' or '2000000'."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise SystemExit(f"--rows: cannot read {text!r}")
    return int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()])


def step_table(size: dict) -> dict[str, dict]:
    """Return the benchmark's steps of one size by name."""
    return {s["step"]: s for s in size["steps"]}


def extrapolated_seconds(small: dict, large: dict, n_small: int, n_large: int, n: int) -> tuple[float, float]:
    """Return (seconds per million rows between the two sizes, floored at 0; run() seconds extrapolated to n rows)."""
    slope = max(0.0, (large["run_seconds"] - small["run_seconds"]) / ((n_large - n_small) / 1e6))
    return slope, large["run_seconds"] + slope * (n - n_large) / 1e6


def extrapolated_peak_mib(large: dict, table_mib_large: float, table_mib: float) -> float:
    """Return a step's peak RSS at a table of table_mib: its RSS after imports plus its added memory per table MiB."""
    return large["import_rss_mb"] + large["run_rss_increase_mb"] / table_mib_large * table_mib


def fold_shares(n_splits: int) -> list[float]:
    """Return each cv fold's training rows as a share of the training part: stratified k-fold, then expanding
    walk-forward (fold k trains on k / (n_splits + 1) of the rows)."""
    return [1 - 1 / n_splits] * n_splits + [k / (n_splits + 1) for k in range(1, n_splits + 1)]


def makespan_share(shares: list[float], workers: int) -> float:
    """Return the longest worker's load over the total when jobs (cost proportional to share) go longest first
    to the least loaded of `workers`."""
    loads = [0.0] * workers
    for share in sorted(shares, reverse=True):
        loads[loads.index(min(loads))] += share
    return max(loads) / sum(shares)


def lightgbm_rounds(params: dict, best_iteration: int, dask_n_estimators: int | None = None) -> dict[str, float]:
    """Return the trees each path trains: local (early stopping: best + patience, then the refit) and lightgbm.dask
    (every n_estimators round, then the same refit); the refit scales best_iteration by (train + valid) / train."""
    lp, valid_size = params["train"]["lightgbm"], params["split"].get("valid_size", 0.15)
    refit = best_iteration / (1 - valid_size)
    return {
        "local": best_iteration + lp["early_stopping_rounds"] + refit,
        "dask": (dask_n_estimators or lp["n_estimators"]) + refit,
        "refit": refit,
    }


def fmt_s(seconds: float) -> str:
    """Return seconds as s, min or h."""
    return f"{seconds:,.0f} s" if seconds < 120 else f"{seconds / 60:,.0f} min" if seconds < 7200 else f"{seconds / 3600:,.1f} h"


def fmt_gib(mib: float) -> str:
    return f"{mib / 1024:,.1f} GiB"


def per_step_lines(small: dict, large: dict, rows: list[int]) -> list[str]:
    """Return the per-step Markdown table: measured seconds, slope, extrapolated seconds and peak memory."""
    s, g = step_table(small), step_table(large)
    tm_l = large["table_memory_mb"]
    head = (
        "| step | run() s at {} | at {} | s per M rows | ".format(small["label"], large["label"])
        + " | ".join(f"s at {n / 1e6:g}M | peak at {n / 1e6:g}M" for n in rows)
        + " |"
    )
    lines = [head, "|" + "---|" * (4 + 2 * len(rows))]
    for name in ("ingest", "validate", "split", "preprocess", "cv", "train", "evaluate", "explain", "promote"):
        slope, _ = extrapolated_seconds(s[name], g[name], small["rows"], large["rows"], large["rows"])
        cells = []
        for n in rows:
            _, t = extrapolated_seconds(s[name], g[name], small["rows"], large["rows"], n)
            cells += [fmt_s(t), fmt_gib(extrapolated_peak_mib(g[name], tm_l, tm_l * n / large["rows"]))]
        lines.append(
            f"| {name} | {s[name]['run_seconds']:.1f} | {g[name]['run_seconds']:.1f} | {slope:.1f} | " + " | ".join(cells) + " |"
        )
    return lines


def dask_plan_lines(
    small: dict, large: dict, rows: list[int], workers: list[int], params: dict, dask_n_estimators: int | None
) -> list[str]:
    """Return the Dask plan table: driver steps, cv and tuning on w workers, the final LightGBM with lightgbm.dask."""
    s, g = step_table(small), step_table(large)
    shares = fold_shares(params["cv"]["n_splits"])
    wf = shares[params["cv"]["n_splits"] :]
    plain = large["plain"]
    lgbm_share = min(1.0, plain["seconds"]["final_fit"] / g["train"]["run_seconds"])
    rounds = lightgbm_rounds(params, plain["best_iteration"], dask_n_estimators)
    trials, train_share = params["train"]["tune"]["n_trials"], 1 - params["split"].get("valid_size", 0.15)
    lines = [
        f"| rows | workers | driver steps | cv | train (lightgbm.dask) | total, tuning off | tuning ({trials} trials) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in rows:
        at = {
            name: extrapolated_seconds(s[name], g[name], small["rows"], large["rows"], n)[1]
            for name in (*DRIVER_STEPS, "cv", "train")
        }
        driver = sum(at[name] for name in DRIVER_STEPS)
        per_tree = at["train"] * lgbm_share / (plain["best_iteration"] + params["train"]["lightgbm"]["early_stopping_rounds"])
        rest_of_train = at["train"] * (1 - lgbm_share)
        for w in [1, *workers]:
            cv = at["cv"] * makespan_share(shares, w)
            # a trial: the walk-forward folds of the train split (tuning never reads valid), none pruned
            trial = at["cv"] * train_share * sum(wf) / sum(shares) * makespan_share(wf, w)
            train = rest_of_train + per_tree * (rounds["local"] if w == 1 else rounds["dask"] / w)
            label = "1 (local)" if w == 1 else str(w)
            lines.append(
                f"| {n / 1e6:g}M | {label} | {fmt_s(driver)} | {fmt_s(cv)} | {fmt_s(train)} | "
                f"{fmt_s(driver + cv + train)} | + {fmt_s(trial * trials)} |"
            )
    return lines


def memory_lines(large: dict, rows: list[int], workers: list[int]) -> list[str]:
    """Return per-worker and driver memory at each size: cv workers hold the whole table, lightgbm.dask a share."""
    g = step_table(large)
    tm_l = large["table_memory_mb"]
    lines = [
        "| rows | table in memory | driver peak (largest driver step) | cv worker peak | "
        + " | ".join(f"train worker at {w} workers" for w in workers)
        + " |",
        "|---:|---:|---:|---:|" + "---:|" * len(workers),
    ]
    for n in rows:
        table = tm_l * n / large["rows"]
        driver = max(extrapolated_peak_mib(g[name], tm_l, table) for name in (*DRIVER_STEPS, "train"))
        cv = extrapolated_peak_mib(g["cv"], tm_l, table)
        train_added = g["train"]["run_rss_increase_mb"] / tm_l * table
        per_w = [fmt_gib(g["train"]["import_rss_mb"] + train_added / w) for w in workers]
        lines.append(f"| {n / 1e6:g}M | {fmt_gib(table)} | {fmt_gib(driver)} | {fmt_gib(cv)} | " + " | ".join(per_w) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(REPO / "benchmarks" / "results" / "scale.json"))
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--rows", default="50m,500m")
    parser.add_argument("--workers", default="2,4,8")
    parser.add_argument(
        "--dask-n-estimators",
        type=int,
        default=None,
        help="train.lightgbm.n_estimators for the lightgbm.dask rows (default: params.yaml's)",
    )
    args = parser.parse_args()
    result = json.loads(Path(args.results).read_text())
    params = effective_params(args.params)  # every key, defaults filled in (params.yaml holds only choices)
    sizes = sorted(result["sizes"], key=lambda s: s["rows"])[-2:]
    rows = [parse_rows(r) for r in args.rows.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    small, large = sizes
    machine = result["machine"]
    shown = Path(args.results).resolve()
    shown = shown.relative_to(REPO) if shown.is_relative_to(REPO) else shown
    print(
        f"From {shown}: commit {machine.get('tabgate_commit')}, {result['started']}, {machine['cpus']} CPUs, "
        f"tuning {'off' if not result.get('tune_trials') else result['tune_trials']}; sizes {small['label']} and "
        f"{large['label']}; table {large['table_memory_mb'] * MIB / large['rows']:.0f} bytes per row in memory.\n"
    )
    print("\n".join(per_step_lines(small, large, rows)), "\n")
    shares = fold_shares(params["cv"]["n_splits"])
    print(
        f"cv folds (training rows / training part): {', '.join(f'{x:.2f}' for x in shares)}; longest-first makespan "
        f"share at {', '.join(f'{w} workers {makespan_share(shares, w):.2f}' for w in workers)}."
    )
    r = lightgbm_rounds(params, large["plain"]["best_iteration"], args.dask_n_estimators)
    print(
        f"Trees: local {r['local']:.0f} (best {large['plain']['best_iteration']} + patience + refit {r['refit']:.0f}), "
        f"lightgbm.dask {r['dask']:.0f} (n_estimators + refit); LightGBM share of train's run(): "
        f"{large['plain']['seconds']['final_fit']:.1f} / {step_table(large)['train']['run_seconds']:.1f} s.\n"
    )
    print("\n".join(dask_plan_lines(small, large, rows, workers, params, args.dask_n_estimators)), "\n")
    print("\n".join(memory_lines(large, rows, workers)))


if __name__ == "__main__":
    main()
