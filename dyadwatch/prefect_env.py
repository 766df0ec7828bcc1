"""Prefect settings that make local runs reliable and quiet on small machines.

Applied before Prefect is imported, and only where the user has not set them: a cold
ephemeral Prefect server needs more than the default 20 s to start on two cores, offline
runs should not log telemetry tracebacks, and a console run should show dyadwatch's own
output rather than Prefect's INFO lines.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}


def apply_defaults(quiet: bool = False) -> None:
    """Set dyadwatch's Prefect defaults for every variable the environment leaves unset."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    if quiet:
        # A one-off run prints its own summary (failed feeds included); Prefect's console
        # lines would repeat it, and its temporary server logs cancelled writes at shutdown.
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
