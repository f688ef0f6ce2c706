"""The model card as typed models: reports/model_card.json (and the registry's versions/<id>/model_card.json).

Built by tasks.reporting.card_sections from the step reports, rendered by tasks.reporting.card_markdown. Like every
report, a card dumps exactly the fields it was given, so its JSON is byte for byte the plain data's.
Numbers copied from other reports are `Number` (an int stays an int).
"""

from __future__ import annotations

from typing import Any

from tasks.core.reports import MeanStd, Number, Report
from tasks.modelling.reports import TrainCompute
from tasks.registry.records import GateOutcome, PromotionStatus
from tasks.reporting.explain_report import Agreement
from tasks.reporting.promotion_report import RuleResult


class RowsBySplit(Report):
    """Rows of each part of the split (None when its report was not available)."""

    train: int | None
    valid: int | None
    test: int | None


class CardData(Report):
    """Where the data came from (a URL with its password hidden), its size and time range, the split, the columns
    left out."""

    source: str
    snapshot: str | None
    snapshot_sha256: str | None
    data_version: str | None
    rows: int | None
    time_column: str | None
    time_range: list[str | int | float | None] | None
    target: str
    task: str
    split_strategy: str | None
    rows_by_split: RowsBySplit
    columns_left_out: dict[str, str]


class CardTraining(Report):
    """The model's features, class weighting, trees, decision threshold, rows, and where it was trained."""

    kind: str
    features: list[str]
    n_features: int
    numeric: list[str]
    categorical: list[str]
    class_weight: str | None
    best_iteration: int | None
    threshold: Number
    train_rows: int | None
    compute: TrainCompute | None
    trained_with: str | None


class MetricRow(Report):
    """One test metric of the challenger with its 95% interval, and the baseline's."""

    metric: str
    value: Number
    low: Number
    high: Number
    baseline: Number


class CardMetrics(Report):
    """The challenger's test metrics with intervals (empty when metrics.json was not available)."""

    primary_metric: str | None
    test_rows: int | None
    test_fingerprint: str | None
    rows: list[MetricRow]
    bootstrap_samples: int
    interval_methods: str


class CardCvScheme(Report):
    """One CV scheme: per model (lightgbm, baseline) each metric's mean and std, the variance flag, the folds."""

    high_variance: bool
    models: dict[str, dict[str, MeanStd]]
    folds: int


class CardCv(Report):
    """Cross-validation per scheme (no schemes when cv.json was not available)."""

    n_splits: int | None
    rows: int | None
    primary_metric: str | None
    schemes: dict[str, CardCvScheme]


class SegmentRow(Report):
    """One value of a segment column: its test rows and the challenger's primary metric (None when undefined)."""

    value: str
    rows: int
    metric: Number


class WeakSlice(Report):
    """One of explain's weakest error slices, with its three strongest drivers."""

    segment: str
    rows: int
    error_rate: Number
    lift: Number
    z: Number
    drivers: list[str]


class Driver(Report):
    """One of the model's strongest drivers (explain's global importance)."""

    feature: str
    share: Number
    mean_abs_shap: Number
    shap_rank: int | None
    permutation_rank: int | None


class CardWeaknesses(Report):
    """Explain's weakest slices, warnings and strongest drivers (available false without explain.json)."""

    available: bool
    error_definition: str | None
    overall_error: Number
    slices_flagged: int | None
    slices_tried: int | None
    weakest_slices: list[WeakSlice]
    warnings: list[str]
    top_drivers: list[Driver]
    shap_units: str | None
    agreement: Agreement


class CardFinding(Report):
    """One finding the promote step gathered (tasks.quality.findings), with what it does to promotion."""

    columns: list[str] | None
    check: str | None
    severity: str | None
    value: Number | str
    threshold: Number | str
    excused: bool | None
    reason: str | None
    detail: str | None
    effect: str


class CardGate(Report):
    """The gate's outcome, the resulting status and every rule with its result."""

    status: PromotionStatus
    outcome: GateOutcome
    version_id: str | None
    compared_with: str | None
    first_model: bool
    notes: list[str]
    rules: list[RuleResult]


class CardVersions(Report):
    """Which code, data and params made the model, its bundle digest, and where DVC keeps it."""

    code_digest: str | None = None  # tasks.registry.provenance.code_digest of the step code that ran
    git_commit: str | None = None  # cards written before code_digest; the registry record keeps the commit
    git_dirty: bool | None = None
    data_version: str | None = None
    params_digest: str | None = None
    dvc: dict[str, Any] | None = None  # tasks.registry.provenance.dvc_provenance (its record block)
    bundle_digest: str | None = None


class ModelCard(Report):
    """reports/model_card.json: what a gated model is, what it learned from, how well it does, where it is weak,
    why the gate decided as it did, and which code, data and params made it; `notes` lists what was missing."""

    card_version: str
    version_id: str | None
    status: PromotionStatus
    target: str
    task: str
    data: CardData
    training: CardTraining
    metrics: CardMetrics
    cv: CardCv
    segments: dict[str, list[SegmentRow]]
    weaknesses: CardWeaknesses
    findings: list[CardFinding]
    gate: CardGate
    versions: CardVersions
    notes: list[str]
