"""Registry: versions, the atomic production pointer, rollback, integrity, locking and crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.core import io
from tasks.core.config import DataParams
from tasks.core.errors import ModelIntegrityError, PromotionError
from tasks.modelling.bundle import bundle_digest
from tasks.registry import store as registry
from tests.conftest import tiny_lightgbm_bundle

REPO = Path(__file__).resolve().parents[2]
DATA = DataParams(target="label", task="binary", positive_label="yes", segment_columns=["seg"])


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """Return a small binary table: x1, x2 and seg drive the label, noise does not."""
    rng = np.random.default_rng(seed)
    x1, x2, noise = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    seg = rng.choice(["A", "B"], size=n, p=[0.7, 0.3])
    logit = 1.5 * x1 + np.where(seg == "B", 1.5 * x2, 0.5 * x2)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"x1": x1, "x2": x2, "noise": noise, "seg": seg, "label": np.where(y, "yes", "no")})


def make_bundle(train: pd.DataFrame, dest: Path, numeric: tuple[str, ...], categorical: tuple[str, ...] = (),
                rounds: int = 20, seed: int = 0) -> Path:
    """Fit a tiny LightGBM bundle on the named columns and save it to dest."""
    return tiny_lightgbm_bundle(train, dest, numeric, categorical, DATA, rounds, seed=seed)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """Three distinct bundles: a, b, c."""
    root = tmp_path_factory.mktemp("bundles")
    train = make_frame(400, 1)
    return {
        "a": make_bundle(train, root / "a", ("x1",)),
        "b": make_bundle(train, root / "b", ("x1", "x2")),
        "c": make_bundle(train, root / "c", ("x1", "x2"), ("seg",)),
    }


def record(status: str = "approved") -> dict:
    return {"status": status, "decision": {"outcome": "promote" if status != "rejected" else "reject",
                                           "failed_rules": []}}


def test_register_and_promote_makes_a_verified_production_model(tmp_path, bundles):
    reg = tmp_path / "registry"
    assert registry.production_bundle_dir(reg) is None and registry.load_production(reg) is None
    vid = registry.register_version(reg, bundles["a"], record())
    assert vid.startswith("v0001-") and vid.endswith(bundle_digest(bundles["a"])[:8])
    registry.set_production(reg, vid, "first", "tester")
    assert registry.production_version(reg) == vid
    assert io.sha256_tree(registry.production_bundle_dir(reg)) == io.sha256_tree(bundles["a"])
    assert registry.load_production(reg).features == ["x1"]
    rec = registry.read_record(reg, vid)
    assert rec["bundle_digest"] == bundle_digest(bundles["a"]) and rec["created_at"]
    listed = registry.list_versions(reg)
    assert [(v["version_id"], v["production"]) for v in listed] == [(vid, True)]
    actions = [h["action"] for h in registry.read_history(reg)]
    assert actions == ["register", "promote"]


def test_same_bundle_registered_twice_keeps_its_version(tmp_path, bundles):
    reg = tmp_path / "registry"
    v1 = registry.register_version(reg, bundles["a"], record("rejected"))
    v2 = registry.register_version(reg, bundles["b"], record())
    again = registry.register_version(reg, bundles["a"], record("approved"))
    assert again == v1 and v2.startswith("v0002-")
    rec = registry.read_record(reg, v1)
    assert rec["status"] == "approved" and [d["status"] for d in rec["earlier_decisions"]] == ["rejected"]
    assert len(registry.list_versions(reg)) == 2


def test_rollback_restores_previous_version_byte_for_byte(tmp_path, bundles):
    reg = tmp_path / "registry"
    ids = {k: registry.register_version(reg, bundles[k], record()) for k in ("a", "b", "c")}
    for k in ("a", "b", "c"):
        registry.set_production(reg, ids[k], f"ship {k}", "tester")
    assert registry.read_pointer(reg)["previous"] == ids["b"]
    assert registry.rollback(reg, "c breaks dashboards", "tester") == ids["b"]
    assert io.sha256_tree(registry.production_bundle_dir(reg)) == io.sha256_tree(bundles["b"])
    assert registry.rollback(reg, "b too", "tester") == ids["a"]
    assert io.sha256_tree(registry.production_bundle_dir(reg)) == io.sha256_tree(bundles["a"])
    assert registry.read_pointer(reg)["previous"] is None
    with pytest.raises(PromotionError, match="no earlier version"):
        registry.rollback(reg, "again", "tester")
    rollbacks = [h for h in registry.read_history(reg) if h["action"] == "rollback"]
    assert [(h["from"], h["version_id"], h["reason"]) for h in rollbacks] == [
        (ids["c"], ids["b"], "c breaks dashboards"), (ids["b"], ids["a"], "b too")]


def test_rollback_needs_a_reason_and_a_production_model(tmp_path, bundles):
    reg = tmp_path / "registry"
    with pytest.raises(PromotionError, match="no production model"):
        registry.rollback(reg, "why not")
    with pytest.raises(PromotionError, match="reason"):
        registry.rollback(reg, "  ")


def test_tampered_model_file_is_refused_on_load(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = registry.register_version(reg, bundles["b"], record())
    registry.set_production(reg, vid, "ok", "tester")
    model_file = reg / "versions" / vid / "bundle" / "model.txt"
    model_file.write_text(model_file.read_text().replace("learning_rate", "learning_rate ", 1))
    with pytest.raises(ModelIntegrityError, match="checksum mismatch"):
        registry.production_bundle_dir(reg)
    with pytest.raises(ModelIntegrityError):
        registry.load_production(reg)


def test_cannot_point_production_at_a_tampered_version(tmp_path, bundles):
    reg = tmp_path / "registry"
    good = registry.register_version(reg, bundles["a"], record())
    bad = registry.register_version(reg, bundles["b"], record())
    registry.set_production(reg, good, "ok", "tester")
    (reg / "versions" / bad / "bundle" / "preprocessor.skops").write_bytes(b"not a model")
    with pytest.raises(ModelIntegrityError):
        registry.force_promote(reg, bad, "try anyway", "tester")
    assert registry.production_version(reg) == good


def test_force_promote_needs_a_written_reason_and_records_it(tmp_path, bundles):
    reg = tmp_path / "registry"
    a = registry.register_version(reg, bundles["a"], record())
    b = registry.register_version(reg, bundles["b"], record("rejected"))
    registry.set_production(reg, a, "first", "tester")
    for empty in ("", "   ", None):
        with pytest.raises(PromotionError, match="written reason"):
            registry.force_promote(reg, b, empty, "tester")
    assert registry.production_version(reg) == a
    with pytest.raises(PromotionError, match="did not pass"):
        registry.approve_version(reg, b, "please", "tester")
    registry.force_promote(reg, b, "hotfix for ticket 42", "tester")
    assert registry.production_version(reg) == b
    last = registry.read_history(reg)[-1]
    assert (last["action"], last["reason"], last["from"]) == ("force_promote", "hotfix for ticket 42", a)


def test_unknown_version_is_refused(tmp_path, bundles):
    reg = tmp_path / "registry"
    registry.register_version(reg, bundles["a"], record())
    with pytest.raises(PromotionError, match="no registered version"):
        registry.set_production(reg, "v0099-deadbeef", "typo", "tester")


def test_switch_refused_when_production_changed_meanwhile(tmp_path, bundles):
    reg = tmp_path / "registry"
    a = registry.register_version(reg, bundles["a"], record())
    b = registry.register_version(reg, bundles["b"], record())
    registry.set_production(reg, a, "someone else promoted a", "other")
    with pytest.raises(PromotionError, match="production changed"):
        registry.set_production(reg, b, "gate passed vs nothing", "tester", expected_current=None)
    assert registry.production_version(reg) == a


def test_second_writer_waits_then_gets_a_clear_error(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = registry.register_version(reg, bundles["a"], record())
    with registry.registry_lock(reg):
        start = time.monotonic()
        with pytest.raises(PromotionError, match="another run holds the registry lock"):
            registry.set_production(reg, vid, "racing", "tester", lock_timeout=0.3)
        assert time.monotonic() - start >= 0.3
    assert registry.production_version(reg) is None
    registry.set_production(reg, vid, "after the lock", "tester", lock_timeout=1)
    assert registry.production_version(reg) == vid


def test_failure_during_copy_leaves_nothing_visible(tmp_path, bundles, monkeypatch):
    reg = tmp_path / "registry"
    first = registry.register_version(reg, bundles["a"], record())
    calls = []

    def broken_copy(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise OSError("disk full")
        registry.shutil.copyfile(src, dst)

    monkeypatch.setattr(registry, "_copy_file", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        registry.register_version(reg, bundles["b"], record())
    assert [v["version_id"] for v in registry.list_versions(reg)] == [first]
    assert sorted(p.name for p in (reg / "versions").iterdir()) == [first]


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import tasks.registry.store as r

    reg, bundle, marker = (Path(a) for a in sys.argv[1:4])
    real_copy = r._copy_file

    def slow_copy(src, dst):
        real_copy(src, dst)
        marker.write_text("copy started")
        time.sleep(120)

    r._copy_file = slow_copy
    vid = r.register_version(reg, bundle, {"status": "approved", "decision": {"outcome": "promote"}})
    r.set_production(reg, vid, "should never happen", "killed-run")
    """
)


