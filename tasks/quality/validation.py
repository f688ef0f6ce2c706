"""Validation: the data gate. A Great Expectations suite (bootstrapped from the first table), verdicts
recounted on every row, impossible values (tasks/quality/impossible.py), drift against the reference profile
and the leakage screen on training rows. Errors stop the run; leak suspects block promotion, not the run
(tasks/quality/findings.py).

Great Expectations is imported lazily, by the functions that open a context.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.core import io
from tasks.core.config import Config, DataParams, ValidateParams
from tasks.core.environment import apply_environment_defaults
from tasks.core.errors import ConfigError, InputError, SchemaError, ValidationFailed
from tasks.core.schema import infer_feature_types, require_columns
from tasks.data.sources import read_snapshot, snapshot_file, type_table
from tasks.data.splitting import holdout_split, labelled_rows
from tasks.quality.data_docs import make_site_offline
from tasks.quality.drift import drift_report, reference_profile
from tasks.quality.findings import ERROR as FINDING_ERROR
from tasks.quality.findings import make_finding
from tasks.quality.impossible import impossible_failures, reference_ranges
from tasks.quality.leakage import screen_leakage
from tasks.quality.rule_counts import sample_rows, whole_table_verdict

log = logging.getLogger(__name__)


ERROR, WARN = "error", "warn"
DATASOURCE, ASSET, BATCH = "tabgate", "table", "whole_table"
GX_SEVERITY = {ERROR: "critical", WARN: "warning"}


TYPE_FAMILIES: dict[str, list[str]] = {  # as GX checks them on the gx_view of a frame
    "numeric": ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
                "float64", "int", "float"],
    "boolean": ["bool"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
    "text": ["str"],
}


PRIMARY_RULES = ("column_exists", "column_type")


NULL_RULES = ("null_rate", "label_not_null", "not_all_null")


TABLE = "(table)"


DOCS_INDEX = Path("uncommitted/data_docs/local_site/index.html")


MAX_EXAMPLES = 5


MAX_MESSAGE_ITEMS = 8


CENTRAL_QUANTILES = (0.05, 0.95)


FUTURE_SLACK = timedelta(days=1)


SAMPLE_ONLY_KEYS = frozenset({  # counts GX took on its sample that a whole-table verdict does not recount: dropped
    "missing_count", "missing_percent", "unexpected_percent_total", "unexpected_percent_nonmissing",
    "partial_unexpected_counts", "partial_unexpected_index_list"})


KEEP_VALIDATION_RUNS = 20  # stored GX results (and their Data Docs pages) kept under gx/uncommitted


OTHER_TABLE_SHARE = 0.5  # this share of the suite's columns (or more) missing: the table is not the one the suite knows


BOOTSTRAP_COMMAND = "tabgate validate --bootstrap"  # learns a new suite from the ingested table (flows/cli.py)


def gx_column(s: pd.Series) -> pd.Series:
    """Return a column in the plain dtypes GX checks reliably: text as Python str objects, categories as
    their values, nullable numbers as float64, timezone-aware times as naive UTC."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if pd.api.types.is_numeric_dtype(cats) and not pd.api.types.is_bool_dtype(cats):
            return s.astype("float64")
        if pd.api.types.is_datetime64_any_dtype(cats):
            return gx_column(s.astype(cats.dtype))
        return s.astype(object).where(s.notna(), None)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype) \
            and not pd.api.types.is_bool_dtype(dtype):
        return pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index, name=s.name)
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_extension_array_dtype(dtype):
        return s.astype(object).where(s.notna(), None)
    return s


def gx_view(df: pd.DataFrame) -> pd.DataFrame:
    """Return a new frame with every column as gx_column makes it (the frame GX validates; df is untouched)."""
    return pd.DataFrame({c: gx_column(df[c]) for c in df.columns}, index=df.index)


def type_family(s: pd.Series) -> str:
    """Return numeric, boolean, datetime or text: the kind of values a (gx_view) column holds."""
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    kind = pd.api.types.infer_dtype(s, skipna=True)
    if kind == "boolean":
        return "boolean"
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numeric"
    return "text"


def expectation(kind: str, severity: str, rule: str, **kwargs: Any) -> dict:
    """Return one expectation as the JSON GX stores: type, kwargs, meta {severity, rule} and GX severity."""
    meta = {"severity": severity, "rule": rule}
    return {"type": f"expect_{kind}", "kwargs": kwargs, "meta": meta, "severity": GX_SEVERITY[severity]}


def python_value(v: Any) -> Any:
    """Return v as a plain JSON-able Python value (numpy scalars unwrapped, timestamps as ISO text)."""
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (pd.Timestamp, datetime)):
        return v.isoformat()
    return v if isinstance(v, (int, str)) or v is None else str(v)


