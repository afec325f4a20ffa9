"""Why an inbound fleet message was dropped."""

from __future__ import annotations


class Refused(Exception):
    """An inbound message is dropped; ``reason`` is its counter key in ``hive-proto-stats``
    (``rejected.<reason>``) and ``detail`` the debug log line."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason
