"""Scratch projects for the benchmarks: copies of the repository's code and files in a temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copy_repo_items(root: Path, items: tuple[str, ...]) -> None:
    """Copy each repository file or folder in items to the same relative place under root (missing ones skipped)."""
    for item in items:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, root / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            (root / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, root / item)
