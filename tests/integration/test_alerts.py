"""Alerts from a REAL `prefect server start` (issue 26): `tabgate serve` creates the alert automations of params.yaml's
alerts section, and the SERVER sends one message per event to an HTTP endpoint on 127.0.0.1 that this test runs
(through a Custom Webhook notification block): a failing run, a model waiting for approval, monitoring starting a
retrain, the gate rejecting a challenger, a run killed with SIGKILL (alone, and together with `tabgate serve`: then
its heartbeats stop and the server marks it Crashed), a scheduled run nobody started. Each
message names the deployment, the run, the model and data versions, the reason, and the run's UI link.

The tests run in file order on one server and project (the rejected challenger follows the pending one, the late
run needs serve stopped, the last test removes the automations)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_ops import write_batches
from tests.integration.test_pipeline import make_project
from tests.integration.test_prefect_server import api, prefect_server, server_env
from tests.integration.test_scheduled_runs import logs, wait_for_deployments
from tests.support.processes import stop_process_group

pytestmark = pytest.mark.integration
BLOCK = "custom-webhook/ops-alerts"
LATE_AFTER = 10  # alerts.late_after_seconds: the proactive trigger's minimum
UNRESPONSIVE_AFTER = 60  # alerts.unresponsive_after_seconds (the minimum): served runs send a heartbeat every 30 s
SERVER_SETTINGS = {"PREFECT_UI_URL": "http://127.0.0.1:{port}", "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS": "5"}
RUN_DEADLINE = 900  # seconds for a training run on the 6,000-row sample (2 shared cores)
ALERT_DEADLINE = 90  # seconds from the event to the POST (the triggers service, the proactive wait, the webhook)


class Inbox:
    """A tiny HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                inbox.posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, subject: str, world: dict, timeout: float = ALERT_DEADLINE) -> dict[str, Any]:
        """Return the first message whose subject contains `subject`; fail with what arrived after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := [p for p in self.posts if subject in p["subject"]]:
                return found[0]
            time.sleep(1)
        pytest.fail(
            f"no alert {subject!r} within {timeout} s; received {[p['subject'] for p in self.posts]}\n{logs(world['home'])}"
        )


def save_block(url: str, hook: str) -> None:
    """Create the Custom Webhook notification block alerts.block names (as an ops team does on the Blocks page)."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}):
        CustomWebhookNotificationBlock(
            name="tabgate", url=hook, allow_private_urls=True, json_data={"subject": "{{subject}}", "body": "{{body}}"}
        ).save("ops-alerts")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    """A scratch project with alerts on, a real server with a notification block, and `tabgate serve` running."""
    inbox = Inbox()
    root = make_project(tmp_path_factory.mktemp("alerts_project"))
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["alerts"] = {"block": BLOCK, "late_after_seconds": LATE_AFTER, "unresponsive_after_seconds": UNRESPONSIVE_AFTER}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    home = tmp_path_factory.mktemp("alerts_prefect_home")
    with prefect_server(home, extra_env=SERVER_SETTINGS) as url, open(home / "serve.log", "w") as log:
        save_block(url, inbox.url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve"],
            cwd=root,
            env=server_env(home, url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield {
                "root": root,
                "home": home,
                "url": url,
                "ui": url.removesuffix("/api"),
                "inbox": inbox,
                "serve": proc,
                "deployments": wait_for_deployments(url, home, proc),
            }
        finally:
            stop_process_group(proc, signal.SIGINT, timeout=30)
            inbox.server.shutdown()
            (home / "alerts.json").write_text(json.dumps(inbox.posts, indent=1))  # tools/alert_picture.py reads it


def tabgate_automations(url: str) -> dict[str, Any]:
    return {a.name: a for a in api(url, lambda c: c.read_automations()) if "tabgate-alerts" in a.tags}


def start(world: dict, deployment: str, **parameters: Any) -> Any:
    """Create a run of one served deployment, as the UI's Run button does; return the flow run."""
    dep = world["deployments"][deployment]
    return api(world["url"], lambda c: c.create_flow_run_from_deployment(dep.id, parameters=parameters))


def wait_state(world: dict, run: Any, done: Any, timeout: float = RUN_DEADLINE) -> Any:
    """Return the flow run once done(state) holds; fail with the serve log after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = api(world["url"], lambda c: c.read_flow_run(run.id))
        if done(current.state):
            return current
        time.sleep(2)
    pytest.fail(f"run {run.name} still {current.state} after {timeout} s\n{logs(world['home'])}")


def final(world: dict, run: Any) -> Any:
    return wait_state(world, run, lambda s: s.is_final())


def check_message(msg: dict, world: dict, run: Any, deployment: str, model: str, data: str, reason: str) -> None:
    """Assert an alert names the deployment, the run, the versions and the reason, and links the run in the UI."""
    text = msg["subject"] + "\n" + msg["body"]
    for part in (
        f"Deployment: {deployment}",
        f"Run: {run.name}",
        f"Model version: {model}",
        f"Data version: {data}",
        "Reason: ",
        reason,
        f"{world['ui']}/runs/flow-run/{run.id}",
    ):
        assert part in text, f"{part!r} is missing from the alert:\n{text}"


def promotion(world: dict) -> dict[str, Any]:
    return json.loads((world["root"] / "reports" / "promotion.json").read_text())


def data_version(world: dict) -> str:
    return yaml.safe_load((world["root"] / "data.dvc").read_text())["outs"][0]["md5"][:12]


def test_serve_creates_one_alert_automation_per_event(world):
    autos = tabgate_automations(world["url"])
    assert len(autos) == 7 and all(name.startswith("tabgate: ") for name in autos), sorted(autos)
    assert "tabgate: mark unresponsive runs crashed" in autos
    assert (
        "alerts to custom-webhook/ops-alerts on failed, crashed, pending_approval, gate_rejected, "
        "retrain_started, late: 7 created" in (world["home"] / "serve.log").read_text()
    )


def test_a_failing_run_is_alerted(world):
    run = final(world, start(world, "tabgate-training", params="no-such-params.yaml"))
    assert run.state.is_failed(), run.state
    msg = world["inbox"].wait_for(f"run {run.name} failed", world)
    check_message(msg, world, run, "tabgate-training", "not known", "not known", "no-such-params.yaml")


def test_a_model_waiting_for_approval_is_alerted(world):
    run = final(world, start(world, "tabgate-training", require_approval=True))
    assert run.state.is_completed(), f"{run.state}\n{logs(world['home'])}"
    report = promotion(world)
    assert report["status"] == "pending_approval", report["status"]
    msg = world["inbox"].wait_for(f"model {report['version_id']} waits for approval", world)
    check_message(msg, world, run, "tabgate-training", report["version_id"], data_version(world), "asks a person to approve")
    assert f"tabgate models promote {report['version_id']}" in msg["body"]


def test_monitoring_starting_a_retrain_is_alerted(world):
    _, drifted = write_batches(world["root"])
    run = final(world, start(world, "tabgate-monitoring", batch=str(drifted.relative_to(world["root"]))))
    assert run.state.is_completed(), f"{run.state}\n{logs(world['home'])}"
    msg = world["inbox"].wait_for("monitoring started a retrain", world)
    check_message(msg, world, run, "tabgate-monitoring", "none", data_version(world), "lead_time")
    assert "incoming/drifted.csv" in msg["body"]


def test_a_challenger_the_gate_rejects_is_alerted(world):
    params = yaml.safe_load((world["root"] / "params.yaml").read_text())
    params["promote"]["thresholds"] = {"roc_auc": 0.9999}
    (world["root"] / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run = final(world, start(world, "tabgate-training"))
    assert run.state.is_completed(), f"{run.state}\n{logs(world['home'])}"
    report = promotion(world)
    assert report["status"] == "rejected", report["status"]
    version = report["version_id"] or "none"
    msg = world["inbox"].wait_for(f"the gate rejected model {version}", world)
    check_message(msg, world, run, "tabgate-training", version, data_version(world), "roc_auc")


def run_processes(serve_pid: int) -> list[int]:
    """Return the pids of the flow-run processes `tabgate serve` started (children of it, not multiprocessing's
    resource tracker)."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == serve_pid and b"resource_tracker" not in cmdline:
            pids.append(int(entry))
    return pids


def test_a_run_killed_with_sigkill_is_alerted_by_the_server(world):
    """SIGKILL the run's process while it is RUNNING: serve marks the run Crashed and the server alerts."""
    run = start(world, "tabgate-training", force=True)
    wait_state(world, run, lambda s: s.is_running() or s.is_final(), timeout=300)
    pids = run_processes(world["serve"].pid)
    assert len(pids) == 1, f"flow-run processes of serve: {pids}"
    os.kill(pids[0], signal.SIGKILL)
    crashed = wait_state(world, run, lambda s: s.is_final(), timeout=120)
    assert crashed.state.is_crashed(), crashed.state
    msg = world["inbox"].wait_for(f"run {crashed.name} crashed", world)  # the flow renamed its run
    check_message(msg, world, crashed, "tabgate-training", "not known", "", "SIGKILL")


def heartbeats(world: dict, run: Any) -> int:
    """Return how many heartbeat events the server has received from one flow run."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    page = api(
        world["url"],
        lambda c: c.read_events(
            filter=EventFilter(
                event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
                resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"]),
            ),
            limit=50,
        ),
    )  # the server allows 50
    return len(page.events)


def test_a_run_whose_serve_died_too_is_marked_crashed_by_the_server_and_alerted(world):
    """SIGKILL `tabgate serve` and its run together (nobody is left to report the crash): the run's heartbeats stop,
    the server's unresponsive-run automation marks it Crashed, and the crashed alert follows."""
    run = start(world, "tabgate-training", force=True)
    wait_state(world, run, lambda s: s.is_running() or s.is_final(), timeout=300)
    deadline = time.monotonic() + 120
    while heartbeats(world, run) == 0:
        assert time.monotonic() < deadline, f"no heartbeat from run {run.name} in 120 s\n{logs(world['home'])}"
        time.sleep(2)
    stop_process_group(world["serve"], signal.SIGKILL)
    crashed = wait_state(world, run, lambda s: s.is_final(), timeout=UNRESPONSIVE_AFTER + ALERT_DEADLINE)
    assert crashed.state.is_crashed() and "no heartbeat for 60 s" in crashed.state.message, crashed.state
    msg = world["inbox"].wait_for(f"run {crashed.name} crashed", world)
    check_message(msg, world, crashed, "tabgate-training", "", "", "the `tabgate serve` that started it died")


def test_a_scheduled_run_nobody_starts_is_alerted_as_late(world):
    """serve stopped: a run scheduled now is marked Late by the server and alerted LATE_AFTER seconds later."""
    stop_process_group(world["serve"], signal.SIGINT, timeout=30)  # already killed by the test above
    run = start(world, "tabgate-scoring")
    msg = world["inbox"].wait_for(f"scheduled run {run.name} is late", world, timeout=ALERT_DEADLINE + LATE_AFTER)
    check_message(msg, world, run, "tabgate-scoring", "not known", "not known", "not started; state Late")


def test_reconcile_is_idempotent_leaves_others_alone_and_removes_its_own_when_disabled(world):
    from prefect.events.schemas.automations import AutomationCore
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.alerts import reconcile
    from tasks.core.config import load_config

    before = {name: a.id for name, a in tabgate_automations(world["url"]).items()}
    theirs = api(
        world["url"],
        lambda c: c.create_automation(
            AutomationCore.model_validate(
                {"name": "ops: their own", "trigger": {"type": "event", "expect": ["x.y"]}, "actions": [{"type": "do-nothing"}]}
            )
        ),
    )
    cfg = load_config(world["root"] / "params.yaml")
    with temporary_settings({PREFECT_API_URL: world["url"]}):
        again = reconcile(cfg)
        assert again["created"] == [] and again["updated"] == [] and again["deleted"] == [], again
        assert {name: a.id for name, a in tabgate_automations(world["url"]).items()} == before
        off = reconcile(cfg.model_copy(update={"alerts": cfg.alerts.model_copy(update={"enabled": False})}))
    assert len(off["deleted"]) == 7 and tabgate_automations(world["url"]) == {}
    assert [a.id for a in api(world["url"], lambda c: c.read_automations())] == [theirs]
