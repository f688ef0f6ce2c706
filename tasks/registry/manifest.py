"""Manifest: the registry's record of each version's bytes, and loading production only through it.

versions/<id>/manifest.json holds the sha256 of every bundle file and the skops types of each .skops
file (signed with HMAC-SHA256 when TABGATE_MANIFEST_KEY is set); production.json pins the manifest's
own sha256. Every load checks every file against it (tasks.modelling.integrity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.core.errors import ModelIntegrityError
from tasks.modelling import integrity
from tasks.modelling.bundle import ModelBundle, bundle_from_files
from tasks.registry.catalog import read_pointer
from tasks.registry.records import BUNDLE, MANIFEST, MIGRATE_HINT, PRODUCTION, VERSIONS, utc_now


def manifest_path(registry_dir: Path, version_id: str) -> Path:
    """Return versions/<id>/manifest.json."""
    return Path(registry_dir) / VERSIONS / version_id / MANIFEST


def build_version_manifest(bundle_dir: Path, version_id: str, digest: str, **extra: Any) -> dict[str, Any]:
    """Return the signed (when a key is set) manifest of a bundle: sha256 and skops types of every file.

    ModelIntegrityError when a .skops file holds a type outside TRUSTED_SKOPS_TYPES: such a bundle is never recorded.
    """
    described = integrity.describe_files(bundle_dir)
    for name, types in described["skops_types"].items():
        integrity.refuse_untrusted_types(types, Path(bundle_dir) / name)
    fields = {
        "format": integrity.MANIFEST_FORMAT,
        "version_id": version_id,
        "bundle_digest": digest,
        "created_at": utc_now(),
        **extra,
        **described,
    }
    return integrity.sign_manifest(fields)


def read_version_manifest(registry_dir: Path, version_id: str, expected_sha256: str | None = None) -> tuple[dict[str, Any], str]:
    """Return (manifest, sha256 of its bytes); ModelIntegrityError when missing, not the expected bytes or unsigned."""
    path = manifest_path(registry_dir, version_id)
    if not path.is_file():
        raise ModelIntegrityError(f"{path}: missing; {version_id} has no registry record of its bytes; {MIGRATE_HINT}")
    data = path.read_bytes()
    sha = integrity.sha256_bytes(data)
    if expected_sha256 is not None and sha != expected_sha256:
        raise ModelIntegrityError(
            f"{path}: checksum mismatch against {PRODUCTION}'s manifest_sha256 (expected "
            f"{expected_sha256[:12]}..., found {sha[:12]}...); refusing to load"
        )
    manifest = integrity.read_manifest_bytes(data, path)
    if manifest.get("version_id") != version_id:
        raise ModelIntegrityError(f"{path}: is the manifest of {manifest.get('version_id')!r}, not {version_id}")
    return manifest, sha


def verified_version_files(
    registry_dir: Path, version_id: str, expected_sha256: str | None = None
) -> tuple[dict[str, bytes], str]:
    """Return ({file: bytes} of the version's bundle checked against its manifest, the manifest's sha256)."""
    manifest, sha = read_version_manifest(registry_dir, version_id, expected_sha256)
    bundle_dir = Path(registry_dir) / VERSIONS / version_id / BUNDLE
    files = integrity.read_verified_files(bundle_dir, manifest["files"], str(manifest_path(registry_dir, version_id)))
    return files, sha


def verified_production_files(registry_dir: Path) -> tuple[str, Path, dict[str, bytes]] | None:
    """Return (version id, bundle dir, verified bytes) of production, or None; the pointer must pin the manifest."""
    pointer = read_pointer(registry_dir)
    if pointer is None:
        return None
    version_id = pointer.version_id
    if not pointer.manifest_sha256:
        raise ModelIntegrityError(f"{Path(registry_dir) / PRODUCTION}: names {version_id} but no manifest_sha256; {MIGRATE_HINT}")
    files, _ = verified_version_files(registry_dir, version_id, pointer.manifest_sha256)
    return version_id, Path(registry_dir) / VERSIONS / version_id / BUNDLE, files


def production_bundle_dir(registry_dir: Path) -> Path | None:
    """Return the production bundle directory, every file verified against the version's manifest, or None.

    Raises tasks.core.errors.ModelIntegrityError naming the file when anything differs from the registry's record.
    """
    verified = verified_production_files(registry_dir)
    return None if verified is None else verified[1]


def load_production(registry_dir: Path) -> ModelBundle | None:
    """Return the production model built from its verified bytes, or None when there is none."""
    verified = verified_production_files(registry_dir)
    return None if verified is None else bundle_from_files(verified[2], verified[1])
