"""The stand-in's fidelity check for tests: everything against CLN's own schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.schemas import (
    validate_hook_request,
    validate_hook_response,
    validate_notification,
    validate_response,
)


def _problem(validate: Callable[[str, Any], None], name: str, obj: Any) -> str | None:
    try:
        validate(name, obj)
    except FileNotFoundError:
        return None  # no schema: a stand-in-only command (dev-sim-*) or topic
    except AssertionError as exc:
        return str(exc)[:600]
    return None


class SchemaFidelity:
    """Holds every built-in response, native notification and hook exchange against the
    schemas in ../shared/cln-schemas (spec cln-interface §g.2)."""

    def response(self, method: str, result: Any) -> str | None:
        if (
            method == "checkmessage"
            and isinstance(result, dict)
            and result.get("verified") is False
        ):
            return None  # real but off-schema (spec §e and §g.2: the one allowed exception)
        return _problem(validate_response, method, result)

    def notification(self, topic: str, inner: Any) -> str | None:
        return _problem(validate_notification, topic, inner)

    def hook_request(self, hook: str, params: Any) -> str | None:
        return _problem(validate_hook_request, hook, params)

    def hook_response(self, hook: str, result: Any) -> str | None:
        return _problem(validate_hook_response, hook, result)
