"""A watchdog process: stops the processes it is told about once the process that started it ends, however it ends.

It holds the read end of a pipe whose only write end belongs to its starter. When the starter ends (exit,
exception, SIGTERM, SIGKILL) the kernel closes the write end, the watchdog's read returns, and it stops every
pid it was sent (SIGTERM, SIGKILL after the grace period) whose command line still holds the marker, so a
pid reused by another program is left alone. Used for Prefect's temporary server (flows/temp_server.py).
"""

from __future__ import annotations

import os
import subprocess
import sys

SERVER_MARKER = "prefect.server.api.server:create_app"  # in the command line of Prefect's temporary server
GRACE_SECONDS = 5.0

WATCHDOG = r"""
import os, signal, sys, time
fd, marker, grace = int(sys.argv[1]), sys.argv[2].encode(), float(sys.argv[3])
pids = set()
with os.fdopen(fd, "rb", buffering=0) as pipe:
    for line in iter(pipe.readline, b""):  # b"" once every write end is closed: the run has ended
        pids.add(int(line))

def running(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read()
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return marker in command and state != b"Z"  # not another program under a reused pid, not a zombie
    except OSError:
        if os.path.isdir("/proc"):
            return False
        try:  # no /proc (macOS): trust the pid
            os.kill(pid, 0)
            return True
        except OSError:
            return False

def stop(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:  # gone in the meantime
        pass

alive = [p for p in pids if running(p)]
for p in alive:
    stop(p, signal.SIGTERM)
deadline = time.monotonic() + grace
while any(running(p) for p in alive) and time.monotonic() < deadline:
    time.sleep(0.1)
for p in alive:
    if running(p):
        stop(p, signal.SIGKILL)
"""


class Watchdog:
    """A process that stops the pids it is told about once this process ends (however it ends)."""

    def __init__(self, marker: str = SERVER_MARKER, grace: float = GRACE_SECONDS) -> None:
        read_end, self._write_end = os.pipe()  # non-inheritable: only the watchdog gets the read end
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", WATCHDOG, str(read_end), marker, str(grace)],
                pass_fds=(read_end,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # a Ctrl-C to the run's process group does not stop it before it acts
        finally:
            os.close(read_end)
        # The write end is never closed here: the kernel closes it when this process ends.

    def watch(self, pid: int) -> None:
        """Have pid stopped when this process ends."""
        os.write(self._write_end, f"{pid}\n".encode())


_watchdog: Watchdog | None = None


def process_watchdog() -> Watchdog:
    """Return this process's watchdog, started on first use."""
    global _watchdog
    if _watchdog is None:
        _watchdog = Watchdog()
    return _watchdog