def table_expectations(df: pd.DataFrame, p: ValidateParams) -> list[dict]:
    """Return table rules: at least validate.min_rows (error); row count and column set as in the reference (warn)."""
    n = len(df)
    return [
        expectation("table_row_count_to_be_between", ERROR, "min_rows", min_value=p.min_rows),
        expectation("table_row_count_to_be_between", WARN, "row_count_range", min_value=n // 2, max_value=2 * n),
        expectation("table_columns_to_match_set", WARN, "column_set", column_set=sorted(map(str, df.columns)),
                    exact_match=True),
    ]


def presence_expectations(col: str, s: pd.Series, p: ValidateParams) -> list[dict]:
    """Return existence and type (error), not-all-null (error) and null-rate (warn) rules for one column."""
    family = type_family(s)
    out = [expectation("column_to_exist", ERROR, "column_exists", column=col),
           expectation("column_values_to_be_in_type_list", ERROR, "column_type", column=col,
                       type_list=TYPE_FAMILIES[family])]
    out[1]["meta"]["family"] = family
    null_rate = float(s.isna().mean()) if len(s) else 0.0
    if s.notna().any():
        out.append(expectation("column_proportion_of_non_null_values_to_be_between", ERROR, "not_all_null",
                               column=col, min_value=0.0, strict_min=True))
    mostly = round(1.0 - null_rate - p.null_tolerance, 6)
    if mostly > 0:
        out.append(expectation("column_values_to_not_be_null", WARN, "null_rate", column=col, mostly=mostly))
    return out


def numeric_expectations(col: str, s: pd.Series, p: ValidateParams, severity: str = WARN) -> list[dict]:
    """Return the value range (reference min/max widened by range_margin) and the central 5%..95% range rules."""
    x = pd.to_numeric(s, errors="coerce").dropna().astype(float)
    if x.empty:
        return []
    lo, hi = float(x.min()), float(x.max())
    margin = p.range_margin * (hi - lo) if hi > lo else max(abs(lo) * p.range_margin, p.range_margin)
    q_lo, q_hi = (float(v) for v in np.quantile(x.to_numpy(), CENTRAL_QUANTILES))
    inside = float(x.between(q_lo, q_hi).mean())
    out = [expectation("column_values_to_be_between", severity, "value_range", column=col,
                       min_value=round(lo - margin, 6), max_value=round(hi + margin, 6))]
    mostly = round(inside - p.range_tolerance, 6)
    if mostly > 0 and q_hi > q_lo:
        out.append(expectation("column_values_to_be_between", WARN, "central_range", column=col,
                               min_value=q_lo, max_value=q_hi, mostly=mostly))
    return out


def category_values(s: pd.Series) -> list:
    """Return the distinct non-missing values of s as plain Python values, sorted."""
    return sorted((python_value(v) for v in pd.unique(s.dropna())), key=lambda v: (str(type(v)), str(v)))


def category_expectations(col: str, s: pd.Series, p: ValidateParams) -> list[dict]:
    """Return the category-set rule (warn) for a low-cardinality column; none above max_categories_in_suite."""
    if pd.api.types.is_bool_dtype(s) or s.nunique() > p.max_categories_in_suite or s.notna().sum() == 0:
        return []
    return [expectation("column_values_to_be_in_set", WARN, "category_set", column=col,
                        value_set=category_values(s))]


def label_expectations(s: pd.Series, data: DataParams, p: ValidateParams) -> list[dict]:
    """Return label rules: not null, known classes, at least two classes (errors), all classes present (warn)."""
    col = data.target
    family = type_family(s)
    out = [expectation("column_to_exist", ERROR, "column_exists", column=col),
           expectation("column_values_to_be_in_type_list", ERROR, "column_type", column=col,
                       type_list=TYPE_FAMILIES[family]),
           expectation("column_values_to_not_be_null", ERROR, "label_not_null", column=col)]
    out[1]["meta"]["family"] = family
    if data.task == "regression":
        return out + numeric_expectations(col, s, p)
    classes = category_values(s)
    out += [expectation("column_values_to_be_in_set", ERROR, "label_domain", column=col, value_set=classes),
            expectation("column_unique_value_count_to_be_between", ERROR, "label_two_classes", column=col,
                        min_value=2)]
    if len(classes) > 2:
        out.append(expectation("column_distinct_values_to_contain_set", WARN, "label_classes_present",
                               column=col, value_set=classes))
    return out


def time_expectations(col: str, s: pd.Series) -> list[dict]:
    """Return time rules: parsable, never after now (errors), not before the reference start (warn)."""
    if type_family(s) != "datetime":
        return [expectation("column_values_to_be_dateutil_parseable", ERROR, "time_parsable", column=col)]
    out = [expectation("column_values_to_be_between", ERROR, "time_not_future", column=col,
                       max_value={"$PARAMETER": "now"})]
    t = s.dropna()
    if not t.empty:
        start = t.min() - (t.max() - t.min()) * 0.1
        out.append(expectation("column_values_to_be_between", WARN, "time_range", column=col,
                               min_value=start.isoformat()))
    return out


def build_suite(df: pd.DataFrame, data: DataParams, p: ValidateParams) -> dict:
    """Return the suite definition {"name", "expectations"} learnt from a reference frame (no IO)."""
    require_columns(df, [c for c in (data.target, data.time_column, data.id_column) if c], "validate")
    ft = infer_feature_types(df, data)
    view = gx_view(df)
    out = table_expectations(df, p)
    for col in df.columns:
        s = view[col]
        if col in data.drop_columns:
            continue
        if col == data.target:
            out += label_expectations(s, data, p)
            continue
        out += presence_expectations(col, s, p)
        if col == data.time_column:
            out += time_expectations(col, s)
        elif col == data.id_column:
            if s.notna().all() and s.is_unique:
                out.append(expectation("column_values_to_be_unique", ERROR, "unique_id", column=col))
        elif col in ft.categorical:
            out += category_expectations(col, s, p)
        elif col in ft.numeric:
            out += numeric_expectations(col, s, p)
    return {"name": p.suite_name, "expectations": out}


def build_reference_profile(df: pd.DataFrame, data: DataParams, p: ValidateParams) -> dict:
    """Return the drift reference: bins and shares for every feature and the label."""
    ft = infer_feature_types(df, data)
    numeric, categorical = list(ft.numeric), list(ft.categorical)
    if data.target in df.columns:
        (numeric if data.task == "regression" else categorical).append(data.target)
    return reference_profile(df, numeric, categorical, p.drift_bins, p.max_categories_in_suite)


def suite_path(cfg: Config) -> Path:
    """Return gx/expectations/<suite_name>.json."""
    return cfg.paths.gx_dir / "expectations" / f"{cfg.validate.suite_name}.json"


def profile_path(cfg: Config) -> Path:
    """Return gx/reference_profile.json (the drift reference taken with the suite)."""
    return cfg.paths.gx_dir / "reference_profile.json"


def docs_index(cfg: Config) -> Path:
    """Return the Data Docs index.html path (as configured, so relative in the repo)."""
    return cfg.paths.gx_dir / DOCS_INDEX


def open_context(cfg: Config) -> Any:
    """Return the file-backed GX context rooted at paths.gx_dir's parent, progress bars off."""
    if cfg.paths.gx_dir.name != "gx":
        raise ConfigError(f"paths.gx_dir '{cfg.paths.gx_dir}': Great Expectations keeps its project in a "
                          "folder named 'gx'; use e.g. 'gx' or 'quality/gx'")
    apply_environment_defaults()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    cfg.paths.gx_dir.parent.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(cfg.paths.gx_dir.parent))
    current = dict(ctx.variables.progress_bars or {})
    if current.get("globally") is not False or current.get("metric_calculations") is not False:
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        ctx.variables.save()
    return ctx


