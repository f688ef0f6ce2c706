"""The approval flow: a version pending approval waits in the Prefect UI for a person to approve or reject it.

How it works under `tabgate serve` against a real server:
- The training flow (and so a retrain started by monitoring) starts a `tabgate-approval` run when promote
  registered a version pending approval (request_approval; no server or no deployment: it logs the CLI command).
- The approval run SUSPENDS (`suspend_flow_run(wait_for_input=ApprovalInput)`): its process exits, so it holds no
  `serve` slot while it waits (a *paused* run would keep its process and slot). The UI shows the run as Suspended
  with a "Resume" form: approve or reject, a reason, the approver's name, with the evidence
  (tasks.reporting.approval_evidence) as the form's description. The server checks the input against the form's
  schema (a blank reason or name is refused there, the run stays suspended).
- On resume the server reschedules the run and `serve` starts it again FROM THE TOP; suspend_flow_run, called again
  with the same key, then returns the submitted input. So everything before it is idempotent: the flow re-reads
  the registry and, when the version is no longer pending (decided meanwhile with the CLI or a deployment), it
  finishes saying so. The decision is tasks.registry.approval.decide: the lifecycle calls the CLI makes, under the
  registry lock; the history line names the approver and this run.
- Expiry (promote.approval_timeout_seconds). Prefect's own suspend timeout is NOT used: at the timeout the server's
  pause-expiration service marks the run **Failed** ("The flow was paused and never resumed",
  prefect/server/services/pause_expirations.py). Instead, before suspending, the run schedules one
  `tabgate-approval-expire` run at its expiry time (run_deployment(scheduled_time=...), idempotency key per approval
  run, so the restart after resume does not schedule a second). At that time the expire run finds the approval run
  still suspended, sets it **Cancelled** with the message "approval expired at ...", and publishes the
  `approval-<version>` artifact on it saying how to decide with the CLI. The version stays pending; the training run
  completed long before. A decided approval cancels its expire run. Only when the expire run cannot be scheduled
  does the approval fall back to Prefect's timeout (the run then ends Failed; the version still stays pending).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast
from uuid import UUID

from prefect import flow, get_client, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.actions import ArtifactCreate
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterIdempotencyKey,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelled
from pydantic import Field

from flows.artifacts import publish_failure, publish_registry_table
from flows.lock import project_lock
from tasks.core.config import Config, load_config
from tasks.core.safe_paths import check_params_file
from tasks.registry.approval import ApprovalDecision, Choice, decide, pending_now
from tasks.registry.catalog import current_status
from tasks.registry.records import utc_now
from tasks.reporting.approval_evidence import approval_evidence, expired_markdown

APPROVAL_FLOW = "tabgate-approval"
APPROVAL_DEPLOYMENT = f"{APPROVAL_FLOW}/tabgate-approval"
EXPIRE_DEPLOYMENT = "tabgate-approval-expire/tabgate-approval-expire"
log = logging.getLogger(__name__)
FILLED = r"\S"  # at least one visible character (the server checks the form against this)


class ApprovalInput(RunInput):
    """The UI form of a waiting approval: approve or reject, why, and who decides."""

    decision: Literal["approve", "reject"] = Field(description="approve: make it production; reject: record it")
    reason: str = Field(min_length=1, pattern=FILLED, description="why (kept in the registry history)")
    approver: str = Field(min_length=1, pattern=FILLED, description="your name (kept in the registry history)")


def artifact_key(version: str) -> str:
    """Return the key of a version's approval artifact (Prefect keys: lowercase letters, digits, dashes)."""
    return f"approval-{version.lower()}"


def cli_hint(version: str) -> str:
    """Return the commands that decide a pending version without the UI."""
    return f'tabgate models promote {version} --reason "..."  (or: tabgate models reject {version} --reason "...")'


def schedule_expiry(version: str, params: str, approval_run_id: str, timeout_seconds: float) -> UUID | None:
    """Schedule the expire run of this approval at its expiry time (once per approval run); return its id."""
    run = cast(
        FlowRun,
        run_deployment(
            EXPIRE_DEPLOYMENT,
            timeout=0,
            as_subflow=False,
            scheduled_time=datetime.now(UTC) + timedelta(seconds=timeout_seconds),
            idempotency_key=f"approval-expire-{approval_run_id}",
            tags=["tabgate", "approval"],
            parameters={
                "approval_run_id": approval_run_id,
                "version": version,
                "params": params,
                "timeout_seconds": timeout_seconds,
            },
        ),
    )
    return run.id


