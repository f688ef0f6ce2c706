"""Integrity: the exact skops types tabgate loads, and manifests that pin every byte of a model file set.

Two promises, both checked before anything from a file is constructed:
  * a .skops file may hold, beyond skops' own defaults, only the types in TRUSTED_SKOPS_TYPES (exact
    names, no prefixes); anything else is refused with ModelIntegrityError naming the file and types;
  * a manifest lists the sha256 of every file of a set (a registered bundle, meta.json included; the
    preprocess step's output), and loading reads each file once, checks it, and builds from those
    same bytes. With TABGATE_MANIFEST_KEY set, a manifest also carries an HMAC-SHA256 that is verified.

Imports only tasks.core (io, errors), so the modelling, registry and serving layers and the steps can use it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tasks.core import io
from tasks.core.errors import ModelIntegrityError

log = logging.getLogger(__name__)

# The types outside skops' default-trusted set that tabgate's own save paths write. Derived with
# skops.io.get_untrusted_types on every file the project saves (preprocess/{linear,tree}.skops and
# models/{lightgbm,baseline,dummy}/{preprocessor,model}.skops) for binary, multiclass and regression,
# numeric-only, categorical-only and mixed features, scaling on/off, class weights on/off, and on the
# bundled hotel sample (skops 0.16, scikit-learn 1.9). numpy.dtype is SimpleImputer's fitted dtype;
# CategoryCoder is ours under both of its names: files saved since the library move name
# tasks.modelling.preprocessing.CategoryCoder, files saved before (existing registries) name
# tasks.preprocess.CategoryCoder, which that step module re-exports. Adding a type is a reviewed code change.
TRUSTED_SKOPS_TYPES: frozenset[str] = frozenset(
    {
        "numpy.dtype",
        "tasks.modelling.preprocessing.CategoryCoder",
        "tasks.preprocess.CategoryCoder",
    }
)
MANIFEST_KEY_ENV = "TABGATE_MANIFEST_KEY"
MANIFEST_FORMAT = 1


# ---------------------------------------------------------------- skops: exact allowlist


def skops_types(data: bytes, where: Path) -> list[str]:
    """Return the types of a .skops file's bytes that skops does not trust by default; nothing is constructed."""
    import skops.io as sio

    try:
        return sorted(sio.get_untrusted_types(data=data))
    except Exception as err:  # noqa: BLE001  any parse failure: the file is not one tabgate wrote
        raise ModelIntegrityError(
            f"{where}: not a readable skops file ({err.__class__.__name__}: {str(err)[:200]}); refusing to load it"
        ) from None


def refuse_untrusted_types(types: list[str], where: Path) -> None:
    """Raise ModelIntegrityError naming every type outside TRUSTED_SKOPS_TYPES."""
    refused = sorted(set(types) - TRUSTED_SKOPS_TYPES)
    if refused:
        raise ModelIntegrityError(
            f"{where}: holds types tabgate never writes and does not trust: {refused}; refusing to load it "
            f"(allowed beyond skops' defaults: {sorted(TRUSTED_SKOPS_TYPES)}). Rebuild the file with tabgate"
        )


def load_skops_bytes(data: bytes, where: Path) -> Any:
    """Return the object in a .skops file's bytes; ModelIntegrityError before construction on any untrusted type."""
    import skops.io as sio

    refuse_untrusted_types(skops_types(data, where), where)
    return sio.loads(data, trusted=sorted(TRUSTED_SKOPS_TYPES))  # skops audits the tree again before constructing