def save_suite(ctx: Any, definition: dict) -> None:
    """Write the suite definition into the GX project (gx/expectations/<name>.json), replacing any old one."""
    import great_expectations as gx

    ctx.suites.add_or_update(gx.ExpectationSuite(name=definition["name"],
                                                 expectations=[dict(e) for e in definition["expectations"]]))


def bootstrap_suite(cfg: Config, df: pd.DataFrame) -> dict:
    """Learn the suite and the drift reference from df and write both; return their paths and size."""
    definition = build_suite(df, cfg.data, cfg.validate)
    save_suite(open_context(cfg), definition)
    io.write_json(build_reference_profile(df, cfg.data, cfg.validate), profile_path(cfg))
    return {"suite": suite_path(cfg).as_posix(), "reference_profile": profile_path(cfg).as_posix(),
            "expectations": len(definition["expectations"]), "rows": int(len(df))}


def ensure_suite(cfg: Config) -> dict | None:
    """Bootstrap the suite from the snapshot in data/ when the project has none yet; return what was written."""
    if suite_path(cfg).exists() and profile_path(cfg).exists():
        return None

    df, _ = type_table(read_snapshot(snapshot_file(cfg.paths.data_dir), cfg.ingest), cfg.ingest, cfg.data)
    info = bootstrap_suite(cfg, df)
    log.warning("validate: no expectation suite yet; bootstrapped %s (%d expectations) from the snapshot; "
                "review it and commit it with the reference profile", info["suite"], info["expectations"])
    return info


def batch_definition(ctx: Any) -> Any:
    """Return the whole-dataframe batch definition of the tabgate pandas data source (created once)."""
    try:
        ds = ctx.data_sources.get(DATASOURCE)
    except (KeyError, LookupError, ValueError):
        ds = ctx.data_sources.add_pandas(DATASOURCE)
    try:
        asset = ds.get_asset(ASSET)
    except LookupError:
        asset = ds.add_dataframe_asset(ASSET)
    try:
        return asset.get_batch_definition(BATCH)
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe(BATCH)


def time_parameters(now: datetime) -> dict[str, str]:
    """Return the $PARAMETER values the suite's time rules use: now (naive UTC, plus a day of slack)."""
    limit = now.astimezone(UTC) + FUTURE_SLACK
    return {"now": limit.replace(tzinfo=None).isoformat()}


def run_suite(ctx: Any, suite_name: str, df: pd.DataFrame, parameters: dict[str, str],
              run_time: datetime | None = None) -> list[dict]:
    """Validate df with Great Expectations against the stored suite (results stored for Data Docs under run_time, or
    now); return them as JSON."""
    from great_expectations.core.run_identifier import RunIdentifier

    vd = validation_definition(ctx, suite_name)
    result = vd.run(batch_parameters={"dataframe": gx_view(df)}, expectation_parameters=parameters,
                    result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
                    run_id=RunIdentifier(run_time=run_time or datetime.now(UTC)))
    return [r.to_json_dict() for r in result.results]


