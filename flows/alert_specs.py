"""Alert specs: the Prefect Automations `tabgate serve` keeps on the server, built from params.yaml's `alerts` section.

Pure builders (no server, no Prefect import): each spec is the JSON body of one automation (name, tags, trigger,
a SendNotification action whose Jinja subject and body the SERVER renders and sends, so a run killed with SIGKILL
still produces its alert). flows/alerts.py creates, updates and deletes them; the custom events the flows emit
(pending approval, gate rejected, retrain started) are named and filled here too.

Run failures, crashes and late runs are Prefect's own state events (prefect.flow-run.Failed / Crashed / Late) of
runs of a flow named tabgate-*; the template reads the run's name, state message and data:/model: tags (the training
flow labels its run with them). The custom events carry the same facts in their payload.
"""

from __future__ import annotations

from typing import Any

from tasks.core.alert_params import AlertsParams

PREFIX = "tabgate: "  # every automation tabgate owns is named so ...
OWNER_TAG = "tabgate-alerts"  # ... and tagged so; reconcile touches no other automation
FLOW_NAMES = "tabgate-*"  # the flows whose runs are tabgate runs (training, scoring, monitoring, ...)
EVENT_PREFIX = "tabgate."
PENDING_APPROVAL = "tabgate.model.pending-approval"
GATE_REJECTED = "tabgate.gate.rejected"
RETRAIN_STARTED = "tabgate.monitoring.retrain"
# a Late run that reached one of these has started (or was ended by hand): not late any more
UNRESPONSIVE = "tabgate: mark unresponsive runs crashed"
# after a heartbeat, one of these is expected before alerts.unresponsive_after_seconds (else: the run is a zombie)
ALIVE = [
    "prefect.flow-run.heartbeat",
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Crashed",
    "prefect.flow-run.Cancelling",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Paused",
    "prefect.flow-run.Suspended",
    "prefect.flow-run.AwaitingRetry",
]
STARTED = [
    "prefect.flow-run.Pending",
    "prefect.flow-run.Running",
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Crashed",
    "prefect.flow-run.Cancelling",
    "prefect.flow-run.Cancelled",
]

LINK = "Run in the UI: {{ flow_run|ui_url }}"
RUN = "Run: {{ flow_run.name }} ({{ flow_run.id }})"
STATE_DEPLOYMENT = "Deployment: {{ deployment.name if deployment else 'none (started outside a deployment)' }}"
TAG_VERSIONS = (
    "Model version: {% for t in flow_run.tags if t[:6] == 'model:' %}{{ t[6:] }}{% else %}not known"
    "{% endfor %}\n"
    "Data version: {% for t in flow_run.tags if t[:5] == 'data:' %}{{ t[5:] }}{% else %}not known"
    "{% endfor %}"
)
PAYLOAD = (
    "Deployment: {{ event.payload.deployment }}\n" + RUN + "\n"
    "Model version: {{ event.payload.model_version }}\nData version: {{ event.payload.data_version }}"
)

