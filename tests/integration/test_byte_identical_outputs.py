"""Two runs of the steps on the same inputs, in two project copies, write byte-identical files (every output's sha256).

Not only the same model text: .skops files, meta.json checksums, manifests, parquet, reports. A file that differs
would change the artifacts/ hashes in dvc.lock and the registry digest although nothing did.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from tests.integration.test_pipeline import make_project, sh

pytestmark = pytest.mark.integration
STEPS = ["ingest", "validate", "split", "preprocess", "cv", "train", "evaluate"]
# Written by Great Expectations per run (validation results keyed by run time, Data Docs): a record of the run,
# not an output of the steps, and outside artifacts/ and reports/.
OUTPUTS = ("artifacts", "reports")


def outputs(root: Path) -> dict[str, str]:
    """Return {path: sha256} of every file the steps wrote below artifacts/ and reports/."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for top in OUTPUTS
        for p in sorted((root / top).rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    roots = []
    for name in ("first", "second"):
        root = make_project(tmp_path_factory.mktemp(name))
        sh(sys.executable, "-m", "flows.cli", "ingest", cwd=root)
        for step in STEPS:
            sh(sys.executable, "-m", f"tasks.{step}", cwd=root)
        roots.append(root)
    return roots[0], roots[1]


def test_two_runs_write_byte_identical_outputs(two_runs):
    first, second = two_runs
    a, b = outputs(first), outputs(second)
    assert any(name.endswith(".skops") for name in a), "the run wrote no skops file: nothing was compared"
    assert any(name.endswith("meta.json") for name in a)
    assert set(a) == set(b)
    differ = sorted(name for name in a if a[name] != b[name])
    assert not differ, f"these outputs differ between two identical runs: {differ}"


def test_the_ingested_snapshot_is_byte_identical(two_runs):
    first, second = two_runs
    data = [
        {
            str(p.relative_to(r)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((r / "data").rglob("*"))
            if p.is_file()
        }
        for r in (first, second)
    ]
    assert data[0] and data[0] == data[1]
    assert (first / "data.dvc").read_text() == (second / "data.dvc").read_text()
