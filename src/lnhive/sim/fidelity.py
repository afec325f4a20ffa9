"""Fidelity checks: hold what the stand-in produces against Core Lightning's contract.

The stand-in itself carries no schemas (they are CLN's, read beside the checkout in
tests). A runtime may be given a `FidelityCheck`; every node then asks it about each
response to a built-in command, each native notification, and each hook request and
hook result, and records what it objects to as a fidelity violation (the test harness
fails a test that leaves any).
"""

from __future__ import annotations

from typing import Any, Protocol


class FidelityCheck(Protocol):
    """Each method returns a description of what is wrong, or None when all is well."""

    def response(self, method: str, result: Any) -> str | None: ...
    def notification(self, topic: str, inner: Any) -> str | None: ...
    def hook_request(self, hook: str, params: Any) -> str | None: ...
    def hook_response(self, hook: str, result: Any) -> str | None: ...