def test_process_killed_mid_promotion_leaves_previous_production_loadable(tmp_path, bundles):
    reg = tmp_path / "registry"
    old = registry.register_version(reg, bundles["a"], record())
    registry.set_production(reg, old, "first", "tester")
    pointer_before = (reg / "production.json").read_bytes()
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(reg), str(bundles["c"]), str(marker)],
                            cwd=REPO, env=env, stderr=subprocess.PIPE)
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
    assert registry.production_version(reg) == old
    assert io.sha256_tree(registry.production_bundle_dir(reg)) == io.sha256_tree(bundles["a"])
    assert registry.load_production(reg).features == ["x1"]
    assert [v["version_id"] for v in registry.list_versions(reg)] == [old]
    # the lock died with the process; the next registration succeeds and sweeps the half copy away
    new = registry.register_version(reg, bundles["c"], record(), lock_timeout=5)
    assert new.startswith("v0002-")
    assert not any(p.name.startswith(".incoming-") for p in (reg / "versions").iterdir())
    assert io.sha256_tree(reg / "versions" / new / "bundle") == io.sha256_tree(bundles["c"])


def test_data_version_reads_md5_from_dvc_file(tmp_path):
    dvc_file = tmp_path / "data.dvc"
    assert io.data_version(dvc_file) is None
    dvc_file.write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  size: 10\n  nfiles: 1\n  path: data\n")
    assert io.data_version(dvc_file) == "0123456789abcdef0123456789abcdef.dir"
    dvc_file.write_text(": not yaml : [")
    assert io.data_version(dvc_file) is None


