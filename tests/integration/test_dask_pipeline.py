"""The Dask path end to end: `tabgate run --engine dvc` on the bundled sample with compute.engine dask on a local
cluster and lightgbm.dask for the final model, then the same project on the local engine for comparison."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.test_pipeline import STEPS, make_project, sh

pytestmark = pytest.mark.integration
distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")


def set_compute(root: Path, compute: dict) -> None:
    """Rewrite the project's params.yaml with this compute section and tuning off (cv still runs every fold)."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["compute"] = compute
    params["train"]["tune"]["enabled"] = False
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_pipeline(root: Path) -> str:
    """Run `tabgate run --engine dvc` in root; return what it printed."""
    proc = sh(sys.executable, "-m", "flows.cli", "run", "--engine", "dvc", cwd=root)
    return proc.stdout + proc.stderr


def read(root: Path, name: str) -> dict:
    return json.loads((root / "reports" / name).read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Run the pipeline on a loopback cluster of 2 workers x 1 thread, then on the local engine; keep both reports."""
    root = make_project(tmp_path_factory.mktemp("dask_project"))
    out: dict = {"root": root}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        set_compute(root, {"engine": "dask", "scheduler_address": cluster.scheduler_address, "lightgbm_dask": True})
        out["dask_log"] = run_pipeline(root)
        out["dask"] = {name: read(root, name) for name in ("cv.json", "train.json", "metrics.json", "promotion.json")}
        out["dask_card"] = (root / "reports" / "model_card.md").read_text()
    set_compute(root, {"engine": "local"})
    out["local_log"] = run_pipeline(root)
    out["local"] = {name: read(root, name) for name in ("cv.json", "train.json", "metrics.json")}
    return out


def test_every_step_runs_on_the_dask_engine(runs):
    for step in STEPS:
        assert f"Running stage '{step}'" in runs["dask_log"], step
    assert runs["dask"]["cv.json"]["compute"] == {"engine": "dask"}
    assert runs["dask"]["train.json"]["compute"] == {"engine": "dask", "lightgbm_dask": True}
    assert runs["dask"]["train.json"]["lightgbm_trained_with"].startswith("lightgbm.dask")
    assert "- compute: engine dask (cv and tuning folds); final LightGBM: lightgbm.dask" in runs["dask_card"]


def test_switching_to_the_local_engine_reruns_only_the_steps_that_read_compute(runs):
    ran = {step for step in STEPS if f"Running stage '{step}'" in runs["local_log"]}
    assert ran == {"cv", "train", "evaluate", "explain", "promote"}
    assert runs["local"]["cv.json"]["compute"] == {"engine": "local"}


def test_dask_path_refits_on_train_and_valid(runs):
    train = runs["dask"]["train.json"]
    refit = train["refit"]
    assert refit["rows"] == train["train_rows"] + train["valid_rows"]
    chosen = refit["tree_count"]["chosen"]  # validation's best iteration, or the folds' median when they disagree
    if refit["tree_count"]["source"] == "validation":
        assert chosen == refit["early_stopping_iteration"]
    expected = max(1, round(chosen * refit["rows"] / train["train_rows"]))
    assert refit["n_estimators"] == train["best_iteration"] == expected


def test_dask_cv_folds_give_the_local_numbers(runs):
    dask_cv, local_cv = dict(runs["dask"]["cv.json"]), dict(runs["local"]["cv.json"])
    dask_cv.pop("compute"), local_cv.pop("compute")
    assert dask_cv == local_cv


def test_dask_model_is_gated_and_close_to_the_local_one(runs):
    promotion = runs["dask"]["promotion.json"]
    assert promotion["status"] == "promoted", [r for r in promotion["decision"]["rules"] if not r["passed"]]
    assert promotion["version_id"] and promotion["decision"]["rules"]
    auc_dask = runs["dask"]["metrics.json"]["models"]["lightgbm"]["roc_auc"]
    auc_local = runs["local"]["metrics.json"]["models"]["lightgbm"]["roc_auc"]
    assert auc_dask > 0.8 and abs(auc_dask - auc_local) < 0.02, (auc_dask, auc_local)
