"""Lifecycle: register, promote, approve, force, roll back; the atomic pointer, the lock, crash safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tasks.core import io
from tasks.core.errors import ModelIntegrityError, PromotionError
from tasks.modelling.bundle import bundle_digest
from tasks.registry import catalog, lifecycle, manifest
from tasks.registry.records import Action, RecordStatus
from tests.support.registry_world import REPO, bundles, dvc_record, record

__all__ = ["bundles"]  # the fixture


def test_register_and_promote_makes_a_verified_production_model(tmp_path, bundles):
    reg = tmp_path / "registry"
    assert manifest.production_bundle_dir(reg) is None and manifest.load_production(reg) is None
    vid = lifecycle.register_version(reg, bundles["a"], record())
    assert vid.startswith("v0001-") and vid.endswith(bundle_digest(bundles["a"])[:8])
    lifecycle.set_production(reg, vid, "first", "tester")
    assert catalog.production_version(reg) == vid
    assert io.sha256_tree(manifest.production_bundle_dir(reg)) == io.sha256_tree(bundles["a"])
    assert manifest.load_production(reg).features == ["x1"]
    rec = catalog.read_record(reg, vid)
    assert rec.bundle_digest == bundle_digest(bundles["a"]) and rec.created_at
    listed = catalog.list_versions(reg)
    assert [(v.version_id, v.production) for v in listed] == [(vid, True)]
    actions = [h.action for h in catalog.read_history(reg)]
    assert actions == ["register", "promote"]


def test_same_bundle_registered_twice_keeps_its_version(tmp_path, bundles):
    reg = tmp_path / "registry"
    v1 = lifecycle.register_version(reg, bundles["a"], record("rejected"))
    v2 = lifecycle.register_version(reg, bundles["b"], record())
    again = lifecycle.register_version(reg, bundles["a"], record("approved"))
    assert again == v1 and v2.startswith("v0002-")
    rec = catalog.read_record(reg, v1)
    assert rec.status == RecordStatus.APPROVED and [d["status"] for d in rec.earlier_decisions] == ["rejected"]
    assert len(catalog.list_versions(reg)) == 2


def test_rollback_restores_previous_version_byte_for_byte(tmp_path, bundles):
    reg = tmp_path / "registry"
    ids = {k: lifecycle.register_version(reg, bundles[k], record()) for k in ("a", "b", "c")}
    for k in ("a", "b", "c"):
        lifecycle.set_production(reg, ids[k], f"ship {k}", "tester")
    assert catalog.read_pointer(reg).previous == ids["b"]
    assert lifecycle.rollback(reg, "c breaks dashboards", "tester") == ids["b"]
    assert io.sha256_tree(manifest.production_bundle_dir(reg)) == io.sha256_tree(bundles["b"])
    assert lifecycle.rollback(reg, "b too", "tester") == ids["a"]
    assert io.sha256_tree(manifest.production_bundle_dir(reg)) == io.sha256_tree(bundles["a"])
    assert catalog.read_pointer(reg).previous is None
    with pytest.raises(PromotionError, match="no earlier version"):
        lifecycle.rollback(reg, "again", "tester")
    rollbacks = [h for h in catalog.read_history(reg) if h.action == Action.ROLLBACK]
    assert [(h.from_version, h.version_id, h.reason) for h in rollbacks] == [
        (ids["c"], ids["b"], "c breaks dashboards"),
        (ids["b"], ids["a"], "b too"),
    ]


def test_rollback_needs_a_reason_and_a_production_model(tmp_path, bundles):
    reg = tmp_path / "registry"
    with pytest.raises(PromotionError, match="no production model"):
        lifecycle.rollback(reg, "why not")
    with pytest.raises(PromotionError, match="reason"):
        lifecycle.rollback(reg, "  ")


def test_tampered_model_file_is_refused_on_load(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["b"], record())
    lifecycle.set_production(reg, vid, "ok", "tester")
    model_file = reg / "versions" / vid / "bundle" / "model.txt"
    model_file.write_text(model_file.read_text().replace("learning_rate", "learning_rate ", 1))
    with pytest.raises(ModelIntegrityError, match="checksum mismatch"):
        manifest.production_bundle_dir(reg)
    with pytest.raises(ModelIntegrityError):
        manifest.load_production(reg)


def test_cannot_point_production_at_a_tampered_version(tmp_path, bundles):
    reg = tmp_path / "registry"
    good = lifecycle.register_version(reg, bundles["a"], record())
    bad = lifecycle.register_version(reg, bundles["b"], record())
    lifecycle.set_production(reg, good, "ok", "tester")
    (reg / "versions" / bad / "bundle" / "preprocessor.skops").write_bytes(b"not a model")
    with pytest.raises(ModelIntegrityError):
        lifecycle.force_promote(reg, bad, "try anyway", "tester")
    assert catalog.production_version(reg) == good


def test_force_promote_needs_a_written_reason_and_records_it(tmp_path, bundles):
    reg = tmp_path / "registry"
    a = lifecycle.register_version(reg, bundles["a"], record())
    b = lifecycle.register_version(reg, bundles["b"], record("rejected"))
    lifecycle.set_production(reg, a, "first", "tester")
    for empty in ("", "   ", None):
        with pytest.raises(PromotionError, match="written reason"):
            lifecycle.force_promote(reg, b, empty, "tester")
    assert catalog.production_version(reg) == a
    with pytest.raises(PromotionError, match="did not pass"):
        lifecycle.approve_version(reg, b, "please", "tester")
    lifecycle.force_promote(reg, b, "hotfix for ticket 42", "tester")
    assert catalog.production_version(reg) == b
    last = catalog.read_history(reg)[-1]
    assert (last.action, last.reason, last.from_version) == ("force_promote", "hotfix for ticket 42", a)


def test_unknown_version_is_refused(tmp_path, bundles):
    reg = tmp_path / "registry"
    lifecycle.register_version(reg, bundles["a"], record())
    with pytest.raises(PromotionError, match="no registered version"):
        lifecycle.set_production(reg, "v0099-deadbeef", "typo", "tester")


def test_switch_refused_when_production_changed_meanwhile(tmp_path, bundles):
    reg = tmp_path / "registry"
    a = lifecycle.register_version(reg, bundles["a"], record())
    b = lifecycle.register_version(reg, bundles["b"], record())
    lifecycle.set_production(reg, a, "someone else promoted a", "other")
    with pytest.raises(PromotionError, match="production changed"):
        lifecycle.set_production(reg, b, "gate passed vs nothing", "tester", expected_current=None)
    assert catalog.production_version(reg) == a


def test_second_writer_waits_then_gets_a_clear_error(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["a"], record())
    with lifecycle.registry_lock(reg):
        start = time.monotonic()
        with pytest.raises(PromotionError, match="another run holds the registry lock"):
            lifecycle.set_production(reg, vid, "racing", "tester", lock_timeout=0.3)
        assert time.monotonic() - start >= 0.3
    assert catalog.production_version(reg) is None
    lifecycle.set_production(reg, vid, "after the lock", "tester", lock_timeout=1)
    assert catalog.production_version(reg) == vid


def test_failure_during_copy_leaves_nothing_visible(tmp_path, bundles, monkeypatch):
    reg = tmp_path / "registry"
    first = lifecycle.register_version(reg, bundles["a"], record())
    calls = []

    def broken_copy(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise OSError("disk full")
        shutil.copyfile(src, dst)

    monkeypatch.setattr(lifecycle, "_copy_file", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        lifecycle.register_version(reg, bundles["b"], record())
    assert [v.version_id for v in catalog.list_versions(reg)] == [first]
    assert sorted(p.name for p in (reg / "versions").iterdir()) == [first]


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import tasks.registry.lifecycle as r
    from tasks.registry.records import CandidateRecord

    reg, bundle, marker = (Path(a) for a in sys.argv[1:4])
    real_copy = r._copy_file

    def slow_copy(src, dst):
        real_copy(src, dst)
        marker.write_text("copy started")
        time.sleep(120)

    r._copy_file = slow_copy
    record = CandidateRecord.model_validate({"status": "approved", "decision": {"outcome": "promote"}})
    vid = r.register_version(reg, bundle, record)
    r.set_production(reg, vid, "should never happen", "killed-run")
    """
)


