"""Compute: where fold work runs, in this process (`local`) or on a Dask cluster (`dask`), results in submission order.

cv (every fold of every scheme) and tune (the folds of each trial) hand their fold jobs to a
FoldRunner instead of looping themselves. The local runner is the plain loop, lazily, so tune still
stops a pruned trial after its first folds; the Dask runner ships the shared table once
(`scatter`, broadcast), submits every fold, and yields the results in fold order, so the reports are
the same numbers as in-process (each fold is a deterministic LightGBM fit with its own thread count,
run from the same code). A Dask `Client` is opened *inside* the step, so the step behaves the same
under `dvc repro` and under the Prefect flow (why not Prefect's DaskTaskRunner: README, "Scale").

train's final LightGBM goes through a trainer the same way (lightgbm_trainer): LocalLightGBM in-process, or
DaskLightGBM with lightgbm.dask (compute.lightgbm_dask), which fits on train and refits on train + valid on the
cluster, through one client.

Dask is optional (`pip install -e .[dask]`); it is imported only when compute.engine is `dask`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tasks.core.config import ComputeParams
from tasks.core.errors import ComputeError
from tasks.modelling.estimators import fit_lightgbm, lightgbm_estimator, refit_lightgbm

log = logging.getLogger(__name__)


class LocalRunner:
    """Run fold jobs one after the other in this process (the default)."""

    parallel = False

    def share(self, obj: Any) -> Any:
        """Return obj itself: nothing to ship in-process."""
        return obj

    def imap(self, fn: Callable, jobs: Sequence[tuple], *common: Any) -> Generator[Any, None, None]:
        """Yield fn(*job, *common) for each job in order, lazily (a caller may stop early)."""
        for job in jobs:
            yield fn(*job, *common)

    def map(self, fn: Callable, jobs: Sequence[tuple], *common: Any) -> list:
        """Return [fn(*job, *common) for job in jobs]."""
        return list(self.imap(fn, jobs, *common))


class DaskRunner(LocalRunner):
    """Submit fold jobs to a dask.distributed Client; results come back in job order."""

    parallel = True

    def __init__(self, client: Any):
        self.client = client

    def share(self, obj: Any) -> Any:
        """Return a future of obj placed on every worker once (frames are not re-sent with every job)."""
        return self.client.scatter(obj, broadcast=True, hash=False)

    def imap(self, fn: Callable, jobs: Sequence[tuple], *common: Any) -> Generator[Any, None, None]:
        """Submit every job at once, then yield each result in job order; unconsumed jobs are cancelled."""
        futures = [self.client.submit(fn, *job, *common, pure=False) for job in jobs]
        try:
            for future in futures:
                yield future.result()
        finally:
            self.client.cancel([f for f in futures if not f.done()])


def import_distributed() -> Any:
    """Return the distributed module, or raise ComputeError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ComputeError(
            "compute.engine is 'dask' but dask.distributed is not installed: "
            "pip install -e '.[dask]' (or set compute.engine: local in params.yaml)"
        ) from None
    return distributed


