"""The fleet roster: who is in the hive, at which tier, and the signed evidence for it.

Membership changes only through signed evidence (spec §3.4, ARCHITECTURE decision 8):
the founder's self-signed ``fleet.genesis`` and, for every other member, the
``fleet.welcome`` a member signed when it admitted the joiner. Every envelope that
changed the roster is kept verbatim in ``hive_evidence``, so any node can hand the
whole chain to another (``fleet.roster``) and the receiver re-verifies it instead of
trusting the sender's word.

Evidence whose preconditions are not met yet (a welcome signed by a member we do not
know of yet, because frames arrived out of order) is kept as ``pending`` and retried
whenever other evidence is applied; evidence that can never apply is ``rejected`` with
its reason. ``membership_hash`` (spec §3.3) summarises the roster: the lowercase hex
SHA-256 of the JCS list ``[[peer_id, tier], …]`` sorted by ``peer_id``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256_hex
from lnhive.core.store import Store
from lnhive.fleet.envelope import Envelope, MalformedEnvelope, parse_envelope

MEMBER, NEOPHYTE = "member", "neophyte"
TIERS: tuple[str, ...] = (MEMBER, NEOPHYTE)

APPLIED, PENDING, REJECTED = "applied", "pending", "rejected"

HIVE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE hive_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE hive_members (
        peer_id     TEXT PRIMARY KEY,
        tier        TEXT NOT NULL CHECK (tier IN ('member', 'neophyte')),
        joined_at   INTEGER NOT NULL,
        admitted_by TEXT NOT NULL,
        evidence    TEXT NOT NULL,
        last_seen   REAL
    ) WITHOUT ROWID;
    CREATE TABLE hive_evidence (
        msg_id      TEXT PRIMARY KEY,
        type        TEXT NOT NULL,
        sender      TEXT NOT NULL,
        subject     TEXT NOT NULL,
        ts          INTEGER NOT NULL,
        envelope    TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('applied', 'pending', 'rejected')),
        reason      TEXT,
        received_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX hive_evidence_status ON hive_evidence (status, ts);
    """,
)


def migrations() -> list[str]:
    """The roster's numbered migrations, appended after the wire layer's."""
    return list(_MIGRATIONS)


def check_hive_id(value: object) -> str:
    """``value`` if it is a valid hive id (1-64 of ``A-Z a-z 0-9 _ -``)."""
    if not isinstance(value, str) or HIVE_ID_RE.fullmatch(value) is None:
        raise InvalidInput("hive_id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    return value


def body_hive_id(body: Mapping[str, Any], what: str) -> str:
    """The ``hive_id`` of a message body, or :class:`MalformedEnvelope` naming ``what``."""
    try:
        return check_hive_id(body.get("hive_id"))
    except InvalidInput as exc:
        raise MalformedEnvelope(f"{what}: {exc.message}") from None


@dataclass(frozen=True)
class Member:
    peer_id: str
    tier: str
    joined_at: int
    admitted_by: str
    evidence: str
    last_seen: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "peer_id": self.peer_id,
            "tier": self.tier,
            "joined_at": self.joined_at,
            "admitted_by": self.admitted_by,
            "evidence": self.evidence,
            "last_seen": None if self.last_seen is None else int(self.last_seen),
        }


@dataclass(frozen=True)
class EvidenceRow:
    msg_id: str
    type: str
    sender: str
    subject: str
    ts: int
    envelope: Envelope
    status: str
    reason: str | None


def _member(row: sqlite3.Row) -> Member:
    return Member(
        peer_id=str(row["peer_id"]),
        tier=str(row["tier"]),
        joined_at=int(row["joined_at"]),
        admitted_by=str(row["admitted_by"]),
        evidence=str(row["evidence"]),
        last_seen=None if row["last_seen"] is None else float(row["last_seen"]),
    )


def _evidence(row: sqlite3.Row) -> EvidenceRow:
    return EvidenceRow(
        msg_id=str(row["msg_id"]),
        type=str(row["type"]),
        sender=str(row["sender"]),
        subject=str(row["subject"]),
        ts=int(row["ts"]),
        envelope=parse_envelope(json.loads(row["envelope"])),
        status=str(row["status"]),
        reason=None if row["reason"] is None else str(row["reason"]),
    )


def membership_hash(pairs: Iterator[tuple[str, str]] | list[tuple[str, str]]) -> str:
    """Hex SHA-256 of the JCS list ``[[peer_id, tier], …]`` sorted by ``peer_id``."""
    ordered = sorted([list(p) for p in pairs])
    return sha256_hex(canonical_json(ordered))