def test_process_killed_mid_promotion_leaves_previous_production_loadable(tmp_path, bundles):
    reg = tmp_path / "registry"
    old = lifecycle.register_version(reg, bundles["a"], record())
    lifecycle.set_production(reg, old, "first", "tester")
    pointer_before = (reg / "production.json").read_bytes()
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(reg), str(bundles["c"]), str(marker)], cwd=REPO, env=env, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the child never started copying"
        time.sleep(0.05)
    assert any(p.name.startswith(".incoming-") for p in (reg / "versions").iterdir())  # really mid-copy
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert (reg / "production.json").read_bytes() == pointer_before
    assert catalog.production_version(reg) == old
    assert io.sha256_tree(manifest.production_bundle_dir(reg)) == io.sha256_tree(bundles["a"])
    assert manifest.load_production(reg).features == ["x1"]
    assert [v.version_id for v in catalog.list_versions(reg)] == [old]
    # the lock died with the process; the next registration succeeds and sweeps the half copy away
    new = lifecycle.register_version(reg, bundles["c"], record(), lock_timeout=5)
    assert new.startswith("v0002-")
    assert not any(p.name.startswith(".incoming-") for p in (reg / "versions").iterdir())
    assert io.sha256_tree(reg / "versions" / new / "bundle") == io.sha256_tree(bundles["c"])


