"""Registry actions as deployments: roll back, approve or reject a named version from the UI's run form.

Wiring only: the same lifecycle calls as `tabgate models rollback|promote|reject` (tasks.registry.lifecycle), under
the same project lock and registry lock; the history line names the actor and this flow run. Every action needs a
written reason and the name of the person; there is no parameter that forces a version past the gate (use
`tabgate models promote VERSION --force` in a reviewed shell for that). A run refused on bad input fails at once with
a `run-failure` artifact and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.approval import cancel_waiting_approval
from flows.artifacts import publish_failure, publish_registry_table
from flows.lock import project_lock
from tasks.core.config import Config, load_config
from tasks.core.safe_paths import check_params_file
from tasks.registry.approval import require_approver
from tasks.registry.catalog import production_version
from tasks.registry.lifecycle import approve_version, reject_version, require_reason, rollback


def end_waiting_approval(version: str, decision: str, actor: str, run_id: str) -> None:
    """Cancel the version's Suspended `tabgate-approval` run (and its expire run): decided by this run instead."""
    cancelled = cancel_waiting_approval(version, decision, actor, f"{flow_run.get_flow_name()} run {run_id}")
    if cancelled:
        get_run_logger().info("cancelled the waiting approval run(s) of %s: %s", version, ", ".join(str(c) for c in cancelled))


def run_action(what: str, params: str, reason: str, actor: str, action: Callable[[Config, str, str, str], str]) -> dict[str, Any]:
    """Check the parameters, hold the project lock, run action(cfg, reason, actor, run_id); publish what it did."""
    logger = get_run_logger()
    try:
        check_params_file(params, Path("."))
        cfg = load_config(params)
        reason, actor = require_reason(reason, what), require_approver(actor)
        run_id = str(flow_run.get_id())
        with project_lock(Path("."), cfg.monitor.run_lock_timeout_seconds, what=what, logger=logger):
            message = action(cfg, reason, actor, run_id)
    except Exception as err:
        publish_failure(err)
        raise
    production = production_version(cfg.paths.registry_dir)
    publish_registry_table(cfg)
    logger.info("%s", message)
    create_markdown_artifact(
        key="registry-action",
        description=message,
        markdown=f"## {what}\n\n{message}\n\n- by: {actor}\n- reason: {reason}\n- production now: `{production or 'none'}`\n",
    )
    return {"message": message, "production": production, "actor": actor, "reason": reason}


@flow(name="tabgate-rollback", flow_run_name="rollback", log_prints=True, validate_parameters=False)
def rollback_flow(reason: str = "", actor: str = "", to_version: str = "", params: str = "params.yaml") -> dict[str, Any]:
    """Restore the previous production version (or to_version, an earlier production version)."""

    def act(cfg: Config, why: str, who: str, run_id: str) -> str:
        restored = rollback(
            cfg.paths.registry_dir,
            why,
            who,
            cfg.promote.lock_timeout_seconds,
            to_version=to_version.strip() or None,
            run_id=run_id,
        )
        return f"rolled back: {restored} is now in production"

    return run_action("rollback", params, reason, actor, act)


@flow(name="tabgate-approve-version", flow_run_name="approve-{version}", log_prints=True, validate_parameters=False)
def approve_version_flow(version: str = "", reason: str = "", actor: str = "", params: str = "params.yaml") -> dict[str, Any]:
    """Make a version pending approval production (as `tabgate models promote VERSION`, never --force); any other
    status (production, archived, rejected) is refused with a run-failure artifact, nothing changed."""

    def act(cfg: Config, why: str, who: str, run_id: str) -> str:
        approve_version(
            cfg.paths.registry_dir, version.strip(), why, who, cfg.promote.lock_timeout_seconds, run_id=run_id, only_pending=True
        )  # a version already in production or archived is refused
        end_waiting_approval(version.strip(), "approve", who, run_id)
        return f"{version} approved: now in production"

    return run_action(f"approve {version}", params, reason, actor, act)


@flow(name="tabgate-reject-version", flow_run_name="reject-{version}", log_prints=True, validate_parameters=False)
def reject_version_flow(version: str = "", reason: str = "", actor: str = "", params: str = "params.yaml") -> dict[str, Any]:
    """Reject a version pending approval (as `tabgate models reject VERSION`); production unchanged."""

    def act(cfg: Config, why: str, who: str, run_id: str) -> str:
        reject_version(cfg.paths.registry_dir, version.strip(), why, who, cfg.promote.lock_timeout_seconds, run_id=run_id)
        end_waiting_approval(version.strip(), "reject", who, run_id)
        return f"{version} rejected; production unchanged"

    return run_action(f"reject {version}", params, reason, actor, act)
