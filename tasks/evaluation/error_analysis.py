"""Error analysis: where and why the LightGBM model errs on the test set.

SHAP (the Booster's TreeSHAP) on a deliberate sample of scored test rows (every error up to a cap plus a
stratified sample of the rest), global importance cross-checked against gain and permutation importance,
the worst errors with their drivers, and error slices over every scored row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tasks.core.config import DataParams, ExplainParams
from tasks.core.errors import SchemaError
from tasks.core.metrics import (
    HIGHER_IS_BETTER,
    compute_metrics,
    primary_metric,
    score_columns,
)
from tasks.core.schema import encode_target, require_columns
from tasks.evaluation.slices import (
    find_error_slices,
    json_scalar,
    slice_conditions,
    slice_drivers,
    slice_masks,
)
from tasks.modelling.bundle import ModelBundle, predict_transformed
from tasks.reporting import report_html as rh

log = logging.getLogger(__name__)


MODEL = "lightgbm"


OUT_DIR = "explain"


REGRESSION_ERROR_QUANTILE = 0.9  # regression rows with |residual| in the top 10% count as errors


REGRESSION_STRATA = 5            # quantile bins of y used to stratify the regression sample


SCORE_TOLERANCE = 1e-6


RAW_VALUE_KEYS = frozenset({"value", "id", "time", "equals", "y_true", "prediction"})  # never rounded in the JSON


ERROR_KINDS = {
    "binary": ("false_positive", "false_negative"),
    "multiclass": ("misclassified",),
    "regression": ("over_prediction", "under_prediction"),
}


SHAP_UNITS = {
    "binary": "log-odds of the positive class",
    "multiclass": "raw score (log-odds before softmax) of the predicted class",
    "regression": "units of the target",
}


@dataclass(frozen=True)
class Outcomes:
    """Per scored test row: label, prediction, score, error flag, error kind, severity and the slice error value."""

    y_true: np.ndarray
    pred: np.ndarray
    score: np.ndarray
    is_error: np.ndarray
    kind: np.ndarray
    severity: np.ndarray
    error_value: np.ndarray
    definition: str


@dataclass(frozen=True)
class Sample:
    """Rows explained with SHAP (sorted positions into the scored frame), their weights back to the test set, sizes."""

    rows: np.ndarray
    weights: np.ndarray
    sizes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShapResult:
    """SHAP values of the sample for the explained class of each row, with base values and true-class values."""

    values: np.ndarray
    base: np.ndarray
    features: list[str]
    true_values: np.ndarray | None = None
    true_base: np.ndarray | None = None


def binary_outcomes(scored: pd.DataFrame, y: np.ndarray, threshold: float) -> Outcomes:
    """Return outcomes at the model's threshold: false positives / negatives, severity = confidence of the wrong call."""
    p = scored[f"score_{MODEL}"].to_numpy(dtype=float)
    pred = scored[f"pred_{MODEL}"].to_numpy(dtype=int) if f"pred_{MODEL}" in scored else (p >= threshold).astype(int)
    y = y.astype(int)
    kind = np.where(pred == y, "correct", np.where(pred == 1, "false_positive", "false_negative"))
    severity = np.where(kind == "false_positive", p, np.where(kind == "false_negative", 1 - p, 0.0))
    err = pred != y
    return Outcomes(y, pred, p, err, kind, severity, err.astype(float), f"pred_{MODEL} != y_true at threshold {threshold:.4g}")


def multiclass_outcomes(scored: pd.DataFrame, y: np.ndarray) -> Outcomes:
    """Return outcomes of the arg-max class; severity = probability given to the wrong predicted class."""
    proba = score_columns(scored, MODEL, "multiclass")
    if proba.shape[1] == 0:
        raise SchemaError(f"scored test frame has no proba_{MODEL}_<k> columns; re-run the evaluate step")
    pred = scored[f"pred_{MODEL}"].to_numpy(dtype=int) if f"pred_{MODEL}" in scored else proba.argmax(axis=1)
    y = y.astype(int)
    conf = proba[np.arange(len(pred)), pred]
    err = pred != y
    kind = np.where(err, "misclassified", "correct")
    return Outcomes(y, pred, conf, err, kind, np.where(err, conf, 0.0), err.astype(float), f"pred_{MODEL} != y_true (arg-max class)")


