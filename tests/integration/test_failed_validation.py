"""A run stopped by the data gate: exit 3, the validation summary in the UI, git and DVC state as before the run."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from tests.integration.test_pipeline import make_project, sh
from tests.integration.test_prefect_server import artifacts_of, flow_runs, prefect_server, tabgate

pytestmark = pytest.mark.integration


def test_failed_validation_publishes_its_summary_and_leaves_data_dvc_unchanged(tmp_path):
    root = make_project(tmp_path / "project")
    home = tmp_path / "prefect_home"
    with prefect_server(home) as url:
        proc = tabgate("ingest", cwd=root, home=home, url=url)
        assert proc.returncode == 0, proc.stderr[-3000:]
        sh("git", "add", "-A", cwd=root)
        sh("git", "commit", "-qm", "good snapshot and its suite", cwd=root)
        pointer = (root / "data.dvc").read_text()
        good = pd.read_csv(root / "sample" / "hotel_small.csv")
        good.assign(adr=np.nan).to_csv(root / "sample" / "hotel_small.csv", index=False)

        proc = tabgate("run", cwd=root, home=home, url=url)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 3, out[-3000:]
        latest = max(flow_runs(url, "tabgate-training"), key=lambda r: r.start_time)
        artifacts = {a["key"]: a["data"] for a in artifacts_of(url, latest.id)}

    summary = artifacts.get("validation-summary") or ""
    assert "Validation: FAILED" in summary, sorted(artifacts)
    assert "| error | adr | not_all_null |" in summary  # which rule, which column
    assert "run-failure" in artifacts and "adr" in artifacts["run-failure"]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    assert "data.dvc" not in status, status
    assert (root / "data.dvc").read_text() == pointer
    restored = pd.read_csv(next((root / "data").iterdir()))
    assert restored["adr"].notna().all()  # data/ is the committed snapshot again, not the bad table
