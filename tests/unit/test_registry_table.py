"""The `model-registry` table: one row per version, newest first, with status, test metric, data version and the
latest history line's when / who / why; published best effort (an unreachable server never fails anything)."""

from __future__ import annotations

import logging

from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.artifacts import publish_registry_table
from flows.cli import build_parser, dispatch
from tasks.registry import catalog, lifecycle
from tasks.registry.records import HistoryLine, PromotionStatus, VersionRecord
from tasks.reporting.registry_table import (
    RegistryRow,
    changed_registry,
    read_registry_rows,
    registry_rows,
    table_of,
)
from tests.conftest import make_config
from tests.support.registry_world import bundles, dvc_record

__all__ = ["bundles"]  # the fixture
COLUMNS = ["version", "status", "production", "test_metric", "when", "who", "action", "why", "data_version"]


def rec(vid: str, status: str = "approved", roc: float = 0.9, data: str = "0123456789abcdef.dir") -> VersionRecord:
    return VersionRecord(
        version_id=vid,
        status=status,
        primary_metric="roc_auc",
        task="binary",
        metrics={"roc_auc": roc, "pr_auc": 0.5},
        data_version=data,
        created_at="2026-01-01T00:00:00+00:00",
    )


def line(action: str, vid: str, **kw) -> HistoryLine:
    return HistoryLine.model_validate({"action": action, "version_id": vid, **kw})


def test_rows_are_newest_first_with_every_column():
    records = [
        rec("v0001-aaaaaaaa", roc=0.81),
        rec("v0002-bbbbbbbb", "pending_approval", roc=0.83),
        rec("v0010-cccccccc", "rejected", roc=0.7),
    ]
    history = [
        line("register", "v0001-aaaaaaaa", at="t1", status="approved"),
        line("promote", "v0001-aaaaaaaa", at="2026-12-07T16:25:51+00:00", reason="gate passed", actor="tabgate promote"),
        line("register", "v0002-bbbbbbbb", at="t3", status="pending_approval"),
        line("register", "v0010-cccccccc", at="t4", status="rejected"),
    ]
    rows = registry_rows(records, history, "v0001-aaaaaaaa")
    assert [r.version for r in rows] == ["v0010-cccccccc", "v0002-bbbbbbbb", "v0001-aaaaaaaa"]  # by number, not text
    assert list(table_of(rows)[0]) == COLUMNS
    by = {r.version: r for r in rows}
    assert by["v0001-aaaaaaaa"] == RegistryRow(
        version="v0001-aaaaaaaa",
        status="production",
        production="yes",
        test_metric="roc_auc 0.8100",
        when="2026-12-07 16:25 UTC",
        who="tabgate promote",
        action="promote",
        why="gate passed",
        data_version="0123456789ab",
    )
    assert (by["v0002-bbbbbbbb"].status, by["v0002-bbbbbbbb"].production) == ("pending approval", "")
    assert by["v0002-bbbbbbbb"].why == "registered as pending approval" and by["v0002-bbbbbbbb"].when == "t3"
    assert by["v0010-cccccccc"].status == "rejected" and by["v0010-cccccccc"].test_metric == "roc_auc 0.7000"


def test_a_replaced_or_rolled_back_version_says_by_which_and_why():
    records = [rec("v0001-aaaaaaaa"), rec("v0002-bbbbbbbb")]
    history = [
        line("promote", "v0001-aaaaaaaa", at="t1", reason="first", actor="ci"),
        line("approve", "v0002-bbbbbbbb", at="t2", reason="reviewed", actor="ann", **{"from": "v0001-aaaaaaaa"}),
        line("rollback", "v0001-aaaaaaaa", at="t3", reason="v2 is slow", actor="bob", **{"from": "v0002-bbbbbbbb"}),
    ]
    by = {r.version: r for r in registry_rows(records, history, "v0001-aaaaaaaa")}
    assert (by["v0002-bbbbbbbb"].status, by["v0002-bbbbbbbb"].action) == ("archived", "rolled back to v0001-aaaaaaaa")
    assert (by["v0002-bbbbbbbb"].who, by["v0002-bbbbbbbb"].why, by["v0002-bbbbbbbb"].when) == ("bob", "v2 is slow", "t3")
    assert (by["v0001-aaaaaaaa"].status, by["v0001-aaaaaaaa"].action) == ("production", "rollback")
    before = {r.version: r for r in registry_rows(records, history[:2], "v0002-bbbbbbbb")}
    assert before["v0001-aaaaaaaa"].action == "replaced by v0002-bbbbbbbb (approve)"
    assert (before["v0001-aaaaaaaa"].who, before["v0001-aaaaaaaa"].why) == ("ann", "reviewed")


