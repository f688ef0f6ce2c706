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

from flows.artifacts import publish_failure
from flows.missing_input import missing_input_note, publish_missing_input
from flows.training import training_flow
from tasks.core.config import load_config
from tasks.serving.monitor import monitor_batch


@task(name="monitor", cache_policy=NO_CACHE)
def monitor(batch: str, params: str) -> dict[str, Any]:
    """Return the monitor report of one batch (writes reports/monitor.json)."""
    return monitor_batch(load_config(params), Path(batch))


def drift_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the features that drifted beyond the warning level, worst first."""
    cols = report["drift"]["columns"]
    moved = [(c, d) for c, d in cols.items() if d["level"] != "ok"]
    return [{"feature": c, "value": d.get("value"), "level": d["level"], "note": d.get("note", "")}
            for c, d in sorted(moved, key=lambda cd: -(cd[1].get("value") or float("inf")))]


def decision_markdown(report: dict[str, Any], retrain_started: bool) -> str:
    """Return the monitoring decision as Markdown: retrain or not, and each reason."""
    perf = report["performance"]
    perf_line = (f"{perf['metric']} live {perf['live']:.4f} vs {perf['reference']:.4f} at promotion "
                 f"(drop {perf['drop']:+.4f}) on {perf['rows']} labelled rows" if perf.get("live") is not None
                 else f"not judged: {perf.get('note', '')}")
    head = "RETRAIN" if report["retrain"] else "no action"
    reasons = "".join(f"\n- {r}" for r in report["reasons"]) or "\n- every threshold holds"
    action = ("the training flow was started as a subflow" if retrain_started else
              "retraining is disabled (monitor.retrain / --no-retrain): a person must start it" if report["retrain"]
              else "nothing started")
    return (f"## Monitoring: {head}\n\nbatch `{report['batch']}` ({report['rows']} rows), production model "
            f"`{report['production_version']}`\n\nReasons:{reasons}\n\nPerformance: {perf_line}\n\nAction: {action}\n")


@flow(name="tabgate-monitoring", log_prints=True, validate_parameters=False, flow_run_name="monitor-{batch}")
def monitoring_flow(batch: str = "", params: str = "params.yaml", retrain: bool | None = None,
                    missing_ok: bool = False) -> dict[str, Any]:
    """Monitor a batch (default monitor.batch_path); start the training flow when it says retrain.

    missing_ok (set on the served deployment): a missing batch completes with a "no batch" note."""

    logger = get_run_logger()
    cfg = load_config(params)
    batch = batch or str(cfg.monitor.batch_path)
    if missing_ok and (note := missing_input_note(batch, "no batch")):
        return publish_missing_input(note, key="monitor-decision", setting="monitor.batch_path")
    do_retrain = cfg.monitor.retrain if retrain is None else retrain
    try:
        report = monitor(batch, params)
        if drift_rows(report):
            create_table_artifact(key="monitor-drift", table=drift_rows(report),
                                  description=f"Features drifted beyond warn in {batch}")
        started = bool(report["retrain"] and do_retrain)
        create_markdown_artifact(key="monitor-decision", markdown=decision_markdown(report, started),
                                 description="Monitoring decision and reasons")
        training = None
        if started:

            logger.warning("retraining: %s", "; ".join(report["reasons"]))
            create_markdown_artifact(key="retrain-trigger", markdown=(
                f"## Retraining triggered\n\nby batch `{batch}`\n\n" + "".join(f"- {r}\n" for r in report["reasons"])
                + f"\npromote.require_approval forced: {cfg.monitor.retrain_require_approval}\n"),
                description="Why monitoring started the training flow")
            training = training_flow(params=params, force=cfg.monitor.retrain_force,
                                     require_approval=True if cfg.monitor.retrain_require_approval else None)
    except Exception as err:
        publish_failure(err)
        raise
    return {"retrain": report["retrain"], "reasons": report["reasons"], "retrain_started": started,
            "training": None if training is None else {k: training[k] for k in ("ran", "model_version")},
            "report": report}
