"""GX store: the file-backed Great Expectations project under paths.gx_dir. Where the suite and the reference
profile live, the context, the stored suite run on a frame, and the stored result replaced by the verdicts
recounted on every row (so Data Docs show what the report says).

Great Expectations is imported lazily, by the functions that open a context or run the suite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.core.config import PathsParams, ValidateParams
from tasks.core.environment import apply_environment_defaults
from tasks.core.errors import ConfigError, InputError
from tasks.quality.rule_counts import sample_rows
from tasks.quality.suite import gx_view

DATASOURCE, ASSET, BATCH = "tabgate", "table", "whole_table"


def suite_path(paths: PathsParams, p: ValidateParams) -> Path:
    """Return gx/expectations/<suite_name>.json."""
    return paths.gx_dir / "expectations" / f"{p.suite_name}.json"


def profile_path(paths: PathsParams) -> Path:
    """Return gx/reference_profile.json (the drift reference taken with the suite)."""
    return paths.gx_dir / "reference_profile.json"


def open_context(paths: PathsParams) -> Any:
    """Return the file-backed GX context rooted at paths.gx_dir's parent, progress bars off."""
    if paths.gx_dir.name != "gx":
        raise ConfigError(
            f"paths.gx_dir '{paths.gx_dir}': Great Expectations keeps its project in a "
            "folder named 'gx'; use e.g. 'gx' or 'quality/gx'"
        )
    apply_environment_defaults()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    paths.gx_dir.parent.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(paths.gx_dir.parent))
    current = dict(ctx.variables.progress_bars or {})
    if current.get("globally") is not False or current.get("metric_calculations") is not False:
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        ctx.variables.save()
    return ctx


def save_suite(ctx: Any, definition: dict) -> None:
    """Write the suite definition into the GX project (gx/expectations/<name>.json), replacing any old one."""
    import great_expectations as gx

    ctx.suites.add_or_update(
        gx.ExpectationSuite(name=definition["name"], expectations=[dict(e) for e in definition["expectations"]])
    )


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


def run_suite(
    ctx: Any, suite_name: str, df: pd.DataFrame, parameters: dict[str, str], run_time: datetime | None = None
) -> list[dict]:
    """Validate df with Great Expectations against the stored suite (results stored for Data Docs under run_time, or
    now); return them as JSON."""
    from great_expectations.core.run_identifier import RunIdentifier

    vd = validation_definition(ctx, suite_name)
    result = vd.run(
        batch_parameters={"dataframe": gx_view(df)},
        expectation_parameters=parameters,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
        run_id=RunIdentifier(run_time=run_time or datetime.now(UTC)),
    )
    return [r.to_json_dict() for r in result.results]


def stored_result_key(ctx: Any, suite_name: str, run_time: datetime) -> Any:
    """Return the key of the validation result GX stored for suite_name at run_time (raise InputError when none)."""
    for key in ctx.validation_results_store.list_keys():
        if key.expectation_suite_identifier.name == suite_name and key.run_id.run_time == run_time:
            return key
    raise InputError(
        f"{ctx.root_directory}/uncommitted/validations: no stored result of suite '{suite_name}' "
        f"at {run_time.isoformat()}; Great Expectations did not store the run Data Docs should show"
    )


def store_whole_table_result(ctx: Any, suite_name: str, run_time: datetime, results: list[dict], counts: dict[str, int]) -> None:
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