@contextmanager
def dask_client(p: ComputeParams) -> Generator[Any, None, None]:
    """Yield a Client to compute.scheduler_address, or to a LocalCluster of compute.n_workers processes (closed after)."""
    distributed = import_distributed()
    if p.scheduler_address:
        try:
            client = distributed.Client(p.scheduler_address, timeout=p.connect_timeout_seconds)
        except (OSError, TimeoutError) as err:
            raise ComputeError(
                f"compute.scheduler_address {p.scheduler_address!r}: cannot connect ({err}); "
                "start the scheduler or set compute.engine: local"
            ) from None
        log.info(
            "compute: using the Dask scheduler at %s (%d workers)",
            p.scheduler_address,
            len(client.scheduler_info().get("workers", {})),
        )
        try:
            yield client
        finally:
            client.close()
        return
    # Loopback only: anyone who reaches the scheduler can run code on the workers, and the dashboard shows task
    # names, logs and worker details. The dashboard moves off 127.0.0.1 only when compute.dashboard_address says so.
    with (
        distributed.LocalCluster(
            n_workers=p.n_workers,
            threads_per_worker=p.threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address=p.dashboard_address,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        log.info(
            "compute: local Dask cluster of %d worker processes x %d threads (dashboard %s)",
            p.n_workers,
            p.threads_per_worker,
            cluster.dashboard_link,
        )
        yield client


@contextmanager
def fold_runner(p: ComputeParams | None) -> Iterator[LocalRunner]:
    """Yield the runner compute.engine asks for: LocalRunner (also when p is None) or DaskRunner."""
    if p is None or p.engine == "local":
        yield LocalRunner()
        return
    with dask_client(p) as client:
        yield DaskRunner(client)


def staged_best_iteration(booster: Any, x_valid: Any, y_valid: Any, task: str) -> int:
    """Return the iteration with the best value of the gate's metric on the validation rows (as early stopping does):
    highest ROC-AUC (binary), lowest log loss (multiclass) or squared error (regression).

    Early stopping's choice, made after training: lightgbm.dask cannot stop early (each worker sees
    different validation rows). Per-iteration raw scores come from one tree (or class group) at a time.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_valid)
    raw = np.zeros((len(y), 1 if task != "multiclass" else int(y.max()) + 1))
    losses = []
    for k in range(booster.num_trees() // raw.shape[1]):
        raw += np.asarray(booster.predict(x_valid, raw_score=True, start_iteration=k, num_iteration=1)).reshape(len(y), -1)
        if task == "regression":
            losses.append(float(np.mean((raw[:, 0] - y) ** 2)))
        elif task == "binary":
            losses.append(
                -float(roc_auc_score(y, raw[:, 0]))
            )  # the gate's metric (tasks.modelling.estimators.early_stopping_metric)
        else:
            z = raw - raw.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            losses.append(float(-np.mean(logp[np.arange(len(y)), y.astype(int)])))
    return int(np.argmin(losses)) + 1


class RankOrderedClient:
    """A dask.distributed Client whose who_has lists the parts by worker address (everything else is the client's).

    lightgbm.dask gives LightGBM's machine ranks in the order who_has reports the workers, and each rank builds
    some features' bins from its own rows; ordered by address, with block i placed on the i-th worker, rank i
    always trains on block i.
    """

    def __init__(self, client: Any):
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def who_has(self, futures: Any = None, **kwargs: Any) -> dict:
        """Return the client's who_has, ordered by the (sorted) addresses of the workers holding each part."""
        found = self._client.who_has(futures, **kwargs)
        return dict(sorted(found.items(), key=lambda item: sorted(item[1])))


def pinned_partitions(client: Any, frame: Any, workers: list[str]) -> Any:
    """Return frame as a Dask frame of one contiguous block of rows per worker, block i placed on workers[i]."""
    import dask.dataframe as dd
    import numpy as np

    blocks = np.array_split(np.arange(len(frame)), len(workers))
    futures = [
        client.scatter(frame.iloc[rows], workers=[worker], hash=False) for rows, worker in zip(blocks, workers, strict=True)
    ]
    return dd.from_delayed(futures, meta=frame.iloc[:0], verify_meta=False)


def train_lightgbm_dask(
    client: Any, x: Any, y: Any, ft: Any, task: str, lp: Any, class_weight: str | None, random_state: int
) -> Any:
    """Return the local estimator of a lightgbm.dask fit of all lp.n_estimators rounds on x, y.

    Block i of the rows goes to the i-th worker by address and LightGBM's rank i is that worker
    (RankOrderedClient), so the trees depend on the number of workers and their threads, not on scheduling.
    """
    import lightgbm.dask as lgbd
    import pandas as pd

    params = lightgbm_estimator(task, lp, class_weight, random_state).get_params()
    params.pop("n_jobs", None)  # lightgbm.dask sets each worker's threads to its Dask nthreads
    workers = sorted(client.scheduler_info().get("workers", {}))
    x_parts = pinned_partitions(client, x, workers)
    y_parts = pinned_partitions(client, pd.Series(y, index=x.index, name="label"), workers)
    cls = lgbd.DaskLGBMRegressor if task == "regression" else lgbd.DaskLGBMClassifier
    ranked: Any = RankOrderedClient(client)  # duck-typed: lightgbm.dask only calls the client's methods
    model = cls(client=ranked, **params).fit(x_parts, y_parts, categorical_feature=list(ft.categorical) or "auto")
    log.info(
        "compute: lightgbm.dask trained %d rounds on %d rows in %d blocks, one per worker", lp.n_estimators, len(x), len(workers)
    )
    est = model.to_local()
    est._Booster = without_run_addresses(est.booster_)  # the sklearn wrapper's booster_ reads _Booster
    return est


def without_run_addresses(booster: Any) -> Any:
    """Return the booster re-read from its model text without this run's hosts and ports (machines,
    local_listen_port), so the same trees make the same model file."""
    import lightgbm as lgb

    text = "\n".join(
        line for line in booster.model_to_string().splitlines() if not line.startswith(("[machines: ", "[local_listen_port: "))
    )
    return lgb.Booster(model_str=text + "\n")


class LocalLightGBM:
    """Fit (early-stopped) and refit train's LightGBM in this process (the default)."""

    def fit(
        self,
        pre: Any,
        fit_df: Any,
        y_fit: Any,
        es_df: Any,
        y_es: Any,
        ft: Any,
        task: str,
        lp: Any,
        class_weight: str | None,
        random_state: int,
        sample_weight: Any = None,
    ) -> Any:
        """Return LightGBM fitted on fit_df, early-stopped on es_df (estimators.fit_lightgbm)."""
        return fit_lightgbm(pre, fit_df, y_fit, es_df, y_es, ft, task, lp, class_weight, random_state, sample_weight)

    def refit(
        self,
        pre: Any,
        train: Any,
        y_train: Any,
        valid: Any,
        y_valid: Any,
        ft: Any,
        task: str,
        lp: Any,
        class_weight: str | None,
        random_state: int,
        rounds: int,
        sample_weight: Any = None,
    ) -> Any:
        """Return LightGBM fitted on train + valid with exactly `rounds` trees (estimators.refit_lightgbm)."""
        return refit_lightgbm(
            pre, train, y_train, valid, y_valid, ft, task, lp, class_weight, random_state, rounds, sample_weight
        )


class DaskLightGBM(LocalLightGBM):
    """Fit and refit train's LightGBM with lightgbm.dask on a Dask cluster (compute.lightgbm_dask).

    Not bit-identical with the local fit: the data is split across workers (data-parallel histograms), and
    fit trains all n_estimators rounds, best_iteration_ being chosen afterwards on es_df (staged_best_iteration)
    instead of stopping early. refit trains exactly `rounds` trees on train + valid, on the cluster too.
    Reproducible: the same rows, workers and threads give the same model file (train_lightgbm_dask).
    """

    def __init__(self, client: Any):
        self.client = client

    def fit(
        self,
        pre: Any,
        fit_df: Any,
        y_fit: Any,
        es_df: Any,
        y_es: Any,
        ft: Any,
        task: str,
        lp: Any,
        class_weight: str | None,
        random_state: int,
        sample_weight: Any = None,
    ) -> Any:
        """Return the local estimator of all rounds, with _best_iteration chosen on es_df as early stopping would.

        sample_weight (train.recency_half_life) is not applied under lightgbm.dask: the log says so."""
        if sample_weight is not None:
            log.warning("compute: train.recency_half_life is ignored with compute.lightgbm_dask (equal weights)")
        est = train_lightgbm_dask(self.client, pre.transform(fit_df[ft.all]), y_fit, ft, task, lp, class_weight, random_state)
        # the sklearn wrapper's best_iteration_ reads _best_iteration (set by early stopping in a local fit)
        est._best_iteration = staged_best_iteration(est.booster_, pre.transform(es_df[ft.all]), y_es, task)
        log.info("compute: best iteration on the validation rows %d of %d", est._best_iteration, lp.n_estimators)
        return est

    def refit(
        self,
        pre: Any,
        train: Any,
        y_train: Any,
        valid: Any,
        y_valid: Any,
        ft: Any,
        task: str,
        lp: Any,
        class_weight: str | None,
        random_state: int,
        rounds: int,
        sample_weight: Any = None,
    ) -> Any:
        """Return the local estimator of a lightgbm.dask fit on train + valid with exactly `rounds` trees (equal
        weights: sample_weight is not applied)."""
        import numpy as np
        import pandas as pd

        x = pd.concat([pre.transform(train[ft.all]), pre.transform(valid[ft.all])], ignore_index=True)
        return train_lightgbm_dask(
            self.client,
            x,
            np.concatenate([y_train, y_valid]),
            ft,
            task,
            lp.model_copy(update={"n_estimators": rounds}),
            class_weight,
            random_state,
        )


@contextmanager
def lightgbm_trainer(p: ComputeParams | None) -> Iterator[LocalLightGBM]:
    """Yield the trainer for train's LightGBM: DaskLightGBM when compute.lightgbm_dask (one client for fit and
    refit), else LocalLightGBM (also when p is None)."""
    if p is None or not p.lightgbm_dask:
        yield LocalLightGBM()
        return
    with dask_client(p) as client:
        yield DaskLightGBM(client)
