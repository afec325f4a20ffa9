"""Raising a channel's LOW_FEE_EXPLORATION flag from outside the fee controller (spec
revenue-ops §3.6: a successful diagnostic rebalance sets it).

The controller keeps the flag in its per-channel state blob
(``fee_strategy_state.v2_state_json`` → ``controller.low_fee_exploration``, read by
:func:`lnhive.revenue.controller_cycle.decide`, which lowers the fee toward the floor while it
is set and clears it at the first forward out of the channel). We write it there, and end the
channel's sleep as ``revenue-wake-all`` does, so the next fee cycle acts on it. A channel the
controller has never seen gets a fresh state holding the flag (its first cycle opens a
window, the next explores). The caller serialises this with the fee cycle (the service holds
the controller's lock), so a cycle in progress cannot overwrite it.
"""

from __future__ import annotations

from dataclasses import replace

from lnhive.revenue.controller_cycle import ChannelControl
from lnhive.revenue.store import FeeStrategyState, RevenueStore


def flag_low_fee_exploration(
    store: RevenueStore, channel_id: str, peer_id: str, fee_ppm: int, now: float
) -> bool:
    """Set the flag (and wake the channel); False if it was already set and awake."""
    with store.transaction():
        row = store.get_fee_strategy_state(channel_id)
        control, _ = ChannelControl.from_blob(None if row is None else row.v2_state_json)
        cyc = control.cycle
        if cyc.low_fee_exploration and not cyc.sleep.is_sleeping:
            return False
        cyc.low_fee_exploration = True
        cyc.sleep = replace(cyc.sleep, is_sleeping=False, sleep_until=0.0, stable_cycles=0)
        if row is None:
            row = FeeStrategyState(
                channel_id=channel_id,
                peer_id=peer_id,
                last_fee_ppm=fee_ppm,
                last_broadcast_fee_ppm=fee_ppm,
                last_update=now,
                is_sleeping=False,
                sleep_until=0.0,
                v2_state_json=None,
                updated_at=now,
            )
        store.put_fee_strategy_state(
            replace(
                row,
                is_sleeping=False,
                sleep_until=0.0,
                v2_state_json=control.to_blob(),
                updated_at=now,
            )
        )
    return True


def low_fee_exploration(store: RevenueStore, channel_id: str) -> bool:
    """Whether the stored controller state has the flag set."""
    row = store.get_fee_strategy_state(channel_id)
    if row is None:
        return False
    control, warning = ChannelControl.from_blob(row.v2_state_json)
    return warning is None and control.cycle.low_fee_exploration
