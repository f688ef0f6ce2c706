"""Locking: one exclusive file lock (fcntl) for the project run lock and the registry lock.

A plain file lock is released by the kernel when the holding process exits, even on SIGKILL. The lock
file holds a line naming the holder (process, host, since when) so a waiting run can say who it waits for.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tasks.core.errors import TabgateError

log = logging.getLogger(__name__)


def lock_holder(path: Path) -> str:
    """Return the holder line written into a lock file, or 'unknown process'."""
    try:
        return Path(path).read_text(encoding="utf-8").strip() or "unknown process"
    except OSError:
        return "unknown process"


@contextmanager
def exclusive_lock(
    path: Path,
    timeout: float,
    what: str,
    on_timeout: Callable[[str, float], TabgateError],
    logger: logging.Logger | logging.LoggerAdapter | None = None,
    poll_seconds: float = 0.5,
    lock_name: str = "lock",
    on_acquired: Callable[[int], None] | None = None,
    why: str = "two runs at once would overwrite each other's outputs and registry entries",
) -> Iterator[float]:
    """Hold an exclusive lock on path; yield the seconds waited; raise on_timeout(holder, waited) after timeout.

    The first wait is logged once (naming the holder), so a queued run says why it is not starting.
    on_acquired(fd) is called once the lock is held: a child process given that descriptor (subprocess pass_fds)
    shares the lock, which then lasts until the last holder of the descriptor exits.
    """
    logger = logger or log
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+", encoding="utf-8")
    try:
        start, announced = time.monotonic(), False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= timeout:
                    raise on_timeout(lock_holder(path), waited) from None
                if not announced:
                    logger.warning(
                        "waiting for the %s %s: another run holds it (%s); %s", lock_name, path, lock_holder(path), why
                    )
                    announced = True
                time.sleep(poll_seconds)
        waited = time.monotonic() - start
        if announced:
            logger.info("%s acquired after waiting %.1fs", lock_name, waited)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{what}: pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC).isoformat(timespec='seconds')}\n")
        fh.flush()
        if on_acquired is not None:
            on_acquired(fh.fileno())
        try:
            yield waited
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()
