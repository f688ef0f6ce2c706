"""Lifecycle: register a bundle, switch production (promote, approve, force), reject, roll back, attach a model card.

Every change holds the registry lock (registry_dir/.lock). A version directory is copied into a hidden
temp directory and renamed into place, so a process killed mid-copy leaves nothing visible. `lineage`
in production.json lists the production versions in the order they were installed; rollback pops the
last one. Files are written with tasks.core.io's durable atomic writers (fsync, os.replace, fsync dir).
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tasks.core import io
from tasks.core.errors import PromotionError
from tasks.core.locking import exclusive_lock
from tasks.modelling import integrity
from tasks.modelling.bundle import bundle_digest, verify_bundle
from tasks.registry.catalog import (
    current_status,
    find_by_digest,
    read_pointer,
    read_record,
    read_record_file,
    version_dir,
)
from tasks.registry.manifest import build_version_manifest, verified_version_files
from tasks.registry.records import (
    BUNDLE,
    HISTORY,
    INCOMING_PREFIX,
    LOCK,
    LOCK_TIMEOUT_SECONDS,
    MANIFEST,
    MODEL_CARD_JSON,
    MODEL_CARD_MD,
    PRODUCTION,
    RECORD,
    VERSION_RE,
    VERSIONS,
    Action,
    CandidateRecord,
    GateOutcome,
    ModelStatus,
    ProductionPointer,
    RecordStatus,
    utc_now,
)

log = logging.getLogger(__name__)


def default_actor() -> str:
    """Return user@host of this process, for the audit log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def require_reason(reason: str | None, what: str) -> str:
    """Return the stripped reason; PromotionError when it is empty."""
    text = (reason or "").strip()
    if not text:
        raise PromotionError(f'{what} needs a written reason (pass --reason "why"); it is kept in the registry history')
    return text


@contextmanager
def registry_lock(registry_dir: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold an exclusive fcntl lock on registry_dir/.lock; PromotionError after `timeout` seconds of waiting."""
    path = Path(registry_dir) / LOCK

    def error(holder: str, waited: float) -> PromotionError:
        return PromotionError(
            f"another run holds the registry lock {path} ({holder}); waited {timeout:g}s. "
            "Let it finish and retry (the lock is released automatically when that process exits)"
        )

    with exclusive_lock(path, timeout, "registry change", error, log, poll_seconds=0.05, lock_name="registry lock"):
        yield


def append_history(registry_dir: Path, entry: dict[str, Any]) -> None:
    """Append one line to history.jsonl, fsynced (caller holds the lock)."""
    io.append_json_line(entry, Path(registry_dir) / HISTORY)


def _copy_file(src: Path, dst: Path) -> None:
    """Copy one file's bytes and fsync the copy (a separate function so tests can slow or break it)."""
    shutil.copyfile(src, dst)
    io.fsync_file(dst)


def copy_bundle(src: Path, dest: Path) -> None:
    """Copy a bundle directory file by file, each copy fsynced."""
    for path in sorted(src.rglob("*")):
        target = dest / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_file(path, target)


def _remove_stale_incoming(versions: Path) -> None:
    """Delete half-copied versions left by a killed process (only called while holding the lock)."""
    for stale in versions.glob(f"{INCOMING_PREFIX}*"):
        log.warning("registry: removing %s left by an interrupted registration", stale)
        shutil.rmtree(stale, ignore_errors=True)


def _next_sequence(registry_dir: Path) -> int:
    root = Path(registry_dir) / VERSIONS
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := VERSION_RE.match(p.name))] if root.exists() else []
    return max(numbers, default=0) + 1