def cancel_run(run_id: UUID | None, message: str) -> None:
    """Set a scheduled or suspended flow run Cancelled with a message (best effort)."""
    if run_id is None:
        return
    try:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Cancelled(message=message), force=True)
    except Exception as err:  # pragma: no cover - never fail a decided approval for this
        get_run_logger().warning("could not cancel flow run %s: %s", run_id, err)


def already_suspended(key: str) -> bool:
    """Return whether this run suspended with `key` before, i.e. this is its restart after Resume (best effort)."""
    try:
        with get_client(sync_client=True) as client:
            policy = client.read_flow_run(UUID(str(flow_run.get_id()))).empirical_policy
    except Exception:  # pragma: no cover - without the run's record, publishing the evidence again is harmless
        return False
    return key in (policy.pause_keys or set())


def waiting_runs(client: Any, version: str) -> list[FlowRun]:
    """Return the Suspended `tabgate-approval` runs of a version (by their `version` parameter: a run started from
    the deployment's form has no model:<version> tag)."""
    runs = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=[APPROVAL_FLOW])),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))),
    )
    return [r for r in runs if (r.parameters or {}).get("version") == version]


def expire_runs(client: Any, approval_run_id: UUID) -> list[FlowRun]:
    """Return the not yet started `tabgate-approval-expire` run(s) scheduled by one approval run."""
    return cast(
        list[FlowRun],
        client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                idempotency_key=FlowRunFilterIdempotencyKey(any_=[f"approval-expire-{approval_run_id}"]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING])),
            )
        ),
    )


def cancel_waiting_approval(version: str, decision: str, actor: str, where: str, client: Any = None) -> list[UUID]:
    """After a version was decided outside its approval run (CLI, approve/reject-version deployment): cancel its
    Suspended `tabgate-approval` run(s) with "decided elsewhere: ..." and their scheduled expire runs, so the UI
    shows no stale waiting run. Best effort, only with a server (PREFECT_API_URL); return the cancelled ids."""
    if client is None:
        if not PREFECT_API_URL.value():
            return []
        try:
            with get_client(sync_client=True) as own:
                return cancel_waiting_approval(version, decision, actor, where, own)
        except Exception as err:
            log.warning(
                "could not cancel the waiting approval run of %s (the decision stands): %s: %s", version, type(err).__name__, err
            )
            return []
    message = f"decided elsewhere: {decision} by {actor} ({where})"
    cancelled = []
    for run in waiting_runs(client, version):
        client.set_flow_run_state(run.id, Cancelled(message=message), force=True)
        cancelled.append(run.id)
        for expire in expire_runs(client, run.id):
            client.set_flow_run_state(expire.id, Cancelled(message=f"approval {message}"), force=True)
            cancelled.append(expire.id)
    return cancelled


def not_pending(cfg: Config, version: str) -> dict[str, Any]:
    """Finish an approval whose version is no longer pending (decided meanwhile): say so in its artifact."""
    status = current_status(cfg.paths.registry_dir, version)
    note = f"`{version}` is {status.label}, no longer pending approval: nothing to decide (`tabgate models list`)."
    get_run_logger().info("%s", note)
    create_markdown_artifact(
        key=artifact_key(version), markdown=f"## Approval of `{version}`\n\n{note}\n", description=f"{version}: {status.label}"
    )
    return {"version": version, "decided": False, "status": status.value}


