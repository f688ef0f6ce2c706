"""The flows against a REAL `prefect server start` (SQLite in a temp folder): task runs, artifacts, tags,
served deployments with cron schedules, and a headless-browser screenshot of the flow run page."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anyio
import httpx
import pandas as pd
import pytest
import yaml

from flows.deploy import DEPLOYMENTS
from tests.conftest import REPO
from tests.integration.test_pipeline import STEPS, env, make_project
from tests.support.processes import stop_process_group

pytestmark = pytest.mark.integration
ARTIFACT_KEYS = {
    "validation-summary",
    "data-docs",
    "cv-table",
    "test-metrics",
    "explain-report",
    "error-slices",
    "promotion-decision",
    "promotion-rules",
    "run-summary",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(home: Path, url: str | None = None) -> dict[str, str]:
    """The environment of a process that talks to (or is) the test server: own PREFECT_HOME, analytics off."""
    e = {
        **env(),
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    if url:
        e["PREFECT_API_URL"] = url
    return e


@contextmanager
def prefect_server(home: Path, startup_timeout: float = 120, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `prefect server start` on a free loopback port; yield its API URL; stop it afterwards.

    extra_env: server settings a test needs (e.g. a shorter late-run threshold); {port} in a value is the port."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    e = {
        **server_env(home),
        "PREFECT_UI_API_URL": f"{base}/api",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        **{k: v.replace("{port}", str(port)) for k, v in (extra_env or {}).items()},
    }
    e.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=e,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"prefect server did not start:\n{(home / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"{base}/api"
    finally:
        stop_process_group(proc)
        log.close()


def tabgate(*args: str, cwd: Path, home: Path, url: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m flows.cli ARGS` in a project against the test server."""
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=cwd,
        env=server_env(home, url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def api(url: str, coro_fn):
    """Run coro_fn(client) with a PrefectClient bound to url; return its result."""
    from prefect.client.orchestration import PrefectClient

    async def main():
        async with PrefectClient(api=url) as client:
            return await coro_fn(client)

    return anyio.run(main)


async def _flow_runs(client, flow_name: str):
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    return await client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])), sort=FlowRunSort.START_TIME_DESC, limit=50
    )


def flow_runs(url: str, flow_name: str) -> list:
    return api(url, lambda c: _flow_runs(c, flow_name))


def task_run_names(url: str, flow_run_id) -> list[str]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    async def read(client):
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            limit=200,
        )
        return [r.name for r in runs]

    return api(url, read)


def artifacts_of(url: str, flow_run_id) -> list[dict]:
    """Return the artifacts of a flow run (REST: this server rejects the client's null flow_runs/task_runs)."""
    r = httpx.post(
        f"{url}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}}, "sort": "CREATED_DESC", "limit": 200},
        timeout=30,
    )
    r.raise_for_status()
    return r.json()


def ran_steps(output: str) -> list[str]:
    """Return the steps a `tabgate run` ran, read from its final log line."""
    import re

    match = re.findall(r"ran: (.*?); skipped", output)
    assert match, f"no 'ran:' line in the output:\n{output[-3000:]}"
    return [] if match[-1] == "nothing" else match[-1].split(", ")


