"""Would a blend of tabgate's LightGBM and its linear baseline, its weight chosen on the CV folds, improve the test metric?

    python benchmarks/bench_blend.py --set dev|confirm [--tables a,b] [--out PATH] [--reuse SCRATCH ...]

A measurement (issue 24), nothing in tasks/ or flows/ changes. For each table of the set, in a scratch project built
by bench_quality's machinery (table_params, scratch_params, run_step: tabgate's steps snapshot .. evaluate, each in a
fresh process), or in a bench_quality scratch project given with --reuse:

1. Folds. The folds of the scheme the split implies (cv.json's refit_scheme: walk_forward for time and row-order
   splits, else group, else stratified / k-fold), built on train + valid exactly as the cv step builds them
   (tasks.modelling.folds.fold_indices, carve_validation for the early-stopping slice, fit_preprocessors,
   fit_lightgbm, fit_linear: score_fold's fitting, line for line). LightGBM gets the values the shipped model was
   fitted with (train.json's lightgbm_params: tuned where tuning ran), the baseline train's settings. Both models
   score every row of the fold's validation part in the margin space: log-odds (binary), per-class logits
   (multiclass; LightGBM's raw scores, the logistic regression's decision_function), the prediction (regression).
2. Rule. For w in 0, 0.1, .., 1 (w = LightGBM's share) the blend w * lightgbm + (1 - w) * linear is scored on each
   fold with the primary metric. The best mean over the folds is taken (ties to the larger w), and kept only when
   its paired per-fold gain over w = 1 exceeds train.tune.min_gain_se standard errors
   (tasks.modelling.tuning.keep_defaults, the rule tuning uses); else w = 1.
3. Test. The shipped bundles (models_dir/lightgbm and baseline) score the test split in the same margin space; the
   test metric at w = 1 (what ships today: checked equal to evaluate's metrics.json and, where given, the
   bench_quality results row), at the chosen w, and at every w (the hindsight best is for information only); where
   the chosen w is not 1, a paired bootstrap of the test difference (BOOTSTRAP resamples) says how much is noise.

Writes benchmarks/results/blend_<set>.json (commit per row) and prints a table; FLAML and AutoGluon numbers are
copied from benchmarks/results/quality_<set>.json. Nothing is asserted: the numbers are the result.
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
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import bench_quality as bq  # noqa: E402
from benchmarks.quality_tables import SETS, TableUnavailable  # noqa: E402
from tasks.core import io  # noqa: E402
from tasks.core.config import Config, LightGBMParams, TrainParams, load_config  # noqa: E402
from tasks.core.metrics import HIGHER_IS_BETTER, compute_metrics, primary_metric  # noqa: E402
from tasks.core.reports import CvReport, read_report  # noqa: E402
from tasks.core.sampling import baseline_rows  # noqa: E402
from tasks.core.schema import encode_target, infer_feature_types, label_classes  # noqa: E402
from tasks.data.splitting import carve_validation  # noqa: E402
from tasks.modelling.bundle import ModelBundle, load_bundle  # noqa: E402
from tasks.modelling.estimators import fit_lightgbm, fit_linear, resolve_class_weight  # noqa: E402
from tasks.modelling.folds import fold_indices, key_columns, model_columns  # noqa: E402
from tasks.modelling.preprocessing import fit_preprocessors  # noqa: E402
from tasks.modelling.reports import TrainReport  # noqa: E402
from tasks.modelling.tuning import keep_defaults  # noqa: E402

WEIGHTS = tuple(round(0.1 * k, 1) for k in range(11))  # LightGBM's share of the margin
BOOTSTRAP = 1000  # paired test resamples of the chosen blend against w = 1 (information on noise only)


def to_scores(task: str, margin: np.ndarray) -> np.ndarray:
    """Return what compute_metrics reads from a margin: P(positive), class probabilities (softmax), or the values."""
    if task == "binary":
        return 1.0 / (1.0 + np.exp(-margin))
    if task == "multiclass":
        z = margin - margin.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    return margin


def metric_of(task: str, y: np.ndarray, scores: np.ndarray) -> float:
    """Return the primary metric (ROC-AUC, multiclass log loss, RMSE) of scores (threshold-free)."""
    return float(compute_metrics(task, y, scores, 0.5)[primary_metric(task)])


def linear_margin(est, x, task: str) -> np.ndarray:
    """Return the linear baseline's margin: decision_function (log-odds / per-class logits) or the prediction."""
    return np.asarray(est.predict(x) if task == "regression" else est.decision_function(x), dtype=float)


