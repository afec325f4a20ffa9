"""How cl-hive-archon reaches the fleet: cl-hive's ``hive-members`` and ``hive-broadcast``
(ARCHITECTURE §8.5), found by feature detection (``help``), never by plugin name.

Without cl-hive, or while this node is not a member of a hive, :meth:`HiveLink.members`
is ``None`` and archon works locally. Inbound ``archon.*`` envelopes come the other way,
as cl-hive's custom notification ``hive-message``; :func:`unwrap_notification` takes the
envelope out of the notification's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from lnhive.cln.api import NodeApi
from lnhive.core.errors import NodeRpcError

BROADCAST = "hive-broadcast"
MEMBERS = "hive-members"
TOPIC = "hive-message"


class FleetLink(Protocol):
    def members(self) -> list[str] | None:
        """The fleet's node ids (this node included), or ``None`` when there is no fleet."""
        ...

    def broadcast(self, type: str, body: dict[str, Any]) -> int:
        """Send ``body`` as a signed ``archon.*`` envelope to every member; how many got it."""
        ...


class LocalOnly:
    """No fleet: polls have this node as their only voter, nothing is sent."""

    def members(self) -> list[str] | None:
        return None

    def broadcast(self, type: str, body: dict[str, Any]) -> int:
        return 0


class HiveLink:
    """cl-hive over the node's RPC, looked up with ``help`` on every use."""

    def __init__(self, node: NodeApi, me: str) -> None:
        self.node = node
        self.me = me

    def available(self) -> bool:
        try:
            self.node.call("help", {"command": BROADCAST})
        except Exception:
            return False
        return True

    def members(self) -> list[str] | None:
        if not self.available():
            return None
        try:
            out = self.node.call(MEMBERS, {})
        except Exception:
            return None  # cl-hive present but not in a hive: local
        rows = out.get("members")
        if not isinstance(rows, list):
            return None
        ids = sorted({str(r["peer_id"]) for r in rows if isinstance(r, dict) and "peer_id" in r})
        return ids if self.me in ids else None

    def broadcast(self, type: str, body: dict[str, Any]) -> int:
        try:
            out = self.node.call(BROADCAST, {"type": type, "body": body})
        except Exception as exc:
            raise NodeRpcError(f"hive-broadcast failed: {str(exc)[:120]}") from exc
        sent = out.get("sent_to")
        return sent if isinstance(sent, int) and not isinstance(sent, bool) else 0


def unwrap_notification(params: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """``(envelope, from)`` from a ``hive-message`` notification's parameters, or None.

    cl-hive sends ``{"envelope", "from"}``; a node may wrap custom notifications as
    ``{"payload": …}`` or ``{"hive-message": …}``, so those forms are accepted too.
    """
    inner: Any = params
    for key in ("payload", TOPIC):
        if isinstance(inner, Mapping) and "envelope" not in inner and key in inner:
            inner = inner[key]
    if not isinstance(inner, Mapping):
        return None
    env, sender = inner.get("envelope"), inner.get("from")
    if not isinstance(env, dict) or not isinstance(sender, str):
        return None
    return env, sender
