"""Messages already seen, by ``msg_id``, persisted so dedupe survives a restart.

A receiver records an envelope's ``msg_id`` once it has accepted the envelope
(verified, from a member, applied); a second copy, whether relayed along another path
or replayed by an attacker, is then recognised by :meth:`SeenMessages.add` returning
``False`` (re-ack it, do not apply it again).

Entries are kept for ``horizon_s`` (default two days). The horizon must be longer
than the oldest ``ts`` any receiver accepts (the longest freshness window, settlement's
86,400 s, plus clock skew): an envelope older than that is refused as stale anyway, so
forgetting its id cannot let a replay through. ``max_entries`` bounds the table under
a flood; :meth:`SeenMessages.prune` drops the oldest entries beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lnhive.core.errors import InvalidInput
from lnhive.core.store import Store
from lnhive.fleet.envelope import is_msg_id

DEFAULT_HORIZON_S = 2 * 86_400.0
DEFAULT_MAX_ENTRIES = 500_000

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE fleet_seen_messages (
        msg_id     TEXT PRIMARY KEY,
        first_seen REAL NOT NULL,
        sender     TEXT NOT NULL,
        type       TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX fleet_seen_messages_first_seen ON fleet_seen_messages (first_seen);
    """,
)


def migrations() -> list[str]:
    """The numbered migrations of the seen-messages table, in order.

    The cl-hive store appends these (and :func:`lnhive.fleet.outbox.migrations`) to its
    list; a released migration is never edited, new ones are appended.
    """
    return list(_MIGRATIONS)


@dataclass(frozen=True)
class Seen:
    msg_id: str
    first_seen: float
    sender: str
    type: str


class SeenMessages:
    """The ``fleet_seen_messages`` table of a :class:`~lnhive.core.store.Store`."""

    def __init__(
        self,
        store: Store,
        *,
        horizon_s: float = DEFAULT_HORIZON_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if horizon_s <= 0 or max_entries <= 0:
            raise InvalidInput("horizon_s and max_entries must be positive")
        self.store = store
        self.horizon_s = float(horizon_s)
        self.max_entries = int(max_entries)

    def add(self, msg_id: str, *, sender: str, type: str, now: float) -> bool:
        """Record ``msg_id``; ``True`` the first time, ``False`` if already seen.

        Atomic (``INSERT OR IGNORE``) and committed before it returns.
        """
        if not is_msg_id(msg_id):
            raise InvalidInput("msg_id must be 32 lowercase hex characters")
        cur = self.store.execute(
            "INSERT OR IGNORE INTO fleet_seen_messages (msg_id, first_seen, sender, type) "
            "VALUES (?, ?, ?, ?)",
            (msg_id, float(now), sender, type),
        )
        return cur.rowcount == 1

    def seen(self, msg_id: str) -> bool:
        """Whether ``msg_id`` is recorded."""
        row = self.store.query_one("SELECT 1 FROM fleet_seen_messages WHERE msg_id = ?", (msg_id,))
        return row is not None

    def get(self, msg_id: str) -> Seen | None:
        row = self.store.query_one(
            "SELECT msg_id, first_seen, sender, type FROM fleet_seen_messages WHERE msg_id = ?",
            (msg_id,),
        )
        if row is None:
            return None
        return Seen(str(row[0]), float(row[1]), str(row[2]), str(row[3]))

    def count(self) -> int:
        row = self.store.query_one("SELECT COUNT(*) FROM fleet_seen_messages")
        return 0 if row is None else int(row[0])

    def prune(self, now: float) -> int:
        """Drop entries older than the horizon, then the oldest beyond ``max_entries``;
        return how many were dropped."""
        with self.store.transaction() as conn:
            dropped = conn.execute(
                "DELETE FROM fleet_seen_messages WHERE first_seen < ?",
                (float(now) - self.horizon_s,),
            ).rowcount
            excess = (
                conn.execute("SELECT COUNT(*) FROM fleet_seen_messages").fetchone()[0]
                - self.max_entries
            )
            if excess > 0:
                dropped += conn.execute(
                    "DELETE FROM fleet_seen_messages WHERE msg_id IN ("
                    "SELECT msg_id FROM fleet_seen_messages "
                    "ORDER BY first_seen, msg_id LIMIT ?)",
                    (excess,),
                ).rowcount
        return int(dropped)
