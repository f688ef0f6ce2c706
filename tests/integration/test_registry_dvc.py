"""A registered model can be fetched back on another machine through DVC: `dvc repro`, git commit and
`dvc push` in a temporary project, then a fresh `git clone` with the same remote fetches the version
with the commands the registry returns, and the bytes equal the registry's bundle."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tasks.core import io
from tasks.registry import catalog, fetch, provenance, records
from tests.integration.test_pipeline import BIN, make_project, sh

pytestmark = pytest.mark.integration
DVC = str(BIN / "dvc")


@pytest.fixture(scope="module")
def pushed(tmp_path_factory) -> dict:
    """A project after `dvc repro`, `git commit` and `dvc push`, and a fresh clone of it."""
    base = tmp_path_factory.mktemp("registry_dvc")
    root, remote, clone = base / "project", base / "remote", base / "clone"
    root.mkdir()
    make_project(root)
    faster(root / "params.yaml")
    sh(DVC, "remote", "add", "-d", "storage", str(remote), cwd=root)
    sh(sys.executable, "-m", "flows.cli", "ingest", cwd=root)
    log = sh(DVC, "repro", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "trained", cwd=root)
    sh(DVC, "push", cwd=root)
    sh("git", "clone", "-q", str(root), str(clone), cwd=base)
    reg = root / "registry"
    vid = catalog.production_version(reg)
    assert vid is not None, log.stdout[-3000:]
    return {
        "root": root,
        "clone": clone,
        "reg": reg,
        "vid": vid,
        "base": base,
        "commit": provenance.git_commit(root),
        "log": log.stdout + log.stderr,
    }


def faster(params_file: Path) -> None:
    """Shrink the slowest parts further than make_project does (this test is about the registry, not the model)."""
    params = yaml.safe_load(params_file.read_text())
    params["train"].setdefault("lightgbm", {})["n_estimators"] = 80
    params["explain"].update(permutation_rows=500, permutation_repeats=1)
    params["promote"]["latency_rows"] = 40
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


def registry_without_bundles(src: Path, dest: Path) -> Path:
    """Copy a registry keeping records and cards only (what another machine may hold)."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("bundle", ".lock"))
    return dest


def test_record_carries_the_md5_dvc_locked_for_the_models_output(pushed):
    rec = catalog.read_record(pushed["reg"], pushed["vid"])
    lock = (pushed["root"] / "dvc.lock").read_text()
    assert rec.dvc is not None and rec.dvc.md5 is not None
    assert rec.dvc.output == "artifacts/models" and rec.dvc.path == "artifacts/models/lightgbm"
    assert rec.dvc.md5 == provenance.locked_out_md5(lock, "artifacts/models")
    assert rec.dvc.md5.endswith(".dir") and rec.data_version and rec.params_digest
    # the run's dvc.lock was only committed after promote ran; the registry finds that commit now
    assert provenance.find_locked_revision(pushed["root"], "artifacts/models", rec.dvc.md5) == pushed["commit"]


def test_fresh_clone_fetches_the_exact_bundle_with_the_returned_dvc_get(pushed):
    clone, vid = pushed["clone"], pushed["vid"]
    reg_copy = registry_without_bundles(pushed["reg"], pushed["base"] / "records_only")
    dest = clone / "fetched"
    result = fetch.fetch_version(reg_copy, vid, dest, repo_url=str(clone))
    assert not result.restored and result.source == "dvc"
    get = result.commands[0]
    assert get[:2] == ["dvc", "get"] and get[get.index("--rev") + 1] == pushed["commit"]
    assert not (clone / ".dvc" / "cache").exists()  # nothing local: the bytes must come from the remote
    sh(DVC, *get[1:], cwd=clone)
    fetch.verify_fetched(pushed["reg"], vid, dest)
    assert io.sha256_tree(dest) == io.sha256_tree(pushed["reg"] / "versions" / vid / "bundle")


def test_dvc_artifacts_get_and_the_by_hash_fallback_fetch_the_same_bytes(pushed):
    clone, vid = pushed["clone"], pushed["vid"]
    expected = io.sha256_tree(pushed["reg"] / "versions" / vid / "bundle")
    reg_copy = registry_without_bundles(pushed["reg"], pushed["base"] / "records_only_2")
    result = fetch.fetch_version(reg_copy, vid, clone / "by_artifact", repo_url=str(clone))
    artifacts_get = next(c for c in result.commands if c[:3] == ["dvc", "artifacts", "get"])
    version = artifacts_get[artifacts_get.index("--rev") + 1]
    sh("git", "tag", "-a", f"{records.MODEL_ARTIFACT}@{version}", "-m", f"registry {vid}", pushed["commit"], cwd=clone)
    sh(DVC, *artifacts_get[1:], cwd=clone)
    assert io.sha256_tree(clone / "by_artifact") == expected

    stem = f"{records.MODEL_ARTIFACT}-{vid}"
    pull = next(c for c in result.commands if c[:2] == ["dvc", "pull"])
    (clone / f"{stem}.dvc").write_text(result.dvc_file)
    sh(DVC, *pull[1:], cwd=clone)
    assert io.sha256_tree(clone / stem / "lightgbm") == expected


def test_full_registry_restores_locally_without_dvc(pushed, tmp_path):
    result = fetch.fetch_version(pushed["reg"], pushed["vid"], tmp_path / "restored")
    assert result.restored and result.commands == []
    assert io.sha256_tree(tmp_path / "restored") == io.sha256_tree(pushed["reg"] / "versions" / pushed["vid"] / "bundle")


def test_model_card_is_a_promote_output_and_kept_in_the_registry(pushed):
    root, vid = pushed["root"], pushed["vid"]
    card = (root / "reports" / "model_card.md").read_text()
    assert card == catalog.model_card_path(pushed["reg"], vid).read_text()
    for heading in (
        "## Data",
        "## Training",
        "## Test metrics",
        "## Cross-validation",
        "## Segments",
        "## Known weaknesses",
        "## Promotion gate",
        "## Versions",
    ):
        assert heading in card
    assert pushed["commit"] != catalog.read_record(pushed["reg"], vid).git_commit  # code commit: before the run
    # promote reads explain's report without a dvc.yaml dependency on it: it relies on dvc.yaml order
    log = pushed["log"]
    assert log.index("Running stage 'explain'") < log.index("Running stage 'promote'"), "promote ran before explain"
    assert "| weakest slice |" in card and "## Notes" not in card
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert {o["path"] for o in lock["stages"]["promote"]["outs"]} >= {"reports/model_card.md", "reports/model_card.json"}
    assert "Data and pipelines are up to date" in sh(DVC, "status", cwd=root).stdout