def _refresh_record(registry_dir: Path, version_id: str, digest: str, record: CandidateRecord) -> None:
    """Refresh the record of an already registered bundle, keeping earlier decisions (caller holds the lock)."""
    path = Path(registry_dir) / VERSIONS / version_id / RECORD
    old = io.read_json(path)
    earlier = {
        "status": old.get("status"),
        "decision": old.get("decision"),
        "compared_with": old.get("compared_with"),
        "at": old.get("updated_at") or old.get("created_at"),
    }
    merged = {
        **old,
        **record.to_json_dict(),
        "version_id": version_id,
        "bundle_digest": digest,
        "created_at": old.get("created_at"),
        "updated_at": utc_now(),
        "earlier_decisions": [*old.get("earlier_decisions", []), earlier],
    }
    io.write_json(merged, path, durable=True)
    append_history(
        registry_dir,
        {
            "at": utc_now(),
            "action": Action.REGISTER,
            "version_id": version_id,
            "status": merged.get("status"),
            "note": "same bundle registered again",
        },
    )
    log.info("registry: bundle already registered as %s; record refreshed", version_id)


def _install_version(registry_dir: Path, bundle_dir: Path, digest: str, record: CandidateRecord) -> str:
    """Copy the bundle and record into a hidden temp dir, then rename it into place (caller holds the lock)."""
    versions = Path(registry_dir) / VERSIONS
    version_id = f"v{_next_sequence(registry_dir):04d}-{digest[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{INCOMING_PREFIX}{version_id}-", dir=versions))
    try:
        copy_bundle(bundle_dir, tmp / BUNDLE)
        verify_bundle(tmp / BUNDLE)
        if bundle_digest(tmp / BUNDLE) != digest:
            raise PromotionError(f"{bundle_dir}: the bundle changed while it was being copied; retry")
        io.write_json(
            {**record.to_json_dict(), "version_id": version_id, "bundle_digest": digest, "created_at": utc_now()},
            tmp / RECORD,
            durable=True,
        )
        io.write_json(build_version_manifest(tmp / BUNDLE, version_id, digest), tmp / MANIFEST, durable=True)
        manifest_sha = integrity.sha256_bytes((tmp / MANIFEST).read_bytes())
        io.fsync_dir(tmp / BUNDLE)
        io.fsync_dir(tmp)
        os.rename(tmp, versions / version_id)
        io.fsync_dir(versions)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    append_history(
        registry_dir,
        {
            "at": utc_now(),
            "action": Action.REGISTER,
            "version_id": version_id,
            "status": record.status,
            "manifest_sha256": manifest_sha,
        },
    )
    return version_id


def register_version(
    registry_dir: Path, bundle_dir: Path, record: CandidateRecord, lock_timeout: float = LOCK_TIMEOUT_SECONDS
) -> str:
    """Copy a verified bundle into the registry with its record; return its version id ("v0003-1a2b3c4d").

    A process killed mid-copy leaves nothing visible. The same bundle bytes registered again keep
    their version id; only the record is refreshed.
    """
    bundle_dir, registry_dir = Path(bundle_dir), Path(registry_dir)
    verify_bundle(bundle_dir)
    digest = bundle_digest(bundle_dir)
    with registry_lock(registry_dir, lock_timeout):
        (registry_dir / VERSIONS).mkdir(parents=True, exist_ok=True)
        _remove_stale_incoming(registry_dir / VERSIONS)
        existing = find_by_digest(registry_dir, digest)
        if existing is not None:
            _refresh_record(registry_dir, existing, digest, record)
            return existing
        version_id = _install_version(registry_dir, bundle_dir, digest, record)
    log.info("registry: registered %s from %s", version_id, bundle_dir)
    return version_id


_ANY = object()


def _switch(
    registry_dir: Path, version_id: str, reason: str, actor: str, action: Action, lineage: list[str], run_id: str | None = None
) -> ProductionPointer:
    """Point production at version_id (caller holds the lock); return the new pointer."""
    version_dir(registry_dir, version_id)
    _, manifest_sha = verified_version_files(registry_dir, version_id)
    current = read_pointer(registry_dir)
    pointer = ProductionPointer(
        version_id=version_id,
        manifest_sha256=manifest_sha,
        promoted_at=utc_now(),
        reason=reason,
        actor=actor,
        action=action,
        previous=lineage[-2] if len(lineage) >= 2 else None,
        lineage=lineage,
    )
    io.write_json(pointer.to_json_dict(), Path(registry_dir) / PRODUCTION, durable=True)
    append_history(
        registry_dir,
        {
            "at": pointer.promoted_at,
            "action": action,
            "version_id": version_id,
            "from": current.version_id if current else None,
            "reason": reason,
            "actor": actor,
            "manifest_sha256": manifest_sha,
            **({"run_id": run_id} if run_id else {}),
        },
    )
    log.info("registry: production -> %s (%s by %s: %s)", version_id, action, actor, reason)
    return pointer


