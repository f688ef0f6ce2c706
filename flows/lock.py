"""The project lock: one writer at a time per project folder (fcntl on .tabgate.lock).

Every way in that writes data/, the pipeline outputs or the registry takes it: `tabgate run` (both
engines), `tabgate step`, `tabgate ingest`, `tabgate models promote/rollback`, `tabgate validate
--bootstrap` and the training flow itself (scheduled runs). It is a plain file lock, released by the
kernel when the holding process exits, even on SIGKILL. A second run waits (and logs why), then fails
with exit 5 naming the lock file and the holder.

The lock is re-entrant within one process (the CLI holding it may run the training flow, which takes it
again). `lock_fd()` gives the descriptor of the held lock so a child process (`dvc repro`) can share it:
the lock then lasts until the last of them exits, so a killed `tabgate` does not free the folder while
its `dvc repro` is still writing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tasks.core.errors import RunLocked
from tasks.core.locking import exclusive_lock

LOCK_FILE = ".tabgate.lock"
POLL_SECONDS = 0.5
log = logging.getLogger("flows.lock")
_guard = threading.Lock()
_held: dict[Path, list[int]] = {}  # resolved lock path -> [depth, fd] while this process holds it


def _locked(path: Path, what: str, timeout: float) -> Callable[[str, float], RunLocked]:
    def error(holder: str, waited: float) -> RunLocked:
        return RunLocked(
            f"another run holds the project lock {path.resolve()} ({holder}); this {what} waited "
            f"{waited:.0f}s (monitor.run_lock_timeout_seconds={timeout:g}) and gave up. Let that run "
            "finish and start again; the lock is released automatically when its process exits"
        )

    return error


def _enter_held(path: Path) -> bool:
    """Count one more use of a lock this process already holds; False when it does not hold it."""
    with _guard:
        if path in _held:
            _held[path][0] += 1
            return True
        return False


def _leave_held(path: Path) -> None:
    with _guard:
        _held[path][0] -= 1


def lock_fd(root: Path = Path(".")) -> int | None:
    """Return the file descriptor of the project lock this process holds for root, or None."""
    with _guard:
        entry = _held.get((Path(root) / LOCK_FILE).resolve())
        return entry[1] if entry else None


@contextmanager
def project_lock(
    root: Path = Path("."),
    timeout: float = 1800.0,
    what: str = "training run",
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> Iterator[float]:
    """Hold the exclusive project lock; yield the seconds waited (0 when this process holds it already).

    RunLocked (exit 5) after `timeout` seconds, naming the lock file and the holder.
    """
    path = (Path(root) / LOCK_FILE).resolve()
    if _enter_held(path):
        try:
            yield 0.0
        finally:
            _leave_held(path)
        return

    def remember(fd: int) -> None:
        with _guard:
            _held[path] = [1, fd]

    try:
        with exclusive_lock(
            path, timeout, what, _locked(path, what, timeout), logger or log, POLL_SECONDS, "project lock", on_acquired=remember
        ) as waited:
            yield waited
    finally:
        with _guard:
            _held.pop(path, None)
