"""Reports: the typed contracts steps hand each other through JSON files (ingest.json, split.json, preprocess.json,
cv.json and metrics.json here; promotion.json in tasks.reporting.promotion_report, beside the registry's status enums;
train.json and tuning.json in tasks.modelling.reports; model_card.json in tasks.reporting.card_report).

Each report is a pydantic model, written by its step with `write_report` and read back by every consumer with
`read_report`, so a consumer reads fields, never string keys. A model keeps exactly the fields its producer set
(`exclude_unset`), and `io.to_json` sorts keys, so the JSON written through a model is byte-identical to the JSON
written from the plain data it was built from.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from tasks.core import io
from tasks.core.config_base import TaskType
from tasks.core.errors import InputError

R = TypeVar("R", bound="Report")


class Report(BaseModel):
    """Base of every report: unknown fields are an error, and a report dumps only the fields it was given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_data(self) -> dict[str, Any]:
        """Return the report as JSON-able data: the fields it was built with, enums as their values."""
        return self.model_dump(mode="json", exclude_unset=True)


def write_report(report: Report, dest: Path) -> None:
    """Write a report as stable JSON (sorted keys, NaN as null) atomically."""
    io.write_json(report.to_data(), dest)


def build_report(model: type[R], data: dict[str, Any]) -> R:
    """Return a step's plain report data as its model, built from the data's JSON form (numpy numbers and
    timestamps become what the JSON file holds), so the file written through the model is the same bytes."""
    return model.model_validate(json.loads(io.to_json(data)))


def read_optional_report(model: type[R], path: Path) -> R | None:
    """Read a report through its model, None when the step that writes it has not run."""
    return read_report(model, path) if Path(path).exists() else None


def read_report(model: type[R], path: Path) -> R:
    """Read a report through its model; InputError naming the file and the field when it does not fit."""
    data = io.read_json(path)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InputError(
            f"{path}: not a {model.__name__} ({err.error_count()} problem(s): {err.errors()[0]['loc']} "
            f"{err.errors()[0]['msg']}); re-run the step that writes it"
        ) from None


# ---------------------------------------------------------------- ingest: reports/ingest.json


class SnapshotPart(Report):
    """One file of a snapshot read as one table (a folder or glob source), in the order read."""

    file: str
    md5: str
    bytes: int


class IngestReport(Report):
    """reports/ingest.json: which snapshot was typed, its shape and dtypes, and what the typing rules changed."""

    step_version: str
    snapshot: str
    snapshot_sha256: str
    rows: int
    columns: int
    dtypes: dict[str, str]
    numeric_parse_failures: dict[str, int]  # values of ingest.numeric_columns that did not parse, per column
    label_map_rows: dict[str, int] | None = None  # rows changed per label spelling (data.label_map); with the target
    label_counts: dict[str, int] | None = None  # classification only
    time_unparsed_rows: int | None = None  # with data.time_column only
    time_range: list[str | int | float | None] | None = None  # with data.time_column only: first and last
    files: list[SnapshotPart] | None = None  # a folder or glob source only


# ---------------------------------------------------------------- evaluate: reports/metrics.json


class IntervalMethod(StrEnum):
    """How a 95% interval was computed."""

    DELONG = "delong"
    BOOTSTRAP = "bootstrap"


class Interval(Report):
    """A 95% interval of one test metric: its ends (None when undefined), method, rows and resamples."""

    low: float | None = None
    high: float | None = None
    method: IntervalMethod | None = None
    rows: int | None = None
    n_samples: int = 0
    se: float | None = None  # DeLong only
    resample_rows: int | None = None  # bootstrap only: rows drawn per resample
    resamples: int | None = None  # bootstrap only


class Metrics(Report):
    """One model's test metrics (those its task computes; None when undefined) and its decision threshold."""

    roc_auc: float | None = None
    pr_auc: float | None = None
    log_loss: float | None = None
    brier: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    accuracy: float | None = None
    balanced_accuracy: float | None = None
    macro_f1: float | None = None
    mae: float | None = None
    rmse: float | None = None
    r2: float | None = None
    threshold: float | None = None

    def value(self, metric: str) -> float | None:
        """Return the named metric (None when not computed); KeyError for a name that is no metric."""
        if metric not in type(self).model_fields:
            raise KeyError(f"{metric!r} is not a metric of the evaluate report")
        return getattr(self, metric)

    def computed(self) -> dict[str, float | None]:
        """Return the metrics this report holds (the fields its producer set), by name."""
        return {name: getattr(self, name) for name in type(self).model_fields if name in self.model_fields_set}


class SegmentMetrics(Metrics):
    """The headline metrics of one segment value, with its row count."""

    rows: int


class Lift(Report):
    """LightGBM's gain on the primary metric over each other model (positive = LightGBM better)."""

    over_baseline: float | None = None
    over_dummy: float | None = None
    over_production: float | None = None


class EvaluateReport(Report):
    """reports/metrics.json: every model's test metrics, intervals, segments, lift and the test set they came from."""

    task: TaskType
    primary_metric: str
    test_rows: int
    models: dict[str, Metrics]
    lift: Lift = Lift()
    intervals: dict[str, dict[str, Interval]] = {}
    segments: dict[str, dict[str, SegmentMetrics]] = {}
    confusion_matrix: dict[str, list[list[int]]] | None = None  # classification only
    classes: list[str] | None = None  # classification only
    step_version: str | None = None
    test_fingerprint: str | None = None
    production_version: str | None = None

    def model(self, name: str) -> Metrics:
        """Return one model's metrics (empty when evaluate did not score it)."""
        return self.models.get(name) or Metrics()

    def interval(self, model: str, metric: str) -> Interval | None:
        """Return one model's interval of one metric, None when not computed."""
        return self.intervals.get(model, {}).get(metric)


