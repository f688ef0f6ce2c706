"""The bundled sample's read-only DVC remote (sample/dvc-remote) holds exactly what data.dvc records, and a
new snapshot is no longer pinned to it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import yaml

from flows.dvc_sync import SAMPLE_REMOTE, unpin_sample_remote
from tests.conftest import REPO


def test_sample_remote_holds_the_snapshot_data_dvc_records() -> None:
    out = yaml.safe_load((REPO / "data.dvc").read_text())["outs"][0]
    assert (out["remote"], out["push"]) == ("sample", False)
    digest = out["md5"].removesuffix(".dir")
    listing = json.loads((REPO / SAMPLE_REMOTE / "files" / "md5" / digest[:2] / f"{digest[2:]}.dir").read_text())
    assert [e["relpath"] for e in listing] == ["hotel_bookings.csv.gz"]
    obj = REPO / SAMPLE_REMOTE / "files" / "md5" / listing[0]["md5"][:2] / listing[0]["md5"][2:]
    assert hashlib.md5(obj.read_bytes()).hexdigest() == listing[0]["md5"]
    assert obj.read_bytes() == (REPO / "sample" / "hotel_bookings.csv.gz").read_bytes()
    config = (REPO / ".dvc" / "config").read_text()
    assert "['remote \"sample\"']\n    url = ../sample/dvc-remote" in config


def test_a_new_snapshot_is_unpinned_and_the_sample_stays_pinned(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    pointer = tmp_path / "data.dvc"
    text = "outs:\n- md5: {}.dir\n  path: data\n  remote: sample\n  push: false\n"
    (tmp_path / SAMPLE_REMOTE / "files" / "md5" / "ab").mkdir(parents=True)
    (tmp_path / SAMPLE_REMOTE / "files" / "md5" / "ab" / "cdef.dir").write_text("[]")
    pointer.write_text(text.format("abcdef"))
    unpin_sample_remote(pointer, "abcdef.dir", tmp_path)
    assert pointer.read_text() == text.format("abcdef")
    pointer.write_text(text.format("123456"))
    unpin_sample_remote(pointer, "123456.dir", tmp_path)
    assert pointer.read_text() == "outs:\n- md5: 123456.dir\n  path: data\n"
