"""Registry: versioned model bundles on disk, a production pointer switched atomically, a history log.

Layout of `paths.registry_dir`:
    versions/<version_id>/bundle/    a byte-for-byte copy of a model bundle directory (tasks.modelling.bundle)
    versions/<version_id>/record.json what the version is: metrics, data version, git commit, params
                                      digest, test fingerprint, the gate's decision, and `dvc`: where
                                      DVC keeps the same bytes (the md5 of the models stage output,
                                      the bundle's path in it), so another machine can fetch them
    versions/<version_id>/model_card.{md,json}  the model card written at promotion (tasks.reporting.model_card)
    production.json                   the pointer {version_id, promoted_at, reason, previous, lineage, ...};
                                      the single source of truth, replaced atomically (os.replace)
    history.jsonl                     append-only audit log: registrations, promotions, approvals,
                                      forced promotions and rollbacks, each with its reason
    .lock                             fcntl lock held around every mutation

A version directory is copied into a hidden temp directory and renamed into place, so a process
killed mid-copy leaves nothing visible. `lineage` in the pointer lists the production versions in
the order they were installed; rollback pops the last one.

The registry never runs DVC. `fetch_version` restores a version from the registry's own copy, or
returns the exact `dvc get` / `dvc artifacts get` / `dvc pull` commands that fetch it from the DVC
remote, with a revision whose dvc.lock records the version's md5 (found with git), for the caller
to run; `verify_fetched` then checks the fetched bytes against the record.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tasks.core import io
from tasks.core.errors import ModelIntegrityError, PromotionError
from tasks.core.locking import exclusive_lock
from tasks.modelling.bundle import (
    ModelBundle,
    bundle_digest,
    load_bundle,
    verify_bundle,
)

log = logging.getLogger(__name__)

PRODUCTION = "production.json"
HISTORY = "history.jsonl"
LOCK = ".lock"
VERSIONS = "versions"
BUNDLE = "bundle"
RECORD = "record.json"
INCOMING_PREFIX = ".incoming-"
LOCK_TIMEOUT_SECONDS = 60.0
VERSION_RE = re.compile(r"^v(\d{4,})-[0-9a-f]{8}$")
PROMOTING_ACTIONS = ("promote", "approve", "force_promote")
MODEL_CARD_MD = "model_card.md"
MODEL_CARD_JSON = "model_card.json"
LOCK_FILE = "dvc.lock"
MODEL_ARTIFACT = "tabgate-model"  # the name under dvc.yaml `artifacts:` (and of GTO tags name@vN.0.0)
DEFAULT_MODEL_PATH = "artifacts/models/lightgbm"  # for records written before the `dvc` block existed
SHORT_METRICS = {"binary": ("roc_auc", "pr_auc", "f1"), "multiclass": ("log_loss", "accuracy", "macro_f1"),
                 "regression": ("rmse", "mae", "r2")}


# ---------------------------------------------------------------- small helpers


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


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
        raise PromotionError(f"{what} needs a written reason (pass --reason \"why\"); it is kept in the registry history")
    return text


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_durably(obj: Any, dest: Path) -> None:
    """Write JSON to a temp file beside dest, fsync it, os.replace it onto dest, fsync the directory."""
    write_text_durably(io.to_json(obj), dest)


def write_text_durably(text: str, dest: Path) -> None:
    """Write text to a temp file beside dest, fsync it, os.replace it onto dest, fsync the directory."""
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _copy_file(src: Path, dst: Path) -> None:
    """Copy one file's bytes and fsync the copy (a separate function so tests can slow or break it)."""
    shutil.copyfile(src, dst)
    with open(dst, "rb") as fh:
        os.fsync(fh.fileno())


