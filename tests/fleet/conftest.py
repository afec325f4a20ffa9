"""Nodes of the in-process network model, for signing and verifying envelopes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.sim.network import InProcessNode, Network


@dataclass
class Trio:
    clock: VirtualClock
    net: Network
    a: InProcessNode
    b: InProcessNode
    c: InProcessNode


@pytest.fixture
def trio() -> Trio:
    clock = VirtualClock()
    net = Network(clock, 4)
    for name in ("a", "b", "c"):
        net.add_node(name)
    net.connect("a", "b")
    net.connect("b", "c")
    return Trio(
        clock, net, InProcessNode(net, "a"), InProcessNode(net, "b"), InProcessNode(net, "c")
    )
