"""Operations on the served project (tests/integration/test_prefect_server.py trains it once per session):
caching, the run lock, a run killed mid-step and resumed, monitoring with retraining, and failure reporting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.integration.test_pipeline import BIN, env
from tests.integration.test_prefect_server import (
    api,
    artifacts_of,
    flow_runs,
    ran_steps,
    server_env,
    shared_project,
    tabgate,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory, request) -> dict:
    return shared_project(tmp_path_factory, request)


def edit_params(root: Path, section: str, **values) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def dvc_clean(root: Path) -> bool:
    proc = subprocess.run([str(BIN / "dvc"), "status"], cwd=root, env=env(), capture_output=True, text=True)
    return "Data and pipelines are up to date" in proc.stdout


def run(served: dict, *args: str) -> subprocess.CompletedProcess:
    return tabgate(*args, cwd=served["root"], home=served["home"], url=served["url"])


def test_second_run_executes_no_step_and_a_threshold_change_reruns_only_promote(served):
    proc = run(served, "run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ran_steps(proc.stdout + proc.stderr) == []
    edit_params(served["root"], "promote", thresholds={"roc_auc": 0.75, "pr_auc": 0.55})
    proc = run(served, "run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ran_steps(proc.stdout + proc.stderr) == ["promote"]
    assert dvc_clean(served["root"])


def test_a_run_that_cannot_get_the_lock_fails_clearly(served):
    from flows.lock import project_lock

    edit_params(served["root"], "monitor", run_lock_timeout_seconds=2)
    try:
        with project_lock(served["root"], timeout=1, what="test holder"):
            proc = run(served, "run")
    finally:
        edit_params(served["root"], "monitor", run_lock_timeout_seconds=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 5, out[-3000:]
    assert "another run holds the project lock" in out and "test holder" in out
    failed = flow_runs(served["url"], "tabgate-training")
    latest = max(failed, key=lambda r: r.start_time)
    assert latest.state.is_failed()
    failure = [a for a in artifacts_of(served["url"], latest.id) if a["key"] == "run-failure"]
    assert failure and "another run holds the project lock" in failure[0]["data"]


def running_task(url: str, name: str) -> bool:
    from prefect.client.schemas.filters import (
        TaskRunFilter,
        TaskRunFilterName,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import TaskRunSort

    async def read(client):
        return await client.read_task_runs(
            task_run_filter=TaskRunFilter(
                name=TaskRunFilterName(any_=[name]),
                state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.RUNNING])),
            ),
            sort=TaskRunSort.EXPECTED_START_TIME_DESC,
            limit=5,
        )

    return bool(api(url, read))


def test_a_run_killed_during_cv_resumes_from_cv(served, tmp_path):
    root = served["root"]
    edit_params(root, "cv", n_splits=3)
    log = open(tmp_path / "killed.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run"],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=server_env(served["home"], served["url"]),
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not running_task(served["url"], "cv"):
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "killed.log").read_text()[-3000:]
        time.sleep(0.3)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    assert not dvc_clean(root)  # cv never finished: DVC still sees it stale
    resumed = run(served, "run")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ran = ran_steps(resumed.stdout + resumed.stderr)
    assert ran and ran[0] == "cv" and "ingest" not in ran, ran
    assert json.loads((root / "reports" / "cv.json").read_text())["n_splits"] == 3
    assert dvc_clean(root)
    assert not list((root / "registry" / "versions").glob(".incoming-*"))


def write_batches(root: Path) -> tuple[Path, Path]:
    source = pd.read_csv(root / "sample" / "hotel_small.csv")
    quiet = source.sample(1500, random_state=3)
    drifted = quiet.copy()
    drifted["lead_time"] = drifted["lead_time"] * 5 + 400
    (root / "incoming").mkdir(exist_ok=True)
    quiet.to_csv(root / "incoming" / "quiet.csv", index=False)
    drifted.to_csv(root / "incoming" / "drifted.csv", index=False)
    return root / "incoming" / "quiet.csv", root / "incoming" / "drifted.csv"


def test_monitor_retrains_on_a_drifted_batch_and_records_why(served):
    root = served["root"]
    quiet, drifted = write_batches(root)
    proc = run(served, "monitor", str(quiet))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "no retraining needed" in proc.stdout
    report = json.loads((root / "reports" / "monitor.json").read_text())
    assert report["retrain"] is False and report["performance"]["judged"] is True

    trainings = len(flow_runs(served["url"], "tabgate-training"))
    proc = run(served, "monitor", str(drifted), "--no-retrain")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RETRAIN" not in proc.stdout and "retraining started" not in proc.stdout
    assert "would be advised, but it is disabled (--no-retrain): nothing started" in proc.stdout
    assert len(flow_runs(served["url"], "tabgate-training")) == trainings

    proc = run(served, "monitor", str(drifted))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "retraining started: the training flow ran" in proc.stdout and "lead_time" in proc.stdout
    report = json.loads((root / "reports" / "monitor.json").read_text())
    assert report["retrain"] is True and report["drifted_features"] == ["lead_time"]
    runs = flow_runs(served["url"], "tabgate-monitoring")
    latest = max(runs, key=lambda r: r.start_time)
    trigger = [a for a in artifacts_of(served["url"], latest.id) if a["key"] == "retrain-trigger"]
    assert trigger and "lead_time" in trigger[0]["data"]
    training = max(flow_runs(served["url"], "tabgate-training"), key=lambda r: r.start_time)
    assert training.parent_task_run_id is not None and training.state.is_completed()  # ran as a subflow


def test_automatic_retrain_forces_approval_on():
    from flows.training import with_approval
    from tests.conftest import make_config

    cfg = make_config(Path("/tmp/x"))
    assert with_approval(cfg, True).promote.require_approval is True
    assert with_approval(cfg, None) is cfg


def test_a_failed_step_exits_non_zero_and_leaves_the_error_in_the_ui(served):
    root = served["root"]
    params = yaml.safe_load((root / "params.yaml").read_text())
    params.setdefault("paths", {}).update(ingested="failed/ingested.parquet", reports_dir="failed/reports")
    params["data"]["target"] = "no_such_label"
    (root / "failing.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run(served, "--params", "failing.yaml", "run", "--no-snapshot")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out[-3000:]
    latest = max(flow_runs(served["url"], "tabgate-training"), key=lambda r: r.start_time)
    assert latest.state.is_failed()
    failure = [a for a in artifacts_of(served["url"], latest.id) if a["key"] == "run-failure"]
    assert failure and "no_such_label" in failure[0]["data"] and "bad input" in failure[0]["data"]
    assert dvc_clean(root)
