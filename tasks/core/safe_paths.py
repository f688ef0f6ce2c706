"""Run parameters are untrusted input: the path rules every deployment parameter passes before a run writes anything.

Plain Python, no Prefect. The flows call `check_*` first; a refusal raises UnsafeParameter (exit code 2,
the config code) naming the parameter and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tasks.core.errors import UnsafeParameter

# What tabgate owns at the project root: no run parameter may point into or onto these.
OWNED = (
    "registry",
    "data",
    "artifacts",
    "gx",
    "reports",
    ".git",
    ".dvc",
    "dvc.lock",
    "dvc.yaml",
    "params.yaml",
    "data.dvc",
    "tasks",
    "flows",
    "tests",
    "tools",
    "benchmarks",
    "examples",
    "docs",
    "pyproject.toml",
    "Makefile",
    "README.md",
    "SECURITY.md",
    ".tabgate.lock",
    ".venv",
    ".dvcignore",
    ".gitignore",
)
# Inputs may be read from tabgate's own data folders (a batch in artifacts/ is fine), never from these.
SECRET_INPUTS = (".git", ".dvc", "registry", ".venv")
SCORING_RECORD = ".tabgate-scoring-outputs.json"


def _resolve(root: Path, value: str | Path) -> Path:
    """Return value resolved against root, symlinks followed (also for a file that does not exist yet)."""
    p = Path(value).expanduser()
    return (p if p.is_absolute() else root / p).resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _owned_by(path: Path, root: Path) -> str | None:
    """Return the owned root entry path falls under, or None."""
    if not _inside(path, root) or path == root:
        return "." if path == root else None
    return path.relative_to(root).parts[0] if path.relative_to(root).parts[0] in OWNED else None


def _check_place(name: str, value: str | Path, root: Path, allowed: Iterable[Path], forbidden: tuple[str, ...]) -> Path:
    root = root.resolve()
    path = _resolve(root, value)
    extra = [_resolve(root, a) for a in allowed]
    if not (_inside(path, root) or any(_inside(path, a) for a in extra)):
        raise UnsafeParameter(
            f"parameter {name}={value!s}: resolves to {path}, outside the project folder {root}"
            + (f" and the allowed folders {', '.join(map(str, extra))}" if extra else "")
            + "; use a path inside the project"
        )
    if _inside(path, root):
        top = "." if path == root else path.relative_to(root).parts[0]
        if top in forbidden or top == ".":
            raise UnsafeParameter(
                f"parameter {name}={value!s}: resolves to {path}, inside `{top}` which tabgate owns;"
                " choose another path (for outputs e.g. predictions/out.csv)"
            )
    return path


def check_input_path(name: str, value: str | Path, root: Path, allowed: Iterable[Path] = ()) -> Path:
    """Return the resolved input path; refuse one outside root/allowed folders or inside .git/.dvc/registry."""
    return _check_place(name, value, root, allowed, SECRET_INPUTS)


def check_output_path(name: str, value: str | Path, root: Path, allowed: Iterable[Path] = ()) -> Path:
    """Return the resolved output path; refuse one outside root/allowed, onto what tabgate owns, or onto a
    file that exists and is not an earlier scoring output (recorded in SCORING_RECORD)."""
    path = _check_place(name, value, root, allowed, OWNED)
    if path.exists() and str(path) not in scoring_outputs(root):
        raise UnsafeParameter(
            f"parameter {name}={value!s}: {path} already exists and is not an earlier scoring "
            "output; a scoring run never replaces it: choose a new file name or delete it yourself"
        )
    return path


def check_params_file(value: str | Path, root: Path) -> Path:
    """Return the resolved params file; refuse one outside the project folder or that is not a .yaml file."""
    root = root.resolve()
    path = _resolve(root, value)
    if not _inside(path, root) or path == root:
        raise UnsafeParameter(
            f"parameter params={value!s}: resolves to {path}, outside the project folder {root};"
            " name a params file inside the project (params.yaml)"
        )
    if path.suffix not in (".yaml", ".yml"):
        raise UnsafeParameter(f"parameter params={value!s}: not a .yaml params file")
    if _owned_by(path, root) in SECRET_INPUTS:
        raise UnsafeParameter(f"parameter params={value!s}: inside `{_owned_by(path, root)}`, which tabgate owns")
    return path


def check_no_approval_switch_off(require_approval: bool | None) -> None:
    """Refuse require_approval=False: a run parameter may add approval, never switch it off."""
    if require_approval is False:
        raise UnsafeParameter(
            "parameter require_approval=false: a run parameter cannot switch off approval;"
            " set promote.require_approval in params.yaml (reviewed in git) instead"
        )


def scoring_outputs(root: Path) -> set[str]:
    """Return the resolved paths of files earlier scoring runs wrote (the record at root/SCORING_RECORD)."""
    record = root.resolve() / SCORING_RECORD
    try:
        return set(json.loads(record.read_text()))
    except (OSError, ValueError):
        return set()


def record_scoring_output(root: Path, path: Path) -> None:
    """Add path (and its quarantine sibling, if any) to the record of scoring outputs, atomically."""
    record = root.resolve() / SCORING_RECORD
    paths = scoring_outputs(root) | {str(path.resolve())}
    tmp = record.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(paths), indent=1))
    tmp.replace(record)
