"""Migrate: record the bytes of versions registered before manifests existed, and sign unsigned manifests.

Trust on first use, under the registry lock: the bytes on disk now are recorded only after checking
them against meta.json's checksums and record.json's digest.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tasks.core import io
from tasks.core.errors import ModelIntegrityError
from tasks.modelling import integrity
from tasks.modelling.bundle import bundle_digest, verify_bundle
from tasks.registry.catalog import read_pointer, read_record_file, version_ids
from tasks.registry.lifecycle import append_history, default_actor, registry_lock, require_reason
from tasks.registry.manifest import (
    build_version_manifest,
    manifest_path,
    read_version_manifest,
    verified_version_files,
)
from tasks.registry.records import BUNDLE, LOCK_TIMEOUT_SECONDS, PRODUCTION, RECORD, VERSIONS, Action, utc_now

log = logging.getLogger(__name__)


def _migrate_version(registry_dir: Path, version_id: str, pinned_sha: str | None) -> str | None:
    """Write (or sign) one version's manifest from the bytes on disk (caller holds the lock); return what was done.

    A version without a manifest is recorded only when its files match meta.json's checksums and the
    digest in record.json (and its id). With a key set, an unsigned manifest is signed only when it is
    the one production.json pins (pinned_sha, for production) and the files still match it.
    """
    path, bundle_dir = manifest_path(registry_dir, version_id), Path(registry_dir) / VERSIONS / version_id / BUNDLE
    if path.is_file():
        data = path.read_bytes()
        try:
            manifest = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ModelIntegrityError(f"{path}: not a readable manifest; not migrated") from None
        if integrity.manifest_key() is None or manifest.get("hmac"):
            integrity.read_manifest_bytes(data, path)  # a wrong signature is refused, never re-signed
            return None
        if pinned_sha and integrity.sha256_bytes(data) != pinned_sha:
            raise ModelIntegrityError(f"{path}: checksum mismatch against {PRODUCTION}'s manifest_sha256; not signed")
        integrity.read_verified_files(bundle_dir, manifest["files"], str(path))
        io.write_json(integrity.sign_manifest(manifest), path, durable=True)
        return "signed"
    verify_bundle(bundle_dir)
    digest = bundle_digest(bundle_dir)
    recorded = read_record_file(Path(registry_dir) / VERSIONS / version_id / RECORD).bundle_digest
    if digest != recorded or not version_id.endswith(digest[:8]):
        raise ModelIntegrityError(
            f"{bundle_dir}: its files do not match the digest in {RECORD} "
            f"({str(recorded)[:12]}...); not migrated; restore the "
            f"version with `tabgate models fetch` or leave it out of production"
        )
    io.write_json(build_version_manifest(bundle_dir, version_id, digest, migrated=True), path, durable=True)
    return "recorded"


def migrate_registry(
    registry_dir: Path, reason: str, actor: str | None = None, lock_timeout: float = LOCK_TIMEOUT_SECONDS
) -> dict[str, str]:
    """Record versions registered before manifests existed (and sign unsigned ones when a key is set); return {id: what}.

    production.json then gets the manifest_sha256 of its version.
    """
    reason = require_reason(reason, "migrating the registry")
    actor = actor or default_actor()
    done: dict[str, str] = {}
    with registry_lock(registry_dir, lock_timeout):
        pointer = read_pointer(registry_dir)
        for vid in version_ids(registry_dir):
            pinned = pointer.manifest_sha256 if pointer and vid == pointer.version_id else None
            what = _migrate_version(registry_dir, vid, pinned)
            if what:
                done[vid] = what
                append_history(
                    registry_dir,
                    {
                        "at": utc_now(),
                        "action": Action.MIGRATE,
                        "version_id": vid,
                        "reason": reason,
                        "actor": actor,
                        "note": f"manifest {what} from the bytes on disk",
                        "manifest_sha256": read_version_manifest(registry_dir, vid)[1],
                    },
                )
        pointer = read_pointer(registry_dir)
        if pointer is not None and (not pointer.manifest_sha256 or pointer.version_id in done):
            prod = pointer.version_id
            _, sha = verified_version_files(registry_dir, prod)
            io.write_json({**pointer.to_json_dict(), "manifest_sha256": sha}, Path(registry_dir) / PRODUCTION, durable=True)
            append_history(
                registry_dir,
                {
                    "at": utc_now(),
                    "action": Action.MIGRATE,
                    "version_id": prod,
                    "reason": reason,
                    "actor": actor,
                    "note": "production.json pins the manifest",
                    "manifest_sha256": sha,
                },
            )
            done.setdefault(prod, "pinned")
    log.info("registry: migrated %s", done or "nothing (every version already has its manifest)")
    return done
