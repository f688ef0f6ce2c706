"""Registry records: the layout's names, the statuses and actions as enums, and the typed models of what it stores.

Layout of `paths.registry_dir`:
    versions/<version_id>/bundle/    a byte-for-byte copy of a model bundle directory (tasks.modelling.bundle)
    versions/<version_id>/manifest.json the registry's record of the bundle's bytes, written once at
                                      registration: sha256 of every bundle file (meta.json included),
                                      the skops types of each .skops file, the bundle digest, and an
                                      HMAC-SHA256 when TABGATE_MANIFEST_KEY is set. Every load checks
                                      every file against it (tasks.modelling.integrity)
    versions/<version_id>/record.json what the version is (VersionRecord; promote hands a CandidateRecord): metrics,
                                      data version, git commit, params digest, test fingerprint, the gate's decision, and `dvc`
                                      (DvcProvenance): where DVC keeps the same bytes, so another machine can fetch them
    versions/<version_id>/model_card.{md,json}  the model card written at promotion (tasks.reporting.model_card)
    production.json                   the pointer (ProductionPointer); manifest_sha256 pins the version's
                                      manifest.json; the single source of truth, replaced atomically (os.replace)
    history.jsonl                     append-only audit log (HistoryLine): registrations, promotions, approvals,
                                      forced promotions, rejections, rollbacks and migrations, each with its reason
    .lock                             fcntl lock held around every mutation

The models read the JSON files the registry has always written: field names are the file's keys, unknown
keys are kept (extra="allow"), so older registries load and nothing is lost when a record is rewritten.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

PRODUCTION = "production.json"
HISTORY = "history.jsonl"
LOCK = ".lock"
VERSIONS = "versions"
BUNDLE = "bundle"
RECORD = "record.json"
MANIFEST = "manifest.json"
MODEL_CARD_MD = "model_card.md"
MODEL_CARD_JSON = "model_card.json"
INCOMING_PREFIX = ".incoming-"
LOCK_TIMEOUT_SECONDS = 60.0
VERSION_RE = re.compile(r"^v(\d{4,})-[0-9a-f]{8}$")
MIGRATE_HINT = 'run `tabgate models migrate --reason "..."` once to record the existing versions'
MODEL_ARTIFACT = "tabgate-model"  # the name under dvc.yaml `artifacts:` (and of GTO tags name@vN.0.0)
DEFAULT_MODEL_PATH = "artifacts/models/lightgbm"  # for records written before the `dvc` block existed
SHORT_METRICS = {
    "binary": ("roc_auc", "pr_auc", "f1"),
    "multiclass": ("log_loss", "accuracy", "macro_f1"),
    "regression": ("rmse", "mae", "r2"),
}


class RecordStatus(StrEnum):
    """What the gate said when a version was registered (record.json `status`)."""

    APPROVED = "approved"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"


class ModelStatus(StrEnum):
    """What `tabgate models list` shows for a version."""

    PRODUCTION = "production"
    ARCHIVED = "archived"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        """Return the status as people read it ("pending approval")."""
        return self.value.replace("_", " ")


class Action(StrEnum):
    """What a history.jsonl line records (and production.json's `action`)."""

    REGISTER = "register"
    PROMOTE = "promote"
    APPROVE = "approve"
    FORCE_PROMOTE = "force_promote"
    ROLLBACK = "rollback"
    MIGRATE = "migrate"
    REJECT = "reject"  # a person rejected a version pending approval (production untouched)


PROMOTING_ACTIONS = (Action.PROMOTE, Action.APPROVE, Action.FORCE_PROMOTE)
SERVING_ACTIONS = (*PROMOTING_ACTIONS, Action.ROLLBACK)  # a version named by one of these served in production


class GateOutcome(StrEnum):
    """The gate's verdict on a challenger (tasks.evaluation.gate.Decision.outcome; record.json `decision.outcome`)."""

    PROMOTE = "promote"
    REJECT = "reject"
    ALREADY_IN_PRODUCTION = "already_in_production"


class PromotionStatus(StrEnum):
    """The promote step's verdict (reports/promotion.json `status`)."""

    PROMOTED = "promoted"
    REJECTED = "rejected"
    PENDING_APPROVAL = "pending_approval"
    ALREADY_IN_PRODUCTION = "already_in_production"
    EXPERIMENT = "experiment"  # under `dvc exp run`: decided, nothing registered or switched


class _Stored(BaseModel):
    """A JSON file of the registry: its keys are the fields, unknown keys are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_json_dict(self) -> dict[str, Any]:
        """Return the dict to write back: the keys that were read or set, under their file names."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class DvcProvenance(_Stored):
    """Where DVC keeps a version's bytes: the models stage output's md5 and the bundle's path in it."""

    output: str | None = None
    path: str | None = None
    md5: str | None = None
    lock_md5: str | None = None
    lock_current: bool = False
    artifact: str | None = None
    revision: str | None = None


class GateSummary(_Stored):
    """The gate's decision as the record keeps it (tasks.evaluation.gate.Decision.summary)."""

    outcome: GateOutcome | None = None
    first_model: bool | None = None
    failed_rules: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def failed_rule_names(self) -> list[str]:
        """Return the names of the rules that failed."""
        return [str(r.get("rule")) for r in self.failed_rules]


class CandidateRecord(_Stored):
    """What a gated challenger is, as the promote step hands it to the registry (tasks.evaluation.promotion.
    build_record): record.json's fields but those the registry adds (version id, bundle digest, timestamps)."""

    status: RecordStatus | None = None
    kind: str | None = None
    task: str | None = None
    primary_metric: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)  # the gate's test metrics of this model
    evaluate_metrics: dict[str, Any] | None = None
    decision: GateSummary | None = None
    compared_with: str | None = None  # the production version the gate judged it against
    data_version: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    params_digest: str | None = None
    test_fingerprint: str | None = None
    test_rows: int | None = None
    latency: dict[str, Any] | None = None
    dvc: DvcProvenance | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _empty_status(cls, value: Any) -> Any:
        return value or None