# ---------------------------------------------------------------- findings: the `suspects` of validate, split, promote

Number = float | int | None  # ints stay ints, so a report read and written back keeps its bytes


class FindingSeverity(StrEnum):
    """What a finding does: error stops the run, suspect blocks promotion until excused, warn is reported."""

    ERROR = "error"
    SUSPECT = "suspect"
    WARN = "warn"


class Finding(Report):
    """One finding of a data check (validate's values and leakage screen, split's train-vs-test comparison, promote's
    near-perfect model); the evidence fields are set by the checks that measure them, and written only then."""

    columns: list[str]
    check: str
    value: Number
    threshold: Number
    severity: FindingSeverity
    detail: str
    excused: bool = False
    reason: str | None = None  # set when excused: each column's reason
    rows: int | None = None  # rows the check measured on
    share: Number = None  # declared bounds / impossible values: share of rows outside
    examples: list[Any] | None = None  # impossible values / declared bounds: values found
    limits: list[Number] | None = None  # declared bounds: [min, max]
    formula: str | None = None  # target / feature relations
    exact: bool | None = None  # target / feature relations: within float tolerance
    model: str | None = None  # reconstruction: the probe (linear, tree); near_perfect_model: the model judged
    scores_without: dict[str, Number] | None = None  # reconstruction: the probe's score without each column tried
    score_lost: Number = None  # dominance: what the score loses without the column
    metrics: dict[str, Number] | None = None  # near_perfect_model: the test metrics at or beyond the threshold

    @property
    def blocks_promotion(self) -> bool:
        """Whether this finding stops promotion: an unexcused suspect."""
        return self.severity is FindingSeverity.SUSPECT and not self.excused

    @property
    def effect(self) -> str:
        """What this finding does, as the reports say it: excused (with why), blocks promotion, or its severity."""
        if self.excused:
            return f"excused: {self.reason}"
        return "blocks promotion" if self.severity is FindingSeverity.SUSPECT else self.severity.value


# ---------------------------------------------------------------- split: reports/split.json


class PartSummary(Report):
    """One part of the split: its rows, label balance (classification) or mean (regression), time range."""

    rows: int
    label_balance: dict[str, float] | None = None
    label_mean: float | None = None
    time_range: list[str | int | float | None] | None = None


class SplitReport(Report):
    """reports/split.json: how the test set was held out, the three parts, and whether test is like training.

    suspects are the train-vs-test findings (tasks.quality.shift.shift_findings); train_vs_test is
    tasks.quality.shift.compare_train_test's evidence.
    """

    step_version: str
    strategy: str
    detail: dict[str, Any]
    train: PartSummary
    valid: PartSummary
    test: PartSummary
    test_fingerprint: str
    duplicate_rows_shared_train_test: int
    ids_shared_train_test: int | None = None
    suspects: list[Finding] = []
    train_vs_test: dict[str, Any] = {}


# ---------------------------------------------------------------- preprocess: reports/preprocess.json


class LinearPreprocessSummary(Report):
    """What the linear model's preprocessor learned on the training rows."""

    numeric: list[str]
    categorical: list[str]
    impute_values: dict[str, float | None] | None = None
    scale_means: dict[str, float | None] | None = None
    n_output_features: int


class PreprocessReport(Report):
    """reports/preprocess.json: the rows the preprocessors were fitted on and what they learned."""

    step_version: str
    train_rows: int
    linear_fit_rows: int
    linear: LinearPreprocessSummary
    tree_output_features: list[str]


# ---------------------------------------------------------------- cv: reports/cv.json


class MeanStd(Report):
    """A fold statistic's mean and standard deviation over the folds."""

    mean: Number = None
    std: Number = None


class CvSummary(Report):
    """One scheme's summary: per model (extra fields: lightgbm, baseline) each statistic's mean and std over the
    folds, whether the primary metric varies more than cv.high_variance_std, and that spread."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, dict[str, MeanStd]]

    high_variance: bool
    spread: float | None = None

    def model(self, name: str) -> dict[str, MeanStd]:
        """Return one model's statistics (empty when the folds did not fit it)."""
        return (self.__pydantic_extra__ or {}).get(name, {})

    def models(self) -> dict[str, dict[str, MeanStd]]:
        """Return every model's statistics, by model name."""
        return dict(self.__pydantic_extra__ or {})


class CvScheme(Report):
    """One CV scheme: every fold's numbers per model, their summary, and why fewer folds ran when they did."""

    folds: list[dict[str, dict[str, Number]]]
    summary: CvSummary
    short: str | None = None


class CvReport(Report):
    """reports/cv.json: every scheme's folds and summary on the training part (train + valid), and notes."""

    step_version: str
    rows: int
    n_splits: int
    baseline_max_rows: int
    schemes: dict[str, CvScheme]
    notes: list[str] = []
    compute: dict[str, Any] = {}

    def refit_scheme(self) -> str | None:
        """Return the scheme the split implies among those that ran (implied_scheme); None without schemes."""
        return implied_scheme(list(self.schemes))


def implied_scheme(schemes: list[str]) -> str | None:
    """Return the most honest CV scheme of those given, the one tuning scores on and the refit's tree count follows:
    walk_forward (time and row-order splits), else group, else the first; None when there are none."""
    return next((s for s in ("walk_forward", "group") if s in schemes), schemes[0] if schemes else None)
