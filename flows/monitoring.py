"""The monitoring flow: check a batch for drift and live performance; retrain when a threshold is crossed.

Wiring only: the checks are tasks.serving.monitor.monitor_batch. On a retrain decision the training flow
runs as a subflow (so the trigger and the retrain show up together in the UI), with
promote.require_approval forced on when monitor.retrain_require_approval is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.alerts import alert_on_retrain
from flows.artifacts import publish_failure, publish_monitoring_trend
from flows.missing_input import missing_input_note, publish_missing_input
from flows.training import training_flow
from tasks.core.config import load_config
from tasks.core.safe_paths import check_input_path, check_params_file
from tasks.serving.monitor import monitor_batch, summary_lines


@task(name="monitor", cache_policy=NO_CACHE)
def monitor(batch: str, params: str) -> dict[str, Any]:
    """Return the monitor report of one batch (writes reports/monitor.json)."""
    return monitor_batch(load_config(params), Path(batch))


def drift_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the features that drifted beyond the warning level, worst first."""
    cols = report["drift"]["columns"]
    moved = [(c, d) for c, d in cols.items() if d["level"] != "ok"]
    return [
        {"feature": c, "value": d.get("value"), "level": d["level"], "note": d.get("note", "")}
        for c, d in sorted(moved, key=lambda cd: -(cd[1].get("value") or float("inf")))
    ]


def decision_markdown(report: dict[str, Any], started: bool, disabled_by: str | None) -> str:
    """Return the monitoring decision as Markdown: the same lines the CLI prints (tasks.serving.monitor.summary_lines)."""
    head = "retraining started" if started else "retraining advised, disabled" if report["retrain"] else "no action"
    body = "\n".join(f"- {line.strip()}" for line in summary_lines(report, started, disabled_by))
    return f"## Monitoring: {head}\n\n{body}\n"


def retrain_switch(cfg_retrain: bool, retrain: bool | None) -> tuple[bool, str | None]:
    """Return (retraining allowed, what disabled it): the call's `retrain` wins over monitor.retrain."""
    if retrain is False:
        return False, "--no-retrain"
    if retrain is None and not cfg_retrain:
        return False, "monitor.retrain: false in params.yaml"
    return True, None


@flow(name="tabgate-monitoring", log_prints=True, validate_parameters=False, flow_run_name="monitor-{batch}")
def monitoring_flow(
    batch: str = "", params: str = "params.yaml", retrain: bool | None = None, missing_ok: bool = False, force: bool | None = None
) -> dict[str, Any]:
    """Monitor a batch (default monitor.batch_path); start the training flow when it says retrain.

    retrain=False never starts it (None: monitor.retrain decides); force re-runs every step of the retrain
    (None: monitor.retrain_force). missing_ok (set on the served deployment): a missing batch completes
    with a "no batch" note."""

    logger = get_run_logger()
    try:
        check_params_file(params, Path("."))
        cfg = load_config(params)
        batch = batch or str(cfg.monitor.batch_path)
        check_input_path("batch", batch, Path("."))
    except Exception as err:
        publish_failure(err)
        raise
    if missing_ok and (note := missing_input_note(batch, "no batch")):
        return publish_missing_input(note, key="monitor-decision", setting="monitor.batch_path")
    do_retrain, disabled_by = retrain_switch(cfg.monitor.retrain, retrain)
    try:
        report = monitor(batch, params)
        publish_monitoring_trend(cfg)
        if drift_rows(report):
            create_table_artifact(
                key="monitor-drift", table=drift_rows(report), description=f"Features drifted beyond warn in {batch}"
            )
        started = bool(report["retrain"] and do_retrain)
        create_markdown_artifact(
            key="monitor-decision",
            markdown=decision_markdown(report, started, disabled_by),
            description="Monitoring decision and reasons",
        )
        training = None
        if started:
            logger.warning("retraining: %s", "; ".join(report["reasons"]))
            create_markdown_artifact(
                key="retrain-trigger",
                markdown=(
                    f"## Retraining triggered\n\nby batch `{batch}`\n\n"
                    + "".join(f"- {r}\n" for r in report["reasons"])
                    + f"\npromote.require_approval forced: {cfg.monitor.retrain_require_approval}\n"
                ),
                description="Why monitoring started the training flow",
            )
            alert_on_retrain(cfg, batch, report)
            training = training_flow(
                params=params,
                force=cfg.monitor.retrain_force if force is None else force,
                require_approval=True if cfg.monitor.retrain_require_approval else None,
            )
    except Exception as err:
        publish_failure(err)
        raise
    return {
        "retrain": report["retrain"],
        "reasons": report["reasons"],
        "retrain_started": started,
        "disabled_by": disabled_by,
        "training": None if training is None else {k: training[k] for k in ("ran", "model_version")},
        "report": report,
    }
