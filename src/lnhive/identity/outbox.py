"""The gateway outbox: requests that failed for a passing reason, retried with backoff (spec §1.7).

An entry is ``pending`` until it succeeds (``completed``, its result kept) or gives up
(``exhausted``: ``max_retries`` failures, or one permanent failure). After the n-th
failure the next try waits ``min(3600, 60·2^min(n-1, 20))`` s: 60, 120, 240, … s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.hashing import sha256_hex
from lnhive.core.store import Store

PENDING = "pending"
COMPLETED = "completed"
EXHAUSTED = "exhausted"
MAX_RETRIES = 5
MAX_BACKOFF_S = 3600


def backoff_s(failures: int) -> int:
    """Seconds to wait after the ``failures``-th failure (``failures`` ≥ 1)."""
    exponent: int = min(max(failures - 1, 0), 20)
    return min(MAX_BACKOFF_S, 60 * (1 << exponent))


@dataclass(frozen=True)
class Entry:
    entry_id: str
    operation: str
    payload: dict[str, Any]
    retry_count: int
    max_retries: int


def entry_id_of(operation: str, payload: dict[str, Any], now: int) -> str:
    return sha256_hex(f"{operation}:".encode() + canonical_json(payload) + f":{now}".encode())[:32]


def enqueue(store: Store, operation: str, payload: dict[str, Any], now: int, error: str) -> str:
    """Queue ``operation`` after a first failed try: the next one is due in 60 s."""
    entry_id = entry_id_of(operation, payload, now)
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO archon_outbox (entry_id, operation, payload_json, status, "
            "retry_count, max_retries, created_at, next_retry_at, last_error) "
            "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)",
            (
                entry_id,
                operation,
                json.dumps(payload, sort_keys=True),
                PENDING,
                MAX_RETRIES,
                now,
                now + backoff_s(1),
                error[:200],
            ),
        )
    return entry_id


def due(store: Store, now: int, limit: int) -> list[Entry]:
    rows = store.query(
        "SELECT * FROM archon_outbox WHERE status = ? AND next_retry_at <= ? "
        "ORDER BY next_retry_at, entry_id LIMIT ?",
        (PENDING, now, limit),
    )
    return [
        Entry(
            str(r["entry_id"]),
            str(r["operation"]),
            json.loads(r["payload_json"]),
            int(r["retry_count"]),
            int(r["max_retries"]),
        )
        for r in rows
    ]


def complete(store: Store, entry: Entry, result: Any, now: int) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE archon_outbox SET status = ?, result_json = ?, last_error = '', "
            "next_retry_at = ? WHERE entry_id = ?",
            (COMPLETED, json.dumps(result, sort_keys=True), now, entry.entry_id),
        )


def fail(store: Store, entry: Entry, error: str, now: int, *, permanent: bool) -> str:
    """Record a failed try; returns the entry's new status."""
    failures = entry.retry_count + 1
    status = EXHAUSTED if permanent or failures >= entry.max_retries else PENDING
    with store.transaction() as conn:
        conn.execute(
            "UPDATE archon_outbox SET status = ?, retry_count = ?, next_retry_at = ?, "
            "last_error = ? WHERE entry_id = ?",
            (status, failures, now + backoff_s(failures), error[:200], entry.entry_id),
        )
    return status


def counts(store: Store) -> dict[str, int]:
    rows = store.query("SELECT status, COUNT(*) AS n FROM archon_outbox GROUP BY status")
    out = {PENDING: 0, COMPLETED: 0, EXHAUSTED: 0}
    out.update({str(r["status"]): int(r["n"]) for r in rows})
    return out


def prune(store: Store, before: int) -> int:
    """Drop completed and exhausted entries created before ``before``."""
    with store.transaction() as conn:
        cur = conn.execute(
            "DELETE FROM archon_outbox WHERE status IN (?, ?) AND created_at < ?",
            (COMPLETED, EXHAUSTED, before),
        )
    return int(cur.rowcount)
