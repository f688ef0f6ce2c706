"""Promotion report: the gate's Decision with every RuleResult, and reports/promotion.json (PromotionReport).

Written by the promote step through the model and read back through it by promotion.md, the headline, the model
card, the Prefect artifacts and the training flow. The gate's outcome and the step's status are the registry's enums
(tasks.registry.records: GateOutcome, PromotionStatus), so a record and a report never spell a status two ways.
"""

from __future__ import annotations

from enum import StrEnum

from tasks.core.reports import Finding, Report
from tasks.registry.records import GateOutcome, GateSummary, PromotionStatus

__all__ = ["Decision", "GateOutcome", "LossDiagnosis", "PromotionReport", "PromotionStatus", "RuleResult", "Verdict"]


class Verdict(StrEnum):
    """One rule's result."""

    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"


class RuleResult(Report):
    """One gate rule: passed is None when the rule does not apply (said why in reason)."""

    rule: str
    metric: str | None
    value: float | None
    threshold: float | None
    passed: bool | None
    reason: str

    @classmethod
    def of(
        cls, rule: str, metric: str | None, value: float | None, threshold: float | None, passed: bool | None, reason: str
    ) -> RuleResult:
        """Return a rule result from its six fields in order."""
        return cls(rule=rule, metric=metric, value=value, threshold=threshold, passed=passed, reason=reason)

    @property
    def verdict(self) -> Verdict:
        """Pass, fail, or n/a."""
        return Verdict.NOT_APPLICABLE if self.passed is None else Verdict.PASS if self.passed else Verdict.FAIL


class Decision(Report):
    """The gate's verdict with every rule's result and the metrics it computed on the test rows (all required, so
    a decision always writes every field)."""

    outcome: GateOutcome
    primary_metric: str
    first_model: bool
    rules: list[RuleResult]
    notes: list[str]
    metrics: dict[str, dict[str, float | None]]

    @property
    def failed(self) -> list[RuleResult]:
        """The rules that failed."""
        return [r for r in self.rules if r.verdict is Verdict.FAIL]

    def summary(self) -> GateSummary:
        """Return the short form kept in the registry record (record.json `decision`)."""
        return GateSummary.model_validate(
            {
                "outcome": self.outcome.value,
                "first_model": self.first_model,
                "notes": list(self.notes),
                "failed_rules": [r.to_data() for r in self.failed],
                "rules_checked": len(self.rules),
            }
        )


class LossDiagnosis(Report):
    """Why the challenger lost to the baseline, as far as the reports show, and what to try
    (tasks.evaluation.diagnosis)."""

    lost_to: str
    primary_metric: str
    lift: float | None
    evidence: list[str]
    try_next: list[str]


class PromotionReport(Report):
    """reports/promotion.json: what promote did (status, version), the gate's decision and the findings it showed."""

    status: PromotionStatus
    decision: Decision
    challenger_digest: str
    version_id: str | None = None
    production_version: str | None = None
    experiment: str | None = None
    step_version: str | None = None
    test_rows: int | None = None
    test_fingerprint: str | None = None
    suspects: list[Finding] = []
    notes: list[str] = []
    diagnosis: LossDiagnosis | None = None  # set when the challenger lost to the baseline

    @property
    def in_production(self) -> bool:
        """Whether the challenger is production after this run."""
        return self.status in (PromotionStatus.PROMOTED, PromotionStatus.ALREADY_IN_PRODUCTION)
