"""Validate: the data gate. Great Expectations suite, impossible values, drift against a reference profile,
leakage screen.

On the first run (no gx/expectations/<suite_name>.json yet) the suite and the reference profile are
bootstrapped from the ingested table itself and the run says so. Every expectation carries
meta.severity: "error" (missing column, changed type, too few rows, all-null column, bad label,
duplicated ids, future timestamps) stops the pipeline; "warn" (new categories, range, missingness or
row-count drift) is reported only. Values orders of magnitude outside the reference range, or outside
validate.bounds, stop the pipeline whatever their share. The leakage screen runs on the training rows only
(the split step's choice, tasks.data.splitting.training_rows); its suspects do not stop the run, they block
promotion until dropped or excused (validate.keep_suspects). Every finding is listed under `suspects` in
reports/validate.json. Data Docs are rebuilt on every run; reports/validate.json is written before the step
fails, so the files the error names are always there.

Scale: Great Expectations evaluates many rules row by row in Python, so it validates a fixed random sample of
at most validate.gx_max_rows rows (what the Data Docs pages show); every verdict, count and example in the report
is then recounted on the whole table with vectorised pandas (tasks/quality/rule_counts.py), so nothing outside the sample
is missed.
"""

from __future__ import annotations

import logging

from tasks.core import io
from tasks.core.config import Config
from tasks.core.entry import step_main
from tasks.core.reports import write_report
from tasks.quality.findings import check_named_columns, finding_line
from tasks.quality.gx_store import suite_path
from tasks.quality.messages import raise_for_report, summary_line
from tasks.quality.reports import Severity, ValidateReport
from tasks.quality.validation import bootstrap_suite, leakage_on_training_rows, validate_frame

STEP_VERSION = "2"
log = logging.getLogger(__name__)


def run(cfg: Config) -> ValidateReport:
    """Validate the ingested table (bootstrapping the suite on the first run), write reports/validate.json, gate."""
    df = io.read_frame(cfg.paths.ingested)
    columns = [str(c) for c in df.columns]
    check_named_columns(columns, dict(cfg.validate.keep_suspects), "validate.keep_suspects")
    check_named_columns(columns, dict(cfg.validate.bounds), "validate.bounds")
    if not suite_path(cfg.paths, cfg.validate).exists():
        info = bootstrap_suite(df, cfg.paths, cfg.data, cfg.validate)
        log.info(
            "validate: first run - bootstrapped suite %s (%d expectations) and %s from %s (%d rows); review and commit them",
            info["suite"],
            info["expectations"],
            info["reference_profile"],
            cfg.paths.ingested,
            info["rows"],
        )
    checked = validate_frame(df, cfg.paths, cfg.data, cfg.validate)
    leakage = leakage_on_training_rows(df, cfg.data, cfg.validate, cfg.split, tolerate_errors=not checked.passed)
    report = ValidateReport.model_validate(
        {
            **checked.to_data(),
            "leakage": leakage.to_data(),
            "suspects": checked.suspects + leakage.suspects,
            "step_version": STEP_VERSION,
        }
    )
    report_file = cfg.paths.reports_dir / "validate.json"
    write_report(report, report_file)
    log.info("%s", summary_line(report))
    for f in [] if report.suite_mismatch else report.failures:  # another table: the error says so, once
        log.log(
            logging.ERROR if f.severity is Severity.ERROR else logging.WARNING,
            "  %s %s [%s]: %s",
            f.severity.value,
            f.column,
            f.rule,
            f.detail,
        )
    for finding in leakage.suspects:
        log.warning("  %s", finding_line(finding))
    raise_for_report(report, report_file)
    return report


if __name__ == "__main__":
    from tasks import (
        validate,  # this module under its real name (loggers say tasks.validate)
    )

    step_main("validate", validate.run, __doc__)
