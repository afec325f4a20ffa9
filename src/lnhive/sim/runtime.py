"""Many simulated nodes on one asyncio event loop, in the foreground or in a thread.

`SimRuntime` is the async core: it owns the network model (under the wall clock),
routes the model's notifications to each node's plugins, and drives the model's
generators — payments and custom messages — awaiting every hook point at the node it
belongs to. `SimThread` runs a runtime on a background thread with blocking wrappers,
for tests and for the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Coroutine, Generator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from lnhive.core.clock import WallClock
from lnhive.sim.fidelity import FidelityCheck
from lnhive.sim.network.events import CONTINUE, Event, HookCall
from lnhive.sim.network.messages import mailer
from lnhive.sim.network.model import Network
from lnhive.sim.node import NodeConfig, SimNode

T = TypeVar("T")


def seed_int(seed: int | str) -> int:
    """Scenario seeds may be words; the model wants an integer."""
    if isinstance(seed, int):
        return seed
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")


class SimRuntime:
    def __init__(
        self,
        base_dir: Path,
        seed: int | str = 0,
        *,
        block_interval: float | None = None,
        gossip_delay: float = 1.0,
        fidelity: FidelityCheck | None = None,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        # Gossip spreads in about a second, as on developer nodes with fast gossip.
        self.network = Network(WallClock(), seed_int(seed), gossip_delay=gossip_delay)
        self.nodes: dict[str, SimNode] = {}
        self.by_id: dict[str, SimNode] = {}
        self.block_interval = block_interval
        self.fidelity = fidelity  # checks every node's output against CLN's contract (tests)
        self._tasks: list[asyncio.Task[Any]] = []
        self._delivering: asyncio.Task[None] | None = None
        self.network.subscribe(self._on_event)

    # ---------------------------------------------------------------- nodes

    async def start_node(self, config: NodeConfig) -> SimNode:
        if config.name in self.nodes:
            raise ValueError(f"node {config.name} already exists")
        node_id = self.network.add_node(
            config.name, config.alias or config.name, secret=config.secret
        )
        node = SimNode(self.base_dir, config, self, node_id)
        self.nodes[config.name] = node
        self.by_id[node_id] = node
        if self.block_interval and not any(t.get_name() == "blocks" for t in self._tasks):
            self._tasks.append(asyncio.create_task(self._block_timer(), name="blocks"))
        await node.start()  # raises PluginStartError when the node aborts
        self._tasks.append(asyncio.create_task(self._watch(node)))
        return node

    async def _watch(self, node: SimNode) -> None:
        """A node asked to stop (`stop` command or an abort) shuts itself down alone."""
        await node.wait_stop_requested()
        await asyncio.sleep(0.05)  # let the `stop` reply go out first
        await node.stop()

    async def stop_all(self) -> None:
        await asyncio.gather(*(n.stop() for n in self.nodes.values()), return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        if self._delivering is not None:
            self._delivering.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def node_running(self, node_id: str) -> SimNode | None:
        node = self.by_id.get(node_id)
        return node if node is not None and node.state in ("starting", "running") else None

    # ---------------------------------------------------------------- the model's events and hooks

    def _on_event(self, ev: Event) -> None:
        node = self.node_running(ev.node_id)
        if node is not None:
            node.host.emit(ev.topic, ev.payload)

    async def drive(self, gen: Generator[HookCall, dict[str, Any], T]) -> T:
        """Run a model generator, answering each hook point with that node's plugins."""
        try:
            call = next(gen)
            while True:
                node = self.node_running(call.node_id)
                reply = await node.model_hook(call) if node is not None else CONTINUE
                call = gen.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def schedule_delivery(self) -> None:
        """Deliver queued custom messages in the background, in send order, one task at a time."""
        if self._delivering is None or self._delivering.done():
            self._delivering = asyncio.create_task(self._deliver())

    async def _deliver(self) -> None:
        box = mailer(self.network)
        while box.pending():
            try:
                await self.drive(box.deliver())
            except Exception as exc:  # a broken hook reply must not stop later messages
                for node in self.nodes.values():
                    node.log("broken", "connectd", f"custom message delivery failed: {exc!r}")

    # ---------------------------------------------------------------- chain and channels

    async def mine(self, blocks: int = 1) -> int:
        return self.network.mine(blocks)

    async def _block_timer(self) -> None:
        assert self.block_interval
        while True:
            await asyncio.sleep(self.block_interval)
            self.network.mine(1)

    async def open_channel(
        self, a: str, b: str, amount_sat: int, *, push_msat: int = 0, announce: bool = True
    ) -> dict[str, Any]:
        """Connect, fund `a`'s wallet if needed, open and mine until the channel is
        normal and announced — through the nodes' own commands, so hooks and
        notifications fire as on a real node."""
        na, nb = self.nodes[a], self.nodes[b]
        from lnhive.sim.network.model import FUNDING_FEE_SAT

        need = amount_sat + FUNDING_FEE_SAT
        if self.network.wallet_msat(na.node_id) < need * 1000:
            self.network.fund_wallet(na.node_id, need)
        await na.call("connect", {"id": nb.node_id})
        params: dict[str, Any] = {"id": nb.node_id, "amount": amount_sat, "announce": announce}
        if push_msat:
            params["push_msat"] = push_msat
        result: dict[str, Any] = await na.call("fundchannel", params)
        await self.mine(max(self.network.funding_confirms, 6))
        return result

    # ---------------------------------------------------------------- sim.json

    def describe(self) -> dict[str, Any]:
        """The content of `sim.json`: how to reach every node."""
        return {
            "pid": os.getpid(),
            "base_dir": str(self.base_dir),
            "blockheight": self.network.blockheight,
            "nodes": {
                name: {
                    "id": n.node_id,
                    "lightning_dir": str(n.lightning_dir),
                    "rpc": str(n.rpc_path),
                    "state": n.state,
                    "rest_port": n.rest_port,
                }
                for name, n in self.nodes.items()
            },
        }

    def write_descriptor(self) -> Path:
        path = self.base_dir / "sim.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.describe(), indent=2))
        os.replace(tmp, path)
        return path


class SimThread:
    """A SimRuntime on a private event loop thread, driven with blocking calls."""

    def __init__(self, base_dir: Path, seed: int | str = 0, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="lnhive-sim", daemon=True)
        self._thread.start()
        self.runtime: SimRuntime = self.run(self._make(base_dir, seed, options))

    @staticmethod
    async def _make(base_dir: Path, seed: int | str, options: dict[str, Any]) -> SimRuntime:
        return SimRuntime(base_dir, seed, **options)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 300) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def start_node(self, config: NodeConfig) -> SimNode:
        return self.run(self.runtime.start_node(config))

    def close(self) -> None:
        if not self.loop.is_running():
            return
        try:
            self.run(self.runtime.stop_all(), timeout=120)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            with contextlib.suppress(RuntimeError):
                self.loop.close()
