"""The rebalancer's journal: ``rebalance_history``, ``rebalance_costs`` and
``rebalance_failures`` (spec revenue-ops §6.3), typed access over the revenue store.

``rebalance_failures`` holds what the reference split into ``channel_failures`` and
``pair_rebalance_failures``: one row per failed attempt with the pair and the destination
peer, so pair and destination backoff (:mod:`.backoff`) read the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lnhive.revenue.backoff import Failure
from lnhive.revenue.store import RevenueStore

STATUSES = ("pending", "pending_settlement", "success", "failed", "skipped")


@dataclass(frozen=True)
class LastSuccess:
    timestamp: float
    amount_sat: int
    dest_ratio_after: float | None


class RebalanceLog:
    def __init__(self, store: RevenueStore) -> None:
        self.store = store

    # -- history -------------------------------------------------------------------------
    def start(
        self,
        *,
        from_channel: str,
        to_channel: str,
        dest_peer: str | None,
        amount_sat: int,
        max_fee_msat: int,
        status: str,
        now: float,
        manual: bool,
        reason_code: str | None = None,
        expected_profit_sat: float | None = None,
        error: str | None = None,
    ) -> int:
        cur = self.store.db.execute(
            "INSERT INTO rebalance_history (from_channel, to_channel, dest_peer, amount_sat, "
            "max_fee_msat, expected_profit_sat, status, error, reason_code, manual, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                from_channel,
                to_channel,
                dest_peer,
                amount_sat,
                max_fee_msat,
                expected_profit_sat,
                status,
                error,
                reason_code,
                int(manual),
                now,
                now,
            ),
        )
        return int(cur.lastrowid or 0)

    def update(self, rid: int, now: float, **values: Any) -> None:
        allowed = {
            "status",
            "error",
            "reason_code",
            "payment_hash",
            "label",
            "actual_fee_msat",
            "actual_profit_sat",
            "reservation_id",
            "sent_amount_sat",
            "max_fee_msat",
        }
        bad = set(values) - allowed
        if bad:
            raise ValueError(f"not a history column: {sorted(bad)}")
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"bad status {values['status']!r}")
        cols = ", ".join(f"{k} = ?" for k in values)
        self.store.db.execute(
            f"UPDATE rebalance_history SET {cols}, updated_at = ? WHERE id = ?",
            (*values.values(), now, rid),
        )

    def get(self, rid: int) -> dict[str, Any] | None:
        row = self.store.db.query_one("SELECT * FROM rebalance_history WHERE id = ?", (rid,))
        return None if row is None else dict(row)

    def history(self, *, since: float | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, params = ("WHERE created_at >= ?", (since,)) if since is not None else ("", ())
        rows = self.store.db.query(
            f"SELECT * FROM rebalance_history {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [dict(r) for r in rows]

    def pending(self) -> list[dict[str, Any]]:
        rows = self.store.db.query(
            "SELECT * FROM rebalance_history WHERE status = 'pending_settlement' ORDER BY id"
        )
        return [dict(r) for r in rows]

    def in_flight_channels(self) -> set[str]:
        return {str(r["to_channel"]) for r in self.pending()}

    def pair_stats(self, src: str, dst: str) -> tuple[int, int]:
        """(attempts, successes) of the pair that reached the network (not skipped)."""
        row = self.store.db.query_one(
            "SELECT COUNT(*), COALESCE(SUM(status = 'success'), 0) FROM rebalance_history "
            "WHERE from_channel = ? AND to_channel = ? AND status IN ('success', 'failed')",
            (src, dst),
        )
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    # -- costs ---------------------------------------------------------------------------
    def record_cost(
        self,
        *,
        rebalance_id: int,
        from_channel: str,
        to_channel: str,
        dest_peer: str | None,
        amount_sat: int,
        fee_msat: int,
        dest_ratio_after: float | None,
        now: float,
    ) -> None:
        self.store.db.execute(
            "INSERT INTO rebalance_costs (rebalance_id, from_channel, to_channel, dest_peer, "
            "amount_sat, fee_msat, dest_ratio_after, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rebalance_id,
                from_channel,
                to_channel,
                dest_peer,
                amount_sat,
                fee_msat,
                dest_ratio_after,
                now,
            ),
        )

    def last_success(self, to_channel: str) -> LastSuccess | None:
        row = self.store.db.query_one(
            "SELECT timestamp, amount_sat, dest_ratio_after FROM rebalance_costs "
            "WHERE to_channel = ? ORDER BY timestamp DESC, id DESC LIMIT 1",
            (to_channel,),
        )
        if row is None:
            return None
        return LastSuccess(float(row[0]), int(row[1]), row[2])

    def last_pair_success(self, src: str, dst: str) -> float | None:
        row = self.store.db.query_one(
            "SELECT MAX(timestamp) FROM rebalance_costs WHERE from_channel = ? AND to_channel = ?",
            (src, dst),
        )
        return None if row is None or row[0] is None else float(row[0])

    def costs(self, *, since: float) -> list[dict[str, Any]]:
        rows = self.store.db.query(
            "SELECT * FROM rebalance_costs WHERE timestamp >= ? ORDER BY timestamp, id", (since,)
        )
        return [dict(r) for r in rows]

    # -- failures ------------------------------------------------------------------------
    def record_failure(
        self, from_channel: str, to_channel: str, dest_peer: str | None, kind: str, now: float
    ) -> None:
        self.store.db.execute(
            "INSERT INTO rebalance_failures (from_channel, to_channel, dest_peer, kind, "
            "timestamp) VALUES (?, ?, ?, ?, ?)",
            (from_channel, to_channel, dest_peer, kind, now),
        )

    def pair_failures(self, src: str, dst: str, since: float) -> list[Failure]:
        rows = self.store.db.query(
            "SELECT kind, timestamp FROM rebalance_failures WHERE from_channel = ? "
            "AND to_channel = ? AND timestamp >= ? ORDER BY timestamp",
            (src, dst, since),
        )
        return [Failure(str(r[0]), float(r[1])) for r in rows]

    def peer_failures(self, peer_id: str, since: float) -> list[Failure]:
        rows = self.store.db.query(
            "SELECT kind, timestamp FROM rebalance_failures WHERE dest_peer = ? "
            "AND timestamp >= ? ORDER BY timestamp",
            (peer_id, since),
        )
        return [Failure(str(r[0]), float(r[1])) for r in rows]