@flow(name=APPROVAL_FLOW, flow_run_name="approval-{version}", log_prints=True, validate_parameters=False)
def approval_flow(version: str, params: str = "params.yaml") -> dict[str, Any]:
    """Wait (suspended) for a person to approve or reject a version pending approval, then record the decision."""
    logger = get_run_logger()
    try:
        check_params_file(params, Path("."))
        cfg = load_config(params)
        if not pending_now(cfg.paths.registry_dir, version):
            return not_pending(cfg, version)
        evidence = approval_evidence(cfg.paths.registry_dir, cfg.paths.reports_dir, version)
    except Exception as err:
        publish_failure(err)
        raise
    run_id = str(flow_run.get_id())
    timeout = cfg.promote.approval_timeout_seconds
    try:
        expire_id = schedule_expiry(version, params, run_id, timeout)
    except Exception as err:
        logger.warning(
            "could not schedule the approval's expiry (%s); Prefect's suspend timeout of %gs applies "
            "instead (the run then ends Failed, the version stays pending)",
            err,
            timeout,
        )
        expire_id = None
    logger.info(
        "%s waits for approval (expires in %gs); decide in the UI (Resume) or with %s", version, timeout, cli_hint(version)
    )
    if not already_suspended(artifact_key(version)):  # the restart after Resume: the evidence is published already
        create_markdown_artifact(
            key=artifact_key(version),
            markdown=evidence,
            description=f"{version}: waiting for approval (Resume this run to decide)",
        )
    answer = suspend_flow_run(
        wait_for_input=ApprovalInput.with_initial_data(description=evidence),
        key=artifact_key(version),
        timeout=None if expire_id else int(timeout),
    )
    if not pending_now(cfg.paths.registry_dir, version):  # decided elsewhere while the form was open
        cancel_run(expire_id, "approval decided elsewhere")
        return not_pending(cfg, version)
    try:
        with project_lock(Path("."), cfg.monitor.run_lock_timeout_seconds, what=f"approval of {version}", logger=logger):
            result = decide(
                cfg.paths.registry_dir,
                version,
                ApprovalDecision(decision=Choice(answer.decision), reason=answer.reason, approver=answer.approver),
                run_id,
                cfg.promote.lock_timeout_seconds,
            )
    except Exception as err:
        publish_failure(err)
        raise
    cancel_run(expire_id, f"approval decided: {result.decision.value} by {answer.approver}")
    publish_registry_table(cfg)
    create_markdown_artifact(
        key=artifact_key(version),
        description=f"{version}: {result.decision.value.rstrip('e')}ed",
        markdown=f"## Approval of `{version}`: {result.decision.value.upper()}\n\n"
        f"{result.message}\n\nproduction: `{result.production or 'none'}`\n",
    )
    return {"version": version, "decided": True, **result.model_dump(mode="json")}


@flow(name="tabgate-approval-expire", flow_run_name="approval-expire-{version}", validate_parameters=False)
def approval_expire_flow(
    approval_run_id: str, version: str, params: str = "params.yaml", timeout_seconds: float = 0.0
) -> dict[str, Any]:
    """At an approval's expiry time: cancel it if it still waits, and say on it that it expired (version stays)."""
    try:
        check_params_file(params, Path("."))
        cfg = load_config(params)
    except Exception as err:
        publish_failure(err)
        raise
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(approval_run_id)).state
        if state is None or not state.is_paused():
            return {"expired": False, "note": f"the approval run is {state.name if state else 'unknown'}"}
        at = utc_now()
        pending = pending_now(cfg.paths.registry_dir, version)
        message = (
            f"approval expired at {at}: {version} is still pending; decide with {cli_hint(version)}"
            if pending
            else f"approval expired at {at}: {version} was decided elsewhere"
        )
        client.set_flow_run_state(UUID(approval_run_id), Cancelled(message=message), force=True)
        client.create_artifact(
            ArtifactCreate(
                key=artifact_key(version),
                type="markdown",
                flow_run_id=UUID(approval_run_id),
                description=f"{version}: approval expired" + (", still pending" if pending else ""),
                data=expired_markdown(version, at, timeout_seconds) if pending else f"## Approval expired\n\n{message}\n",
            )
        )
    get_run_logger().warning("%s", message)
    return {"expired": True, "pending": pending, "message": message}


def request_approval(version: str, params: str) -> str | None:
    """Start the `tabgate-approval` run for a version pending approval; return its id, or None (CLI hint logged)
    when no server with that deployment is reachable. Never raises: the training run completes either way."""
    logger = get_run_logger()
    parent = flow_run.get_id()
    try:
        run = cast(
            FlowRun,
            run_deployment(
                APPROVAL_DEPLOYMENT,
                parameters={"version": version, "params": params},
                timeout=0,
                as_subflow=False,
                tags=["tabgate", "approval", f"model:{version}"],
                idempotency_key=f"approval-{version}-{parent}",
            ),
        )
    except Exception as err:
        logger.info(
            "%s is pending approval; no `tabgate-approval` deployment reachable (%s: %s): approve with %s",
            version,
            type(err).__name__,
            err,
            cli_hint(version),
        )
        return None
    logger.info("%s is pending approval: approval run %s waits in the Prefect UI (or: %s)", version, run.id, cli_hint(version))
    return str(run.id)