def stored_result_key(ctx: Any, suite_name: str, run_time: datetime) -> Any:
    """Return the key of the validation result GX stored for suite_name at run_time (raise InputError when none)."""
    for key in ctx.validation_results_store.list_keys():
        if key.expectation_suite_identifier.name == suite_name and key.run_id.run_time == run_time:
            return key
    raise InputError(f"{ctx.root_directory}/uncommitted/validations: no stored result of suite '{suite_name}' "
                     f"at {run_time.isoformat()}; Great Expectations did not store the run Data Docs should show")


def store_whole_table_result(ctx: Any, suite_name: str, run_time: datetime, results: list[dict],
                             counts: dict[str, int]) -> None:
    """Replace the stored GX result of the run at run_time by the verdicts recounted on every row, so Data Docs show
    what the report says; counts ({"rows", "gx_sample_rows"}) go into its meta."""
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    store = ctx.validation_results_store
    key = stored_result_key(ctx, suite_name, run_time)
    stored = store.get(key)
    for evr, recounted in zip(stored.results, results, strict=True):
        evr.success = recounted["success"]
        evr.result = recounted.get("result") or {}
    stats = calc_validation_statistics(stored.results)
    stored.success = stats.success
    stored.statistics = {k: v for k, v in stats._asdict().items() if k != "success"}
    stored.meta["tabgate"] = {"verdicts_counted_on_rows": counts["rows"], "gx_sample_rows": counts["gx_sample_rows"]}
    store.set(key, stored)


def validation_definition(ctx: Any, suite_name: str) -> Any:
    """Return the stored validation definition of the suite, creating it when missing or pointing at another suite.

    Not add_or_update on every run: that compares every expectation with every other (seconds for a large suite).
    """
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    suite = ctx.suites.get(suite_name)
    try:
        vd = ctx.validation_definitions.get(suite_name)
        if vd.suite.id == suite.id and vd.data.id == batch_definition(ctx).id:
            return vd
        ctx.validation_definitions.delete(suite_name)
    except (DataContextError, KeyError, LookupError, ValueError):
        pass
    return ctx.validation_definitions.add(gx.ValidationDefinition(name=suite_name, data=batch_definition(ctx), suite=suite))


def gx_sample(df: pd.DataFrame, p: ValidateParams) -> pd.DataFrame:
    """Return the rows Great Expectations validates: all of df, or a fixed random sample of validate.gx_max_rows."""
    rows = sample_rows(len(df), p.gx_max_rows, p.random_state)
    return df if rows is None else df.iloc[rows]


def with_whole_table_verdicts(results: list[dict], df: pd.DataFrame, parameters: dict[str, str]) -> list[dict]:
    """Return GX's results with success, counts and examples recounted on every row of df (tasks.quality.rule_counts).

    Results GX could not evaluate keep GX's error; `sample_success` keeps what GX found on its sample.
    """
    views: dict[str, pd.Series] = {}

    def column(name: str) -> pd.Series:
        if name not in views:
            s = df[name]
            text_categories = isinstance(s.dtype, pd.CategoricalDtype) and type_family(
                pd.Series(s.cat.categories)) == "text"
            views[name] = s if text_categories else gx_column(s)  # categories compare as their text: no per-row copy
        return views[name]

    out = []
    for res in results:
        conf = res["expectation_config"]
        verdict = None if exception_message(res) else whole_table_verdict(conf["type"], conf["kwargs"], df, column,
                                                                          parameters)
        if verdict is None:
            out.append(res)
            continue
        success = verdict.pop("success")
        sample_result = {k: v for k, v in (res.get("result") or {}).items() if k not in SAMPLE_ONLY_KEYS}
        out.append({**res, "success": success,
                    "result": {**sample_result, **verdict, "sample_success": res.get("success")}})
    return out


def prune_validation_runs(gx_dir: Path, suite_name: str, keep: int = KEEP_VALIDATION_RUNS) -> int:
    """Delete all but the newest `keep` stored validation runs and their Data Docs pages; return how many went."""
    removed = 0
    stores = gx_dir / "uncommitted" / "validations", gx_dir / "uncommitted" / "data_docs" / "local_site" / "validations"
    for root in stores:
        for run_name in sorted((root / suite_name).glob("*")) if (root / suite_name).is_dir() else []:
            runs = sorted(d for d in run_name.iterdir() if d.is_dir())
            for old in runs[:-keep] if keep > 0 else runs:
                shutil.rmtree(old)
                removed += 1
    return removed


def build_docs(ctx: Any, cfg: Config) -> str:
    """Rebuild the Data Docs site (older runs pruned, pages made to open offline: tasks.quality.data_docs) and return
    its index.html path, relative as configured."""
    prune_validation_runs(cfg.paths.gx_dir, cfg.validate.suite_name)
    ctx.build_data_docs()
    index = docs_index(cfg)
    if not index.exists():
        raise InputError(f"{index}: Great Expectations did not write Data Docs (sites: {ctx.get_docs_sites_urls()})")
    make_site_offline(index.parent)
    return index.as_posix()


