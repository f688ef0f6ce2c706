"""Error analysis: where and why the LightGBM model errs on the test set.

SHAP on a deliberate sample of scored test rows (tasks/evaluation/error_outcomes.py), global importance
cross-checked against gain and permutation importance (tasks/evaluation/feature_importance.py), the worst errors
with their drivers, and error slices over every scored row (tasks/evaluation/slices.py); figures are drawn by
tasks/reporting/error_figures.py.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from tasks.core.config import DataParams, ExplainParams
from tasks.core.reports import build_report
from tasks.core.schema import require_columns
from tasks.evaluation.error_outcomes import ERROR_KINDS, MODEL, Outcomes, Sample, derive_outcomes, sample_rows, worst_error_rows
from tasks.evaluation.feature_importance import ShapResult, analyse_importance, compute_shap, importance_warnings
from tasks.evaluation.slices import (
    find_error_slices,
    json_scalar,
    slice_conditions,
    slice_drivers,
    slice_masks,
)
from tasks.modelling.bundle import ModelBundle, predict_transformed
from tasks.reporting.error_figures import render_figures
from tasks.reporting.explain_report import ExplainReport

log = logging.getLogger(__name__)

OUT_DIR = "explain"

SCORE_TOLERANCE = 1e-6

RAW_VALUE_KEYS = frozenset({"value", "id", "time", "equals", "y_true", "prediction"})  # never rounded in the JSON

SHAP_UNITS = {
    "binary": "log-odds of the positive class",
    "multiclass": "raw score (log-odds before softmax) of the predicted class",
    "regression": "units of the target",
}


def decode_label(value: float, classes: list, task: str) -> Any:
    """Return the original label for an encoded class (regression: the value itself)."""
    if task == "regression" or not classes:
        return float(value)
    return json_scalar(classes[int(value)])


def top_contributions(values: np.ndarray, raw: pd.Series, features: list[str], n: int) -> list[dict[str, Any]]:
    """Return the n features with the largest |SHAP| for one row, with the row's raw value and signed SHAP."""
    order = np.lexsort((np.arange(len(values)), -np.abs(values)))[:n]
    return [{"feature": features[j], "value": json_scalar(raw[features[j]]), "shap": float(values[j])} for j in order]


def describe_worst_errors(
    scored: pd.DataFrame,
    out: Outcomes,
    sample: Sample,
    shap_res: ShapResult,
    meta: dict[str, Any],
    data: DataParams,
    p: ExplainParams,
) -> dict[str, list[dict[str, Any]]]:
    """Return, per error kind, the worst sampled errors with label, prediction, score and top raw-valued contributions.

    Rows identical to one already listed (same label, score and SHAP values: duplicate bookings) are counted in its
    `identical_rows`, not listed again, so the top_errors rows are distinct.
    """
    task, classes = meta["task"], list(meta.get("classes") or [])
    result: dict[str, list[dict[str, Any]]] = {}
    for kind, rows in worst_error_rows(out, ERROR_KINDS[task], len(out.kind)).items():
        items: list[dict[str, Any]] = []
        seen: dict[tuple, dict[str, Any]] = {}
        for r in rows[np.isin(rows, sample.rows)]:
            k = int(np.searchsorted(sample.rows, r))
            key = (out.y_true[r], float(out.score[r]), shap_res.values[k].tobytes())
            if key in seen:
                seen[key]["identical_rows"] += 1
                continue
            if len(items) == p.top_errors:
                break
            raw = scored.iloc[int(r)]
            item = {
                "row": int(r),
                "kind": kind,
                "y_true": decode_label(out.y_true[r], classes, task),
                "prediction": decode_label(out.pred[r], classes, task),
                "score": float(out.score[r]),
                "severity": float(out.severity[r]),
                "base_value": float(shap_res.base[k]),
                "top_features": top_contributions(shap_res.values[k], raw, shap_res.features, p.error_top_features),
                "id": json_scalar(raw[data.id_column]) if data.id_column in scored else None,
                "time": json_scalar(raw[data.time_column]) if data.time_column in scored else None,
            }
            if shap_res.true_values is not None:
                item["top_features_true_class"] = top_contributions(
                    shap_res.true_values[k], raw, shap_res.features, p.error_top_features
                )
            item["identical_rows"] = 0
            seen[key] = item
            items.append(item)
        result[kind] = items
    return result


def slice_columns(scored: pd.DataFrame, meta: dict[str, Any], data: DataParams) -> tuple[list[str], list[str]]:
    """Return the numeric and categorical columns to slice on: the model's features plus configured segment columns."""
    numeric = [c for c in meta.get("numeric", []) if c in scored]
    categorical = [c for c in meta.get("categorical", []) if c in scored]
    extra = [c for c in data.segment_columns if c in scored and c not in numeric and c not in categorical]
    return numeric, categorical + extra


