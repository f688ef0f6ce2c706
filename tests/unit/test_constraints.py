"""The libraries that decide the model's bytes are installed at the exact versions constraints.txt records.

A fresh clone's `make install` installs with `-c constraints.txt`; without it a new scikit-learn release moved the
linear baseline's test metrics and rewrote dvc.lock on a clone that changed nothing.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest

from tests.conftest import REPO

MODEL_LIBRARIES = ("lightgbm", "scikit-learn", "numpy", "pandas", "scipy", "pyarrow", "skops", "shap")


def pinned() -> dict[str, str]:
    """Return constraints.txt as {normalised name: version}."""
    out = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_make_install_uses_the_constraints():
    recipe = (REPO / "Makefile").read_text()
    install = [ln for ln in recipe.splitlines() if "pip install" in ln and "-e " in ln]
    assert install and all("-c constraints.txt" in ln for ln in install), install
    assert re.search(r"^\$\(STAMP\):.*constraints\.txt", recipe, re.M), "the venv is not rebuilt when constraints change"


@pytest.mark.parametrize("name", MODEL_LIBRARIES)
def test_model_libraries_are_pinned_exactly_and_installed_at_the_pin(name):
    pins = pinned()
    assert name in pins, f"constraints.txt does not pin {name}"
    assert version(name) == pins[name], (
        f"{name} {version(name)} is installed, constraints.txt says {pins[name]}: run `make install` "
        "(or `make constraints` after a reviewed upgrade, with the dvc.lock it gives)"
    )
