"""Governance modes and the pending-action queue (spec §6.2, ARCHITECTURE §8.6).

Two modes (option ``hive-governance-mode``, changed at run time with ``hive-set-mode``):

- ``advisor`` (default): everything that moves funds or affects membership waits in
  the queue for the operator: ``channel_open`` (from ``hive-open-channel``) and
  ``emergency_ban`` (from ``hive-emergency-ban``).
- ``failsafe``: ``emergency_ban`` runs at once — locally only, as ARCHITECTURE §8.6
  settles: the peer is ignored and disconnected here and a ban proposal is filed for
  the fleet to vote on — at most ``hive-failsafe-actions-per-hour`` (2) times an hour;
  beyond that, and for everything else, it queues as in advisor mode.

An unknown mode in the database falls back to ``advisor`` (fail closed). Queued actions
expire after 24 h. Approving a ``channel_open`` announces a *fresh* intent (spec §4:
never the stale one from proposal time), so the full hold and the tie-break run before
any funds move; its status then follows the intent (``executed``, ``failed``,
``aborted``, ``expired``).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import InvalidInput, NotFound
from lnhive.core.store import Store

ADVISOR, FAILSAFE = "advisor", "failsafe"
MODES: tuple[str, ...] = (ADVISOR, FAILSAFE)
CHANNEL_OPEN, EMERGENCY_BAN = "channel_open", "emergency_ban"
PENDING, APPROVED, EXECUTED, FAILED, REJECTED, EXPIRED = (
    "pending",
    "approved",
    "executed",
    "failed",
    "rejected",
    "expired",
)
ACTION_TTL_S = 86_400
MAX_REASON = 512

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE pending_actions (
        id          TEXT PRIMARY KEY,
        action_type TEXT NOT NULL,
        payload     TEXT NOT NULL,
        proposed_at REAL NOT NULL,
        expires_at  REAL NOT NULL,
        status      TEXT NOT NULL,
        reason      TEXT,
        updated_at  REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX pending_actions_status ON pending_actions (status, proposed_at);
    """,
)


def migrations() -> list[str]:
    return list(_MIGRATIONS)


def check_mode(value: object) -> str:
    if value not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}, got {value!r}")
    return str(value)


@dataclass(frozen=True)
class Action:
    id: str
    action_type: str
    payload: dict[str, Any]
    proposed_at: float
    expires_at: float
    status: str
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action_type": self.action_type,
            "payload": self.payload,
            "proposed_at": int(self.proposed_at),
            "expires_at": int(self.expires_at),
            "status": self.status,
            "reason": self.reason,
        }


def _action(row: sqlite3.Row) -> Action:
    return Action(
        id=str(row["id"]),
        action_type=str(row["action_type"]),
        payload=json.loads(row["payload"]),
        proposed_at=float(row["proposed_at"]),
        expires_at=float(row["expires_at"]),
        status=str(row["status"]),
        reason=None if row["reason"] is None else str(row["reason"]),
    )


class ActionQueue:
    """The ``pending_actions`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, action_type: str, payload: dict[str, Any], now: float) -> Action:
        action_id = secrets.token_hex(8)
        self.store.execute(
            "INSERT INTO pending_actions (id, action_type, payload, proposed_at, expires_at, "
            "status, reason, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', NULL, ?)",
            (action_id, action_type, json.dumps(payload), now, now + ACTION_TTL_S, now),
        )
        return self.get(action_id)

    def get(self, action_id: str) -> Action:
        row = self.store.query_one("SELECT * FROM pending_actions WHERE id = ?", (action_id,))
        if row is None:
            raise NotFound(f"no pending action {action_id} (see hive-pending-actions)")
        return _action(row)

    def recent(self, limit: int = 100) -> list[Action]:
        rows = self.store.query(
            "SELECT * FROM pending_actions ORDER BY proposed_at DESC, id LIMIT ?", (int(limit),)
        )
        return [_action(r) for r in rows]

    def pending(self) -> list[Action]:
        rows = self.store.query(
            "SELECT * FROM pending_actions WHERE status = 'pending' ORDER BY proposed_at, id"
        )
        return [_action(r) for r in rows]

    def set_status(
        self,
        action_id: str,
        status: str,
        reason: str | None,
        now: float,
        payload: dict[str, Any] | None = None,
    ) -> bool:
        """Move a ``pending`` (or ``approved``) action on; terminal ones stay."""
        if payload is None:
            cur = self.store.execute(
                "UPDATE pending_actions SET status = ?, reason = ?, updated_at = ? "
                "WHERE id = ? AND status IN ('pending', 'approved')",
                (status, reason, now, action_id),
            )
        else:
            cur = self.store.execute(
                "UPDATE pending_actions SET status = ?, reason = ?, updated_at = ?, payload = ? "
                "WHERE id = ? AND status IN ('pending', 'approved')",
                (status, reason, now, json.dumps(payload), action_id),
            )
        return cur.rowcount == 1

    def expire(self, now: float) -> int:
        cur = self.store.execute(
            "UPDATE pending_actions SET status = 'expired', reason = 'not approved within 24 h', "
            "updated_at = ? WHERE status = 'pending' AND expires_at <= ?",
            (now, now),
        )
        return int(cur.rowcount)

    def count_since(self, action_type: str, status: str, since: float) -> int:
        row = self.store.query_one(
            "SELECT COUNT(*) FROM pending_actions WHERE action_type = ? AND status = ? "
            "AND updated_at >= ?",
            (action_type, status, since),
        )
        return 0 if row is None else int(row[0])
