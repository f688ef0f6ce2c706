"""The temporary Prefect server's watchdog: the watched process is stopped when the process that started it dies,
even by SIGKILL, and a process that is not the server (a reused pid) is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import watchdog

pytestmark = pytest.mark.skipif(not Path("/proc/self").exists(), reason="the check reads /proc (Linux)")

PARENT = """
import subprocess, sys, time
from flows.watchdog import Watchdog
marker = sys.argv[1]
server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", marker],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
Watchdog(grace=1.0).watch(server.pid)
print(server.pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


def start_parent(marker: str) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": str(Path(watchdog.__file__).parents[1])}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, marker], stdout=subprocess.PIPE, text=True, env=env)
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


def test_the_server_dies_when_its_parent_is_killed_with_sigkill():
    parent, server = start_parent(watchdog.SERVER_MARKER)
    try:
        time.sleep(0.5)
        assert alive(server)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_gone(server, 10), "the temporary server outlived the killed run"
    finally:
        if alive(server):
            os.kill(server, signal.SIGKILL)


def test_a_process_without_the_server_marker_is_not_touched():
    parent, other = start_parent("not-the-server")
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert not wait_gone(other, 3), "the watchdog stopped a process that is not the Prefect server"
    finally:
        os.kill(other, signal.SIGKILL)


def test_prefect_still_launches_its_server_through_the_method_we_hook():
    """WatchedServer reports the server pid from SubprocessASGIServer._run_uvicorn_command; a Prefect upgrade that
    drops it would leave a gap of a few seconds at start-up (start_temporary_server still watches afterwards)."""
    from prefect.server.api.server import SubprocessASGIServer

    from flows import temp_server

    assert callable(getattr(SubprocessASGIServer, "_run_uvicorn_command", None))
    assert issubclass(temp_server.WatchedServer, SubprocessASGIServer)


def prefect_startup_timeout(extra_env: dict[str, str]) -> str:
    """Return the ephemeral-server start-up timeout Prefect resolves in a fresh process that imported flows."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"}
    env.update(extra_env, PYTHONPATH=str(Path(watchdog.__file__).parents[1]))
    code = "import flows\nfrom prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as s\nprint(s.value())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_the_temporary_server_gets_more_than_prefects_20_seconds_to_start_and_the_user_setting_wins():
    assert int(prefect_startup_timeout({})) >= 120  # Prefect's own default (20 s) failed two runs started together
    assert prefect_startup_timeout({"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "45"}) == "45"


def test_a_temporary_server_starts_holding_the_start_lock_of_its_prefect_home(tmp_path, monkeypatch):
    """Two servers migrating one PREFECT_HOME database at once failed ("duplicate column name"): starts take turns."""
    import fcntl

    from flows import temp_server

    lock = tmp_path / "start.lock"
    seen: list[str] = []

    def fake_start(self, timeout=None) -> None:
        with open(lock, "a") as other:
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                seen.append("free")
            except BlockingIOError:
                seen.append("held")

    monkeypatch.setattr(temp_server, "start_lock_path", lambda: lock)
    monkeypatch.setattr(temp_server.WatchedServer, "start", fake_start)
    saved = dict(temp_server.SubprocessASGIServer._instances)
    try:
        temp_server.SubprocessASGIServer._instances.pop(None, None)
        temp_server.start_temporary_server()
    finally:
        temp_server.SubprocessASGIServer._instances.clear()
        temp_server.SubprocessASGIServer._instances.update(saved)
    assert seen == ["held"]
    with open(lock, "a") as after:  # released once the server answers
        fcntl.flock(after.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