# event name (alerts.events) -> (title, subject, body)
MESSAGES: dict[str, tuple[str, str, str]] = {
    "failed": (
        "run failed",
        "tabgate: run {{ flow_run.name }} failed",
        "A tabgate run failed.\n"
        + STATE_DEPLOYMENT
        + "\n"
        + RUN
        + "\n"
        + TAG_VERSIONS
        + "\nReason: {{ flow_run.state.message }}\n"
        + LINK,
    ),
    "crashed": (
        "run crashed",
        "tabgate: run {{ flow_run.name }} crashed",
        "A tabgate run crashed (its process died: killed, or out of memory).\n"
        + STATE_DEPLOYMENT
        + "\n"
        + RUN
        + "\n"
        + TAG_VERSIONS
        + "\nReason: {{ flow_run.state.message }}\n"
        + LINK,
    ),
    "pending_approval": (
        "model waits for approval",
        "tabgate: model {{ event.payload.model_version }} waits for approval",
        "A model passed the gate and waits for a person's approval.\n" + PAYLOAD + "\nReason: {{ event.payload.reason }}\n"
        "Decide: Resume the approval-{{ event.payload.model_version }} run (flow tabgate-approval, "
        "Suspended) in the Prefect UI, or: tabgate models promote {{ event.payload.model_version }} "
        "--reason ... (reject: tabgate models reject {{ event.payload.model_version }} --reason ...)"
        "\n" + LINK,
    ),
    "gate_rejected": (
        "gate rejected a challenger",
        "tabgate: the gate rejected model {{ event.payload.model_version }}",
        "The promotion gate rejected a challenger; production is unchanged "
        "({{ event.payload.production_version }}).\n" + PAYLOAD + "\nReason: {{ event.payload.reason }}\n" + LINK,
    ),
    "retrain_started": (
        "monitoring started a retrain",
        "tabgate: monitoring started a retrain",
        "Monitoring started a retrain on batch {{ event.payload.batch }}.\n"
        + PAYLOAD
        + "\nReason: {{ event.payload.reason }}\n"
        + LINK,
    ),
    "late": (
        "scheduled run late",
        "tabgate: scheduled run {{ flow_run.name }} is late",
        "A scheduled tabgate run has not started (is `tabgate serve` running?).\n"
        + STATE_DEPLOYMENT
        + "\n"
        + RUN
        + "\n"
        + TAG_VERSIONS
        + "\nReason: scheduled for {{ flow_run.expected_start_time }}, "
        "not started; state {{ flow_run.state.name }}\n" + LINK,
    ),
}


def tabgate_runs() -> dict[str, Any]:
    """Return the match_related of a trigger on flow-run events: runs of a flow named tabgate-*."""
    return {"prefect.resource.role": "flow", "prefect.resource.name": FLOW_NAMES}


