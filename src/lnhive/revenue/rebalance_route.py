"""Circular route construction and validation (spec revenue-ops §3.3 steps 3-4), pure.

``getroutes`` is asked for a path from the source channel's peer to the destination
channel's peer, for ``amount + the destination peer's fee toward us`` with a final CLTV of
``invoice cltv + that peer's CLTV delta``. The circular route is then us → source peer
(our source channel, no fee), the path, and destination peer → us (our destination
channel). ``sendpay`` route entries carry what each node must receive (``amount_msat``)
and the HTLC's CLTV (``delay``).

A route is rejected before ``sendpay`` unless: the first hop is the source channel, the
last hop is the destination channel into our node and no other hop enters our node, the
final amount is exactly the invoice amount, amounts never increase along the route, and
the fee is at most the attempt's ceiling.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class ChannelEnd:
    """One of our channels for routing: our direction (us → peer) and the peer's policy
    toward us (peer → us)."""

    scid: str
    peer_id: str
    our_direction: int
    remote_fee_base_msat: int = 0
    remote_fee_ppm: int = 0
    remote_cltv_delta: int = 6

    def remote_fee(self, amount_msat: int) -> int:
        return self.remote_fee_base_msat + amount_msat * self.remote_fee_ppm // 1_000_000


def last_hop_request(dest: ChannelEnd, amount_msat: int, final_cltv: int) -> tuple[int, int]:
    """``(amount_msat, final_cltv)`` to ask ``getroutes`` for, to reach the destination peer."""
    return amount_msat + dest.remote_fee(amount_msat), final_cltv + dest.remote_cltv_delta


class RouteError(ValueError):
    """A getroutes answer that cannot be turned into a route."""


def build_route(
    answer: Mapping[str, Any],
    source: ChannelEnd,
    dest: ChannelEnd,
    our_id: str,
    amount_msat: int,
    final_cltv: int,
) -> list[Json]:
    """The ``sendpay`` route around the circle from a one-route ``getroutes`` answer."""
    routes = answer.get("routes")
    if not isinstance(routes, list) or len(routes) != 1 or not isinstance(routes[0], Mapping):
        raise RouteError("getroutes did not return exactly one route")
    path = routes[0].get("path")
    if not isinstance(path, list) or not path:
        raise RouteError("getroutes returned an empty path")
    try:
        first_in = int(path[0]["amount_in_msat"])
        first_cltv = int(path[0]["cltv_in"])
        route: list[Json] = [
            _hop(source.peer_id, source.scid, source.our_direction, first_in, first_cltv)
        ]
        for entry in path:
            scid, _, direction = str(entry["short_channel_id_dir"]).partition("/")
            route.append(
                _hop(
                    str(entry["node_id_out"]),
                    scid,
                    int(direction),
                    int(entry["amount_out_msat"]),
                    int(entry["cltv_out"]),
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise RouteError(f"malformed getroutes path: {exc}") from None
    route.append(_hop(our_id, dest.scid, 1 - dest.our_direction, amount_msat, final_cltv))
    return route


def _hop(node_id: str, scid: str, direction: int, amount_msat: int, delay: int) -> Json:
    return {
        "id": node_id,
        "channel": scid,
        "direction": direction,
        "amount_msat": amount_msat,
        "delay": delay,
        "style": "tlv",
    }


def route_fee_msat(route: Sequence[Mapping[str, Any]], amount_msat: int) -> int:
    return int(route[0]["amount_msat"]) - amount_msat if route else 0


def validate_route(
    route: Sequence[Mapping[str, Any]],
    *,
    our_id: str,
    source_scid: str,
    dest_scid: str,
    amount_msat: int,
    ceiling_msat: int,
) -> str | None:
    """Why ``route`` must not be sent (a reason code), or None when it is sound."""
    if len(route) < 3:
        return "route_too_short"
    if route[0].get("channel") != source_scid:
        return "route_wrong_first_hop"
    last = route[-1]
    if last.get("channel") != dest_scid or last.get("id") != our_id:
        return "route_wrong_last_hop"
    if any(h.get("id") == our_id for h in route[:-1]):
        return "route_loops_through_us"
    if int(last.get("amount_msat", -1)) != amount_msat:
        return "route_wrong_final_amount"
    amounts = [int(h.get("amount_msat", 0)) for h in route]
    if any(b > a for a, b in itertools.pairwise(amounts)):
        return "route_amount_increases"
    if route_fee_msat(route, amount_msat) > ceiling_msat:
        return "below_hold_margin"
    return None


def hops_through_us(route: Sequence[Mapping[str, Any]], our_id: str) -> list[str]:
    """``scid/direction`` of the hops other than the last that enter or leave our node (to
    exclude on a retry after ``route_loops_through_us``)."""
    out = []
    for i, hop in enumerate(route[:-1]):
        nxt = route[i + 1] if i + 1 < len(route) - 1 else None
        if hop.get("id") == our_id:
            out.append(f"{hop['channel']}/{hop['direction']}")
            if nxt is not None:
                out.append(f"{nxt['channel']}/{nxt['direction']}")
    return out