# ---------------------------------------------------------------- manifests: sha256 of every file, optional HMAC


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of data."""
    return hashlib.sha256(data).hexdigest()


def list_files(root: Path) -> list[str]:
    """Return the POSIX paths of every file below root, sorted."""
    root = Path(root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def describe_files(root: Path) -> dict[str, Any]:
    """Return {"files": {name: sha256}, "skops_types": {name: [types]}} for every file below root."""
    files, types = {}, {}
    for name in list_files(root):
        data = (Path(root) / name).read_bytes()
        files[name] = sha256_bytes(data)
        if name.endswith(".skops"):
            types[name] = skops_types(data, Path(root) / name)
    return {"files": files, "skops_types": types}


def manifest_key() -> bytes | None:
    """Return the HMAC key from TABGATE_MANIFEST_KEY, or None when it is unset or empty."""
    value = os.environ.get(MANIFEST_KEY_ENV, "")
    return value.encode("utf-8") if value else None


def manifest_hmac(manifest: Mapping[str, Any], key: bytes) -> str:
    """Return the HMAC-SHA256 of the manifest's canonical JSON (every key but "hmac")."""
    body = {k: v for k, v in manifest.items() if k != "hmac"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """Return the manifest with an "hmac" when TABGATE_MANIFEST_KEY is set, else unchanged (no "hmac")."""
    key = manifest_key()
    body = {k: v for k, v in manifest.items() if k != "hmac"}
    return {**body, "hmac": manifest_hmac(body, key)} if key else body


def check_manifest_hmac(manifest: Mapping[str, Any], where: Path) -> None:
    """With TABGATE_MANIFEST_KEY set, raise ModelIntegrityError unless the manifest's HMAC verifies."""
    key = manifest_key()
    if key is None:
        if manifest.get("hmac"):
            log.warning("%s: signed, but %s is not set here; the HMAC was not checked", where, MANIFEST_KEY_ENV)
        return
    if not manifest.get("hmac"):
        raise ModelIntegrityError(
            f"{where}: has no HMAC but {MANIFEST_KEY_ENV} is set; refusing to trust it "
            "(sign existing manifests with `tabgate models migrate`)"
        )
    if not hmac.compare_digest(str(manifest["hmac"]), manifest_hmac(manifest, key)):
        raise ModelIntegrityError(
            f"{where}: HMAC does not verify with {MANIFEST_KEY_ENV}; the manifest was changed "
            "or signed with another key; refusing to load"
        )


def read_manifest_bytes(data: bytes, where: Path) -> dict[str, Any]:
    """Return a manifest parsed from its bytes after the HMAC check; ModelIntegrityError when unreadable."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelIntegrityError(f"{where}: not a readable manifest ({err}); refusing to load") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) or not manifest["files"]:
        raise ModelIntegrityError(f"{where}: lists no files; refusing to load")
    check_manifest_hmac(manifest, where)
    return manifest


def read_verified_files(root: Path, expected: Mapping[str, str], record: str) -> dict[str, bytes]:
    """Return {name: bytes} of every file below root after checking names and sha256 against expected.

    ModelIntegrityError names the first file that is missing, extra or different; `record` says which
    record was compared (for the message). Each file is read once: callers build from these bytes.
    """
    root = Path(root)
    if not root.is_dir():
        raise ModelIntegrityError(f"{root}: missing; {record} lists {sorted(expected)}")
    extra = sorted(set(list_files(root)) - set(expected))
    if extra:
        raise ModelIntegrityError(f"{root / extra[0]}: not in {record}; files were added after it was written; refusing to load")
    out = {}
    for name, sha in sorted(expected.items()):
        path = root / name
        if not path.is_file():
            raise ModelIntegrityError(f"{path}: missing (listed in {record})")
        data = path.read_bytes()
        actual = sha256_bytes(data)
        if not hmac.compare_digest(actual, str(sha)):
            raise ModelIntegrityError(
                f"{path}: checksum mismatch against {record} (expected {str(sha)[:12]}..., "
                f"found {actual[:12]}...); the file was changed after it was recorded; "
                "refusing to load it"
            )
        out[name] = data
    return out


def write_manifest(root: Path, name: str = "manifest.json", **fields: Any) -> dict[str, Any]:
    """Write root/name listing every other file below root (sha256, skops types), signed when a key is set."""
    root = Path(root)
    described = describe_files(root)
    described["files"].pop(name, None)
    described["skops_types"].pop(name, None)
    manifest = sign_manifest({"format": MANIFEST_FORMAT, **fields, **described})
    io.write_json(manifest, root / name)
    return manifest


def read_verified_dir(root: Path, name: str = "manifest.json") -> dict[str, bytes]:
    """Return {file: bytes} of root's files verified against root/name (the preprocess step's manifest)."""
    root = Path(root)
    path = root / name
    if not path.is_file():
        raise ModelIntegrityError(
            f"{path}: missing; re-run the step that writes {root} (files without a manifest are not loaded)"
        )
    data = path.read_bytes()
    manifest = read_manifest_bytes(data, path)
    files = read_verified_files(root, {**manifest["files"], name: sha256_bytes(data)}, str(path))
    files.pop(name)
    return files
