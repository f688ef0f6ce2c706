"""Train's reports: reports/train.json (TrainReport) and reports/tuning.json (TuningReport), the typed contracts the
train step hands the gate, the loss diagnosis, the model card and the benchmarks.

Built by tasks/train.py with tasks.core.reports.build_report from the plain data it assembles, so the JSON written
through the models is byte for byte what the plain data wrote (fields the step did not set stay absent).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict

from tasks.core.reports import Metrics, Number, Report


class ChoiceSource(StrEnum):
    """Which evidence a model choice followed (tasks.modelling.drift_choices)."""

    VALIDATION = "validation"  # the validation slice
    FOLDS = "folds"  # the CV folds of the scheme the split implies
    CONFIGURED = "configured"  # params.yaml's values


class TreeCount(Report):
    """Why the refit has the trees it has: validation's best iteration against the CV folds' (choose_tree_count)."""

    validation_best_iteration: int
    fold_best_iterations: list[int]
    chosen: int
    source: ChoiceSource
    why: str
    fold_median: int | None = None  # with CV folds to compare with
    ratio_folds_to_validation: float | None = None  # with CV folds to compare with


class Refit(Report):
    """LightGBM refitted on train + valid: its rows, the early-stopped count and the trees it was given."""

    rows: int
    early_stopping_iteration: int
    n_estimators: int
    tree_count: TreeCount


class ThresholdChoice(Report):
    """LightGBM's decision threshold: the validation slice's, or the folds' median when far apart (choose_threshold)."""

    validation: float
    folds: list[float]
    source: ChoiceSource
    chosen: float
    why: str
    folds_median: float | None = None  # with at least drift_choices.MIN_FOLDS folds
    folds_std: float | None = None
    gap: float | None = None
    limit: float | None = None


class ValidationVsFolds(Report):
    """The primary metric on the validation slice beside the folds' mean and std, and whether the slice is an outlier."""

    metric: str
    validation: float | None
    folds: list[float]
    outlier: bool
    why: str
    folds_mean: float | None = None  # with a validation value and at least drift_choices.MIN_FOLDS folds
    folds_std: float | None = None
    z: float | None = None  # + means the slice scores better than the folds


class Choice(Report):
    """Which evidence one model choice followed, and why."""

    source: ChoiceSource
    why: str


class Choices(Report):
    """Per model choice the evidence it followed (drift_choices.choice_evidence); the last two only when made."""

    tuning_objective: Choice
    tree_count: Choice | None = None
    threshold: Choice | None = None


class TrainCompute(Report):
    """Where the tuning folds and the final LightGBM fit ran (the compute section)."""

    engine: str
    lightgbm_dask: bool


class TuningSummary(Report):
    """What tuning chose on folds of the training split (tasks.modelling.tuning.tune_lightgbm), without the trials."""

    metric: str
    folds: int
    best_value: float
    best_params: dict[str, Number]
    best_trial: int
    chosen_trial: int
    kept_defaults: bool  # trial 0 (params.yaml's values) kept: the best trial's gain was within noise
    n_trials: int
    note: str


class TuningTrial(Report):
    """One Optuna trial: its number, state, mean and per-fold scores, and (extra fields) the values it tried."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Number]

    number: int
    state: str
    value: float | None = None  # None for a pruned trial
    folds: list[float]

    def params(self) -> dict[str, Number]:
        """Return the LightGBM values this trial tried, by name."""
        return dict(self.__pydantic_extra__ or {})


class TuningReport(Report):
    """reports/tuning.json: the tuning summary and every trial, or only `enabled: false` when tuning is off.

    No wall time (train drops `seconds`): two runs on the same inputs write the same bytes.
    """

    enabled: bool = True  # written (false) only when train.tune.enabled is false
    metric: str | None = None
    folds: int | None = None
    best_value: float | None = None
    best_params: dict[str, Number] | None = None
    best_trial: int | None = None
    chosen_trial: int | None = None
    kept_defaults: bool | None = None
    n_trials: int | None = None
    note: str | None = None
    trials: list[TuningTrial] | None = None


class TrainReport(Report):
    """reports/train.json: the rows and features the models were fitted on, LightGBM's trees and threshold and the
    evidence each followed, the validation metrics (before the refit), the params used and where it ran."""

    step_version: str
    train_rows: int
    valid_rows: int
    features: list[str]
    class_weight: str | None
    best_iteration: int  # the shipped LightGBM's trees (the refit's when refitted)
    refit: Refit | None  # None with train.refit false
    tree_count: TreeCount | None  # the refit's tree count evidence
    thresholds: dict[str, float | None]  # per model; None for regression
    threshold_choice: ThresholdChoice | None  # binary only
    validation_metrics: dict[str, Metrics]  # per model, on the validation slice (LightGBM before the refit)
    validation_vs_folds: ValidationVsFolds
    choices: Choices
    baseline_fit_rows: int
    left_out_columns: dict[str, str]
    lightgbm_params: dict[str, Number]
    tuned: bool
    recency_half_life: float | None  # None: every training row weighs the same
    compute: TrainCompute | None = None  # absent from a train.json written before the compute record
    lightgbm_trained_with: str | None = None  # with compute.lightgbm_dask only
    tuning: TuningSummary | None = None  # with train.tune.enabled only

    def threshold(self, model: str) -> float | None:
        """Return one model's decision threshold, None when it has none or was not trained."""
        return self.thresholds.get(model)
