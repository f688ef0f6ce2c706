"""Model bundles write the same bytes for the same object: no time, memory address or uuid in a .skops file."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tasks.core import io
from tasks.core.config import DataParams, PreprocessParams
from tasks.core.schema import infer_feature_types
from tasks.modelling.bundle import load_bundle, load_skops, save_preprocessor
from tasks.modelling.preprocessing import fit_preprocessors, transform_frame
from tests.conftest import REPO, synthetic_frame, tiny_lightgbm_bundle

DATA = DataParams(target="label", time_column="when", id_column="customer")


def fitted(seed: int = 0) -> tuple[dict, object]:
    df = synthetic_frame(n=300, seed=seed)
    ft = infer_feature_types(df, DATA)
    return fit_preprocessors(df, ft, PreprocessParams(min_category_frequency=1)), (df, ft)


def test_the_same_preprocessor_saved_twice_gives_the_same_bytes_and_still_loads(tmp_path):
    pres, (df, ft) = fitted()
    for kind, pre in pres.items():
        save_preprocessor(pre, tmp_path / f"a_{kind}.skops")
        save_preprocessor(pre, tmp_path / f"b_{kind}.skops")
        a, b = (tmp_path / f"a_{kind}.skops").read_bytes(), (tmp_path / f"b_{kind}.skops").read_bytes()
        assert a == b, f"{kind}: two saves of one object differ"
        with zipfile.ZipFile(tmp_path / f"a_{kind}.skops") as zf:
            infos = zf.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr for i in infos} == {0o644 << 16}
        loaded = load_skops(tmp_path / f"a_{kind}.skops")  # the exact allowlist still accepts it
        np.testing.assert_array_equal(transform_frame(loaded, df, list(ft.all)), transform_frame(pre, df, list(ft.all)))


def test_a_bundle_saved_twice_gives_byte_identical_directories(tmp_path):
    df = synthetic_frame(n=300)
    for dest in ("one", "two"):
        tiny_lightgbm_bundle(df, tmp_path / dest, ("x1", "x2"), ("colour",), DATA, rounds=5)
    assert io.sha256_tree(tmp_path / "one") == io.sha256_tree(tmp_path / "two")
    assert load_bundle(tmp_path / "two").predict_scores(df).shape == (len(df),)


SCRIPT = """
import sys
from pathlib import Path
from tests.unit.test_bundle import fitted
from tasks.modelling.bundle import save_preprocessor
for kind, pre in fitted()[0].items():
    save_preprocessor(pre, Path(sys.argv[1]) / f"{kind}.skops")
"""


@pytest.mark.parametrize("seeds", [("1", "2")])
def test_two_processes_write_the_same_bytes(tmp_path, seeds):
    """Different address spaces and hash seeds: what a second `dvc repro` is."""
    for seed in seeds:
        (tmp_path / seed).mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / seed)], cwd=REPO, env=env, check=True)
    first, second = (io.sha256_tree(Path(tmp_path / s)) for s in seeds)
    assert first == second and len(first) == 2
