"""Config: one typed, frozen object loaded from params.yaml; a typo fails before any step runs.

The sections of the table (paths, data, ingest) are in tasks/core/table_params.py, alerts in tasks/core/alert_params.py,
the base in tasks/core/config_base.py.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, model_validator

from tasks.core.alert_params import AlertsParams
from tasks.core.config_base import DEFAULT_PARAMS, Section
from tasks.core.errors import ConfigError
from tasks.core.metrics import check_thresholds_fit
from tasks.core.table_params import DataParams, IngestParams, PathsParams


class ValidateParams(Section):
    """The data gate: GX suite, tolerances, drift thresholds and the leakage screen."""

    suite_name: str = "tabgate"  # gx/expectations/<suite_name>.json; bootstrapped from the first ingested table
    null_tolerance: float = Field(0.05, ge=0, le=1)  # allowed rise of a column's missing share over the reference
    # before it is an error
    min_rows: int = Field(100, ge=1)  # fewer rows is an error
    max_categories_in_suite: int = Field(200, ge=1)  # category sets are checked only for columns with at most this many
    # values
    drift_metric: Literal["psi", "jensen_shannon"] = "psi"  # psi | jensen_shannon, per feature against
    # gx/reference_profile.json
    drift_warn: float = Field(0.1, ge=0)  # drift at or above this (validate.drift_metric) is a warning
    drift_error: float = Field(0.5, ge=0)  # drift at or above this is an error when validate.fail_on_drift, else a
    # warning
    range_margin: float = Field(0.05, ge=0)  # reference min/max widened by this share of the range
    range_tolerance: float = Field(0.05, ge=0, le=1)  # allowed drop of the share of values inside the reference 5%..95%
    # range
    drift_bins: int = Field(10, ge=2, le=100)  # quantile bins of numeric features for the drift metric
    fail_on_drift: bool = False  # true: a feature at drift_error stops the pipeline
    leakage_auc_threshold: float = Field(0.98, gt=0.5, le=1)  # single-feature ROC-AUC at or above this is a leak
    # suspect
    leakage_r2_threshold: float = Field(0.98, gt=0, le=1)  # single-feature out-of-fold R^2 (regression) at or above
    # this is a leak suspect
    leakage_after_event_share: float = Field(0.5, ge=0, lt=1)  # a date column after data.time_column for more than this
    # share of rows
    leakage_max_rows: int = Field(50_000, ge=100)  # the screen subsamples training rows to this many
    gx_max_rows: int = Field(50_000, ge=1_000)  # GX validates a sample of this many rows; verdicts count every row
    leakage_folds: int = Field(3, ge=2, le=10)  # folds of the single-feature leak screen (out-of-fold scores)
    leakage_model_max_rows: int = Field(20_000, ge=100)  # rows the quick models (reconstruction, dominance) see
    leakage_near_perfect: float = Field(0.999, gt=0.5, le=1)  # quick model ROC-AUC / R^2 at or above: reconstructed
    leakage_relation_r2: float = Field(0.995, gt=0, le=1)  # R^2 of a column against a op b at or above: a relation
    leakage_relation_max_columns: int = Field(40, ge=2)  # numeric columns tried in relations (the most varied ones)
    leakage_dominance_min_share: float = Field(0.1, gt=0, le=1)  # of the deviance the other features leave unexplained
    leakage_dominance_ratio: float = Field(2.0, ge=1)  # ... and this many times any other feature's share
    leakage_dominance_candidates: int = Field(6, ge=2, le=50)  # strongest features (by gain) removed one at a time
    impossible_factor: float = Field(100.0, gt=0)  # values this many reference ranges outside the range stop the run
    bounds: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)  # column: [min, max], stop
    keep_suspects: dict[str, str] = Field(default_factory=dict)  # column: why it is known at prediction time; its
    # suspects are reported, not blocking
    random_state: int = 42  # seed of this step's random choices (same seed, same result)

    @model_validator(mode="after")
    def _warn_below_error(self) -> ValidateParams:
        if self.drift_warn > self.drift_error:
            raise ValueError(f"validate.drift_warn ({self.drift_warn}) is above validate.drift_error ({self.drift_error})")
        return self

    @model_validator(mode="after")
    def _reasons_and_bounds(self) -> ValidateParams:
        for column, reason in self.keep_suspects.items():
            if not reason.strip():
                raise ValueError(
                    f"validate.keep_suspects.{column}: give the reason it is known at prediction time "
                    "(an empty reason excuses nothing)"
                )
        for column, (lo, hi) in self.bounds.items():
            if lo is None and hi is None or (lo is not None and hi is not None and lo > hi):
                raise ValueError(
                    f"validate.bounds.{column}: expected [min, max] with min <= max (null for open), got [{lo}, {hi}]"
                )
        return self


class SplitParams(Section):
    """How the test set is held out: by time, by entity, or stratified at random."""

    strategy: Literal["auto", "time", "group", "random", "row_order"] = "auto"  # row_order: the last rows are the test
    # set
    test_size: float = Field(0.2, gt=0, lt=1)  # used when test_start is not set
    test_start: date | None = None  # arrivals from March 2017 on are the test set
    gap_days: int = Field(0, ge=0)  # days left out between training and test (time split) or between folds (walk-
    # forward)
    valid_size: float = Field(0.15, gt=0, lt=1)  # share of the training part carved off as the validation slice (the
    # latest rows for time and row-order splits)
    shift_max_rows: int = Field(20_000, ge=100)  # train and test rows each that the train-vs-test comparison reads
    shift_warn: float = Field(0.1, ge=0)  # PSI train -> test of the label or a feature at or above this warns
    adversarial_warn: float = Field(0.8, gt=0.5, le=1)  # ROC-AUC of a model telling test rows from train rows
    new_category_warn: float = Field(0.01, ge=0, le=1)  # share of test rows with a category training never had
    shared_rows_warn: float = Field(0.01, ge=0, le=1)  # share of test rows that copy a training row (features)
    shared_entities_warn: float = Field(0.0, ge=0, le=1)  # share of test rows whose data.id_column is in training
    expected_shift: dict[str, str] = Field(default_factory=dict)  # column: why its shift is expected (not judged)
    random_state: int = 42  # seed of this step's random choices (same seed, same result)

    @model_validator(mode="after")
    def _reasons(self) -> SplitParams:
        for column, reason in self.expected_shift.items():
            if not reason.strip():
                raise ValueError(f"split.expected_shift.{column}: give the reason its shift is expected")
        return self


class PreprocessParams(Section):
    """The scikit-learn preprocessing fitted on training data only."""

    numeric_impute: Literal["median", "mean"] = "median"  # how the linear baseline fills missing numbers (LightGBM
    # handles them itself)
    scale_numeric: bool = True  # standardise numbers for the linear baseline
    max_categories: int = Field(50, ge=2)  # most frequent categories one-hot encoded per column for the linear
    # baseline; the rest become one
    min_category_frequency: int = Field(10, ge=1)  # categories seen fewer times in training fold into 'other'


class CVParams(Section):
    """Cross-validation on the training part, preprocessing refitted in every fold."""

    n_splits: int = Field(5, ge=2)  # folds per CV scheme
    schemes: list[Literal["auto", "stratified", "kfold", "walk_forward", "group"]] = Field(
        default_factory=lambda: ["auto"],  # type: ignore[arg-type]  # a list of one literal
        description="CV schemes to run; auto: stratified k-fold (k-fold for regression), plus walk-forward with a "
        "time column (or a row-order split) and group k-fold with an id column that repeats",
    )
    window: Literal["expanding", "sliding"] = "expanding"  # walk-forward: train on all earlier rows (expanding) or a
    # window of fixed length (sliding)
    gap_days: int = Field(0, ge=0)  # days left out between training and test (time split) or between folds (walk-
    # forward)
    high_variance_std: float = Field(0.03, ge=0)  # std of the primary metric (relative to the mean for rmse, mae, log
    # loss)
    random_state: int = 42  # seed of this step's random choices (same seed, same result)


class LightGBMParams(Section):
    """LightGBM hyperparameters (the tuner may override some of them); the defaults are LightGBM's own.

    n_estimators is a cap: early stopping on the validation rows picks the number of trees (on the gate's metric),
    and the final model is refitted on train + valid with that number scaled to the rows (train.refit).
    num_threads is fixed here, never read from the machine, so the model file is the same on any machine.
    """

    n_estimators: int = Field(1000, ge=1)  # upper bound on boosting rounds; early stopping on the validation slice
    # picks the count
    learning_rate: float = Field(0.1, gt=0)  # LightGBM shrinkage per tree
    num_leaves: int = Field(31, ge=2)  # LightGBM leaves per tree
    min_child_samples: int = Field(20, ge=1)  # LightGBM minimum rows in a leaf
    subsample: float = Field(1.0, gt=0, le=1)  # share of rows bagged per tree (with subsample_freq > 0)
    subsample_freq: int = Field(1, ge=0)  # bag rows every this many trees (0: off)
    colsample_bytree: float = Field(1.0, gt=0, le=1)  # share of features tried per tree
    reg_lambda: float = Field(0.0, ge=0)  # L2 penalty on leaf values
    early_stopping_rounds: int = Field(50, ge=1)  # stop when the validation metric has not improved for this many
    # rounds
    num_threads: int = Field(2, ge=1)  # used from 20k training rows on; one thread below
    # (tasks.modelling.estimators.lightgbm_threads)


class TuneParams(Section):
    """Optuna search on training folds only; the budget is a number of trials, never a wall-clock time.

    Trial 0 is train.lightgbm as configured (LightGBM's defaults unless changed); the best trial replaces it only
    when its paired per-fold gain over trial 0 exceeds min_gain_se standard errors.
    timeout_seconds is a safety cap: tuning that runs longer fails with an error naming it; it never cuts the
    search short silently (that would make the model depend on machine load).
    """

    enabled: bool = False  # true: Optuna tunes LightGBM on the training split (a fixed number of trials, never a time
    # limit)
    n_trials: int = Field(20, ge=1)  # the budget is a count of trials, never seconds: the result does not depend on
    # machine load
    min_gain_se: float = Field(1.0, ge=0)  # the best trial replaces trial 0 only if it wins by more than this many SE
    # of the per-fold gain
    timeout_seconds: int | None = Field(None, ge=1)  # optional safety cap: tuning running longer fails with an error
    # (never stops silently)


class TrainParams(Section):
    """The baseline and the LightGBM model."""

    baseline_c: float = Field(1.0, gt=0)  # inverse L2 strength of the logistic/ridge baseline
    baseline_max_iter: int = Field(1000, ge=10)  # solver iterations of the linear baseline
    baseline_max_rows: int = Field(100_000, ge=100)  # the linear baseline is fitted on a sample of this many rows
    # (stratified by class; all rows when there are fewer)
    class_weight: Literal["none", "balanced", "auto"] = "none"  # none | balanced | auto (balanced when the classes
    # are at train.imbalance_ratio or more majority/minority); weights only when asked
    imbalance_ratio: float = Field(3.0, ge=1)  # majority/minority ratio at or above which class_weight auto balances
    recency_half_life: float | None = Field(None, gt=0)  # off (None) by default, opt-in: recent rows weigh more in
    # train's LightGBM fits, a row this fraction of the training rows (in time, or row, order) before the latest
    # weighing half (0.25: a quarter). Measured before adoption: it helps some drifting tables, costs others
    # (docs/quality.md, "Drift")
    refit: bool = True  # final LightGBM refitted on train + valid with the early-stopped number of trees, scaled
    threshold_objective: Literal["f1", "balanced_accuracy", "precision_at_recall"] = "f1"  # binary: what the decision
    # threshold maximises on the validation slice
    lightgbm: LightGBMParams = LightGBMParams()
    tune: TuneParams = TuneParams()  # Optuna on folds of the train split only (walk-forward here); trial 0 = the values
    # above
    random_state: int = 42  # seed of this step's random choices (same seed, same result)


class EvaluateParams(Section):
    """Test-set evaluation: intervals (DeLong for ROC-AUC, a capped bootstrap for the rest) and per-segment metrics."""

    bootstrap_samples: int = Field(200, ge=0)  # resamples of the bootstrap intervals (ROC-AUC's interval is DeLong's,
    # analytic)
    bootstrap_max_rows: int = Field(20_000, ge=100)  # rows per resample above this many test rows: the interval is
    # scaled by sqrt(rows / test rows) (m-out-of-n bootstrap)
    segment_min_rows: int = Field(50, ge=1)  # segment values with fewer test rows are not reported
    random_state: int = 42  # seed of this step's random choices (same seed, same result)


class ExplainParams(Section):
    """SHAP error analysis on a deliberate sample, error slices over every scored test row."""

    sample_size: int = Field(2000, ge=10)  # rows explained with SHAP in all (errors included)
    max_errors: int = Field(500, ge=0)  # of which at most this many errors
    top_errors: int = Field(10, ge=1)  # worst errors listed per kind (FP / FN, over / under)
    error_top_features: int = Field(5, ge=1)  # contributing features shown per worst error
    max_waterfalls: int = Field(6, ge=0)  # waterfall PNGs (the worst errors, kinds alternating)
    slice_min_support: int = Field(100, ge=1)  # rows a segment needs to be reported
    numeric_bins: int = Field(5, ge=2)  # quantile bins per numeric feature
    slice_max_categories: int = Field(20, ge=1)  # most frequent categories per feature tried as segments
    slice_pair_candidates: int = Field(8, ge=0)  # strongest single segments combined in pairs
    slice_min_z: float = Field(3.0, ge=0)  # segment vs rest z-score to count as clearly worse
    slice_min_lift: float = Field(1.2, ge=1)  # and segment error rate / overall at least this
    slice_top: int = Field(10, ge=1)  # segments in the report
    permutation_rows: int = Field(5000, ge=100)  # validation rows used for permutation importance
    permutation_repeats: int = Field(3, ge=1)  # shuffles per feature in permutation importance
    min_rank_correlation: float = Field(0.5, ge=-1, le=1)  # warn below: SHAP vs gain / permutation ranks
    max_feature_share: float = Field(0.5, gt=0, le=1)  # warn above: one feature's share of total |SHAP|
    random_state: int = 42  # seed of this step's random choices (same seed, same result)

    @model_validator(mode="after")
    def _errors_fit_in_sample(self) -> ExplainParams:
        if self.max_errors > self.sample_size:
            raise ValueError(f"explain.max_errors ({self.max_errors}) must not exceed explain.sample_size ({self.sample_size})")
        return self


class PromoteParams(Section):
    """The promotion gate: absolute thresholds, lift, champion vs challenger, segments, schema, latency."""

    thresholds: dict[str, float] = Field(default_factory=dict)  # floor, or ceiling for lower-is-better metrics
    min_lift_over_baseline: float = 0.0  # primary metric, challenger minus baseline (oriented: + is better)
    min_gain_over_production: float = 0.0  # the bootstrap CI lower bound of the gain must exceed it
    segment_tolerance: float = Field(0.05, ge=0)  # absolute; relative to production's value for rmse/mae
    bootstrap_samples: int = Field(200, ge=0)  # resamples of the paired bootstrap of challenger minus production
    require_approval: bool = False  # true: a passing model is registered "pending_approval", not switched
    approval_timeout_seconds: float = Field(86400.0, gt=0)  # a UI approval waits this long, then expires (still pending)
    register_rejected: bool = True  # keep rejected challengers in the registry (status "rejected")
    max_p95_latency_ms: float = Field(250.0, gt=0)  # single-row scoring, p95
    min_rows_per_second: float = Field(500.0, ge=0)  # batch scoring throughput
    latency_rows: int = Field(300, ge=10)  # test rows used to measure latency
    lock_timeout_seconds: float = Field(60.0, gt=0)  # wait this long for another run holding registry/.lock
    card_top_features: int = Field(10, ge=1)  # model card: strongest drivers listed (explain's global importance)
    card_top_slices: int = Field(5, ge=0)  # model card: weakest error slices listed (explain's slices)
    near_perfect: float = Field(0.999, gt=0.5, le=1)  # a test metric this good (and the dummy's not) is a finding
    random_state: int = 42  # seed of this step's random choices (same seed, same result)


class ScheduleParams(Section):
    """One deployment schedule: a cron string (5 fields), its time zone, and whether it is active."""

    cron: str  # cron expression of the schedule (five fields)
    enabled: bool = True  # false: the deployment exists but its schedule is inactive
    timezone: str = "UTC"  # IANA time zone the cron expression is read in

    @model_validator(mode="after")
    def _five_fields(self) -> ScheduleParams:
        if len(self.cron.split()) != 5:
            raise ValueError(f"cron {self.cron!r} must have 5 fields: minute hour day-of-month month day-of-week")
        return self


class SchedulesParams(Section):
    """When `tabgate serve` runs each deployment."""

    training: ScheduleParams = ScheduleParams(cron="0 3 * * 1")
    scoring: ScheduleParams = ScheduleParams(cron="0 6 * * *")
    monitoring: ScheduleParams = ScheduleParams(cron="0 7 * * *")


class MonitorParams(Section):
    """Operations: schedules, the batch files the served flows read, drift / performance triggers, the run lock."""

    batch_path: Path = Path("incoming/batch.csv")  # the file the scheduled monitoring run checks
    scoring_input: Path = Path("incoming/batch.csv")  # the file the scheduled scoring run scores
    scoring_output: Path = Path("outputs/predictions.parquet")  # where a scheduled scoring run writes its predictions
    # (inside the project)
    passthrough_columns: list[str] = Field(default_factory=list)  # input columns copied into the scored output
    unseen_category_warn_share: float = Field(0.01, ge=0, le=1)  # warn when more rows of a column have a new category
    retrain_on_drift: bool = True  # a feature at validate.drift_error triggers retraining
    ignore_drift: dict[str, str] = Field(default_factory=dict)  # column: why its drift is expected (not a trigger)
    seasonal_reference: Literal["month", "week", "none"] = "month"  # compare a batch with the training rows of
    #   the same months (ISO weeks) of the year, by data.time_column, weighted like the batch; none: all training rows
    seasonal_min_rows: int = Field(100, ge=1)  # a season with fewer training rows is compared with all of them
    max_metric_drop: float = Field(0.05, ge=0)  # primary metric drop vs promotion (oriented) that triggers retraining
    min_labelled_rows: int = Field(200, ge=1)  # fewer labelled batch rows: performance is not judged
    retrain: bool = True  # false: the monitoring flow only reports, never retrains
    retrain_require_approval: bool = True  # an automatic retrain registers the model pending a person's approval
    retrain_force: bool = False  # re-run every step on retrain (else only what DVC finds stale)
    run_lock_timeout_seconds: float = Field(1800.0, gt=0)  # a training run waits this long for .tabgate.lock
    schedules: SchedulesParams = SchedulesParams()  # cron (minute hour day month weekday), time zone, enabled


class ComputeParams(Section):
    """Where fold work (cv folds, tuning trials' folds) runs: in-process, or on a Dask cluster (optional extra)."""

    engine: Literal["local", "dask"] = "local"  # local | dask (needs `pip install -e '.[dask]'`)
    scheduler_address: str | None = None  # an existing Dask scheduler, e.g. tcp://10.0.0.5:8786; None: a local cluster
    n_workers: int = Field(2, ge=1)  # worker processes of the local cluster (scheduler_address unset)
    threads_per_worker: int = Field(1, ge=1)  # threads of each Dask worker (compute.engine dask)
    connect_timeout_seconds: float = Field(30.0, gt=0)  # how long to wait for the Dask scheduler before failing
    lightgbm_dask: bool = False  # train's final LightGBM with lightgbm.dask (not bit-identical to local)
    dashboard_address: str = "127.0.0.1:0"  # the local cluster's dashboard: loopback, a free port ("0.0.0.0:8787": all)


class Config(Section):
    """The whole of params.yaml, typed."""

    paths: PathsParams = PathsParams()
    data: DataParams
    ingest: IngestParams
    validate_: ValidateParams = Field(ValidateParams(), alias="validate")
    split: SplitParams = SplitParams()
    preprocess: PreprocessParams = PreprocessParams()
    cv: CVParams = CVParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    explain: ExplainParams = ExplainParams()
    promote: PromoteParams = PromoteParams()
    monitor: MonitorParams = MonitorParams()
    compute: ComputeParams = ComputeParams()
    alerts: AlertsParams = AlertsParams()  # Prefect Automations `tabgate serve` creates (tasks/core/alert_params.py)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _thresholds_fit_the_task(self) -> Config:
        """promote.thresholds may name only metrics data.task computes: a mismatch fails at load, not at promote."""
        check_thresholds_fit(self.data.task, self.promote.thresholds)  # a ConfigError is a ValueError: pydantic reports
        # it
        return self

    @model_validator(mode="after")
    def _file_column_is_never_learned_from(self) -> Config:
        """ingest.file_column names where a row came from, not something known at prediction time: it must be dropped."""
        col = self.ingest.file_column
        if col is None:
            return self
        if self.ingest.is_sql:
            raise ValueError(
                f"ingest.file_column '{col}' is set but ingest.source is a SQL source: a file column "
                "names the file each row came from; remove ingest.file_column"
            )
        taken = {
            "data.target": self.data.target,
            "data.time_column": self.data.time_column,
            "data.id_column": self.data.id_column,
        }
        for key, value in taken.items():
            if value == col:
                raise ValueError(f"ingest.file_column '{col}' is also {key}: name the file column something else")
        if col not in self.data.drop_columns:
            raise ValueError(
                f"ingest.file_column '{col}' must also be listed in data.drop_columns (which file a row "
                f"came from is not known at prediction time): add `{col}: which file the row came from` "
                "under data.drop_columns in params.yaml"
            )
        return self

    @property
    def validate(self) -> ValidateParams:  # type: ignore[override]
        """The validate section (stored as validate_ to avoid BaseModel.validate)."""
        return self.validate_


def _format_errors(err: ValidationError, source: Path) -> str:
    lines = [f"{source}: {err.error_count()} problem(s) in the configuration:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]).replace("validate_", "validate")
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (misspelt? every key is listed in docs/configuration.md and by `tabgate config`)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"  - {key}: {msg}" if key else f"  - {msg}")
    return "\n".join(lines)


def parse_config(raw: dict[str, Any], source: Path = DEFAULT_PARAMS) -> Config:
    """Return the typed Config for a raw params mapping; ConfigError names each bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at top level, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, source)) from None


def load_config(path: Path | str | None = None) -> Config:
    """Read params.yaml (or $TABGATE_PARAMS) into a Config, failing early with the bad key named."""
    source = Path(path or os.environ.get("TABGATE_PARAMS") or DEFAULT_PARAMS)
    if not source.exists():
        raise ConfigError(f"{source}: no such file; run from the project root or pass --params")
    try:
        raw = yaml.safe_load(source.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from None
    return parse_config(raw or {}, source)


def effective_params(path: Path | str | None = None) -> dict[str, Any]:
    """Return the effective configuration of a params file as plain data: every key, defaults filled in."""
    return load_config(path).model_dump(mode="json", by_alias=True)
