"""Reports: the typed contracts steps hand each other through JSON files (reports/metrics.json here; promotion.json
in tasks.reporting.promotion_report, beside the registry's status enums).

Each report is a pydantic model, written by its step with `write_report` and read back by every consumer with
`read_report`, so a consumer reads fields, never string keys. A model keeps exactly the fields its producer set
(`exclude_unset`), and `io.to_json` sorts keys, so the JSON written through a model is byte-identical to the JSON
written from the plain data it was built from.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from tasks.core import io
from tasks.core.config import TaskType
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


def read_report(model: type[R], path: Path) -> R:
    """Read a report through its model; InputError naming the file and the field when it does not fit."""
    data = io.read_json(path)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InputError(f"{path}: not a {model.__name__} ({err.error_count()} problem(s): {err.errors()[0]['loc']} "
                         f"{err.errors()[0]['msg']}); re-run the step that writes it") from None


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