def blend_metrics(task: str, y: np.ndarray, m_lgbm: np.ndarray, m_linear: np.ndarray) -> dict[float, float]:
    """Return the primary metric of the margin blend w * lightgbm + (1 - w) * linear for every w in WEIGHTS."""
    if m_lgbm.shape != m_linear.shape:
        raise ValueError(f"margins differ in shape: lightgbm {m_lgbm.shape}, linear {m_linear.shape}")
    return {w: metric_of(task, y, to_scores(task, w * m_lgbm + (1 - w) * m_linear)) for w in WEIGHTS}


def fold_margins(
    df: pd.DataFrame, train_pos: np.ndarray, valid_pos: np.ndarray, classes: list, cfg: Config, tp: TrainParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (y_valid, lightgbm margin, linear margin) of one fold, both fitted as the cv step fits them (score_fold)."""
    data, task = cfg.data, cfg.data.task
    fit_idx, es_idx = carve_validation(df[key_columns(data)].iloc[train_pos].reset_index(drop=True), data, cfg.split)
    fit_df, es_df, valid = df.iloc[train_pos[fit_idx]], df.iloc[train_pos[es_idx]], df.iloc[valid_pos]
    ft = infer_feature_types(fit_df, data)
    y_fit, y_es, y_valid = (encode_target(f[data.target], classes, data) for f in (fit_df, es_df, valid))
    rows = baseline_rows(y_fit, task, tp.baseline_max_rows, tp.random_state)
    pre = fit_preprocessors(fit_df, ft, cfg.preprocess, rows)
    cw = resolve_class_weight(y_fit, task, tp)
    lgbm = fit_lightgbm(pre["tree"], fit_df, y_fit, es_df, y_es, ft, task, tp.lightgbm, cw, tp.random_state)
    linear_df, y_linear = (fit_df, y_fit) if rows is None else (fit_df.iloc[rows], y_fit[rows])
    linear = fit_linear(pre["linear"], linear_df, y_linear, ft, task, tp, cw)
    m_lgbm = np.asarray(lgbm.predict(pre["tree"].transform(valid[ft.all]), raw_score=True), dtype=float)
    return y_valid, m_lgbm, linear_margin(linear, pre["linear"].transform(valid[ft.all]), task)


def oriented(metric: str, value: float) -> float:
    """Return value with higher always better."""
    return value if HIGHER_IS_BETTER[metric] else -value


def choose_weight(per_fold: list[dict[float, float]], metric: str, min_gain_se: float) -> dict:
    """Return the rule's choice: the best mean fold w (ties to the larger w), kept only beyond min_gain_se SE of the
    paired per-fold gain over w = 1 (keep_defaults), else w = 1; with the per-w fold means and the gain."""
    means = {w: float(np.mean([f[w] for f in per_fold])) for w in WEIGHTS}
    best = max(WEIGHTS, key=lambda w: (oriented(metric, means[w]), w))
    ones, bests = [f[1.0] for f in per_fold], [f[best] for f in per_fold]
    kept = keep_defaults(ones, bests, HIGHER_IS_BETTER[metric], min_gain_se)
    gain = (np.asarray(bests) - np.asarray(ones)) * (1 if HIGHER_IS_BETTER[metric] else -1)
    se = float(gain.std(ddof=1) / np.sqrt(len(gain))) if len(gain) > 1 else float("nan")
    return {
        "chosen_w": 1.0 if kept else best,
        "best_fold_w": best,
        "kept_w1": bool(kept),
        "fold_means": means,
        "gain_mean": float(gain.mean()),
        "gain_se": se,
        "min_gain_se": min_gain_se,
        "fold_gain": [float(g) for g in gain],
    }


def bootstrap_difference(task: str, y: np.ndarray, a: np.ndarray, b: np.ndarray, n: int = BOOTSTRAP, seed: int = 0) -> dict:
    """Return the paired bootstrap of metric(a) - metric(b) on the test rows (oriented: + means a is better): mean,
    2.5% and 97.5% quantiles and the share of resamples where a is better. For reading the noise, not for choosing."""
    metric, rng = primary_metric(task), np.random.default_rng(seed)
    diffs = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        if task == "binary" and len(np.unique(y[idx])) < 2:
            continue
        diffs.append(oriented(metric, metric_of(task, y[idx], a[idx])) - oriented(metric, metric_of(task, y[idx], b[idx])))
    d = np.asarray(diffs)
    return {
        "resamples": int(len(d)),
        "mean": float(d.mean()),
        "q025": float(np.quantile(d, 0.025)),
        "q975": float(np.quantile(d, 0.975)),
        "share_better": float((d > 0).mean()),
        "share_worse": float((d < 0).mean()),
    }


def shipped_margin(bundle: ModelBundle, test: pd.DataFrame) -> np.ndarray:
    """Return a shipped bundle's margin on the test rows (LightGBM raw scores at its tree count; the baseline's logits)."""
    x = bundle.transform(test)
    if bundle.kind == "lightgbm":
        return np.asarray(
            bundle.estimator.predict(x, num_iteration=bundle.meta.get("best_iteration") or None, raw_score=True), dtype=float
        )
    return linear_margin(bundle.estimator, x, bundle.task)


def measure(root: Path) -> dict:
    """Return the fold choice of w and the test metrics of the blend on one scratch project tabgate's steps ran in."""
    t0 = time.perf_counter()
    cfg = load_config(root / "params.yaml")
    task, pm = cfg.data.task, primary_metric(cfg.data.task)
    train, valid, test = (io.read_frame(p) for p in (cfg.paths.train, cfg.paths.valid, cfg.paths.test))
    report = read_report(TrainReport, cfg.paths.reports_dir / "train.json")
    cv = read_report(CvReport, cfg.paths.reports_dir / "cv.json")
    scheme = cv.refit_scheme()
    tp = cfg.train.model_copy(update={"lightgbm": LightGBMParams.model_validate(report.lightgbm_params)})
    df = pd.concat([train, valid], ignore_index=True)
    df = df[model_columns(df, cfg.data)]
    classes = label_classes(df[cfg.data.target], cfg.data)
    y = encode_target(df[cfg.data.target], classes, cfg.data)
    per_fold, cv_check = [], []
    for k, (tr, va) in enumerate(fold_indices(df, y, scheme, cfg.data, cfg.cv, cfg.split)):
        y_va, m_l, m_b = fold_margins(df, tr, va, classes, cfg, tp)
        per_fold.append(blend_metrics(task, y_va, m_l, m_b))
        logged = cv.schemes[scheme].folds[k]["lightgbm"].get(pm)  # what the cv step measured (untuned params)
        cv_check.append(None if logged is None else abs(per_fold[-1][1.0] - float(logged)))
    fold_seconds = time.perf_counter() - t0
    choice = choose_weight(per_fold, pm, cfg.train.tune.min_gain_se)
    lgbm, base = (load_bundle(cfg.paths.models_dir / n) for n in ("lightgbm", "baseline"))
    y_test = encode_target(test[cfg.data.target], lgbm.meta["classes"], cfg.data)
    today = metric_of(task, y_test, lgbm.predict_scores(test))  # exactly what evaluate computes
    m_lgbm, m_base = shipped_margin(lgbm, test), shipped_margin(base, test)
    by_w = blend_metrics(task, y_test, m_lgbm, m_base)
    w = choice["chosen_w"]
    noise = (
        None
        if w == 1.0
        else bootstrap_difference(task, y_test, to_scores(task, w * m_lgbm + (1 - w) * m_base), to_scores(task, m_lgbm))
    )
    hindsight = max(WEIGHTS, key=lambda w: (oriented(pm, by_w[w]), w))
    evaluate = json.loads((cfg.paths.reports_dir / "metrics.json").read_text())["models"]
    return {
        "table": None,
        "task": task,
        "metric": pm,
        "scheme": scheme,
        "n_folds": len(per_fold),
        "tuned": bool(report.tuned),
        "tabgate_today": today,
        "evaluate_lightgbm": evaluate["lightgbm"][pm],
        "evaluate_baseline": evaluate["baseline"][pm],
        "test_w1_from_margin": by_w[1.0],
        "blend_chosen": by_w[choice["chosen_w"]],
        "chosen_w": choice["chosen_w"],
        "test_at_best_fold_w": by_w[choice["best_fold_w"]],
        "hindsight_w": hindsight,
        "hindsight_metric": by_w[hindsight],
        "test_by_w": by_w,
        "test_rows": int(len(test)),
        "test_bootstrap_chosen_vs_w1": noise,
        "rule": choice,
        "fold_metrics_by_w": per_fold,
        "cv_step_fold_abs_diff_w1": cv_check,
        "fold_seconds": round(fold_seconds, 1),
        "measure_seconds": round(time.perf_counter() - t0, 1),
    }