def _append_history(registry_dir: Path, entry: dict[str, Any]) -> None:
    line = json.dumps(io._clean_nans(entry), sort_keys=True, default=str)
    with open(Path(registry_dir) / HISTORY, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@contextmanager
def registry_lock(registry_dir: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold an exclusive fcntl lock on registry_dir/.lock; PromotionError after `timeout` seconds of waiting."""
    path = Path(registry_dir) / LOCK

    def error(holder: str, waited: float) -> PromotionError:
        return PromotionError(
            f"another run holds the registry lock {path} ({holder}); waited {timeout:g}s. "
            "Let it finish and retry (the lock is released automatically when that process exits)")

    with exclusive_lock(path, timeout, "registry change", error, log, poll_seconds=0.05,
                        lock_name="registry lock"):
        yield


# ---------------------------------------------------------------- provenance


def git_commit(repo_dir: Path | None = None) -> str | None:
    """Return `git rev-parse HEAD` in repo_dir, or None when git or a commit is not there."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_dir, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def _git(args: list[str], repo_dir: Path | None) -> str | None:
    """Return a git command's stdout, or None when git fails or is absent."""
    try:
        out = subprocess.run(["git", *args], cwd=repo_dir, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_dirty(repo_dir: Path | None = None) -> bool | None:
    """Return True when tracked files differ from HEAD (the recorded commit is not the whole story), None without git."""
    out = _git(["status", "--porcelain", "--untracked-files=no"], repo_dir)
    return None if out is None else bool(out.strip())


def dvc_file_md5(path: Path) -> str:
    """Return the md5 DVC 3 records for one file (`hash: md5`: the md5 of its bytes)."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def dvc_dir_md5(path: Path) -> str:
    """Return the md5 DVC 3 records for a directory output ("<md5>.dir"), computed without DVC.

    DVC hashes the JSON list of {"md5", "relpath"} of every file, sorted by relpath; this matches
    dvc.lock for outputs that .dvcignore does not filter (the models directory).
    """
    root = Path(path)
    entries = [{"md5": dvc_file_md5(p), "relpath": p.relative_to(root).as_posix()}
               for p in root.rglob("*") if p.is_file()]
    entries.sort(key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def locked_out_md5(lock_text: str | None, out_path: str) -> str | None:
    """Return the md5 a dvc.lock text records for the stage output at out_path, or None when it records none."""
    try:
        doc = yaml.safe_load(lock_text or "") or {}
        stages = doc.get("stages") or {}
        for stage in stages.values():
            for out in (stage or {}).get("outs") or []:
                if str(out.get("path", "")).rstrip("/") == out_path.rstrip("/") and out.get("md5"):
                    return str(out["md5"])
    except (yaml.YAMLError, AttributeError, TypeError):
        log.warning("registry: dvc.lock is not readable YAML; the models output md5 is unknown")
    return None


def repo_relative(path: Path, repo_dir: Path | None = None) -> str:
    """Return path as a POSIX path relative to the repository root (as dvc.yaml and dvc.lock name it)."""
    path, root = Path(path), Path(repo_dir or Path.cwd()).resolve()
    try:
        return path.resolve().relative_to(root).as_posix() if path.is_absolute() else path.as_posix()
    except ValueError:
        return path.as_posix()


def find_locked_revision(repo_dir: Path | None, out_path: str, md5: str, lock_name: str = LOCK_FILE
                         ) -> str | None:
    """Return the oldest commit whose dvc.lock records md5 for out_path (what `dvc get --rev` needs), or None.

    Uses `git log -S` (commits that add or remove the hash), so it is one git call plus one `git show`
    per candidate; runs nothing of DVC's.
    """
    if not md5:
        return None
    listed = _git(["log", "--format=%H", f"-S{md5}", "--", lock_name], repo_dir)
    for commit in reversed((listed or "").split()):
        if locked_out_md5(_git(["show", f"{commit}:{lock_name}"], repo_dir), out_path) == md5:
            return commit
    return None


def dvc_provenance(models_dir: Path, bundle_dir: Path, repo_dir: Path | None = None,
                   lock_file: Path | None = None) -> dict[str, Any]:
    """Return the record's `dvc` block: what DVC needs to hand back this bundle on another machine.

    `md5` is computed from the files (under `dvc repro` dvc.lock is rewritten only after the stage,
    so the lock may still describe the previous run: `lock_md5` says what it held, `lock_current`
    whether it matches). `revision` is a commit whose dvc.lock already records md5, when one exists.
    """
    root = Path(repo_dir or Path.cwd())
    lock_file = Path(lock_file) if lock_file else root / LOCK_FILE
    output, path = repo_relative(models_dir, root), repo_relative(bundle_dir, root)
    md5 = dvc_dir_md5(models_dir) if Path(models_dir).is_dir() else None
    lock_md5 = locked_out_md5(lock_file.read_text(encoding="utf-8"), output) if lock_file.exists() else None
    return {
        "output": output, "path": path, "md5": md5, "lock_md5": lock_md5,
        "lock_current": bool(md5 and md5 == lock_md5), "artifact": MODEL_ARTIFACT,
        "revision": find_locked_revision(root, output, md5) if md5 else None,
    }


# ---------------------------------------------------------------- reading


def version_dir(registry_dir: Path, version_id: str) -> Path:
    """Return the directory of a registered version; PromotionError when there is no such version."""
    path = Path(registry_dir) / VERSIONS / version_id
    if not VERSION_RE.match(version_id or "") or not (path / RECORD).exists():
        known = [v["version_id"] for v in list_versions(registry_dir)]
        raise PromotionError(f"{registry_dir}: no registered version {version_id!r} (known: {known[-10:]})")
    return path


def read_pointer(registry_dir: Path) -> dict[str, Any] | None:
    """Return production.json, or None when no model was ever promoted."""
    path = Path(registry_dir) / PRODUCTION
    return io.read_json(path) if path.exists() else None


def production_version(registry_dir: Path) -> str | None:
    """Return the version id production.json points to, or None when there is no production model."""
    pointer = read_pointer(registry_dir)
    return (pointer or {}).get("version_id") or None


def production_bundle_dir(registry_dir: Path) -> Path | None:
    """Return the checksum-verified bundle directory of the production model, or None when there is none.

    Raises tasks.modelling.bundle.ModelIntegrityError when a file of that bundle was changed after registration.
    """
    version_id = production_version(registry_dir)
    if version_id is None:
        return None
    bundle_dir = Path(registry_dir) / VERSIONS / version_id / BUNDLE
    verify_bundle(bundle_dir)
    return bundle_dir


def load_production(registry_dir: Path) -> ModelBundle | None:
    """Return the production model (checksums verified), or None when there is none."""
    bundle_dir = production_bundle_dir(registry_dir)
    return None if bundle_dir is None else load_bundle(bundle_dir)


def read_record(registry_dir: Path, version_id: str) -> dict[str, Any]:
    """Return record.json of a registered version."""
    return io.read_json(version_dir(registry_dir, version_id) / RECORD)


def read_history(registry_dir: Path) -> list[dict[str, Any]]:
    """Return every history.jsonl entry, oldest first (a torn last line from a crash is skipped)."""
    path = Path(registry_dir) / HISTORY
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("registry: skipping an unreadable line in %s", path)
    return entries


def _version_ids(registry_dir: Path) -> list[str]:
    root = Path(registry_dir) / VERSIONS
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and VERSION_RE.match(p.name) and (p / RECORD).exists())


def display_status(record: dict[str, Any], is_production: bool, was_production: bool = False) -> str:
    """Return the status shown to people: production, rejected, pending approval or archived.

    A version that served in production once (promoted, approved or forced) and was replaced or
    rolled back is archived, whatever the gate said when it was registered.
    """
    if is_production:
        return "production"
    if was_production:
        return "archived"
    raw = str(record.get("status") or "")
    if raw == "rejected":
        return "rejected"
    if raw == "pending_approval":
        return "pending approval"
    return "archived"  # passed the gate once, not production now (replaced, rolled back, or never switched)


def short_metrics(record: dict[str, Any]) -> dict[str, float]:
    """Return the primary metric and two more of the version's test metrics, primary first."""
    metrics = record.get("metrics") or {}
    primary = record.get("primary_metric")
    names = [primary, *SHORT_METRICS.get(str(record.get("task")), ())]
    out: dict[str, float] = {}
    for name in names:
        value = metrics.get(name) if name else None
        if isinstance(value, (int, float)) and name not in out:
            out[name] = float(value)
    return dict(list(out.items())[:3])


def list_versions(registry_dir: Path) -> list[dict[str, Any]]:
    """Return every registered version, oldest first: its record plus the keys `tabgate models list` shows.

    Keys added or replaced: `status` (production / rejected / pending approval / archived; the
    record's own value is kept as `record_status`), `metrics` (a short {name: value} dict, primary
    metric first; the full dict is `all_metrics`), `production` (bool), `bundle_dir`, `model_card`
    (path or None).
    """
    current = production_version(registry_dir)
    served = {h.get("version_id") for h in read_history(registry_dir) if h.get("action") in (*PROMOTING_ACTIONS, "rollback")}
    out = []
    for vid in _version_ids(registry_dir):
        vdir = Path(registry_dir) / VERSIONS / vid
        record = io.read_json(vdir / RECORD)
        card = vdir / MODEL_CARD_MD
        out.append({**record, "version_id": vid, "created_at": record.get("created_at"),
                    "status": display_status(record, vid == current, vid in served),
                    "record_status": record.get("status"),
                    "metrics": short_metrics(record), "all_metrics": record.get("metrics") or {},
                    "production": vid == current, "bundle_dir": str(vdir / BUNDLE),
                    "model_card": str(card) if card.exists() else None})
    return out


HISTORY_KEYS = ("at", "action", "version_id", "from", "status", "reason", "actor", "note")


def history(registry_dir: Path) -> list[dict[str, Any]]:
    """Return the audit log for `tabgate models history`, oldest first; every row has every HISTORY_KEYS key."""
    return [{key: entry.get(key) for key in HISTORY_KEYS} for entry in read_history(registry_dir)]


def model_card_path(registry_dir: Path, version_id: str) -> Path:
    """Return versions/<id>/model_card.md of a registered version (it may not exist for old versions)."""
    return version_dir(registry_dir, version_id) / MODEL_CARD_MD


# ---------------------------------------------------------------- mutations (all under the lock)


def _remove_stale_incoming(versions: Path) -> None:
    """Delete half-copied versions left by a killed process (only called while holding the lock)."""
    for stale in versions.glob(f"{INCOMING_PREFIX}*"):
        log.warning("registry: removing %s left by an interrupted registration", stale)
        shutil.rmtree(stale, ignore_errors=True)


def _find_by_digest(registry_dir: Path, digest: str) -> str | None:
    for vid in _version_ids(registry_dir):
        if io.read_json(Path(registry_dir) / VERSIONS / vid / RECORD).get("bundle_digest") == digest:
            return vid
    return None


def _next_sequence(registry_dir: Path) -> int:
    root = Path(registry_dir) / VERSIONS
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := VERSION_RE.match(p.name))] if root.exists() else []
    return max(numbers, default=0) + 1


def _copy_bundle(src: Path, dest: Path) -> None:
    for path in sorted(src.rglob("*")):
        target = dest / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_file(path, target)


def _refresh_record(registry_dir: Path, version_id: str, digest: str, record: dict[str, Any]) -> None:
    """Refresh the record of an already registered bundle, keeping earlier decisions (caller holds the lock)."""
    path = Path(registry_dir) / VERSIONS / version_id / RECORD
    old = io.read_json(path)
    earlier = {"status": old.get("status"), "decision": old.get("decision"), "compared_with": old.get("compared_with"),
               "at": old.get("updated_at") or old.get("created_at")}
    merged = {**old, **record, "version_id": version_id, "bundle_digest": digest,
              "created_at": old.get("created_at"), "updated_at": utc_now(),
              "earlier_decisions": [*old.get("earlier_decisions", []), earlier]}
    write_json_durably(merged, path)
    _append_history(registry_dir, {"at": utc_now(), "action": "register", "version_id": version_id,
                                   "status": merged.get("status"), "note": "same bundle registered again"})
    log.info("registry: bundle already registered as %s; record refreshed", version_id)


def _install_version(registry_dir: Path, bundle_dir: Path, digest: str, record: dict[str, Any]) -> str:
    """Copy the bundle and record into a hidden temp dir, then rename it into place (caller holds the lock)."""
    versions = Path(registry_dir) / VERSIONS
    version_id = f"v{_next_sequence(registry_dir):04d}-{digest[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{INCOMING_PREFIX}{version_id}-", dir=versions))
    try:
        _copy_bundle(bundle_dir, tmp / BUNDLE)
        verify_bundle(tmp / BUNDLE)
        if bundle_digest(tmp / BUNDLE) != digest:
            raise PromotionError(f"{bundle_dir}: the bundle changed while it was being copied; retry")
        write_json_durably({**record, "version_id": version_id, "bundle_digest": digest, "created_at": utc_now()},
                           tmp / RECORD)
        _fsync_dir(tmp / BUNDLE)
        _fsync_dir(tmp)
        os.rename(tmp, versions / version_id)
        _fsync_dir(versions)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _append_history(registry_dir, {"at": utc_now(), "action": "register", "version_id": version_id,
                                   "status": record.get("status")})
    return version_id


