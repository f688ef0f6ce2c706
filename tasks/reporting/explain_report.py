"""The explain step's report (reports/explain/explain.json, its summary explain_summary.json) as typed models: the
SHAP sample, global importance and its agreement with gain and permutation, the worst errors and the weakest slices.

Built by tasks.evaluation.error_analysis.explain_model, written by tasks/explain.py through `write_report`, read back
by every consumer (the model card, promote's drivers, the Prefect artifacts, the HTML report) through
`read_report(ExplainReport, ...)`. Numbers are `Number` (ints stay ints), so a report read and written back keeps its
bytes.
"""

from __future__ import annotations

from typing import Any

from tasks.core.config_base import TaskType
from tasks.core.reports import Number, Report


class ExplainSample(Report):
    """The test rows SHAP explained: how many of each kind there were, were sampled, and the caps."""

    test_rows: int
    errors_total: int
    errors_sampled: int
    correct_total: int
    correct_sampled: int
    sampled: int
    cap_sample_size: int
    cap_max_errors: int
    errors_by_kind: dict[str, int] = {}
    errors_sampled_by_kind: dict[str, int] = {}

    def sizes(self) -> dict[str, int]:
        """Return the flat counts (every field but the per-kind ones), by name."""
        return {k: v for k, v in self.to_data().items() if not isinstance(v, dict)}


class ImportanceRow(Report):
    """One feature's global importance: mean |SHAP| (share and rank), LightGBM gain and permutation drop."""

    feature: str
    mean_abs_shap: Number = None
    share: Number = None
    shap_rank: int | None = None
    gain: Number = None
    gain_rank: int | None = None
    permutation_drop: Number = None
    permutation_rank: int | None = None


class Agreement(Report):
    """Rank agreement of mean |SHAP| with LightGBM gain and permutation importance on validation rows."""

    spearman_shap_gain: Number = None
    spearman_shap_permutation: Number = None
    permutation_metric: str | None = None
    permutation_baseline: Number = None
    permutation_rows: int | None = None
    permutation_repeats: int | None = None


class Contribution(Report):
    """One feature's signed SHAP contribution to one row, with the row's raw value."""

    feature: str
    value: Any = None
    shap: Number = None


class WorstError(Report):
    """One of the most confident wrong calls (or largest residuals), with what pushed it."""

    row: int
    kind: str
    y_true: Any = None
    prediction: Any = None
    score: Number = None
    severity: Number = None
    base_value: Number = None
    top_features: list[Contribution] = []
    top_features_true_class: list[Contribution] | None = None  # multiclass only
    id: Any = None
    time: Any = None
    identical_rows: int = 0


class SliceDriver(Report):
    """A feature whose mean |SHAP| on a slice's sampled errors exceeds its global mean."""

    feature: str
    mean_abs_shap_errors: Number = None
    global_mean_abs_shap: Number = None
    excess: Number = None
    ratio: Number = None


class ErrorSlice(Report):
    """One segment clearly worse than overall: its conditions, rows, error rate, lift, z and drivers.

    conditions are tasks.evaluation.slices' {feature, equals | min_inclusive/max_exclusive | is_missing} dicts.
    """

    segment: str
    n_conditions: int | None = None
    rows: int
    errors: Number = None
    error_rate: Number = None
    lift: Number = None
    z: Number = None
    z_vs_parent: Number = None
    excess_errors: Number = None
    conditions: list[dict[str, Any]] = []
    n_sampled_errors: int = 0
    drivers: list[SliceDriver] = []


class SliceSearch(Report):
    """The slice search over every scored test row: its settings, how many segments were tried and flagged, the top."""

    measure: str
    overall_rate: Number = None
    rows: int
    n_candidates: int
    n_flagged: int
    min_support: int | None = None
    min_z: Number = None
    min_lift: Number = None
    columns: list[str] = []
    top: list[ErrorSlice] = []


class ExplainSummary(Report):
    """reports/explain/explain_summary.json: the flat numbers DVC shows as metrics."""

    test_rows: int
    n_sampled: int
    n_errors: int
    n_errors_sampled: int
    overall_error: Number = None
    top_feature_share: Number = None
    spearman_shap_gain: Number = None
    spearman_shap_permutation: Number = None
    n_slices_flagged: int
    top_slice_lift: Number = None
    n_warnings: int


class ExplainReport(Report):
    """reports/explain/explain.json: where and why the LightGBM model errs on the test set."""

    step_version: str
    model: str
    task: TaskType
    error_definition: str
    shap_units: str
    sample: ExplainSample
    global_importance: list[ImportanceRow]
    agreement: Agreement
    worst_errors: dict[str, list[WorstError]]
    slices: SliceSearch
    warnings: list[str]
    columns_left_out: dict[str, str]
    figures: list[str] = []
    summary: ExplainSummary
