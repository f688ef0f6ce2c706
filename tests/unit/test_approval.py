"""Approval: a person approves or rejects a version pending approval (library, CLI), and the evidence they read."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import build_parser, dispatch
from tasks.core import io
from tasks.core.errors import PromotionError
from tasks.core.reports import EvaluateReport, Interval
from tasks.registry import catalog, lifecycle
from tasks.registry.approval import ApprovalDecision, Choice, decide
from tasks.registry.records import Action, ModelStatus, RecordStatus
from tasks.reporting.approval_evidence import approval_evidence, expired_markdown
from tasks.reporting.promotion_report import Decision, PromotionReport, RuleResult
from tests.support.registry_world import bundles, dvc_record

__all__ = ["bundles"]  # the fixture


@pytest.fixture
def world(tmp_path, bundles) -> tuple[Path, str, str]:
    """A registry with production `a` and `b` pending approval; return (registry, production id, pending id)."""
    reg = tmp_path / "registry"
    prod = lifecycle.register_version(reg, bundles["a"], dvc_record())
    lifecycle.set_production(reg, prod, "first", "tester")
    pending = lifecycle.register_version(reg, bundles["b"], dvc_record("pending_approval"))
    return reg, prod, pending


def test_approve_switches_production_and_the_history_names_the_run_and_the_approver(world):
    reg, prod, pending = world
    result = decide(
        reg, pending, ApprovalDecision(decision=Choice.APPROVE, reason="looks good", approver="alice"), run_id="run-123"
    )
    assert result.production == pending == catalog.production_version(reg) and "alice" in result.message
    last = catalog.read_history(reg)[-1]
    assert (last.action, last.version_id, last.from_version, last.actor, last.run_id, last.reason) == (
        Action.APPROVE,
        pending,
        prod,
        "alice",
        "run-123",
        "looks good",
    )
    with pytest.raises(PromotionError, match=rf"{pending} is production, not pending approval.*tabgate models list"):
        decide(reg, pending, ApprovalDecision(decision=Choice.APPROVE, reason="again", approver="bob"))


def test_reject_records_it_and_leaves_production_alone(world):
    reg, prod, pending = world
    before = (reg / "production.json").read_bytes()
    decide(reg, pending, ApprovalDecision(decision=Choice.REJECT, reason="drift on x2", approver="bob"), "run-9")
    assert (reg / "production.json").read_bytes() == before
    record = catalog.read_record(reg, pending)
    assert record.status == RecordStatus.REJECTED and record.rejection["actor"] == "bob"
    assert catalog.current_status(reg, pending) == ModelStatus.REJECTED
    last = catalog.read_history(reg)[-1]
    assert (last.action, last.actor, last.run_id, last.reason) == (Action.REJECT, "bob", "run-9", "drift on x2")
    with pytest.raises(PromotionError, match=rf"{pending} was rejected by bob.*--force"):
        lifecycle.approve_version(reg, pending, "changed my mind")
    with pytest.raises(PromotionError, match=rf"{pending} is rejected, not pending approval"):
        decide(reg, pending, ApprovalDecision(decision=Choice.APPROVE, reason="x", approver="carol"))
    assert catalog.production_version(reg) == prod
    lifecycle.force_promote(reg, pending, "override after review", "carol")  # --force still can
    assert catalog.production_version(reg) == pending


@pytest.mark.parametrize(
    ("reason", "approver", "says"),
    [("", "alice", "written reason"), ("  ", "alice", "written reason"), ("fine", " ", "approver's name")],
)
def test_an_empty_reason_or_approver_is_refused_and_nothing_changes(world, reason, approver, says):
    reg, prod, pending = world
    history = (reg / "history.jsonl").read_bytes()
    for choice in Choice:
        with pytest.raises(PromotionError, match=says):
            decide(reg, pending, ApprovalDecision(decision=choice, reason=reason, approver=approver))
    assert (reg / "history.jsonl").read_bytes() == history and catalog.production_version(reg) == prod


def test_a_version_that_is_not_pending_cannot_be_rejected(world):
    reg, prod, _ = world
    with pytest.raises(PromotionError, match=rf"{prod} is production, not pending approval"):
        lifecycle.reject_version(reg, prod, "no")
    with pytest.raises(PromotionError, match="no registered version 'v9999-deadbeef'"):
        decide(reg, "v9999-deadbeef", ApprovalDecision(decision=Choice.REJECT, reason="no", approver="a"))


def test_rollback_to_a_named_earlier_production_version(tmp_path, bundles):
    reg = tmp_path / "registry"
    ids = [lifecycle.register_version(reg, bundles[k], dvc_record()) for k in ("a", "b", "c")]
    for vid in ids:
        lifecycle.set_production(reg, vid, "ship", "tester")
    with pytest.raises(PromotionError, match="was not an earlier production model"):
        lifecycle.rollback(reg, "bad", to_version=ids[2])
    assert lifecycle.rollback(reg, "back to the first", "ops", to_version=ids[0], run_id="r1") == ids[0]
    pointer = catalog.read_pointer(reg)
    assert pointer.version_id == ids[0] and pointer.lineage == [ids[0]]
    assert catalog.read_history(reg)[-1].run_id == "r1"


def promotion_report(version_id: str) -> PromotionReport:
    """Return a promote report with passing rules, a failed one, an n/a one, and an excused and a blocking suspect."""
    rules = [
        RuleResult.of("threshold roc_auc", "roc_auc", 0.91, 0.8, True, "roc_auc 0.9100 meets the floor 0.8"),
        RuleResult.of("gain over production (CI low)", "roc_auc", -0.01, 0.0, False, "CI lower bound -0.01"),
        RuleResult.of("latency p95", "latency_ms", None, 200.0, None, "n/a: not measured"),
    ]
    decision = Decision(
        outcome="promote",
        primary_metric="roc_auc",
        first_model=False,
        rules=rules,
        notes=[],
        metrics={"challenger": {"roc_auc": 0.91}, "production": {"roc_auc": 0.89, "pr_auc": 0.7}},
    )
    suspects = [
        {
            "columns": ["x2"],
            "check": "single_feature_auc",
            "value": 0.97,
            "threshold": 0.95,
            "severity": "suspect",
            "excused": True,
            "reason": "x2 is known at booking time",
            "detail": "d",
        },
        {
            "columns": ["noise"],
            "check": "near_duplicate",
            "value": 0.99,
            "threshold": 0.9,
            "severity": "suspect",
            "excused": False,
            "detail": "copy of the label",
        },
    ]
    return PromotionReport(
        status="pending_approval", decision=decision, challenger_digest="ab" * 32, version_id=version_id, suspects=suspects
    )


def evaluate_report(production: str) -> EvaluateReport:
    """Return reports/metrics.json of a run that scored the challenger and `production` with intervals."""
    return EvaluateReport(
        task="binary",
        primary_metric="roc_auc",
        test_rows=100,
        models={},
        production_version=production,
        intervals={
            "lightgbm": {"roc_auc": Interval(low=0.88, high=0.93)},
            "production": {"roc_auc": Interval(low=0.86, high=0.91)},
        },
    )


def test_the_evidence_shows_every_rule_the_metrics_beside_production_the_suspects_and_the_reports(tmp_path, bundles):
    reg = tmp_path / "registry"
    prod = lifecycle.register_version(reg, bundles["a"], dvc_record())
    lifecycle.set_production(reg, prod, "first", "tester")
    pending = lifecycle.register_version(reg, bundles["b"], dvc_record("pending_approval", compared_with=prod))
    reports = tmp_path / "reports"
    io.write_json(promotion_report(pending).to_data(), reports / "promotion.json")
    io.write_json(evaluate_report(prod).to_data(), reports / "metrics.json")
    md = approval_evidence(reg, reports, pending)
    lines = md.splitlines()
    for line in (
        "- **threshold roc_auc**: 0.9100 > 0.8000 — pass; roc_auc 0.9100 meets the floor 0.8",
        "- **gain over production (CI low)**: -0.0100 < 0 — **FAIL**; CI lower bound -0.01",
        "- **latency p95**: limit 200 — n/a; n/a: not measured",
        "- **roc_auc** (primary): 0.9100 [0.8800, 0.9300] vs production 0.8900 [0.8600, 0.9100]",
        "- **pr_auc**: 0.8000 vs production 0.7000",
        "- **f1**: 0.7000 (no production value)",
        "- **x2** single_feature_auc 0.9700 > 0.9500 — excused: x2 is known at booking time; d",
        "- **noise** near_duplicate 0.9900 > 0.9000 — **suspect**; copy of the label",
    ):
        assert line in lines, f"{line!r} not a line of\n{md}"
    for text in ("model_card.md", "report.html", f"production now: `{prod}`"):
        assert text in md, text
    assert not any(line.lstrip().startswith("|") for line in lines), "no table: the Resume form is ~420 px wide"
    io.write_json(promotion_report("v0042-00000000").to_data(), reports / "promotion.json")
    other = approval_evidence(reg, reports, pending)
    assert "describes another run" in other and "threshold roc_auc" not in other
    assert "tabgate models promote v1 --reason" in expired_markdown("v1", "2026-01-01T00:00:00+00:00", 60)


def test_cli_reject_and_history(world, monkeypatch, capsys):
    reg, prod, pending = world
    monkeypatch.chdir(reg.parent)
    monkeypatch.delenv("TABGATE_PARAMS", raising=False)
    (reg.parent / "params.yaml").write_text("data:\n  target: y\ningest:\n  source: t.csv\n")
    assert dispatch(build_parser().parse_args(["models", "reject", pending, "--reason", "not now"])) == 0
    assert catalog.current_status(reg, pending) == ModelStatus.REJECTED
    assert dispatch(build_parser().parse_args(["models", "reject", pending, "--reason", "again"])) == 4
    assert dispatch(build_parser().parse_args(["models", "history"])) == 0
    assert "not now" in capsys.readouterr().out


def test_the_ui_deployments_exist_and_none_takes_a_parameter_that_skips_approval_or_the_gate():
    import inspect

    from flows import approval, deploy, registry_actions
    from tasks.core.config import Config

    specs = deploy.deployment_specs(
        Config.model_validate({"data": {"target": "y"}, "ingest": {"source": "t.csv"}}), "params.yaml"
    )
    assert {"approval", "approval-expire", "rollback", "approve-version", "reject-version"} <= set(specs)
    assert all(specs[n]["schedule"] is None for n in deploy.ON_DEMAND)
    flows_ = (
        approval.approval_flow,
        approval.approval_expire_flow,
        registry_actions.rollback_flow,
        registry_actions.approve_version_flow,
        registry_actions.reject_version_flow,
    )
    names = {p for f in flows_ for p in inspect.signature(f.fn).parameters}
    assert not names & {"force", "require_approval", "skip_gate", "thresholds"}, names


def test_the_approval_form_requires_a_decision_a_reason_and_a_name():
    from pydantic import ValidationError

    from flows.approval import ApprovalInput

    schema = ApprovalInput.model_json_schema()
    assert set(schema["required"]) == {"decision", "reason", "approver"}
    assert schema["properties"]["decision"]["enum"] == ["approve", "reject"]
    for bad in ({"decision": "approve", "reason": "  ", "approver": "a"}, {"decision": "maybe", "reason": "r", "approver": "a"}):
        with pytest.raises(ValidationError):
            ApprovalInput(**bad)


def test_without_a_reachable_approval_deployment_the_training_run_logs_the_cli_command(monkeypatch, caplog):
    import logging

    from flows import approval

    def unreachable(*args, **kwargs):
        raise RuntimeError("no deployment tabgate-approval/tabgate-approval")

    monkeypatch.setattr(approval, "run_deployment", unreachable)
    monkeypatch.setattr(approval, "get_run_logger", lambda: logging.getLogger("test.approval"))
    with caplog.at_level(logging.INFO, logger="test.approval"):
        assert approval.request_approval("v0002-abcdef12", "params.yaml") is None
    assert "tabgate models promote v0002-abcdef12 --reason" in caplog.text


class FakeRunClient:
    """The flow-run endpoints the approval flow reads and writes, in memory (a sync client's context manager)."""

    def __init__(self, runs: list | None = None, pause_keys: set[str] | None = None) -> None:
        self.runs, self.pause_keys, self.states = runs or [], pause_keys or set(), {}

    def __enter__(self) -> FakeRunClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read_flow_run(self, run_id):
        from types import SimpleNamespace

        return SimpleNamespace(empirical_policy=SimpleNamespace(pause_keys=self.pause_keys))

    def read_flow_runs(self, flow_filter=None, flow_run_filter=None, **_):
        wanted = {t.value for t in flow_run_filter.state.type.any_}
        if flow_run_filter.idempotency_key is not None:
            keys = flow_run_filter.idempotency_key.any_
            return [r for r in self.runs if r.idempotency_key in keys and r.state_type in wanted]
        return [r for r in self.runs if r.flow == flow_filter.name.any_[0] and r.state_type in wanted]

    def set_flow_run_state(self, run_id, state, force=False):
        self.states[run_id] = (state.type.value, state.message)


def run_approval_flow(world, monkeypatch, client: FakeRunClient, answer: str = "approve") -> list[str]:
    """Run the approval flow's body once (its restart after Resume when the client says so); return the
    descriptions of the artifacts it published."""
    import logging

    from flows import approval

    reg, _, pending = world
    monkeypatch.chdir(reg.parent)
    (reg.parent / "params.yaml").write_text("data:\n  target: y\ningest:\n  source: t.csv\n")
    published: list[str] = []
    monkeypatch.setattr(approval, "get_client", lambda sync_client=True: client)
    monkeypatch.setattr(approval, "get_run_logger", lambda: logging.getLogger("test.approval"))
    monkeypatch.setattr(approval.flow_run, "get_id", lambda: "0b6b4c1e-8a40-4bb4-9a3c-8f1d1c3c2a10")
    monkeypatch.setattr(approval, "schedule_expiry", lambda *a: None)
    monkeypatch.setattr(approval, "publish_registry_table", lambda cfg: True)
    monkeypatch.setattr(approval, "create_markdown_artifact", lambda **kw: published.append(kw["description"]))
    monkeypatch.setattr(
        approval, "suspend_flow_run", lambda **kw: approval.ApprovalInput(decision=answer, reason="fine", approver="alice")
    )
    approval.approval_flow.fn(pending, "params.yaml")
    return published


def test_the_restart_after_resume_publishes_the_decision_not_the_evidence_again(world, monkeypatch):
    _, _, pending = world
    published = run_approval_flow(world, monkeypatch, FakeRunClient(pause_keys={f"approval-{pending}"}))
    assert published == [f"{pending}: approved"], published


def test_the_first_run_publishes_the_evidence_before_it_suspends(world, monkeypatch):
    _, _, pending = world
    published = run_approval_flow(world, monkeypatch, FakeRunClient(), answer="reject")
    assert published == [f"{pending}: waiting for approval (Resume this run to decide)", f"{pending}: rejected"]


def fake_run(flow: str, state: str, tags: tuple[str, ...] = (), key: str | None = None, **parameters):
    """Return a flow run as the fake client lists it."""
    import uuid
    from types import SimpleNamespace

    return SimpleNamespace(
        id=uuid.uuid4(), flow=flow, state_type=state, tags=list(tags), idempotency_key=key, parameters=parameters
    )


def waiting_world(version: str) -> tuple[FakeRunClient, dict]:
    """A server with the version's Suspended approval run and its scheduled expire run, beside runs to leave alone."""
    approval = fake_run("tabgate-approval", "PAUSED", ("tabgate", "approval", f"model:{version}"), version=version)
    runs = {
        "approval": approval,
        "expire": fake_run("tabgate-approval-expire", "SCHEDULED", key=f"approval-expire-{approval.id}"),
        "other": fake_run("tabgate-approval", "PAUSED", ("model:v0099-00000000",), version="v0099-00000000"),
        "done": fake_run("tabgate-approval", "COMPLETED", (f"model:{version}",), version=version),
    }
    return FakeRunClient(list(runs.values())), runs


def test_a_version_decided_elsewhere_cancels_its_waiting_approval_run_and_its_expire_run():
    from flows.approval import cancel_waiting_approval

    client, runs = waiting_world("v0002-abcdef12")
    cancelled = cancel_waiting_approval("v0002-abcdef12", "reject", "bob", "tabgate models reject", client)
    assert cancelled == [runs["approval"].id, runs["expire"].id]
    assert client.states[runs["approval"].id] == ("CANCELLED", "decided elsewhere: reject by bob (tabgate models reject)")
    assert client.states[runs["expire"].id][0] == "CANCELLED"
    assert runs["other"].id not in client.states and runs["done"].id not in client.states


def test_without_a_server_deciding_elsewhere_asks_no_server(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import approval

    monkeypatch.setattr(approval, "get_client", lambda **kw: pytest.fail("no server is configured"))
    with temporary_settings(set_defaults={PREFECT_API_URL: None}, restore_defaults={PREFECT_API_URL}):
        assert approval.cancel_waiting_approval("v1", "approve", "a", "tabgate models promote") == []


@pytest.mark.parametrize(("action", "decision"), [("promote", "approve"), ("reject", "reject")])
def test_cli_decision_cancels_the_waiting_approval_run(world, monkeypatch, capsys, action, decision):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import approval, cli

    reg, _, pending = world
    monkeypatch.chdir(reg.parent)
    monkeypatch.delenv("TABGATE_PARAMS", raising=False)
    (reg.parent / "params.yaml").write_text("data:\n  target: y\ningest:\n  source: t.csv\n")
    client, runs = waiting_world(pending)
    monkeypatch.setattr(approval, "get_client", lambda sync_client=True: client)
    monkeypatch.setattr(cli, "publish_registry_if_served", lambda cfg: None)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):  # a served project
        assert dispatch(build_parser().parse_args(["models", action, pending, "--reason", "checked"])) == 0
    actor = catalog.read_history(reg)[-1].actor
    assert client.states[runs["approval"].id] == (
        "CANCELLED",
        f"decided elsewhere: {decision} by {actor} (tabgate models {action})",
    )
    assert client.states[runs["expire"].id][0] == "CANCELLED"
    assert "waiting approval run" in capsys.readouterr().out


def test_the_reject_version_deployment_cancels_the_waiting_approval_run(world, monkeypatch):
    import logging

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import approval, registry_actions

    reg, _, pending = world
    monkeypatch.chdir(reg.parent)
    (reg.parent / "params.yaml").write_text("data:\n  target: y\ningest:\n  source: t.csv\n")
    client, runs = waiting_world(pending)
    monkeypatch.setattr(approval, "get_client", lambda sync_client=True: client)
    for name, fake in (
        ("get_run_logger", lambda: logging.getLogger("test.actions")),
        ("publish_registry_table", lambda cfg: True),
        ("create_markdown_artifact", lambda **kw: None),
    ):
        monkeypatch.setattr(registry_actions, name, fake)
    monkeypatch.setattr(registry_actions.flow_run, "get_id", lambda: "run-7")
    monkeypatch.setattr(registry_actions.flow_run, "get_flow_name", lambda: "tabgate-reject-version")
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        registry_actions.reject_version_flow.fn(pending, "drift on x2", "dave")
    assert catalog.current_status(reg, pending) == ModelStatus.REJECTED
    assert client.states[runs["approval"].id] == (
        "CANCELLED",
        "decided elsewhere: reject by dave (tabgate-reject-version run run-7)",
    )
    assert client.states[runs["expire"].id][0] == "CANCELLED"


@pytest.mark.parametrize("which", ["production", "approved_earlier"])
def test_the_approve_version_deployment_refuses_a_version_that_is_not_pending(world, monkeypatch, which):
    """Found from outside: approving the version already in production completed and claimed an approval."""
    import logging

    from flows import registry_actions

    reg, prod, pending = world
    if which == "approved_earlier":
        lifecycle.approve_version(reg, pending, "ok", "erin")
        target = pending
    else:
        target = prod
    monkeypatch.chdir(reg.parent)
    (reg.parent / "params.yaml").write_text("data:\n  target: y\ningest:\n  source: t.csv\n")
    failures, artifacts = [], []
    for name, fake in (
        ("get_run_logger", lambda: logging.getLogger("test.actions")),
        ("publish_registry_table", lambda cfg: True),
        ("publish_failure", failures.append),
        ("create_markdown_artifact", lambda **kw: artifacts.append(kw)),
    ):
        monkeypatch.setattr(registry_actions, name, fake)
    monkeypatch.setattr(registry_actions.flow_run, "get_id", lambda: "run-9")
    history = (reg / "history.jsonl").read_bytes() if (reg / "history.jsonl").exists() else b""
    production = (reg / "production.json").read_bytes()
    with pytest.raises(PromotionError, match=target):
        registry_actions.approve_version_flow.fn(target, "again", "x")
    assert failures and not artifacts  # a run-failure, no artifact claiming an approval
    assert (reg / "production.json").read_bytes() == production
    assert ((reg / "history.jsonl").read_bytes() if (reg / "history.jsonl").exists() else b"") == history


def test_the_training_flow_refuses_require_approval_false_before_it_reads_params(tmp_path, monkeypatch):
    """A run form may add approval, never switch it off: the flow stops before any step (or the config) is touched."""
    import logging

    from flows import training
    from tasks.core.errors import UnsafeParameter

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("promote:\n  require_approval: true\n")
    failures, loads = [], []
    monkeypatch.setattr(training, "get_run_logger", lambda: logging.getLogger("test"))
    monkeypatch.setattr(training, "publish_failure", failures.append)
    monkeypatch.setattr(training, "load_config", lambda params: loads.append(params) or pytest.fail("params read"))
    with pytest.raises(UnsafeParameter, match="require_approval=false"):
        training.training_flow.fn(params="params.yaml", require_approval=False)
    assert loads == [] and [type(e) for e in failures] == [UnsafeParameter]
