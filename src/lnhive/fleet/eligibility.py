"""Promotion eligibility (spec §1.5): presence, contribution, and the checks.

A member vouches automatically (``hive-auto-vouch``) for a neophyte that asked
(``hive-request-promotion``) only when, by this member's own observations, all hold:

- probation: at least ``hive-probation-days`` since the neophyte joined;
- uptime: connected to us at least ``hive-min-uptime-pct`` of the time over the last
  30 days (or since it joined, if later), from connect/disconnect events;
- contribution: sats it sent through us toward others ÷ sats we sent on to it, over
  our forwards (``forward_event``), at least ``hive-min-contribution-ratio``; with no
  forwards either way there is no evidence, and the check fails (fail closed: a member
  can still vouch by hand);
- unique peers: at least ``hive-min-unique-peers`` external peers in its record that
  no other member has.

Each check is reported with its value, so an operator sees why a vouch did or did not
happen (``hive-contribution``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.store import Store

WINDOW_S = 30 * 86_400.0

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE peer_presence (
        peer_id     TEXT PRIMARY KEY,
        online      INTEGER NOT NULL,
        changed_at  REAL NOT NULL,
        online_s    REAL NOT NULL,
        first_seen  REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE contribution_ledger (
        peer_id  TEXT PRIMARY KEY,
        in_msat  INTEGER NOT NULL,
        out_msat INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
)


def migrations() -> list[str]:
    return list(_MIGRATIONS)


class Presence:
    """Online time per peer, from connect and disconnect events (persisted)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def mark(self, peer: str, online: bool, now: float) -> None:
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT online, changed_at, online_s FROM peer_presence WHERE peer_id = ?",
                (peer,),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO peer_presence (peer_id, online, changed_at, online_s, "
                    "first_seen) VALUES (?, ?, ?, 0, ?)",
                    (peer, int(online), now, now),
                )
                return
            total = float(row[2]) + (max(0.0, now - float(row[1])) if row[0] else 0.0)
            conn.execute(
                "UPDATE peer_presence SET online = ?, changed_at = ?, online_s = ? "
                "WHERE peer_id = ?",
                (int(online), now, total, peer),
            )

    def sync(self, members: set[str], connected: set[str], now: float) -> None:
        """Catch up with reality: a member whose recorded state differs from whether it is
        connected now (a missed event, a member admitted while connected) is corrected."""
        rows = self.store.query("SELECT peer_id, online FROM peer_presence")
        known = {str(r[0]): bool(r[1]) for r in rows}
        for peer in members:
            online = peer in connected
            if known.get(peer) != online:
                self.mark(peer, online, now)

    def uptime(self, peer: str, since: float, now: float) -> float | None:
        """Share of the time from ``since`` (bounded to 30 days) the peer was online."""
        row = self.store.query_one(
            "SELECT online, changed_at, online_s, first_seen FROM peer_presence WHERE peer_id = ?",
            (peer,),
        )
        if row is None:
            return None
        start = max(since, float(row[3]), now - WINDOW_S)
        span = now - start
        if span <= 0:
            return None
        online = float(row[2]) + (max(0.0, now - float(row[1])) if row[0] else 0.0)
        return min(1.0, online / span)


class Contribution:
    """Forwarded msat per peer: in (the peer sent it through us) and out (we sent to it)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, in_peer: str | None, out_peer: str | None, msat: int) -> None:
        for peer, col in ((in_peer, "in_msat"), (out_peer, "out_msat")):
            if peer is None:
                continue
            self.store.execute(
                "INSERT INTO contribution_ledger (peer_id, in_msat, out_msat) VALUES (?, 0, 0) "
                "ON CONFLICT (peer_id) DO NOTHING",
                (peer,),
            )
            self.store.execute(
                f"UPDATE contribution_ledger SET {col} = {col} + ? WHERE peer_id = ?",
                (int(msat), peer),
            )

    def totals(self, peer: str) -> tuple[int, int]:
        row = self.store.query_one(
            "SELECT in_msat, out_msat FROM contribution_ledger WHERE peer_id = ?", (peer,)
        )
        return (0, 0) if row is None else (int(row[0]), int(row[1]))


@dataclass(frozen=True)
class Criteria:
    probation_days: float = 90.0
    min_uptime_pct: float = 95.0
    min_contribution_ratio: float = 1.0
    min_unique_peers: int = 1


def evaluate(
    *,
    joined_at: float,
    now: float,
    uptime: float | None,
    contribution: tuple[int, int],
    own_peers: set[str],
    others_peers: set[str],
    criteria: Criteria,
) -> dict[str, Any]:
    """Every check with its value; ``eligible`` when all pass."""
    days = (now - joined_at) / 86_400.0
    sent_in, sent_out = contribution
    ratio: float | None
    if sent_out > 0:
        ratio = sent_in / sent_out
    elif sent_in > 0:
        ratio = float("inf")
    else:
        ratio = None
    unique = len(own_peers - others_peers)
    checks: Mapping[str, dict[str, Any]] = {
        "probation": {
            "value_days": round(days, 2),
            "required_days": criteria.probation_days,
            "ok": days >= criteria.probation_days,
        },
        "uptime": {
            "value_pct": None if uptime is None else round(100 * uptime, 2),
            "required_pct": criteria.min_uptime_pct,
            "ok": uptime is not None and 100 * uptime >= criteria.min_uptime_pct,
        },
        "contribution": {
            "in_msat": sent_in,
            "out_msat": sent_out,
            "ratio": None if ratio is None or ratio == float("inf") else round(ratio, 4),
            "required_ratio": criteria.min_contribution_ratio,
            "ok": ratio is not None and ratio >= criteria.min_contribution_ratio,
        },
        "unique_peers": {
            "value": unique,
            "required": criteria.min_unique_peers,
            "ok": unique >= criteria.min_unique_peers,
        },
    }
    return {"eligible": all(c["ok"] for c in checks.values()), "checks": dict(checks)}
