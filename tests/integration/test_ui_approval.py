"""Approval from the Prefect UI on a REAL `prefect server start` with `tabgate serve` (issue 26).

A training run started from the deployment under promote.require_approval=true leaves its model pending; the
`tabgate-approval` run it starts is Suspended (no serve slot held) with the evidence as its form's description. The
test resumes it through the REST endpoint the UI's form posts to (`/flow_runs/{id}/resume` with run_input):
production switches and the history line names the run and the approver. A second waiting model is rejected
(production untouched); a third expires (a params file with a short approval timeout): the approval run ends
Cancelled saying it expired, the version stays pending, and `tabgate models promote` then approves it. The registry
actions run from their deployments, and a retrain started by monitoring on new data waits for approval the same way.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pandas as pd
import pytest
import yaml

from tasks.registry import catalog, lifecycle
from tasks.registry.records import Action, ModelStatus
from tests.integration.test_pipeline import make_project
from tests.integration.test_prefect_server import api, artifacts_of, flow_runs, prefect_server, server_env, tabgate
from tests.integration.test_scheduled_runs import logs, wait_for_deployments
from tests.support.processes import stop_process_group
from tests.support.registry_world import make_bundle, make_frame, record

pytestmark = pytest.mark.integration
APPROVER = "ops-alice"
SHORT_TIMEOUT = 20  # seconds: promote.approval_timeout_seconds of params-short.yaml


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict]:
    """A scratch project (approval required, no schedules) served by `tabgate serve` against a real server."""
    root = make_project(tmp_path_factory.mktemp("approval_project"))
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["promote"]["require_approval"] = True
    params["promote"].update(min_gain_over_production=-1.0, segment_tolerance=1.0)  # the retrain on other data passes
    params["monitor"]["schedules"] = {k: {"cron": "0 3 * * 1", "enabled": False} for k in ("training", "scoring", "monitoring")}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    params["promote"]["approval_timeout_seconds"] = SHORT_TIMEOUT
    (root / "params-short.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    home = tmp_path_factory.mktemp("approval_prefect_home")
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
            yield {
                "root": root,
                "home": home,
                "url": url,
                "deployments": wait_for_deployments(url, home, proc),
                "bundles": tmp_path_factory.mktemp("approval_bundles"),
            }
        finally:
            stop_process_group(proc, signal.SIGINT, timeout=30)


def wait_for(what: str, check: Callable[[], object], home: Path, timeout: float = 240) -> object:
    """Return check()'s first truthy value, polling every 2 s; fail with the logs after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}\n{logs(home)}")


def state_of(url: str, run_id: UUID):
    return api(url, lambda c: c.read_flow_run(run_id)).state


def start(served: dict, deployment: str, **parameters) -> UUID:
    """Start a run of a served deployment as the UI's run form does; return its id."""
    dep = served["deployments"][deployment]
    return api(served["url"], lambda c: c.create_flow_run_from_deployment(dep.id, parameters=parameters)).id


def suspended(served: dict, run_id: UUID):
    """Wait until the run is Suspended (paused, waiting for input); return its state."""
    return wait_for(
        f"run {run_id} suspended", lambda: (s := state_of(served["url"], run_id)) and s.is_paused() and s, served["home"]
    )


def final(served: dict, run_id: UUID):
    """Wait until the run reaches a final state; return it."""
    return wait_for(
        f"run {run_id} final", lambda: (s := state_of(served["url"], run_id)) and s.is_final() and s, served["home"], timeout=420
    )


def resume(url: str, run_id: UUID, **run_input) -> dict:
    """Submit the approval form: POST /flow_runs/{id}/resume with run_input, as the Prefect UI does."""
    r = httpx.post(f"{url}/flow_runs/{run_id}/resume", json={"run_input": run_input}, timeout=30)
    r.raise_for_status()
    return r.json()


def form_description(url: str, run_id: UUID, state) -> str:
    """Return the description shown in the run's resume form (the flow run input saved under its keyset)."""
    key = state.state_details.run_input_keyset["description"]
    r = httpx.get(f"{url}/flow_runs/{run_id}/input/{key}", timeout=30)
    r.raise_for_status()
    return r.text


def register_pending(served: dict, name: str, numeric: tuple[str, ...]) -> str:
    """Register another model that passed the gate, pending approval (as a second retrain would)."""
    bundle = make_bundle(make_frame(300, len(name)), served["bundles"] / name, numeric)
    return lifecycle.register_version(served["root"] / "registry", bundle, record("pending_approval"))


