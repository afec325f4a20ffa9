"""The rebalancing budget: a reservation ledger in SQLite (spec revenue-ops §3.4).

Money is whole sat. Before a rebalance may spend, it *reserves* its fee ceiling; a
reservation is ``active`` until it is ``spent`` (settled with the actual fee, which is
also written as a spend event) or ``released`` (nothing spent). Terminal reservations are
never reactivated: every transition is ``UPDATE ... WHERE state = 'active'``.

Committed spend, against each cap:

- daily: every active reservation (whatever its age) + spend events of the last 24 h;
- weekly: every active reservation + spend events of the last 7 days.

A reservation is granted only if both stay within their caps, checked and written in one
``BEGIN IMMEDIATE`` transaction (so two workers cannot both take the last sats). Active
reservations older than ``reservation-timeout-hours`` (4) are released by
:meth:`Budget.release_stale`, except those marked *pending* (a payment whose outcome is
not known yet keeps its reservation until a reconcile settles or releases it).

The daily cap is ``daily-budget-sats`` (5000), plus, with ``growth-budget-enabled``, a
growth credit of ``growth-budget-earned-fraction`` (0.25) x the trailing 24 h net profit
(routing fees earned minus rebalance spend), the whole at most
``growth-budget-hard-ceiling-sats`` (10 000) **[ours: 24 h window]**. Everything is
stored, so reservations survive a restart.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from lnhive.revenue.store import RevenueStore

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S
ACTIVE, SPENT, RELEASED = "active", "spent", "released"


@dataclass(frozen=True)
class BudgetConfig:
    daily_budget_sats: int = 5000
    weekly_budget_sats: int = 35_000
    growth_budget_enabled: bool = False
    growth_budget_earned_fraction: float = 0.25
    growth_budget_hard_ceiling_sats: int = 10_000
    reservation_timeout_hours: float = 4.0


@dataclass(frozen=True)
class Reservation:
    id: int
    purpose: str
    amount_sat: int
    state: str
    pending: bool
    spent_sat: int | None
    ref: str | None
    reason: str | None
    created_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "purpose": self.purpose,
            "amount_sat": self.amount_sat,
            "state": self.state,
            "pending": self.pending,
            "spent_sat": self.spent_sat,
            "ref": self.ref,
            "reason": self.reason,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Grant:
    """The answer to a reservation request: ``reservation`` is None when refused."""

    reservation: Reservation | None
    reason: str | None
    daily_limit_sat: int
    daily_committed_sat: int
    weekly_limit_sat: int
    weekly_committed_sat: int

    @property
    def granted(self) -> bool:
        return self.reservation is not None


def _row(r: sqlite3.Row) -> Reservation:
    return Reservation(
        id=int(r["id"]),
        purpose=str(r["purpose"]),
        amount_sat=int(r["amount_sat"]),
        state=str(r["state"]),
        pending=bool(r["pending"]),
        spent_sat=None if r["spent_sat"] is None else int(r["spent_sat"]),
        ref=r["ref"],
        reason=r["reason"],
        created_at=float(r["created_at"]),
        updated_at=float(r["updated_at"]),
    )


def _scalar(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> int:
    return int(conn.execute(sql, params).fetchone()[0])


class Budget:
    """The ledger over the store's ``budget_reservations`` and ``spend_events``."""

    def __init__(self, store: RevenueStore, config: BudgetConfig) -> None:
        self.store = store
        self.config = config

    # -- limits ----------------------------------------------------------------------
    def _earned_sat(self, conn: sqlite3.Connection, now: float) -> int:
        sql = "SELECT COALESCE(SUM(fee_msat), 0) FROM forwards WHERE timestamp >= ?"
        return _scalar(conn, sql, (now - DAY_S,)) // 1000

    def daily_limit(self, now: float, conn: sqlite3.Connection | None = None) -> int:
        """``daily-budget-sats`` plus the growth credit when enabled (see the module doc)."""
        base = self.config.daily_budget_sats
        if not self.config.growth_budget_enabled or base <= 0:
            return base
        c = conn or self.store.db.connection()
        spent = self._spent_since(c, now - DAY_S)
        net = self._earned_sat(c, now) - spent
        credit = int(max(0, net) * self.config.growth_budget_earned_fraction)
        return max(base, min(self.config.growth_budget_hard_ceiling_sats, base + credit))

    @staticmethod
    def _spent_since(conn: sqlite3.Connection, since: float) -> int:
        sql = "SELECT COALESCE(SUM(amount_sat), 0) FROM spend_events WHERE timestamp >= ?"
        return _scalar(conn, sql, (since,))

    @staticmethod
    def _active_sat(conn: sqlite3.Connection) -> int:
        sql = "SELECT COALESCE(SUM(amount_sat), 0) FROM budget_reservations WHERE state = ?"
        return _scalar(conn, sql, (ACTIVE,))

    def committed(self, now: float, conn: sqlite3.Connection | None = None) -> tuple[int, int]:
        """``(daily, weekly)`` committed sat: active reservations + windowed spend."""
        c = conn or self.store.db.connection()
        active = self._active_sat(c)
        return (
            active + self._spent_since(c, now - DAY_S),
            active + self._spent_since(c, now - WEEK_S),
        )

    # -- transitions -------------------------------------------------------------------
    def reserve(self, amount_sat: int, now: float, *, purpose: str, ref: str | None) -> Grant:
        """Reserve ``amount_sat`` atomically, or refuse (``budget_exhausted``/``budget_zero``)."""
        if amount_sat < 0:
            raise ValueError("a reservation cannot be negative")
        with self.store.transaction() as conn:
            daily_limit = self.daily_limit(now, conn)
            weekly_limit = self.config.weekly_budget_sats
            daily, weekly = self.committed(now, conn)
            reason = None
            if daily_limit <= 0 or weekly_limit <= 0:
                reason = "budget_zero"
            elif daily + amount_sat > daily_limit or weekly + amount_sat > weekly_limit:
                reason = "budget_exhausted"
            reservation = None
            if reason is None:
                cur = conn.execute(
                    "INSERT INTO budget_reservations (purpose, amount_sat, state, ref, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (purpose, amount_sat, ACTIVE, ref, now, now),
                )
                reservation = self._get(conn, int(cur.lastrowid or 0))
                daily, weekly = daily + amount_sat, weekly + amount_sat
        return Grant(reservation, reason, daily_limit, daily, weekly_limit, weekly)

    @staticmethod
    def _get(conn: sqlite3.Connection, rid: int) -> Reservation | None:
        row = conn.execute("SELECT * FROM budget_reservations WHERE id = ?", (rid,)).fetchone()
        return None if row is None else _row(row)

    def get(self, rid: int) -> Reservation | None:
        return self._get(self.store.db.connection(), rid)

    def mark_pending(self, rid: int, now: float, pending: bool = True) -> bool:
        """Keep (or stop keeping) an active reservation past the stale timeout."""
        cur = self.store.db.execute(
            "UPDATE budget_reservations SET pending = ?, updated_at = ? WHERE id = ? AND state = ?",
            (int(pending), now, rid, ACTIVE),
        )
        return cur.rowcount == 1

    def settle(self, rid: int, spent_sat: int, now: float, *, kind: str = "rebalance") -> bool:
        """Active → spent with the actual amount, written as a spend event; False if the
        reservation was not active (terminal ones never change)."""
        if spent_sat < 0:
            raise ValueError("spent amount cannot be negative")
        with self.store.transaction() as conn:
            cur = conn.execute(
                "UPDATE budget_reservations SET state = ?, spent_sat = ?, pending = 0, "
                "updated_at = ? WHERE id = ? AND state = ?",
                (SPENT, spent_sat, now, rid, ACTIVE),
            )
            if cur.rowcount != 1:
                return False
            ref = conn.execute("SELECT ref FROM budget_reservations WHERE id = ?", (rid,))
            conn.execute(
                "INSERT INTO spend_events (reservation_id, kind, amount_sat, ref, timestamp) "
                "VALUES (?, ?, ?, ?, ?)",
                (rid, kind, spent_sat, ref.fetchone()[0], now),
            )
        return True

    def release(self, rid: int, now: float, reason: str) -> bool:
        """Active → released (nothing spent); False if it was not active."""
        cur = self.store.db.execute(
            "UPDATE budget_reservations SET state = ?, pending = 0, reason = ?, updated_at = ? "
            "WHERE id = ? AND state = ?",
            (RELEASED, reason, now, rid, ACTIVE),
        )
        return cur.rowcount == 1

    def release_stale(self, now: float, max_age_s: float | None = None) -> list[int]:
        """Release active, non-pending reservations older than ``max_age_s`` (default the
        configured timeout); returns their ids."""
        age = self.config.reservation_timeout_hours * 3600 if max_age_s is None else max_age_s
        with self.store.transaction() as conn:
            rows = conn.execute(
                "SELECT id FROM budget_reservations WHERE state = ? AND pending = 0 "
                "AND created_at <= ? ORDER BY id",
                (ACTIVE, now - age),
            ).fetchall()
            ids = [int(r[0]) for r in rows]
            conn.executemany(
                "UPDATE budget_reservations SET state = ?, reason = 'stale', updated_at = ? "
                "WHERE id = ? AND state = ?",
                [(RELEASED, now, rid, ACTIVE) for rid in ids],
            )
        return ids

    def release_all(self, now: float, *, include_pending: bool = False) -> list[int]:
        """Release every active reservation (``revenue-clear-reservations``); pending ones
        only when asked."""
        extra = "" if include_pending else " AND pending = 0"
        with self.store.transaction() as conn:
            rows = conn.execute(
                f"SELECT id FROM budget_reservations WHERE state = ?{extra} ORDER BY id", (ACTIVE,)
            ).fetchall()
            ids = [int(r[0]) for r in rows]
            conn.executemany(
                "UPDATE budget_reservations SET state = ?, reason = 'cleared', updated_at = ? "
                "WHERE id = ? AND state = ?",
                [(RELEASED, now, rid, ACTIVE) for rid in ids],
            )
        return ids

    def active(self) -> list[Reservation]:
        rows = self.store.db.query(
            "SELECT * FROM budget_reservations WHERE state = ? ORDER BY id", (ACTIVE,)
        )
        return [_row(r) for r in rows]

    def spend_events(self, since: float) -> list[dict[str, Any]]:
        rows = self.store.db.query(
            "SELECT * FROM spend_events WHERE timestamp >= ? ORDER BY timestamp, id", (since,)
        )
        return [dict(r) for r in rows]

    def summary(self, now: float) -> dict[str, Any]:
        """What ``revenue-budget`` shows."""
        conn = self.store.db.connection()
        daily, weekly = self.committed(now, conn)
        daily_limit = self.daily_limit(now, conn)
        weekly_limit = self.config.weekly_budget_sats
        active = self.active()
        return {
            "daily_limit_sat": daily_limit,
            "daily_committed_sat": daily,
            "daily_remaining_sat": max(0, min(daily_limit - daily, weekly_limit - weekly)),
            "weekly_limit_sat": weekly_limit,
            "weekly_committed_sat": weekly,
            "weekly_remaining_sat": max(0, weekly_limit - weekly),
            "spent_24h_sat": self._spent_since(conn, now - DAY_S),
            "spent_7d_sat": self._spent_since(conn, now - WEEK_S),
            "active_reservations": [r.to_json() for r in active],
            "active_reserved_sat": sum(r.amount_sat for r in active),
            "growth_budget_enabled": self.config.growth_budget_enabled,
        }