def set_production(
    registry_dir: Path,
    version_id: str,
    reason: str,
    actor: str | None = None,
    *,
    action: Action = Action.PROMOTE,
    expected_current: Any = _ANY,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    run_id: str | None = None,
    precondition: Callable[[], None] | None = None,
) -> ProductionPointer:
    """Atomically make version_id the production model; return the new production.json content.

    expected_current (a version id or None) guards against a race: when production changed since the
    caller looked (another run promoted meanwhile), nothing is switched and PromotionError says so.
    precondition is called under the lock before anything changes (it raises to refuse); run_id (a Prefect
    flow run) is kept in the history line.
    """
    reason = require_reason(reason, f"setting production to {version_id}")
    with registry_lock(registry_dir, lock_timeout):
        if precondition is not None:
            precondition()
        pointer = read_pointer(registry_dir)
        current = pointer.version_id if pointer else None
        if expected_current is not _ANY and current != expected_current:
            raise PromotionError(
                f"production changed from {expected_current} to {current} while this run was deciding; "
                "nothing was switched; re-run evaluate and promote against the new production model"
            )
        if pointer is not None and current == version_id:
            log.info("registry: %s is already production; nothing to switch", version_id)
            return pointer
        earlier = pointer.lineage if pointer and pointer.lineage is not None else ([current] if current else [])
        return _switch(registry_dir, version_id, reason, actor or default_actor(), Action(action), [*earlier, version_id], run_id)


def approve_version(
    registry_dir: Path,
    version_id: str,
    reason: str,
    actor: str | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    run_id: str | None = None,
    only_pending: bool = False,
) -> ProductionPointer:
    """Promote a version that passed the gate (e.g. one pending approval); return the new pointer.

    A version that failed the gate, or that a person rejected, is refused here; use force_promote with a
    written reason. only_pending: refuse, under the lock, a version that is no longer pending approval.
    """
    reason = require_reason(reason, f"promoting {version_id}")
    record = read_record(registry_dir, version_id)
    decision = record.decision
    if decision is None or decision.outcome != GateOutcome.PROMOTE:
        failed = decision.failed_rule_names() if decision else []
        raise PromotionError(
            f"{version_id} did not pass the promotion gate (failed: {failed or 'no gate decision recorded'}); "
            "to promote it anyway use force promote with a written reason"
        )

    def check() -> None:
        _refuse_rejected(registry_dir, version_id)
        if only_pending:
            require_pending(registry_dir, version_id)

    return set_production(
        registry_dir,
        version_id,
        reason,
        actor,
        action=Action.APPROVE,
        lock_timeout=lock_timeout,
        run_id=run_id,
        precondition=check,
    )


def _refuse_rejected(registry_dir: Path, version_id: str) -> None:
    """PromotionError when a person rejected version_id (its record says who, when and why)."""
    record = read_record_file(version_dir(registry_dir, version_id) / RECORD)
    rejection = record.rejection
    if record.status == RecordStatus.REJECTED and rejection:
        raise PromotionError(
            f"{version_id} was rejected by {rejection.get('actor')} at {rejection.get('at')} "
            f"({rejection.get('reason')}); it cannot be approved. To put it in production anyway use "
            f'`tabgate models promote {version_id} --force --reason "..."`'
        )


