"""The project lock: every command that writes takes it, a second one exits 5 naming the lock and its holder,
a child given the descriptor keeps it, and `run --engine dvc` reads params.yaml only."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import cli
from flows.lock import LOCK_FILE, lock_fd, project_lock
from tasks.core.errors import RunLocked

PARAMS = "data: {target: y}\ningest: {source: source.csv}\nmonitor: {run_lock_timeout_seconds: 0.3}\n"
HOLDER = """
import fcntl, sys, time
f = open(sys.argv[1], "a+")
fcntl.flock(f, fcntl.LOCK_EX)
f.seek(0); f.truncate(); f.write("test holder: pid 4242 on testhost\\n"); f.flush()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TABGATE_PARAMS", raising=False)
    (tmp_path / "params.yaml").write_text(PARAMS)
    return tmp_path


@pytest.fixture
def held(project):
    """Another process holding the project lock (for 30 s, or until the test ends)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(project / LOCK_FILE), "30"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--engine", "dvc"],
        ["step", "promote"],
        ["ingest"],
        ["validate"],
        ["validate", "--bootstrap"],
        ["models", "promote", "v0001-abc", "--reason", "r"],
        ["models", "promote", "v0001-abc", "--reason", "r", "--force"],
        ["models", "rollback", "--reason", "r"],
        ["models", "reject", "v0001-abc", "--reason", "r"],
    ],
)
def test_every_command_that_writes_waits_for_the_lock_then_exits_5_naming_it_and_its_holder(project, held, argv, caplog):
    with caplog.at_level(logging.ERROR, logger="tabgate"):
        assert cli.dispatch(cli.build_parser().parse_args(argv)) == 5
    assert f"project lock {project.resolve() / LOCK_FILE}" in caplog.text
    assert "test holder: pid 4242 on testhost" in caplog.text and "run_lock_timeout_seconds=0.3" in caplog.text


def test_reading_commands_do_not_wait_for_the_lock(project, held, capsys):
    assert cli.dispatch(cli.build_parser().parse_args(["models", "list"])) == 0
    assert "(no production model)" in capsys.readouterr().out


def test_the_lock_is_reentrant_within_a_process_and_exposes_its_descriptor(project):
    assert lock_fd() is None
    with project_lock(project, timeout=0.5, what="outer") as waited:
        fd = lock_fd()
        assert waited < 0.5 and fd is not None
        with project_lock(project, timeout=0.5, what="inner") as again:  # would wait for itself if not re-entrant
            assert again == 0.0 and lock_fd() == fd
        assert lock_fd() == fd
    assert lock_fd() is None


PARENT = """
import os, signal, subprocess, sys
from pathlib import Path
from flows.lock import lock_fd, project_lock
with project_lock(Path(sys.argv[1]), timeout=5, what="parent"):
    fd = lock_fd()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"], pass_fds=(fd,),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(child.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # like `kill -9 tabgate` while its `dvc repro` runs
"""


def test_a_child_given_the_descriptor_keeps_the_lock_after_its_parent_is_killed(project):
    parent = subprocess.run(
        [sys.executable, "-c", PARENT, str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(cli.__file__).parents[1])},
        timeout=60,
    )
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    child = int(parent.stdout.split()[0])
    with pytest.raises(RunLocked, match="another run holds the project lock"):
        with project_lock(project, timeout=0.3, what="second run"):
            pass
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with project_lock(project, timeout=2, what="after the child") as waited:
        assert waited < 2


@pytest.mark.parametrize("how", ["flag", "env"])
def test_dvc_engine_refuses_another_params_file(project, monkeypatch, caplog, how):
    (project / "other.yaml").write_text(PARAMS)
    argv = ["run", "--engine", "dvc"]
    if how == "flag":
        argv = ["--params", "other.yaml", *argv]
    else:
        monkeypatch.setenv("TABGATE_PARAMS", "other.yaml")
    with caplog.at_level(logging.ERROR, logger="tabgate"):
        assert cli.dispatch(cli.build_parser().parse_args(argv)) == 2
    assert "always reads params.yaml" in caplog.text and "dvc exp run -S" in caplog.text
    assert not (project / LOCK_FILE).exists()  # refused before anything ran


def test_dvc_engine_accepts_params_yaml_named_explicitly(project):
    from flows import dvc_sync

    dvc_sync.require_project_params("params.yaml")
    dvc_sync.require_project_params(str(project / "params.yaml"))
