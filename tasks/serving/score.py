"""Score: batch-score a CSV or Parquet file with the production model; rows that break its input
schema are quarantined with a reason instead of being guessed at.

    python -m tasks.serving.score INPUT OUTPUT [--shadow artifacts/models/lightgbm] [--params params.yaml]

Writes OUTPUT (predictions, atomically) and OUTPUT's sibling `<name>.quarantine.<ext>` (the rows
that were not scored, with a `reason` column). A shadow challenger's scores go in extra columns and
its agreement with production in the returned summary; it never changes the production columns.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.core import io
from tasks.core.config import DataParams, MonitorParams, load_config
from tasks.core.entry import exit_on_error, setup_logging
from tasks.core.errors import InputError, PromotionError, SchemaError
from tasks.evaluation.gate import input_schema
from tasks.modelling.bundle import ModelBundle, bundle_digest, load_bundle
from tasks.registry.catalog import production_version
from tasks.registry.manifest import load_production

log = logging.getLogger(__name__)
NA_VALUES = ["", "NA", "NULL", "null", "NaN", "nan"]  # as ingest reads CSVs
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
ROW = "row"
REASON = "reason"


# ---------------------------------------------------------------- files


def table_format(path: Path) -> str:
    """Return "csv" or "parquet" from the file name; InputError for anything else."""
    name = Path(path).name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise InputError(f"{path}: use a .csv, .csv.gz, .parquet or .pq file")


def read_table(path: Path) -> pd.DataFrame:
    """Return the input rows as read (no coercion), with a fresh 0..n-1 index."""
    path = Path(path)
    fmt = table_format(path)
    if not path.exists():
        raise InputError(f"{path}: no such file to score")
    try:
        if fmt == "parquet":
            return pd.read_parquet(path).reset_index(drop=True)
        return pd.read_csv(path, na_values=NA_VALUES, keep_default_na=False, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as err:
        raise InputError(f"{path}: cannot be read as a table ({err.__class__.__name__}: {str(err)[:200]})") from None


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write a frame as CSV (gzip for .gz) or Parquet, atomically."""
    fmt = table_format(path)
    with io.atomic_path(Path(path)) as tmp:
        if fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, compression="gzip" if str(path).endswith(".gz") else None)


def quarantine_path(output_path: Path) -> Path:
    """Return the quarantine file beside the output: preds.csv -> preds.quarantine.csv."""
    output_path = Path(output_path)
    name = output_path.name
    for suffix in (*CSV_SUFFIXES[::-1], *PARQUET_SUFFIXES):
        if name.lower().endswith(suffix):
            return output_path.with_name(f"{name[: -len(suffix)]}.quarantine{name[-len(suffix) :]}")
    raise InputError(f"{output_path}: use a .csv, .csv.gz, .parquet or .pq output file")


# ---------------------------------------------------------------- input schema


def training_categories(bundle: ModelBundle) -> dict[str, list]:
    """Return, per categorical input, the categories the preprocessor saw in training (missing markers left out)."""
    try:
        cat = bundle.preprocessor.named_transformers_["cat"]
        encoder = cat if hasattr(cat, "categories_") else [step for _, step in cat.steps if hasattr(step, "categories_")][-1]
        columns = [c for name, _, cols in bundle.preprocessor.transformers_ if name == "cat" for c in cols]
    except (AttributeError, KeyError, IndexError, TypeError):
        return {}
    return {
        col: [v for v in cats if not (isinstance(v, float) and np.isnan(v)) and v != "__missing__"]
        for col, cats in zip(columns, encoder.categories_)
    }


def numeric_categories(bundle: ModelBundle) -> set[str]:
    """Return categorical inputs whose training categories were all numbers (e.g. agent ID codes).

    These must reach the preprocessor as float64, as they did in training: the text "9" would be an
    unseen category where the number 9.0 is a known one.
    """
    return {col for col, values in training_categories(bundle).items() if values and all(_is_number_category(v) for v in values)}


