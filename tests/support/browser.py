"""Headless Chromium for the rendering checks: Debian's `chromium`, found on PATH or at /usr/bin/chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import missing_dependency

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def find_chromium() -> Path | None:
    """Return the chromium executable, or None when it is not installed."""
    found = shutil.which("chromium")
    if found:
        return Path(found)
    return DEBIAN_CHROMIUM if DEBIAN_CHROMIUM.is_file() else None


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The chromium executable; skips when it is absent, fails instead under CI=true."""
    path = find_chromium()
    if path is None:
        missing_dependency("chromium is not installed (headless browser check); apt-get install chromium, "
                           "or run tools/install-test-deps.sh as root")
    return path
