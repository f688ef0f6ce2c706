"""The temporary Prefect server of a `tabgate run` without PREFECT_API_URL, tied to the life of the run.

Prefect starts its temporary ("ephemeral") server as a child process (`python -m uvicorn ...
prefect.server.api.server:create_app`, prefect.server.api.server.SubprocessASGIServer) and stops it from an
atexit hook. An atexit hook does not run when the run is killed (SIGKILL, or SIGTERM without a handler),
so the server would be left behind, holding its port and its SQLite database.

`start_temporary_server` starts that server up front through `WatchedServer`, a SubprocessASGIServer that
reports each server process it launches to a watchdog the moment it is launched. SubprocessASGIServer
keeps one instance per port in a class-level registry, so the flow then finds and uses this instance
instead of starting another. The watchdog (flows/watchdog.py) is a small separate process that stops
every server it was told about once the run ends, however it ends (SIGKILL included).

Every temporary server of one user shares one SQLite database (PREFECT_HOME/prefect.db) and migrates it
before it answers. Two starting together raced on a fresh database (`duplicate column name: has_data`,
"Application startup failed"), so servers start one at a time: `start_temporary_server` holds a file lock
in PREFECT_HOME until its server answers; the runs themselves then proceed together.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_HOME, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

from flows.watchdog import process_watchdog
from tasks.core.errors import RunLocked
from tasks.core.locking import exclusive_lock

START_LOCK = "tabgate-server-start.lock"

log = logging.getLogger("flows.server")


class WatchedServer(SubprocessASGIServer):
    """Prefect's temporary server, each launched process reported to the watchdog as soon as it exists."""

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        process = super()._run_uvicorn_command()
        process_watchdog().watch(process.pid)
        return process


def start_lock_path() -> Path:
    """Return the lock file that lets one temporary server at a time migrate PREFECT_HOME's database."""
    return Path(PREFECT_HOME.value()) / START_LOCK


def _start_timed_out(holder: str, waited: float) -> RunLocked:
    return RunLocked(
        f"another temporary Prefect server has been starting for {waited:.0f}s ({holder}; lock "
        f"{start_lock_path()}); set PREFECT_API_URL to a long-lived server, or raise "
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    )


def start_temporary_server() -> SubprocessASGIServer:
    """Start Prefect's temporary server now (one start at a time per PREFECT_HOME), stopped by the watchdog if
    this process dies; return it."""
    server = WatchedServer()  # registered for port None: the flow's own SubprocessASGIServer() returns this instance
    wait = 2.0 * float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())  # one other start ahead of us
    with exclusive_lock(
        start_lock_path(),
        wait,
        "temporary Prefect server start",
        _start_timed_out,
        log,
        lock_name="Prefect server start lock",
        why="two temporary servers migrating one database at once fail; the runs then proceed together",
    ):
        server.start()
    if server.server_process is not None:  # also when a Prefect upgrade stops calling _run_uvicorn_command
        process_watchdog().watch(server.server_process.pid)
    log.debug(
        "temporary Prefect server %s (pid %s) is watched",
        server.api_url,
        server.server_process.pid if server.server_process else "?",
    )
    return server
