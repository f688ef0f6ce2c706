"""Provenance: the git commit a version came from, and where DVC keeps its bytes (md5, dvc.lock, revision).

Computes DVC 3's md5 of a file and of a directory output (`<md5>.dir`) and reads dvc.lock as YAML;
runs git, never DVC.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
from pathlib import Path

import yaml

from tasks.registry.records import MODEL_ARTIFACT, DvcProvenance

log = logging.getLogger(__name__)
LOCK_FILE = "dvc.lock"


def code_digest(package_dir: Path) -> str:
    """Return the sha256 of a package's source: each .py file's path below package_dir and its bytes, in path order.

    The model card (a DVC output) names the code by this, not by the git commit: the commit a run starts from is
    never the one that records its outputs, so a fresh clone's run would rewrite the card and dvc.lock.
    """
    h = hashlib.sha256()
    for path in sorted(Path(package_dir).rglob("*.py")):
        h.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


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
    entries = [{"md5": dvc_file_md5(p), "relpath": p.relative_to(root).as_posix()} for p in root.rglob("*") if p.is_file()]
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


def find_locked_revision(repo_dir: Path | None, out_path: str, md5: str, lock_name: str = LOCK_FILE) -> str | None:
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


def dvc_provenance(
    models_dir: Path, bundle_dir: Path, repo_dir: Path | None = None, lock_file: Path | None = None
) -> DvcProvenance:
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
    return DvcProvenance(
        output=output,
        path=path,
        md5=md5,
        lock_md5=lock_md5,
        lock_current=bool(md5 and md5 == lock_md5),
        artifact=MODEL_ARTIFACT,
        revision=find_locked_revision(root, output, md5) if md5 else None,
    )
