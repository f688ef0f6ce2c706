"""Approval: a person's decision on a version pending approval (approve or reject, a reason, who decided).

The same lifecycle calls the CLI makes (approve_version, reject_version), under the same registry lock; the
history line names the approver and, when the decision came from the Prefect UI, the flow run. No Prefect here:
flows/approval.py turns the UI form into an ApprovalDecision and calls decide().
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tasks.core.errors import PromotionError
from tasks.registry.catalog import current_status, production_version
from tasks.registry.lifecycle import approve_version, reject_version, require_pending, require_reason
from tasks.registry.records import LOCK_TIMEOUT_SECONDS, ModelStatus

log = logging.getLogger(__name__)


class Choice(StrEnum):
    """What the person decided."""

    APPROVE = "approve"
    REJECT = "reject"


class ApprovalDecision(BaseModel):
    """A person's decision on one pending version: approve or reject, why, and who."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Choice
    reason: str
    approver: str


class DecisionResult(BaseModel):
    """What decide() did: the version, the decision, production after it, and a sentence for people."""

    model_config = ConfigDict(frozen=True)

    version_id: str
    decision: Choice
    production: str | None
    message: str


def require_approver(approver: str | None) -> str:
    """Return the stripped approver name; PromotionError when it is empty."""
    name = (approver or "").strip()
    if not name:
        raise PromotionError(
            "an approval decision needs the approver's name (field `approver`); it is kept in the registry history"
        )
    return name


def pending_now(registry_dir: Path, version_id: str) -> bool:
    """Return whether version_id is pending approval now (PromotionError when it is not registered)."""
    return current_status(registry_dir, version_id) == ModelStatus.PENDING_APPROVAL


def decide(
    registry_dir: Path,
    version_id: str,
    choice: ApprovalDecision,
    run_id: str | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> DecisionResult:
    """Approve (switch production) or reject (record it, production untouched) a version pending approval.

    Refused, with nothing changed, when the reason or the approver is empty or the version is not pending
    approval (checked again under the registry lock, so two deciders cannot both win).
    """
    reason = require_reason(choice.reason, f"{choice.decision.value} {version_id}")
    approver = require_approver(choice.approver)
    require_pending(registry_dir, version_id)
    if choice.decision == Choice.APPROVE:
        approve_version(registry_dir, version_id, reason, approver, lock_timeout, run_id=run_id, only_pending=True)
        message = f"{version_id} approved by {approver}: now in production ({reason})"
    else:
        reject_version(registry_dir, version_id, reason, approver, lock_timeout, run_id=run_id)
        message = f"{version_id} rejected by {approver} ({reason}); production unchanged"
    log.info("approval: %s", message)
    return DecisionResult(
        version_id=version_id, decision=choice.decision, production=production_version(registry_dir), message=message
    )
