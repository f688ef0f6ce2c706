"""Test support: the external services and programs some tests need, and one rule for when they are absent.

Outside CI a missing dependency (PostgreSQL, Chromium) skips the test with a reason. With `CI` set to a
true value it fails instead: CI installs them (`tools/install-test-deps.sh`, called by `make test`), so a
missing one there is a broken setup, not a reason to go green without running the test.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

TRUE_VALUES = {"1", "true", "yes", "on"}


def in_ci() -> bool:
    """Return True when the CI environment variable is set to a true value (CI=true, CI=1 ...)."""
    return os.environ.get("CI", "").strip().lower() in TRUE_VALUES


def missing_dependency(reason: str) -> NoReturn:
    """Skip the current test with reason, or fail it when running in CI; never returns."""
    if in_ci():
        pytest.fail(f"{reason} [CI is set: a missing test dependency is a failure, not a skip]", pytrace=False)
    pytest.skip(reason)