def reactive(event: str, match: dict[str, Any], related: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return an EventTrigger that fires on every matching `event`."""
    return {
        "type": "event",
        "match": match,
        "match_related": related or {},
        "after": [],
        "expect": [event],
        "for_each": [],
        "posture": "Reactive",
        "threshold": 1,
        "within": 0,
    }


def late_trigger(late_after_seconds: int) -> dict[str, Any]:
    """Return the late-run trigger: on prefect.flow-run.Late, or (late_after_seconds > 0) when a run marked Late has
    not started that many seconds later (a proactive trigger, evaluated per flow run)."""
    match = {"prefect.resource.id": "prefect.flow-run.*"}
    if late_after_seconds == 0:
        return reactive("prefect.flow-run.Late", match, tabgate_runs())
    return {
        "type": "event",
        "match": match,
        "match_related": tabgate_runs(),
        "after": ["prefect.flow-run.Late"],
        "expect": STARTED,
        "for_each": ["prefect.resource.id"],
        "posture": "Proactive",
        "threshold": 1,
        "within": late_after_seconds,
    }


def trigger_for(event: str, p: AlertsParams) -> dict[str, Any]:
    """Return the trigger of one alert event (a name of tasks.core.alert_params.ALERT_EVENTS)."""
    runs = {"prefect.resource.id": "prefect.flow-run.*"}
    custom = {"pending_approval": PENDING_APPROVAL, "gate_rejected": GATE_REJECTED, "retrain_started": RETRAIN_STARTED}
    if event in ("failed", "crashed"):
        return reactive(f"prefect.flow-run.{event.capitalize()}", runs, tabgate_runs())
    if event == "late":
        return late_trigger(p.late_after_seconds)
    return reactive(custom[event], {"prefect.resource.id": "tabgate.model.*"})


def automation_spec(event: str, p: AlertsParams, block_document_id: str) -> dict[str, Any]:
    """Return the JSON body of the automation that alerts on `event` through the given notification block."""
    title, subject, body = MESSAGES[event]
    spec: dict[str, Any] = {
        "name": f"{PREFIX}{title}",
        "enabled": True,
        "tags": [OWNER_TAG, f"tabgate-alert:{event}"],
        "trigger": trigger_for(event, p),
        "actions": [{"type": "send-notification", "block_document_id": block_document_id, "subject": subject, "body": body}],
    }
    note = (
        f"Created by `tabgate serve` from params.yaml alerts (alerts.block {p.block}): edit params.yaml, not "
        "this (serve puts an edited copy back)."
    )
    return {**spec, "description": note}


def unresponsive_spec(p: AlertsParams) -> dict[str, Any]:
    """Return the automation that marks a run Crashed when its heartbeats stop (its process and `tabgate serve`
    died, so nobody else can): the crashed alert then follows. Prefect's zombie-flow recipe, for tabgate runs."""
    wait = p.unresponsive_after_seconds
    return {
        "name": UNRESPONSIVE,
        "enabled": True,
        "tags": [OWNER_TAG, "tabgate-alert:unresponsive"],
        "description": f"Created by `tabgate serve`: a tabgate run with no heartbeat for {wait} s is marked "
        "Crashed (alerts.unresponsive_after_seconds in params.yaml).",
        "trigger": {
            "type": "event",
            "match": {"prefect.resource.id": "prefect.flow-run.*"},
            "match_related": tabgate_runs(),
            "after": ["prefect.flow-run.heartbeat"],
            "expect": ALIVE,
            "for_each": ["prefect.resource.id"],
            "posture": "Proactive",
            "threshold": 1,
            "within": wait,
        },
        "actions": [
            {
                "type": "change-flow-run-state",
                "state": "CRASHED",
                "force": True,
                "message": f"no heartbeat for {wait} s: the run's process and the `tabgate serve` that "
                "started it died (marked Crashed by the automation '" + UNRESPONSIVE + "')",
            }
        ],
    }


def wanted_specs(p: AlertsParams, block_document_id: str | None) -> dict[str, dict[str, Any]]:
    """Return {automation name: spec} of every automation params want on the server (none when inactive)."""
    if not p.active or block_document_id is None:
        return {}
    specs = [automation_spec(e, p, block_document_id) for e in dict.fromkeys(p.events)]
    if p.heartbeat_seconds is not None:
        specs.append(unresponsive_spec(p))
    return {s["name"]: s for s in specs}


def is_owned(name: str, tags: list[str]) -> bool:
    """Whether an automation on the server is one tabgate made (its name prefix and its owner tag)."""
    return name.startswith(PREFIX) and OWNER_TAG in tags


def plan(wanted: dict[str, dict[str, Any]], existing: list[tuple[str, str, list[str], dict[str, Any]]]) -> dict[str, list[Any]]:
    """Return what to do: create (specs), update ((id, spec)), delete (ids), keep (names).

    wanted and existing hold the automations in the same normal form (flows.alerts.normal_form); existing holds
    (id, name, tags, content) of every automation on the server. Only owned ones are touched; one that differs from
    its spec (params changed, or someone edited it in the UI) is updated; a second owned automation of the same name
    is deleted, so the server converges on one per alert.
    """
    out: dict[str, list[Any]] = {"create": [], "update": [], "delete": [], "keep": []}
    seen: set[str] = set()
    for auto_id, name, tags, content in existing:
        if not is_owned(name, tags):
            continue
        if name not in wanted or name in seen:
            out["delete"].append(auto_id)
        elif content == wanted[name]:
            out["keep"].append(name)
        else:
            out["update"].append((auto_id, wanted[name]))
        seen.add(name)
    out["create"] = [spec for name, spec in wanted.items() if name not in seen]
    return out


def promotion_event(status: str) -> str | None:
    """Return the custom event a promote status alerts on (pending_approval, rejected), or None."""
    return {"pending_approval": PENDING_APPROVAL, "rejected": GATE_REJECTED}.get(status)


def promotion_reason(status: str, failed_rules: list[tuple[str, str]], notes: list[str]) -> str:
    """Return the reason line of a promotion alert: the failed rules (rejected) or why a person must decide."""
    if status == "rejected":
        return "; ".join(f"{rule}: {why}" for rule, why in failed_rules) or "; ".join(notes) or "the gate rejected it"
    return "passed every gate rule; promote.require_approval (or an automatic retrain) asks a person to approve" + (
        f" ({'; '.join(notes)})" if notes else ""
    )


def event_resource(model_version: str | None) -> dict[str, str]:
    """Return the primary resource of a custom tabgate event: the model version it is about."""
    version = model_version or "none"
    return {"prefect.resource.id": f"tabgate.model.{version}", "prefect.resource.name": version}
