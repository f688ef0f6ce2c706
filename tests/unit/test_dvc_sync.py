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


# What is stale comes from DVC itself (dvc.repo.Repo): its stage graph, its status.
PIPELINE = """stages:
  prepare:
    cmd: cp data/table.csv ${paths.work}/prepared.csv
    deps:
      - data
    outs:
      - ${paths.work}/prepared.csv
  fit:
    cmd: cp ${paths.work}/prepared.csv model.txt
    deps:
      - ${paths.work}/prepared.csv
    params:
      - fit.rounds
    outs:
      - model.txt
  report:
    cmd: echo report > report.txt
    deps:
      - data/table.csv
    outs:
      - report.txt
"""


@pytest.fixture
def pipeline(repo: Path) -> Path:
    (repo / "work").mkdir()
    (repo / "params.yaml").write_text("paths:\n  work: work\nfit:\n  rounds: 3\n")
    (repo / "dvc.yaml").write_text(PIPELINE)
    sh(DVC, "repro", "-q", cwd=repo)
    return repo


def test_stage_graph_is_dvcs_own_with_templated_paths_resolved(pipeline):
    graph = dvc_sync.stage_graph(pipeline)
    assert graph["fit"] == {"prepare"}  # linked only through ${paths.work}/prepared.csv
    assert graph["prepare"] == graph["report"] == {"data.dvc"}


def test_downstream_closure_follows_the_graph_and_nothing_else(pipeline):
    assert dvc_sync.downstream_closure({"prepare"}, pipeline) == {"prepare", "fit"}
    assert dvc_sync.downstream_closure({"data.dvc"}, pipeline) == {"data.dvc", "prepare", "fit", "report"}


def test_project_status_is_dvcs_status(pipeline):
    assert dvc_sync.project_status(pipeline) == {}
    (pipeline / "params.yaml").write_text("paths:\n  work: work\nfit:\n  rounds: 4\n")
    status = dvc_sync.project_status(pipeline)
    assert dvc_sync.stale_in(status) == set(), status  # "fit" is not one of the pipeline's steps
    assert [key.split(":")[-1] for key in status] == ["fit"], status
    assert dvc_sync.stale_in({"dvc.yaml:train": [], "data.dvc": []}) == {"train"}


def test_project_status_counts_every_step_as_changed_when_dvc_cannot_read_the_pipeline(pipeline):
    (pipeline / "dvc.yaml").write_text("stages: [unclosed\n")
    assert set(dvc_sync.project_status(pipeline)) == set(dvc_sync.STEPS)


def test_every_step_of_the_project_is_downstream_of_its_snapshot():
    root = Path(__file__).resolve().parents[2]
    assert dvc_sync.downstream_closure({"ingest"}, root) >= set(dvc_sync.STEPS)
    assert dvc_sync.downstream_closure({"promote"}, root) == {"promote"}


def test_the_training_flow_runs_the_stale_steps_and_everything_downstream_in_order(monkeypatch):
    """The flow, not only the graph: a changed train re-runs evaluate, explain and promote after it."""
    from flows.training import steps_to_run

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the project's own dvc.yaml
    assert steps_to_run({"train"}, False) == ["train", "evaluate", "explain", "promote"]
    assert steps_to_run({"explain", "split"}, False) == ["split", "preprocess", "cv", "train", "evaluate", "explain", "promote"]
    assert steps_to_run({"promote"}, False) == ["promote"]
    assert steps_to_run(set(), False) == []
    assert steps_to_run(set(), True) == steps_to_run(None, False) == list(dvc_sync.STEPS)
