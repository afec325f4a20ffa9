"""Each node's gossip view, evaluated lazily from timestamps (no timers).

A node sees its own channels and its own policy changes at once; every other node
sees a public channel ``gossip_delay`` seconds after it reached CHANNELD_NORMAL and a
policy change ``gossip_delay`` seconds after it was made. A node's announcement
(alias, colour, features) is known to others once one of its public channels is.
Closed channels (funding spent) disappear from every view at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lnhive.sim.network.channel import NORMAL, SHUTTING_DOWN, Channel, Policy

if TYPE_CHECKING:
    from lnhive.sim.network.model import Network
    from lnhive.sim.network.nodes import Node

#: Channel states whose channel_updates are still in the gossip (funding not yet spent).
_GOSSIP_STATES = frozenset(
    {NORMAL, SHUTTING_DOWN, "CLOSINGD_SIGEXCHANGE", "CLOSINGD_COMPLETE", "AWAITING_UNILATERAL"}
)


def channel_visible(chan: Channel, viewer: str, now: float, delay: float) -> bool:
    """Is ``chan`` in ``viewer``'s gossip view (listchannels, routing)?"""
    if chan.normal_since is None or chan.state not in _GOSSIP_STATES:
        return False
    if viewer == chan.node_ids[0] or viewer == chan.node_ids[1]:
        return True
    return chan.announce and now >= chan.normal_since + delay


def visible_policy(chan: Channel, side: int, viewer: str, now: float, delay: float) -> Policy:
    """The channel_update for direction ``side`` as ``viewer`` knows it at ``now``."""
    hist = chan.history[side]
    newest = hist[-1]
    if viewer == chan.node_ids[side]:
        return newest
    cutoff = now - delay
    if newest.timestamp <= cutoff:
        if len(hist) > 1:  # everyone has it now: forget the older updates
            del hist[:-1]
        return newest
    for i in range(len(hist) - 2, -1, -1):
        if hist[i].timestamp <= cutoff:
            return hist[i]
    return hist[0]


def channel_active(net: Network, chan: Channel) -> bool:
    """The ``active`` flag: channel normal and its peers connected."""
    if chan.state != NORMAL:
        return False
    a = net.nodes[chan.node_ids[0]]
    peer = a.peers.get(chan.node_ids[1])
    return peer is not None and peer.connected


def announcement_time(net: Network, node: Node) -> float | None:
    """When ``node`` first had a public channel in CHANNELD_NORMAL (its node_announcement)."""
    best: float | None = None
    for chan in node.channels:
        since = chan.normal_since
        if (
            chan.announce
            and since is not None
            and chan.state in _GOSSIP_STATES
            and (best is None or since < best)
        ):
            best = since
    return best


def node_announced_to(net: Network, node: Node, viewer: str, now: float) -> float | None:
    """The node_announcement timestamp ``viewer`` knows for ``node``, or None."""
    t = announcement_time(net, node)
    if t is None:
        return None
    if viewer == node.node_id or now >= t + net.gossip_delay:
        return t
    return None


def visible_channels(net: Network, viewer: str, now: float) -> list[Channel]:
    """All channels in ``viewer``'s gossip view, ordered by short channel id."""
    delay = net.gossip_delay
    out = [c for c in net.live_channels() if channel_visible(c, viewer, now, delay)]
    out.sort(key=lambda c: scid_key(c.scid or "0x0x0"))
    return out


def scid_key(scid: str) -> tuple[int, int, int]:
    b, t, o = scid.split("x")
    return int(b), int(t), int(o)
