"""Pathfinding over a node's gossip view.

Dijkstra runs backwards from the destination, accumulating what each hop must
receive (``amount_out + fee_base + floor(amount_out x ppm / 1e6)``) and the CLTV deltas,
respecting each direction's htlc_minimum/maximum and capacity as the payer knows them
and, on the payer's own channels, their real spendable balance and peer connection.
The result is CLN's route shape (``getroute``): per hop the node reached, the channel
and direction taken, the amount delivered to that node and its CLTV delay.

``getroutes`` reports askrene's success estimate with no learned liquidity
(:func:`route_probability`): per hop ``1 - amount / capacity``, multiplied along the route.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lnhive.sim.network.channel import NORMAL
from lnhive.sim.network.gossip import visible_policy

if TYPE_CHECKING:
    from lnhive.sim.network.channel import Channel
    from lnhive.sim.network.model import Network

DEFAULT_MAX_HOPS = 20


@dataclass(frozen=True, slots=True)
class Hop:
    """One route entry: reach ``node_id`` over ``scid`` (direction ``direction``), delivering
    ``amount_msat`` with an HTLC expiring ``delay`` blocks from now."""

    node_id: str
    scid: str
    direction: int
    amount_msat: int
    delay: int

    def to_json(self) -> dict[str, Any]:
        """A ``getroute``/``sendpay`` route entry."""
        return {
            "id": self.node_id,
            "channel": self.scid,
            "direction": self.direction,
            "amount_msat": self.amount_msat,
            "delay": self.delay,
            "style": "tlv",
        }

    @staticmethod
    def from_json(obj: dict[str, Any]) -> Hop:
        amount = obj.get("amount_msat", obj.get("msatoshi"))
        if amount is None:
            raise ValueError("route hop lacks amount_msat")
        return Hop(
            str(obj["id"]),
            str(obj["channel"]),
            int(obj.get("direction", 0)),
            int(amount),
            int(obj["delay"]),
        )


def route_fee(route: list[Hop], amount_msat: int) -> int:
    return route[0].amount_msat - amount_msat if route else 0


def find_route(
    net: Network,
    source: str,
    destination: str,
    amount_msat: int,
    *,
    final_cltv: int = 18,
    exclude: frozenset[str] | set[str] = frozenset(),
    maxhops: int = DEFAULT_MAX_HOPS,
    max_fee_msat: int | None = None,
    max_delay: int | None = None,
) -> list[Hop] | None:
    """The cheapest route ``source`` knows to ``destination`` for ``amount_msat``, or None.

    ``exclude`` holds ``scid/direction`` strings and node ids to avoid.
    """
    if source == destination or destination not in net.nodes or source not in net.nodes:
        return None
    now = net.clock.now()
    delay = net.gossip_delay
    nodes = net.nodes
    need: dict[str, int] = {destination: amount_msat}
    cltv: dict[str, int] = {destination: final_cltv}
    hops: dict[str, int] = {destination: 0}
    nxt: dict[str, tuple[str, Channel, int]] = {}
    done: set[str] = set()
    heap: list[tuple[int, int, str]] = [(amount_msat, 0, destination)]
    found = False
    while heap:
        _, nh, v = heapq.heappop(heap)
        if v in done:
            continue
        done.add(v)
        if v == source:
            found = True
            break
        if nh >= maxhops:
            continue
        amt_v = need[v]
        cltv_v = cltv[v]
        for chan in nodes[v].channels:
            if chan.state != NORMAL or chan.scid is None:
                continue
            ids = chan.node_ids
            side_u = 0 if ids[1] == v else 1
            u = ids[side_u]
            if u in done:
                continue
            if source != ids[0] and source != ids[1]:
                since = chan.normal_since
                if not chan.announce or since is None or now < since + delay:
                    continue
            if exclude and (u in exclude or f"{chan.scid}/{side_u}" in exclude):
                continue
            pol = visible_policy(chan, side_u, source, now, delay)
            if (
                amt_v < pol.htlc_min_msat
                or amt_v > pol.htlc_max_msat
                or amt_v > chan.capacity_sat * 1000
            ):
                continue
            peer = nodes[u].peers.get(v)
            if peer is None or not peer.connected:
                continue
            if u == source:
                if amt_v > chan.spendable(side_u):
                    continue
                cand, cand_cltv = amt_v, cltv_v
            else:
                cand = amt_v + pol.fee_base_msat + amt_v * pol.fee_ppm // 1_000_000
                cand_cltv = cltv_v + pol.cltv_delta
            old = need.get(u)
            if old is None or cand < old or (cand == old and nh + 1 < hops[u]):
                need[u] = cand
                cltv[u] = cand_cltv
                hops[u] = nh + 1
                nxt[u] = (v, chan, side_u)
                heapq.heappush(heap, (cand, nh + 1, u))
    if not found:
        return None
    route: list[Hop] = []
    u = source
    while u != destination:
        v, chan, side_u = nxt[u]
        route.append(Hop(v, chan.scid or "", side_u, need[v], cltv[v]))
        u = v
    if max_fee_msat is not None and route_fee(route, amount_msat) > max_fee_msat:
        return None
    if max_delay is not None and route[0].delay > max_delay:
        return None
    return route


def hop_probability(amount_msat: int, min_msat: int, max_msat: int) -> float:
    """askrene's linear edge model: certain up to what the channel is known to hold
    (``min_msat``), impossible above what it can hold at most (``max_msat``), and in
    between ``1 - (amount - min) / (max - min)`` (liquidity uniform over [min, max])."""
    if amount_msat <= min_msat:
        return 1.0
    if amount_msat > max_msat:
        return 0.0
    return 1.0 - (amount_msat - min_msat) / (max_msat - min_msat)


def route_probability(
    net: Network,
    route: list[Hop],
    source: str,
    *,
    local_node: str | None = None,
) -> float:
    """Success probability of ``route`` as askrene estimates it with no learned liquidity:
    the product over hops of :func:`hop_probability` for the amount the hop carries
    (``amount_out_msat``, what reaches its far end), between 0 and the channel's capacity.
    A hop leaving ``local_node`` (the querying node, when ``auto.localchans`` is among the
    layers) is known exactly: certain up to its spendable balance, impossible above."""
    prob = 1.0
    prev = source
    for hop in route:
        chan = net.by_scid[hop.scid]
        if local_node is not None and prev == local_node:
            spendable = chan.spendable(hop.direction)
            prob *= hop_probability(hop.amount_msat, spendable, spendable)
        else:
            prob *= hop_probability(hop.amount_msat, 0, chan.capacity_sat * 1000)
        prev = hop.node_id
    return prob


def getroutes_json(
    net: Network,
    route: list[Hop],
    source: str,
    amount_msat: int,
    final_cltv: int,
    probability: float = 1.0,
) -> dict[str, Any]:
    """A one-route ``getroutes`` answer. As askrene does, each path entry charges the fee
    and CLTV delta of its channel's start node (the source's own channel included):
    ``amount_in_msat = amount_out_msat + fee``, ``cltv_in = cltv_out + delta``. With one
    route, the answer's ``probability_ppm`` is the route's, truncated to whole ppm."""
    now = net.clock.now()
    path = []
    prev = source
    for hop in route:
        chan = net.by_scid[hop.scid]
        pol = visible_policy(chan, hop.direction, source, now, net.gossip_delay)
        path.append(
            {
                "short_channel_id_dir": f"{hop.scid}/{hop.direction}",
                "amount_in_msat": hop.amount_msat + pol.fee(hop.amount_msat),
                "amount_out_msat": hop.amount_msat,
                "node_id_in": prev,
                "node_id_out": hop.node_id,
                "cltv_in": hop.delay + pol.cltv_delta,
                "cltv_out": hop.delay,
            }
        )
        prev = hop.node_id
    probability_ppm = int(min(1.0, max(0.0, probability)) * 1_000_000)
    return {
        "probability_ppm": probability_ppm,
        "routes": [
            {
                "probability_ppm": probability_ppm,
                "amount_msat": amount_msat,
                "final_cltv": final_cltv,
                "path": path,
            }
        ],
    }
