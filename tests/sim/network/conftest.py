"""Fixtures: small networks under a virtual clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.sim.network import Event, InProcessNode, Network
from lnhive.sim.network.channel import Channel


@dataclass
class Line:
    """a — b — c — d, 1,000,000 sat channels opened by the left node, gossip settled."""

    clock: VirtualClock
    net: Network
    ids: dict[str, str]
    chans: dict[str, Channel]
    events: list[Event] = field(default_factory=list)

    def api(self, name: str) -> InProcessNode:
        return InProcessNode(self.net, name)

    def topics(self, node: str, topic: str) -> list[dict[str, Any]]:
        nid = self.ids[node]
        return [e.payload for e in self.events if e.node_id == nid and e.topic == topic]


def make_line(names: str = "abcd", capacity: int = 1_000_000, seed: int = 7) -> Line:
    clock = VirtualClock()
    net = Network(clock, seed=seed, gossip_delay=60.0)
    line = Line(clock, net, {}, {})
    net.subscribe(line.events.append)
    for n in names:
        line.ids[n] = net.add_node(n)
    for left, right in itertools.pairwise(names):
        line.chans[left + right] = net.open_channel(left, right, capacity)
    clock.advance(120)  # past the gossip delay: everyone knows every channel
    return line


@pytest.fixture
def line() -> Line:
    return make_line()
