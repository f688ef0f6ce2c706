"""Environment defaults every entry point sets before Prefect, Great Expectations or matplotlib load.

No network here: analytics off; a headless matplotlib backend; Prefect's loggers also carry tabgate's.
A value already set in the environment wins (setdefault).
"""

from __future__ import annotations

import os

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "MPLBACKEND": "Agg",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "tasks,flows",
}


def apply_environment_defaults() -> None:
    """Set each of DEFAULTS in os.environ unless the caller already set it."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
