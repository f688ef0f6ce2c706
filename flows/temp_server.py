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
"""

from __future__ import annotations

import logging
import subprocess
from typing import Any

from prefect.server.api.server import SubprocessASGIServer

from flows.watchdog import process_watchdog

log = logging.getLogger("flows.server")


class WatchedServer(SubprocessASGIServer):
    """Prefect's temporary server, each launched process reported to the watchdog as soon as it exists."""

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        process = super()._run_uvicorn_command()
        process_watchdog().watch(process.pid)
        return process


def start_temporary_server() -> SubprocessASGIServer:
    """Start Prefect's temporary server now, stopped by the watchdog if this process dies; return it."""
    server = WatchedServer()  # registered for port None: the flow's own SubprocessASGIServer() returns this instance
    server.start()
    if server.server_process is not None:  # also when a Prefect upgrade stops calling _run_uvicorn_command
        process_watchdog().watch(server.server_process.pid)
    log.debug("temporary Prefect server %s (pid %s) is watched", server.api_url,
              server.server_process.pid if server.server_process else "?")
    return server
