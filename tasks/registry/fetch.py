"""Fetch: restore a version's bundle from the registry's copy, or say which DVC commands fetch it.

The registry never runs DVC. `fetch_version` returns the exact `dvc get` / `dvc artifacts get` /
`dvc pull` commands, with a revision whose dvc.lock records the version's md5 (found with git), for
the caller to run; `verify_fetched` then checks the fetched bytes against the record.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tasks.core import io
from tasks.core.errors import ModelIntegrityError, PromotionError
from tasks.modelling.bundle import bundle_digest, verify_bundle
from tasks.registry.catalog import read_record
from tasks.registry.lifecycle import copy_bundle
from tasks.registry.provenance import find_locked_revision
from tasks.registry.records import (
    BUNDLE,
    DEFAULT_MODEL_PATH,
    MODEL_ARTIFACT,
    VERSION_RE,
    VERSIONS,
    DvcProvenance,
    VersionRecord,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchResult:
    """What `tabgate models fetch` did, or what the user must run to fetch the version from DVC."""

    version_id: str
    dest: Path
    restored: bool  # True: dest now holds the bundle, checksums verified
    source: str  # "registry" (copied) or "dvc" (commands to run)
    message: str
    commands: list[list[str]] = field(default_factory=list)  # argv lists, the recommended one first
    dvc_file: str | None = None  # .dvc file text for the by-hash fallback (see message)

    def shell_commands(self) -> list[str]:
        """Return the commands as shell-quoted lines."""
        return [shlex.join(c) for c in self.commands]


def gto_version(version_id: str) -> str:
    """Return the GTO/`dvc artifacts get --rev` version of a registry version: v0003-1a2b3c4d -> v3.0.0."""
    m = VERSION_RE.match(version_id or "")
    if not m:
        raise PromotionError(f"{version_id!r} is not a registry version id like v0003-1a2b3c4d")
    return f"v{int(m.group(1))}.0.0"


def _restore_from_registry(registry_dir: Path, version_id: str, record: VersionRecord, dest: Path) -> bool:
    """Copy the registry's verified copy of the bundle to dest; False when the copy is absent or damaged."""
    src = Path(registry_dir) / VERSIONS / version_id / BUNDLE
    if not (src / "meta.json").exists():
        return False
    try:
        verify_bundle(src)
        if bundle_digest(src) != record.bundle_digest:
            raise ModelIntegrityError(f"{src}: digest differs from record.json")
    except ModelIntegrityError as err:
        log.warning("registry: the registry copy of %s is damaged (%s); fetch it from DVC instead", version_id, err)
        return False
    with io.atomic_dir(dest) as tmp:
        copy_bundle(src, tmp)
    verify_fetched(registry_dir, version_id, dest)
    return True


def _local_repo(repo_url: str) -> Path | None:
    """Return repo_url as a directory when it is a local git checkout, else None."""
    path = Path(repo_url).expanduser()
    return path if "://" not in repo_url and (path / ".git").exists() else None


def posixpath_relative(path: str, output: str) -> str:
    """Return path inside output ("artifacts/models/lightgbm" in "artifacts/models" -> "lightgbm")."""
    p, o = path.strip("/"), output.strip("/")
    return p[len(o) + 1 :] if p.startswith(o + "/") else ("" if p == o else p)


def dvc_fetch_commands(
    version_id: str, record: VersionRecord, dest: Path, repo_url: str = "."
) -> tuple[list[list[str]], str, str | None]:
    """Return (commands, explanation, .dvc file text) that fetch a version's bundle from DVC storage.

    The revision given to `dvc get` is a commit whose dvc.lock records the version's md5: looked up
    with git when repo_url is a local checkout, else the one recorded at promotion. Without one,
    the fallback pulls the output by its md5 through a hand-written .dvc file (in a clone of the repo).
    """
    info = record.dvc or DvcProvenance()
    path, md5, output = info.path or DEFAULT_MODEL_PATH, info.md5, info.output
    local = _local_repo(repo_url)
    rev = (find_locked_revision(local, output, md5) if local and md5 and output else None) or info.revision
    artifact, version = info.artifact or MODEL_ARTIFACT, gto_version(version_id)
    commands: list[list[str]] = []
    lines = []
    if rev:
        commands.append(["dvc", "get", repo_url, path, "--rev", rev, "-o", str(dest)])
        commands.append(["dvc", "artifacts", "get", repo_url, artifact, "--rev", version, "-o", str(dest)])
        lines += [
            f"{version_id} is in DVC storage: commit {rev[:12]}'s dvc.lock records {output} = {md5}.",
            f"`dvc artifacts get` needs the GTO tag once: git tag -a {artifact}@{version} "
            f'-m "registry {version_id}" {rev} && git push origin {artifact}@{version}',
        ]
    elif md5:
        lines.append(
            f"no commit of {repo_url} records {output} = {md5} in dvc.lock yet (commit dvc.lock after the run "
            f"that made {version_id}); fetch it by hash instead, in a clone of the repository:"
        )
    else:
        commit = record.git_commit
        if commit:
            commands.append(["dvc", "get", repo_url, path, "--rev", commit, "-o", str(dest)])
        lines.append(
            f"{version_id}'s record predates DVC provenance (no md5); the command uses the code commit "
            f"{(commit or '?')[:12]}, whose dvc.lock may describe another model: the checksums decide"
        )
    dvc_file = None
    if md5 and output:
        stem = f"{artifact}-{version_id}"
        dvc_file = yaml.safe_dump({"outs": [{"md5": md5, "hash": "md5", "path": stem}]}, sort_keys=False)
        sub = posixpath_relative(path, output)
        commands.append(["dvc", "pull", f"{stem}.dvc"])
        inside = f"{stem}/{sub}" if sub else stem
        lines.append(
            f"by hash (any clone with the DVC remote): write {stem}.dvc as below, run `dvc pull {stem}.dvc`, "
            f"then move {inside} to {dest}:\n{dvc_file}"
        )
    lines.append(f"the fetched bundle is checked against the registry record with verify_fetched({version_id!r}, ...)")
    return commands, "\n".join(lines), dvc_file


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
        return FetchResult(
            version_id, dest, True, "registry", f"{version_id} restored to {dest} from the registry (checksums verified)"
        )
    if dest.is_dir():
        dest.rmdir()  # empty: `dvc get -o DIR` would nest the bundle inside an existing directory
    commands, message, dvc_file = dvc_fetch_commands(version_id, record, dest, repo_url)
    return FetchResult(version_id, dest, False, "dvc", message, commands, dvc_file)


def verify_fetched(registry_dir: Path, version_id: str, bundle_dir: Path) -> dict:
    """Return the bundle's meta after checking its files and digest equal the version's record.

    Raises ModelIntegrityError when the fetched bytes are not the registered version's.
    """
    recorded = read_record(registry_dir, version_id).bundle_digest
    meta = verify_bundle(bundle_dir)
    digest = bundle_digest(bundle_dir)
    if digest != recorded:
        raise ModelIntegrityError(
            f"{bundle_dir}: bundle digest {digest[:12]} is not {version_id}'s {str(recorded)[:12]}; "
            "the revision fetched holds another model"
        )
    return meta
