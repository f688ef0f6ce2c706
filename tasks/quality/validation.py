"""Validation: the data gate. A Great Expectations suite (bootstrapped from the first table: tasks/quality/suite.py,
kept in the GX project: tasks/quality/gx_store.py), verdicts recounted on every row (tasks/quality/verdicts.py),
impossible values (tasks/quality/impossible.py), drift against the reference profile and the leakage screen on
training rows. Errors stop the run (tasks/quality/messages.py says why); leak suspects block promotion, not the run
(tasks/quality/findings.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from tasks.core import io
from tasks.core.config import DataParams, IngestParams, PathsParams, SplitParams, ValidateParams
from tasks.core.errors import InputError, SchemaError
from tasks.core.reports import build_report
from tasks.core.schema import require_columns
from tasks.data.sources import read_snapshot, snapshot_file, type_table
from tasks.data.splitting import holdout_split, labelled_rows
from tasks.quality.data_docs import build_docs, docs_index, kept_results, shows_a_validation
from tasks.quality.drift import drift_report
from tasks.quality.findings import ERROR as FINDING_ERROR
from tasks.quality.findings import Finding, make_finding
from tasks.quality.gx_store import (
    gx_sample,
    open_context,
    profile_path,
    run_suite,
    save_suite,
    store_whole_table_result,
    suite_path,
)
from tasks.quality.impossible import impossible_failures, reference_ranges
from tasks.quality.leakage import screen_leakage
from tasks.quality.reports import LeakageScreen, ValidateReport
from tasks.quality.suite import ERROR, WARN, build_reference_profile, build_suite, time_parameters
from tasks.quality.table_profile import profile_frame
from tasks.quality.verdicts import (
    TABLE,
    count_failures,
    failed_expectations,
    suite_columns,
    suite_mismatch,
    with_whole_table_verdicts,
)

log = logging.getLogger(__name__)


def bootstrap_suite(df: pd.DataFrame, paths: PathsParams, data: DataParams, p: ValidateParams) -> dict:
    """Learn the suite and the drift reference from df and write both; return their paths and size."""
    definition = build_suite(df, data, p)
    save_suite(open_context(paths), definition)
    io.write_json(build_reference_profile(df, data, p), profile_path(paths))
    return {
        "suite": suite_path(paths, p).as_posix(),
        "reference_profile": profile_path(paths).as_posix(),
        "expectations": len(definition["expectations"]),
        "rows": int(len(df)),
    }


def ensure_suite(paths: PathsParams, ingest: IngestParams, data: DataParams, p: ValidateParams) -> dict | None:
    """Bootstrap the suite from the snapshot in data/ when the project has none yet; return what was written."""
    if suite_path(paths, p).exists() and profile_path(paths).exists():
        return None

    df, _ = type_table(read_snapshot(snapshot_file(paths.data_dir), ingest), ingest, data)
    info = bootstrap_suite(df, paths, data, p)
    log.warning(
        "validate: no expectation suite yet; bootstrapped %s (%d expectations) from the snapshot; "
        "review it and commit it with the reference profile",
        info["suite"],
        info["expectations"],
    )
    return info


def ensure_data_docs(paths: PathsParams, data: DataParams, p: ValidateParams) -> str | None:
    """Return the Data Docs index path, building the site when it shows no validation: from the results GX kept,
    else by validating the ingested table again (a fresh clone keeps neither: gx/uncommitted is not versioned, and
    DVC skips an up-to-date validate stage); None when there is no ingested table or suite to validate with."""
    if shows_a_validation(paths):
        return docs_index(paths).as_posix()
    if kept_results(paths, p):
        return build_docs(open_context(paths), paths, p)
    if not (paths.ingested.exists() and suite_path(paths, p).exists()):
        return None
    log.info("validate: no Data Docs here yet; validating %s again to build them", paths.ingested)
    return str(validate_frame(io.read_frame(paths.ingested), paths, data, p).data_docs)


def drift_against_reference(df: pd.DataFrame, paths: PathsParams, p: ValidateParams) -> dict:
    """Return drift per profiled column, or a note when there is no reference profile."""
    path = profile_path(paths)
    if not path.exists():
        return {
            "note": f"{path.as_posix()} missing; delete {suite_path(paths, p).as_posix()} to bootstrap both again",
            "columns": {},
        }
    return drift_report(df, io.read_json(path), p.drift_metric, p.drift_warn, p.drift_error, p.impossible_factor)


def validate_frame(
    df: pd.DataFrame, paths: PathsParams, data: DataParams, p: ValidateParams, *, require_label: bool = True
) -> ValidateReport:
    """Validate any frame against the stored suite and reference profile; return the report (no raise; without the
    leakage screen and step version, which the validate step adds).

    Rebuilds Data Docs. With require_label=False the label rules are skipped (for unlabelled scoring files).
    """
    if not suite_path(paths, p).exists():
        raise InputError(
            f"{suite_path(paths, p)}: no validation suite yet; run the validate step on the ingested "
            "table first (it bootstraps the suite)"
        )
    ctx = open_context(paths)
    run_time = datetime.now(UTC)
    parameters = time_parameters(run_time)
    sample = gx_sample(df, p)
    results = with_whole_table_verdicts(run_suite(ctx, p.suite_name, sample, parameters, run_time), df, parameters)
    store_whole_table_result(ctx, p.suite_name, run_time, results, {"rows": int(len(df)), "gx_sample_rows": int(len(sample))})
    if not require_label:
        results = [r for r in results if r["expectation_config"]["kwargs"].get("column") != data.target]
    known = suite_columns(results)
    mismatch = suite_mismatch([c for c in known if require_label or c != data.target], df)
    failures = failed_expectations(results, df, known)
    impossible = impossible_failures(df, reference_ranges(results), p.bounds, p.impossible_factor)
    failures = sorted(failures + impossible, key=lambda f: (f["severity"] != ERROR, f["column"] != TABLE, f["column"], f["rule"]))
    drift = drift_against_reference(df, paths, p)
    drift_errors = sorted(c for c, d in drift["columns"].items() if d["level"] == ERROR)
    counts = {
        "rows": int(len(df)),
        "gx_sample_rows": int(len(sample)),
        "columns": int(df.shape[1]),
        **count_failures(failures, len(results)),
        "drift_warn": sum(1 for d in drift["columns"].values() if d["level"] == WARN),
        "drift_error": len(drift_errors),
    }
    passed = counts["failed_error"] == 0 and mismatch is None and not (p.fail_on_drift and drift_errors)
    suspects = value_findings(impossible, p.impossible_factor)
    return build_report(
        ValidateReport,
        {
            "passed": passed,
            "counts": counts,
            "failures": failures,
            "suspects": suspects,
            "drift": drift,
            "profile": profile_frame(df, data),
            "data_docs": build_docs(ctx, paths, p),
            "fail_on_drift": p.fail_on_drift,
            "suite_mismatch": mismatch,
            "suite": {
                "name": p.suite_name,
                "file": suite_path(paths, p).as_posix(),
                "reference_profile": profile_path(paths).as_posix(),
            },
        },
    )


def screened_positions(train_idx: np.ndarray, max_rows: int, random_state: int) -> np.ndarray:
    """Return the positions of the training rows the leakage screen reads, in order: the rows
    tasks.quality.leakage.subsample_rows draws from the training part, chosen before any row is copied."""
    if len(train_idx) <= max_rows:
        return train_idx
    picked = pd.Series(np.arange(len(train_idx))).sample(n=max_rows, random_state=random_state).to_numpy()
    return np.sort(train_idx[picked])


def leakage_on_training_rows(
    df: pd.DataFrame, data: DataParams, p: ValidateParams, sp: SplitParams, tolerate_errors: bool
) -> LeakageScreen:
    """Return the leakage screen of df's training rows (the split step's holdout, sp); with tolerate_errors a broken
    table skips it with a note."""
    try:
        require_columns(df, [data.target], "validate (leakage screen)")
        labelled = labelled_rows(df, data)
        train_idx = holdout_split(labelled, data, sp).train_idx
        screened = screened_positions(train_idx, p.leakage_max_rows, p.random_state)
        report = screen_leakage(labelled.iloc[screened], data, p)
        return build_report(LeakageScreen, {**report, "rows_training": int(len(train_idx))})
    except (SchemaError, KeyError, ValueError, TypeError) as err:
        if not tolerate_errors:
            raise
        return build_report(
            LeakageScreen,
            {
                "skipped": f"{type(err).__name__}: {str(err)[:300]}",
                "suspects": [],
                "unexcused": [],
                "excluded_by_configuration": dict(sorted(data.drop_columns.items())),
            },
        )


def value_findings(failures: list[dict], factor: float) -> list[Finding]:
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
        out.append(
            make_finding(
                [f["column"]],
                f["rule"],
                value,
                threshold,
                FINDING_ERROR,
                f["detail"],
                {},
                rows=f["unexpected_count"],
                share=f["unexpected_share"],
                examples=f["examples"],
                limits=[f.get("limit_min"), f.get("limit_max")],
            )
        )
    return out