def test_a_version_without_history_or_metric_still_gets_a_row():
    bare = VersionRecord(version_id="v0001-aaaaaaaa", created_at="c")
    (row,) = registry_rows([bare], [], None)
    assert (row.status, row.test_metric, row.when, row.who, row.why) == ("archived", "", "c", "", "")
    assert registry_rows([], [], None) == []


def test_rows_match_the_registry_after_register_promote_approve_rollback(tmp_path, bundles):
    reg = tmp_path / "registry"
    a = lifecycle.register_version(reg, bundles["a"], dvc_record())
    b = lifecycle.register_version(reg, bundles["b"], dvc_record("pending_approval"))
    lifecycle.set_production(reg, a, "first", "tester")
    lifecycle.approve_version(reg, b, "looks good", "ann")
    lifecycle.rollback(reg, "b is slow", "oncall")
    rows = read_registry_rows(reg)
    listed = {v.version_id: v.status.label for v in catalog.list_versions(reg)}
    assert {r.version: r.status for r in rows} == listed == {a: "production", b: "archived"}
    assert [r.version for r in rows if r.production] == [catalog.production_version(reg)] == [a]
    assert {r.version: (r.action, r.who, r.why) for r in rows} == {
        a: ("rollback", "oncall", "b is slow"),
        b: (f"rolled back to {a}", "oncall", "b is slow"),
    }
    assert all(r.test_metric == "roc_auc 0.9100" and r.when.endswith(" UTC") for r in rows)


def test_only_a_promote_that_registered_or_switched_changes_the_registry():
    from tasks.reporting.promotion_report import PromotionReport

    def report(status: PromotionStatus, vid: str | None) -> PromotionReport:
        return PromotionReport.model_construct(status=status, version_id=vid)

    assert changed_registry(report(PromotionStatus.PROMOTED, "v0001-aaaaaaaa"))
    assert changed_registry(report(PromotionStatus.PENDING_APPROVAL, "v0001-aaaaaaaa"))
    assert changed_registry(report(PromotionStatus.REJECTED, "v0001-aaaaaaaa"))  # registered as rejected
    assert not changed_registry(report(PromotionStatus.REJECTED, None))  # promote.register_rejected: false
    assert not changed_registry(report(PromotionStatus.ALREADY_IN_PRODUCTION, "v0001-aaaaaaaa"))
    assert not changed_registry(report(PromotionStatus.EXPERIMENT, None))


def closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"  # nothing listens once the socket is closed


def test_publishing_to_an_unreachable_server_warns_and_returns_false(tmp_path, bundles, caplog):
    cfg = make_config(tmp_path)
    lifecycle.register_version(cfg.paths.registry_dir, bundles["a"], dvc_record())
    with temporary_settings({PREFECT_API_URL: closed_port_url()}), caplog.at_level(logging.WARNING):
        assert publish_registry_table(cfg) is False
    assert "could not publish the model-registry artifact" in caplog.text


def test_cli_promote_still_works_when_the_configured_server_is_down(tmp_path, bundles, monkeypatch, caplog):
    import yaml

    cfg = make_config(tmp_path)
    reg = cfg.paths.registry_dir
    a = lifecycle.register_version(reg, bundles["a"], dvc_record())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["--params", "params.yaml", "models", "promote", a, "--reason", "ok"])
    with temporary_settings({PREFECT_API_URL: closed_port_url()}), caplog.at_level(logging.WARNING):
        assert dispatch(args) == 0
    assert catalog.production_version(reg) == a
    assert "could not publish the model-registry artifact" in caplog.text
