"""Scheduled runs fire on a REAL `prefect server start` (issue 17): `tabgate serve` registers the deployments,
the server's own scheduler creates their runs every minute, and the served process completes them. Both
schedules point at a batch file that does not exist, so each run must complete with its "nothing to do"
note instead of failing. Fails when the server's scheduler is broken (SQLAlchemy 2.1) or when
`prefect deployment ls` is (FastAPI 0.151+)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from flows.deploy import DEPLOYMENTS, ON_DEMAND
from tasks.core.config import load_config
from tests.integration.test_pipeline import make_project
from tests.integration.test_prefect_server import api, artifacts_of, prefect_server, server_env
from tests.support.processes import stop_process_group

pytestmark = pytest.mark.integration
EVERY_MINUTE = "* * * * *"
# served deployment: (artifact key, the note its run must publish when the batch is missing)
MISSING_BATCH = {
    "tabgate-scoring": ("scoring-summary", "nothing to score at"),
    "tabgate-monitoring": ("monitor-decision", "no batch at"),
}
SCHEDULER_WAIT = 150  # seconds: the next minute boundary, the runner's pickup, and a run that does nothing


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict]:
    """A scratch project whose scoring and monitoring schedules fire every minute, served against a real server."""
    root = make_project(tmp_path_factory.mktemp("scheduled_project"))
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["monitor"]["schedules"] = {
        "training": {"cron": "0 3 * * 1", "enabled": False},
        "scoring": {"cron": EVERY_MINUTE},
        "monitoring": {"cron": EVERY_MINUTE},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert not (root / load_config(root / "params.yaml").monitor.batch_path).exists()
    home = tmp_path_factory.mktemp("scheduled_prefect_home")
    with prefect_server(home) as url, open(home / "serve.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve"],
            cwd=root,
            env=server_env(home, url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield {"root": root, "home": home, "url": url, "deployments": wait_for_deployments(url, home, proc)}
        finally:
            stop_process_group(proc, signal.SIGINT, timeout=30)


def wait_for_deployments(url: str, home: Path, proc: subprocess.Popen, timeout: float = 90) -> dict:
    """Return {name: deployment} once `tabgate serve` has registered all of flows.deploy.DEPLOYMENTS."""
    from prefect.client.schemas.sorting import DeploymentSort

    deadline = time.monotonic() + timeout
    while True:
        deps = {d.name: d for d in api(url, lambda c: c.read_deployments(sort=DeploymentSort.NAME_ASC, limit=20))}
        if len(deps) == len(DEPLOYMENTS):
            return deps
        assert proc.poll() is None and time.monotonic() < deadline, f"tabgate serve registered {sorted(deps)}:\n{logs(home)}"
        time.sleep(1)


def logs(home: Path) -> str:
    """Return the server's error lines and the end of the serve log, for assertion messages."""
    server = (home / "server.log").read_text(errors="replace").splitlines()
    errors = [line for line in server if "Error" in line or "ERROR" in line][-8:]
    serve = (home / "serve.log").read_text(errors="replace")[-3000:]
    return "server.log errors:\n" + "\n".join(errors) + "\nserve.log (end):\n" + serve


def scheduled_runs(url: str, deployment_id) -> list:
    """Return the flow runs of one deployment that the server's scheduler created."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId

    runs = api(
        url,
        lambda c: c.read_flow_runs(
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id])), limit=200
        ),
    )
    return [
        r
        for r in runs
        if r.auto_scheduled
        and r.created_by
        and r.created_by.type == "SCHEDULE"
        and (r.idempotency_key or "").startswith(f"scheduled {deployment_id}")
    ]


def test_prefect_deployment_ls_lists_the_served_deployments(served):
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "prefect"), "deployment", "ls"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**server_env(served["home"], served["url"]), "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    for name in served["deployments"]:
        assert f"{name}/{name}" in proc.stdout, proc.stdout


def test_the_server_scheduler_fires_the_every_minute_schedules_and_the_runs_complete(served):
    """The scheduler (not the test) creates SCHEDULED runs; serve executes them; a missing batch is a note."""
    url, deps = served["url"], served["deployments"]
    active = {n: [s.active for s in d.schedules] for n, d in deps.items()}
    assert active == {
        "tabgate-training": [False],
        "tabgate-scoring": [True],
        "tabgate-monitoring": [True],
        **{f"tabgate-{n}": [] for n in ON_DEMAND},
    }, active  # approval, registry actions: no schedule
    deadline = time.monotonic() + SCHEDULER_WAIT
    done: dict = {}
    while set(done) != set(MISSING_BATCH) and time.monotonic() < deadline:
        for name in set(MISSING_BATCH) - set(done):
            runs = scheduled_runs(url, deps[name].id)
            if failed := [r for r in runs if r.state.is_final() and not r.state.is_completed()]:
                pytest.fail(f"{name}: scheduled run {failed[0].name} ended {failed[0].state}\n{logs(served['home'])}")
            if completed := [r for r in runs if r.state.is_completed()]:
                done[name] = completed[0]
        time.sleep(3)
    assert set(done) == set(MISSING_BATCH), (
        f"within {SCHEDULER_WAIT} s the server's scheduler created and serve completed runs only for {sorted(done)}; "
        f"scheduled runs seen: { {n: len(scheduled_runs(url, deps[n].id)) for n in MISSING_BATCH} }\n"
        f"{logs(served['home'])}"
    )
    for name, run in done.items():
        states = api(url, lambda c, run=run: c.read_flow_run_states(run.id))
        assert states[0].type.value == "SCHEDULED", f"{name}: first state {states[0]}"
        key, note = MISSING_BATCH[name]
        batch = served["root"] / "incoming" / "batch.csv"
        texts = [a["data"] for a in artifacts_of(url, run.id) if a["key"] == key]
        assert texts and f"{note} {batch}" in texts[0], f"{name}: artifact {key} of run {run.name}: {texts}"