def approval_run_of(served: dict, version: str):
    runs = [r for r in flow_runs(served["url"], "tabgate-approval") if r.parameters.get("version") == version]
    return runs[0] if runs else None


def test_a_training_run_waits_for_approval_and_the_ui_form_approves_it(served):
    url, reg = served["url"], served["root"] / "registry"
    training = start(served, "tabgate-training")
    assert final(served, training).is_completed(), logs(served["home"])
    pending = [v for v in catalog.list_versions(reg) if v.status == ModelStatus.PENDING_APPROVAL]
    assert len(pending) == 1 and catalog.production_version(reg) is None
    version = pending[0].version_id
    run = wait_for("the approval run", lambda: approval_run_of(served, version), served["home"])
    state = suspended(served, run.id)
    assert state.name == "Suspended"
    evidence = form_description(url, run.id, state)
    for text in (version, "Gate rules", "Test metrics", "Leak suspects", "model_card.md", "report.html"):
        assert text in evidence, text
    screenshot_form(served, run.id)
    refused = resume(url, run.id, decision="approve", reason=" ", approver=APPROVER)
    assert refused["status"] == "REJECT" and state_of(url, run.id).is_paused(), refused
    assert resume(url, run.id, decision="approve", reason="metrics and evidence fine", approver=APPROVER)["status"] == "ACCEPT"
    assert final(served, run.id).is_completed(), logs(served["home"])
    assert catalog.production_version(reg) == version
    line = catalog.read_history(reg)[-1]
    assert (line.action, line.version_id, line.actor, line.run_id, line.reason) == (
        Action.APPROVE,
        version,
        APPROVER,
        str(run.id),
        "metrics and evidence fine",
    )
    notes = [a["description"] for a in artifacts_of(url, run.id) if a["key"] == f"approval-{version}"]
    assert sorted(notes) == sorted([f"{version}: waiting for approval (Resume this run to decide)", f"{version}: approved"]), (
        notes
    )  # the restart does not publish the evidence again
    expire = [r for r in flow_runs(url, "tabgate-approval-expire") if r.parameters["approval_run_id"] == str(run.id)]
    assert len(expire) == 1 and final(served, expire[0].id).is_cancelled()


def test_a_second_waiting_model_is_rejected_and_production_is_untouched(served):
    url, reg = served["url"], served["root"] / "registry"
    before = (reg / "production.json").read_bytes()
    version = register_pending(served, "second", ("x1", "x2"))
    run = start(served, "tabgate-approval", version=version)
    suspended(served, run)
    assert resume(url, run, decision="reject", reason="not better enough", approver="ops-bob")["status"] == "ACCEPT"
    assert final(served, run).is_completed(), logs(served["home"])
    assert (reg / "production.json").read_bytes() == before
    assert catalog.current_status(reg, version) == ModelStatus.REJECTED
    line = catalog.read_history(reg)[-1]
    assert (line.action, line.actor, line.run_id) == (Action.REJECT, "ops-bob", str(run))


