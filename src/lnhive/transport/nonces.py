"""Replay protection: a strictly increasing nonce per advisor (comms spec §1 step 5, §5.3).

The registry keeps, per sender, the last accepted nonce (and the hash of the request
that carried it) in the comms plugin's SQLite file. :meth:`NonceRegistry.consume` reads
and advances it in one ``BEGIN IMMEDIATE`` transaction, after the signature check and
before policy, so of two concurrent requests with the same nonce exactly one passes, and
a nonce once accepted is refused forever after, across restarts.

The table comes from :data:`MIGRATIONS`, which the plugin shell appends to its store's
migration list.
"""

from __future__ import annotations

from dataclasses import dataclass

from lnhive.core.errors import InvalidInput, Replay
from lnhive.core.store import Store
from lnhive.transport.envelope import DEFAULT_MAX_SKEW_S, MAX_NONCE

TABLE = "comms_replay_nonces"

MIGRATIONS: tuple[str, ...] = (
    f"""
CREATE TABLE {TABLE} (
    sender TEXT PRIMARY KEY,
    last_nonce INTEGER NOT NULL CHECK (last_nonce >= 1),
    request_hash TEXT,
    updated_at INTEGER NOT NULL);
CREATE INDEX {TABLE}_updated ON {TABLE} (updated_at);
""",
)
"""Schema of the nonce table, to append to the comms store's migrations."""


@dataclass(frozen=True)
class NonceState:
    sender: str
    last_nonce: int
    request_hash: str | None
    updated_at: int


class NonceRegistry:
    """Last accepted nonce per sender, persisted in ``store`` (which has :data:`MIGRATIONS`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def consume(
        self, sender: str, nonce: int, *, now: float, request_hash: str | None = None
    ) -> None:
        """Accept ``nonce`` for ``sender`` or raise :class:`Replay`.

        Accepted only if greater than the sender's last accepted nonce; the new value is
        committed before this returns. ``Replay.details`` holds ``duplicate: true`` when
        ``(nonce, request_hash)`` equals the last accepted pair (the very same request
        sent again), so a caller may answer it with the original reply.
        """
        if type(nonce) is not int or not 1 <= nonce <= MAX_NONCE:
            raise InvalidInput(f"nonce must be an integer between 1 and {MAX_NONCE}")
        with self._store.transaction() as conn:
            self._check(sender, nonce, request_hash)
            conn.execute(
                f"INSERT INTO {TABLE} (sender, last_nonce, request_hash, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (sender) DO UPDATE SET "
                "last_nonce = excluded.last_nonce, request_hash = excluded.request_hash, "
                "updated_at = excluded.updated_at",
                (sender, nonce, request_hash, int(now)),
            )

    def check(self, sender: str, nonce: int, *, request_hash: str | None = None) -> None:
        """Raise :class:`Replay` as :meth:`consume` would, without consuming anything (a
        cheap early refusal; only :meth:`consume` accepts)."""
        self._check(sender, nonce, request_hash)

    def _check(self, sender: str, nonce: int, request_hash: str | None) -> None:
        row = self._store.query_one(
            f"SELECT last_nonce, request_hash FROM {TABLE} WHERE sender = ?", (sender,)
        )
        if row is not None and nonce <= int(row["last_nonce"]):
            duplicate = (
                nonce == int(row["last_nonce"])
                and request_hash is not None
                and request_hash == row["request_hash"]
            )
            raise Replay(
                "replay rejected: nonce not monotonic",
                details={"duplicate": duplicate},
            )

    def last(self, sender: str) -> NonceState | None:
        """The sender's last accepted nonce, or ``None`` if it never sent one (or was pruned)."""
        row = self._store.query_one(
            f"SELECT sender, last_nonce, request_hash, updated_at FROM {TABLE} WHERE sender = ?",
            (sender,),
        )
        if row is None:
            return None
        return NonceState(
            sender=row["sender"],
            last_nonce=int(row["last_nonce"]),
            request_hash=row["request_hash"],
            updated_at=int(row["updated_at"]),
        )

    def prune(
        self, *, now: float, older_than_s: float, max_skew_s: float = DEFAULT_MAX_SKEW_S
    ) -> int:
        """Forget senders idle for ``older_than_s``; returns how many were forgotten.

        Refused below twice the clock skew: an envelope accepted at ``t`` carries a
        timestamp of at least ``t - skew``, so a copy of it passes the clock check only
        until ``t + 2 * skew``; after that forgetting its nonce cannot let it replay.
        """
        if older_than_s < 2 * max_skew_s:
            raise InvalidInput(
                f"nonces may be pruned only after twice the clock skew ({2 * max_skew_s:.0f} s)"
            )
        # updated_at is whole seconds rounded down: one more second keeps the bound safe.
        cur = self._store.execute(
            f"DELETE FROM {TABLE} WHERE updated_at <= ?", (now - older_than_s - 1,)
        )
        return int(cur.rowcount)
