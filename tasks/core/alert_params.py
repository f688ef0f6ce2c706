"""Alert params: the params.yaml `alerts` section (which Prefect notification block `tabgate serve` alerts, on what).

Part of the one typed config (tasks/core/config.py builds Config from this and the other sections). The Prefect
Automations themselves are built in flows/alert_specs.py and created on the server by flows/alerts.py.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from tasks.core.config_base import Section

# The events an alert can be sent for (alerts.events); the names are what params.yaml lists.
ALERT_EVENTS = ("failed", "crashed", "pending_approval", "gate_rejected", "retrain_started", "late")
PROACTIVE_MIN_SECONDS = 10  # the Prefect server refuses a proactive trigger that waits less than this
MIN_HEARTBEAT_SECONDS = 30  # Prefect's shortest flow-run heartbeat interval
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*/[A-Za-z0-9][A-Za-z0-9_-]*$")


class AlertsParams(Section):
    """Alerts: `tabgate serve` creates Prefect Automations that send a notification block's message on each event."""

    block: str | None = None  # the Prefect notification block to send to, as block-type-slug/block-name, e.g.
    # custom-webhook/ops-alerts or slack-webhook/ops; None: no alerts (serve says so)
    enabled: bool = True  # false: serve removes tabgate's alert automations from the server
    events: list[str] = Field(default_factory=lambda: list(ALERT_EVENTS))  # which of failed, crashed,
    # pending_approval, gate_rejected, retrain_started, late to alert on (default: all)
    late_after_seconds: int = Field(0, ge=0)  # late alert: seconds a run the server marked Late (it does so
    # PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS, 15 s by default, after its scheduled time) may still not
    # have started; 0: alert as soon as it is marked Late, else at least 10
    unresponsive_after_seconds: int = Field(300, ge=0)  # a running run with no heartbeat for this long is marked
    # Crashed (its process and `tabgate serve` died: the crashed alert follows); 0: off, else at least 60

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        unknown = [e for e in events if e not in ALERT_EVENTS]
        if unknown:
            raise ValueError(
                f"unknown alert event(s) {', '.join(map(repr, unknown))} in alerts.events; known: {', '.join(ALERT_EVENTS)}"
            )
        return events

    @field_validator("block")
    @classmethod
    def _block_slug(cls, block: str | None) -> str | None:
        if block is not None and not _SLUG.match(block):
            raise ValueError(
                f"alerts.block {block!r} must be block-type-slug/block-name of a Prefect "
                "notification block, e.g. custom-webhook/ops-alerts (the Blocks page of the UI lists "
                "them)"
            )
        return block

    @model_validator(mode="after")
    def _late_wait(self) -> AlertsParams:
        if 0 < self.late_after_seconds < PROACTIVE_MIN_SECONDS:
            raise ValueError(
                f"alerts.late_after_seconds ({self.late_after_seconds}) must be 0 (alert when the "
                f"run is marked Late) or at least {PROACTIVE_MIN_SECONDS} (the Prefect server's minimum)"
            )
        if 0 < self.unresponsive_after_seconds < 2 * MIN_HEARTBEAT_SECONDS:
            raise ValueError(
                f"alerts.unresponsive_after_seconds ({self.unresponsive_after_seconds}) must be 0 (off) or "
                f"at least {2 * MIN_HEARTBEAT_SECONDS} (two of Prefect's shortest heartbeat intervals)"
            )
        return self

    @property
    def heartbeat_seconds(self) -> int | None:
        """Seconds between the heartbeats served runs send (a third of unresponsive_after_seconds), or None: off."""
        if not self.active or "crashed" not in self.events or self.unresponsive_after_seconds == 0:
            return None
        return max(MIN_HEARTBEAT_SECONDS, self.unresponsive_after_seconds // 3)

    @property
    def active(self) -> bool:
        """Whether serve should have alert automations on the server (a block named and alerts enabled)."""
        return self.enabled and self.block is not None and bool(self.events)