def shows_a_validation(cfg: Config) -> bool:
    """Return whether the Data Docs site exists and has at least one validation run's page."""
    pages = docs_index(cfg).parent / "validations"
    return docs_index(cfg).exists() and any(pages.rglob("*.html"))


def kept_results(cfg: Config) -> bool:
    """Return whether GX keeps a validation result of the suite under gx/uncommitted/validations."""
    return any((cfg.paths.gx_dir / "uncommitted" / "validations" / cfg.validate.suite_name).rglob("*.json"))


def ensure_data_docs(cfg: Config) -> str | None:
    """Return the Data Docs index path, building the site when it shows no validation: from the results GX kept,
    else by validating the ingested table again (a fresh clone keeps neither: gx/uncommitted is not versioned, and
    DVC skips an up-to-date validate stage); None when there is no ingested table or suite to validate with."""
    if shows_a_validation(cfg):
        return docs_index(cfg).as_posix()
    if kept_results(cfg):
        return build_docs(open_context(cfg), cfg)
    if not (cfg.paths.ingested.exists() and suite_path(cfg).exists()):
        return None
    log.info("validate: no Data Docs here yet; validating %s again to build them", cfg.paths.ingested)
    return str(validate_frame(cfg, io.read_frame(cfg.paths.ingested))["data_docs"])


def exception_message(res: dict) -> str | None:
    """Return the first line of the exception GX raised while evaluating a result, or None."""
    info = res.get("exception_info") or {}
    entries = [info] if "raised_exception" in info else list(info.values())
    for e in entries:
        if isinstance(e, dict) and e.get("raised_exception"):
            return str(e.get("exception_message") or "error").splitlines()[0][:200]
    return None


def example_values(values: list, limit: int = MAX_EXAMPLES) -> list:
    """Return up to limit distinct values, in order, as plain JSON values."""
    out: list = []
    for v in values:
        v = python_value(v)
        if v not in out:
            out.append(v)
        if len(out) == limit:
            break
    return out


def column_examples(df: pd.DataFrame, col: str) -> list:
    """Return a few distinct non-missing values of a column (as text) to show what it holds now."""
    if col not in df.columns:
        return []
    return example_values([str(v) for v in df[col].dropna().head(1000)])


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _new_columns(f: dict) -> str:
    new = sorted(set(map(str, f["df"].columns)) - set(f["meta"].get("_known_columns", [])))
    return f"; the table has new column(s) {new[:5]} (renamed?)" if new else ""


def _type_text(f: dict) -> str:
    col, family = f["kw"]["column"], f["meta"].get("family", "?")
    found = str(f["df"][col].dtype) if col in f["df"].columns else f["obs"]
    rows = f" in {f['n']} row(s)" if f["n"] else ""
    hint = " (numbers stored as text?)" if family == "numeric" and found in ("str", "object", "category") else ""
    return f"expected {family} values, found {found}{rows}{hint}"


def _mismatch(f: dict, key: str) -> list:
    return sorted(((f["result"].get("details") or {}).get("mismatched") or {}).get(key) or [])


def _pct(v: Any) -> str:
    return _fmt(round(float(v or 0), 2))


def _range(f: dict) -> str:
    return f"[{_fmt(f['kw'].get('min_value'))}, {_fmt(f['kw'].get('max_value'))}]"


def _allowed(f: dict) -> str:
    return _pct(100 * (1 - f["kw"].get("mostly", 1.0)))


FAILURE_TEXT: dict[str, Any] = {  # rule -> sentence saying what broke it, in the data's terms
    "min_rows": lambda f: f"the table has {f['obs']} rows; at least {f['kw'].get('min_value')} are needed "
                          "(validate.min_rows)",
    "row_count_range": lambda f: f"the table has {f['obs']} rows; the reference suggests "
                                 f"{f['kw'].get('min_value')}..{f['kw'].get('max_value')}",
    "column_set": lambda f: f"columns differ from the suite: new {_mismatch(f, 'unexpected')}, "
                            f"missing {_mismatch(f, 'missing')}",
    "column_exists": lambda f: f"column is missing from the table{_new_columns(f)}",
    "column_type": _type_text,
    "not_all_null": lambda f: "every value is missing",
    "label_not_null": lambda f: f"{f['n']} row(s) have no label; every row needs one (drop or fill them upstream)",
    "null_rate": lambda f: f"{f['n']} missing value(s) ({_pct(f['pct'])}%); at most {_allowed(f)}% allowed",
    "value_range": lambda f: f"{f['n']} value(s) outside the reference range {_range(f)}",
    "central_range": lambda f: f"{_pct(f['pct'])}% of values outside the reference 5%..95% range {_range(f)}; "
                               f"at most {_allowed(f)}% allowed",
    "category_set": lambda f: f"{f['n']} value(s) not seen in the reference",
    "unique_id": lambda f: f"{f['n']} row(s) share an id with another row",
    "label_domain": lambda f: f"{f['n']} label value(s) outside the reference classes {f['kw'].get('value_set')}",
    "label_two_classes": lambda f: f"the label has {f['obs']} distinct value(s); at least 2 classes are needed",
    "label_classes_present": lambda f: f"reference class(es) {f['result'].get('partial_missing_list')} are absent",
    "time_not_future": lambda f: f"{f['n']} timestamp(s) in the future (after now + 1 day)",
    "time_range": lambda f: f"{f['n']} timestamp(s) before {f['kw'].get('min_value')} "
                            "(well before the reference start)",
    "time_parsable": lambda f: f"{f['n']} value(s) cannot be parsed as dates",
}


