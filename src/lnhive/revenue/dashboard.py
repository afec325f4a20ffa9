"""``revenue-dashboard [window_days=30]`` and ``revenue-history`` (spec revenue-ops §6.1):
readable summaries from stored data only (no call to the node).

The dashboard covers the last ``window_days`` (1-365): revenue (forward fees), costs
(rebalance fees paid), net, the top earning channels, fee changes (applied or journalled in
dry-run, by reason, the latest ten) and rebalances (by status, sat moved, fees). The history
is the same by calendar month (UTC) over everything stored, with lifetime totals. Amounts
are integer msat, with sat beside them: revenue and costs rounded up (spec §0), net the
difference of those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lnhive.core.errors import InvalidInput
from lnhive.revenue.store import RevenueStore

DAY_S = 86_400
MAX_WINDOW_DAYS = 365
TOP_CHANNELS = 5
RECENT = 10


def parse_window(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"window_days must be a whole number of days, got {value!r}")
    if not 1 <= value <= MAX_WINDOW_DAYS:
        raise InvalidInput(f"window_days must be from 1 to {MAX_WINDOW_DAYS}, got {value}")
    return value


def _sat_up(msat: int) -> int:
    return -(-msat // 1000)


def _money(revenue_msat: int, cost_msat: int) -> dict[str, int]:
    revenue, cost = _sat_up(revenue_msat), _sat_up(cost_msat)
    return {
        "revenue_msat": revenue_msat,
        "revenue_sat": revenue,
        "rebalance_cost_msat": cost_msat,
        "rebalance_cost_sat": cost,
        "net_msat": revenue_msat - cost_msat,
        "net_sat": revenue - cost,
    }


def _scalar(store: RevenueStore, sql: str, params: tuple[Any, ...]) -> tuple[int, int]:
    row = store.db.connection().execute(sql, params).fetchone()
    return int(row[0]), int(row[1])


def dashboard(store: RevenueStore, now: float, window_days: object = 30) -> dict[str, Any]:
    days = parse_window(window_days)
    since = now - days * DAY_S
    fwd_n, fwd_fee = _scalar(
        store,
        "SELECT COUNT(*), COALESCE(SUM(fee_msat), 0) FROM forwards WHERE timestamp >= ?",
        (since,),
    )
    _, cost = _scalar(
        store,
        "SELECT COUNT(*), COALESCE(SUM(fee_msat), 0) FROM rebalance_costs WHERE timestamp >= ?",
        (since,),
    )
    top = store.db.query(
        "SELECT out_channel, COUNT(*) AS n, SUM(fee_msat) AS fee FROM forwards "
        "WHERE timestamp >= ? GROUP BY out_channel ORDER BY fee DESC, out_channel LIMIT ?",
        (since, TOP_CHANNELS),
    )
    out: dict[str, Any] = {
        "window_days": days,
        "since": since,
        "forwards": fwd_n,
        **_money(fwd_fee, cost),
        "top_channels": [
            {"channel_id": r["out_channel"], "forwards": r["n"], "fee_msat": int(r["fee"])}
            for r in top
        ],
        "fee_changes": _fee_changes(store, since),
        "rebalances": _rebalances(store, since),
    }
    out["summary"] = _summary(out)
    return out


def _fee_changes(store: RevenueStore, since: float) -> dict[str, Any]:
    rows = store.db.query(
        "SELECT reason, applied, COUNT(*) AS n FROM fee_changes WHERE timestamp >= ? "
        "GROUP BY reason, applied ORDER BY reason",
        (since,),
    )
    by_reason: dict[str, int] = {}
    applied = journalled = 0
    for r in rows:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + int(r["n"])
        if r["applied"]:
            applied += int(r["n"])
        else:
            journalled += int(r["n"])
    recent = store.db.query(
        "SELECT channel_id, old_fee_ppm, new_fee_ppm, reason, applied, timestamp FROM fee_changes "
        "WHERE timestamp >= ? ORDER BY timestamp DESC, id DESC LIMIT ?",
        (since, RECENT),
    )
    return {
        "count": applied + journalled,
        "applied": applied,
        "not_applied": journalled,
        "by_reason": by_reason,
        "recent": [dict(r, applied=bool(r["applied"])) for r in recent],
    }


def _rebalances(store: RevenueStore, since: float) -> dict[str, Any]:
    rows = store.db.query(
        "SELECT status, COUNT(*) AS n, "
        "COALESCE(SUM(CASE WHEN status = 'success' THEN amount_sat END), 0) AS moved, "
        "COALESCE(SUM(actual_fee_msat), 0) AS fee FROM rebalance_history "
        "WHERE created_at >= ? GROUP BY status ORDER BY status",
        (since,),
    )
    by_status = {r["status"]: int(r["n"]) for r in rows}
    return {
        "count": sum(by_status.values()),
        "by_status": by_status,
        "moved_sat": sum(int(r["moved"]) for r in rows),
        "fee_msat": sum(int(r["fee"]) for r in rows),
    }


def _summary(d: Mapping[str, Any]) -> str:
    fc, rb = d["fee_changes"], d["rebalances"]
    return "\n".join(
        [
            f"Last {d['window_days']} days: {d['forwards']} forwards earned "
            f"{d['revenue_sat']} sat; rebalancing cost {d['rebalance_cost_sat']} sat; "
            f"net {d['net_sat']} sat.",
            f"Fee changes: {fc['count']} ({fc['applied']} applied, {fc['not_applied']} not "
            "applied).",
            f"Rebalances: {rb['count']} ({rb['by_status'].get('success', 0)} succeeded, "
            f"{rb['moved_sat']} sat moved).",
        ]
    )


_MONTH = "strftime('%Y-%m', {col}, 'unixepoch')"


def history(store: RevenueStore) -> dict[str, Any]:
    """Everything stored, by calendar month (UTC), with lifetime totals."""
    months: dict[str, dict[str, int]] = {}

    def add(sql: str, fields: tuple[str, ...]) -> None:
        for r in store.db.query(sql):
            row = months.setdefault(
                r[0],
                dict.fromkeys(("forwards", "revenue_msat", "rebalance_cost_msat"), 0)
                | {"fee_changes": 0, "rebalances": 0, "rebalances_succeeded": 0},
            )
            for i, name in enumerate(fields, start=1):
                row[name] += int(r[i] or 0)

    m = _MONTH.format
    add(
        f"SELECT {m(col='timestamp')} AS mo, COUNT(*), SUM(fee_msat) FROM forwards GROUP BY mo",
        ("forwards", "revenue_msat"),
    )
    add(
        f"SELECT {m(col='timestamp')} AS mo, SUM(fee_msat) FROM rebalance_costs GROUP BY mo",
        ("rebalance_cost_msat",),
    )
    add(
        f"SELECT {m(col='timestamp')} AS mo, COUNT(*) FROM fee_changes GROUP BY mo",
        ("fee_changes",),
    )
    add(
        f"SELECT {m(col='created_at')} AS mo, COUNT(*), SUM(status = 'success') "
        "FROM rebalance_history GROUP BY mo",
        ("rebalances", "rebalances_succeeded"),
    )
    series: list[dict[str, Any]] = []
    for month in sorted(months):
        row = months[month]
        series.append(
            {"month": month, **row, "net_msat": row["revenue_msat"] - row["rebalance_cost_msat"]}
        )
    revenue = sum(r["revenue_msat"] for r in series)
    cost = sum(r["rebalance_cost_msat"] for r in series)
    first = store.db.query_one("SELECT MIN(timestamp), MAX(timestamp) FROM forwards")
    totals = {
        "forwards": sum(r["forwards"] for r in series),
        **_money(revenue, cost),
        "fee_changes": sum(r["fee_changes"] for r in series),
        "rebalances": sum(r["rebalances"] for r in series),
        "rebalances_succeeded": sum(r["rebalances_succeeded"] for r in series),
    }
    lines = [
        f"Since {series[0]['month'] if series else '-'}: {totals['forwards']} forwards earned "
        f"{totals['revenue_sat']} sat, rebalancing cost {totals['rebalance_cost_sat']} sat, "
        f"net {totals['net_sat']} sat."
    ]
    lines += [
        f"{r['month']}: {r['forwards']} forwards, {_sat_up(r['revenue_msat'])} sat earned, "
        f"{_sat_up(r['rebalance_cost_msat'])} sat on rebalancing, {r['fee_changes']} fee changes"
        for r in series
    ]
    return {
        "months": series,
        "totals": totals,
        "first_forward": None if first is None else first[0],
        "last_forward": None if first is None else first[1],
        "summary": "\n".join(lines),
    }
