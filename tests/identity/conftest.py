"""Fixtures: a stand-in node model under a virtual clock and the archon service on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.identity.archon import Archon
from lnhive.sim.network import InProcessNode, Network

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def make_node(seed: int = 7, name: str = "a") -> tuple[VirtualClock, InProcessNode]:
    clock = VirtualClock(T0)
    net = Network(clock, seed=seed)
    net.add_node(name)
    return clock, InProcessNode(net, name)


@pytest.fixture
def clock_node() -> tuple[VirtualClock, InProcessNode]:
    return make_node()


@pytest.fixture
def archon(tmp_path: Path, clock_node: tuple[VirtualClock, InProcessNode]) -> Iterator[Archon]:
    clock, node = clock_node
    service = Archon(node, str(tmp_path / "archon.sqlite3"), clock)
    try:
        yield service
    finally:
        service.close()