def shared_project(tmp_path_factory, request) -> dict:
    """Once per session: a real server and a temp project trained by TWO `tabgate run` started together."""
    # cached on the pytest config: this module is imported under two names (by pytest and by test_ops.py)
    if getattr(request.config, "_tabgate_served", None):
        return request.config._tabgate_served
    stack = ExitStack()
    request.config.add_cleanup(stack.close)
    home = tmp_path_factory.mktemp("prefect_home")
    root = make_project(tmp_path_factory.mktemp("server_project"))
    url = stack.enter_context(prefect_server(home))
    start = time.monotonic()
    logs = [open(home / f"run{i}.log", "w+") for i in (1, 2)]
    cmd = [sys.executable, "-m", "flows.cli", "run"]
    first = subprocess.Popen(cmd, cwd=root, env=server_env(home, url), stdout=logs[0], stderr=subprocess.STDOUT)
    while not (root / ".tabgate.lock").exists() or not (root / ".tabgate.lock").read_text().strip():
        assert first.poll() is None, (home / "run1.log").read_text()[-3000:]
        time.sleep(0.2)
    second = subprocess.Popen(cmd, cwd=root, env=server_env(home, url), stdout=logs[1], stderr=subprocess.STDOUT)
    codes = [first.wait(timeout=600), second.wait(timeout=600)]
    outputs = [(home / f"run{i}.log").read_text() for i in (1, 2)]
    runs = sorted(flow_runs(url, "tabgate-training"), key=lambda r: r.start_time)
    request.config._tabgate_served = {
        "url": url,
        "home": home,
        "root": root,
        "seconds": time.monotonic() - start,
        "codes": codes,
        "outputs": outputs,
        "run": runs[0],
        "second_run": runs[-1],
        # counted now: later tests (test_ops.py) train again in this shared project
        "versions_after_runs": sorted(p.name for p in (root / "registry" / "versions").iterdir()),
        "data_md5": yaml.safe_load((root / "data.dvc").read_text())["outs"][0]["md5"].removesuffix(".dir"),
        "model_version": json.loads((root / "reports" / "promotion.json").read_text())["version_id"],
    }
    return request.config._tabgate_served


@pytest.fixture(scope="module")
def served(tmp_path_factory, request) -> dict:
    return shared_project(tmp_path_factory, request)


def test_two_training_runs_at_once_take_turns(served):
    """The second run waits for the project lock (and says so), then finds nothing stale."""
    assert served["codes"] == [0, 0], "\n".join(o[-3000:] for o in served["outputs"])
    assert ran_steps(served["outputs"][0]) == STEPS
    assert "waiting for the project lock" in served["outputs"][1]
    assert ran_steps(served["outputs"][1]) == []
    assert len(served["versions_after_runs"]) == 1, served["versions_after_runs"]
    status = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), "status"], cwd=served["root"], env=env(), capture_output=True, text=True
    )
    assert "Data and pipelines are up to date" in status.stdout, status.stdout


def test_every_step_is_a_task_run_on_the_server(served):
    names = task_run_names(served["url"], served["run"].id)
    for step in ["snapshot", *STEPS]:
        assert step in names, f"no task run {step} in {names}"
    assert served["run"].state.is_completed()


def test_every_run_publishes_the_artifacts_under_stable_keys(served):
    arts = artifacts_of(served["url"], served["run"].id)
    keys = {a["key"] for a in arts}
    assert ARTIFACT_KEYS <= keys, ARTIFACT_KEYS - keys
    by_key = {a["key"]: a for a in arts}
    assert "Validation: passed" in by_key["validation-summary"]["data"]
    assert "Drift (psi" in by_key["validation-summary"]["data"]
    rules = by_key["promotion-rules"]["data"]
    rules = json.loads(rules) if isinstance(rules, str) else rules
    assert {r["rule"] for r in rules} >= {"threshold roc_auc", "lift over baseline"}
    assert "(file://" in by_key["explain-report"]["data"] and "report.html" in by_key["explain-report"]["data"]
    # the second run executed no step but still shows the current reports
    assert ARTIFACT_KEYS <= {a["key"] for a in artifacts_of(served["url"], served["second_run"].id)}


def test_the_run_is_findable_by_data_and_model_version(served):
    run, md5, version = served["run"], served["data_md5"], served["model_version"]
    assert f"data:{md5[:12]}" in run.tags and f"model:{version}" in run.tags, run.tags
    assert f"data:{md5[:12]}" in run.name and f"model:{version}" in run.name, run.name

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    found = api(
        served["url"],
        lambda c: c.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"model:{version}"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=10,
        ),
    )
    assert run.id in [r.id for r in found]