def regression_outcomes(scored: pd.DataFrame, y: np.ndarray) -> Outcomes:
    """Return outcomes with |residual| as severity; rows in the top decile of |residual| count as errors."""
    col = f"pred_{MODEL}" if f"pred_{MODEL}" in scored else f"score_{MODEL}"
    pred = scored[col].to_numpy(dtype=float)
    resid = pred - y.astype(float)
    abs_res = np.abs(resid)
    cut = float(np.quantile(abs_res, REGRESSION_ERROR_QUANTILE)) if len(abs_res) else 0.0
    err = (abs_res >= cut) & (abs_res > 0)
    kind = np.where(~err, "correct", np.where(resid > 0, "over_prediction", "under_prediction"))
    return Outcomes(y.astype(float), pred, pred, err, kind, abs_res, abs_res,
                    f"|y_true - pred_{MODEL}| >= {cut:.4g} (top {100 * (1 - REGRESSION_ERROR_QUANTILE):.0f}% of residuals)")


def derive_outcomes(scored: pd.DataFrame, meta: dict[str, Any]) -> Outcomes:
    """Return the per-row outcomes of the LightGBM model from the scored test frame (task from the bundle meta)."""
    task = meta["task"]
    needed = ["y_true"] + ([f"score_{MODEL}"] if task != "multiclass" else [])
    require_columns(scored, needed, "scored test frame (evaluate output)")
    if len(scored) == 0:
        raise SchemaError("scored test frame has no rows; check the split step's test period")
    y = scored["y_true"].to_numpy(dtype=float)
    if task == "binary":
        return binary_outcomes(scored, y, float(meta.get("threshold", 0.5)))
    if task == "multiclass":
        return multiclass_outcomes(scored, y)
    return regression_outcomes(scored, y)


def worst_error_rows(out: Outcomes, kinds: tuple[str, ...], top: int) -> dict[str, np.ndarray]:
    """Return, per error kind, the positions of the `top` most severe errors (ties: lower position first)."""
    result = {}
    for kind in kinds:
        idx = np.flatnonzero(out.kind == kind)
        order = np.lexsort((idx, -out.severity[idx]))
        result[kind] = idx[order[:top]]
    return result


