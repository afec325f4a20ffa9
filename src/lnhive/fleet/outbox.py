"""Reliable delivery: a persisted outbox with acks, backoff and recorded give-up.

A reliable message is enqueued once per (peer, msg_id) with its encoded frame. The
sending loop asks :meth:`Outbox.due` for what to send now; ``due`` records the
attempt and schedules the next one before returning (committed first, so a crash
never loses the schedule; at worst a frame is sent once more, and receivers dedupe by
``msg_id``). The peer answers with a ``fleet.ack`` envelope ``{"ack": msg_id}``
(:func:`new_ack`, :func:`parse_ack`), which the receiver of the ack passes to
:meth:`Outbox.ack` after verifying that the ack's ``sender`` is that peer. Acks travel
direct (``ttl`` 0), are sent for duplicates too (the first ack may have been lost), and
are never themselves acked or queued here.

Backoff after attempt *n* (1-based): ``min(base_s * 2**(n-1), max_backoff_s)``, plus a
jitter of up to ``jitter`` of that (default 25 %), derived from (peer, msg_id, n) so it
is deterministic. Defaults (spec §2.3): base 30 s, max 3,600 s, 20 attempts, 24 h.
A row that used all its attempts becomes ``failed``; one older than ``max_age_s``
becomes ``expired``; both keep their reason (``last_error``) and are listed by
:meth:`Outbox.given_up` until :meth:`Outbox.prune` removes finished rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256
from lnhive.core.store import Store
from lnhive.fleet.envelope import (
    Envelope,
    MalformedEnvelope,
    is_msg_id,
    is_node_id,
    new_envelope,
)

ACK_TYPE = "fleet.ack"

DEFAULT_BASE_S = 30.0
DEFAULT_MAX_BACKOFF_S = 3_600.0
DEFAULT_MAX_ATTEMPTS = 20
DEFAULT_MAX_AGE_S = 86_400.0
DEFAULT_JITTER = 0.25

PENDING, ACKED, FAILED, EXPIRED = "pending", "acked", "failed", "expired"

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE fleet_outbox (
        peer            TEXT NOT NULL,
        msg_id          TEXT NOT NULL,
        frame_hex       TEXT NOT NULL,
        created_at      REAL NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_attempt_at REAL,
        status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'acked', 'failed', 'expired')),
        finished_at     REAL,
        last_error      TEXT,
        PRIMARY KEY (peer, msg_id)
    ) WITHOUT ROWID;
    CREATE INDEX fleet_outbox_due ON fleet_outbox (status, next_attempt_at);
    """,
    # Frames due at the same moment go out in the order they were queued (a welcome
    # before the roster that follows it), whatever the clock's resolution.
    "ALTER TABLE fleet_outbox ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;",
)


def migrations() -> list[str]:
    """The numbered migrations of the outbox table, in order (appended to the cl-hive
    store's list after :func:`lnhive.fleet.dedupe.migrations`)."""
    return list(_MIGRATIONS)


def ack_body(msg_id: str) -> dict[str, Any]:
    """The body of a ``fleet.ack`` for ``msg_id``."""
    if not is_msg_id(msg_id):
        raise InvalidInput("acked msg_id must be 32 lowercase hex characters")
    return {"ack": msg_id}


def new_ack(node: NodeApi, sender: str, acked_msg_id: str, now: float) -> Envelope:
    """A signed ``fleet.ack`` envelope acknowledging ``acked_msg_id``."""
    return new_envelope(node, sender, ACK_TYPE, ack_body(acked_msg_id), now)


def parse_ack(env: Envelope) -> str:
    """The acknowledged ``msg_id`` of a (verified) ``fleet.ack`` envelope."""
    if env.type != ACK_TYPE:
        raise MalformedEnvelope(f"expected a {ACK_TYPE} envelope, got {env.type}")
    if set(env.body) != {"ack"} or not is_msg_id(env.body["ack"]):
        raise MalformedEnvelope('fleet.ack body must be exactly {"ack": <32 hex msg_id>}')
    return str(env.body["ack"])


@dataclass(frozen=True)
class Pending:
    """A frame to send now (``attempt`` counts from 1)."""

    peer: str
    msg_id: str
    frame_hex: str
    attempt: int


