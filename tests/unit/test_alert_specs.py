"""Alerts: the automation specs built from params.yaml's alerts section, reconcile's idempotency against a fake
server, the custom events the flows emit, and the config checks (a misspelt event name names alerts.events)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows import alert_specs as specs
from flows import alerts
from flows.deploy import serve_flows
from tasks.core.alert_params import ALERT_EVENTS, AlertsParams
from tasks.core.config import load_config, parse_config
from tasks.core.errors import ConfigError
from tasks.core.reports import write_report
from tasks.registry.records import GateOutcome, PromotionStatus
from tasks.reporting.promotion_report import Decision, PromotionReport, RuleResult
from tests.conftest import make_config

REPO = Path(__file__).resolve().parents[2]
BLOCK_ID = "5e0c1a52-6d67-4f4e-a3a5-0d5b0e2b9f00"
ON = AlertsParams(block="custom-webhook/ops-alerts")


class FakeServer:
    """The automation and block endpoints reconcile uses, in memory."""

    def __init__(self, blocks: dict[str, list[str]] | None = None) -> None:
        self.automations: dict[str, Any] = {}
        self.blocks = {"custom-webhook/ops-alerts": ["notify"]} if blocks is None else blocks
        self.calls: list[str] = []

    def read_block_document_by_name(self, name: str, block_type_slug: str, include_secrets: bool = True) -> Any:
        key = f"{block_type_slug}/{name}"
        if key not in self.blocks:
            raise LookupError(key)
        return SimpleNamespace(id=uuid.UUID(BLOCK_ID), block_schema=SimpleNamespace(capabilities=self.blocks[key]))

    def read_automations(self) -> list[Any]:
        from prefect.events.schemas.automations import Automation

        return [Automation(id=uuid.UUID(i), **a.model_dump()) for i, a in self.automations.items()]

    def create_automation(self, automation: Any) -> uuid.UUID:
        new = uuid.uuid4()
        self.automations[str(new)] = automation
        self.calls.append(f"create {automation.name}")
        return new

    def update_automation(self, automation_id: uuid.UUID, automation: Any) -> None:
        self.automations[str(automation_id)] = automation
        self.calls.append(f"update {automation.name}")

    def delete_automation(self, automation_id: uuid.UUID) -> None:
        self.calls.append(f"delete {self.automations.pop(str(automation_id)).name}")


def cfg_with(tmp_path: Path, **alerts_section: Any):
    return make_config(tmp_path, alerts=alerts_section)


def foreign(server: FakeServer, name: str, tags: list[str]) -> None:
    """Put an automation someone else made on the fake server."""
    from prefect.events.schemas.automations import AutomationCore

    server.create_automation(
        AutomationCore.model_validate({**specs.automation_spec("failed", ON, BLOCK_ID), "name": name, "tags": tags})
    )


def test_one_automation_per_event_each_named_tagged_and_valid_for_the_server():
    from prefect.events.schemas.automations import AutomationCore
    from prefect.server.events.schemas.automations import AutomationCore as ServerAutomation

    wanted = specs.wanted_specs(ON, BLOCK_ID)
    assert len(wanted) == len(ALERT_EVENTS) + 1 == 7  # and the one that marks unresponsive runs Crashed
    for name, spec in wanted.items():
        assert name.startswith("tabgate: ") and specs.OWNER_TAG in spec["tags"]
        if name != specs.UNRESPONSIVE:
            assert spec["actions"][0]["type"] == "send-notification"
            assert spec["actions"][0]["block_document_id"] == BLOCK_ID
        AutomationCore.model_validate(spec)
        ServerAutomation.model_validate(spec)  # what POST /automations/ checks (a proactive `within` >= 10 s, ...)
    triggers = {s["tags"][1]: s["trigger"] for s in wanted.values()}
    assert triggers["tabgate-alert:failed"]["expect"] == ["prefect.flow-run.Failed"]
    assert triggers["tabgate-alert:crashed"]["expect"] == ["prefect.flow-run.Crashed"]
    assert triggers["tabgate-alert:failed"]["match_related"]["prefect.resource.name"] == "tabgate-*"
    assert triggers["tabgate-alert:late"]["expect"] == ["prefect.flow-run.Late"]
    assert triggers["tabgate-alert:pending_approval"]["expect"] == [specs.PENDING_APPROVAL]


def test_runs_whose_heartbeats_stop_are_marked_crashed_so_the_crashed_alert_follows():
    spec = specs.wanted_specs(ON, BLOCK_ID)[specs.UNRESPONSIVE]
    trigger, action = spec["trigger"], spec["actions"][0]
    assert trigger["after"] == ["prefect.flow-run.heartbeat"] and "prefect.flow-run.heartbeat" in trigger["expect"]
    assert trigger["posture"] == "Proactive" and trigger["within"] == 300 and trigger["for_each"] == ["prefect.resource.id"]
    assert "prefect.flow-run.Suspended" in trigger["expect"]  # a run waiting for approval sends no heartbeat
    assert action["type"] == "change-flow-run-state" and action["state"] == "CRASHED"
    assert ON.heartbeat_seconds == 100 and AlertsParams(block="a/b", unresponsive_after_seconds=60).heartbeat_seconds == 30
    for off in (
        AlertsParams(block="a/b", unresponsive_after_seconds=0),
        AlertsParams(block="a/b", events=["failed"]),
        AlertsParams(),
    ):
        assert off.heartbeat_seconds is None and specs.UNRESPONSIVE not in specs.wanted_specs(off, BLOCK_ID)


def test_a_late_wait_makes_the_late_trigger_proactive_per_flow_run():
    trigger = specs.trigger_for("late", AlertsParams(block="custom-webhook/x", late_after_seconds=120))
    assert trigger["posture"] == "Proactive" and trigger["after"] == ["prefect.flow-run.Late"]
    assert trigger["within"] == 120 and trigger["for_each"] == ["prefect.resource.id"]
    assert "prefect.flow-run.Running" in trigger["expect"]


def render(template: str, **context: Any) -> str:
    env = ImmutableSandboxedEnvironment()
    env.filters["ui_url"] = lambda obj: f"http://ui/runs/flow-run/{obj['id']}"
    return env.from_string(template).render(**context)


@pytest.mark.parametrize("event", ALERT_EVENTS)
def test_every_message_names_deployment_run_versions_reason_and_the_ui_link(event):
    run = {
        "id": "r-1",
        "name": "train-20261207 data:abc123 model:v0007",
        "tags": ["tabgate", "data:abc123", "model:v0007"],
        "state": {"name": "Failed", "message": "ingest: column x is missing"},
        "expected_start_time": "03:00",
    }
    payload = {
        "deployment": "tabgate-training",
        "model_version": "v0007",
        "data_version": "abc123",
        "reason": "drift on lead_time",
        "batch": "incoming/b.csv",
        "production_version": "v0006",
    }
    _, subject, body = specs.MESSAGES[event]
    text = (
        render(subject, flow_run=run, event={"payload": payload}, deployment={"name": "tabgate-training"})
        + "\n"
        + render(body, flow_run=run, event={"payload": payload}, deployment={"name": "tabgate-training"})
    )
    for part in (
        "Deployment: tabgate-training",
        "Run: train-20261207",
        "Model version: v0007",
        "Data version: abc123",
        "Reason: ",
        "http://ui/runs/flow-run/r-1",
    ):
        assert part in text, f"{event}: {part!r} missing from\n{text}"


def test_the_pending_approval_alert_names_the_ui_way_first_then_the_cli():
    payload = {"deployment": "tabgate-training", "model_version": "v0007", "data_version": "abc123", "reason": "r"}
    body = render(specs.MESSAGES["pending_approval"][2], flow_run={"id": "r-1", "name": "train"}, event={"payload": payload})
    decide = next(line for line in body.splitlines() if line.startswith("Decide: "))
    assert decide.startswith("Decide: Resume the approval-v0007 run"), decide
    assert "Prefect UI" in decide
    assert decide.index("Prefect UI") < decide.index("tabgate models promote v0007 --reason")
    assert "tabgate models reject v0007 --reason" in decide


def test_a_run_without_versions_or_deployment_says_so():
    run = {"id": "r-2", "name": "monitor-x", "tags": ["tabgate"], "state": {"message": "killed"}}
    text = render(specs.MESSAGES["crashed"][2], flow_run=run, deployment=None)
    assert "Model version: not known" in text and "Data version: not known" in text
    assert "Deployment: none (started outside a deployment)" in text


def test_reconcile_twice_creates_once_then_updates_on_change_and_removes_when_disabled(tmp_path):
    server = FakeServer()
    foreign(server, "tabgate: someone else's", ["mine"])  # the prefix alone does not make it tabgate's
    foreign(server, "ops: page me", [specs.OWNER_TAG])  # nor the tag alone
    first = alerts.reconcile(cfg_with(tmp_path, block="custom-webhook/ops-alerts"), server)
    assert len(first["created"]) == 7 and not first["updated"] and not first["deleted"]
    ids = set(server.automations)
    second = alerts.reconcile(cfg_with(tmp_path, block="custom-webhook/ops-alerts"), server)
    assert not second["created"] and not second["updated"] and not second["deleted"] and len(second["kept"]) == 7
    assert set(server.automations) == ids
    changed = alerts.reconcile(
        cfg_with(tmp_path, block="custom-webhook/ops-alerts", late_after_seconds=60, events=["failed", "late"]), server
    )
    assert changed["updated"] == ["tabgate: scheduled run late"] and len(changed["deleted"]) == 5
    assert alerts.reconcile(cfg_with(tmp_path, block="custom-webhook/ops-alerts", enabled=False), server)["deleted"]
    assert sorted(a.name for a in server.automations.values()) == ["ops: page me", "tabgate: someone else's"]


def test_an_automation_edited_in_the_ui_is_put_back(tmp_path):
    server = FakeServer()
    alerts.reconcile(cfg_with(tmp_path, block="custom-webhook/ops-alerts"), server)
    auto_id, auto = next((i, a) for i, a in server.automations.items() if a.name == "tabgate: run failed")
    edited = auto.model_copy(update={"actions": [auto.actions[0].model_copy(update={"body": "something broke"})]})
    server.automations[auto_id] = edited
    done = alerts.reconcile(cfg_with(tmp_path, block="custom-webhook/ops-alerts"), server)
    assert done["updated"] == ["tabgate: run failed"] and len(done["kept"]) == 6
    assert "Reason: {{ flow_run.state.message }}" in server.automations[auto_id].actions[0].body


def test_the_normal_form_lists_trigger_sets_sorted_so_two_processes_compare_equal():
    """The trigger's after/expect/for_each are sets: their dump order varies with the hash seed (PYTHONHASHSEED=5
    made a served automation look edited at every start before the sort)."""
    spec = specs.wanted_specs(ON, BLOCK_ID)[specs.UNRESPONSIVE]
    shuffled = {**spec, "trigger": {**spec["trigger"], "expect": list(reversed(spec["trigger"]["expect"]))}}
    form = alerts.normal_form(shuffled)
    assert form == alerts.normal_form(spec) and form["trigger"]["expect"] == sorted(specs.ALIVE)


def test_no_block_configured_creates_nothing_and_serve_says_so(tmp_path, caplog):
    server = FakeServer()
    done = alerts.reconcile(cfg_with(tmp_path), server)
    assert done["created"] == [] and server.automations == {}
    assert alerts.describe(cfg_with(tmp_path)) == [
        "no alerts configured (alerts.block is not set in params.yaml): serve keeps no alert automations on the "
        "server (removes tabgate's)"
    ]
    with caplog.at_level("INFO", logger="flows.deploy"):
        assert serve_flows(str(REPO / "params.yaml"), dry_run=True) == 0
    assert "no alerts configured (alerts.block is not set in params.yaml)" in caplog.text


def test_serve_dry_run_lists_the_alert_automations(tmp_path):
    lines = alerts.describe(cfg_with(tmp_path, block="custom-webhook/ops-alerts", events=["failed"]))
    assert lines == ["alert automation 'tabgate: run failed' -> custom-webhook/ops-alerts"]


def test_a_duplicate_tabgate_automation_is_removed(tmp_path):
    server = FakeServer()
    alerts.reconcile(cfg_with(tmp_path, block="custom-webhook/ops-alerts"), server)
    from prefect.events.schemas.automations import AutomationCore

    server.create_automation(AutomationCore.model_validate(specs.automation_spec("failed", ON, BLOCK_ID)))
    done = alerts.reconcile(cfg_with(tmp_path, block="custom-webhook/ops-alerts"), server)
    assert len(done["deleted"]) == 1 and len(server.automations) == 7


def test_a_missing_or_non_notification_block_names_alerts_block_and_params_yaml(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"alerts.block 'custom-webhook/ops-alerts' in params.yaml: .*no "
        r"'custom-webhook' block named 'ops-alerts'",
    ):
        alerts.reconcile(cfg_with(tmp_path, block="custom-webhook/ops-alerts"), FakeServer(blocks={}))
    with pytest.raises(ConfigError, match="not a notification block"):
        alerts.reconcile(
            cfg_with(tmp_path, block="custom-webhook/ops-alerts"),
            FakeServer(blocks={"custom-webhook/ops-alerts": ["get-secret"]}),
        )


def test_an_unknown_event_name_is_a_config_error_naming_alerts_events_and_the_file(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("data: {target: y}\ningest: {source: a.csv}\nalerts: {block: custom-webhook/x, events: [failed, fialed]}\n")
    with pytest.raises(ConfigError) as err:
        load_config(params)
    assert str(params) in str(err.value) and "alerts.events" in str(err.value) and "'fialed'" in str(err.value)


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"block": "ops-alerts"}, "alerts.block"),
        ({"late_after_seconds": 5}, "alerts.late_after_seconds"),
        ({"unresponsive_after_seconds": 45}, "alerts.unresponsive_after_seconds"),
    ],
)
def test_a_bad_block_name_or_late_wait_is_a_config_error(section, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_config({"data": {"target": "y"}, "ingest": {"source": "a.csv"}, "alerts": section})


def test_the_repository_params_configure_no_alerts():
    assert load_config(REPO / "params.yaml").alerts.active is False


def promotion_report(status: PromotionStatus, failed: bool) -> PromotionReport:
    rule = RuleResult.of("absolute roc_auc", "roc_auc", 0.81, 0.99, not failed, "0.81 is below the floor 0.99")
    decision = Decision(
        outcome=GateOutcome.REJECT if failed else GateOutcome.PROMOTE,
        primary_metric="roc_auc",
        first_model=True,
        rules=[rule],
        notes=[],
        metrics={},
    )
    return PromotionReport(
        status=status, decision=decision, challenger_digest="d", version_id="v0009", production_version="v0008"
    )


@pytest.mark.parametrize(
    ("status", "event", "reason"),
    [
        (PromotionStatus.PENDING_APPROVAL, specs.PENDING_APPROVAL, "asks a person to approve"),
        (PromotionStatus.REJECTED, specs.GATE_REJECTED, "absolute roc_auc: 0.81 is below the floor 0.99"),
        (PromotionStatus.PROMOTED, None, None),
    ],
)
def test_promote_emits_pending_approval_or_rejected_only_when_it_ran(tmp_path, monkeypatch, status, event, reason):
    cfg = make_config(tmp_path)
    cfg.paths.reports_dir.mkdir(parents=True, exist_ok=True)
    write_report(promotion_report(status, failed=status is PromotionStatus.REJECTED), cfg.paths.reports_dir / "promotion.json")
    sent: list[tuple[str, dict, dict]] = []
    monkeypatch.setattr("prefect.events.emit_event", lambda e, resource, payload: sent.append((e, resource, payload)))
    monkeypatch.setattr(alerts, "deployment_name", lambda: "tabgate-training")
    alerts.alert_on_promotion(cfg, ["train", "promote"], "0123456789abcdef")
    alerts.alert_on_promotion(cfg, ["train"], "0123456789abcdef")  # promote did not run: its old report says nothing
    if event is None:
        assert sent == []
        return
    assert len(sent) == 1
    name, resource, payload = sent[0]
    assert name == event and resource["prefect.resource.id"] == "tabgate.model.v0009"
    assert payload["model_version"] == "v0009" and payload["data_version"] == "0123456789ab"
    assert payload["deployment"] == "tabgate-training" and reason in payload["reason"]


def test_retrain_event_carries_the_batch_the_reasons_and_production(tmp_path, monkeypatch):
    sent: list[tuple[str, dict, dict]] = []
    monkeypatch.setattr("prefect.events.emit_event", lambda e, resource, payload: sent.append((e, resource, payload)))
    monkeypatch.setattr(alerts, "deployment_name", lambda: "tabgate-monitoring")
    alerts.alert_on_retrain(
        make_config(tmp_path), "incoming/b.csv", {"production_version": "v0003", "reasons": ["lead_time drift 0.9 >= 0.5"]}
    )
    ((name, resource, payload),) = sent
    assert name == specs.RETRAIN_STARTED and resource["prefect.resource.id"] == "tabgate.model.v0003"
    assert payload["reason"] == "lead_time drift 0.9 >= 0.5" and payload["batch"] == "incoming/b.csv"
    assert payload["data_version"] == "unversioned"


def test_an_emit_failure_never_fails_the_run(tmp_path, monkeypatch, caplog):
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("events socket closed")

    monkeypatch.setattr("prefect.events.emit_event", broken)
    monkeypatch.setattr(alerts, "deployment_name", lambda: "x")
    alerts.alert_on_retrain(make_config(tmp_path), "b.csv", {"reasons": []})
    assert "could not emit the tabgate.monitoring.retrain alert event: events socket closed" in caplog.text
