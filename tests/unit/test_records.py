"""Records: the typed models read the JSON the registry has always written, and write back the same keys."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tasks.core import io
from tasks.registry import catalog
from tasks.registry.records import (
    Action,
    GateOutcome,
    HistoryLine,
    ModelStatus,
    ProductionPointer,
    PromotionStatus,
    RecordStatus,
    VersionRecord,
)

# production.json and a record.json exactly as tasks/registry/store.py wrote them before the split
OLD_POINTER = {
    "action": "approve",
    "actor": "me@host",
    "lineage": ["v0001-72c04706", "v0002-a34ff214"],
    "manifest_sha256": "ab" * 32,
    "previous": "v0001-72c04706",
    "promoted_at": "2026-12-07T05:00:00+00:00",
    "reason": "reviewed",
    "version_id": "v0002-a34ff214",
}
OLD_RECORD = {
    "status": "pending_approval",
    "kind": "lightgbm",
    "task": "binary",
    "primary_metric": "roc_auc",
    "metrics": {"roc_auc": 0.9, "f1": None},
    "decision": {"outcome": "promote", "failed_rules": [], "first_model": False, "notes": [], "rules": []},
    "dvc": {
        "output": "artifacts/models",
        "path": "artifacts/models/lightgbm",
        "md5": "x.dir",
        "lock_md5": None,
        "lock_current": False,
        "artifact": "tabgate-model",
        "revision": None,
    },
    "version_id": "v0002-a34ff214",
    "bundle_digest": "a34ff214" + "0" * 56,
    "created_at": "2026-12-07T05:00:00+00:00",
    "a_key_from_the_future": {"kept": True},
}


def test_old_files_load_and_write_back_the_same_keys_and_values():
    pointer = ProductionPointer.model_validate(OLD_POINTER)
    assert pointer.action is Action.APPROVE and pointer.installed() == OLD_POINTER["lineage"]
    assert io.to_json(pointer.to_json_dict()) == io.to_json(OLD_POINTER)
    record = VersionRecord.model_validate(OLD_RECORD)
    assert record.status is RecordStatus.PENDING_APPROVAL and record.dvc is not None and record.dvc.md5 == "x.dir"
    assert record.decision is not None and record.decision.outcome is GateOutcome.PROMOTE
    assert io.to_json(record.to_json_dict()) == io.to_json(OLD_RECORD)  # unknown keys survive


def test_a_pointer_without_lineage_still_knows_its_version():
    pointer = ProductionPointer.model_validate({"version_id": "v0001-72c04706"})
    assert pointer.installed() == ["v0001-72c04706"] and pointer.to_json_dict() == {"version_id": "v0001-72c04706"}


def test_history_line_reads_from_under_its_file_name():
    line = HistoryLine.model_validate(json.loads('{"action": "rollback", "from": "v0002-a", "version_id": "v0001-b"}'))
    assert line.from_version == "v0002-a" and line.action is Action.ROLLBACK
    assert line.to_json_dict() == {"action": "rollback", "from": "v0002-a", "version_id": "v0001-b"}


def test_an_unknown_status_is_an_error_not_a_silent_string():
    with pytest.raises(ValidationError):
        VersionRecord.model_validate({**OLD_RECORD, "status": "aproved"})
    assert VersionRecord.model_validate({**OLD_RECORD, "status": ""}).status is None


def test_enums_serialise_as_the_strings_the_files_always_held():
    assert io.to_json({"s": PromotionStatus.ALREADY_IN_PRODUCTION, "a": Action.FORCE_PROMOTE}) == io.to_json(
        {"s": "already_in_production", "a": "force_promote"}
    )
    assert ModelStatus.PENDING_APPROVAL.label == "pending approval"


def test_torn_or_foreign_history_lines_are_skipped(tmp_path):
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "history.jsonl").write_text('{"action": "register", "version_id": "v0001-b"}\n{"action": "prom')
    assert [h.version_id for h in catalog.read_history(reg)] == ["v0001-b"]
