"""Catalog: read what the registry holds (versions, their records, the production pointer, the history).

Reads only; every change goes through tasks.registry.lifecycle under the registry lock.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tasks.core import io
from tasks.core.errors import PromotionError
from tasks.registry.records import (
    BUNDLE,
    HISTORY,
    MODEL_CARD_MD,
    PRODUCTION,
    RECORD,
    SERVING_ACTIONS,
    VERSION_RE,
    VERSIONS,
    HistoryLine,
    ModelStatus,
    ProductionPointer,
    RecordStatus,
    VersionEntry,
    VersionRecord,
)

log = logging.getLogger(__name__)


def version_ids(registry_dir: Path) -> list[str]:
    """Return the ids of every registered version, oldest first."""
    root = Path(registry_dir) / VERSIONS
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and VERSION_RE.match(p.name) and (p / RECORD).exists())


def version_dir(registry_dir: Path, version_id: str) -> Path:
    """Return the directory of a registered version; PromotionError when there is no such version."""
    path = Path(registry_dir) / VERSIONS / version_id
    if not VERSION_RE.match(version_id or "") or not (path / RECORD).exists():
        known = version_ids(registry_dir)
        raise PromotionError(f"{registry_dir}: no registered version {version_id!r} (known: {known[-10:]})")
    return path


def read_pointer(registry_dir: Path) -> ProductionPointer | None:
    """Return production.json, or None when no model was ever promoted."""
    path = Path(registry_dir) / PRODUCTION
    if not path.exists():
        return None
    data = io.read_json(path)
    return ProductionPointer.model_validate(data) if data and data.get("version_id") else None


def production_version(registry_dir: Path) -> str | None:
    """Return the version id production.json points to, or None when there is no production model."""
    pointer = read_pointer(registry_dir)
    return pointer.version_id if pointer else None


def read_record_file(path: Path) -> VersionRecord:
    """Return a record.json read through VersionRecord."""
    return VersionRecord.model_validate(io.read_json(path))


def read_record(registry_dir: Path, version_id: str) -> VersionRecord:
    """Return record.json of a registered version."""
    return read_record_file(version_dir(registry_dir, version_id) / RECORD)


def read_history(registry_dir: Path) -> list[HistoryLine]:
    """Return every history.jsonl entry, oldest first (a torn last line from a crash is skipped)."""
    path = Path(registry_dir) / HISTORY
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(HistoryLine.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValueError):
            log.warning("registry: skipping an unreadable line in %s", path)
    return entries


def display_status(record: VersionRecord, is_production: bool, was_production: bool = False) -> ModelStatus:
    """Return the status shown to people: production, rejected, pending approval or archived.

    A version that served in production once (promoted, approved or forced) and was replaced or
    rolled back is archived, whatever the gate said when it was registered.
    """
    if is_production:
        return ModelStatus.PRODUCTION
    if was_production:
        return ModelStatus.ARCHIVED
    if record.status == RecordStatus.REJECTED:
        return ModelStatus.REJECTED
    if record.status == RecordStatus.PENDING_APPROVAL:
        return ModelStatus.PENDING_APPROVAL
    return ModelStatus.ARCHIVED  # passed the gate once, not production now (replaced, rolled back, or never switched)


def list_versions(registry_dir: Path) -> list[VersionEntry]:
    """Return every registered version, oldest first, with what `tabgate models list` shows."""
    current = production_version(registry_dir)
    served = {h.version_id for h in read_history(registry_dir) if h.action in SERVING_ACTIONS}
    out = []
    for vid in version_ids(registry_dir):
        vdir = Path(registry_dir) / VERSIONS / vid
        record = read_record_file(vdir / RECORD)
        card = vdir / MODEL_CARD_MD
        out.append(
            VersionEntry(
                version_id=vid,
                created_at=record.created_at,
                status=display_status(record, vid == current, vid in served),
                production=vid == current,
                metrics=record.short_metrics(),
                bundle_dir=str(vdir / BUNDLE),
                model_card=str(card) if card.exists() else None,
                record=record,
            )
        )
    return out


def current_status(registry_dir: Path, version_id: str) -> ModelStatus:
    """Return what `tabgate models list` shows for one version now (PromotionError when it is not registered)."""
    record = read_record(registry_dir, version_id)
    served = any(h.version_id == version_id and h.action in SERVING_ACTIONS for h in read_history(registry_dir))
    return display_status(record, production_version(registry_dir) == version_id, served)


def model_card_path(registry_dir: Path, version_id: str) -> Path:
    """Return versions/<id>/model_card.md of a registered version (it may not exist for old versions)."""
    return version_dir(registry_dir, version_id) / MODEL_CARD_MD


def find_by_digest(registry_dir: Path, digest: str) -> str | None:
    """Return the id of the version registered with this bundle digest, or None."""
    for vid in version_ids(registry_dir):
        if read_record_file(Path(registry_dir) / VERSIONS / vid / RECORD).bundle_digest == digest:
            return vid
    return None
