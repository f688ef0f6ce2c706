"""The validate step's report (reports/validate.json) as typed models: the data gate's verdict, counts, failed rules,
drift, the leakage screen and the suite it checked against.

Written by tasks/validate.py through `write_report` and read back by every consumer (promote's findings, the Prefect
artifacts, the CLI) through `read_report(ValidateReport, ...)`. Fields are declared in the order the producers fill
them, so the CLI's printout keeps its order; the file itself sorts keys (tasks.core.io.to_json).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ConfigDict

from tasks.core.reports import Finding, Number, Report


class Severity(StrEnum):
    """How a failed rule or a drifted column counts: error stops the run, warn is reported only."""

    ERROR = "error"
    WARN = "warn"


class DriftLevel(StrEnum):
    """One column's drift against the reference profile (tasks.quality.drift.DRIFT_LEVELS)."""

    OK = "ok"
    WARN = "warn"
    ERROR = "error"


class ValidateCounts(Report):
    """Rows checked (and in the Great Expectations sample), columns, expectations and failures by severity."""

    rows: int
    gx_sample_rows: int
    columns: int
    expectations: int
    failed_error: int
    failed_warn: int
    drift_warn: int
    drift_error: int


class Failure(Report):
    """One failed rule (tasks.quality.verdicts.read_result or tasks.quality.impossible.failure); a rule's own evidence
    (reference_min/max, limit_min/max, unexpected_share) is kept as extra fields."""

    model_config = ConfigDict(extra="allow", frozen=True)

    column: str
    rule: str
    severity: Severity
    expectation: str | None = None
    unexpected_count: int | None = None
    examples: list[Any] | None = None
    note: str | None = None
    detail: str = ""


class ColumnDrift(Report):
    """One profiled column's drift: its value (None when it could not be measured), level, and why."""

    value: Number = None
    level: DriftLevel
    outside: dict[str, Number] | None = None  # numeric columns: share beyond the reference range, ranges beyond
    note: str | None = None


class DriftSummary(Report):
    """Drift per profiled column against gx/reference_profile.json (a note instead when it is missing)."""

    note: str | None = None
    metric: str | None = None
    warn: Number = None
    error: Number = None
    counts: dict[str, int] | None = None
    columns: dict[str, ColumnDrift] = {}

    def moved(self) -> dict[str, ColumnDrift]:
        """Return the columns whose drift is not ok, by name."""
        return {c: d for c, d in self.columns.items() if d.level is not DriftLevel.OK}


class SuiteMismatch(Report):
    """The table looks like another one than the suite's: how many suite columns are missing and table ones unknown."""

    suite_columns: int
    missing: list[str]
    table_columns: int
    unknown: list[str]


class SuiteFiles(Report):
    """The expectation suite checked against and its files."""

    name: str
    file: str
    reference_profile: str


class LeakageScreen(Report):
    """The leakage screen on the training rows (tasks.quality.leakage.screen_leakage), or why it was skipped.

    suspects are Findings (tasks.quality.findings); probes is the quick-model evidence (tasks.quality.probes).
    """

    rows_training: int | None = None
    rows_screened: int | None = None
    folds: int | None = None
    excluded_by_configuration: dict[str, str] = {}
    notes: list[str] = []
    suspects: list[Finding] = []
    scores: dict[str, Number] = {}
    metric: str | None = None
    threshold: Number = None
    probes: dict[str, Any] | None = None
    unexcused: list[str] = []
    skipped: str | None = None


class ValidateReport(Report):
    """reports/validate.json: whether the data gate passed, and the evidence (counts, failures, drift, leakage).

    validate_frame fills everything but leakage and step_version, which the validate step adds; suspects are
    Findings (tasks.quality.findings: impossible values, then the leakage screen's); profile is
    tasks.quality.table_profile.profile_frame's summary of the table.
    """

    passed: bool
    counts: ValidateCounts
    failures: list[Failure]
    suspects: list[Finding]
    drift: DriftSummary
    profile: dict[str, Any]
    data_docs: str
    fail_on_drift: bool
    suite_mismatch: SuiteMismatch | None
    suite: SuiteFiles
    leakage: LeakageScreen | None = None
    step_version: str | None = None
