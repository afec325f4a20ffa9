"""CLN-shaped JSON answers computed from the model (amounts are plain integers).

Each function takes the network and the asking node's id and returns the response
object of the CLN command of the same name (channel and node listings, funds,
forwards, HTLCs, fee rates). Payment and invoice listings live in :mod:`.payviews`.
"""

from __future__ import annotations

from typing import Any

from lnhive.sim.errors import INVALID_PARAMS, RpcError
from lnhive.sim.network import channel as ch
from lnhive.sim.network.channel import Channel
from lnhive.sim.network.gossip import (
    channel_active,
    node_announced_to,
    visible_channels,
    visible_policy,
)
from lnhive.sim.network.model import (
    CHANNEL_FEATURES,
    INIT_FEATURES,
    INVOICE_FEATURES,
    NODE_FEATURES,
    Network,
)
from lnhive.sim.network.nodes import Node

VERSION = "v26.06.6"
_CHANNEL_TYPE = {"bits": [12, 22], "names": ["static_remotekey/even", "anchors/even"]}
_PENDING = (ch.OPENINGD, ch.AWAITING_LOCKIN)
_CHANNELD = (ch.AWAITING_LOCKIN, ch.NORMAL, ch.SHUTTING_DOWN)

#: Fixed fee rates (regtest has no estimates; CLN falls back to similar values).
_PERKW = {
    "opening": 7500,
    "mutual_close": 3750,
    "unilateral_close": 11000,
    "unilateral_anchor_close": 3750,
    "penalty": 7500,
    "splice": 7500,
    "min_acceptable": 1875,
    "max_acceptable": 150000,
    "floor": 253,
}
_ESTIMATES = [(2, 11000), (6, 7500), (12, 3750), (100, 1875)]


def _addr(n: Node) -> dict[str, Any]:
    return {"type": "ipv4", "address": "127.0.0.1", "port": n.port}


def getinfo(net: Network, node_id: str, *, lightning_dir: str = "") -> dict[str, Any]:
    n = net.nodes[node_id]
    pending = active = inactive = 0
    for c in n.channels:
        if c.state in _PENDING:
            pending += 1
        elif c.state == ch.NORMAL:
            active += 1
        else:
            inactive += 1
    return {
        "id": n.node_id,
        "alias": n.alias,
        "color": n.color,
        "num_peers": sum(1 for p in n.peers.values() if p.connected),
        "num_pending_channels": pending,
        "num_active_channels": active,
        "num_inactive_channels": inactive,
        "address": [_addr(n)],
        "binding": [_addr(n)],
        "version": VERSION,
        "blockheight": net.blockheight,
        "network": "regtest",
        "fees_collected_msat": n.fees_collected_msat,
        "lightning-dir": lightning_dir or f"/tmp/lnhive-sim/{n.name}/regtest",
        "our_features": {
            "init": INIT_FEATURES,
            "node": NODE_FEATURES,
            "channel": CHANNEL_FEATURES,
            "invoice": INVOICE_FEATURES,
        },
    }


def listpeers(net: Network, node_id: str, id: str | None = None) -> dict[str, Any]:
    n = net.nodes[node_id]
    peers = []
    for pid, peer in n.peers.items():
        if id is not None and pid != id:
            continue
        nchan = sum(1 for c in n.channels if pid in c.node_ids)
        if not peer.connected and nchan == 0:
            continue
        item: dict[str, Any] = {"id": pid, "connected": peer.connected, "num_channels": nchan}
        if peer.connected:
            item["netaddr"] = [f"127.0.0.1:{net.nodes[pid].port}"]
            item["features"] = INIT_FEATURES
        peers.append(item)
    return {"peers": peers}


def _policy_json(p: ch.Policy) -> dict[str, Any]:
    return {
        "htlc_minimum_msat": p.htlc_min_msat,
        "htlc_maximum_msat": p.htlc_max_msat,
        "cltv_expiry_delta": p.cltv_delta,
        "fee_base_msat": p.fee_base_msat,
        "fee_proportional_millionths": p.fee_ppm,
    }


