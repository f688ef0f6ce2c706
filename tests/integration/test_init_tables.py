"""`tabgate init` on the shared public tables: the params.yaml it writes loads and says the right thing,
and `tabgate run --engine dvc` completes on it in a scratch git + DVC project (the gate may reject)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tasks.core.config import load_config
from tests.conftest import REPO, SHARED_DATA
from tests.integration.test_pipeline import BIN, sh
from tests.support.scratch_project import commit_as_dvc_project, copy_code

# ../shared/data beside the repository (a worktree one level deeper finds it too)
SHARED = next((p / "shared" / "data" for p in REPO.parents if (p / "shared" / "data").is_dir()), SHARED_DATA)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.shared_data,
    pytest.mark.skipif(not SHARED.exists(), reason=f"{SHARED} is absent (the shared public tables)"),
]

TABLES = {  # file, target -> task, positive label, time column, time parts, id column
    "hotel": ("hotel_bookings.csv.gz", "is_canceled", "binary", 1, "arrival_date", True, None),
    "telco": ("WA_Fn-UseC_-Telco-Customer-Churn.csv.gz", "Churn", "binary", "Yes", None, False, "customerID"),
    "kc_house": ("kc_house_data.csv.gz", "price", "regression", None, "date", False, "id"),
}


def make_scratch_project(root: Path) -> Path:
    """Copy the code (no params.yaml, no data) into a fresh git + DVC project, as a clone a user starts from."""
    return commit_as_dvc_project(copy_code(root))


@pytest.mark.parametrize("name", list(TABLES))
def test_init_writes_params_that_load_and_infer_the_table(name: str, tmp_path: Path) -> None:
    file, target, task, positive, time, parts, ident = TABLES[name]
    proc = sh(sys.executable, "-m", "flows.cli", "init", str(SHARED / file), "--target", target, cwd=tmp_path)
    cfg = load_config(tmp_path / "params.yaml")
    assert (cfg.data.task, cfg.data.positive_label, cfg.data.time_column, cfg.data.id_column) == (task, positive, time, ident), (
        proc.stdout
    )
    assert (cfg.ingest.time_from_parts is not None) == parts
    assert cfg.data.target not in cfg.data.drop_columns
    assert not cfg.validate.keep_suspects and cfg.split.test_start is None  # nothing sample-specific
    assert ("roc_auc" in cfg.promote.thresholds) == (task == "binary")
    suite = json.loads((tmp_path / "gx" / "expectations" / "tabgate.json").read_text())
    assert len(suite["expectations"]) > 10
    assert "next: `tabgate run`" in proc.stdout


def test_init_then_dvc_run_completes_on_telco(tmp_path: Path) -> None:
    root = make_scratch_project(tmp_path / "project")
    sh(sys.executable, "-m", "flows.cli", "init", str(SHARED / TABLES["telco"][0]), "--target", "Churn", cwd=root)
    proc = sh(sys.executable, "-m", "flows.cli", "run", "--engine", "dvc", cwd=root)
    promotion = json.loads((root / "reports" / "promotion.json").read_text())
    assert "decision" in promotion or "promoted" in promotion, promotion.keys()
    assert json.loads((root / "reports" / "ingest.json").read_text())["rows"] == 7043
    status = sh(str(BIN / "dvc"), "status", "--json", cwd=root)
    assert json.loads(status.stdout or "{}") == {}, (status.stdout, proc.stderr[-2000:])
