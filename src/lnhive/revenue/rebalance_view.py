"""What a rebalance cycle reads from the node and the store, in one snapshot.

One ``getinfo`` (our id), one ``listpeerchannels``, one ``listfunds``; the stored flow
class of each channel (a CONGESTED label older than 2 x flow-interval is ignored, and a
channel whose HTLC slots are more than 80 % used now is CONGESTED whatever the label);
and, from the stored forwards, which channels earned fees as exit channel in 30 days
(value 2) or forwarded at all in 7 days (value 1); each channel's profitability coupling
(:mod:`.couplings`, from its last snapshot).

Wallet for the reserve check (spec §3.4): confirmed on-chain outputs + the spendable
balance of every normal channel, in sat (floor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.revenue import flow as flowmod
from lnhive.revenue.couplings import UNKNOWN, stored_couplings
from lnhive.revenue.evidence import channel_from_json
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.forwards import msat_total
from lnhive.revenue.policy import RebalanceMode
from lnhive.revenue.rebalance_route import ChannelEnd
from lnhive.revenue.rebalance_select import RebalanceChannel
from lnhive.revenue.store import RevenueStore

DAY_S = 86_400.0
PolicyOf = Callable[[str], tuple[str, str]]
"""peer id → (strategy, rebalance_mode)."""


@dataclass
class NodeView:
    our_id: str
    channels: list[RebalanceChannel] = field(default_factory=list)
    ends: dict[str, ChannelEnd] = field(default_factory=dict)
    wallet_sat: int = 0
    earned: set[str] = field(default_factory=set)
    hive_peers: set[str] = field(default_factory=set)

    def channel(self, scid: str) -> RebalanceChannel | None:
        for c in self.channels:
            if c.channel_id == scid:
                return c
        return None

    def end(self, scid: str) -> ChannelEnd:
        return self.ends[scid]


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _remote_end(item: Mapping[str, Any], scid: str, peer: str) -> ChannelEnd:
    updates = item.get("updates")
    remote: Mapping[str, Any] = {}
    if isinstance(updates, Mapping) and isinstance(updates.get("remote"), Mapping):
        remote = updates["remote"]
    return ChannelEnd(
        scid=scid,
        peer_id=peer,
        our_direction=_int(item.get("direction")),
        remote_fee_base_msat=msat_total(remote.get("fee_base_msat")),
        remote_fee_ppm=_int(remote.get("fee_proportional_millionths")),
        remote_cltv_delta=_int(remote.get("cltv_expiry_delta"), 6),
    )


def _stored_class(store: RevenueStore, scid: str, now: float, flow_interval_s: float) -> FlowClass:
    cs = store.get_channel_state(scid)
    if cs is None:
        return FlowClass.BALANCED
    try:
        usable = flowmod.usable_stored_class(
            FlowClass(cs.state), cs.updated_at, now, flow_interval_s
        )
    except ValueError:
        return FlowClass.BALANCED
    return usable if usable is not None else FlowClass.BALANCED


def _scalar(store: RevenueStore, sql: str, params: tuple[Any, ...]) -> int:
    row = store.db.connection().execute(sql, params).fetchone()
    return int(row[0] or 0)


def read_view(
    node: NodeApi,
    store: RevenueStore,
    now: float,
    policy_of: PolicyOf | None = None,
    flow_interval_s: float = 3600.0,
) -> NodeView:
    our_id = str(node.getinfo()["id"])
    view = NodeView(our_id)
    items = node.listpeerchannels().get("channels", [])
    couplings = stored_couplings(store, now)
    spendable = 0
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        ev = channel_from_json(item)
        if ev is None:
            continue
        spendable += ev.spendable_msat
        strategy, mode = policy_of(ev.peer_id) if policy_of else ("dynamic", "enabled")
        if strategy == "hive":
            view.hive_peers.add(ev.peer_id)
        cls = _stored_class(store, ev.channel_id, now, flow_interval_s)
        if flowmod.is_congested(ev.htlcs_in_flight, ev.max_accepted_htlcs):
            cls = FlowClass.CONGESTED
        earned = _scalar(
            store,
            "SELECT COALESCE(SUM(fee_msat), 0) FROM forwards WHERE out_channel = ? "
            "AND timestamp >= ?",
            (ev.channel_id, now - 30 * DAY_S),
        )
        active = _scalar(
            store,
            "SELECT COUNT(*) FROM forwards WHERE (out_channel = ? OR in_channel = ?) "
            "AND timestamp >= ?",
            (ev.channel_id, ev.channel_id, now - 7 * DAY_S),
        )
        if earned > 0:
            view.earned.add(ev.channel_id)
        end = _remote_end(item, ev.channel_id, ev.peer_id)
        view.ends[ev.channel_id] = end
        view.channels.append(
            RebalanceChannel(
                channel_id=ev.channel_id,
                peer_id=ev.peer_id,
                capacity_sat=ev.capacity_sat,
                local_sat=ev.local_msat // 1000,
                flow_class=cls,
                rebalance_mode=RebalanceMode(mode),
                peer_connected=ev.peer_connected,
                fee_ppm=ev.fee_ppm,
                inbound_fee_ppm=end.remote_fee_ppm,
                value=2 if earned > 0 else (1 if active > 0 else 0),
                coupling=couplings.get(ev.channel_id, UNKNOWN),
            )
        )
    view.channels.sort(key=lambda c: c.channel_id)
    outputs = node.listfunds().get("outputs", [])
    onchain = sum(
        msat_total(o.get("amount_msat"))
        for o in (outputs if isinstance(outputs, list) else [])
        if isinstance(o, Mapping) and o.get("status") == "confirmed"
    )
    view.wallet_sat = (onchain + spendable) // 1000
    return view
