"""Alerts: keep tabgate's Prefect Automations on the server in line with params.yaml, and emit tabgate's own events.

`tabgate serve` calls reconcile(cfg) at start: it creates the automations flows/alert_specs.py builds, updates those
whose spec changed, and deletes tabgate-owned ones params no longer want (alerts.block unset, alerts.enabled false,
an event dropped from alerts.events). Automations tabgate did not create are never touched.

The training and monitoring flows call alert_on_promotion / alert_on_retrain: they emit a custom event
(tabgate.model.pending-approval, tabgate.gate.rejected, tabgate.monitoring.retrain) that the server's automations
turn into a message. Emitting is best effort: an alert never fails a run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flows import alert_specs as specs
from tasks.core import io
from tasks.core.config import Config
from tasks.core.errors import ConfigError
from tasks.core.reports import read_report
from tasks.reporting.promotion_report import PromotionReport

log = logging.getLogger("flows.alerts")


def block_document_id(client: Any, block: str) -> str:
    """Return the id of the notification block alerts.block names; ConfigError when the server has none."""
    slug, _, name = block.partition("/")
    try:
        doc = client.read_block_document_by_name(name=name, block_type_slug=slug, include_secrets=False)
    except Exception:  # ObjectNotFound, or an HTTP 404 from older servers
        raise ConfigError(
            f"alerts.block {block!r} in params.yaml: the Prefect server has no {slug!r} block named {name!r}. Create "
            "it in the UI (Blocks > + > e.g. Custom Webhook, Slack Webhook or Email), or fix alerts.block, then "
            "restart `tabgate serve`"
        ) from None
    capabilities = getattr(getattr(doc, "block_schema", None), "capabilities", None) or []
    if capabilities and "notify" not in capabilities:
        raise ConfigError(
            f"alerts.block {block!r} in params.yaml is not a notification block (it cannot notify): "
            "name a Custom Webhook, Slack Webhook or Email block"
        )
    return str(doc.id)


FIELDS = {"name", "description", "enabled", "tags", "trigger", "actions", "actions_on_trigger", "actions_on_resolve"}


def normal_form(automation: Any) -> dict[str, Any]:
    """Return what an automation does as plain data (a spec and the server's copy of it compare equal)."""
    from prefect.events.schemas.automations import AutomationCore

    model = automation if hasattr(automation, "model_dump") else AutomationCore.model_validate(automation)
    data = model.model_dump(mode="json", include=FIELDS)
    for key in ("after", "expect", "for_each"):  # sets: their order in the dump differs between processes
        data["trigger"][key] = sorted(data["trigger"].get(key) or [])
    return data


def existing_automations(client: Any) -> list[tuple[str, str, list[str], dict[str, Any]]]:
    """Return (id, name, tags, normal form) of every automation on the server."""
    return [(str(a.id), a.name, list(a.tags), normal_form(a)) for a in client.read_automations()]


def apply(client: Any, todo: dict[str, list[Any]]) -> None:
    """Create, update and delete automations as planned by alert_specs.plan."""
    from uuid import UUID

    from prefect.events.schemas.automations import AutomationCore

    for spec in todo["create"]:
        client.create_automation(AutomationCore.model_validate(spec))
    for auto_id, spec in todo["update"]:
        client.update_automation(UUID(auto_id), AutomationCore.model_validate(spec))
    for auto_id in todo["delete"]:
        client.delete_automation(UUID(auto_id))


def why_none(cfg: Config) -> str | None:
    """Return why params want no alert automations (said by serve), or None when they want some."""
    p = cfg.alerts
    keeps = "serve keeps no alert automations on the server (removes tabgate's)"
    if p.block is None:
        return f"no alerts configured (alerts.block is not set in params.yaml): {keeps}"
    if not p.enabled:
        return f"alerts disabled (alerts.enabled: false in params.yaml): {keeps}"
    if not p.events:
        return f"alerts.events is empty in params.yaml: {keeps}"
    return None


def describe(cfg: Config) -> list[str]:
    """Return what serve keeps on the server for alerts, or why nothing, one line each (serve and --dry-run print them)."""
    if reason := why_none(cfg):
        return [reason]
    names = specs.wanted_specs(cfg.alerts, "dry-run")
    wait = cfg.alerts.unresponsive_after_seconds
    return [
        f"alert automation '{name}' -> "
        + (f"Crashed after {wait} s without heartbeat" if name == specs.UNRESPONSIVE else str(cfg.alerts.block))
        for name in names
    ]


def reconcile(cfg: Config, client: Any = None) -> dict[str, list[Any]]:
    """Bring the server's tabgate alert automations in line with cfg.alerts; return what was done (names)."""
    if client is None:
        from prefect import get_client

        with get_client(sync_client=True) as own:
            return reconcile(cfg, own)
    reason = why_none(cfg)
    block_id = None if reason or cfg.alerts.block is None else block_document_id(client, cfg.alerts.block)
    wanted = {name: normal_form(spec) for name, spec in specs.wanted_specs(cfg.alerts, block_id).items()}
    todo = specs.plan(wanted, existing_automations(client))
    apply(client, todo)
    done = {
        "created": [s["name"] for s in todo["create"]],
        "updated": [s["name"] for _, s in todo["update"]],
        "deleted": list(todo["delete"]),
        "kept": todo["keep"],
    }
    if not reason:  # the reason there are none is among the lines serve prints first (describe)
        log.info(
            "alerts to %s on %s: %d created, %d updated, %d unchanged",
            cfg.alerts.block,
            ", ".join(dict.fromkeys(cfg.alerts.events)),
            len(done["created"]),
            len(done["updated"]),
            len(done["kept"]),
        )
    if done["deleted"]:
        log.info("removed %d tabgate alert automation(s) params no longer want", len(done["deleted"]))
    return done


def deployment_name() -> str:
    """Return the current run's deployment name (a subflow: its parent's), or a note that there is none."""
    from prefect.runtime import deployment

    return deployment.name or "none (started outside a deployment)"


def emit(event: str, model_version: str | None, payload: dict[str, Any]) -> None:
    """Emit one custom tabgate event from the current flow run (best effort: a failure is only logged)."""
    try:
        from prefect.events import emit_event

        emit_event(
            event,
            resource=specs.event_resource(model_version),
            payload={"deployment": deployment_name(), "model_version": model_version or "none", **payload},
        )
    except Exception as err:  # an alert must never fail the run it is about
        log.warning("could not emit the %s alert event: %s", event, err)


def alert_on_promotion(cfg: Config, ran: list[str], data_version: str | None) -> None:
    """Emit pending-approval or gate-rejected when this run's promote step registered such a model."""
    report_path = cfg.paths.reports_dir / "promotion.json"
    if "promote" not in ran or not report_path.exists():
        return
    report = read_report(PromotionReport, report_path)
    event = specs.promotion_event(report.status.value)
    if event is None:
        return
    failed = [(r.rule, r.reason) for r in report.decision.failed]
    emit(
        event,
        report.version_id,
        {
            "status": report.status.value,
            "data_version": (data_version or "unversioned")[:12],
            "production_version": report.production_version or "none",
            "reason": specs.promotion_reason(report.status.value, failed, list(report.decision.notes)),
        },
    )


def alert_on_retrain(cfg: Config, batch: str, monitoring: dict[str, Any]) -> None:
    """Emit retrain-started: monitoring found a reason on `batch` and starts the training flow.

    `monitoring` is the monitor step's summary (reports/monitor.json's dict; not yet a typed report)."""
    data_version = io.data_version(Path(f"{cfg.paths.data_dir}.dvc"))
    emit(
        specs.RETRAIN_STARTED,
        monitoring.get("production_version"),
        {
            "batch": batch,
            "data_version": (data_version or "unversioned")[:12],
            "reason": "; ".join(monitoring.get("reasons") or []) or "monitoring asked for a retrain",
        },
    )
