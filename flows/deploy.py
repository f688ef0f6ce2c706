"""Deployments: serve the training, scoring and monitoring flows on the cron schedules of params.yaml.

`tabgate serve` (this module's serve_flows) registers the three scheduled deployments and the on-demand
ones (ON_DEMAND: approval, its expiry, registry actions) with the Prefect server at PREFECT_API_URL and
keeps running, starting each scheduled or UI-triggered run in a subprocess of this process, from the
project folder it was started in. Stop it with Ctrl-C (schedules are paused
on shutdown unless --keep-schedules).
"""

from __future__ import annotations

import logging
from typing import Any

from flows import alerts
from tasks.core.config import Config, ScheduleParams, load_config
from tasks.core.errors import ServerRequired

log = logging.getLogger("flows.deploy")
# Started from the UI's run form (or by another run), never on a schedule: approval and registry actions.
ON_DEMAND = {
    "approval": {
        "flow": "flows.approval:approval_flow",
        "description": "wait (suspended) for a person to approve or reject a version pending approval",
    },
    "approval-expire": {
        "flow": "flows.approval:approval_expire_flow",
        "description": "started by an approval run at its expiry: says it expired, version stays",
    },
    "rollback": {
        "flow": "flows.registry_actions:rollback_flow",
        "description": "roll production back (reason and actor required; to_version optional)",
    },
    "approve-version": {
        "flow": "flows.registry_actions:approve_version_flow",
        "description": "approve a version that passed the gate (version, reason, actor required)",
    },
    "reject-version": {
        "flow": "flows.registry_actions:reject_version_flow",
        "description": "reject a version pending approval (version, reason, actor required)",
    },
}
DEPLOYMENTS = ("training", "scoring", "monitoring", *ON_DEMAND)


def api_url() -> str | None:
    """Return the configured Prefect API URL (env or profile), or None for the temporary local server."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def cron_schedules(s: ScheduleParams | None) -> list[Any]:
    """Return the Prefect schedule list for one params.yaml schedule (inactive when enabled is false; none: [])."""
    from prefect.schedules import Cron

    return [] if s is None else [Cron(s.cron, timezone=s.timezone, active=s.enabled)]


def on_demand_specs(params: str) -> dict[str, dict[str, Any]]:
    """Return the specs of the deployments without a schedule (approval, registry actions)."""
    return {
        name: {"flow": spec["flow"], "schedule": None, "description": spec["description"], "parameters": {"params": params}}
        for name, spec in ON_DEMAND.items()
    }


def deployment_specs(cfg: Config, params: str) -> dict[str, dict[str, Any]]:
    """Return, per deployment, its flow's import path, parameters, schedule and description."""
    m = cfg.monitor
    return {
        "training": {
            "flow": "flows.training:training_flow",
            "parameters": {"params": params},
            "schedule": m.schedules.training,
            "description": "snapshot the source, run stale steps, gate",
        },
        "scoring": {
            "flow": "flows.scoring:scoring_flow",
            "schedule": m.schedules.scoring,
            "parameters": {
                "input_path": str(m.scoring_input),
                "output_path": str(m.scoring_output),
                "params": params,
                "missing_ok": True,
            },
            "description": "score monitor.scoring_input with the production model (none there: nothing to do)",
        },
        "monitoring": {
            "flow": "flows.monitoring:monitoring_flow",
            "schedule": m.schedules.monitoring,
            "parameters": {"batch": str(m.batch_path), "params": params, "missing_ok": True},
            "description": "drift + live performance of monitor.batch_path; retrain on a breach (no batch there: nothing to do)",
        },
        **on_demand_specs(params),
    }


def build_deployments(cfg: Config, params: str) -> list[Any]:
    """Return the RunnerDeployments (flow.to_deployment) for the three flows, with their cron schedules."""
    import importlib

    out = []
    for name, spec in deployment_specs(cfg, params).items():
        module, attr = spec["flow"].split(":")
        flow_obj = getattr(importlib.import_module(module), attr)
        out.append(
            flow_obj.to_deployment(
                name=f"tabgate-{name}",
                schedules=cron_schedules(spec["schedule"]),
                parameters=spec["parameters"],
                tags=["tabgate", name],
                description=spec["description"],
            )
        )
    return out


def describe(cfg: Config, params: str) -> list[str]:
    """Return one line per deployment: name, cron, time zone, enabled, parameters."""
    return [
        f"tabgate-{n}: "
        + (
            f"cron '{s['schedule'].cron}' ({s['schedule'].timezone}) {'enabled' if s['schedule'].enabled else 'DISABLED'}"
            if s["schedule"]
            else "no schedule (started from the UI)"
        )
        + f"; parameters {s['parameters']}"
        for n, s in deployment_specs(cfg, params).items()
    ]


def serve_flows(params: str = "params.yaml", limit: int = 2, keep_schedules: bool = False, dry_run: bool = False) -> int:
    """Register the deployments and serve them until interrupted; with dry_run only print them."""
    cfg = load_config(params)
    for line in describe(cfg, params) + alerts.describe(cfg):
        log.info("%s", line)
    if dry_run:
        return 0
    url = api_url()
    if not url:
        raise ServerRequired(
            "tabgate serve needs a long-running Prefect server: start one with `prefect server start` "
            "(in another terminal or as a service) and `export PREFECT_API_URL=http://127.0.0.1:4200/api`, "
            "then run `tabgate serve` again"
        )
    from prefect import serve

    alerts.reconcile(cfg)  # the alert automations of params.yaml's alerts section (none configured: serve says so)
    log.info("serving %d deployments against %s (at most %d runs at once; Ctrl-C stops)", len(DEPLOYMENTS), url, limit)
    serve(
        *build_deployments(cfg, params),
        limit=limit,
        pause_on_shutdown=not keep_schedules,
        heartbeat_seconds=cfg.alerts.heartbeat_seconds,
    )  # heartbeats: a run whose serve died is marked Crashed
    return 0