def test_git_commit_is_none_outside_a_repository(tmp_path):
    assert registry.git_commit(tmp_path) is None


def test_history_is_valid_jsonl(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = registry.register_version(reg, bundles["a"], record())
    registry.set_production(reg, vid, "line | with 'quotes' and \"more\"\nnewline", "tester")
    lines = (reg / "history.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["reason"].endswith("newline")


# ---------------------------------------------------------------- DVC provenance, fetching, listing


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_dvc_dir_md5_equals_what_dvc_computes(tmp_path):
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    d = tmp_path / "models"
    (d / "lightgbm").mkdir(parents=True)
    (d / "lightgbm" / "model.txt").write_text("tree\n")
    (d / "b.json").write_bytes(b'{"x": 1}')
    (d / "lightgbm" / "\u00fc z.bin").write_bytes(bytes(range(256)))
    fs = LocalFileSystem()
    _, _, obj = build(HashFileDB(fs, str(tmp_path / "odb")), str(d), fs, "md5")
    assert registry.dvc_dir_md5(d) == obj.hash_info.value
    (d / "b.json").write_bytes(b'{"x": 2}')
    assert registry.dvc_dir_md5(d) != obj.hash_info.value


LOCK = """schema: '2.0'
stages:
  train:
    cmd: python -m tasks.train
    outs:
    - path: artifacts/models
      hash: md5
      md5: {md5}
  evaluate:
    deps:
    - path: artifacts/models
      md5: {md5}
"""


def test_locked_out_md5_reads_the_stage_output_not_a_dependency():
    assert registry.locked_out_md5(LOCK.format(md5="abc.dir"), "artifacts/models") == "abc.dir"
    assert registry.locked_out_md5(LOCK.format(md5="abc.dir"), "artifacts/models/") == "abc.dir"
    assert registry.locked_out_md5(LOCK.format(md5="abc.dir"), "artifacts/other") is None
    assert registry.locked_out_md5(None, "artifacts/models") is None
    assert registry.locked_out_md5(": [ not yaml", "artifacts/models") is None
    dep_only = "stages:\n  evaluate:\n    deps:\n    - path: artifacts/models\n      md5: abc.dir\n"
    assert registry.locked_out_md5(dep_only, "artifacts/models") is None


def test_find_locked_revision_returns_the_commit_that_first_locked_the_hash(tmp_path):
    git("init", "-q", cwd=tmp_path)
    git("config", "user.email", "t@example.com", cwd=tmp_path)
    git("config", "user.name", "t", cwd=tmp_path)
    commits = []
    for md5, other in (("old.dir", "x"), ("new.dir", "x"), ("new.dir", "y")):
        (tmp_path / "dvc.lock").write_text(LOCK.format(md5=md5))
        (tmp_path / "other").write_text(other)
        git("add", "-A", cwd=tmp_path)
        git("commit", "-qm", md5, cwd=tmp_path)
        commits.append(git("rev-parse", "HEAD", cwd=tmp_path).strip())
    assert registry.find_locked_revision(tmp_path, "artifacts/models", "new.dir") == commits[1]
    assert registry.find_locked_revision(tmp_path, "artifacts/models", "old.dir") == commits[0]
    assert registry.find_locked_revision(tmp_path, "artifacts/models", "never.dir") is None
    assert registry.find_locked_revision(tmp_path / "nogit", "artifacts/models", "new.dir") is None


def test_dvc_provenance_computes_the_hash_and_compares_with_a_stale_lock(tmp_path, bundles):
    models = tmp_path / "artifacts" / "models"
    shutil_copy = __import__("shutil").copytree
    shutil_copy(bundles["a"], models / "lightgbm")
    (tmp_path / "dvc.lock").write_text(LOCK.format(md5="previous-run.dir"))
    info = registry.dvc_provenance(models, models / "lightgbm", repo_dir=tmp_path)
    assert info["output"] == "artifacts/models" and info["path"] == "artifacts/models/lightgbm"
    assert info["md5"] == registry.dvc_dir_md5(models) and info["lock_md5"] == "previous-run.dir"
    assert info["lock_current"] is False and info["revision"] is None and info["artifact"] == registry.MODEL_ARTIFACT
    (tmp_path / "dvc.lock").write_text(LOCK.format(md5=info["md5"]))
    assert registry.dvc_provenance(models, models / "lightgbm", repo_dir=tmp_path)["lock_current"] is True


def dvc_record(status: str = "approved", md5: str | None = "feed.dir") -> dict:
    rec = {**record(status), "task": "binary", "primary_metric": "roc_auc", "git_commit": "c0ffee" * 6 + "c0ff",
           "metrics": {"roc_auc": 0.91, "pr_auc": 0.8, "f1": 0.7, "brier": 0.1, "threshold": 0.3}}
    if md5:
        rec["dvc"] = {"output": "artifacts/models", "path": "artifacts/models/lightgbm", "md5": md5,
                      "artifact": registry.MODEL_ARTIFACT, "revision": None}
    return rec


def test_list_versions_gives_the_table_columns_and_statuses(tmp_path, bundles):
    reg = tmp_path / "registry"
    a = registry.register_version(reg, bundles["a"], dvc_record())
    b = registry.register_version(reg, bundles["b"], dvc_record("rejected"))
    c = registry.register_version(reg, bundles["c"], dvc_record("pending_approval"))
    registry.set_production(reg, a, "first", "tester")
    rows = {v["version_id"]: v for v in registry.list_versions(reg)}
    assert {k: v["status"] for k, v in rows.items()} == {a: "production", b: "rejected", c: "pending approval"}
    assert rows[a]["metrics"] == {"roc_auc": 0.91, "pr_auc": 0.8, "f1": 0.7}  # short: primary first
    assert list(rows[a]["metrics"])[0] == "roc_auc" and rows[a]["all_metrics"]["brier"] == 0.1
    assert rows[b]["record_status"] == "rejected" and rows[a]["created_at"] and rows[a]["model_card"] is None
    registry.approve_version(reg, c, "reviewed", "tester")
    registry.force_promote(reg, b, "hotfix", "tester")
    rows = {v["version_id"]: v for v in registry.list_versions(reg)}
    assert {k: v["status"] for k, v in rows.items()} == {a: "archived", b: "production", c: "archived"}


def test_history_rows_have_every_column_oldest_first(tmp_path, bundles):
    reg = tmp_path / "registry"
    assert registry.history(reg) == []
    a = registry.register_version(reg, bundles["a"], dvc_record())
    b = registry.register_version(reg, bundles["b"], dvc_record())
    registry.set_production(reg, a, "first", "tester")
    registry.set_production(reg, b, "better", "tester")
    registry.rollback(reg, "b is slow", "oncall")
    rows = registry.history(reg)
    assert all(set(r) == set(registry.HISTORY_KEYS) for r in rows)
    assert [(r["action"], r["version_id"], r["from"]) for r in rows] == [
        ("register", a, None), ("register", b, None), ("promote", a, None), ("promote", b, a), ("rollback", a, b)]
    assert (rows[-1]["reason"], rows[-1]["actor"]) == ("b is slow", "oncall")


def test_fetch_restores_from_the_registry_copy_and_verifies_it(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = registry.register_version(reg, bundles["b"], dvc_record())
    result = registry.fetch_version(reg, vid, tmp_path / "out")
    assert result.restored and result.source == "registry" and result.commands == []
    assert io.sha256_tree(tmp_path / "out") == io.sha256_tree(bundles["b"])
    with pytest.raises(PromotionError, match="not empty"):
        registry.fetch_version(reg, vid, tmp_path / "out")
    with pytest.raises(PromotionError, match="no registered version"):
        registry.fetch_version(reg, "v0042-deadbeef", tmp_path / "other")


def test_fetch_without_a_usable_copy_returns_dvc_commands(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = registry.register_version(reg, bundles["b"], dvc_record(md5="feed.dir"))
    (reg / "versions" / vid / "bundle" / "model.txt").write_text("tampered")  # damaged: never copied out
    result = registry.fetch_version(reg, vid, tmp_path / "out", repo_url="git@example.com:team/tabgate.git")
    assert not result.restored and not (tmp_path / "out").exists()
    # no commit known to lock the hash: the fallback pulls by hash through a .dvc file
    assert result.commands == [["dvc", "pull", f"{registry.MODEL_ARTIFACT}-{vid}.dvc"]]
    assert yaml_load(result.dvc_file)["outs"][0] == {"md5": "feed.dir", "hash": "md5",
                                                     "path": f"{registry.MODEL_ARTIFACT}-{vid}"}
    assert f"{registry.MODEL_ARTIFACT}-{vid}/lightgbm" in result.message

    rec_path = reg / "versions" / vid / "record.json"
    rec = io.read_json(rec_path)
    rec["dvc"]["revision"] = "ab" * 20
    io.write_json(rec, rec_path)
    result = registry.fetch_version(reg, vid, tmp_path / "out", repo_url="git@example.com:team/tabgate.git")
    assert result.commands[0] == ["dvc", "get", "git@example.com:team/tabgate.git", "artifacts/models/lightgbm",
                                  "--rev", "ab" * 20, "-o", str(tmp_path / "out")]
    assert result.commands[1][:3] == ["dvc", "artifacts", "get"] and result.commands[1][5:7] == ["--rev", "v1.0.0"]
    assert f"git tag -a {registry.MODEL_ARTIFACT}@v1.0.0" in result.message
    assert result.shell_commands()[0].startswith("dvc get git@example.com:team/tabgate.git artifacts/models/lightgbm")


def test_fetch_of_an_old_record_falls_back_to_the_code_commit(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = registry.register_version(reg, bundles["a"], dvc_record(md5=None))
    __import__("shutil").rmtree(reg / "versions" / vid / "bundle")
    result = registry.fetch_version(reg, vid, tmp_path / "out")
    assert result.commands == [["dvc", "get", ".", registry.DEFAULT_MODEL_PATH, "--rev", "c0ffee" * 6 + "c0ff",
                                "-o", str(tmp_path / "out")]]
    assert "predates DVC provenance" in result.message and result.dvc_file is None


def test_verify_fetched_refuses_another_models_bytes(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = registry.register_version(reg, bundles["a"], dvc_record())
    registry.verify_fetched(reg, vid, bundles["a"])
    with pytest.raises(ModelIntegrityError, match="another model"):
        registry.verify_fetched(reg, vid, bundles["b"])


def test_gto_version_maps_the_sequence_number():
    assert registry.gto_version("v0003-1a2b3c4d") == "v3.0.0"
    assert registry.gto_version("v12345-1a2b3c4d") == "v12345.0.0"
    with pytest.raises(PromotionError):
        registry.gto_version("latest")


def test_model_card_is_attached_to_the_version(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = registry.register_version(reg, bundles["a"], dvc_record())
    path = registry.attach_model_card(reg, vid, "# Model card\n", {"version_id": vid})
    assert path == registry.model_card_path(reg, vid) and path.read_text() == "# Model card\n"
    assert io.read_json(path.with_suffix(".json")) == {"version_id": vid}
    assert registry.list_versions(reg)[0]["model_card"] == str(path)


def yaml_load(text: str) -> dict:
    import yaml

    return yaml.safe_load(text)


def test_dvc_yaml_declares_the_registry_artifact_at_the_bundle_path():
    import yaml

    doc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    artifact = doc["artifacts"][registry.MODEL_ARTIFACT]
    assert artifact["type"] == "model"
    assert artifact["path"].replace("${paths.models_dir}", params["paths"]["models_dir"]) == registry.DEFAULT_MODEL_PATH
    promote_outs = [next(iter(o)) if isinstance(o, dict) else o for o in doc["stages"]["promote"]["outs"]]
    assert "${paths.reports_dir}/model_card.md" in promote_outs


def test_fetch_via_dvc_clears_an_empty_destination_so_dvc_get_does_not_nest(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = registry.register_version(reg, bundles["a"], dvc_record())
    __import__("shutil").rmtree(reg / "versions" / vid / "bundle")
    (tmp_path / "empty").mkdir()
    result = registry.fetch_version(reg, vid, tmp_path / "empty", repo_url=str(tmp_path / "not-a-repo"))
    assert not result.restored and not (tmp_path / "empty").exists()
