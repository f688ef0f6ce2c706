"""A fresh `git clone` of a project whose snapshot lives in a committed read-only DVC remote (as the bundled sample's
does in sample/dvc-remote): `dvc pull` fetches the data and `dvc repro` runs the whole pipeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.integration.test_init_tables import make_scratch_project
from tests.integration.test_pipeline import BIN, sh, small_params

pytestmark = pytest.mark.integration
DVC = str(BIN / "dvc")


def test_git_clone_dvc_pull_dvc_repro(tmp_path: Path) -> None:
    root = make_scratch_project(tmp_path / "origin")
    (root / "sample").mkdir()
    pd.read_csv(REPO / "sample" / "hotel_bookings.csv.gz").sample(6000, random_state=0).to_csv(
        root / "sample" / "hotel_small.csv", index=False
    )
    (root / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    sh(DVC, "remote", "add", "sample", "../sample/dvc-remote", cwd=root)  # as .dvc/config in the repository
    sh(sys.executable, "-m", "flows.cli", "ingest", cwd=root)
    sh(DVC, "push", "-r", "sample", "data.dvc", cwd=root)
    pointer = root / "data.dvc"
    pointer.write_text(pointer.read_text().replace("  path: data\n", "  path: data\n  remote: sample\n  push: false\n"))
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "snapshot in the committed sample remote", cwd=root)

    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(root), str(clone), cwd=tmp_path)
    assert not (clone / "data").exists()
    before = sh(DVC, "repro", cwd=clone, check=False)
    assert before.returncode != 0 and "data" in before.stderr  # DVC checks sources before any stage runs
    sh(DVC, "pull", "data.dvc", cwd=clone)  # a bare `dvc pull` fetches it too, but exits 1 on the never-pushed stage outputs
    got = (clone / "data" / "hotel_small.csv").read_bytes()
    assert got == (root / "sample" / "hotel_small.csv").read_bytes()
    sh(DVC, "repro", cwd=clone)
    assert json.loads((clone / "reports" / "ingest.json").read_text())["rows"] == 6000
    assert (clone / "reports" / "promotion.json").exists()
    assert json.loads(sh(DVC, "status", "--json", cwd=clone).stdout or "{}") == {}
    assert "remote: sample" in (clone / "data.dvc").read_text()  # dvc repro never re-adds the snapshot

    second = tmp_path / "clone2"
    sh("git", "clone", "-q", str(root), str(second), cwd=tmp_path)
    sh(DVC, "repro", "--pull", cwd=second)
    assert (second / "data" / "hotel_small.csv").read_bytes() == got
    assert json.loads(sh(DVC, "status", "--json", cwd=second).stdout or "{}") == {}