def describe_failure(rule: str, kw: dict, result: dict, meta: dict, df: pd.DataFrame) -> str:
    """Return one sentence saying what broke the rule, in the data's terms."""
    facts = {"kw": kw, "result": result, "meta": meta, "df": df, "n": result.get("unexpected_count"),
             "obs": result.get("observed_value"), "pct": result.get("unexpected_percent")}
    text = FAILURE_TEXT.get(rule)
    return text(facts) if text else f"{facts['n'] if facts['n'] is not None else facts['obs']} unexpected"


def read_result(res: dict, df: pd.DataFrame, known_columns: list[str]) -> dict:
    """Return a failed result as {column, rule, severity, unexpected_count, examples, detail[, note]}."""
    conf = res["expectation_config"]
    kw, meta = conf["kwargs"], dict(conf.get("meta") or {})
    meta["_known_columns"] = known_columns
    result = res.get("result") or {}
    rule = meta.get("rule", conf["type"])
    out = {"column": kw.get("column", TABLE), "rule": rule, "severity": meta.get("severity", ERROR),
           "expectation": conf["type"], "unexpected_count": result.get("unexpected_count")}
    examples = result.get("partial_unexpected_list") or result.get("partial_missing_list") or []
    if rule == "column_type":
        out["examples"] = column_examples(df, kw["column"])
    else:
        out["examples"] = [] if rule in NULL_RULES else example_values(examples)
    error = exception_message(res)
    if error:
        out["note"] = f"could not be evaluated: {error}"
        out["detail"] = out["note"]
    else:
        out["detail"] = describe_failure(rule, kw, result, meta, df)
    if rule == "min_rows" or rule == "row_count_range":
        out["unexpected_count"] = None
    if result.get("sample_success") is True and not res.get("success"):
        out["detail"] += " (found on the whole table; Great Expectations' row sample has no such row)"
    return out


def failed_expectations(results: list[dict], df: pd.DataFrame, known_columns: list[str]) -> list[dict]:
    """Return the failed results worth reading: follow-on failures of a missing or retyped column are dropped."""
    failed = [read_result(r, df, known_columns) for r in results if not r.get("success")]
    primary = {f["column"] for f in failed if f["rule"] in PRIMARY_RULES}
    missing = {f["column"] for f in failed if f["rule"] == "column_exists"}
    empty = len(df) == 0
    keep = []
    for f in failed:
        if f["column"] in missing and f["rule"] != "column_exists":
            continue
        if f["rule"] in PRIMARY_RULES or f["column"] == TABLE:
            keep.append(f)
        elif empty:
            continue
        elif f["column"] in primary and "note" in f:
            continue
        else:
            keep.append(f)
    order = {ERROR: 0, WARN: 1}
    return sorted(keep, key=lambda f: (order.get(f["severity"], 2), f["column"] != TABLE, f["column"], f["rule"]))


def suite_columns(results: list[dict]) -> list[str]:
    """Return the reference table's columns (from the column_set rule, else the column_exists rules)."""
    known: set[str] = set()
    for r in results:
        conf = r["expectation_config"]
        rule = (conf.get("meta") or {}).get("rule")
        if rule == "column_set":
            known.update(conf["kwargs"].get("column_set") or [])
        elif rule == "column_exists":
            known.add(conf["kwargs"]["column"])
    return sorted(known)


def suite_mismatch(known: list[str], df: pd.DataFrame) -> dict | None:
    """Return the suite's missing and the table's unknown columns when at least OTHER_TABLE_SHARE of the suite's
    columns are missing (the table looks like another table than the suite was learned from), else None."""
    columns = [str(c) for c in df.columns]
    missing, unknown = sorted(set(known) - set(columns)), sorted(set(columns) - set(known))
    if not known or len(missing) < OTHER_TABLE_SHARE * len(known):
        return None
    return {"suite_columns": len(known), "missing": missing, "table_columns": len(columns), "unknown": unknown}


def mismatch_message(mismatch: dict, suite_file: str, bootstrap_command: str = BOOTSTRAP_COMMAND) -> str:
    """Return what a suite mismatch likely means and the commands that fix it (suite_mismatch's result)."""
    missing, unknown = mismatch["missing"], mismatch["unknown"]
    return (f"{len(missing)} of {mismatch['suite_columns']} suite columns are missing (e.g. {missing[:MAX_EXAMPLES]}) "
            f"and {len(unknown)} of {mismatch['table_columns']} table columns are unknown to the suite "
            f"(e.g. {unknown[:MAX_EXAMPLES]}): this looks like a different table from the one {suite_file} was "
            f"learned from. For a new table, learn a new suite from it: `{bootstrap_command}` (rewrites {suite_file} "
            "and the reference profile; or set validate.suite_name to a new name in params.yaml to keep the old "
            "suite). If it is the same table, check ingest.source and the reader options in params.yaml "
            "(ingest.separator, ingest.encoding, ingest.decimal).")


