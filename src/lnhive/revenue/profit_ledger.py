"""Profitability's tables over the revenue store (spec revenue-ops §4, §6.3): recorded open,
closure and splice costs, diagnostic attempts, per-channel snapshots, and the aggregates
the evaluation reads (one grouped query each, for every channel at once).

Amounts in the aggregates are msat. Rebalance fees are charged to the *destination*
channel (the one refilled); forward fees to the exit channel (``earned``) and, for
valuation, to the entry channel (``sourced``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from lnhive.revenue.store import RevenueStore


@dataclass(frozen=True)
class OpenCost:
    channel_id: str
    peer_id: str
    open_cost_sat: int
    source: str
    updated_at: float


@dataclass(frozen=True)
class Snapshot:
    channel_id: str
    peer_id: str
    classification: str
    bleeder: str
    roi: float
    marginal_roi: float
    net_msat: int
    data: dict[str, Any]
    updated_at: float


@dataclass
class ChannelTotals:
    """Forward and rebalance aggregates of one channel (msat, counts, times)."""

    earned_msat: int = 0
    sourced_msat: int = 0
    earned_30d_msat: int = 0
    sourced_30d_msat: int = 0
    earned_7d_msat: int = 0
    sourced_7d_msat: int = 0
    exits_30d: int = 0
    entries_30d: int = 0
    volume_30d_msat: int = 0
    last_forward_ts: float | None = None
    rebalance_msat: int = 0
    rebalance_30d_msat: int = 0
    rebalance_7d_msat: int = 0
    rebalance_attempts_30d: int = 0
    rebalance_successes_30d: int = 0
    diagnostics: int = 0
    diagnostics_14d: int = 0
    last_diagnostic_success: float | None = None
    closure_cost_sat: int = 0
    splice_cost_sat: int = 0


DAY_S = 86_400.0

_FORWARD_SIDE_SQL = """
SELECT {col} AS ch, COALESCE(SUM(fee_msat), 0),
       COALESCE(SUM(CASE WHEN timestamp >= :d30 THEN fee_msat ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN timestamp >= :d7 THEN fee_msat ELSE 0 END), 0),
       COALESCE(SUM(timestamp >= :d30), 0),
       COALESCE(SUM(CASE WHEN timestamp >= :d30 THEN {amount} ELSE 0 END), 0),
       MAX(timestamp)
FROM forwards WHERE timestamp <= :now GROUP BY {col}
"""
_REBALANCE_SQL = """
SELECT to_channel, COALESCE(SUM(fee_msat), 0),
       COALESCE(SUM(CASE WHEN timestamp >= :d30 THEN fee_msat ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN timestamp >= :d7 THEN fee_msat ELSE 0 END), 0)
FROM rebalance_costs WHERE timestamp <= :now GROUP BY to_channel
"""
_ATTEMPTS_SQL = """
SELECT to_channel, COUNT(*), COALESCE(SUM(status = 'success'), 0) FROM rebalance_history
WHERE status IN ('success', 'failed') AND created_at >= :d30 AND created_at <= :now
GROUP BY to_channel
"""
_DIAGNOSTICS_SQL = """
SELECT channel_id, COUNT(*), COALESCE(SUM(timestamp >= :d14), 0),
       MAX(CASE WHEN success THEN timestamp END)