def run_tabgate(name: str) -> tuple[Path, dict] | None:
    """Run tabgate's steps on one table in a scratch project (bench_quality's machinery); return its root and steps."""
    root = Path(tempfile.mkdtemp(prefix=f"tabgate-blend-{name}-"))
    raw = bq.table_params(name, root)
    if raw is None:
        return None
    raw = bq.scratch_params(raw, root)
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return root, {step: bq.run_step(step, root) for step in bq.STEPS}


def quality_rows(table_set: str) -> dict[str, dict]:
    """Return bench_quality's results rows of the set by table (empty when there is no results file)."""
    path = REPO / "benchmarks" / "results" / f"quality_{table_set}.json"
    return {r["table"]: r for r in json.loads(path.read_text())["tables"]} if path.exists() else {}


def with_reference(row: dict, ref: dict | None) -> dict:
    """Return the row with bench_quality's numbers beside it: its tabgate, default LightGBM, FLAML and AutoGluon."""
    ref = ref or {}
    return {
        **row,
        "quality_tabgate": ref.get("tabgate"),
        "quality_commit": ref.get("commit"),
        "default_lightgbm": (ref.get("default_lightgbm") or {}).get("metric"),
        "flaml": (ref.get("flaml") or {}).get("metric"),
        "autogluon": (ref.get("autogluon") or {}).get("metric"),
        "today_equals_quality": None if ref.get("tabgate") is None else bool(row["tabgate_today"] == ref["tabgate"]),
    }


