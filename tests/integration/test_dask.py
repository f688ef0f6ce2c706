"""compute.engine dask: cv folds and tuning trials' folds on a Dask cluster give exactly the in-process numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.core import io
from tests.conftest import make_config, synthetic_frame

pytestmark = pytest.mark.integration
distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of 2 worker processes x 1 thread, the shape compute.n_workers makes."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as c:
        yield c


def write_split(root, n: int = 1500) -> pd.DataFrame:
    """Write a time-ordered train / valid split of a synthetic table under root; return the training part."""
    df = synthetic_frame(n, seed=3).sort_values("when", kind="mergesort").reset_index(drop=True)
    cut = int(len(df) * 0.85)
    io.write_frame(df.iloc[:cut].reset_index(drop=True), root / "artifacts/split/train.parquet")
    io.write_frame(df.iloc[cut:].reset_index(drop=True), root / "artifacts/split/valid.parquet")
    return df.iloc[:cut].reset_index(drop=True)


def cv_report(root, **compute) -> dict:
    """Run the cv step with the given compute section; return reports/cv.json as written."""
    from tasks.cv import run

    cfg = make_config(root, cv={"n_splits": 3}, compute=compute)
    run(cfg)
    return json.loads((root / "reports" / "cv.json").read_text())


def test_cv_on_dask_scheduler_matches_in_process(tmp_path, cluster):
    write_split(tmp_path)
    local = cv_report(tmp_path, engine="local")
    remote = cv_report(tmp_path, engine="dask", scheduler_address=cluster.scheduler_address)
    assert set(local["schemes"]) == {"stratified", "walk_forward"}
    assert len(local["schemes"]["walk_forward"]["folds"]) == 3
    assert local.pop("compute") == {"engine": "local"} and remote.pop("compute") == {"engine": "dask"}
    assert remote == local  # the same numbers, wherever the folds ran


def test_cv_on_own_local_cluster_matches_in_process(tmp_path):
    from tasks.core.config import ComputeParams
    from tasks.core.step_inputs import CvInput
    from tasks.modelling.folds import cross_validate

    train = write_split(tmp_path, n=900)
    cfg = make_config(tmp_path, cv={"n_splits": 2})
    inp = CvInput.from_config(cfg).model_copy(update={"compute": None})
    local = cross_validate(train, inp)
    remote = cross_validate(
        train, inp.model_copy(update={"compute": ComputeParams(engine="dask", n_workers=2, threads_per_worker=1)})
    )
    assert json.dumps(remote, sort_keys=True) == json.dumps(local, sort_keys=True)


def test_two_trial_tuning_on_dask_matches_in_process(tmp_path, cluster):
    from tasks.core.config import ComputeParams
    from tasks.core.step_inputs import CvInput
    from tasks.modelling.tuning import tune_lightgbm

    train = write_split(tmp_path)
    cfg = make_config(tmp_path, cv={"n_splits": 3}, train={"tune": {"enabled": True, "n_trials": 2}})
    local_input = CvInput.from_config(cfg).model_copy(update={"compute": None})
    best_local, table_local = tune_lightgbm(train, local_input)
    best_remote, table_remote = tune_lightgbm(
        train,
        local_input.model_copy(update={"compute": ComputeParams(engine="dask", scheduler_address=cluster.scheduler_address)}),
    )
    assert len(table_local["trials"]) == 2 and all(np.isfinite(t["value"]) for t in table_local["trials"])
    timeless = lambda t: {k: v for k, v in t.items() if k != "seconds"}  # wall time is reported, never compared
    assert timeless(table_remote) == timeless(table_local)
    assert best_remote == best_local


def test_lightgbm_dask_final_model_is_close_to_the_local_one(tmp_path, cluster):
    """lightgbm.dask cannot be bit-identical (data-parallel, best iteration chosen after all rounds): compare quality.

    Both paths refit on train + valid with the early-stopped tree count scaled to the rows; the refit is scored on
    rows it never saw (a later slice of the same table), since valid is inside its training rows.
    """
    from tasks.core.config import ComputeParams
    from tasks.core.schema import infer_feature_types
    from tasks.modelling.estimators import refit_rounds
    from tasks.modelling.preprocessing import fit_preprocessors
    from tasks.modelling.training import train_models, validation_metrics

    df = synthetic_frame(4000, seed=5).sort_values("when", kind="mergesort").reset_index(drop=True)
    train, valid, later = (df.iloc[a:b].reset_index(drop=True) for a, b in ((0, 2500), (2500, 3000), (3000, 4000)))
    cfg = make_config(tmp_path)
    ft = infer_feature_types(train, cfg.data)
    pre = fit_preprocessors(train, ft, cfg.preprocess)
    local = train_models(train, valid, pre, ft, cfg.data, cfg.train)
    remote = train_models(
        train,
        valid,
        pre,
        ft,
        cfg.data,
        cfg.train,
        ComputeParams(engine="dask", scheduler_address=cluster.scheduler_address, lightgbm_dask=True),
    )
    refit = remote["lightgbm"].meta["refit"]
    assert 1 <= refit["early_stopping_iteration"] <= cfg.train.lightgbm.n_estimators
    assert refit["rows"] == 3000 and refit["n_estimators"] == refit_rounds(refit["early_stopping_iteration"], 2500, 3000)
    assert remote["lightgbm"].estimator.current_iteration() == refit["n_estimators"] == remote["lightgbm"].meta["best_iteration"]
    assert remote["lightgbm"].meta["train_rows"] == 3000
    auc_local = validation_metrics(local, later, cfg.data)["lightgbm"]["roc_auc"]
    auc_remote = validation_metrics(remote, later, cfg.data)["lightgbm"]["roc_auc"]
    assert auc_remote > 0.75 and abs(auc_remote - auc_local) < 0.03


def test_lightgbm_dask_gives_the_same_model_file_on_every_run_and_cluster(tmp_path, cluster):
    """Rank i always trains on block i (pinned blocks, RankOrderedClient), and the file holds no run's ports."""
    from tasks.core.config import ComputeParams
    from tasks.core.schema import infer_feature_types
    from tasks.modelling.preprocessing import fit_preprocessors
    from tasks.modelling.training import train_models

    df = synthetic_frame(3000, seed=5).sort_values("when", kind="mergesort").reset_index(drop=True)
    train, valid = df.iloc[:2500].reset_index(drop=True), df.iloc[2500:].reset_index(drop=True)
    cfg = make_config(tmp_path)
    ft = infer_feature_types(train, cfg.data)
    pre = fit_preprocessors(train, ft, cfg.preprocess)
    shared = ComputeParams(engine="dask", scheduler_address=cluster.scheduler_address, lightgbm_dask=True)
    own = ComputeParams(engine="dask", n_workers=2, threads_per_worker=1, lightgbm_dask=True)  # a new cluster
    texts = [
        train_models(train, valid, pre, ft, cfg.data, cfg.train, p)["lightgbm"].estimator.model_to_string()
        for p in (shared, shared, shared, own)
    ]
    assert "[machines: " not in texts[0] and "[local_listen_port: " not in texts[0]
    assert texts[1:] == texts[:1] * 3