FROM diagnostic_attempts WHERE timestamp <= :now GROUP BY channel_id
"""


class ProfitLedger:
    def __init__(self, store: RevenueStore) -> None:
        self.store = store

    # -- recorded costs ---------------------------------------------------------------------
    def set_open_cost(
        self, channel_id: str, peer_id: str, cost_sat: int, source: str, now: float
    ) -> None:
        if cost_sat < 0:
            raise ValueError("open cost must be >= 0")
        self.store.db.execute(
            "INSERT OR REPLACE INTO channel_costs (channel_id, peer_id, open_cost_sat, source, "
            "updated_at) VALUES (?, ?, ?, ?, ?)",
            (channel_id, peer_id, cost_sat, source, now),
        )

    def open_costs(self) -> dict[str, OpenCost]:
        rows = self.store.db.query("SELECT * FROM channel_costs")
        return {
            r["channel_id"]: OpenCost(
                r["channel_id"], r["peer_id"], r["open_cost_sat"], r["source"], r["updated_at"]
            )
            for r in rows
        }

    def set_closure_cost(
        self, channel_id: str, peer_id: str | None, cost_sat: int, now: float
    ) -> None:
        self.store.db.execute(
            "INSERT OR REPLACE INTO channel_closure_costs (channel_id, peer_id, closure_cost_sat, "
            "timestamp) VALUES (?, ?, ?, ?)",
            (channel_id, peer_id, cost_sat, now),
        )

    def record_splice(
        self, channel_id: str, cost_sat: int, now: float, amount_sat: int | None = None
    ) -> None:
        self.store.db.execute(
            "INSERT INTO splice_events (channel_id, amount_sat, cost_sat, timestamp) "
            "VALUES (?, ?, ?, ?)",
            (channel_id, amount_sat, cost_sat, now),
        )

    def record_diagnostic(self, channel_id: str, success: bool, now: float) -> None:
        """One defibrillator (§3.6) attempt on ``channel_id``: it feeds the zombie rule."""
        self.store.db.execute(
            "INSERT INTO diagnostic_attempts (channel_id, success, timestamp) VALUES (?, ?, ?)",
            (channel_id, int(success), now),
        )

    # -- snapshots ---------------------------------------------------------------------------
    def put_snapshots(self, snaps: list[Snapshot]) -> None:
        with self.store.transaction() as conn:
            for s in snaps:
                conn.execute(
                    "INSERT OR REPLACE INTO channel_profitability (channel_id, peer_id, "
                    "classification, bleeder, roi, marginal_roi, net_msat, snapshot_json, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        s.channel_id,
                        s.peer_id,
                        s.classification,
                        s.bleeder,
                        s.roi,
                        s.marginal_roi,
                        s.net_msat,
                        json.dumps(s.data, sort_keys=True),
                        s.updated_at,
                    ),
                )

    def snapshots(self) -> dict[str, Snapshot]:
        rows = self.store.db.query("SELECT * FROM channel_profitability ORDER BY channel_id")
        return {
            r["channel_id"]: Snapshot(
                r["channel_id"],
                r["peer_id"],
                r["classification"],
                r["bleeder"],
                float(r["roi"]),
                float(r["marginal_roi"]),
                int(r["net_msat"]),
                json.loads(r["snapshot_json"]),
                float(r["updated_at"]),
            )
            for r in rows
        }

    # -- aggregates --------------------------------------------------------------------------
    def totals(self, now: float) -> dict[str, ChannelTotals]:
        """Every channel's :class:`ChannelTotals` as of ``now`` (channels with no rows are
        absent: read them as zeros)."""
        out: dict[str, ChannelTotals] = defaultdict(ChannelTotals)
        conn = self.store.db.connection()
        args = {"now": now, "d30": now - 30 * DAY_S, "d7": now - 7 * DAY_S, "d14": now - 14 * DAY_S}
        exit_sql = _FORWARD_SIDE_SQL.format(col="out_channel", amount="out_msat")
        for ch, fees, f30, f7, n30, vol, last in conn.execute(exit_sql, args):
            t = out[ch]
            t.earned_msat, t.earned_30d_msat, t.earned_7d_msat = int(fees), int(f30), int(f7)
            t.exits_30d, t.volume_30d_msat = int(n30), t.volume_30d_msat + int(vol)
            t.last_forward_ts = _later(t.last_forward_ts, last)
        entry_sql = _FORWARD_SIDE_SQL.format(col="in_channel", amount="in_msat")
        for ch, fees, f30, f7, n30, vol, last in conn.execute(entry_sql, args):
            t = out[ch]
            t.sourced_msat, t.sourced_30d_msat, t.sourced_7d_msat = int(fees), int(f30), int(f7)
            t.entries_30d, t.volume_30d_msat = int(n30), t.volume_30d_msat + int(vol)
            t.last_forward_ts = _later(t.last_forward_ts, last)
        for ch, fees, f30, f7 in conn.execute(_REBALANCE_SQL, args):
            t = out[ch]
            t.rebalance_msat, t.rebalance_30d_msat, t.rebalance_7d_msat = (
                int(fees),
                int(f30),
                int(f7),
            )
        for ch, n, ok in conn.execute(_ATTEMPTS_SQL, args):
            out[ch].rebalance_attempts_30d, out[ch].rebalance_successes_30d = int(n), int(ok)
        for ch, n, n14, last_ok in conn.execute(_DIAGNOSTICS_SQL, args):
            t = out[ch]
            t.diagnostics, t.diagnostics_14d = int(n), int(n14)
            t.last_diagnostic_success = None if last_ok is None else float(last_ok)
        for ch, cost in conn.execute(
            "SELECT channel_id, closure_cost_sat FROM channel_closure_costs"
        ):
            out[ch].closure_cost_sat = int(cost)
        for ch, cost in conn.execute(
            "SELECT channel_id, COALESCE(SUM(cost_sat), 0) FROM splice_events "
            "WHERE timestamp <= ? GROUP BY channel_id",
            (now,),
        ):
            out[ch].splice_cost_sat = int(cost)
        return dict(out)

    def node_totals(self, now: float, since: float | None = None) -> dict[str, int]:
        """Node-wide forward fees and rebalance fees (msat) since ``since`` (all time if None)."""
        lo = since if since is not None else float("-inf")
        conn = self.store.db.connection()
        fees, count = conn.execute(
            "SELECT COALESCE(SUM(fee_msat), 0), COUNT(*) FROM forwards "
            "WHERE timestamp >= ? AND timestamp <= ?",
            (lo, now),
        ).fetchone()
        reb, reb_n = conn.execute(
            "SELECT COALESCE(SUM(fee_msat), 0), COUNT(*) FROM rebalance_costs "
            "WHERE timestamp >= ? AND timestamp <= ?",
            (lo, now),
        ).fetchone()
        return {
            "forward_fees_msat": int(fees),
            "forwards": int(count),
            "rebalance_fees_msat": int(reb),
            "rebalances": int(reb_n),
        }


def _later(a: float | None, b: Any) -> float | None:
    if b is None:
        return a
    return float(b) if a is None else max(a, float(b))