def register_version(
    registry_dir: Path, bundle_dir: Path, record: dict[str, Any], lock_timeout: float = LOCK_TIMEOUT_SECONDS
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
        existing = _find_by_digest(registry_dir, digest)
        if existing is not None:
            _refresh_record(registry_dir, existing, digest, record)
            return existing
        version_id = _install_version(registry_dir, bundle_dir, digest, record)
    log.info("registry: registered %s from %s", version_id, bundle_dir)
    return version_id


_ANY = object()


def _switch(registry_dir: Path, version_id: str, reason: str, actor: str, action: str, lineage: list[str]) -> dict:
    """Point production at version_id (caller holds the lock); return the new pointer."""
    verify_bundle(version_dir(registry_dir, version_id) / BUNDLE)
    current = read_pointer(registry_dir)
    pointer = {
        "version_id": version_id,
        "promoted_at": utc_now(),
        "reason": reason,
        "actor": actor,
        "action": action,
        "previous": lineage[-2] if len(lineage) >= 2 else None,
        "lineage": lineage,
    }
    write_json_durably(pointer, Path(registry_dir) / PRODUCTION)
    _append_history(registry_dir, {"at": pointer["promoted_at"], "action": action, "version_id": version_id,
                                   "from": (current or {}).get("version_id"), "reason": reason, "actor": actor})
    log.info("registry: production -> %s (%s by %s: %s)", version_id, action, actor, reason)
    return pointer


def set_production(
    registry_dir: Path,
    version_id: str,
    reason: str,
    actor: str | None = None,
    *,
    action: str = "promote",
    expected_current: Any = _ANY,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Atomically make version_id the production model; return the new production.json content.

    expected_current (a version id or None) guards against a race: when production changed since the
    caller looked (another run promoted meanwhile), nothing is switched and PromotionError says so.
    """
    reason = require_reason(reason, f"setting production to {version_id}")
    with registry_lock(registry_dir, lock_timeout):
        pointer = read_pointer(registry_dir) or {}
        current = pointer.get("version_id")
        if expected_current is not _ANY and current != expected_current:
            raise PromotionError(
                f"production changed from {expected_current} to {current} while this run was deciding; "
                "nothing was switched; re-run evaluate and promote against the new production model"
            )
        if current == version_id:
            log.info("registry: %s is already production; nothing to switch", version_id)
            return pointer
        lineage = [*pointer.get("lineage", [current] if current else []), version_id]
        return _switch(registry_dir, version_id, reason, actor or default_actor(), action, lineage)


def approve_version(
    registry_dir: Path, version_id: str, reason: str, actor: str | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Promote a version that passed the gate (e.g. one pending approval); return the new pointer.

    A version that failed the gate is refused here; use force_promote with a written reason.
    """
    reason = require_reason(reason, f"promoting {version_id}")
    record = read_record(registry_dir, version_id)
    if (record.get("decision") or {}).get("outcome") != "promote":
        failed = [r.get("rule") for r in (record.get("decision") or {}).get("failed_rules", [])]
        raise PromotionError(
            f"{version_id} did not pass the promotion gate (failed: {failed or 'no gate decision recorded'}); "
            "to promote it anyway use force promote with a written reason"
        )
    return set_production(registry_dir, version_id, reason, actor, action="approve", lock_timeout=lock_timeout)


def force_promote(
    registry_dir: Path, version_id: str, reason: str, actor: str | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Make any registered version production regardless of the gate; the written reason is required and logged."""
    reason = require_reason(reason, f"force-promoting {version_id}")
    return set_production(registry_dir, version_id, reason, actor, action="force_promote", lock_timeout=lock_timeout)


def rollback(
    registry_dir: Path, reason: str, actor: str | None = None, lock_timeout: float = LOCK_TIMEOUT_SECONDS
) -> str:
    """Restore the production version that was installed before the current one; return its version id."""
    reason = require_reason(reason, "rollback")
    with registry_lock(registry_dir, lock_timeout):
        pointer = read_pointer(registry_dir)
        if pointer is None:
            raise PromotionError(f"{registry_dir}: there is no production model to roll back")
        lineage = list(pointer.get("lineage") or [pointer["version_id"]])
        if len(lineage) < 2:
            raise PromotionError(
                f"{registry_dir}: production {pointer['version_id']} is the first production model; "
                "there is no earlier version to roll back to"
            )
        target = lineage[-2]
        _switch(registry_dir, target, reason, actor or default_actor(), "rollback", lineage[:-1])
    return target


def attach_model_card(registry_dir: Path, version_id: str, markdown: str, card: dict[str, Any],
                      lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> Path:
    """Write versions/<id>/model_card.md and model_card.json (durably, under the lock); return the .md path."""
    with registry_lock(registry_dir, lock_timeout):
        vdir = version_dir(registry_dir, version_id)
        write_json_durably(card, vdir / MODEL_CARD_JSON)
        write_text_durably(markdown, vdir / MODEL_CARD_MD)
    return vdir / MODEL_CARD_MD


# ---------------------------------------------------------------- fetching a version elsewhere


@dataclass(frozen=True)
class FetchResult:
    """What `tabgate models fetch` did, or what the user must run to fetch the version from DVC."""

    version_id: str
    dest: Path
    restored: bool                      # True: dest now holds the bundle, checksums verified
    source: str                         # "registry" (copied) or "dvc" (commands to run)
    message: str
    commands: list[list[str]] = field(default_factory=list)  # argv lists, the recommended one first
    dvc_file: str | None = None         # .dvc file text for the by-hash fallback (see message)

    def shell_commands(self) -> list[str]:
        """Return the commands as shell-quoted lines."""
        return [shlex.join(c) for c in self.commands]


def gto_version(version_id: str) -> str:
    """Return the GTO/`dvc artifacts get --rev` version of a registry version: v0003-1a2b3c4d -> v3.0.0."""
    m = VERSION_RE.match(version_id or "")
    if not m:
        raise PromotionError(f"{version_id!r} is not a registry version id like v0003-1a2b3c4d")
    return f"v{int(m.group(1))}.0.0"


def _restore_from_registry(registry_dir: Path, version_id: str, record: dict[str, Any], dest: Path) -> bool:
    """Copy the registry's verified copy of the bundle to dest; False when the copy is absent or damaged."""
    src = Path(registry_dir) / VERSIONS / version_id / BUNDLE
    if not (src / "meta.json").exists():
        return False
    try:
        verify_bundle(src)
        if bundle_digest(src) != record.get("bundle_digest"):
            raise ModelIntegrityError(f"{src}: digest differs from record.json")
    except ModelIntegrityError as err:
        log.warning("registry: the registry copy of %s is damaged (%s); fetch it from DVC instead", version_id, err)
        return False
    with io.atomic_dir(dest) as tmp:
        _copy_bundle(src, tmp)
    verify_fetched(registry_dir, version_id, dest)
    return True


def _local_repo(repo_url: str) -> Path | None:
    """Return repo_url as a directory when it is a local git checkout, else None."""
    path = Path(repo_url).expanduser()
    return path if "://" not in repo_url and (path / ".git").exists() else None


def dvc_fetch_commands(version_id: str, record: dict[str, Any], dest: Path, repo_url: str = "."
                       ) -> tuple[list[list[str]], str, str | None]:
    """Return (commands, explanation, .dvc file text) that fetch a version's bundle from DVC storage.

    The revision given to `dvc get` is a commit whose dvc.lock records the version's md5: looked up
    with git when repo_url is a local checkout, else the one recorded at promotion. Without one,
    the fallback pulls the output by its md5 through a hand-written .dvc file (in a clone of the repo).
    """
    info = record.get("dvc") or {}
    path, md5, output = info.get("path") or DEFAULT_MODEL_PATH, info.get("md5"), info.get("output")
    local = _local_repo(repo_url)
    rev = (find_locked_revision(local, output, md5) if local and md5 and output else None) or info.get("revision")
    artifact, version = info.get("artifact") or MODEL_ARTIFACT, gto_version(version_id)
    commands: list[list[str]] = []
    lines = []
    if rev:
        commands.append(["dvc", "get", repo_url, path, "--rev", rev, "-o", str(dest)])
        commands.append(["dvc", "artifacts", "get", repo_url, artifact, "--rev", version, "-o", str(dest)])
        lines += [f"{version_id} is in DVC storage: commit {rev[:12]}'s dvc.lock records {output} = {md5}.",
                  f"`dvc artifacts get` needs the GTO tag once: git tag -a {artifact}@{version} "
                  f"-m \"registry {version_id}\" {rev} && git push origin {artifact}@{version}"]
    elif md5:
        lines.append(f"no commit of {repo_url} records {output} = {md5} in dvc.lock yet (commit dvc.lock after the run "
                     f"that made {version_id}); fetch it by hash instead, in a clone of the repository:")
    else:
        commit = record.get("git_commit")
        if commit:
            commands.append(["dvc", "get", repo_url, path, "--rev", commit, "-o", str(dest)])
        lines.append(f"{version_id}'s record predates DVC provenance (no md5); the command uses the code commit "
                     f"{(commit or '?')[:12]}, whose dvc.lock may describe another model: the checksums decide")
    dvc_file = None
    if md5 and output:
        stem = f"{artifact}-{version_id}"
        dvc_file = yaml.safe_dump({"outs": [{"md5": md5, "hash": "md5", "path": stem}]}, sort_keys=False)
        sub = posixpath_relative(path, output)
        commands.append(["dvc", "pull", f"{stem}.dvc"])
        inside = f"{stem}/{sub}" if sub else stem
        lines.append(f"by hash (any clone with the DVC remote): write {stem}.dvc as below, run `dvc pull {stem}.dvc`, "
                     f"then move {inside} to {dest}:\n{dvc_file}")
    lines.append(f"the fetched bundle is checked against the registry record with verify_fetched({version_id!r}, ...)")
    return commands, "\n".join(lines), dvc_file


def posixpath_relative(path: str, output: str) -> str:
    """Return path inside output ("artifacts/models/lightgbm" in "artifacts/models" -> "lightgbm")."""
    p, o = path.strip("/"), output.strip("/")
    return p[len(o) + 1:] if p.startswith(o + "/") else ("" if p == o else p)


def fetch_version(registry_dir: Path, version_id: str, dest: Path, repo_url: str = ".") -> FetchResult:
    """Restore a version's bundle into dest from the registry's copy, or return the DVC commands that fetch it.

    Never runs DVC. dest must not exist or be empty. After running a returned command, call
    verify_fetched(registry_dir, version_id, dest) to check the bytes against the record.
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise PromotionError(f"{dest}: already exists and is not empty; choose another --to or remove it")
    record = read_record(registry_dir, version_id)
    if _restore_from_registry(registry_dir, version_id, record, dest):
        return FetchResult(version_id, dest, True, "registry",
                           f"{version_id} restored to {dest} from the registry (checksums verified)")
    if dest.is_dir():
        dest.rmdir()  # empty: `dvc get -o DIR` would nest the bundle inside an existing directory
    commands, message, dvc_file = dvc_fetch_commands(version_id, record, dest, repo_url)
    return FetchResult(version_id, dest, False, "dvc", message, commands, dvc_file)


def verify_fetched(registry_dir: Path, version_id: str, bundle_dir: Path) -> dict[str, Any]:
    """Return the bundle's meta after checking its files and digest equal the version's record.

    Raises ModelIntegrityError when the fetched bytes are not the registered version's.
    """
    record = read_record(registry_dir, version_id)
    meta = verify_bundle(bundle_dir)
    digest = bundle_digest(bundle_dir)
    if digest != record.get("bundle_digest"):
        raise ModelIntegrityError(
            f"{bundle_dir}: bundle digest {digest[:12]} is not {version_id}'s {str(record.get('bundle_digest'))[:12]}; "
            "the revision fetched holds another model"
        )
    return meta
