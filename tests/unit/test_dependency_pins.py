"""Pins that keep a real Prefect 3.8 server usable: its scheduler (SQLAlchemy) and its filter endpoints (FastAPI)."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import REPO

PINS = {
    # package: (first broken version, what breaks)
    "sqlalchemy": (
        "2.1",
        "Prefect 3.8's server scheduler fails every loop with \"Can't evaluate bulk DML "
        'statement" on SQLAlchemy 2.1, so scheduled runs never fire',
    ),
    "fastapi": (
        "0.151",
        "the Prefect 3.8 server answers 422 to its client's `limit: null` on FastAPI 0.151+, so `prefect deployment ls` crashes",
    ),
}


def project_requirement(name: str) -> Requirement:
    """Return the requirement on name in pyproject.toml's [project] dependencies."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    found = [Requirement(d) for d in deps if Requirement(d).name.lower() == name]
    assert len(found) == 1, f"pyproject.toml must list {name} once, found {found}"
    return found[0]


@pytest.mark.parametrize("name", sorted(PINS))
def test_pyproject_excludes_the_broken_version(name):
    broken, why = PINS[name]
    spec = project_requirement(name).specifier
    assert not spec.contains(broken, prereleases=True), f"pyproject.toml allows {name} {broken} ({spec}): {why}"


@pytest.mark.parametrize("name", sorted(PINS))
def test_installed_version_is_below_the_broken_one(name):
    broken, why = PINS[name]
    installed = Version(version(name))
    assert installed < Version(broken), (
        f"{name} {installed} is installed: {why}; run `pip install -e .` (pyproject.toml pins {name} below {broken})"
    )
