"""``revenue-health`` (spec revenue-ops §6.1, §0): a compact verdict over ``revenue-status``.

``status`` is ``ok`` when every loop ticks, ``degraded`` when a loop's last cycle failed or the
start-up hydration failed (both are retried), ``stalled`` when a loop has not ticked for 3x its
interval, and ``starting`` until the loops run. The loops' heartbeats are reduced to
``{last_tick, interval, stalled, running, consecutive_failures, last_error}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HEARTBEAT_KEYS = (
    "last_tick",
    "interval",
    "stalled",
    "running",
    "consecutive_failures",
    "last_error",
)


def verdict(loops: Mapping[str, Mapping[str, Any]], hydration_state: str) -> str:
    if any(loop["stalled"] for loop in loops.values()):
        return "stalled"
    if hydration_state == "failed" or any(loop["consecutive_failures"] for loop in loops.values()):
        return "degraded"
    if not any(loop["running"] for loop in loops.values()):
        return "starting"
    return "ok"


def health(status: Mapping[str, Any], config_version: int) -> dict[str, Any]:
    """The health answer from a ``revenue-status`` answer."""
    loops = {
        name: {key: loop.get(key) for key in HEARTBEAT_KEYS}
        for name, loop in status["loops"].items()
    }
    hydration = str(status["hydration"].get("state"))
    return {
        "status": verdict(loops, hydration),
        "version": status["version"],
        "mode": status["mode"],
        "dry_run": status["dry_run"],
        "loops": loops,
        "jobs": status["jobs"],
        "hydration": hydration,
        "schema_version": status["schema_version"],
        "config_version": config_version,
    }
