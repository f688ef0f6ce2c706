"""Two `tabgate run` in two project folders at once, on one user's Prefect home (one SQLite database, two temporary
servers starting together): the run in the second folder is not held up by the first folder's lock, the run in
the first folder queues on its own lock, and both complete (no "Timed out while attempting to connect to
ephemeral Prefect API server", and no server start failing on the other's database migration: without the
start lock of flows/temp_server.py one of the two servers failed with "duplicate column name: has_data" and
survived only because Prefect retries a server that exits with code 3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.lock import LOCK_FILE, project_lock
from tests.integration.test_pipeline import STEPS, env, make_project
from tests.integration.test_prefect_server import ran_steps

pytestmark = pytest.mark.integration


def quick_project(root: Path) -> Path:
    """A scratch project on the 6,000-row sample with tuning off (the shortest whole pipeline)."""
    make_project(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["tune"]["enabled"] = False
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def start_run(root: Path, home: Path, log: Path) -> subprocess.Popen:
    """Start `tabgate run --force` in root with a temporary Prefect server (no PREFECT_API_URL), output to log."""
    environment = {k: v for k, v in env().items() if k != "PREFECT_API_URL"}
    environment["PREFECT_HOME"] = str(home)
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "run", "--force"], cwd=root, env=environment, stdout=out, stderr=subprocess.STDOUT
        )


def test_runs_in_two_folders_proceed_together_and_each_folder_queues_on_its_own_lock(tmp_path):
    first, second = quick_project(tmp_path / "first"), quick_project(tmp_path / "second")
    home = tmp_path / "prefect_home"  # one user: both temporary servers use the same database
    logs = tmp_path / "first.log", tmp_path / "second.log"
    with project_lock(first, timeout=5, what="another run in the first folder"):
        queued = start_run(first, home, logs[0])
        other = start_run(second, home, logs[1])
        assert other.wait(timeout=900) == 0, logs[1].read_text()[-4000:]
        assert queued.poll() is None, logs[0].read_text()[-4000:]  # still queued: the first folder is locked
    second_out = logs[1].read_text()
    assert ran_steps(second_out) == STEPS
    assert "waiting for the project lock" not in second_out  # the first folder's lock did not hold it up
    assert queued.wait(timeout=900) == 0, logs[0].read_text()[-4000:]
    first_out = logs[0].read_text()
    assert "waiting for the project lock" in first_out and "another run in the first folder" in first_out
    assert ran_steps(first_out) == STEPS
    for out in (first_out, second_out):
        assert "Timed out while attempting to connect to ephemeral Prefect API server" not in out
        assert "Application startup failed" not in out  # two servers migrating one database at once
    assert (first / LOCK_FILE).read_text() == "" and (second / LOCK_FILE).read_text() == ""
