"""Ignored and banned peers (spec revenue-ops §6.1 ``revenue-ignore|unignore|ban|unban``,
``revenue-list-ignored|banned``; table ``ignored_peers``).

- **ignored**: the fee controller and the automatic rebalancer leave the peer's channels
  alone. The peer's effective policy reads as ``strategy=passive`` and ``rebalance=disabled``
  whatever its stored policy says (which is kept, and applies again once the peer is
  unignored). An operator's explicit ``revenue-rebalance ... force=true`` may still use it.
- **banned**: ignored, and in addition never a rebalance source, destination or hop, even
  with ``force`` (routes through a banned node are rejected before ``sendpay``).

A banned peer is not also "ignored": ``revenue-unban`` returns it to normal, and
``revenue-unignore`` on a banned peer is refused (use ``revenue-unban``). Repeating a call
changes nothing and says so (``changed: false``). Every change is committed before it is
acknowledged, logged, and wakes the peer's channels (``on_change``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from lnhive.core.errors import Conflict, InvalidInput, NotFound
from lnhive.revenue.policy import validate_peer_id
from lnhive.revenue.store import RevenueStore

MAX_REASON = 200


class Listing(enum.StrEnum):
    IGNORED = "ignored"
    BANNED = "banned"


def _reason(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_REASON:
        raise InvalidInput(f"reason must be text of at most {MAX_REASON} characters")
    return value


class PeerLists:
    """The ``ignored_peers`` table; ``on_change(peer_id)`` after each committed change."""

    def __init__(
        self,
        store: RevenueStore,
        *,
        on_change: Callable[[str], None] | None = None,
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.on_change = on_change
        self.log = log or (lambda level, message: None)

    def level(self, peer_id: str) -> Listing | None:
        row = self.store.db.query_one(
            "SELECT level FROM ignored_peers WHERE peer_id = ?", (peer_id,)
        )
        return None if row is None else Listing(row["level"])

    def banned(self) -> frozenset[str]:
        rows = self.store.db.query("SELECT peer_id FROM ignored_peers WHERE level = 'banned'")
        return frozenset(r["peer_id"] for r in rows)

    def listing(self, level: Listing) -> dict[str, Any]:
        rows = self.store.db.query(
            "SELECT * FROM ignored_peers WHERE level = ? ORDER BY peer_id", (level.value,)
        )
        peers = [
            {
                "peer_id": r["peer_id"],
                "reason": r["reason"],
                "since": r["created_at"],
                "updated_at": r["updated_at"],
            }
            for r in rows
        ]
        return {level.value: peers, "count": len(peers)}

    # -- changes -------------------------------------------------------------------------
    def ignore(self, peer_id: object, reason: object, now: float) -> dict[str, Any]:
        return self._put(peer_id, Listing.IGNORED, reason, now)

    def ban(self, peer_id: object, reason: object, now: float) -> dict[str, Any]:
        return self._put(peer_id, Listing.BANNED, reason, now)

    def unignore(self, peer_id: object) -> dict[str, Any]:
        return self._remove(peer_id, Listing.IGNORED)

    def unban(self, peer_id: object) -> dict[str, Any]:
        return self._remove(peer_id, Listing.BANNED)

    def _put(self, peer_id: object, level: Listing, reason: object, now: float) -> dict[str, Any]:
        peer, why = validate_peer_id(peer_id), _reason(reason)
        before = self.level(peer)
        if before is Listing.BANNED or before is level:
            return _result(peer, before, before, changed=False)
        self.store.db.execute(
            "INSERT INTO ignored_peers (peer_id, level, reason, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (peer_id) DO UPDATE SET level = excluded.level, "
            "reason = COALESCE(excluded.reason, reason), updated_at = excluded.updated_at",
            (peer, level.value, why, now, now),
        )
        self._changed(peer, f"{before or 'normal'} -> {level.value}")
        return _result(peer, before, level, changed=True)

    def _remove(self, peer_id: object, level: Listing) -> dict[str, Any]:
        peer = validate_peer_id(peer_id)
        before = self.level(peer)
        if before is None:
            raise NotFound(f"peer {peer} is not {level.value}", details={"peer_id": peer})
        if before is not level:
            other = "revenue-unban" if before is Listing.BANNED else "revenue-unignore"
            raise Conflict(
                f"peer {peer} is {before.value}, not {level.value}; use {other}",
                details={"peer_id": peer},
            )
        self.store.db.execute("DELETE FROM ignored_peers WHERE peer_id = ?", (peer,))
        self._changed(peer, f"{before.value} -> normal")
        return _result(peer, before, None, changed=True)

    def _changed(self, peer: str, what: str) -> None:
        self.log("info", f"peer {peer}: {what}")
        if self.on_change is not None:
            self.on_change(peer)


def _result(
    peer: str, before: Listing | None, after: Listing | None, *, changed: bool
) -> dict[str, Any]:
    return {
        "peer_id": peer,
        "previous": before.value if before else "normal",
        "status": after.value if after else "normal",
        "changed": changed,
    }