def peer_channel(net: Network, node_id: str, c: Channel) -> dict[str, Any]:
    """One ``listpeerchannels`` entry for ``node_id``'s side of ``c``."""
    now = net.clock.now()
    side = c.side_of(node_id)
    other = 1 - side
    peer_id = c.node_ids[other]
    connected = net.is_connected(node_id, peer_id)
    local = c.policies[side]
    out: dict[str, Any] = {"peer_id": peer_id, "peer_connected": connected}
    if connected:
        out["reestablished"] = c.state in _CHANNELD
    out["channel_type"] = _CHANNEL_TYPE
    out["updates"] = {
        "local": _policy_json(local),
        "remote": _policy_json(visible_policy(c, other, node_id, now, net.gossip_delay)),
    }
    out["ignore_fee_limits"] = local.ignore_fee_limits
    out["lost_state"] = False
    out["state"] = c.state
    out["feerate"] = {"perkw": _PERKW["opening"], "perkb": _PERKW["opening"] * 4}
    if c.state in _CHANNELD:
        out["owner"] = "channeld"
    elif c.state in (ch.CLOSINGD_SIGEXCHANGE, ch.CLOSINGD_COMPLETE):
        out["owner"] = "closingd"
    elif c.state == ch.ONCHAIN:
        out["owner"] = "onchaind"
    if c.scid is not None:
        out["short_channel_id"] = c.scid
        out["direction"] = side
    out["channel_id"] = c.channel_id
    out["funding_txid"] = c.funding_txid
    out["funding_outnum"] = c.funding_outnum
    out["private"] = not c.announce
    out["opener"] = "local" if c.opener_side == side else "remote"
    if c.closer_side is not None:
        out["closer"] = "local" if c.closer_side == side else "remote"
    out["features"] = ["option_static_remotekey", "option_anchors"]
    funding: dict[str, Any] = {}
    if c.pushed_msat:
        funding["pushed_msat"] = c.pushed_msat
    funding["local_funds_msat"] = c.capacity_msat if c.opener_side == side else 0
    funding["remote_funds_msat"] = 0 if c.opener_side == side else c.capacity_msat
    funding["withheld"] = False
    out["funding"] = funding
    bal = c.balance[side]
    total = c.capacity_msat
    reserve = c.reserve_msat
    out.update(
        {
            "to_us_msat": bal,
            "min_to_us_msat": bal,
            "max_to_us_msat": bal,
            "total_msat": total,
            "fee_base_msat": local.fee_base_msat,
            "fee_proportional_millionths": local.fee_ppm,
            "dust_limit_msat": ch.DUST_LIMIT_MSAT,
            "their_max_htlc_value_in_flight_msat": total,
            "our_max_htlc_value_in_flight_msat": total,
            "their_reserve_msat": reserve,
            "our_reserve_msat": reserve,
            "spendable_msat": c.spendable(side) if c.state == ch.NORMAL else 0,
            "receivable_msat": c.receivable(side) if c.state == ch.NORMAL else 0,
            "minimum_htlc_in_msat": local.htlc_min_msat,
            "minimum_htlc_out_msat": local.htlc_min_msat,
            "maximum_htlc_out_msat": local.htlc_max_msat,
            "their_to_self_delay": ch.TO_SELF_DELAY,
            "our_to_self_delay": ch.TO_SELF_DELAY,
            "max_accepted_htlcs": ch.MAX_ACCEPTED_HTLCS,
        }
    )
    changes = []
    for sc in c.state_changes:
        cause = sc["cause"]
        if sc["initiator_side"] != side and cause in ("user", "local"):
            cause = "remote"
        changes.append(
            {
                "timestamp": sc["timestamp"],
                "old_state": sc["old_state"],
                "new_state": sc["new_state"],
                "cause": cause,
                "message": sc["message"],
            }
        )
    out["state_changes"] = changes
    out["status"] = [f"{c.state}:{changes[-1]['message']}"] if changes else []
    out.update(
        {
            "in_payments_offered": c.offered_count[other],
            "in_offered_msat": c.offered_msat[other],
            "in_payments_fulfilled": c.fulfilled_count[other],
            "in_fulfilled_msat": c.fulfilled_msat[other],
            "out_payments_offered": c.offered_count[side],
            "out_offered_msat": c.offered_msat[side],
            "out_payments_fulfilled": c.fulfilled_count[side],
            "out_fulfilled_msat": c.fulfilled_msat[side],
        }
    )
    htlcs = []
    for h in c.htlcs.values():
        outgoing = h.from_side == side
        htlcs.append(
            {
                "direction": "out" if outgoing else "in",
                "id": h.id,
                "amount_msat": h.amount_msat,
                "expiry": h.expiry,
                "payment_hash": h.payment_hash,
                "state": "SENT_ADD_ACK_REVOCATION" if outgoing else "RCVD_ADD_ACK_REVOCATION",
            }
        )
    out["htlcs"] = htlcs
    return out


