"""One lock for every way in, in a scratch git + DVC project with the repository's .gitignore:

- two `tabgate run --engine dvc` at once: the second waits for .tabgate.lock, then finds nothing to do; `dvc status`
  is clean and the production model loads;
- a run leaves no tracked file changed (`git status --porcelain` is empty after a second run);
- `dvc exp run` re-runs promote as an experiment and production stays where it was;
- `kill -9` of a Prefect-engine run takes its temporary Prefect server down too, and frees the lock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.lock import LOCK_FILE, project_lock
from flows.watchdog import SERVER_MARKER
from tests.conftest import REPO
from tests.integration.test_pipeline import BIN, env, make_project, sh

pytestmark = pytest.mark.integration


def tabgate(root: Path, *args: str, home: Path) -> subprocess.Popen:
    environment = {k: v for k, v in env().items() if k != "PREFECT_API_URL"}
    environment["PREFECT_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=root,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict:
    root = make_project(tmp_path_factory.mktemp("lock_project"))
    (root / ".gitignore").write_text((REPO / ".gitignore").read_text())  # as a clone has it (/data, /.tabgate.lock)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "the repository's .gitignore", cwd=root)
    return {"root": root, "home": tmp_path_factory.mktemp("prefect_home")}


def wait_for_holder(lock: Path, proc: subprocess.Popen, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while not (lock.exists() and lock.read_text().strip()):
        assert proc.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.1)
    return lock.read_text().strip()


def test_two_dvc_runs_at_once_one_waits_and_both_finish_cleanly(project):
    root = project["root"]
    first = tabgate(root, "run", "--engine", "dvc", home=project["home"])
    holder = wait_for_holder(root / LOCK_FILE, first)
    assert holder.startswith("tabgate run --engine dvc: pid ")
    second = tabgate(root, "run", "--engine", "dvc", home=project["home"])
    out1, err1 = first.communicate(timeout=900)
    out2, err2 = second.communicate(timeout=900)
    assert first.returncode == 0, err1[-4000:]
    assert second.returncode == 0, err2[-4000:]
    assert "Running stage 'promote'" in out1
    assert "waiting for the project lock" in err2 and holder in err2 and "acquired after waiting" in err2
    assert "Running stage" not in out2 and "Data and pipelines are up to date" in out2 + err2

    assert "Data and pipelines are up to date" in sh(str(BIN / "dvc"), "status", cwd=root).stdout
    from tasks.modelling.bundle import load_bundle
    from tasks.registry import manifest

    bundle = load_bundle(manifest.production_bundle_dir(root / "registry"))
    assert bundle.meta["target"] == "is_canceled"
    assert (root / LOCK_FILE).read_text() == ""  # released, holder line cleared


def test_a_run_changes_no_tracked_file(project):
    root = project["root"]
    status = sh("git", "status", "--porcelain", cwd=root).stdout.split("\n")
    assert not any(LOCK_FILE in line or line.endswith(" data/") or ".gitignore" in line for line in status), status
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "first run", cwd=root)
    again = tabgate(root, "run", "--engine", "dvc", home=project["home"])
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert sh("git", "status", "--porcelain", cwd=root).stdout == ""


def test_dvc_exp_run_records_the_verdict_but_leaves_production_alone(project):
    root, reg = project["root"], project["root"] / "registry"
    pointer, versions = (reg / "production.json").read_bytes(), sorted(p.name for p in (reg / "versions").iterdir())
    proc = sh(str(BIN / "dvc"), "exp", "run", "-n", "lower-floor", "-S", "promote.thresholds.roc_auc=0.5", cwd=root)
    assert "Running stage 'promote'" in proc.stdout and "Running stage 'train'" not in proc.stdout
    report = json.loads((root / "reports" / "promotion.json").read_text())
    assert report["status"] == "experiment" and report["experiment"] == "lower-floor"
    assert "experiment: production unchanged" in (root / "reports" / "promotion.md").read_text()
    assert (reg / "production.json").read_bytes() == pointer
    assert sorted(p.name for p in (reg / "versions").iterdir()) == versions
    assert "lower-floor" in sh(str(BIN / "dvc"), "exp", "list", cwd=root).stdout
    sh("git", "checkout", "--", "params.yaml", cwd=root)
    sh(str(BIN / "dvc"), "checkout", "-q", cwd=root, check=False)


def children(pid: int) -> list[tuple[int, str]]:
    """Return (pid, command line) of the processes whose parent is pid."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_bytes().rsplit(b")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append((int(stat.parent.name), (stat.parent / "cmdline").read_bytes().decode(errors="replace")))
        except (OSError, ValueError):
            continue
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_kill_9_of_a_prefect_run_takes_its_temporary_server_down_and_frees_the_lock(project):
    root = project["root"]
    run = tabgate(root, "run", "--force", home=project["home"])
    deadline, server = time.monotonic() + 120, None
    while server is None:
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()[1][-3000:]
        server = next((pid for pid, cmd in children(run.pid) if SERVER_MARKER in cmd), None)
        time.sleep(0.2)
    time.sleep(2.0)  # let it get further (server up, maybe into the flow)
    run.send_signal(signal.SIGKILL)
    run.communicate()
    deadline = time.monotonic() + 15
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(server):
        os.kill(server, signal.SIGKILL)
        pytest.fail("the temporary Prefect server outlived the killed run")
    with project_lock(root, timeout=5, what="after the kill") as waited:
        assert waited < 5
