"""Card sections: each part of the model card built from the step reports (pure; a missing report gives an empty
section, its note is in CardInputs.missing)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tasks.core.config import DataParams, PromoteParams
from tasks.core.credentials import redact_url
from tasks.core.metrics import HIGHER_IS_BETTER
from tasks.core.reports import Finding, Interval
from tasks.reporting.card_inputs import CardInputs
from tasks.reporting.card_report import (
    CardCv,
    CardCvScheme,
    CardData,
    CardFinding,
    CardGate,
    CardMetrics,
    CardTraining,
    CardWeaknesses,
    Driver,
    MetricRow,
    RowsBySplit,
    SegmentRow,
    WeakSlice,
)
from tasks.reporting.explain_report import Agreement
from tasks.reporting.promotion_report import Decision, PromotionStatus

MODEL = "lightgbm"  # the challenger the gate judges
ORDER = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "f1",
    "precision",
    "recall",
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "rmse",
    "mae",
    "r2",
)


def ordered_metrics(names: Iterable[str]) -> list[str]:
    """Return metric names in the card's order (ORDER first, then the others by name)."""
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def data_section(data: DataParams, source: str, data_version: str | None, inputs: CardInputs) -> CardData:
    """Return where the data came from (a URL with its password hidden), its size and time range, the split sizes
    and the columns left out."""
    ingest, train = inputs.ingest, inputs.train
    left_out = {**(inputs.explain.columns_left_out if inputs.explain else {}), **data.drop_columns}
    return CardData(
        source=redact_url(source),
        snapshot=ingest.snapshot if ingest else None,
        snapshot_sha256=ingest.snapshot_sha256 if ingest else None,
        data_version=data_version,
        rows=ingest.rows if ingest else None,
        time_column=data.time_column,
        time_range=ingest.time_range if ingest else None,
        target=data.target,
        task=data.task,
        split_strategy=inputs.split.strategy if inputs.split else None,
        rows_by_split=RowsBySplit(
            train=train.train_rows if train else None,
            valid=train.valid_rows if train else None,
            test=inputs.metrics.test_rows if inputs.metrics else None,
        ),
        columns_left_out=dict(sorted(left_out.items())),
    )


def training_section(meta: Mapping[str, Any], inputs: CardInputs) -> CardTraining:
    """Return the features, class weighting, best iteration and decision threshold of the model (the bundle's meta
    first, train.json where the meta does not say)."""
    train = inputs.train
    features = list(meta.get("features") or (train.features if train else []))
    return CardTraining(
        kind=meta.get("kind", MODEL),
        features=features,
        n_features=len(features),
        numeric=list(meta.get("numeric") or []),
        categorical=list(meta.get("categorical") or []),
        class_weight=meta.get("class_weight", train.class_weight if train else None),
        best_iteration=meta.get("best_iteration", train.best_iteration if train else None),
        threshold=meta.get("threshold", train.threshold(MODEL) if train else None),
        train_rows=meta.get("train_rows", train.train_rows if train else None),
        compute=train.compute if train else None,
        trained_with=train.lightgbm_trained_with if train else None,
    )


def metrics_section(inputs: CardInputs) -> CardMetrics:
    """Return the challenger's test metrics with their 95% intervals, and the baseline's for comparison."""
    m = inputs.metrics
    if m is None:
        return CardMetrics(
            primary_metric=None, test_rows=None, test_fingerprint=None, rows=[], bootstrap_samples=0, interval_methods=""
        )
    ours, base = m.model(MODEL), m.model("baseline")
    intervals = m.intervals.get(MODEL) or {}
    rows = []
    for name in ordered_metrics(k for k in ours.computed() if k != "threshold"):
        ci = intervals.get(name) or Interval()
        rows.append(MetricRow(metric=name, value=ours.value(name), low=ci.low, high=ci.high, baseline=base.value(name)))
    return CardMetrics(
        primary_metric=m.primary_metric,
        test_rows=m.test_rows,
        test_fingerprint=m.test_fingerprint,
        rows=rows,
        bootstrap_samples=max((c.n_samples for c in intervals.values()), default=0),
        interval_methods=interval_methods(intervals),
    )


