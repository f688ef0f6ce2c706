"""Scratch projects for tests and tools: the repository's code in a fresh folder, committed to git with DVC set up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CODE = ("tasks", "flows", "dvc.yaml", ".dvcignore")
GITIGNORE = "/artifacts/\n/registry/\n/gx/uncommitted/\n__pycache__/\n"


def copy_code(root: Path, items: tuple[str, ...] = CODE) -> Path:
    """Copy each repository file or folder in items to the same place under root (no __pycache__)."""
    root.mkdir(parents=True, exist_ok=True)
    for item in items:
        src = REPO / item
        (
            shutil.copytree(src, root / item, ignore=shutil.ignore_patterns("__pycache__"))
            if src.is_dir()
            else shutil.copy(src, root / item)
        )
    return root


def commit_as_dvc_project(root: Path, message: str = "project", gitignore: str = GITIGNORE) -> Path:
    """Write .gitignore, then git init + dvc init and commit everything under root, as a clone a user starts from."""
    (root / ".gitignore").write_text(gitignore)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    for cmd in (
        ("git", "init", "-q"),
        ("git", "config", "user.email", "ci@example.com"),
        ("git", "config", "user.name", "ci"),
        (str(BIN / "dvc"), "init", "-q"),
        ("git", "add", "-A"),
        ("git", "commit", "-qm", message),
    ):
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return root
