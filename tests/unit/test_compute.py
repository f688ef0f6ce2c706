"""Compute: the fold runners keep job order, the local one is lazy, and a missing Dask is an actionable error."""

from __future__ import annotations

import builtins

import pytest

from tasks.core.config import ComputeParams, parse_config
from tasks.core.errors import ComputeError, ConfigError
from tasks.modelling.compute import LocalRunner, fold_runner, import_distributed


def add(a: int, b: int, c: int) -> int:
    return a * 10 + b + c


def test_local_runner_keeps_job_order_and_passes_common_args():
    runner = LocalRunner()
    assert runner.map(add, [(1, 2), (3, 4), (0, 0)], 100) == [112, 134, 100]


def test_local_runner_is_lazy_so_a_pruned_trial_stops_early():
    calls: list[int] = []

    def job(k: int) -> int:
        calls.append(k)
        return k

    scores = LocalRunner().imap(job, [(0,), (1,), (2,)])
    assert next(scores) == 0
    scores.close()
    assert calls == [0]


def test_local_runner_shares_the_object_itself():
    obj = object()
    assert LocalRunner().share(obj) is obj


def test_fold_runner_is_local_by_default_and_for_none():
    with fold_runner(None) as a, fold_runner(ComputeParams()) as b:
        assert type(a) is LocalRunner and type(b) is LocalRunner and not a.parallel


def test_missing_dask_is_a_compute_error_naming_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError("No module named 'distributed'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(ComputeError, match=r"\.\[dask\]"):
        import_distributed()


def test_compute_section_is_typed_and_strict():
    base = {"data": {"target": "y"}, "ingest": {"source": "x.csv"}}
    cfg = parse_config({**base, "compute": {"engine": "dask", "scheduler_address": "tcp://h:8786", "n_workers": 3}})
    assert cfg.compute.engine == "dask" and cfg.compute.scheduler_address == "tcp://h:8786" and cfg.compute.n_workers == 3
    assert parse_config(base).compute.engine == "local"
    with pytest.raises(ConfigError, match="compute.engine"):
        parse_config({**base, "compute": {"engine": "spark"}})
    with pytest.raises(ConfigError, match="compute.n_worker"):
        parse_config({**base, "compute": {"n_worker": 2}})


def test_rank_ordered_client_lists_parts_by_worker_address_and_passes_the_rest_through():
    from tasks.modelling.compute import RankOrderedClient

    class FakeClient:
        name = "fake"

        def who_has(self, futures=None):
            return {"part-b": ("tcp://10.0.0.9:1",), "part-a": ("tcp://10.0.0.2:7",), "part-c": ("tcp://10.0.0.5:3",)}

    ranked = RankOrderedClient(FakeClient())
    assert list(ranked.who_has(["x"])) == ["part-a", "part-c", "part-b"]  # lightgbm.dask's rank order
    assert ranked.name == "fake"


def test_model_text_keeps_no_hosts_or_ports_of_the_run():
    import lightgbm as lgb
    import numpy as np

    from tasks.modelling.compute import without_run_addresses

    x = np.random.default_rng(0).normal(size=(200, 2))
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "machines": "127.0.0.1:12400", "local_listen_port": 12400, "num_threads": 1},
        lgb.Dataset(x, (x[:, 0] > 0).astype(int)),
        3,
    )
    clean = without_run_addresses(booster)
    assert "[machines: " in booster.model_to_string() and "[machines: " not in clean.model_to_string()
    assert "[local_listen_port: " not in clean.model_to_string()
    assert np.array_equal(clean.predict(x), booster.predict(x))