def print_rows(rows: list[dict]) -> None:
    """Print one line per table: metric, today, blend at the chosen w, chosen w, hindsight w, AutoGluon, FLAML."""
    print(
        f"{'table':<22}{'metric':<9}{'today':>12}{'blend':>12}{'w':>5}{'best w':>8}{'at best':>12}"
        f"{'autogluon':>12}{'flaml':>12}{'secs':>7}"
    )
    nan = float("nan")
    for r in rows:
        print(
            f"{r['table']:<22}{r['metric']:<9}{r['tabgate_today']:>12.5g}{r['blend_chosen']:>12.5g}"
            f"{r['chosen_w']:>5.1f}{r['hindsight_w']:>8.1f}{r['hindsight_metric']:>12.5g}"
            f"{r.get('autogluon') or nan:>12.5g}{r.get('flaml') or nan:>12.5g}{r['wall_seconds']:>7.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="table_set", choices=sorted(SETS), default="dev")
    parser.add_argument("--tables", help="comma-separated subset of the set's tables (default: the whole set)")
    parser.add_argument(
        "--reuse",
        nargs="*",
        type=Path,
        default=[],
        help="scratch projects tabgate's steps already ran in (tabgate-<kind>-<table>-*), not rerun",
    )
    parser.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/blend_<set>.json)")
    args = parser.parse_args()
    names = args.tables.split(",") if args.tables else list(SETS[args.table_set])
    reuse = {p.name.split("-")[2]: p for p in args.reuse}
    refs = quality_rows(args.table_set)
    out = args.out or REPO / "benchmarks" / "results" / f"blend_{args.table_set}.json"
    started, load_start, rows = time.perf_counter(), os.getloadavg(), []
    for name in names:
        t0 = time.perf_counter()
        try:
            ran = (reuse[name], {}) if name in reuse else run_tabgate(name)
        except TableUnavailable as exc:
            print(f"{name}: skipped: {exc}", flush=True)
            continue
        if ran is None:
            print(f"{name}: source not found, skipped", flush=True)
            continue
        root, steps = ran
        row = with_reference({**measure(root), "table": name}, refs.get(name))
        row |= {
            "pipeline_seconds": bq.whole_pipeline_seconds(steps) if steps else None,
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "commit": bq.commit(),
            "set": args.table_set,
            "scratch": str(root),
            "loadavg_after": os.getloadavg(),
        }
        rows.append(row)
        print(
            f"{name}: today {row['tabgate_today']:.5g} (quality {row['quality_tabgate']}) chosen w {row['chosen_w']} "
            f"-> {row['blend_chosen']:.5g}; hindsight w {row['hindsight_w']} -> {row['hindsight_metric']:.5g} "
            f"({row['wall_seconds']:.0f}s)",
            flush=True,
        )
    print_rows(rows)
    result = {
        "set": args.table_set,
        "commit": bq.commit(),
        "tasks_tree": bq.tree_hash("tasks"),
        "versions": bq.versions(),
        "weights": list(WEIGHTS),
        "cpus": os.cpu_count(),
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "total_seconds": round(time.perf_counter() - started, 1),
        "tables": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
