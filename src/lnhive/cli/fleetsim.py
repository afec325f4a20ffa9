r"""Many cl-hive services in one process, over the stand-in's in-process network model.

Fifty plugin processes do not fit two cores, so the fleet benchmark, the protocol
tests and anything else that needs a large fleet run :class:`~lnhive.fleet.hive.Hive`
services directly on :class:`~lnhive.sim.network.InProcessNode`\ s under a virtual
clock. Each node's custom messages are delivered by the model to the receiver's
``custommsg`` hook point, which :class:`Fleet` answers by queueing into the receiving
node's :class:`Hive` — exactly what the plugin's hook does. :meth:`Fleet.settle` then
runs every node's worker step (tick, process, flush) until nothing moves, one hop
per round.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lnhive.core.clock import VirtualClock
from lnhive.fleet.hive import Hive, HiveOptions
from lnhive.sim.network import InProcessNode, Network
from lnhive.sim.network.events import HookCall


class Fleet:
    def __init__(
        self, tmp_path: Path, names: list[str], *, options: HiveOptions | None = None
    ) -> None:
        self.clock = VirtualClock(1_767_225_600.0)
        self.net = Network(self.clock, 7)
        self.tmp_path = tmp_path
        self.options = options
        self.by_id: dict[str, Hive] = {}
        self.hives: dict[str, Hive] = {}
        self.nodes: dict[str, InProcessNode] = {}
        self.logs: list[tuple[str, str, str]] = []
        self.notices: list[tuple[str, str, dict[str, Any]]] = []
        self.rounds = 0
        for name in names:
            self.net.add_node(name)
        for name in names:
            self.start(name)

    def start(self, name: str) -> Hive:
        node = InProcessNode(self.net, name, answer=self._answer)
        self.nodes[name] = node

        def log(level: str, message: str, _name: str = name) -> None:
            self.logs.append((_name, level, message))

        def notify(topic: str, payload: dict[str, Any], _name: str = name) -> None:
            self.notices.append((_name, topic, payload))

        hive = Hive(
            node,
            self.tmp_path / f"{name}.sqlite3",
            clock=self.clock,
            options=self.options,
            log=log,
            notify=notify,
        )
        self.hives[name] = hive
        self.by_id[hive.me] = hive
        return hive

    def restart(self, name: str) -> Hive:
        self.hives[name].close()
        return self.start(name)

    def _answer(self, call: HookCall) -> dict[str, Any]:
        if call.hook == "custommsg":
            hive = self.by_id.get(call.node_id)
            if hive is not None:
                hive.receive(call.params["peer_id"], call.params["payload"])
        return {"result": "continue"}

    def id(self, name: str) -> str:
        return self.hives[name].me

    def connect(self, a: str, b: str) -> None:
        self.net.connect(a, b)
        self.hives[a].on_connect(self.id(b))
        self.hives[b].on_connect(self.id(a))

    def settle(self, max_rounds: int = 1_000) -> int:
        """Run workers until quiet; return the number of frames handled."""
        handled = 0
        self.rounds = 0
        for _ in range(max_rounds):
            self.rounds += 1
            progress = 0
            # one hop per round: frames sent during this round wait for the next, so
            # messages spread breadth-first, as they do when every link has a similar delay
            queued = {name: hive.queued() for name, hive in self.hives.items()}
            for name, hive in self.hives.items():
                hive.tick()
                progress += hive.process(limit=queued[name])
                progress += hive.flush_outbox()
            handled += progress
            if progress == 0 and not any(h.queued() for h in self.hives.values()):
                return handled
        raise AssertionError("the fleet did not settle")

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def close(self) -> None:
        for hive in self.hives.values():
            hive.close()
