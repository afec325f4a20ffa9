"""Intent locks: announce → hold → commit or abort (spec §4).

Before a member does something only one member should do (open a channel to a given
external node), it announces a signed ``fleet.intent``::

    {"intent_type": "channel_open", "target": "<node id>",
     "hold_s": 60, "expires_at": <unix s>, "amount_sats": 2000000}

and waits ``hold_s``. Rules, applied identically by every node:

- **Tie-break:** two pending intents for the same (type, target): the one whose
  initiator has the lexicographically lower pubkey wins. The loser marks its own
  ``aborted`` (``tie_breaker_loss``) and announces a signed ``fleet.intent_abort``
  ``{"intent": <msg_id>, "intent_type", "target", "reason"}``.
- **Commit:** an own intent still pending when its hold ends (and before it expires)
  is committed; the initiator announces ``fleet.intent_commit`` ``{"intent": <msg_id>,
  "intent_type", "target"}`` and then acts.
- **Committed beats pending:** a node holding a pending intent that learns of a
  committed one for the same (type, target) aborts (``target_taken``), whatever the
  pubkeys; a node that has committed answers a newcomer's intent with its commit again.
- Expiry: a pending intent past ``expires_at`` is ``expired``; terminal states are final.

Statuses: own ``pending → committed → executed | failed``, ``pending → aborted |
expired``; remote ``pending → committed | aborted | expired``. At most one pending own
intent per (type, target); at most :data:`MAX_REMOTE` remote ones are kept (oldest
evicted).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import Conflict, InvalidInput
from lnhive.core.store import Store
from lnhive.fleet.envelope import Envelope, MalformedEnvelope, is_msg_id, is_node_id

INTENT, INTENT_ABORT, INTENT_COMMIT = "fleet.intent", "fleet.intent_abort", "fleet.intent_commit"
INTENT_TYPES: frozenset[str] = frozenset({"channel_open", "channel_close", "ban_peer"})
PENDING, COMMITTED, EXECUTED, FAILED, ABORTED, EXPIRED = (
    "pending",
    "committed",
    "executed",
    "failed",
    "aborted",
    "expired",
)
TERMINAL = frozenset({EXECUTED, FAILED, ABORTED, EXPIRED})
MAX_REMOTE = 200
MIN_HOLD_S, MAX_HOLD_S = 1, 600
MAX_SATS = 21_000_000 * 100_000_000

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE intent_locks (
        id          TEXT PRIMARY KEY,
        intent_type TEXT NOT NULL,
        target      TEXT NOT NULL,
        initiator   TEXT NOT NULL,
        own         INTEGER NOT NULL,
        ts          INTEGER NOT NULL,
        hold_s      INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        amount_sats INTEGER,
        status      TEXT NOT NULL,
        reason      TEXT,
        envelope    TEXT NOT NULL,
        updated_at  REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX intent_locks_target ON intent_locks (intent_type, target, status);
    """,
)


def migrations() -> list[str]:
    return list(_MIGRATIONS)


def intent_body(
    intent_type: str, target: str, hold_s: int, expires_at: int, amount_sats: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "intent_type": intent_type,
        "target": target,
        "hold_s": hold_s,
        "expires_at": expires_at,
    }
    if amount_sats is not None:
        body["amount_sats"] = amount_sats
    return body


@dataclass(frozen=True)
class Intent:
    id: str
    intent_type: str
    target: str
    initiator: str
    own: bool
    ts: int
    hold_s: int
    expires_at: int
    amount_sats: int | None
    status: str
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "intent_type": self.intent_type,
            "target": self.target,
            "initiator": self.initiator,
            "own": self.own,
            "timestamp": self.ts,
            "commit_at": self.ts + self.hold_s,
            "expires_at": self.expires_at,
            "amount_sats": self.amount_sats,
            "status": self.status,
            "reason": self.reason,
        }