def test_a_third_waiting_model_expires_stays_pending_and_the_cli_approves_it(served):
    url, root, reg = served["url"], served["root"], served["root"] / "registry"
    version = register_pending(served, "third", ("x1",))
    run = start(served, "tabgate-approval", version=version, params="params-short.yaml")
    suspended(served, run)
    state = final(served, run)
    assert state.is_cancelled() and "expired" in (state.message or ""), state
    assert catalog.current_status(reg, version) == ModelStatus.PENDING_APPROVAL
    notes = [a for a in artifacts_of(url, run) if a["key"] == f"approval-{version}"]
    assert any("EXPIRED" in str(a["data"]) and "tabgate models promote" in str(a["data"]) for a in notes), notes
    done = tabgate("models", "promote", version, "--reason", "approved after expiry", cwd=root, home=served["home"], url=url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert catalog.production_version(reg) == version


def screenshot_form(served: dict, run_id: UUID) -> None:
    """Open the run page in headless Chromium, click Resume, save the form with its evidence (docs picture on
    TABGATE_SAVE_SCREENSHOT=1, else under the temp folder). Skipped without chromium/chromedriver."""
    from tests.support.browser import find_chromedriver, find_chromium, running_chromedriver

    chromium, driver = find_chromium(), find_chromedriver()
    if chromium is None or driver is None:
        return
    base = served["url"].removesuffix("/api")
    kept = Path(tempfile.gettempdir()) / "tabgate-test-output"  # kept after pytest prunes its tmp folders
    kept.mkdir(exist_ok=True)
    out = (
        Path(__file__).resolve().parents[2] / "docs" / "prefect-approval-form.png"
        if os.environ.get("TABGATE_SAVE_SCREENSHOT")
        else kept / "prefect-approval-form.png"
    )
    with (
        running_chromedriver(driver, served["home"] / "chromedriver.log") as wd,
        wd.session(chromium, served["home"] / "chromium-profile", size="1400,1300") as session,
    ):
        wd.call("POST", f"/session/{session}/url", {"url": f"{base}/runs/flow-run/{run_id}"})
        clicked = False
        for _ in range(40):
            clicked = wd.script(
                session,
                "const b = Array.from(document.querySelectorAll('button')).find("
                "x => x.innerText.trim() === 'Resume'); if (b) { b.click(); return true; }"
                " return false;",
            )
            if clicked:
                break
            time.sleep(0.5)
        time.sleep(3)
        out.write_bytes(base64.b64decode(wd.call("GET", f"/session/{session}/screenshot")))
    assert clicked, "the run page shows no Resume button"


def failure_text(url: str, run_id: UUID) -> str:
    return " ".join(str(a["data"]) for a in artifacts_of(url, run_id) if a["key"] == "run-failure")


def test_registry_actions_from_the_run_form_need_a_reason_and_an_actor(served):
    url, reg = served["url"], served["root"] / "registry"
    before = catalog.read_pointer(reg)
    assert before is not None and len(before.installed()) >= 2
    refused = start(served, "tabgate-rollback", reason="", actor="ops-carol")
    assert final(served, refused).is_failed() and "written reason" in failure_text(url, refused)
    assert catalog.read_pointer(reg) == before
    back = start(served, "tabgate-rollback", reason="live metric dropped", actor="ops-carol")
    assert final(served, back).is_completed(), logs(served["home"])
    assert catalog.production_version(reg) == before.installed()[-2]
    line = catalog.read_history(reg)[-1]
    assert (line.action, line.actor, line.run_id) == (Action.ROLLBACK, "ops-carol", str(back))
    version = register_pending(served, "fourth", ("x2",))
    waiting = start(served, "tabgate-approval", version=version)
    suspended(served, waiting)
    no = start(served, "tabgate-reject-version", version=version, reason="not now", actor="ops-dan")
    assert final(served, no).is_completed() and catalog.current_status(reg, version) == ModelStatus.REJECTED
    gone = final(served, waiting)  # decided by the deployment: the waiting approval run does not stay Suspended
    assert gone.is_cancelled() and "decided elsewhere: reject by ops-dan" in (gone.message or ""), gone
    yes = start(served, "tabgate-approve-version", version=version, reason="changed my mind", actor="ops-dan")
    assert final(served, yes).is_failed() and "--force" in failure_text(url, yes)
    assert catalog.production_version(reg) == before.installed()[-2]


def test_a_retrain_started_by_monitoring_on_new_data_waits_for_approval_too(served):
    url, root, reg = served["url"], served["root"], served["root"] / "registry"
    source = pd.read_csv(root / "sample" / "hotel_small.csv")
    source.sample(5500, random_state=1).to_csv(root / "sample" / "hotel_small.csv", index=False)  # new data
    drifted = source.sample(1500, random_state=3)
    drifted["lead_time"] = drifted["lead_time"] * 5 + 400
    (root / "incoming").mkdir(exist_ok=True)
    drifted.to_csv(root / "incoming" / "drifted.csv", index=False)
    before = catalog.production_version(reg)
    monitoring = start(served, "tabgate-monitoring", batch="incoming/drifted.csv")
    assert final(served, monitoring).is_completed(), logs(served["home"])
    pending = [v.version_id for v in catalog.list_versions(reg) if v.status == ModelStatus.PENDING_APPROVAL]
    assert len(pending) == 1 and catalog.production_version(reg) == before, pending
    run = wait_for("the retrain's approval run", lambda: approval_run_of(served, pending[0]), served["home"])
    suspended(served, run.id)
    assert resume(url, run.id, decision="approve", reason="retrain on new data", approver=APPROVER)["status"] == "ACCEPT"
    assert final(served, run.id).is_completed(), logs(served["home"])
    assert catalog.production_version(reg) == pending[0]
    assert catalog.read_history(reg)[-1].run_id == str(run.id)
