"""Fetch: restoring a version from the registry copy, or the DVC commands that fetch it elsewhere."""

from __future__ import annotations

import re

import pytest

from tasks.core import io
from tasks.core.errors import ModelIntegrityError, PromotionError
from tasks.registry import fetch, lifecycle, records
from tests.support.registry_world import REPO, bundles, dvc_record

__all__ = ["bundles"]  # the fixture


def test_fetch_restores_from_the_registry_copy_and_verifies_it(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["b"], dvc_record())
    result = fetch.fetch_version(reg, vid, tmp_path / "out")
    assert result.restored and result.source == "registry" and result.commands == []
    assert io.sha256_tree(tmp_path / "out") == io.sha256_tree(bundles["b"])
    with pytest.raises(PromotionError, match="not empty"):
        fetch.fetch_version(reg, vid, tmp_path / "out")
    with pytest.raises(PromotionError, match="no registered version"):
        fetch.fetch_version(reg, "v0042-deadbeef", tmp_path / "other")


def test_fetch_without_a_usable_copy_returns_dvc_commands(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["b"], dvc_record(md5="feed.dir"))
    (reg / "versions" / vid / "bundle" / "model.txt").write_text("tampered")  # damaged: never copied out
    result = fetch.fetch_version(reg, vid, tmp_path / "out", repo_url="git@example.com:team/tabgate.git")
    assert not result.restored and not (tmp_path / "out").exists()
    # no commit known to lock the hash: the fallback pulls by hash through a .dvc file
    assert result.commands == [["dvc", "pull", f"{records.MODEL_ARTIFACT}-{vid}.dvc"]]
    assert yaml_load(result.dvc_file)["outs"][0] == {"md5": "feed.dir", "hash": "md5", "path": f"{records.MODEL_ARTIFACT}-{vid}"}
    assert f"{records.MODEL_ARTIFACT}-{vid}/lightgbm" in result.message

    rec_path = reg / "versions" / vid / "record.json"
    rec = io.read_json(rec_path)
    rec["dvc"]["revision"] = "ab" * 20
    io.write_json(rec, rec_path)
    result = fetch.fetch_version(reg, vid, tmp_path / "out", repo_url="git@example.com:team/tabgate.git")
    assert result.commands[0] == [
        "dvc",
        "get",
        "git@example.com:team/tabgate.git",
        "artifacts/models/lightgbm",
        "--rev",
        "ab" * 20,
        "-o",
        str(tmp_path / "out"),
    ]
    assert result.commands[1][:3] == ["dvc", "artifacts", "get"] and result.commands[1][5:7] == ["--rev", "v1.0.0"]
    assert f"git tag -a {records.MODEL_ARTIFACT}@v1.0.0" in result.message
    assert result.shell_commands()[0].startswith("dvc get git@example.com:team/tabgate.git artifacts/models/lightgbm")


def test_fetch_of_an_old_record_falls_back_to_the_code_commit(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["a"], dvc_record(md5=None))
    __import__("shutil").rmtree(reg / "versions" / vid / "bundle")
    result = fetch.fetch_version(reg, vid, tmp_path / "out")
    assert result.commands == [
        ["dvc", "get", ".", records.DEFAULT_MODEL_PATH, "--rev", "c0ffee" * 6 + "c0ff", "-o", str(tmp_path / "out")]
    ]
    assert "predates DVC provenance" in result.message and result.dvc_file is None


def test_verify_fetched_refuses_another_models_bytes(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["a"], dvc_record())
    fetch.verify_fetched(reg, vid, bundles["a"])
    with pytest.raises(ModelIntegrityError, match="another model"):
        fetch.verify_fetched(reg, vid, bundles["b"])


def test_gto_version_maps_the_sequence_number():
    assert fetch.gto_version("v0003-1a2b3c4d") == "v3.0.0"
    assert fetch.gto_version("v12345-1a2b3c4d") == "v12345.0.0"
    with pytest.raises(PromotionError):
        fetch.gto_version("latest")


def yaml_load(text: str) -> dict:
    import yaml

    return yaml.safe_load(text)


def test_dvc_yaml_declares_the_registry_artifact_at_the_bundle_path():
    import yaml

    doc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    paths = next(v["paths"] for v in doc["vars"] if isinstance(v, dict) and "paths" in v)  # dvc.yaml's own vars
    artifact = doc["artifacts"][records.MODEL_ARTIFACT]
    assert artifact["type"] == "model"
    assert artifact["path"].replace("${paths.models_dir}", paths["models_dir"]) == records.DEFAULT_MODEL_PATH
    promote_outs = [next(iter(o)) if isinstance(o, dict) else o for o in doc["stages"]["promote"]["outs"]]
    assert "${paths.reports_dir}/model_card.md" in promote_outs


def test_fetch_via_dvc_clears_an_empty_destination_so_dvc_get_does_not_nest(tmp_path, bundles):
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["a"], dvc_record())
    __import__("shutil").rmtree(reg / "versions" / vid / "bundle")
    (tmp_path / "empty").mkdir()
    result = fetch.fetch_version(reg, vid, tmp_path / "empty", repo_url=str(tmp_path / "not-a-repo"))
    assert not result.restored and not (tmp_path / "empty").exists()


def test_fetch_verifies_the_copy_it_wrote_not_only_the_registrys(tmp_path, bundles, monkeypatch):
    """A copy that goes wrong on the way (a short write, a full disk) is refused at the destination."""
    reg = tmp_path / "registry"
    vid = lifecycle.register_version(reg, bundles["b"], dvc_record())
    real = fetch.copy_bundle

    def damaging_copy(src, dest):
        real(src, dest)
        with open(dest / "meta.json", "ab") as fh:
            fh.write(b" ")

    monkeypatch.setattr(fetch, "copy_bundle", damaging_copy)
    with pytest.raises(ModelIntegrityError, match=re.escape(str(tmp_path / "out"))):
        fetch.fetch_version(reg, vid, tmp_path / "out")