def check_intent(env: Envelope) -> tuple[str, str, int, int, int | None]:
    """``(type, target, hold_s, expires_at, amount_sats)`` of a valid ``fleet.intent``."""
    body = env.body
    keys = set(body)
    required = {"intent_type", "target", "hold_s", "expires_at"}
    if not required <= keys or keys - required - {"amount_sats"}:
        raise MalformedEnvelope(f"{INTENT} body is {sorted(required)} plus optional amount_sats")
    intent_type = body["intent_type"]
    if intent_type not in INTENT_TYPES:
        raise MalformedEnvelope(f"{INTENT}: unknown intent_type {str(intent_type)[:40]!r}")
    target = body["target"]
    if not is_node_id(target):
        raise MalformedEnvelope(f"{INTENT}: target must be a node id")
    hold = body["hold_s"]
    if type(hold) is not int or not MIN_HOLD_S <= hold <= MAX_HOLD_S:
        raise MalformedEnvelope(f"{INTENT}: hold_s must be an integer {MIN_HOLD_S}..{MAX_HOLD_S}")
    expires = body["expires_at"]
    if type(expires) is not int or not env.ts + hold < expires <= env.ts + 3_600:
        raise MalformedEnvelope(f"{INTENT}: expires_at must lie after the hold, within an hour")
    amount = body.get("amount_sats")
    if amount is not None and (type(amount) is not int or not 0 < amount <= MAX_SATS):
        raise MalformedEnvelope(f"{INTENT}: amount_sats must be a positive integer")
    return intent_type, target, hold, expires, amount


def check_reference(env: Envelope) -> tuple[str, str, str, str | None]:
    """``(intent id, type, target, reason)`` of an abort or commit."""
    body = env.body
    allowed = {"intent", "intent_type", "target"} | (
        {"reason"} if env.type == INTENT_ABORT else set()
    )
    if set(body) != allowed:
        raise MalformedEnvelope(f"{env.type} body must be exactly {sorted(allowed)}")
    if not is_msg_id(body["intent"]):
        raise MalformedEnvelope(f"{env.type}: intent must be the intent's msg_id")
    if body["intent_type"] not in INTENT_TYPES or not is_node_id(body["target"]):
        raise MalformedEnvelope(f"{env.type}: bad intent_type or target")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 512):
        raise MalformedEnvelope(f"{env.type}: reason must be a string of at most 512 characters")
    return str(body["intent"]), str(body["intent_type"]), str(body["target"]), reason


def _intent(row: sqlite3.Row) -> Intent:
    return Intent(
        id=str(row["id"]),
        intent_type=str(row["intent_type"]),
        target=str(row["target"]),
        initiator=str(row["initiator"]),
        own=bool(row["own"]),
        ts=int(row["ts"]),
        hold_s=int(row["hold_s"]),
        expires_at=int(row["expires_at"]),
        amount_sats=None if row["amount_sats"] is None else int(row["amount_sats"]),
        status=str(row["status"]),
        reason=None if row["reason"] is None else str(row["reason"]),
    )


