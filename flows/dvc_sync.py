"""DVC bookkeeping for the callers: snapshot versioning, stage status, and recording a Prefect run in dvc.lock."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tasks.core import io
from tasks.core.errors import ConfigError, DvcError
from tasks.core.steps import STEPS
from tasks.data.sources import snapshot_source
from tasks.quality.validation import ensure_suite

log = logging.getLogger("flows.dvc")


def dvc_bin() -> str:
    """Return the dvc executable next to this Python (the project venv), else the one on PATH."""
    candidate = Path(sys.executable).with_name("dvc")
    return str(candidate) if candidate.exists() else "dvc"


def run_dvc(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run one dvc command (never two at once: DVC locks the repository)."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run([dvc_bin(), *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise DvcError(f"dvc {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def is_dvc_repo(root: Path = Path(".")) -> bool:
    """Return True when root holds a DVC project inside a git work tree."""
    return (root / ".dvc").is_dir() and subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=root, capture_output=True
    ).returncode == 0


def version_snapshot(data_dir: Path, root: Path = Path(".")) -> str | None:
    """`dvc add` the snapshot folder so data.dvc records it; return its DVC hash (None outside a DVC repo)."""
    if not is_dvc_repo(root):
        log.warning("not a DVC repository (no .dvc/ or not in git): the snapshot is not versioned")
        return None
    run_dvc("add", str(data_dir), cwd=root)
    pointer = root / f"{Path(data_dir).as_posix().rstrip('/')}.dvc"
    version = io.data_version(pointer)
    unpin_sample_remote(pointer, version, root)
    return version


SAMPLE_REMOTE = Path("sample/dvc-remote")  # the read-only remote "sample" (.dvc/config) holding the bundled snapshot


def unpin_sample_remote(pointer: Path, version: str | None, root: Path = Path(".")) -> None:
    """Drop `remote: sample` / `push: false` from the pointer once it records data the sample remote does not hold.

    `dvc add` keeps an output's remote and push fields: without this, a user's own snapshot would stay pinned to
    the bundled sample's read-only remote and `dvc push` would skip it without a word.
    """
    text = pointer.read_text() if pointer.exists() else ""
    if "  remote: sample\n" not in text or not version:
        return
    digest = version.removesuffix(".dir")
    if (root / SAMPLE_REMOTE / "files" / "md5" / digest[:2] / f"{digest[2:]}.dir").exists():
        return
    pointer.write_text(text.replace("  remote: sample\n", "").replace("  push: false\n", ""))
    _git("add", pointer.relative_to(root).as_posix(), cwd=root)  # as DVC's autostage did for `dvc add`
    log.info(
        "%s: a new snapshot: no longer pinned to the bundled sample's remote; `dvc push` sends it to the default remote", pointer
    )


def take_snapshot(cfg, version: bool = True) -> dict:
    """Snapshot ingest.source into data/, bootstrap a missing suite, and (in the DVC project) `dvc add` it.

    Returns the snapshot info with "data_version": the DVC md5 when versioned, else the file's sha256.
    """

    info = snapshot_source(cfg.ingest, cfg.paths.data_dir)
    ensure_suite(cfg.paths, cfg.ingest, cfg.data, cfg.validate)
    info["data_version"] = version_snapshot(cfg.paths.data_dir) if version else info["sha256"]
    return info


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


@contextmanager
def restore_snapshot_on_failure(data_dir: Path, root: Path = Path(".")) -> Iterator[Callable[[], None]]:
    """Run the body; if it raises, put the snapshot's pointer (<data_dir>.dvc, file and git index entry) and data/
    back as they were before, so a failed run leaves git and DVC state unchanged (the error is re-raised).

    Yields the restore function, for a body that fails without raising (a child process's exit code).
    """
    rel = f"{Path(data_dir).as_posix().rstrip('/')}.dvc"
    before = _pointer_state(rel, root)

    def restore() -> None:
        if _pointer_state(rel, root) != before:
            _restore_pointer(rel, *before, root)

    try:
        yield restore
    except BaseException:
        restore()
        raise


def _pointer_state(rel: str, root: Path) -> tuple[bytes | None, str]:
    """Return the pointer file's bytes (None when absent) and its git index entry ('' when not staged)."""
    path = root / rel
    index = _git("ls-files", "-s", "--", rel, cwd=root).stdout.strip() if is_dvc_repo(root) else ""
    return (path.read_bytes() if path.exists() else None), index


def _restore_pointer(rel: str, text: bytes | None, index: str, root: Path) -> None:
    """Write back the pointer's old bytes and git index entry, then check its data/ out of the DVC cache."""
    path = root / rel
    if text is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(text)
    if not is_dvc_repo(root):
        return
    if index:
        mode, blob = index.split()[:2]
        _git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{rel}", cwd=root)
    else:
        _git("rm", "-q", "--cached", "--ignore-unmatch", "--", rel, cwd=root)
    if text is not None:
        proc = run_dvc("checkout", "--force", rel, cwd=root, check=False)
        if proc.returncode != 0:
            log.warning("%s restored, but `dvc checkout %s` failed: %s", rel, rel, proc.stderr.strip())
    log.warning("run failed: %s (file and git index entry) and the snapshot restored as they were before the run", rel)


def uses_dvc_pipeline(params: str) -> bool:
    """Return True when params is the params.yaml that dvc.yaml reads (then DVC's lock decides what is stale);
    ConfigError when that params.yaml sets `paths`, which dvc.yaml's vars hold (require_paths_in_dvc_yaml)."""
    if Path(params).resolve() != Path("params.yaml").resolve() or not Path("dvc.yaml").exists():
        return False
    require_paths_in_dvc_yaml(params)
    return True


def require_paths_in_dvc_yaml(params: str) -> None:
    """ConfigError (exit 2) when params.yaml sets `paths` and dvc.yaml's `vars` set them too.

    DVC refuses to parse dvc.yaml then ("cannot redefine 'paths'"), so every DVC command would fail; say which file
    to edit instead. Where the steps read and write is dvc.yaml's `vars` (equal to PathsParams' defaults).
    """
    raw = yaml.safe_load(Path(params).read_text(encoding="utf-8")) if Path(params).exists() else None
    if not isinstance(raw, dict) or "paths" not in raw or not Path("dvc.yaml").exists():
        return
    dvc_vars = (yaml.safe_load(Path("dvc.yaml").read_text(encoding="utf-8")) or {}).get("vars") or []
    if any(isinstance(v, dict) and "paths" in v for v in dvc_vars):
        raise ConfigError(
            f"{params}: key `paths`: dvc.yaml sets where the steps read and write (its `vars: paths`), and DVC refuses "
            "a second `paths` in params.yaml (every `dvc` command would fail to read dvc.yaml). Remove the `paths` "
            "section from params.yaml; to move an output, edit the `paths` of dvc.yaml's vars (the Prefect engine "
            "with `tabgate --params OTHER.yaml run` may set paths in OTHER.yaml)"
        )


def require_project_params(params: str) -> None:
    """ConfigError (exit 2) unless params is the project's params.yaml: `dvc repro` reads nothing else.

    dvc.yaml's ${...} values and every stage's params come from params.yaml and dvc.lock records them, so
    running the DVC engine with another file would run one configuration and record another.
    """
    if Path(params).resolve() == Path("params.yaml").resolve():
        require_paths_in_dvc_yaml(params)
        return
    raise ConfigError(
        f"--params {params} (or $TABGATE_PARAMS): `tabgate run --engine dvc` runs `dvc repro`, which always reads "
        "params.yaml (dvc.yaml's ${...} values and each stage's params, recorded in dvc.lock). Copy the file to "
        "params.yaml, try single values with `dvc exp run -S section.key=value`, or run it outside DVC with "
        f"`tabgate --params {params} run` (the Prefect engine runs every step and records nothing in dvc.lock)"
    )


def project_status(root: Path = Path(".")) -> dict | None:
    """Return DVC's own status of the project (`dvc.repo.Repo.status`, what `dvc status --json` prints): {} when
    data, code and params match dvc.lock and the .dvc files; every step as changed when DVC cannot compute it;
    None outside a DVC project."""
    if not is_dvc_repo(root):
        return None
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            return dict(repo.status())
    except DvcException as exc:
        log.warning("dvc status failed (%s): every step counts as changed", exc)
        return {name: ["dvc status failed"] for name in STEPS}


def stale_in(status: dict) -> set[str]:
    """Return the pipeline steps a `dvc status --json` result lists as changed."""
    return {name.split(":")[-1] for name in status if name.split(":")[-1] in STEPS}


def stale_stages(root: Path = Path(".")) -> set[str] | None:
    """Return the dvc.yaml stages whose deps, params or outs changed since dvc.lock (None outside DVC)."""
    status = project_status(root)
    return None if status is None else stale_in(status)


def record_run(root: Path = Path(".")) -> None:
    """Record the outputs a Prefect run wrote in dvc.lock (`dvc commit`), so `dvc status` is clean."""
    if not is_dvc_repo(root):
        return
    run_dvc("commit", "--force", cwd=root)


def stage_graph(root: Path = Path(".")) -> dict[str, set[str]]:
    """Return {stage: the stages it depends on}, from DVC's own stage graph (`dvc.repo.Repo.index.graph`, whose
    edges point from a stage to the stages whose outputs it reads), so templating and paths resolve as DVC does."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph

        def name(stage) -> str:  # a dvc.yaml stage by its name, a .dvc file by its path in the project
            return getattr(stage, "name", None) or os.path.relpath(stage.path, repo.root_dir)

        return {name(stage): {name(dep) for dep in graph.successors(stage)} for stage in graph.nodes}


def downstream_closure(stale: set[str], root: Path = Path(".")) -> set[str]:
    """Return the stale stages plus every stage that depends on one of them, directly or not."""
    graph = stage_graph(root)
    result = set(stale)
    changed = True
    while changed:
        changed = False
        for name, upstream in graph.items():
            if name not in result and upstream & result:
                result.add(name)
                changed = True
    return result
