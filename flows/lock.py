"""The project run lock: one training run at a time per project folder (fcntl on .tabgate.lock).

Works with or without a Prefect server: it is a plain file lock, released by the kernel when the
holding process exits, even on SIGKILL. A second run waits (and logs why), then fails with a clear
message naming the holder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tasks.core.errors import RunLocked
from tasks.core.locking import exclusive_lock

LOCK_FILE = ".tabgate.lock"
POLL_SECONDS = 0.5
log = logging.getLogger("flows.lock")


def _locked(path: Path, what: str, timeout: float) -> Callable[[str, float], RunLocked]:
    def error(holder: str, waited: float) -> RunLocked:
        return RunLocked(
            f"another run holds the project lock {path.resolve()} ({holder}); this {what} waited "
            f"{waited:.0f}s (monitor.run_lock_timeout_seconds={timeout:g}) and gave up. Let that run "
            "finish and start again; the lock is released automatically when its process exits")
    return error


@contextmanager
def project_lock(root: Path = Path("."), timeout: float = 1800.0, what: str = "training run",
                 logger: logging.Logger | logging.LoggerAdapter | None = None) -> Iterator[float]:
    """Hold the exclusive project lock for a run; yield the seconds waited; RunLocked after `timeout`."""
    path = Path(root) / LOCK_FILE
    with exclusive_lock(path, timeout, what, _locked(path, what, timeout), logger or log, POLL_SECONDS,
                        "project lock") as waited:
        yield waited