class Roster:
    """The ``hive_meta``, ``hive_members`` and ``hive_evidence`` tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- meta -------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.store.query_one("SELECT value FROM hive_meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO hive_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def hive_id(self) -> str | None:
        """The hive we belong to (set by genesis or by the welcome that admitted us)."""
        return self.meta("hive_id")

    @property
    def genesis_msg_id(self) -> str | None:
        return self.meta("genesis")

    # -- members ----------------------------------------------------------------

    def get(self, peer_id: str) -> Member | None:
        row = self.store.query_one("SELECT * FROM hive_members WHERE peer_id = ?", (peer_id,))
        return None if row is None else _member(row)

    def tier(self, peer_id: str) -> str | None:
        m = self.get(peer_id)
        return None if m is None else m.tier

    def is_member(self, peer_id: str) -> bool:
        """Whether ``peer_id`` is in the roster at any tier."""
        return self.get(peer_id) is not None

    def members(self) -> list[Member]:
        rows = self.store.query("SELECT * FROM hive_members ORDER BY joined_at, peer_id")
        return [_member(r) for r in rows]

    def count(self) -> dict[str, int]:
        out = {"total": 0, MEMBER: 0, NEOPHYTE: 0}
        for row in self.store.query("SELECT tier, COUNT(*) FROM hive_members GROUP BY tier"):
            out[str(row[0])] = int(row[1])
            out["total"] += int(row[1])
        return out

    def membership_hash(self) -> str:
        rows = self.store.query("SELECT peer_id, tier FROM hive_members")
        return membership_hash([(str(r[0]), str(r[1])) for r in rows])

    def add(
        self,
        conn: sqlite3.Connection,
        peer_id: str,
        tier: str,
        joined_at: int,
        admitted_by: str,
        evidence: str,
    ) -> bool:
        """Insert a member; ``False`` if it was already there (nothing changes)."""
        if tier not in TIERS:
            raise InvalidInput(f"tier must be one of {', '.join(TIERS)}")
        cur = conn.execute(
            "INSERT OR IGNORE INTO hive_members (peer_id, tier, joined_at, admitted_by, "
            "evidence) VALUES (?, ?, ?, ?, ?)",
            (peer_id, tier, int(joined_at), admitted_by, evidence),
        )
        return cur.rowcount == 1

    def set_tier(self, conn: sqlite3.Connection, peer_id: str, tier: str) -> bool:
        if tier not in TIERS:
            raise InvalidInput(f"tier must be one of {', '.join(TIERS)}")
        cur = conn.execute("UPDATE hive_members SET tier = ? WHERE peer_id = ?", (tier, peer_id))
        return cur.rowcount == 1

    def remove(self, conn: sqlite3.Connection, peer_id: str) -> bool:
        cur = conn.execute("DELETE FROM hive_members WHERE peer_id = ?", (peer_id,))
        return cur.rowcount == 1

    def forget_hive(self, conn: sqlite3.Connection) -> None:
        """Drop everything about the hive (this node left it); dedupe and outbox stay."""
        for table in ("hive_meta", "hive_members", "hive_evidence"):
            conn.execute(f"DELETE FROM {table}")

    def touch(self, peer_id: str, now: float) -> None:
        """Record that ``peer_id`` was heard from (only for roster members)."""
        self.store.execute(
            "UPDATE hive_members SET last_seen = ? WHERE peer_id = ?", (float(now), peer_id)
        )

    # -- evidence ---------------------------------------------------------------

    def evidence(self, msg_id: str) -> EvidenceRow | None:
        row = self.store.query_one("SELECT * FROM hive_evidence WHERE msg_id = ?", (msg_id,))
        return None if row is None else _evidence(row)

    def evidence_list(self, status: str | None = None) -> list[EvidenceRow]:
        """Evidence rows in the order they must be applied (by ``ts``, then ``msg_id``)."""
        if status is None:
            rows = self.store.query("SELECT * FROM hive_evidence ORDER BY ts, msg_id")
        else:
            rows = self.store.query(
                "SELECT * FROM hive_evidence WHERE status = ? ORDER BY ts, msg_id", (status,)
            )
        return [_evidence(r) for r in rows]

    def is_banned(self, peer_id: str) -> bool:
        row = self.store.query_one("SELECT 1 FROM hive_bans WHERE peer_id = ?", (peer_id,))
        return row is not None

    def banned(self) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT peer_id, banned_at, evidence, reason FROM hive_bans ORDER BY banned_at"
        )
        return [
            {"peer_id": r[0], "banned_at": int(r[1]), "evidence": r[2], "reason": r[3]}
            for r in rows
        ]

    def last_left(self, peer_id: str) -> int | None:
        """``ts`` of the latest applied ``fleet.member_left`` by ``peer_id``, if any."""
        row = self.store.query_one(
            "SELECT MAX(ts) FROM hive_evidence WHERE type = 'fleet.member_left' "
            "AND status = 'applied' AND subject = ?",
            (peer_id,),
        )
        return None if row is None or row[0] is None else int(row[0])

    def record_evidence(
        self,
        conn: sqlite3.Connection,
        env: Envelope,
        subject: str,
        status: str,
        reason: str | None,
        now: float,
    ) -> None:
        """Insert the envelope, or update the status of a pending one (terminal rows stay)."""
        conn.execute(
            "INSERT INTO hive_evidence (msg_id, type, sender, subject, ts, envelope, status, "
            "reason, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (msg_id) DO UPDATE SET status = excluded.status, "
            "reason = excluded.reason WHERE hive_evidence.status = 'pending'",
            (
                env.msg_id,
                env.type,
                env.sender,
                subject,
                env.ts,
                env.canonical().decode(),
                status,
                reason,
                float(now),
            ),
        )
