"""What the Nostr transport keeps in the comms SQLite file: seen event ids and the outbox.

- ``comms_seen_events``: every DM event id we processed (spec §5.6: de-dup by event id).
  A relay re-sends stored events on every (re)subscription and several relays carry the
  same event, so an id is claimed atomically *before* the envelope is handled: each
  event is handled at most once, across restarts. Ids are kept :data:`SEEN_KEEP_S`
  (the subscription looks back two days, gift wraps backdate up to two days).
- ``comms_nostr_outbox``: replies, stored signed and wrapped before the first attempt, so
  an event id never changes across retries (relays de-duplicate by id). A reply is retried
  with backoff (:data:`RETRY_MIN_S` doubling to :data:`RETRY_MAX_S`) until a relay accepts
  it or it is :data:`OUTBOX_TTL_S` old; ``in_reply_to`` is unique, so one inbound event
  never yields two replies.

:data:`MIGRATION` is appended to the pipeline's migration list
(``lnhive.manage.pipeline.MIGRATIONS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lnhive.core.store import Store

MIGRATION = """
CREATE TABLE comms_seen_events (
    event_id TEXT PRIMARY KEY,
    seen_at REAL NOT NULL);
CREATE INDEX comms_seen_events_at ON comms_seen_events (seen_at);
CREATE TABLE comms_nostr_outbox (
    event_id TEXT PRIMARY KEY,
    in_reply_to TEXT UNIQUE,
    recipient TEXT NOT NULL,
    event_json TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    sent_at REAL,
    last_error TEXT);
CREATE INDEX comms_nostr_outbox_due ON comms_nostr_outbox (sent_at, next_attempt_at);
"""

SEEN_KEEP_S = 3 * 86_400
RETRY_MIN_S = 1.0
RETRY_MAX_S = 300.0
OUTBOX_TTL_S = 86_400.0
"""A reply no relay accepted within a day is given up (the advisor's request has long
passed its clock window)."""
OUTBOX_LIMIT = 2_000
"""Unsent replies kept at most (spec §5.6 queues); beyond it new replies are dropped."""


class SeenEvents:
    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(self, event_id: str, now: float) -> bool:
        """Record ``event_id``; ``True`` the first time only (atomic across threads and
        processes)."""
        cur = self.store.execute(
            "INSERT OR IGNORE INTO comms_seen_events (event_id, seen_at) VALUES (?, ?)",
            (event_id, now),
        )
        return cur.rowcount == 1

    def prune(self, now: float, keep_s: float = SEEN_KEEP_S) -> int:
        cur = self.store.execute("DELETE FROM comms_seen_events WHERE seen_at < ?", (now - keep_s,))
        return cur.rowcount

    def count(self) -> int:
        row = self.store.query_one("SELECT COUNT(*) AS n FROM comms_seen_events")
        return int(row["n"]) if row is not None else 0


@dataclass(frozen=True)
class OutboxItem:
    event_id: str
    recipient: str
    event_json: str
    attempts: int


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def put(
        self, event_id: str, event_json: str, *, recipient: str, in_reply_to: str, now: float
    ) -> bool:
        """Queue a wrapped reply; ``False`` if one exists for ``in_reply_to`` (or the same
        event) or the outbox is full."""
        if self.pending() >= OUTBOX_LIMIT:
            return False
        cur = self.store.execute(
            "INSERT OR IGNORE INTO comms_nostr_outbox (event_id, in_reply_to, recipient, "
            "event_json, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
            (event_id, in_reply_to, recipient, event_json, now, now),
        )
        return cur.rowcount == 1

    def due(self, now: float, limit: int = 50) -> list[OutboxItem]:
        rows = self.store.query(
            "SELECT event_id, recipient, event_json, attempts FROM comms_nostr_outbox "
            "WHERE sent_at IS NULL AND next_attempt_at <= ? AND created_at > ? "
            "ORDER BY created_at LIMIT ?",
            (now, now - OUTBOX_TTL_S, limit),
        )
        return [
            OutboxItem(r["event_id"], r["recipient"], r["event_json"], int(r["attempts"]))
            for r in rows
        ]

    def sent(self, event_id: str, now: float) -> None:
        self.store.execute(
            "UPDATE comms_nostr_outbox SET sent_at = ?, attempts = attempts + 1, "
            "last_error = NULL WHERE event_id = ?",
            (now, event_id),
        )

    def failed(self, event_id: str, now: float, error: str) -> float:
        """Record a failed attempt; returns the delay until the next one."""
        row = self.store.query_one(
            "SELECT attempts FROM comms_nostr_outbox WHERE event_id = ?", (event_id,)
        )
        attempts = int(row["attempts"]) if row is not None else 0
        delay = min(RETRY_MAX_S, RETRY_MIN_S * 2.0 ** min(attempts, 20))
        self.store.execute(
            "UPDATE comms_nostr_outbox SET attempts = attempts + 1, next_attempt_at = ?, "
            "last_error = ? WHERE event_id = ?",
            (now + delay, error[:500], event_id),
        )
        return delay

    def retry_now(self, now: float) -> None:
        """Make every unsent reply due (a relay just came back)."""
        self.store.execute(
            "UPDATE comms_nostr_outbox SET next_attempt_at = ? WHERE sent_at IS NULL", (now,)
        )

    def pending(self) -> int:
        row = self.store.query_one(
            "SELECT COUNT(*) AS n FROM comms_nostr_outbox WHERE sent_at IS NULL"
        )
        return int(row["n"]) if row is not None else 0

    def prune(self, now: float) -> int:
        """Forget sent replies and those given up, after the TTL."""
        cur = self.store.execute(
            "DELETE FROM comms_nostr_outbox WHERE created_at < ?", (now - 2 * OUTBOX_TTL_S,)
        )
        return cur.rowcount