@dataclass(frozen=True)
class OutboxEntry:
    peer: str
    msg_id: str
    frame_hex: str
    created_at: float
    attempts: int
    next_attempt_at: float
    last_attempt_at: float | None
    status: str
    finished_at: float | None
    last_error: str | None


_COLUMNS = (
    "peer, msg_id, frame_hex, created_at, attempts, next_attempt_at, last_attempt_at, "
    "status, finished_at, last_error"
)


def _entry(row: sqlite3.Row) -> OutboxEntry:
    return OutboxEntry(
        peer=str(row["peer"]),
        msg_id=str(row["msg_id"]),
        frame_hex=str(row["frame_hex"]),
        created_at=float(row["created_at"]),
        attempts=int(row["attempts"]),
        next_attempt_at=float(row["next_attempt_at"]),
        last_attempt_at=None if row["last_attempt_at"] is None else float(row["last_attempt_at"]),
        status=str(row["status"]),
        finished_at=None if row["finished_at"] is None else float(row["finished_at"]),
        last_error=None if row["last_error"] is None else str(row["last_error"]),
    )


class Outbox:
    """The ``fleet_outbox`` table of a :class:`~lnhive.core.store.Store`."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        base_s: float = DEFAULT_BASE_S,
        max_backoff_s: float = DEFAULT_MAX_BACKOFF_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        jitter: float = DEFAULT_JITTER,
    ) -> None:
        if base_s <= 0 or max_backoff_s < base_s or max_attempts < 1 or max_age_s <= 0:
            raise InvalidInput("outbox: need 0 < base_s <= max_backoff_s, max_attempts >= 1")
        if not 0 <= jitter <= 1:
            raise InvalidInput("outbox: jitter must be within 0..1")
        self.store = store
        self.clock = clock
        self.base_s = float(base_s)
        self.max_backoff_s = float(max_backoff_s)
        self.max_attempts = int(max_attempts)
        self.max_age_s = float(max_age_s)
        self.jitter = float(jitter)

    def backoff(self, peer: str, msg_id: str, attempt: int) -> float:
        """Seconds to wait after attempt ``attempt`` (1-based) before the next one."""
        delay = min(self.base_s * 2.0 ** min(attempt - 1, 62), self.max_backoff_s)
        if self.jitter:
            seed = sha256(f"{peer}:{msg_id}:{attempt}".encode())
            frac = int.from_bytes(seed[:8], "big") / 2**64
            delay += delay * self.jitter * frac
        return delay

    def enqueue(self, peer: str, frame_hex: str, msg_id: str) -> bool:
        """Queue ``frame_hex`` for ``peer``, due at once; ``False`` (and no change) if
        (peer, msg_id) is already queued or finished."""
        if not is_node_id(peer):
            raise InvalidInput("peer must be a node id")
        if not is_msg_id(msg_id):
            raise InvalidInput("msg_id must be 32 lowercase hex characters")
        if not frame_hex:
            raise InvalidInput("frame_hex must not be empty")
        now = self.clock.now()
        cur = self.store.execute(
            "INSERT OR IGNORE INTO fleet_outbox (peer, msg_id, frame_hex, created_at, "
            "next_attempt_at, seq) VALUES (?, ?, ?, ?, ?, "
            "(SELECT COALESCE(MAX(seq), 0) + 1 FROM fleet_outbox))",
            (peer, msg_id, frame_hex, now, now),
        )
        return cur.rowcount == 1

    def _give_up(self, conn: sqlite3.Connection, now: float) -> None:
        conn.execute(
            "UPDATE fleet_outbox SET status = 'expired', finished_at = ?, "
            "last_error = printf('expired: not acked within %d s (%d attempts)', ?, attempts) "
            "WHERE status = 'pending' AND created_at + ? <= ?",
            (now, int(self.max_age_s), self.max_age_s, now),
        )
        conn.execute(
            "UPDATE fleet_outbox SET status = 'failed', finished_at = ?, "
            "last_error = printf('gave up: not acked after %d attempts', attempts) "
            "WHERE status = 'pending' AND attempts >= ? AND next_attempt_at <= ?",
            (now, self.max_attempts, now),
        )

    def due(self, now: float | None = None, *, limit: int = 50) -> list[Pending]:
        """Frames to send now, oldest due first; each is recorded as attempted and
        rescheduled before this returns. Rows out of attempts or age are given up."""
        t = self.clock.now() if now is None else float(now)
        out: list[Pending] = []
        with self.store.transaction() as conn:
            self._give_up(conn, t)
            rows = conn.execute(
                "SELECT peer, msg_id, frame_hex, attempts FROM fleet_outbox "
                "WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, seq LIMIT ?",
                (t, int(limit)),
            ).fetchall()
            for row in rows:
                attempt = int(row["attempts"]) + 1
                peer, msg_id = str(row["peer"]), str(row["msg_id"])
                conn.execute(
                    "UPDATE fleet_outbox SET attempts = ?, last_attempt_at = ?, "
                    "next_attempt_at = ? WHERE peer = ? AND msg_id = ?",
                    (attempt, t, t + self.backoff(peer, msg_id, attempt), peer, msg_id),
                )
                out.append(Pending(peer, msg_id, str(row["frame_hex"]), attempt))
        return out

    def unreachable(self, peer: str, msg_id: str, delay_s: float, now: float | None = None) -> bool:
        """The attempt :meth:`due` just recorded never left (the peer is offline): give
        the attempt back and try again after ``delay_s`` (spec §2.3: an offline peer
        keeps its retry budget)."""
        t = self.clock.now() if now is None else float(now)
        cur = self.store.execute(
            "UPDATE fleet_outbox SET attempts = MAX(attempts - 1, 0), next_attempt_at = ?, "
            "last_error = 'peer not connected' "
            "WHERE peer = ? AND msg_id = ? AND status = 'pending'",
            (t + float(delay_s), peer, msg_id),
        )
        return cur.rowcount == 1

    def wake(self, peer: str, now: float | None = None) -> int:
        """Make every pending row for ``peer`` due now (it just connected)."""
        t = self.clock.now() if now is None else float(now)
        cur = self.store.execute(
            "UPDATE fleet_outbox SET next_attempt_at = ? "
            "WHERE peer = ? AND status = 'pending' AND next_attempt_at > ?",
            (t, peer, t),
        )
        return int(cur.rowcount)

    def ack(self, peer: str, msg_id: str, now: float | None = None) -> bool:
        """Mark (peer, msg_id) delivered; ``True`` if a pending row was acked."""
        t = self.clock.now() if now is None else float(now)
        cur = self.store.execute(
            "UPDATE fleet_outbox SET status = 'acked', finished_at = ?, last_error = NULL "
            "WHERE peer = ? AND msg_id = ? AND status = 'pending'",
            (t, peer, msg_id),
        )
        return cur.rowcount == 1

    def fail(self, peer: str, msg_id: str, reason: str, now: float | None = None) -> bool:
        """Give up on (peer, msg_id) now (e.g. the peer answered that it is invalid)."""
        t = self.clock.now() if now is None else float(now)
        cur = self.store.execute(
            "UPDATE fleet_outbox SET status = 'failed', finished_at = ?, last_error = ? "
            "WHERE peer = ? AND msg_id = ? AND status = 'pending'",
            (t, reason, peer, msg_id),
        )
        return cur.rowcount == 1

    def get(self, peer: str, msg_id: str) -> OutboxEntry | None:
        row = self.store.query_one(
            f"SELECT {_COLUMNS} FROM fleet_outbox WHERE peer = ? AND msg_id = ?", (peer, msg_id)
        )
        return None if row is None else _entry(row)

    def pending_count(self, peer: str | None = None) -> int:
        if peer is None:
            row = self.store.query_one("SELECT COUNT(*) FROM fleet_outbox WHERE status = 'pending'")
        else:
            row = self.store.query_one(
                "SELECT COUNT(*) FROM fleet_outbox WHERE status = 'pending' AND peer = ?", (peer,)
            )
        return 0 if row is None else int(row[0])

    def given_up(self) -> list[OutboxEntry]:
        """Rows that failed or expired, oldest first."""
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM fleet_outbox WHERE status IN ('failed', 'expired') "
            "ORDER BY finished_at, peer, msg_id"
        )
        return [_entry(r) for r in rows]

    def prune(self, now: float, keep_s: float = 7 * 86_400.0) -> int:
        """Delete finished rows (acked, failed, expired) finished more than ``keep_s`` ago."""
        cur = self.store.execute(
            "DELETE FROM fleet_outbox WHERE status != 'pending' AND finished_at < ?",
            (float(now) - keep_s,),
        )
        return int(cur.rowcount)