def require_pending(registry_dir: Path, version_id: str) -> None:
    """PromotionError naming the version and its status when it is not pending approval now."""
    status = current_status(registry_dir, version_id)
    if status != ModelStatus.PENDING_APPROVAL:
        raise PromotionError(
            f"{version_id} is {status.label}, not pending approval: nothing to decide (see `tabgate models list`)"
        )


def reject_version(
    registry_dir: Path,
    version_id: str,
    reason: str,
    actor: str | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    run_id: str | None = None,
) -> None:
    """Record that a person rejected a version pending approval (record status and a history line); production
    is untouched. Refused for a version that is not pending approval."""
    reason = require_reason(reason, f"rejecting {version_id}")
    actor = actor or default_actor()
    with registry_lock(registry_dir, lock_timeout):
        require_pending(registry_dir, version_id)
        path = version_dir(registry_dir, version_id) / RECORD
        at = utc_now()
        rejection = {"at": at, "actor": actor, "reason": reason, **({"run_id": run_id} if run_id else {})}
        io.write_json(
            {**io.read_json(path), "status": RecordStatus.REJECTED, "updated_at": at, "rejection": rejection}, path, durable=True
        )
        append_history(
            registry_dir,
            {
                "at": at,
                "action": Action.REJECT,
                "version_id": version_id,
                "status": RecordStatus.REJECTED,
                "reason": reason,
                "actor": actor,
                **({"run_id": run_id} if run_id else {}),
            },
        )
    log.info("registry: %s rejected by %s: %s (production unchanged)", version_id, actor, reason)


def force_promote(
    registry_dir: Path,
    version_id: str,
    reason: str,
    actor: str | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> ProductionPointer:
    """Make any registered version production regardless of the gate; the written reason is required and logged."""
    reason = require_reason(reason, f"force-promoting {version_id}")
    return set_production(registry_dir, version_id, reason, actor, action=Action.FORCE_PROMOTE, lock_timeout=lock_timeout)


def rollback(
    registry_dir: Path,
    reason: str,
    actor: str | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    to_version: str | None = None,
    run_id: str | None = None,
) -> str:
    """Restore the production version installed before the current one (or to_version, an earlier production
    version in the lineage); return its version id."""
    reason = require_reason(reason, "rollback")
    with registry_lock(registry_dir, lock_timeout):
        pointer = read_pointer(registry_dir)
        if pointer is None:
            raise PromotionError(f"{registry_dir}: there is no production model to roll back")
        lineage = pointer.installed()
        if len(lineage) < 2:
            raise PromotionError(
                f"{registry_dir}: production {pointer.version_id} is the first production model; "
                "there is no earlier version to roll back to"
            )
        keep = _rollback_lineage(registry_dir, lineage, to_version)
        target = keep[-1]
        _switch(registry_dir, target, reason, actor or default_actor(), Action.ROLLBACK, keep, run_id)
    return target


def _rollback_lineage(registry_dir: Path, lineage: list[str], to_version: str | None) -> list[str]:
    """Return the lineage after a rollback: without the current version, or up to to_version."""
    if to_version is None:
        return lineage[:-1]
    if to_version not in lineage[:-1]:
        raise PromotionError(
            f"{registry_dir}: {to_version!r} was not an earlier production model (earlier: {lineage[:-1]}); "
            "roll back only to one of those, or approve/force-promote it with `tabgate models promote`"
        )
    return lineage[: len(lineage) - 1 - lineage[:-1][::-1].index(to_version)]


def attach_model_card(
    registry_dir: Path, version_id: str, markdown: str, card: dict[str, Any], lock_timeout: float = LOCK_TIMEOUT_SECONDS
) -> Path:
    """Write versions/<id>/model_card.md and model_card.json (durably, under the lock); return the .md path."""
    with registry_lock(registry_dir, lock_timeout):
        vdir = version_dir(registry_dir, version_id)
        io.write_json(card, vdir / MODEL_CARD_JSON, durable=True)
        io.write_text(markdown, vdir / MODEL_CARD_MD, durable=True)
    return vdir / MODEL_CARD_MD