class IntentBook:
    """The ``intent_locks`` table and the decisions of spec §4."""

    def __init__(self, store: Store, me: str) -> None:
        self.store = store
        self.me = me

    def get(self, intent_id: str) -> Intent | None:
        row = self.store.query_one("SELECT * FROM intent_locks WHERE id = ?", (intent_id,))
        return None if row is None else _intent(row)

    def envelope_json(self, intent_id: str) -> str | None:
        row = self.store.query_one("SELECT envelope FROM intent_locks WHERE id = ?", (intent_id,))
        return None if row is None else str(row[0])

    def recent(self, limit: int = 100) -> list[Intent]:
        rows = self.store.query(
            "SELECT * FROM intent_locks ORDER BY ts DESC, id LIMIT ?", (int(limit),)
        )
        return [_intent(r) for r in rows]

    def for_target(self, intent_type: str, target: str, statuses: set[str]) -> list[Intent]:
        marks = ",".join("?" * len(statuses))
        rows = self.store.query(
            f"SELECT * FROM intent_locks WHERE intent_type = ? AND target = ? "
            f"AND status IN ({marks}) ORDER BY initiator",
            (intent_type, target, *sorted(statuses)),
        )
        return [_intent(r) for r in rows]

    def _insert(self, env: Envelope, own: bool, status: str, now: float) -> None:
        intent_type, target, hold, expires, amount = check_intent(env)
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO intent_locks (id, intent_type, target, initiator, own, ts, "
                "hold_s, expires_at, amount_sats, status, reason, envelope, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    env.msg_id,
                    intent_type,
                    target,
                    env.sender,
                    int(own),
                    env.ts,
                    hold,
                    expires,
                    amount,
                    status,
                    env.canonical().decode(),
                    float(now),
                ),
            )
            if not own:
                conn.execute(
                    "DELETE FROM intent_locks WHERE own = 0 AND id NOT IN (SELECT id FROM "
                    "intent_locks WHERE own = 0 ORDER BY updated_at DESC, id LIMIT ?)",
                    (MAX_REMOTE,),
                )

    def check_can_announce(self, intent_type: str, target: str) -> None:
        """Refuse an announcement that is already decided against us."""
        if intent_type not in INTENT_TYPES:
            raise InvalidInput(f"intent_type must be one of {', '.join(sorted(INTENT_TYPES))}")
        taken = self.for_target(intent_type, target, {PENDING, COMMITTED, EXECUTED})
        for other in taken:
            who = "we" if other.own else other.initiator
            raise Conflict(
                f"{intent_type} to {target} is already {other.status} by {who} "
                f"(intent {other.id}); wait for it to finish or expire"
            )

    def add_own(self, env: Envelope, now: float) -> Intent:
        intent_type, target, *_ = check_intent(env)
        self.check_can_announce(intent_type, target)
        self._insert(env, True, PENDING, now)
        intent = self.get(env.msg_id)
        assert intent is not None
        return intent

    def set_status(self, intent_id: str, status: str, reason: str | None, now: float) -> bool:
        """Move an intent to ``status`` unless it is already terminal."""
        cur = self.store.execute(
            "UPDATE intent_locks SET status = ?, reason = ?, updated_at = ? "
            f"WHERE id = ? AND status NOT IN ({','.join('?' * len(TERMINAL))})",
            (status, reason, float(now), intent_id, *sorted(TERMINAL)),
        )
        return cur.rowcount == 1

    def on_remote_intent(self, env: Envelope, now: float) -> list[Intent]:
        """Record a remote intent; return our own pending intents it defeats."""
        intent_type, target, *_ = check_intent(env)
        self._insert(env, False, PENDING, now)
        lost: list[Intent] = []
        for mine in self.for_target(intent_type, target, {PENDING}):
            if mine.own and env.sender < self.me:
                self.set_status(mine.id, ABORTED, "tie_breaker_loss", now)
                lost.append(mine)
        return lost

    def our_commit_against(self, intent_type: str, target: str) -> Intent | None:
        """Our committed/executed intent for (type, target), if any (to answer newcomers)."""
        for mine in self.for_target(intent_type, target, {COMMITTED, EXECUTED}):
            if mine.own:
                return mine
        return None

    def on_remote_abort(self, env: Envelope, now: float) -> bool:
        intent_id, *_ = check_reference(env)
        other = self.get(intent_id)
        if other is None or other.own or other.initiator != env.sender:
            return False
        return self.set_status(intent_id, ABORTED, env.body.get("reason"), now)

    def on_remote_commit(self, env: Envelope, now: float) -> list[Intent]:
        """Mark the remote intent committed; return our pending intents it defeats."""
        intent_id, intent_type, target, _ = check_reference(env)
        other = self.get(intent_id)
        if other is not None and not other.own and other.initiator == env.sender:
            self.set_status(intent_id, COMMITTED, None, now)
        lost: list[Intent] = []
        for mine in self.for_target(intent_type, target, {PENDING}):
            if mine.own:
                self.set_status(mine.id, ABORTED, "target_taken", now)
                lost.append(mine)
        return lost

    def due(self, now: float) -> tuple[list[Intent], list[Intent]]:
        """Own intents to commit now, and pending intents (own or remote) that expired."""
        rows = [
            _intent(r)
            for r in self.store.query("SELECT * FROM intent_locks WHERE status = 'pending'")
        ]
        commit = [i for i in rows if i.own and i.ts + i.hold_s <= now < i.expires_at]
        expired = [i for i in rows if now >= i.expires_at]
        return commit, expired


def reference_body(intent: Intent, reason: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "intent": intent.id,
        "intent_type": intent.intent_type,
        "target": intent.target,
    }
    if reason is not None:
        body["reason"] = reason
    return body


def summary(intents: list[Intent]) -> Mapping[str, int]:
    out: dict[str, int] = {}
    for i in intents:
        out[i.status] = out.get(i.status, 0) + 1
    return out
