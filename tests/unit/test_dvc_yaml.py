"""dvc.yaml as DVC's users read it: where the steps write is set once (its `vars`, equal to the config's defaults),
params.yaml holds the user's choices only, and `dvc exp show` on the bundled sample fits in 80 columns."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from flows import dvc_sync
from tasks.core.config import PathsParams
from tasks.core.errors import ConfigError
from tests.conftest import REPO

MAX_EXP_SHOW_COLUMNS = 80


def dvc_vars_paths() -> dict:
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))
    return next(v["paths"] for v in dvc["vars"] if isinstance(v, dict) and "paths" in v)


def test_dvc_yaml_vars_paths_are_the_configs_defaults():
    assert dvc_vars_paths() == {k: v.as_posix() for k, v in PathsParams().model_dump().items()}


def test_bundled_params_yaml_sets_no_paths_and_no_stage_lists_them():
    assert "paths" not in yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert [name for name, st in stages.items() if "paths" in (st.get("params") or [])] == []


def test_params_yaml_with_paths_beside_dvc_yaml_vars_is_refused_naming_key_and_files(tmp_path, monkeypatch):
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "params.yaml").write_text("paths:\n  reports_dir: elsewhere\ndata:\n  target: y\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        dvc_sync.require_project_params("params.yaml")
    assert "`paths`" in str(err.value) and "dvc.yaml" in str(err.value) and "params.yaml" in str(err.value)
    with pytest.raises(ConfigError):
        dvc_sync.uses_dvc_pipeline("params.yaml")  # the Prefect engine (and scheduled runs) refuse it too
    (tmp_path / "params.yaml").write_text("data:\n  target: y\n")
    dvc_sync.require_project_params("params.yaml")
    assert dvc_sync.uses_dvc_pipeline("params.yaml")


def test_dvc_itself_refuses_paths_in_params_yaml_beside_the_vars(tmp_path):
    """The premise of the check above: DVC does not let params.yaml override dvc.yaml's vars."""
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([dvc_sync.dvc_bin(), "init", "-q"], cwd=tmp_path, check=True)
    ok = subprocess.run([dvc_sync.dvc_bin(), "stage", "list"], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    with (tmp_path / "params.yaml").open("a") as f:
        f.write("paths:\n  reports_dir: elsewhere\n")
    bad = subprocess.run([dvc_sync.dvc_bin(), "stage", "list"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0 and "paths" in bad.stderr + bad.stdout


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="dvc exp show needs the git repository (a clone)")
def test_dvc_exp_show_on_the_bundled_sample_fits_in_80_columns():
    out = subprocess.run(
        [dvc_sync.dvc_bin(), "exp", "show", "--csv", "--no-fetch"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    header = next(csv.reader(io.StringIO(out)))
    assert len(header) <= MAX_EXP_SHOW_COLUMNS, f"{len(header)} columns: {header}"
    assert "test.lightgbm.roc_auc" in header and "train.lightgbm.num_leaves" in header
    assert not [c for c in header if c.startswith("paths.") or c.startswith("tasks/")], header
    assert Path("tasks").as_posix() in header  # the step code: one column