def listpeerchannels(
    net: Network,
    node_id: str,
    id: str | None = None,
    short_channel_id: str | None = None,
    channel_id: str | None = None,
) -> dict[str, Any]:
    if sum(x is not None for x in (id, short_channel_id, channel_id)) > 1:
        raise RpcError(
            INVALID_PARAMS, "Cannot specify more than one of id, short_channel_id or channel_id"
        )
    out = []
    for c in net.nodes[node_id].channels:
        if id is not None and id not in c.node_ids:
            continue
        if short_channel_id is not None and c.scid != short_channel_id:
            continue
        if channel_id is not None and c.channel_id != channel_id:
            continue
        out.append(peer_channel(net, node_id, c))
    return {"channels": out}


def listchannels(
    net: Network,
    viewer: str,
    short_channel_id: str | None = None,
    source: str | None = None,
    destination: str | None = None,
) -> dict[str, Any]:
    if sum(x is not None for x in (short_channel_id, source, destination)) > 1:
        raise RpcError(
            INVALID_PARAMS, "Can only specify one of `short_channel_id`, `source` or `destination`"
        )
    now = net.clock.now()
    out = []
    for c in visible_channels(net, viewer, now):
        if short_channel_id is not None and c.scid != short_channel_id:
            continue
        active = channel_active(net, c)
        for d in (0, 1):
            src, dst = c.node_ids[d], c.node_ids[1 - d]
            if source is not None and src != source:
                continue
            if destination is not None and dst != destination:
                continue
            p = visible_policy(c, d, viewer, now, net.gossip_delay)
            out.append(
                {
                    "source": src,
                    "destination": dst,
                    "short_channel_id": c.scid,
                    "direction": d,
                    "public": c.announce,
                    "amount_msat": c.capacity_msat,
                    "message_flags": 1,
                    "channel_flags": d | (0 if active else 2),
                    "active": active,
                    "last_update": int(p.timestamp),
                    "base_fee_millisatoshi": p.fee_base_msat,
                    "fee_per_millionth": p.fee_ppm,
                    "delay": p.cltv_delta,
                    "htlc_minimum_msat": p.htlc_min_msat,
                    "htlc_maximum_msat": p.htlc_max_msat,
                    "features": "",
                }
            )
    return {"channels": out}


def listnodes(net: Network, viewer: str, id: str | None = None) -> dict[str, Any]:
    now = net.clock.now()
    known: set[str] = set()
    for c in visible_channels(net, viewer, now):
        if c.announce:
            known.update(c.node_ids)
    out = []
    for nid in sorted(known):
        if id is not None and nid != id:
            continue
        n = net.nodes[nid]
        ts = node_announced_to(net, n, viewer, now)
        item: dict[str, Any] = {"nodeid": nid}
        if ts is not None:
            item.update(
                last_timestamp=int(ts),
                alias=n.alias,
                color=n.color,
                features=NODE_FEATURES,
                addresses=[_addr(n)],
            )
        out.append(item)
    return {"nodes": out}


def listfunds(net: Network, node_id: str, spent: bool = False) -> dict[str, Any]:
    n = net.nodes[node_id]
    outputs = []
    for u in n.utxos:
        if u.spent and not spent:
            continue
        item: dict[str, Any] = {
            "txid": u.txid,
            "output": u.output,
            "amount_msat": u.amount_msat,
            "scriptpubkey": u.scriptpubkey,
        }
        if u.spent:
            item["status"] = "spent"
        elif u.blockheight is None:
            item["status"] = "unconfirmed"
        else:
            item["status"] = "confirmed"
        if u.blockheight is not None:
            item["blockheight"] = u.blockheight
        item["reserved"] = u.reserved
        outputs.append(item)
    channels = []
    for c in n.channels:
        side = c.side_of(node_id)
        peer = c.node_ids[1 - side]
        item = {
            "peer_id": peer,
            "connected": net.is_connected(node_id, peer),
            "state": c.state,
            "channel_id": c.channel_id,
        }
        if c.scid is not None:
            item["short_channel_id"] = c.scid
        item.update(
            our_amount_msat=c.balance[side],
            amount_msat=c.capacity_msat,
            funding_txid=c.funding_txid,
            funding_output=c.funding_outnum,
        )
        channels.append(item)
    return {"outputs": outputs, "channels": channels}