def test_history_is_valid_jsonl(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["a"], record())
    lifecycle.set_production(reg, vid, "line | with 'quotes' and \"more\"\nnewline", "tester")
    lines = (reg / "history.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["reason"].endswith("newline")


def test_model_card_is_attached_to_the_version(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["a"], dvc_record())
    path = lifecycle.attach_model_card(reg, vid, "# Model card\n", {"version_id": vid})
    assert path == catalog.model_card_path(reg, vid) and path.read_text() == "# Model card\n"
    assert io.read_json(path.with_suffix(".json")) == {"version_id": vid}
    assert catalog.list_versions(reg)[0].model_card == str(path)


def test_rollback_restores_the_previous_production_exactly(tmp_path, bundles):
    """After a promotion and its rollback, the pointer names the same version, pins the same manifest and has
    the same lineage as before the promotion; the bytes served are the earlier model's."""
    reg = tmp_path / "registry"
    a, b = (lifecycle.register_version(reg, bundles[k], record()) for k in ("a", "b"))
    lifecycle.set_production(reg, a, "first", "tester")
    before = catalog.read_pointer(reg)
    files_before = manifest.verified_production_files(reg)
    lifecycle.set_production(reg, b, "second", "tester")
    assert catalog.production_version(reg) == b
    assert lifecycle.rollback(reg, "b misbehaves", "oncall") == a
    after = catalog.read_pointer(reg)
    assert before is not None and after is not None
    same = ("version_id", "manifest_sha256", "lineage", "previous")
    assert {k: getattr(after, k) for k in same} == {k: getattr(before, k) for k in same}
    assert after.action is Action.ROLLBACK and after.reason == "b misbehaves"
    assert manifest.verified_production_files(reg) == files_before
    assert io.sha256_tree(manifest.production_bundle_dir(reg)) == io.sha256_tree(bundles["a"])


def test_the_pointer_and_records_are_written_durably(tmp_path, bundles, monkeypatch):
    """Every registry file is fsynced before its rename and its directory after it (tasks.core.io durable writes)."""
    reg = tmp_path / "registry"
    synced_files, synced_dirs = [], []
    real_file, real_dir = io.fsync_file, io.fsync_dir
    monkeypatch.setattr(io, "fsync_file", lambda p: (synced_files.append(Path(p).name), real_file(p)))
    monkeypatch.setattr(io, "fsync_dir", lambda p: (synced_dirs.append(Path(p)), real_dir(p)))
    vid = lifecycle.register_version(reg, bundles["a"], record())
    lifecycle.set_production(reg, vid, "first", "tester")
    lifecycle.attach_model_card(reg, vid, "# card\n", {"version_id": vid})
    for name in ("record.json", "manifest.json", "production.json", "model_card.json", "model_card.md"):
        assert any(f.startswith(f".{name}.") for f in synced_files), name
    assert reg in synced_dirs and reg / "versions" in synced_dirs and reg / "versions" / vid in synced_dirs