def analyse_slices(
    scored: pd.DataFrame,
    out: Outcomes,
    sample: Sample,
    shap_res: ShapResult,
    global_mean: np.ndarray,
    meta: dict[str, Any],
    data: DataParams,
    p: ExplainParams,
) -> dict[str, Any]:
    """Return the slice summary: the top flagged segments with stats, conditions and SHAP drivers of their errors."""
    numeric, categorical = slice_columns(scored, meta, data)
    table, levels = find_error_slices(scored, out.error_value, numeric, categorical, p)
    top = table[table["flagged"]].head(p.slice_top).reset_index(drop=True)
    members = slice_masks(top, levels, sample.rows) if len(top) else np.zeros((len(sample.rows), 0), dtype=bool)
    drivers = slice_drivers(members, out.is_error[sample.rows], np.abs(shap_res.values), global_mean, shap_res.features)
    conditions = slice_conditions(top, levels) if len(top) else []
    keys = ["segment", "n_conditions", "rows", "errors", "error_rate", "lift", "z", "z_vs_parent", "excess_errors"]
    entries = [
        {**{k: json_scalar(rec[k]) for k in keys}, "conditions": conditions[i], **drivers[i]}
        for i, rec in enumerate(top.to_dict("records"))
    ]
    return {
        "measure": "mean_abs_residual" if meta["task"] == "regression" else "error_rate",
        "overall_rate": float(out.error_value.mean()),
        "rows": int(len(scored)),
        "n_candidates": int(len(table)),
        "n_flagged": int(table["flagged"].sum()) if len(table) else 0,
        "min_support": p.slice_min_support,
        "min_z": p.slice_min_z,
        "min_lift": p.slice_min_lift,
        "columns": numeric + categorical,
        "top": entries,
    }


def score_mismatch(bundle: ModelBundle, x_sample: pd.DataFrame, out: Outcomes, rows: np.ndarray) -> float:
    """Return the largest difference between the bundle's scores and the evaluate step's scores on the sample."""
    if len(rows) == 0:
        return 0.0
    scores = predict_transformed(bundle, x_sample)
    if bundle.task == "multiclass":
        scores = scores[np.arange(len(rows)), out.pred[rows]]
    return float(np.max(np.abs(scores - out.score[rows])))


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """Return the flat numbers DVC shows as metrics (explain_summary.json)."""
    s, g, a = report["sample"], report["global_importance"], report["agreement"]
    top = report["slices"]["top"]
    return {
        "test_rows": s["test_rows"],
        "n_sampled": s["sampled"],
        "n_errors": s["errors_total"],
        "n_errors_sampled": s["errors_sampled"],
        "overall_error": report["slices"]["overall_rate"],
        "top_feature_share": g[0]["share"] if g else None,
        "spearman_shap_gain": a["spearman_shap_gain"],
        "spearman_shap_permutation": a["spearman_shap_permutation"],
        "n_slices_flagged": report["slices"]["n_flagged"],
        "top_slice_lift": top[0]["lift"] if top else None,
        "n_warnings": len(report["warnings"]),
    }


def round_floats(obj: Any, digits: int = 6) -> Any:
    """Return obj with computed floats rounded to `digits` significant digits (stable JSON); raw data values kept."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if np.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: v if k in RAW_VALUE_KEYS else round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, digits) for v in obj]
    return obj


def explain_model(
    scored: pd.DataFrame,
    valid: pd.DataFrame,
    bundle: ModelBundle,
    data: DataParams,
    p: ExplainParams,
    step_version: str = "1",
) -> tuple[ExplainReport, dict[str, bytes]]:
    """Return the explain report and its PNGs for a scored test frame, validation rows and the bundle."""
    meta, task = bundle.meta, bundle.task
    require_columns(scored, bundle.features, "scored test frame (evaluate output)")
    t0 = time.perf_counter()
    out = derive_outcomes(scored, meta)
    sample = sample_rows(out, task, p)
    x_sample = bundle.transform(scored.iloc[sample.rows])
    shap_res = compute_shap(bundle, x_sample, out.pred[sample.rows].astype(int), out.y_true[sample.rows].astype(int))
    log.info("explain: SHAP on %d of %d test rows in %.1fs", len(sample.rows), len(scored), time.perf_counter() - t0)
    table, agreement, mean_abs = analyse_importance(bundle, shap_res, sample, valid, data, p)
    warns = importance_warnings(table, agreement, p)
    mismatch = score_mismatch(bundle, x_sample, out, sample.rows)
    if mismatch > SCORE_TOLERANCE:
        warns.append(
            f"the {MODEL} bundle's scores differ from the scored test frame by up to {mismatch:.3g}: "
            "the model was retrained after evaluate; re-run evaluate before explain"
        )
    report: dict[str, Any] = {
        "step_version": step_version,
        "model": MODEL,
        "task": task,
        "error_definition": out.definition,
        "shap_units": SHAP_UNITS[task],
        "sample": sample.sizes,
        "global_importance": table,
        "agreement": agreement,
        "worst_errors": describe_worst_errors(scored, out, sample, shap_res, meta, data, p),
        "slices": analyse_slices(scored, out, sample, shap_res, mean_abs, meta, data, p),
        "warnings": warns,
        "columns_left_out": columns_left_out(data),
    }
    images = render_figures(report, shap_res, x_sample, sample.rows, scored, set(meta.get("numeric", [])), p)
    report["figures"] = sorted(images)
    report["summary"] = summarize(report)
    log.info(
        "explain: done in %.1fs, %d flagged segments, %d warnings",
        time.perf_counter() - t0,
        report["slices"]["n_flagged"],
        len(warns),
    )
    return build_report(ExplainReport, round_floats(report)), images


def columns_left_out(data: DataParams) -> dict[str, str]:
    """Return {column: why the model never sees it}: configured drops, plus the time and id columns."""
    out = dict(data.drop_columns)
    if data.time_column:
        out.setdefault(data.time_column, "time column: orders the split, not a feature")
    if data.id_column:
        out.setdefault(data.id_column, "entity id: groups rows, not a feature")
    return out