def _paginate(
    items: list[Any],
    index: str | None,
    start: int | None,
    limit: int | None,
    created: Any,
    updated: Any,
) -> list[Any]:
    if index is None:
        if start is not None or limit is not None:
            raise RpcError(INVALID_PARAMS, "Can only specify {start} or {limit} with {index}")
        return items
    if index not in ("created", "updated"):
        raise RpcError(INVALID_PARAMS, "index: should be one of created, updated")
    key = created if index == "created" else updated
    keyed = [(key(i), i) for i in items]
    if index == "updated":
        keyed = [(k, i) for k, i in keyed if k is not None]
    keyed.sort(key=lambda kv: kv[0])
    if start is not None:
        keyed = [(k, i) for k, i in keyed if k >= start]
    if limit is not None:
        keyed = keyed[:limit]
    return [i for _, i in keyed]


def listforwards(
    net: Network,
    node_id: str,
    status: str | None = None,
    in_channel: str | None = None,
    out_channel: str | None = None,
    index: str | None = None,
    start: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    n = net.nodes[node_id]
    items = [
        f
        for f in n.forwards
        if (status is None or f.status == status)
        and (in_channel is None or f.in_channel == in_channel)
        and (out_channel is None or f.out_channel == out_channel)
    ]
    items = _paginate(
        items, index, start, limit, lambda f: f.created_index, lambda f: f.updated_index
    )
    return {"forwards": [f.to_json() for f in items]}


def listhtlcs(
    net: Network,
    node_id: str,
    id: str | None = None,
    index: str | None = None,
    start: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    n = net.nodes[node_id]
    items = n.htlcs
    if id is not None:
        chans = {c.scid for c in n.channels + n.closed if id in (c.scid, c.channel_id)}
        items = [h for h in items if h.short_channel_id in chans]
    items = _paginate(
        items, index, start, limit, lambda h: h.created_index, lambda h: h.updated_index
    )
    return {"htlcs": [h.to_json() for h in items]}


def listclosedchannels(net: Network, node_id: str, id: str | None = None) -> dict[str, Any]:
    n = net.nodes[node_id]
    out = []
    for c in n.closed:
        side = c.side_of(node_id)
        peer = c.node_ids[1 - side]
        if id is not None and peer != id:
            continue
        item: dict[str, Any] = {"peer_id": peer, "channel_id": c.channel_id}
        if c.scid is not None:
            item["short_channel_id"] = c.scid
        item["opener"] = "local" if c.opener_side == side else "remote"
        if c.closer_side is not None:
            item["closer"] = "local" if c.closer_side == side else "remote"
        item.update(
            {
                "private": not c.announce,
                "channel_type": _CHANNEL_TYPE,
                "total_local_commitments": c.commitments,
                "total_remote_commitments": c.commitments,
                "total_htlcs_sent": c.offered_count[side],
                "funding_txid": c.funding_txid,
                "funding_outnum": c.funding_outnum,
                "funding_withheld": False,
                "leased": False,
                "total_msat": c.capacity_msat,
                "final_to_us_msat": c.balance[side],
                "min_to_us_msat": c.balance[side],
                "max_to_us_msat": c.balance[side],
                "close_cause": c.close_cause if c.closer_side == side else "remote",
            }
        )
        if c.pushed_msat:
            item["funding_pushed_msat"] = c.pushed_msat
        out.append(item)
    return {"closedchannels": out}


def feerates(style: str) -> dict[str, Any]:
    if style not in ("perkb", "perkw"):
        raise RpcError(INVALID_PARAMS, "style: should be 'perkw' or 'perkb': invalid token")
    mult = 4 if style == "perkb" else 1
    rates: dict[str, Any] = {k: v * mult for k, v in _PERKW.items()}
    rates["estimates"] = [
        {"blockcount": b, "feerate": f * mult, "smoothed_feerate": f * mult} for b, f in _ESTIMATES
    ]
    opening = _PERKW["opening"]
    return {
        style: rates,
        "onchain_fee_estimates": {
            "opening_channel_satoshis": opening * 702 // 1000,
            "mutual_close_satoshis": _PERKW["mutual_close"] * 673 // 1000,
            "unilateral_close_satoshis": _PERKW["unilateral_anchor_close"] * 1112 // 1000,
            "unilateral_close_nonanchor_satoshis": _PERKW["unilateral_close"] * 598 // 1000,
            "htlc_timeout_satoshis": _PERKW["unilateral_close"] * 663 // 1000,
            "htlc_success_satoshis": _PERKW["unilateral_close"] * 703 // 1000,
        },
    }