def unseen_categories(
    good: pd.DataFrame, known: Mapping[str, list], numeric_like: set[str], warn_share: float
) -> dict[str, dict[str, Any]]:
    """Return, per categorical column with values unseen in training among the scored rows: rows, share, up to
    five examples, and warn (share above warn_share). Missing values are not counted (the model handles them)."""
    out: dict[str, dict[str, Any]] = {}
    for col, values in known.items():
        if col not in good.columns or not len(good):
            continue
        if col in numeric_like:
            seen = pd.Series(values).astype("float64")
            column = good[col].astype("float64")
        else:
            seen = pd.Series(values).astype("string")
            column = good[col].astype("string")
        new = column.notna() & ~column.isin(set(seen))
        if new.any():
            share = float(new.mean())
            out[col] = {
                "rows": int(new.sum()),
                "share": round(share, 6),
                "warn": share > warn_share,
                "examples": [str(v) for v in column[new].value_counts().index[:5]],
            }
    return out


def _is_number_category(value: Any) -> bool:
    """True for a number, or the text of a number ('9', '9.5'), as the preprocessor stores numeric codes."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return True
    try:
        return isinstance(value, str) and np.isfinite(float(value))
    except ValueError:
        return False


def require_inputs(df: pd.DataFrame, schema: Mapping[str, str], where: Path) -> None:
    """Raise SchemaError naming every column the production model needs that the file lacks."""
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise SchemaError(
            f"{where}: missing required column(s) {missing} that the production model reads "
            f"(it needs {len(schema)} columns; the file has {list(df.columns)[:20]})"
        )


def numeric_problems(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Return the positions of values that are not finite numbers and why, for one column."""
    if pd.api.types.is_bool_dtype(s):
        bad = np.flatnonzero(s.notna().to_numpy())
        return bad, ["true/false where a number is expected"] * len(bad)
    if pd.api.types.is_datetime64_any_dtype(s):
        bad = np.flatnonzero(s.notna().to_numpy())
        return bad, ["a date where a number is expected"] * len(bad)
    if pd.api.types.is_numeric_dtype(s):
        bad = np.flatnonzero(np.isinf(s.to_numpy(dtype=float, na_value=np.nan)))
        return bad, ["not a finite number"] * len(bad)
    text = s.astype("string").str.strip()
    parsed = pd.to_numeric(text.replace("", pd.NA), errors="coerce").astype("float64")
    unparsed = (parsed.isna() & text.notna() & (text != "")).to_numpy()
    infinite = np.isinf(parsed.to_numpy(na_value=np.nan))
    bad = np.flatnonzero(unparsed | infinite)
    values = s.to_numpy(dtype=object)
    return bad, [f"{values[i]!r} is not a {'finite ' if infinite[i] else ''}number" for i in bad]


