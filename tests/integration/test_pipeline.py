"""The whole pipeline in a temporary git + DVC project: under `dvc repro`, under a Prefect flow, and both agree."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.support.scratch_project import commit_as_dvc_project, copy_code

pytestmark = pytest.mark.integration
STEPS = ["ingest", "validate", "split", "preprocess", "cv", "train", "evaluate", "explain", "promote"]
BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    """The environment a user has with the venv active."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "MPLBACKEND": "Agg",
    }


def sh(*cmd: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def small_params() -> dict:
    """The repository's params.yaml, shrunk so the whole pipeline runs in seconds."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"]["source"] = "sample/hotel_small.csv"
    params["validate"]["min_rows"] = 100
    params["cv"]["n_splits"] = 2
    params["train"].setdefault("lightgbm", {}).update(n_estimators=150, learning_rate=0.1)
    params["train"]["tune"].update(enabled=True, n_trials=2)  # a count of trials; no wall-clock cap
    params["evaluate"]["bootstrap_samples"] = 20
    params["explain"].update(sample_size=200, max_errors=100, slice_min_support=30)
    params["promote"]["bootstrap_samples"] = 20
    return params


def make_project(root: Path) -> Path:
    """Copy the code into a fresh git + DVC project with a 6,000-row sample of the hotel table."""
    copy_code(root)
    (root / "sample").mkdir()
    hotel = pd.read_csv(REPO / "sample" / "hotel_bookings.csv.gz")
    hotel.sample(6000, random_state=0).to_csv(root / "sample" / "hotel_small.csv", index=False)
    (root / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    return commit_as_dvc_project(root)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("dvc_project"))
    sh(sys.executable, "-m", "flows.cli", "ingest", cwd=root)
    proc = sh(str(BIN / "dvc"), "repro", cwd=root)
    (root / "first_repro.log").write_text(proc.stdout + proc.stderr)
    return root


@pytest.fixture(scope="module")
def flow_project(tmp_path_factory) -> tuple[Path, list[str], dict]:
    """Run the training flow under a real (test) Prefect API; return the project, task run names and the result."""
    from prefect.testing.utilities import prefect_test_harness

    root = make_project(tmp_path_factory.mktemp("flow_project"))
    old = Path.cwd()
    os.environ["PATH"] = env()["PATH"]
    with prefect_test_harness(server_startup_timeout=120):
        from prefect import get_client

        from flows.training import training_flow

        os.chdir(root)
        try:
            state = training_flow(params="params.yaml", return_state=True)
            result = state.result()
            second = training_flow(params="params.yaml")
        finally:
            os.chdir(old)

        import anyio

        async def task_names() -> list[str]:
            from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
            from prefect.client.schemas.sorting import TaskRunSort

            async with get_client() as client:
                runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
                    sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                    limit=200,
                )
                return [r.name for r in runs]

        names = anyio.run(task_names)
    return root, names, {"first": result, "second": second}


def test_dvc_repro_runs_every_stage(dvc_project):
    log = (dvc_project / "first_repro.log").read_text()
    for step in STEPS:
        assert f"Running stage '{step}'" in log
    metrics = json.loads((dvc_project / "reports" / "metrics.json").read_text())
    assert metrics["models"]["lightgbm"]["roc_auc"] > 0.8


def test_clean_sample_has_no_unexplained_suspect_and_is_promoted(dvc_project):
    reports = dvc_project / "reports"
    validate = json.loads((reports / "validate.json").read_text())
    suspects = [f for f in validate["suspects"] if f["severity"] == "suspect"]
    assert all(f["excused"] and f["reason"] for f in suspects), suspects  # named ones carry params.yaml's reason
    assert not [f for f in validate["suspects"] if f["severity"] == "error"]
    promotion = json.loads((reports / "promotion.json").read_text())
    rules = {r["rule"]: r for r in promotion["decision"]["rules"]}
    assert rules["leak suspects"]["passed"] is True and rules["near-perfect model"]["passed"] is True
    assert promotion["status"] == "promoted"
    split = json.loads((reports / "split.json").read_text())
    assert all(f["severity"] == "warn" for f in split["suspects"])
    assert "## Is the test set like the training part?" in (reports / "evaluate" / "report.md").read_text()
    assert "## Leak suspects and data findings" in (reports / "model_card.md").read_text()


def test_second_dvc_repro_does_nothing_and_says_so(dvc_project):
    proc = sh(str(BIN / "dvc"), "repro", cwd=dvc_project)
    assert "Running stage" not in proc.stdout
    assert "Data and pipelines are up to date" in proc.stdout + proc.stderr


def test_flow_runs_every_step_as_a_task_run(flow_project):
    _, names, result = flow_project
    for step in STEPS:
        assert step in names, f"no task run named {step}: {names}"
    assert result["first"]["ran"] == STEPS


def test_dvc_status_is_clean_after_a_flow_run(flow_project):
    root, _, _ = flow_project
    proc = sh(str(BIN / "dvc"), "status", cwd=root)
    assert "Data and pipelines are up to date" in proc.stdout, proc.stdout


def test_second_flow_run_skips_every_step(flow_project):
    _, _, result = flow_project
    assert result["second"]["ran"] == [] and result["second"]["skipped"] == STEPS


def test_both_callers_produce_the_same_outputs(dvc_project, flow_project):
    flow_root = flow_project[0]
    for rel in (
        "artifacts/split/test.parquet",
        "artifacts/models/lightgbm/model.txt",
        "reports/split.json",
        "reports/cv.json",
        "reports/train.json",
    ):
        assert digest(dvc_project / rel) == digest(flow_root / rel), rel
    a = json.loads((dvc_project / "reports/metrics.json").read_text())
    b = json.loads((flow_root / "reports/metrics.json").read_text())
    assert a["models"] == b["models"]
    assert (dvc_project / "data.dvc").read_text() == (flow_root / "data.dvc").read_text()


def test_cli_run_with_nothing_stale_starts_no_server(dvc_project):
    environment = {k: v for k, v in env().items() if k != "PREFECT_API_URL"}
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run"], cwd=dvc_project, env=environment, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "nothing to do" in proc.stderr and "no Prefect server was started" in proc.stderr
    assert "Starting temporary server" not in proc.stderr


def test_cli_run_after_a_threshold_change_runs_only_promote_in_a_flow(dvc_project):
    params = yaml.safe_load((dvc_project / "params.yaml").read_text())
    original = yaml.safe_dump(params, sort_keys=False)
    params["promote"]["thresholds"]["roc_auc"] = 0.5
    (dvc_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        environment = {k: v for k, v in env().items() if k != "PREFECT_API_URL"}
        proc = subprocess.run(
            [sys.executable, "-m", "flows.cli", "run"], cwd=dvc_project, env=environment, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert (
            "ran: promote; skipped (up to date): ingest, validate, split, preprocess, cv, train, evaluate, explain" in proc.stderr
        ), proc.stderr[-3000:]
        assert "Data and pipelines are up to date" in sh(str(BIN / "dvc"), "status", cwd=dvc_project).stdout
    finally:
        (dvc_project / "params.yaml").write_text(original)
        sh(str(BIN / "dvc"), "commit", "--force", "-q", cwd=dvc_project)
