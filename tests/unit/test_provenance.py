"""Provenance: git commit, DVC's md5 of the models output, dvc.lock reading, the locking revision."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tasks.core import io
from tasks.registry import provenance, records
from tests.support.registry_world import bundles

__all__ = ["bundles"]  # the fixture


def test_data_version_reads_md5_from_dvc_file(tmp_path):
    dvc_file = tmp_path / "data.dvc"
    assert io.data_version(dvc_file) is None
    dvc_file.write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  size: 10\n  nfiles: 1\n  path: data\n")
    assert io.data_version(dvc_file) == "0123456789abcdef0123456789abcdef.dir"
    dvc_file.write_text(": not yaml : [")
    assert io.data_version(dvc_file) is None


def test_git_commit_is_none_outside_a_repository(tmp_path):
    assert provenance.git_commit(tmp_path) is None


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
    assert provenance.dvc_dir_md5(d) == obj.hash_info.value
    (d / "b.json").write_bytes(b'{"x": 2}')
    assert provenance.dvc_dir_md5(d) != obj.hash_info.value


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
    assert provenance.locked_out_md5(LOCK.format(md5="abc.dir"), "artifacts/models") == "abc.dir"
    assert provenance.locked_out_md5(LOCK.format(md5="abc.dir"), "artifacts/models/") == "abc.dir"
    assert provenance.locked_out_md5(LOCK.format(md5="abc.dir"), "artifacts/other") is None
    assert provenance.locked_out_md5(None, "artifacts/models") is None
    assert provenance.locked_out_md5(": [ not yaml", "artifacts/models") is None
    dep_only = "stages:\n  evaluate:\n    deps:\n    - path: artifacts/models\n      md5: abc.dir\n"
    assert provenance.locked_out_md5(dep_only, "artifacts/models") is None


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
    assert provenance.find_locked_revision(tmp_path, "artifacts/models", "new.dir") == commits[1]
    assert provenance.find_locked_revision(tmp_path, "artifacts/models", "old.dir") == commits[0]
    assert provenance.find_locked_revision(tmp_path, "artifacts/models", "never.dir") is None
    assert provenance.find_locked_revision(tmp_path / "nogit", "artifacts/models", "new.dir") is None


def test_dvc_provenance_computes_the_hash_and_compares_with_a_stale_lock(tmp_path, bundles):
    models = tmp_path / "artifacts" / "models"
    shutil_copy = __import__("shutil").copytree
    shutil_copy(bundles["a"], models / "lightgbm")
    (tmp_path / "dvc.lock").write_text(LOCK.format(md5="previous-run.dir"))
    info = provenance.dvc_provenance(models, models / "lightgbm", repo_dir=tmp_path)
    assert info.output == "artifacts/models" and info.path == "artifacts/models/lightgbm"
    assert info.md5 == provenance.dvc_dir_md5(models) and info.lock_md5 == "previous-run.dir"
    assert info.lock_current is False and info.revision is None and info.artifact == records.MODEL_ARTIFACT
    assert set(info.to_json_dict()) == {"output", "path", "md5", "lock_md5", "lock_current", "artifact", "revision"}
    (tmp_path / "dvc.lock").write_text(LOCK.format(md5=info.md5))
    assert provenance.dvc_provenance(models, models / "lightgbm", repo_dir=tmp_path).lock_current is True