def category_problems(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Return the positions of values that cannot be categories (lists, mappings, bytes) and why."""
    if not pd.api.types.is_object_dtype(s):
        return np.array([], dtype=int), []
    values = s.to_numpy(dtype=object)
    bad = np.flatnonzero([isinstance(v, (list, tuple, dict, set, bytes, np.ndarray)) for v in values])
    return bad, [f"a {type(values[i]).__name__} value where a category is expected" for i in bad]


def row_problems(df: pd.DataFrame, schema: Mapping[str, str], numeric_like: set[str]) -> tuple[list[str], dict[str, int]]:
    """Return each row's reason ("" when scorable) and counts by column, under the model's input schema."""
    problems: list[list[str]] = [[] for _ in range(len(df))]
    counts: dict[str, int] = {}
    for col, kind in schema.items():
        numeric = kind == "numeric" or col in numeric_like
        bad, why = numeric_problems(df[col]) if numeric else category_problems(df[col])
        for i, message in zip(bad, why):
            problems[i].append(f"{col}: {message}")
        if len(bad):
            counts[f"{col}: {'not a number' if numeric else 'wrong type'}"] = int(len(bad))
    return ["; ".join(p) for p in problems], counts


def coerce_inputs(df: pd.DataFrame, numeric_columns: list[str]) -> pd.DataFrame:
    """Return a copy with the numeric-kind columns as float64 (anything unparsable becomes NaN)."""
    out = df.copy()
    for col in numeric_columns:
        if col in out.columns and not (pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col])):
            out[col] = pd.to_numeric(out[col].astype("string").str.strip().replace("", pd.NA), errors="coerce").astype("float64")
    return out


# ---------------------------------------------------------------- predictions


def prediction_columns(bundle: ModelBundle, scores: np.ndarray, prefix: str = "") -> pd.DataFrame:
    """Return score/proba columns and the predicted label in the original label values."""
    classes = list(bundle.meta.get("classes") or [])
    if bundle.task == "regression":
        return pd.DataFrame({f"{prefix}prediction": scores})
    if bundle.task == "binary":
        threshold = float(bundle.meta.get("threshold", 0.5))
        label = np.where(scores >= threshold, 1, 0)
        return pd.DataFrame(
            {f"{prefix}score": scores, f"{prefix}prediction": pd.Series(classes, dtype=object).iloc[label].to_numpy()}
        )
    out = pd.DataFrame({f"{prefix}proba_{c}": scores[:, k] for k, c in enumerate(classes)})
    out[f"{prefix}prediction"] = pd.Series(classes, dtype=object).iloc[scores.argmax(axis=1)].to_numpy()
    return out


def empty_scores(bundle: ModelBundle) -> np.ndarray:
    """Return a 0-row score array of the right shape."""
    return np.zeros((0, len(bundle.meta.get("classes") or []))) if bundle.task == "multiclass" else np.zeros(0)


def compare_shadow(
    production: ModelBundle,
    prod_scores: np.ndarray,
    shadow: ModelBundle,
    shadow_scores: np.ndarray,
    prod_pred: pd.Series,
    shadow_pred: pd.Series,
) -> dict[str, Any]:
    """Return agreement rate of predicted labels and mean absolute score difference (production vs shadow)."""
    n = len(prod_scores)
    diff = float(np.mean(np.abs(prod_scores - shadow_scores))) if n else None
    agree = None
    if production.task != "regression" and n:
        agree = float(np.mean(prod_pred.to_numpy() == shadow_pred.to_numpy()))
    return {"rows": int(n), "agreement_rate": agree, "mean_abs_score_diff": diff}


def shadow_block(
    production: ModelBundle, prod_scores: np.ndarray, good: pd.DataFrame, prod_cols: pd.DataFrame, challenger_dir: Path
) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """Return the shadow challenger's columns and comparison, or None and why it was skipped."""
    shadow = load_bundle(challenger_dir)
    info: dict[str, Any] = {"bundle_dir": str(challenger_dir), "digest": bundle_digest(challenger_dir)}
    missing = [c for c in shadow.features if c not in good.columns]
    if shadow.task != production.task or list(shadow.meta.get("classes") or []) != list(production.meta.get("classes") or []):
        return None, {**info, "skipped": "the shadow model has a different task or label classes"}
    if missing:
        return None, {**info, "skipped": f"the input lacks column(s) the shadow model needs: {missing}"}
    shadow_input = coerce_inputs(good, [c for c, k in input_schema(shadow.meta).items() if k == "numeric"])
    s_scores = shadow.predict_scores(shadow_input) if len(good) else empty_scores(shadow)
    cols = prediction_columns(shadow, s_scores, prefix="shadow_")
    if shadow.task == "multiclass":
        cols = cols[["shadow_prediction"]]
    comparison = compare_shadow(
        production,
        prod_scores,
        shadow,
        s_scores,
        prod_cols.get("prediction", pd.Series(dtype=object)),
        cols.get("shadow_prediction", pd.Series(dtype=object)),
    )
    return cols, {**info, **comparison}


def kept_columns(raw: pd.DataFrame, data: DataParams, passthrough: list[str]) -> list[str]:
    """Return the input columns copied into the output: id, time, then the pass-through ones; InputError for an
    unknown pass-through column (it names the setting)."""
    missing = [c for c in passthrough if c not in raw.columns]
    if missing:
        raise InputError(f"monitor.passthrough_columns {missing} are not in the input (it has {list(raw.columns)[:20]})")
    return list(dict.fromkeys(c for c in (data.id_column, data.time_column, *passthrough) if c and c in raw.columns))


def predictions_frame(
    raw: pd.DataFrame,
    ok: np.ndarray,
    bundle: ModelBundle,
    scores: np.ndarray,
    version: str,
    data: DataParams,
    passthrough: list[str] | None = None,
) -> pd.DataFrame:
    """Return row number, id/time and pass-through columns (when present), scores, predicted label and model_version."""
    keep = kept_columns(raw, data, list(passthrough or []))
    pred = pd.concat(
        [pd.DataFrame({ROW: np.flatnonzero(ok)}), raw.loc[ok, keep].reset_index(drop=True), prediction_columns(bundle, scores)],
        axis=1,
    )
    pred["model_version"] = version
    return pred


def score_file(
    input_path: Path,
    output_path: Path,
    registry_dir: Path,
    challenger_dir: Path | None,
    data: DataParams,
    monitor: MonitorParams | None = None,
) -> dict[str, Any]:
    """Score a CSV/Parquet file with the production model; return counts, paths, unseen categories and the shadow
    comparison.

    Missing required columns raise SchemaError naming them; rows with unparsable or wrongly typed
    values are written to the quarantine file with a `reason` and not scored. The output keeps data.id_column
    and monitor.passthrough_columns.
    """
    monitor = monitor or MonitorParams()
    input_path, output_path = Path(input_path), Path(output_path)
    q_path = quarantine_path(output_path)
    table_format(input_path)
    version = production_version(registry_dir)
    bundle = load_production(registry_dir)
    if bundle is None or version is None:
        raise PromotionError(
            f"{registry_dir}: no production model to score with; run promote "
            "(or `tabgate models promote <version> --reason ...`) first"
        )
    raw = read_table(input_path)
    schema = input_schema(bundle.meta)
    require_inputs(raw, schema, input_path)
    numeric_like = numeric_categories(bundle)
    reasons, counts = row_problems(raw, schema, numeric_like)
    ok = np.array([r == "" for r in reasons], dtype=bool)
    good = coerce_inputs(raw.loc[ok], [c for c, k in schema.items() if k == "numeric" or c in numeric_like])
    scores = bundle.predict_scores(good) if len(good) else empty_scores(bundle)

    pred = predictions_frame(raw, ok, bundle, scores, version, data, monitor.passthrough_columns)
    unseen = unseen_categories(good, training_categories(bundle), numeric_like, monitor.unseen_category_warn_share)
    shadow = None
    if challenger_dir is not None:
        cols, shadow = shadow_block(bundle, scores, good, pred, Path(challenger_dir))
        if cols is not None:
            pred = pd.concat([pred, cols.reset_index(drop=True)], axis=1)
    quarantined = raw.loc[~ok].copy()
    quarantined.insert(0, ROW, np.flatnonzero(~ok))
    quarantined[REASON] = [r for r in reasons if r]
    write_table(pred, output_path)
    write_table(quarantined, q_path)
    warnings = [
        f"{col}: {u['rows']} scored row(s) ({u['share']:.1%}) have categories unseen in training, "
        f"e.g. {u['examples'][:3]} (above monitor.unseen_category_warn_share)"
        for col, u in unseen.items()
        if u["warn"]
    ]
    for warning in warnings:
        log.warning("score: %s", warning)
    summary = {
        "input": str(input_path),
        "output": str(output_path),
        "quarantine": str(q_path),
        "model_version": version,
        "rows_read": int(len(raw)),
        "rows_scored": int(ok.sum()),
        "rows_quarantined": int((~ok).sum()),
        "quarantine_reasons": counts,
        "unseen_categories": unseen,
        "warnings": warnings,
        "shadow": shadow,
    }
    log.info(
        "score: %d rows read, %d scored with %s, %d quarantined -> %s",
        summary["rows_read"],
        summary["rows_scored"],
        version,
        summary["rows_quarantined"],
        q_path if (~ok).any() else "-",
    )
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line: score INPUT into OUTPUT with the production model; print the summary as JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m tasks.serving.score",
        description=(__doc__ or "").strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--shadow", type=Path, default=None, help="a challenger bundle directory to shadow-score")
    parser.add_argument("--params", default=None)
    args = parser.parse_args(argv)
    setup_logging()
    cfg = load_config(args.params)
    summary = score_file(args.input, args.output, cfg.paths.registry_dir, args.shadow, cfg.data, cfg.monitor)
    print(json.dumps(summary, indent=2, default=str))
    return summary


if __name__ == "__main__":
    exit_on_error("tasks.serving.score", "score", main)
