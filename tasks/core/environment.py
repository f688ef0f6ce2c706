"""Environment defaults every entry point sets before Prefect, Great Expectations or matplotlib load.

No network here: analytics off; a headless matplotlib backend; Prefect's loggers also carry tabgate's.
Prefect's temporary server gets 180 s to answer its health check instead of Prefect's 20: it migrates its
SQLite database (one per PREFECT_HOME, shared by every run of the user) before it answers, and two
`tabgate run` starting together, or a loaded machine, took longer than 20 s ("Timed out while attempting
to connect to ephemeral Prefect API server"). A healthy server answers in a few seconds, so only a run that
would have failed waits longer. A value already set in the environment wins (setdefault).
"""

from __future__ import annotations

import os

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "MPLBACKEND": "Agg",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "tasks,flows",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def apply_environment_defaults() -> None:
    """Set each of DEFAULTS in os.environ unless the caller already set it."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
