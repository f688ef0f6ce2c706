"""DVC bookkeeping: a failed run puts the snapshot pointer (data.dvc, file and git index) and data/ back."""

import subprocess
import sys
from pathlib import Path

import pytest

from flows import dvc_sync

DVC = str(Path(sys.executable).with_name("dvc"))


def sh(*cmd: str, cwd: Path) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    sh("git", "init", "-q", cwd=tmp_path)
    sh("git", "config", "user.email", "ci@example.com", cwd=tmp_path)
    sh("git", "config", "user.name", "ci", cwd=tmp_path)
    sh(DVC, "init", "-q", cwd=tmp_path)
    sh(DVC, "config", "core.autostage", "true", cwd=tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_text("a,b\n1,2\n")
    sh(DVC, "add", "-q", "data", cwd=tmp_path)
    sh("git", "add", "-A", cwd=tmp_path)
    sh("git", "commit", "-qm", "snapshot", cwd=tmp_path)
    return tmp_path


def test_a_failed_run_restores_data_dvc_its_index_entry_and_the_snapshot(repo):
    before = (repo / "data.dvc").read_text()
    with pytest.raises(RuntimeError, match="validation failed"), dvc_sync.restore_snapshot_on_failure(Path("data"), repo):
        (repo / "data" / "table.csv").write_text("a,b\nbad,bad\n")
        dvc_sync.version_snapshot(Path("data"), repo)
        assert (repo / "data.dvc").read_text() != before
        assert "data.dvc" in sh("git", "status", "--porcelain", cwd=repo)  # staged by autostage
        raise RuntimeError("validation failed")
    assert (repo / "data.dvc").read_text() == before
    assert sh("git", "status", "--porcelain", cwd=repo) == ""
    assert (repo / "data" / "table.csv").read_text() == "a,b\n1,2\n"


def test_a_successful_run_keeps_the_new_snapshot(repo):
    with dvc_sync.restore_snapshot_on_failure(Path("data"), repo):
        (repo / "data" / "table.csv").write_text("a,b\n3,4\n")
        dvc_sync.version_snapshot(Path("data"), repo)
    assert "data.dvc" in sh("git", "status", "--porcelain", cwd=repo)
    assert (repo / "data" / "table.csv").read_text() == "a,b\n3,4\n"
