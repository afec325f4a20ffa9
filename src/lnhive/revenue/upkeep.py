"""Channel upkeep the operator asks for (spec revenue-ops §6.1): ``revenue-wake-all`` and
``revenue-cleanup-closed``.

*Wake all* ends the sleep (§2.3 step 2) of every sleeping channel in the stored controller
state, as a manual fee change would: the next fee cycle decides for it again. Nothing else
of its state changes.

*Cleanup closed* drops the per-channel working state (``fee_strategy_state``,
``kalman_state``, ``channel_states``, ``channel_profitability``, ``diagnostic_attempts``) of
channels the node no longer has: not listed by ``listpeerchannels``, or listed in a closed
state (:data:`CLOSED_STATES`). Accounting stays (forwards, fee changes, rebalances and their
costs, open/closure/splice costs), so reports over past windows keep their numbers. If the
node cannot be read nothing is removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.revenue.controller_cycle import ChannelControl
from lnhive.revenue.store import RevenueStore

CLOSED_STATES = frozenset(
    {"ONCHAIN", "CLOSED", "CLOSINGD_COMPLETE", "AWAITING_UNILATERAL", "FUNDING_SPEND_SEEN"}
)
STATE_TABLES = (
    "fee_strategy_state",
    "kalman_state",
    "channel_states",
    "channel_profitability",
    "diagnostic_attempts",
)
"""Working state keyed by ``channel_id``; dropped for closed channels."""


def wake_all(store: RevenueStore, now: float) -> dict[str, Any]:
    """End every stored sleep; ``{woken: [{channel_id, peer_id, sleep_until}], count}``."""
    woken: list[dict[str, Any]] = []
    rows = store.db.query("SELECT channel_id FROM fee_strategy_state ORDER BY channel_id")
    with store.transaction():
        for r in rows:
            row = store.get_fee_strategy_state(r["channel_id"])
            if row is None:
                continue
            control, _ = ChannelControl.from_blob(row.v2_state_json)
            sleep = control.cycle.sleep
            if not (sleep.is_sleeping or row.is_sleeping):
                continue
            control.cycle.sleep = replace(
                sleep, is_sleeping=False, sleep_until=0.0, stable_cycles=0
            )
            store.put_fee_strategy_state(
                replace(
                    row,
                    is_sleeping=False,
                    sleep_until=0.0,
                    v2_state_json=control.to_blob() if row.v2_state_json else None,
                    updated_at=now,
                )
            )
            woken.append(
                {
                    "channel_id": row.channel_id,
                    "peer_id": row.peer_id,
                    "sleep_until": max(sleep.sleep_until, row.sleep_until),
                }
            )
    return {"woken": woken, "count": len(woken)}


def open_channel_ids(node: NodeApi) -> set[str]:
    """Short channel ids (``NxNxN``) the node lists in a state that is not closed."""
    out: set[str] = set()
    for ch in node.listpeerchannels().get("channels", []):
        scid = ch.get("short_channel_id")
        if isinstance(scid, str) and ch.get("state") not in CLOSED_STATES:
            out.add(scid.replace(":", "x"))
    return out


def stored_channel_ids(store: RevenueStore) -> set[str]:
    out: set[str] = set()
    for table in STATE_TABLES:
        out.update(r[0] for r in store.db.query(f"SELECT DISTINCT channel_id FROM {table}"))
    return out


def cleanup_closed(node: NodeApi, store: RevenueStore) -> dict[str, Any]:
    """Drop the working state of channels the node no longer has (see the module text)."""
    gone = sorted(stored_channel_ids(store) - open_channel_ids(node))
    removed = _delete(store, gone)
    return {
        "channels": gone,
        "count": len(gone),
        "rows_removed": removed,
        "kept": ["forwards", "fee_changes", "rebalance_history", "rebalance_costs", "costs"],
    }


def _delete(store: RevenueStore, channels: Iterable[str]) -> dict[str, int]:
    removed = dict.fromkeys(STATE_TABLES, 0)
    with store.transaction() as conn:
        for scid in channels:
            for table in STATE_TABLES:
                cur = conn.execute(f"DELETE FROM {table} WHERE channel_id = ?", (scid,))
                removed[table] += cur.rowcount
    return removed