def interval_methods(intervals: Mapping[str, Interval]) -> str:
    """Return which metrics' intervals are DeLong's and which are bootstrapped, and on how many rows per resample."""
    delong = [k for k, c in intervals.items() if c.method == "delong"]
    boot = [c for c in intervals.values() if c.method == "bootstrap"]
    parts = [f"DeLong for {', '.join(delong)}"] if delong else []
    if boot:
        parts.append(f"bootstrap of {boot[0].resample_rows} of {boot[0].rows} rows per resample for the others")
    return "; ".join(parts)


def cv_section(inputs: CardInputs, primary: str | None) -> CardCv:
    """Return cross-validation mean and std per scheme for the challenger and the baseline."""
    cv = inputs.cv
    schemes = {}
    for scheme, body in sorted((cv.schemes if cv else {}).items()):
        per_model = {}
        for model in (MODEL, "baseline"):
            stats = body.summary.model(model)
            per_model[model] = {k: stats[k] for k in ordered_metrics(stats) if k not in ("threshold", "best_iteration")}
        schemes[scheme] = CardCvScheme(high_variance=body.summary.high_variance, models=per_model, folds=len(body.folds))
    return CardCv(n_splits=cv.n_splits if cv else None, rows=cv.rows if cv else None, primary_metric=primary, schemes=schemes)


def segments_section(inputs: CardInputs, primary: str | None) -> dict[str, list[SegmentRow]]:
    """Return per segment column the challenger's primary metric and rows per value, weakest first."""
    out = {}
    higher = HIGHER_IS_BETTER.get(primary or "", True)
    segments = inputs.metrics.segments if inputs.metrics else {}
    for column, values in sorted(segments.items()):
        rows = [SegmentRow(value=v, rows=s.rows, metric=s.value(primary) if primary else None) for v, s in values.items()]
        scored = [(r.metric, r) for r in rows if r.metric is not None]
        defined = [r for _, r in sorted(scored, key=lambda t: t[0] if higher else -t[0])]
        out[column] = defined + [r for r in rows if r.metric is None]
    return out


def weaknesses_section(inputs: CardInputs, p: PromoteParams) -> CardWeaknesses:
    """Return explain's weakest error slices, its warnings and the strongest drivers of the model."""
    ex = inputs.explain
    if ex is None:
        return CardWeaknesses(
            available=False,
            error_definition=None,
            overall_error=None,
            slices_flagged=None,
            slices_tried=None,
            weakest_slices=[],
            warnings=[],
            top_drivers=[],
            shap_units=None,
            agreement=Agreement(),
        )
    slices = ex.slices
    weakest = [
        WeakSlice(
            segment=s.segment,
            rows=s.rows,
            error_rate=s.error_rate,
            lift=s.lift,
            z=s.z,
            drivers=[d.feature for d in s.drivers][:3],
        )
        for s in slices.top[: p.card_top_slices]
    ]
    drivers = [
        Driver(
            feature=g.feature,
            share=g.share,
            mean_abs_shap=g.mean_abs_shap,
            shap_rank=g.shap_rank,
            permutation_rank=g.permutation_rank,
        )
        for g in ex.global_importance[: p.card_top_features]
    ]
    overall = ex.summary.overall_error if "overall_error" in ex.summary.model_fields_set else slices.overall_rate
    return CardWeaknesses(
        available=True,
        error_definition=ex.error_definition,
        overall_error=overall,
        slices_flagged=slices.n_flagged,
        slices_tried=slices.n_candidates,
        weakest_slices=weakest,
        warnings=list(ex.warnings),
        top_drivers=drivers,
        shap_units=ex.shap_units,
        agreement=ex.agreement,
    )


def gate_section(decision: Decision, status: PromotionStatus, version_id: str | None, production_version: str | None) -> CardGate:
    """Return the gate's outcome, the resulting status and every rule with its result."""
    return CardGate(
        status=status,
        outcome=decision.outcome,
        version_id=version_id,
        compared_with=production_version,
        first_model=decision.first_model,
        notes=list(decision.notes),
        rules=list(decision.rules),
    )


def findings_section(findings: Sequence[Finding]) -> list[CardFinding]:
    """Return the findings the promote step gathered (leak suspects, a near-perfect model, train-vs-test warnings),
    each with what it does to promotion."""
    out = []
    for f in findings:
        out.append(
            CardFinding(
                columns=f.columns,
                check=f.check,
                severity=f.severity.value,
                value=f.value,
                threshold=f.threshold,
                excused=f.excused,
                reason=f.reason,
                detail=f.detail,
                effect=f.effect,
            )
        )
    return out
