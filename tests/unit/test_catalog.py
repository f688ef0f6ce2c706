"""Catalog: what `tabgate models list` and `history` read, through the typed records."""

from __future__ import annotations

from tasks.registry import catalog, lifecycle
from tasks.registry.records import ModelStatus, RecordStatus
from tests.support.registry_world import bundles, dvc_record

__all__ = ["bundles"]  # the fixture


def test_list_versions_gives_the_table_columns_and_statuses(tmp_path, bundles):
    reg = tmp_path / "registry"
    a = lifecycle.register_version(reg, bundles["a"], dvc_record())
    b = lifecycle.register_version(reg, bundles["b"], dvc_record("rejected"))
    c = lifecycle.register_version(reg, bundles["c"], dvc_record("pending_approval"))
    lifecycle.set_production(reg, a, "first", "tester")
    rows = {v.version_id: v for v in catalog.list_versions(reg)}
    assert {k: v.status for k, v in rows.items()} == {
        a: ModelStatus.PRODUCTION,
        b: ModelStatus.REJECTED,
        c: ModelStatus.PENDING_APPROVAL,
    }
    assert rows[c].status.label == "pending approval"
    assert rows[a].metrics == {"roc_auc": 0.91, "pr_auc": 0.8, "f1": 0.7}  # short: primary first
    assert list(rows[a].metrics)[0] == "roc_auc" and rows[a].record.metrics["brier"] == 0.1
    assert rows[b].record.status == RecordStatus.REJECTED and rows[a].created_at and rows[a].model_card is None
    lifecycle.approve_version(reg, c, "reviewed", "tester")
    lifecycle.force_promote(reg, b, "hotfix", "tester")
    rows = {v.version_id: v for v in catalog.list_versions(reg)}
    assert {k: v.status for k, v in rows.items()} == {a: ModelStatus.ARCHIVED, b: ModelStatus.PRODUCTION, c: ModelStatus.ARCHIVED}


def test_history_rows_have_every_column_oldest_first(tmp_path, bundles):
    reg = tmp_path / "registry"
    assert catalog.read_history(reg) == []
    a = lifecycle.register_version(reg, bundles["a"], dvc_record())
    b = lifecycle.register_version(reg, bundles["b"], dvc_record())
    lifecycle.set_production(reg, a, "first", "tester")
    lifecycle.set_production(reg, b, "better", "tester")
    lifecycle.rollback(reg, "b is slow", "oncall")
    rows = catalog.read_history(reg)
    assert [(r.action, r.version_id, r.from_version) for r in rows] == [
        ("register", a, None),
        ("register", b, None),
        ("promote", a, None),
        ("promote", b, a),
        ("rollback", a, b),
    ]
    assert (rows[-1].reason, rows[-1].actor) == ("b is slow", "oncall")