class VersionRecord(CandidateRecord):
    """versions/<id>/record.json: what a registered version is (a CandidateRecord with the registry's own fields)."""

    version_id: str
    bundle_digest: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    earlier_decisions: list[dict[str, Any]] = Field(default_factory=list)  # when the same bundle was registered again
    rejection: dict[str, Any] | None = None  # a person's rejection of a pending version: at, actor, reason, run_id

    def short_metrics(self) -> dict[str, float]:
        """Return the primary metric and two more of the version's test metrics, primary first."""
        names = [self.primary_metric, *SHORT_METRICS.get(str(self.task), ())]
        out: dict[str, float] = {}
        for name in names:
            value = self.metrics.get(name) if name else None
            if name and isinstance(value, (int, float)) and name not in out:
                out[name] = float(value)
        return dict(list(out.items())[:3])


class VersionEntry(BaseModel):
    """One row of `tabgate models list`: a version's record and what it is now."""

    model_config = ConfigDict(frozen=True)

    version_id: str
    created_at: str | None
    status: ModelStatus
    production: bool
    metrics: dict[str, float]  # the short list, primary metric first
    bundle_dir: str
    model_card: str | None
    record: VersionRecord


class ProductionPointer(_Stored):
    """production.json: which version serves, pinned by its manifest's sha256, and how it got there."""

    version_id: str
    manifest_sha256: str | None = None
    promoted_at: str | None = None
    reason: str | None = None
    actor: str | None = None
    action: Action | None = None
    previous: str | None = None
    lineage: list[str] | None = None

    def installed(self) -> list[str]:
        """Return the production versions in the order they were installed (the current one last)."""
        return list(self.lineage or [self.version_id])


class HistoryLine(_Stored):
    """One line of history.jsonl."""

    at: str | None = None
    action: Action | None = None
    version_id: str | None = None
    from_version: str | None = Field(default=None, alias="from")
    status: str | None = None
    reason: str | None = None
    actor: str | None = None
    note: str | None = None
    manifest_sha256: str | None = None
    run_id: str | None = None  # the Prefect flow run that made the change (approval from the UI), if any


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