def iqr_outliers(s: pd.Series) -> int:
    """Return how many values lie beyond 1.5 IQR outside the quartiles."""
    x = pd.to_numeric(s, errors="coerce").dropna().astype(float)
    if x.empty:
        return 0
    q1, q3 = np.quantile(x.to_numpy(), [0.25, 0.75])
    iqr = q3 - q1
    return int(((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)).sum())


def duplicate_rows(df: pd.DataFrame) -> int:
    """Return how many rows repeat an earlier row exactly, compared by 64-bit row hashes.

    Not DataFrame.duplicated(), which factorizes every column at once (8 bytes per cell: 1.5x the table here).
    """
    if not len(df):
        return 0
    return int(pd.Series(pd.util.hash_pandas_object(df, index=False).to_numpy()).duplicated().sum())


def profile_frame(df: pd.DataFrame, data: DataParams) -> dict:
    """Return rows, class balance (or label summary), missing per column, duplicate rows and IQR outliers."""
    out: dict = {"rows": int(len(df)), "columns": int(df.shape[1]),
                 "missing": {str(c): int(df[c].isna().sum()) for c in sorted(df.columns, key=str)},
                 "duplicate_rows": duplicate_rows(df)}
    ft = infer_feature_types(df, data)
    out["outliers_iqr"] = {c: iqr_outliers(df[c]) for c in sorted(ft.numeric)}
    if data.target in df.columns and len(df):
        y = df[data.target]
        if data.task == "regression":
            v = pd.to_numeric(y, errors="coerce")
            out["label"] = {k: round(float(getattr(v, k)()), 6) for k in ("mean", "median", "min", "max")}
        else:
            shares = y.value_counts(normalize=True, dropna=False)
            out["class_balance"] = {str(k): round(float(v), 6)
                                    for k, v in sorted(shares.items(), key=lambda kv: str(kv[0]))}
    return out


def drift_against_reference(cfg: Config, df: pd.DataFrame) -> dict:
    """Return drift per profiled column, or a note when there is no reference profile."""
    path = profile_path(cfg)
    if not path.exists():
        return {"note": f"{path.as_posix()} missing; delete {suite_path(cfg).as_posix()} to bootstrap both again",
                "columns": {}}
    p = cfg.validate
    return drift_report(df, io.read_json(path), p.drift_metric, p.drift_warn, p.drift_error, p.impossible_factor)


def count_failures(failures: list[dict], n_expectations: int) -> dict:
    """Return the expectation counts: total and failed by severity."""
    errors = sum(1 for f in failures if f["severity"] == ERROR)
    return {"expectations": n_expectations, "failed_error": errors, "failed_warn": len(failures) - errors}


def validate_frame(cfg: Config, df: pd.DataFrame, *, require_label: bool = True) -> dict:
    """Validate any frame against the stored suite and reference profile; return the report (no raise).

    Rebuilds Data Docs. With require_label=False the label rules are skipped (for unlabelled scoring files).
    """
    if not suite_path(cfg).exists():
        raise InputError(f"{suite_path(cfg)}: no validation suite yet; run the validate step on the ingested "
                         "table first (it bootstraps the suite)")
    ctx = open_context(cfg)
    run_time = datetime.now(UTC)
    parameters = time_parameters(run_time)
    sample = gx_sample(df, cfg.validate)
    results = with_whole_table_verdicts(run_suite(ctx, cfg.validate.suite_name, sample, parameters, run_time), df,
                                        parameters)
    store_whole_table_result(ctx, cfg.validate.suite_name, run_time, results,
                             {"rows": int(len(df)), "gx_sample_rows": int(len(sample))})
    if not require_label:
        results = [r for r in results if r["expectation_config"]["kwargs"].get("column") != cfg.data.target]
    known = suite_columns(results)
    mismatch = suite_mismatch([c for c in known if require_label or c != cfg.data.target], df)
    failures = failed_expectations(results, df, known)
    impossible = impossible_failures(df, reference_ranges(results), cfg.validate.bounds, cfg.validate.impossible_factor)
    failures = sorted(failures + impossible, key=lambda f: (f["severity"] != ERROR, f["column"] != TABLE,
                                                            f["column"], f["rule"]))
    drift = drift_against_reference(cfg, df)
    drift_errors = sorted(c for c, d in drift["columns"].items() if d["level"] == ERROR)
    counts = {"rows": int(len(df)), "gx_sample_rows": int(len(sample)), "columns": int(df.shape[1]),
              **count_failures(failures, len(results)),
              "drift_warn": sum(1 for d in drift["columns"].values() if d["level"] == WARN),
              "drift_error": len(drift_errors)}
    passed = counts["failed_error"] == 0 and mismatch is None and not (cfg.validate.fail_on_drift and drift_errors)
    suspects = value_findings(impossible, cfg.validate.impossible_factor)
    return {"passed": passed, "counts": counts, "failures": failures, "suspects": suspects, "drift": drift,
            "profile": profile_frame(df, cfg.data), "data_docs": build_docs(ctx, cfg),
            "fail_on_drift": cfg.validate.fail_on_drift, "suite_mismatch": mismatch,
            "suite": {"name": cfg.validate.suite_name, "file": suite_path(cfg).as_posix(),
                      "reference_profile": profile_path(cfg).as_posix()}}