def test_lightgbm_dask_without_refit_keeps_all_rounds_and_the_chosen_iteration(tmp_path, cluster):
    from tasks.core.config import ComputeParams
    from tasks.core.schema import infer_feature_types
    from tasks.modelling.preprocessing import fit_preprocessors
    from tasks.modelling.training import train_models

    df = synthetic_frame(1500, seed=5).sort_values("when", kind="mergesort").reset_index(drop=True)
    train, valid = df.iloc[:1200].reset_index(drop=True), df.iloc[1200:].reset_index(drop=True)
    cfg = make_config(tmp_path, train={"refit": False})
    ft = infer_feature_types(train, cfg.data)
    remote = train_models(
        train,
        valid,
        fit_preprocessors(train, ft, cfg.preprocess),
        ft,
        cfg.data,
        cfg.train,
        ComputeParams(engine="dask", scheduler_address=cluster.scheduler_address, lightgbm_dask=True),
    )
    assert "refit" not in remote["lightgbm"].meta and remote["lightgbm"].meta["train_rows"] == 1200
    assert remote["lightgbm"].estimator.current_iteration() == cfg.train.lightgbm.n_estimators
    assert 1 <= remote["lightgbm"].meta["best_iteration"] <= cfg.train.lightgbm.n_estimators


def test_unreachable_scheduler_is_a_compute_error_naming_it():
    from tasks.core.config import ComputeParams
    from tasks.core.errors import ComputeError
    from tasks.modelling.compute import fold_runner

    p = ComputeParams(engine="dask", scheduler_address="tcp://127.0.0.1:9", connect_timeout_seconds=1)
    with pytest.raises(ComputeError, match="127.0.0.1:9"):
        with fold_runner(p):
            pass


def listening_hosts(port: int) -> set[str]:
    """Return the local addresses (hex, as /proc/net/tcp{,6} shows them) listening on a TCP port."""
    hosts = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, state = fields[1], fields[3]
            if state == "0A" and int(address.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                hosts.add(address.rsplit(":", 1)[0])
    return hosts


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc/net/tcp (Linux)")
def test_own_local_cluster_listens_on_loopback_only():
    from urllib.parse import urlparse

    from tasks.core.config import ComputeParams
    from tasks.modelling.compute import dask_client

    with dask_client(ComputeParams(engine="dask", n_workers=1)) as client:
        dashboard = urlparse(client.dashboard_link)
        scheduler = urlparse(client.scheduler.address)
        assert dashboard.hostname == "127.0.0.1" and scheduler.hostname == "127.0.0.1"
        for port in (dashboard.port, scheduler.port):
            assert port and listening_hosts(port) == {"0100007F"}, f"port {port} listens beyond 127.0.0.1"
