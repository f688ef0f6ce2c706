"""The project run lock: one training run at a time per project folder (fcntl on .tabgate.lock).

Works with or without a Prefect server: it is a plain file lock, released by the kernel when the
holding process exits, even on SIGKILL. A second run waits (and logs why), then fails with a clear
message naming the holder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

LOCK_FILE = ".tabgate.lock"
POLL_SECONDS = 0.5
log = logging.getLogger("flows.lock")


class RunLocked(RuntimeError):
    """Another training run holds the project lock and did not release it in time."""


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown process"
    except OSError:
        return "unknown process"


@contextmanager
def project_lock(root: Path = Path("."), timeout: float = 1800.0, what: str = "training run",
                 logger: logging.Logger | logging.LoggerAdapter | None = None) -> Iterator[float]:
    """Hold the exclusive project lock for a run; yield the seconds waited; RunLocked after `timeout`."""
    logger = logger or log
    path = Path(root) / LOCK_FILE
    fh = open(path, "a+", encoding="utf-8")
    try:
        start = time.monotonic()
        announced = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= timeout:
                    raise RunLocked(
                        f"another run holds the project lock {path.resolve()} ({_holder(path)}); this {what} waited "
                        f"{waited:.0f}s (monitor.run_lock_timeout_seconds={timeout:g}) and gave up. Let that run "
                        "finish and start again; the lock is released automatically when its process exits") from None
                if not announced:
                    logger.warning("waiting for the project lock %s: another run holds it (%s); two runs at once "
                                   "would overwrite each other's outputs and registry entries", path, _holder(path))
                    announced = True
                time.sleep(POLL_SECONDS)
        waited = time.monotonic() - start
        if announced:
            logger.info("project lock acquired after waiting %.1fs", waited)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{what}: pid {os.getpid()} on {socket.gethostname()} since "
                 f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\n")
        fh.flush()
        try:
            yield waited
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()