def pick_stratified(idx: np.ndarray, strata: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Return k of idx (sorted), allocated to strata in proportion to their size (largest remainder), random within."""
    if k >= len(idx):
        return np.sort(idx)
    if k <= 0:
        return np.zeros(0, dtype=idx.dtype)
    codes, _ = pd.factorize(pd.Series(strata), sort=True)
    counts = np.bincount(codes)
    exact = counts * k / len(idx)
    quota = np.floor(exact).astype(int)
    short = k - quota.sum()
    quota[np.lexsort((np.arange(len(counts)), -(exact - quota)))[:short]] += 1
    order = rng.permutation(len(idx))
    shuffled = codes[order]
    rank = pd.Series(shuffled).groupby(shuffled).cumcount().to_numpy()
    return np.sort(idx[order[rank < quota[shuffled]]])


def sample_strata(out: Outcomes, task: str) -> np.ndarray:
    """Return the stratum of each row for the non-error sample: the true class, or a quantile bin of y."""
    if task != "regression":
        return out.y_true.astype(int)
    bins = max(1, min(REGRESSION_STRATA, len(out.y_true)))
    return pd.qcut(pd.Series(out.y_true).rank(method="first"), bins, labels=False).to_numpy(dtype=int)


def pick_errors(out: Outcomes, task: str, p: ExplainParams, rng: np.random.Generator) -> np.ndarray:
    """Return the errors to explain: the worst of each kind always, then a kind-stratified random rest; max_errors in all."""
    worst = list(worst_error_rows(out, ERROR_KINDS[task], p.top_errors).values())
    forced = np.concatenate(worst) if worst else np.zeros(0, dtype=int)
    forced = forced[np.lexsort((forced, -out.severity[forced]))][: p.max_errors]
    others = np.setdiff1d(np.flatnonzero(out.is_error), forced)
    extra = pick_stratified(others, out.kind[others], p.max_errors - len(forced), rng)
    return np.union1d(forced, extra).astype(int)


def sample_weights(out: Outcomes, strata: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return each sampled row's weight: rows of its group in the test set / sampled rows of that group.

    Groups are the error kinds and the strata of correct rows, so weighted means over the sample estimate
    test-set means although errors are over-represented in it.
    """
    group = np.where(out.is_error, pd.factorize(pd.Series(out.kind), sort=True)[0], -1 - strata)
    codes, _ = pd.factorize(pd.Series(group), sort=True)
    population = np.bincount(codes)
    sampled = np.bincount(codes[rows], minlength=len(population))
    return (population[codes[rows]] / sampled[codes[rows]]).astype(float)


def sample_rows(out: Outcomes, task: str, p: ExplainParams) -> Sample:
    """Return the SHAP sample: worst errors first, other errors up to max_errors, a stratified rest up to sample_size."""
    rng = np.random.default_rng(p.random_state)
    picked_errors = pick_errors(out, task, p, rng)
    correct = np.flatnonzero(~out.is_error)
    strata = sample_strata(out, task)
    picked_correct = pick_stratified(correct, strata[correct], p.sample_size - len(picked_errors), rng)
    rows = np.union1d(picked_errors, picked_correct).astype(int)
    sizes = {
        "test_rows": int(len(out.is_error)), "errors_total": int(out.is_error.sum()), "errors_sampled": int(len(picked_errors)),
        "correct_total": int(len(correct)), "correct_sampled": int(len(picked_correct)), "sampled": int(len(rows)),
        "cap_sample_size": p.sample_size, "cap_max_errors": p.max_errors,
        "errors_by_kind": {k: int((out.kind == k).sum()) for k in ERROR_KINDS[task]},
        "errors_sampled_by_kind": {k: int((out.kind[rows] == k).sum()) for k in ERROR_KINDS[task]},
    }
    return Sample(rows=rows, weights=sample_weights(out, strata, rows), sizes=sizes)


def best_iteration(bundle: ModelBundle) -> int | None:
    """Return the boosting round the bundle predicts with (None: all trees)."""
    best = bundle.meta.get("best_iteration")
    return int(best) if best and int(best) > 0 else None


def tree_shap(bundle: ModelBundle, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return TreeSHAP values (rows, features[, classes]) and the base value per output, from the Booster's own
    TreeSHAP (predict(pred_contrib=True)): exactly what shap.TreeExplainer returns for a LightGBM Booster (it calls
    the same), without importing shap (~1.5 s) or parsing every tree into Python (~0.3 s)."""
    limit = best_iteration(bundle)
    phi = np.asarray(bundle.estimator.predict(x, num_iteration=-1 if limit is None else limit, pred_contrib=True))
    width = x.shape[1] + 1
    if phi.shape[1] == width:
        return phi[:, :-1], phi[0, -1:]
    phi = phi.reshape(len(x), phi.shape[1] // width, width)
    return np.stack([phi[:, k, :-1] for k in range(phi.shape[1])], axis=-1), phi[0, :, -1]


def compute_shap(bundle: ModelBundle, x: pd.DataFrame, explain_class: np.ndarray, true_class: np.ndarray) -> ShapResult:
    """Return TreeSHAP values of x (Booster, pred_contrib); multiclass: the given class per row, and the true class."""
    if bundle.kind != MODEL:
        raise SchemaError(f"explain needs the {MODEL} bundle, got kind '{bundle.kind}'")
    raw, base = tree_shap(bundle, x)
    base = np.asarray(base, dtype=float)
    features = [str(c) for c in x.columns]
    if raw.ndim == 2:
        return ShapResult(raw, np.full(len(x), base[0]), features)
    rows = np.arange(len(x))
    return ShapResult(raw[rows, :, explain_class], base[explain_class], features, raw[rows, :, true_class], base[true_class])


def gain_importance(bundle: ModelBundle, n_features: int) -> np.ndarray:
    """Return LightGBM total gain per feature (model-matrix column order) up to the best iteration."""
    gain = np.asarray(bundle.estimator.feature_importance(importance_type="gain", iteration=best_iteration(bundle)), dtype=float)
    if len(gain) != n_features:
        raise SchemaError(f"the booster has {len(gain)} features but the preprocessor gives {n_features}; the bundle is inconsistent")
    return gain


def scores_metric(bundle: ModelBundle, scores: np.ndarray, y: np.ndarray, metric: str) -> float:
    """Return the metric of the bundle's scores (primary metrics directly, as tasks.core.metrics defines them)."""
    from sklearn import metrics as skm

    if metric == "roc_auc" and bundle.task == "binary" and len(np.unique(y)) == 2:
        return float(skm.roc_auc_score(y, scores))
    if metric == "rmse" and bundle.task == "regression":
        return float(np.sqrt(skm.mean_squared_error(y, scores)))
    return float(compute_metrics(bundle.task, y, scores, float(bundle.meta.get("threshold", 0.5)))[metric])


def unchanged_rows(values: np.ndarray, shuffled: np.ndarray) -> np.ndarray:
    """Return which rows keep the very same value after a shuffle (floats: same bits); other dtypes: none."""
    if values.dtype.kind == "f":
        as_int = np.dtype(f"i{values.dtype.itemsize}")
        return values.view(as_int) == shuffled.view(as_int)
    if values.dtype.kind in "biu":
        return values == shuffled
    return np.zeros(len(values), dtype=bool)


def permuted_scores(bundle: ModelBundle, x: pd.DataFrame, base_scores: np.ndarray, col: str,
                    shuffles: list[np.ndarray]) -> list[np.ndarray]:
    """Return the bundle's scores of x with column col replaced by each shuffle.

    A LightGBM score depends on its own row alone, so only the rows whose value a shuffle changed are
    re-scored (about half of them on the hotel data), all shuffles in one call: the very scores of
    re-scoring every row. Other bundles re-score every row, one shuffle at a time.
    """
    if bundle.kind != MODEL:
        return [predict_transformed(bundle, x.assign(**{col: shuffled})) for shuffled in shuffles]
    values = x[col].to_numpy()
    changed = [np.flatnonzero(~unchanged_rows(values, shuffled)) for shuffled in shuffles]
    stacked = np.concatenate(changed)
    predicted = base_scores[:0]
    if len(stacked):
        rows = x.iloc[stacked].copy()
        rows[col] = np.concatenate([shuffled[idx] for shuffled, idx in zip(shuffles, changed)])
        predicted = predict_transformed(bundle, rows)
    out, start = [], 0
    for idx in changed:
        scores = base_scores.copy()
        scores[idx] = predicted[start : start + len(idx)]
        out.append(scores)
        start += len(idx)
    return out


def permutation_importance(
    bundle: ModelBundle, x: pd.DataFrame, y: np.ndarray, metric: str, n_repeats: int, random_state: int
) -> tuple[float, np.ndarray]:
    """Return the baseline metric and, per column, the mean loss of quality when that column is shuffled.

    x is the model's input matrix (transformed once); each shuffle permutes one of its columns.
    """
    rng = np.random.default_rng(random_state)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    base_scores = predict_transformed(bundle, x)
    base = scores_metric(bundle, base_scores, y, metric)
    drops = np.zeros(x.shape[1])
    for j, col in enumerate(x.columns):
        values = x[col].to_numpy()
        shuffles = [values[rng.permutation(len(values))] for _ in range(n_repeats)]
        scores = [scores_metric(bundle, s, y, metric) for s in permuted_scores(bundle, x, base_scores, col, shuffles)]
        drops[j] = sign * (base - float(np.mean(scores)))
    return base, drops


def validation_matrix(bundle: ModelBundle, valid: pd.DataFrame, data: DataParams, p: ExplainParams) -> tuple[pd.DataFrame, np.ndarray]:
    """Return at most permutation_rows validation rows as the model matrix, with their encoded labels."""
    require_columns(valid, [*bundle.features, data.target], "validation split")
    if len(valid) > p.permutation_rows:
        keep = np.sort(np.random.default_rng(p.random_state).choice(len(valid), p.permutation_rows, replace=False))
        valid = valid.iloc[keep]
    y = encode_target(valid[data.target], list(bundle.meta.get("classes") or []), data)
    return bundle.transform(valid), y


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Return the Spearman rank correlation of two importance vectors (None when undefined)."""
    from scipy.stats import spearmanr

    if len(a) < 3 or not (np.isfinite(a).all() and np.isfinite(b).all()) or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def importance_ranks(values: np.ndarray) -> np.ndarray:
    """Return 1-based ranks, largest value first (ties: column order)."""
    order = np.lexsort((np.arange(len(values)), -np.nan_to_num(values, nan=-np.inf)))
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def global_importance(shap_res: ShapResult, weights: np.ndarray, gain: np.ndarray, perm: np.ndarray) -> list[dict[str, Any]]:
    """Return per-feature mean |SHAP| (weighted back to the test set), its share, and the gain/permutation ranks."""
    mean_abs = np.average(np.abs(shap_res.values), axis=0, weights=weights) if len(weights) else np.zeros(len(shap_res.features))
    total = float(mean_abs.sum())
    shap_rank, gain_rank, perm_rank = importance_ranks(mean_abs), importance_ranks(gain), importance_ranks(perm)
    table = [
        {"feature": f, "mean_abs_shap": float(mean_abs[j]), "share": float(mean_abs[j] / total) if total > 0 else 0.0,
         "shap_rank": int(shap_rank[j]), "gain": float(gain[j]), "gain_rank": int(gain_rank[j]),
         "permutation_drop": float(perm[j]), "permutation_rank": int(perm_rank[j])}
        for j, f in enumerate(shap_res.features)
    ]
    return sorted(table, key=lambda g: g["shap_rank"])


def importance_warnings(table: list[dict[str, Any]], agreement: dict[str, Any], p: ExplainParams) -> list[str]:
    """Return warnings for a dominant feature or importance measures that disagree."""
    out = []
    if table and table[0]["share"] > p.max_feature_share:
        out.append(
            f"feature '{table[0]['feature']}' carries {100 * table[0]['share']:.0f}% of total |SHAP| (> "
            f"{100 * p.max_feature_share:.0f}%): check it for leakage or a proxy of the label (reports/validate.json)"
        )
    for key, label in (("spearman_shap_gain", "LightGBM gain"), ("spearman_shap_permutation", "permutation importance")):
        rho = agreement[key]
        if rho is None:
            out.append(f"rank agreement of SHAP with {label} could not be computed (constant or missing importances)")
        elif rho < p.min_rank_correlation:
            out.append(
                f"SHAP and {label} rank features differently (Spearman {rho:.2f} < {p.min_rank_correlation}); "
                "importances are unstable, compare the two rankings before trusting either"
            )
    return out


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
    scored: pd.DataFrame, out: Outcomes, sample: Sample, shap_res: ShapResult, meta: dict[str, Any],
    data: DataParams, p: ExplainParams,
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
                "row": int(r), "kind": kind, "y_true": decode_label(out.y_true[r], classes, task),
                "prediction": decode_label(out.pred[r], classes, task), "score": float(out.score[r]),
                "severity": float(out.severity[r]), "base_value": float(shap_res.base[k]),
                "top_features": top_contributions(shap_res.values[k], raw, shap_res.features, p.error_top_features),
                "id": json_scalar(raw[data.id_column]) if data.id_column in scored else None,
                "time": json_scalar(raw[data.time_column]) if data.time_column in scored else None,
            }
            if shap_res.true_values is not None:
                item["top_features_true_class"] = top_contributions(shap_res.true_values[k], raw, shap_res.features, p.error_top_features)
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
    scored: pd.DataFrame, out: Outcomes, sample: Sample, shap_res: ShapResult, global_mean: np.ndarray,
    meta: dict[str, Any], data: DataParams, p: ExplainParams,
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
        "overall_rate": float(out.error_value.mean()), "rows": int(len(scored)), "n_candidates": int(len(table)),
        "n_flagged": int(table["flagged"].sum()) if len(table) else 0, "min_support": p.slice_min_support,
        "min_z": p.slice_min_z, "min_lift": p.slice_min_lift, "columns": numeric + categorical, "top": entries,
    }


def waterfall_order(worst: dict[str, list[dict[str, Any]]], cap: int) -> list[dict[str, Any]]:
    """Return up to cap worst errors, alternating between kinds (FP1, FN1, FP2, ...)."""
    lists = [worst[k] for k in sorted(worst)]
    longest = max((len(x) for x in lists), default=0)
    merged = [lst[i] for i in range(longest) for lst in lists if i < len(lst)]
    return merged[:cap]


def render_figures(
    report: dict[str, Any], shap_res: ShapResult, x_sample: pd.DataFrame, sample_rows_: np.ndarray,
    scored: pd.DataFrame, numeric: set[str], p: ExplainParams,
) -> dict[str, bytes]:
    """Return the PNGs by file name: importance, beeswarm, one waterfall per worst error (capped), slices."""

    g = report["global_importance"]
    images = {
        "importance.png": rh.plot_importance([e["feature"] for e in g], [e["mean_abs_shap"] for e in g]),
        "beeswarm.png": rh.plot_beeswarm(
            shap_res.values, x_sample.to_numpy(dtype=float, na_value=np.nan), shap_res.features, numeric
        ),
    }
    row_pos = {int(r): k for k, r in enumerate(sample_rows_)}
    for i, e in enumerate(waterfall_order(report["worst_errors"], p.max_waterfalls), start=1):
        k = row_pos[e["row"]]
        raw = scored.iloc[e["row"]][shap_res.features].tolist()
        title = f"{e['kind'].replace('_', ' ')}: test row {e['row']}, true {e['y_true']}, predicted {e['prediction']}"
        images[f"waterfall_{i}_{e['kind']}_row{e['row']}.png"] = rh.plot_waterfall(shap_res.values[k], shap_res.base[k], raw, shap_res.features, title)
    s = report["slices"]
    if s["top"]:
        images["slices.png"] = rh.plot_slices([e["segment"] for e in s["top"]], [e["error_rate"] for e in s["top"]],
                                              [e["rows"] for e in s["top"]], s["overall_rate"], s["measure"])
    return images


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
        "test_rows": s["test_rows"], "n_sampled": s["sampled"], "n_errors": s["errors_total"], "n_errors_sampled": s["errors_sampled"],
        "overall_error": report["slices"]["overall_rate"], "top_feature_share": g[0]["share"] if g else None,
        "spearman_shap_gain": a["spearman_shap_gain"], "spearman_shap_permutation": a["spearman_shap_permutation"],
        "n_slices_flagged": report["slices"]["n_flagged"], "top_slice_lift": top[0]["lift"] if top else None,
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


def analyse_importance(
    bundle: ModelBundle, shap_res: ShapResult, sample: Sample, valid: pd.DataFrame, data: DataParams, p: ExplainParams
) -> tuple[list[dict[str, Any]], dict[str, Any], np.ndarray]:
    """Return the global importance table, its rank agreement with gain and permutation, and mean |SHAP| per feature."""
    metric = primary_metric(bundle.task)
    x_valid, y_valid = validation_matrix(bundle, valid, data, p)
    base_metric, perm = permutation_importance(bundle, x_valid, y_valid, metric, p.permutation_repeats, p.random_state)
    gain = gain_importance(bundle, len(shap_res.features))
    table = global_importance(shap_res, sample.weights, gain, perm)
    by_feature = {g["feature"]: g for g in table}
    mean_abs = np.array([by_feature[f]["mean_abs_shap"] for f in shap_res.features])
    agreement = {
        "spearman_shap_gain": rank_correlation(mean_abs, gain), "spearman_shap_permutation": rank_correlation(mean_abs, perm),
        "permutation_metric": metric, "permutation_baseline": base_metric, "permutation_rows": int(len(y_valid)),
        "permutation_repeats": p.permutation_repeats,
    }
    return table, agreement, mean_abs


def explain_model(
    scored: pd.DataFrame, valid: pd.DataFrame, bundle: ModelBundle, data: DataParams, p: ExplainParams,
    step_version: str = "1",
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Return the explain report (JSON-ready) and its PNGs for a scored test frame, validation rows and the bundle."""
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
        warns.append(f"the {MODEL} bundle's scores differ from the scored test frame by up to {mismatch:.3g}: "
                     "the model was retrained after evaluate; re-run evaluate before explain")
    report: dict[str, Any] = {
        "step_version": step_version, "model": MODEL, "task": task, "error_definition": out.definition,
        "shap_units": SHAP_UNITS[task], "sample": sample.sizes, "global_importance": table, "agreement": agreement,
        "worst_errors": describe_worst_errors(scored, out, sample, shap_res, meta, data, p),
        "slices": analyse_slices(scored, out, sample, shap_res, mean_abs, meta, data, p), "warnings": warns,
        "columns_left_out": columns_left_out(data),
    }
    images = render_figures(report, shap_res, x_sample, sample.rows, scored, set(meta.get("numeric", [])), p)
    report["figures"] = sorted(images)
    report["summary"] = summarize(report)
    log.info("explain: done in %.1fs, %d flagged segments, %d warnings", time.perf_counter() - t0,
             report["slices"]["n_flagged"], len(warns))
    return round_floats(report), images


def columns_left_out(data: DataParams) -> dict[str, str]:
    """Return {column: why the model never sees it}: configured drops, plus the time and id columns."""
    out = dict(data.drop_columns)
    if data.time_column:
        out.setdefault(data.time_column, "time column: orders the split, not a feature")
    if data.id_column:
        out.setdefault(data.id_column, "entity id: groups rows, not a feature")
    return out
