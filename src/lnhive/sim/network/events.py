"""What the network model tells the outside world: notifications and hook points.

The model never calls plugins. It emits :class:`Event` objects (a notification a node
would send to its subscribed plugins) to whoever subscribed with
``Network.subscribe``, and its payment and message generators yield :class:`HookCall`
objects that a driver answers (at once in-process, or after awaiting plugins).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Notification topics the model emits (the payload is the object inside CLN's wrapper).
TOPICS = (
    "connect",
    "disconnect",
    "channel_opened",
    "channel_state_changed",
    "forward_event",
    "invoice_payment",
    "invoice_creation",
    "sendpay_success",
    "sendpay_failure",
    "coin_movement",
    "block_added",
    "custommsg",
    "warning",
)


@dataclass(frozen=True, slots=True)
class Event:
    """A notification ``topic`` emitted by node ``node_id``.

    ``payload`` is the object CLN puts inside ``params[topic]`` (the schema's ``response``).
    """

    node_id: str
    topic: str
    payload: dict[str, Any]

    def params(self) -> dict[str, Any]:
        """The notification's JSON-RPC ``params`` exactly as lightningd sends them."""
        return {self.topic: self.payload}


@dataclass(frozen=True, slots=True)
class HookCall:
    """A hook point: node ``node_id`` would now call its plugins' ``hook`` with ``params``.

    The generator that yielded it is sent back the chain's final result object, e.g.
    ``{"result": "continue"}``.
    """

    node_id: str
    hook: str
    params: dict[str, Any]


Subscriber = Callable[[Event], None]
CONTINUE: dict[str, Any] = {"result": "continue"}


def iso_timestamp(when: float) -> str:
    """ISO-8601 UTC with milliseconds, as ``channel_state_changed`` uses (``…T18:27:12.145Z``)."""
    dt = _dt.datetime.fromtimestamp(when, tz=_dt.UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def ms_time(when: float) -> float:
    """UNIX seconds rounded to milliseconds (forward times)."""
    return round(when, 3)
