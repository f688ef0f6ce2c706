"""The training flow: every step of tasks/ as a Prefect task, in dvc.yaml order, then recorded in dvc.lock.

Wiring only: each task is the same `tasks.<step>.run(cfg)` that `dvc repro` calls. Steps that
DVC considers up to date are skipped, so a re-run on unchanged data, code and params does nothing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, tags, task
from prefect.cache_policies import NO_CACHE

from flows import dvc_sync
from flows.alerts import alert_on_promotion
from flows.approval import request_approval
from flows.artifacts import publish_failure, publish_registry_table, publish_run_summary, publish_step_artifacts
from flows.lock import project_lock
from tasks import (
    cv,
    evaluate,
    explain,
    ingest,
    preprocess,
    promote,
    split,
    train,
    validate,
)
from tasks.core import io
from tasks.core.config import Config, load_config
from tasks.core.errors import is_user_error
from tasks.core.reports import read_report
from tasks.core.safe_paths import check_no_approval_switch_off, check_params_file
from tasks.core.steps import STEPS
from tasks.registry.records import PromotionStatus
from tasks.reporting.promotion_report import PromotionReport
from tasks.reporting.registry_table import changed_registry

STEP_MODULES = {
    m.__name__.rpartition(".")[2]: m for m in (ingest, validate, split, preprocess, cv, train, evaluate, explain, promote)
}
assert tuple(STEP_MODULES) == STEPS, "flows.training.STEP_MODULES must list tasks.core.steps.STEPS in order"
# Steps that touch external sources or the registry get retries with backoff; the rest fail fast.
RETRIES = {"ingest": 2, "promote": 2}
TIMEOUT_SECONDS = {"cv": 3600, "train": 3600, "explain": 1800}
DEFAULT_TIMEOUT = 1800


def retry_unless_bad_input(task, task_run, state) -> bool:
    """Retry only on unexpected errors, never on bad input (a retry would fail the same way)."""
    try:
        state.result()
    except Exception as err:
        return not is_user_error(err)
    return False


def step_task(name: str):
    """Return the Prefect task wrapping tasks.<name>.run, carrying the step's version."""
    module = STEP_MODULES[name]
    return task(
        module.run,
        name=name,
        version=getattr(module, "STEP_VERSION", None),
        retries=RETRIES.get(name, 0),
        retry_delay_seconds=[2, 10] if name in RETRIES else 0,
        retry_condition_fn=retry_unless_bad_input,
        timeout_seconds=TIMEOUT_SECONDS.get(name, DEFAULT_TIMEOUT),
        cache_policy=NO_CACHE,
        task_run_name=f"{name}",
    )


@task(
    name="snapshot",
    task_run_name="snapshot",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_unless_bad_input,
    cache_policy=NO_CACHE,
)
def snapshot(cfg: Config, version: bool = True) -> str | None:
    """Snapshot the source into data/ and (in the DVC project) version it; return the data version."""
    return dvc_sync.take_snapshot(cfg, version)["data_version"]


def steps_to_run(stale: set[str] | None, force: bool) -> list[str]:
    """Return the steps to run: all when forced or outside DVC, else the stale ones and everything downstream."""
    if force or stale is None:
        return list(STEPS)
    downstream = dvc_sync.downstream_closure(stale)
    return [s for s in STEPS if s in downstream]


def run_name() -> str:
    """Return the initial flow run name; data and model versions are added once known (label_flow_run)."""
    return f"train-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def version_tags(data_version: str | None, model_version: str | None) -> list[str]:
    """Return the searchable tags of a run: data:<md5[:12]> and, once known, model:<version id>."""
    tags_ = [f"data:{(data_version or 'unversioned')[:12]}"]
    return tags_ + ([f"model:{model_version}"] if model_version else [])


def label_flow_run(data_version: str | None, model_version: str | None) -> None:
    """Add the data and model versions to the current flow run's name and tags, so the UI can search by them."""
    from prefect import get_client
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if not run_id:
        return
    base = (flow_run.get_name() or run_name()).split(" ")[0]
    name = " ".join([base, *version_tags(data_version, model_version)])
    try:
        with get_client(sync_client=True) as client:
            current = client.read_flow_run(UUID(str(run_id)))
            tags_ = sorted(
                {t for t in current.tags if not t.startswith(("data:", "model:"))}
                | set(version_tags(data_version, model_version))
            )
            client.update_flow_run(UUID(str(run_id)), name=name, tags=tags_)
    except Exception as err:  # labelling is a convenience: never fail a run for it
        get_run_logger().warning("could not label the flow run with its versions: %s", err)


def model_version_of(cfg: Config) -> str | None:
    """Return the version id the promote report names (the model this run registered or kept), or None."""
    report = cfg.paths.reports_dir / "promotion.json"
    return read_report(PromotionReport, report).version_id if report.exists() else None


def with_approval(cfg: Config, require_approval: bool | None) -> Config:
    """Return cfg with promote.require_approval forced to the given value (None keeps params.yaml's)."""
    if require_approval is None or require_approval == cfg.promote.require_approval:
        return cfg
    return cfg.model_copy(update={"promote": cfg.promote.model_copy(update={"require_approval": require_approval})})


@flow(name="tabgate-training", log_prints=True, validate_parameters=False, flow_run_name=run_name)
def training_flow(
    params: str = "params.yaml", force: bool = False, snapshot_source: bool = True, require_approval: bool | None = None
) -> dict[str, Any]:
    """Run the pipeline: snapshot, then ingest .. promote as tasks; return each step's report.

    require_approval overrides promote.require_approval for this run (the monitoring flow sets it for
    automatic retrains, so a person approves the new model; a version left pending approval gets a
    `tabgate-approval` run that waits in the UI, see flows/approval.py). One training run at a time per project:
    a second one waits for .tabgate.lock (monitor.run_lock_timeout_seconds) and says why.
    """
    logger = get_run_logger()
    try:
        check_params_file(params, Path("."))
        check_no_approval_switch_off(require_approval)
    except Exception as err:
        publish_failure(err)
        raise
    cfg = with_approval(load_config(params), require_approval)
    try:
        with (
            project_lock(Path("."), cfg.monitor.run_lock_timeout_seconds, logger=logger) as waited,
            dvc_sync.restore_snapshot_on_failure(cfg.paths.data_dir),
        ):
            result = run_pipeline(cfg, params, force, snapshot_source)
    except Exception as err:
        publish_failure(err)
        raise
    result["waited_for_lock_seconds"] = round(waited, 1)
    if "promote" in result["ran"] and (pending := pending_version(cfg)):
        result["approval_run"] = request_approval(pending, params)  # never fails this run
    publish_run_summary(result)
    return result


def pending_version(cfg: Config) -> str | None:
    """Return the version this run's promote step registered pending approval, or None."""
    report = cfg.paths.reports_dir / "promotion.json"
    if not report.exists():
        return None
    promotion = read_report(PromotionReport, report)
    return promotion.version_id if promotion.status == PromotionStatus.PENDING_APPROVAL else None


def publish_failed_step(name: str, cfg: Config, started: float) -> None:
    """Publish the report a failed step wrote during this run (best effort: never masks the step's error)."""
    try:
        publish_step_artifacts(name, cfg, since=started)
    except Exception as err:  # pragma: no cover - the step's error matters more
        get_run_logger().warning("could not publish the %s report of the failed step: %s", name, err)


def publish_registry_change(cfg: Config) -> None:
    """Refresh the `model-registry` artifact when the promote step just registered a version or switched production
    (a retrain started by monitoring runs this flow as a subflow, so it refreshes it too)."""
    report = cfg.paths.reports_dir / "promotion.json"
    if report.exists() and changed_registry(read_report(PromotionReport, report)):
        publish_registry_table(cfg)


def run_pipeline(cfg: Config, params: str, force: bool, snapshot_source: bool) -> dict[str, Any]:
    """Snapshot, find what is stale, run those steps as tasks, publish artifacts, record the run in dvc.lock."""
    logger = get_run_logger()
    tracked = dvc_sync.uses_dvc_pipeline(params)
    if not tracked:
        logger.info("%s is not the project's params.yaml: running every step, outside DVC's lock", params)
    data_version = snapshot(cfg, tracked) if snapshot_source else io.data_version(Path(f"{cfg.paths.data_dir}.dvc"))
    label_flow_run(data_version, None)
    todo = steps_to_run(dvc_sync.stale_stages() if tracked else None, force)
    skipped = [s for s in STEPS if s not in todo]
    if skipped:
        logger.info("up to date per dvc.lock, skipped: %s", ", ".join(skipped))
    if not todo:
        logger.info("nothing to do: data, code and params are unchanged since the last run")
    results: dict[str, Any] = {}
    with tags(*version_tags(data_version, None)):
        for name in skipped:  # their reports are current: publish them so every run shows the full picture
            publish_step_artifacts(name, cfg)
        for name in todo:
            started = time.time() - 1  # file times can lag the clock by a few ms
            try:
                results[name] = step_task(name)(cfg)
            except Exception:  # a failed validation's summary (validate.json is written before it stops) is shown too
                publish_failed_step(name, cfg, started)
                raise
            publish_step_artifacts(name, cfg)
            if name == "promote":
                publish_registry_change(cfg)
    if tracked and todo:
        dvc_sync.record_run()
    model_version = model_version_of(cfg)
    label_flow_run(data_version, model_version)
    alert_on_promotion(cfg, todo, data_version)  # pending approval / gate rejected: the server sends the alert
    return {"data_version": data_version, "model_version": model_version, "ran": todo, "skipped": skipped, "reports": results}


if __name__ == "__main__":
    training_flow()