def test_serve_registers_scheduled_deployments_and_runs_them(served, tmp_path):
    """`tabgate serve` creates the deployments (the three scheduled ones with params.yaml's crons); a scoring run
    requested through the API is picked up and executed by the serving process."""
    root, url, home = served["root"], served["url"], served["home"]
    batch = pd.read_csv(root / "sample" / "hotel_small.csv").head(300)
    (root / "incoming").mkdir(exist_ok=True)
    batch.to_csv(root / "incoming" / "batch.csv", index=False)
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve"],
        cwd=root,
        env=server_env(home, url),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        async def deployments(client):
            from prefect.client.schemas.sorting import DeploymentSort

            return await client.read_deployments(sort=DeploymentSort.NAME_ASC, limit=20)

        deadline = time.monotonic() + 90
        while len(deps := api(url, deployments)) < len(DEPLOYMENTS) and time.monotonic() < deadline:
            time.sleep(1)
        by_name = {d.name: d for d in deps}
        assert set(by_name) == {f"tabgate-{n}" for n in DEPLOYMENTS}, by_name
        crons = {n: [(s.schedule.cron, s.active) for s in d.schedules] for n, d in by_name.items()}
        assert crons["tabgate-training"] == [("0 3 * * 1", True)]
        assert crons["tabgate-monitoring"] == [("0 7 * * *", True)]

        async def start_scoring(client):
            return await client.create_flow_run_from_deployment(by_name["tabgate-scoring"].id)

        run = api(url, start_scoring)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            state = api(url, lambda c: c.read_flow_run(run.id)).state
            if state.is_final():
                break
            time.sleep(2)
        assert state.is_completed(), f"{state}\n{(tmp_path / 'serve.log').read_text()[-4000:]}"
        scored = pd.read_parquet(root / "outputs" / "predictions.parquet")
        assert len(scored) + len(pd.read_parquet(root / "outputs" / "predictions.quarantine.parquet")) == 300
        keys = {a["key"] for a in artifacts_of(url, run.id)}
        assert "scoring-summary" in keys
    finally:
        stop_process_group(proc, signal.SIGINT, timeout=30)
        log.close()


RUN_ARTIFACT_KEYS = (
    "validation-summary",
    "data-docs",
    "cv-table",
    "test-metrics",
    "explain-report",
    "error-slices",
    "promotion-decision",
    "promotion-rules",
    "run-summary",
)


def rendered_dom(chromium: Path, url: str, profile: Path) -> str:
    """Return the page's DOM after its scripts ran (headless Chromium, --dump-dom), as a person's browser shows it."""
    cmd = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        "--virtual-time-budget=20000",
        "--dump-dom",
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_artifacts_page_lists_every_artifact_of_a_run_by_key(chromium, served, tmp_path):
    """What an ops person looks for in the UI: the artifacts of all the steps, by their stable keys.

    The Artifacts page (the flow run page opens on its Logs tab whatever ?tab= says while the run loads).
    """
    base = served["url"].removesuffix("/api")
    dom = rendered_dom(chromium, f"{base}/artifacts", tmp_path / "profile")
    (Path(tempfile.gettempdir()) / "tabgate-flow-run-artifacts.html").write_text(dom)  # to read after a failure
    missing = [k for k in RUN_ARTIFACT_KEYS if k not in dom]
    assert not missing, f"the Artifacts tab does not show {missing} ({len(dom)} characters of DOM)"


def test_flow_run_page_renders_in_a_real_browser(chromium, served, tmp_path):
    """Open the flow run page of the Prefect UI headless; the PNG must show more than a blank page."""
    base = served["url"].removesuffix("/api")
    page = f"{base}/runs/flow-run/{served['run'].id}?tab=Artifacts"
    out_dir = Path(tempfile.gettempdir()) / "tabgate-test-output"  # kept after pytest prunes its tmp folders
    out_dir.mkdir(exist_ok=True)
    png = out_dir / "prefect-ui-flow-run.png"
    profile = tmp_path / "chromium-profile"
    cmd = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        "--virtual-time-budget=20000",
        "--hide-scrollbars",
        f"--screenshot={png}",
        page,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert png.exists() and png.stat().st_size > 20_000, proc.stderr[-3000:]
    from PIL import Image

    img = Image.open(png).convert("L")
    colours = len(set(img.resize((200, 140)).getdata()))
    assert img.size == (1400, 1000) and colours > 20, f"screenshot looks blank ({colours} grey levels)"
    if os.environ.get("TABGATE_SAVE_SCREENSHOT"):  # refresh the README picture on purpose only
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copy(png, REPO / "docs" / "prefect-ui-flow-run.png")
