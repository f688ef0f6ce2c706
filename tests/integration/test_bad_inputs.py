"""Bad input through the real command line: a clear message, a non-zero exit, and the production model untouched."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.test_pipeline import BIN, make_project, sh

pytestmark = pytest.mark.integration


def tree_digest(root: Path) -> str:
    """Return one sha256 over every file below root (the registry's whole state)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != ".lock":
            h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project whose first run promoted a model to production."""
    root = make_project(tmp_path_factory.mktemp("bad_inputs"))
    sh(sys.executable, "-m", "flows.cli", "run", "--engine", "dvc", cwd=root)
    assert (root / "registry" / "production.json").exists()
    shutil.copy(root / "sample" / "hotel_small.csv", root / "good.csv")
    return root


def good(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "good.csv")


def write_csv(root: Path, df: pd.DataFrame) -> None:
    df.to_csv(root / "sample" / "hotel_small.csv", index=False)


def missing_column(root):
    write_csv(root, good(root).drop(columns=["lead_time"]))


def renamed_column(root):
    write_csv(root, good(root).rename(columns={"adr": "adr_eur"}))


def numbers_as_text(root):
    write_csv(root, good(root).assign(lead_time=lambda d: "days:" + d["lead_time"].astype(str)))


def all_null_column(root):
    write_csv(root, good(root).assign(adr=np.nan))


def single_class_label(root):
    write_csv(root, good(root).assign(is_canceled=0))


def future_timestamps(root):
    df = good(root)
    df.loc[df.index[:50], "arrival_date_year"] = 2099
    write_csv(root, df)


def impossible_values(root):
    df = good(root)
    df.loc[df.sample(frac=0.03, random_state=0).index, "adr"] = 1e12  # 3% of the daily rates; reference max ~5,400
    write_csv(root, df)


def empty_file(root):
    (root / "sample" / "hotel_small.csv").write_text("")


def truncated_csv(root):
    text = (root / "good.csv").read_text()
    header, rest = text.split("\n", 1)
    (root / "sample" / "hotel_small.csv").write_text(header + "\n" + rest[:5000] + '"unterminated,quote\n1,2')


def not_a_table(root):
    (root / "sample" / "hotel_small.csv").write_bytes(bytes(range(256)) * 40)


CASES = {
    # case: (how to break the source, words the user must see)
    "missing column": (missing_column, ["lead_time", "missing"]),
    "renamed column": (renamed_column, ["adr", "adr_eur"]),
    "numbers as text": (numbers_as_text, ["lead_time"]),
    "all-null column": (all_null_column, ["adr", "null"]),
    "single-class label": (single_class_label, ["is_canceled"]),
    "future timestamps": (future_timestamps, ["arrival_date", "future"]),
    "impossible values": (impossible_values, ["adr", "impossible_value", "reports/validate.json"]),
    "empty file": (empty_file, ["hotel_small.csv"]),
    "truncated csv": (truncated_csv, ["hotel_small.csv"]),
    "not a table": (not_a_table, ["hotel_small.csv"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_clearly_and_leaves_production_untouched(project, case):
    breaker, words = CASES[case]
    before = tree_digest(project / "registry")
    breaker(project)
    try:
        proc = sh(sys.executable, "-m", "flows.cli", "run", "--engine", "dvc", cwd=project, check=False)
    finally:
        shutil.copy(project / "good.csv", project / "sample" / "hotel_small.csv")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"{case}: exit 0\n{output[-2000:]}"
    for word in words:
        assert word.lower() in output.lower(), f"{case}: '{word}' not in the message:\n{output[-3000:]}"
    if "validate" in output and "failed" in output:
        assert "reports/validate.json" in output  # the file to open
    assert tree_digest(project / "registry") == before, f"{case}: the registry changed"
    assert not list((project / "artifacts").rglob("*.tmp")), "a half-written file was left behind"


def test_good_input_runs_again_afterwards(project):
    proc = sh(str(BIN / "dvc"), "status", cwd=project, check=False)
    sh(sys.executable, "-m", "flows.cli", "run", "--engine", "dvc", cwd=project)
    assert "Data and pipelines are up to date" in sh(str(BIN / "dvc"), "status", cwd=project).stdout, proc.stdout


@pytest.mark.parametrize(
    "keep,key",
    [
        ({"country": ""}, "validate.keep_suspects.country"),  # an excuse without a reason
        ({"no_such_column": "known at booking"}, "validate.keep_suspects.no_such_column"),  # a column the table lacks
    ],
)
def test_bad_keep_suspects_exit_2_naming_the_key(project, keep, key):
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["validate"]["keep_suspects"] = keep
    (project / "bad_keep.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = tree_digest(project / "registry")
    proc = sh(sys.executable, "-m", "flows.cli", "--params", "bad_keep.yaml", "step", "validate", cwd=project, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-2000:]
    assert key in output
    assert tree_digest(project / "registry") == before


def test_impossible_values_exit_3_naming_column_rule_and_report(project):
    before = tree_digest(project / "registry")
    ingested = project / "artifacts" / "ingested.parquet"
    shutil.copy(ingested, project / "ingested.good")
    df = pd.read_parquet(ingested)
    df.loc[df.sample(frac=0.03, random_state=0).index, "adr"] = 1e12
    df.to_parquet(ingested)
    try:
        proc = sh(sys.executable, "-m", "flows.cli", "step", "validate", cwd=project, check=False)
    finally:
        shutil.copy(project / "ingested.good", ingested)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 3, output[-2000:]
    assert "column 'adr' [impossible_value]:" in output and "Open reports/validate.json" in output
    assert tree_digest(project / "registry") == before