def screened_positions(train_idx: np.ndarray, max_rows: int, random_state: int) -> np.ndarray:
    """Return the positions of the training rows the leakage screen reads, in order: the rows
    tasks.quality.leakage.subsample_rows draws from the training part, chosen before any row is copied."""
    if len(train_idx) <= max_rows:
        return train_idx
    picked = pd.Series(np.arange(len(train_idx))).sample(n=max_rows, random_state=random_state).to_numpy()
    return np.sort(train_idx[picked])


def leakage_on_training_rows(cfg: Config, df: pd.DataFrame, tolerate_errors: bool) -> dict:
    """Return the leakage screen of df's training rows; with tolerate_errors a broken table skips it with a note."""
    try:
        require_columns(df, [cfg.data.target], "validate (leakage screen)")
        labelled = labelled_rows(df, cfg.data)
        train_idx = holdout_split(labelled, cfg.data, cfg.split).train_idx
        screened = screened_positions(train_idx, cfg.validate.leakage_max_rows, cfg.validate.random_state)
        report = screen_leakage(labelled.iloc[screened], cfg.data, cfg.validate)
        return {**report, "rows_training": int(len(train_idx))}
    except (SchemaError, KeyError, ValueError, TypeError) as err:
        if not tolerate_errors:
            raise
        return {"skipped": f"{type(err).__name__}: {str(err)[:300]}", "suspects": [], "unexcused": [],
                "excluded_by_configuration": dict(sorted(cfg.data.drop_columns.items()))}


def value_findings(failures: list[dict], factor: float) -> list[dict]:
    """Return impossible-value and declared-bounds failures as findings (severity error: they stop the run).

    An impossible value's finding measures the farthest value in reference ranges beyond the range (threshold:
    validate.impossible_factor); a bounds finding counts the values outside (threshold 0).
    """
    out = []
    for f in failures:
        if f["rule"] == "impossible_value":
            lo, hi = f["reference_min"], f["reference_max"]
            span = hi - lo if hi > lo else max(abs(hi), abs(lo), 1.0)
            value, threshold = max(max(lo - e, e - hi) for e in f["examples"]) / span, factor
        elif f["rule"] == "declared_bounds":
            value, threshold = float(f["unexpected_count"]), 0.0
        else:
            continue
        out.append(make_finding([f["column"]], f["rule"], value, threshold, FINDING_ERROR, f["detail"], {},
                                rows=f["unexpected_count"], share=f["unexpected_share"], examples=f["examples"],
                                limits=[f.get("limit_min"), f.get("limit_max")]))
    return out


def failure_lines(report: dict) -> list[str]:
    """Return one line per problem that stops the pipeline: column, rule, count, examples."""
    lines = []
    for f in report.get("failures", []):
        if f["severity"] != ERROR:
            continue
        examples = f"; e.g. {f['examples']}" if f.get("examples") else ""
        lines.append(f"column '{f['column']}' [{f['rule']}]: {f['detail']}{examples}")
    drift = report.get("drift") or {}
    if report.get("fail_on_drift"):
        for col, d in drift.get("columns", {}).items():
            if d["level"] == ERROR:
                lines.append(f"column '{col}' [drift]: {drift['metric']} {d.get('value')} >= {drift['error']}")
    return lines


def raise_for_report(report: dict, report_file: Path | str | None, bootstrap_command: str = BOOTSTRAP_COMMAND) -> None:
    """Raise ValidationFailed naming each stopping problem and the files to open, when the report did not pass.

    A table that looks like another one than the suite's (report["suite_mismatch"]) is said first, with the command
    that learns its own suite, instead of one line per missing column.
    """
    if report.get("passed"):
        return
    lines = failure_lines(report)
    files = " and ".join(str(f) for f in (report_file, report.get("data_docs")) if f)
    if report.get("suite_mismatch"):
        raise ValidationFailed(mismatch_message(report["suite_mismatch"], report["suite"]["file"], bootstrap_command)
                               + f"\n{len(lines)} problem(s) follow from it; open {files} for the details.")
    shown = lines[:MAX_MESSAGE_ITEMS] + ([f"... and {len(lines) - MAX_MESSAGE_ITEMS} more"]
                                        if len(lines) > MAX_MESSAGE_ITEMS else [])
    raise ValidationFailed(f"{len(lines)} problem(s) stop the pipeline:\n  - " + "\n  - ".join(shown)
                           + f"\nOpen {files} for the details.")


def summary_line(report: dict) -> str:
    """Return a one-line human summary of a validate report."""
    c = report["counts"]
    leak = report.get("leakage") or {}
    return (f"validate: {'PASSED' if report['passed'] else 'FAILED'} - {c['rows']} rows, {c['expectations']} "
            f"expectations, {c['failed_error']} error / {c['failed_warn']} warning failure(s), drift "
            f"{c['drift_warn']} warn / {c['drift_error']} error, leakage findings "
            f"{len(leak.get('suspects', []))} (unexcused suspects, which block promotion: "
            f"{leak.get('unexcused', []) or 'none'})")
