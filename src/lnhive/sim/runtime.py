"""Many simulated nodes on one asyncio event loop, in the foreground or in a thread.

`SimRuntime` is the async core; `SimThread` runs it on a background thread with
blocking wrappers, for tests and for the CLI.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from lnhive.sim.node import NodeConfig, SimNode

T = TypeVar("T")

_CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def node_secret(seed: int | str, name: str) -> bytes:
    """A node's key, derived from the scenario seed and its name so runs repeat."""
    counter = 0
    while True:
        digest = hashlib.sha256(f"lnhive-sim/node-key/v1/{seed}/{name}/{counter}".encode()).digest()
        if 0 < int.from_bytes(digest, "big") < _CURVE_ORDER:
            return digest
        counter += 1


class SimWorld:
    """The world the nodes share. Holds the block height until the network model does."""

    def __init__(self) -> None:
        self.height = 100
        self.nodes: dict[str, SimNode] = {}

    def blockheight(self) -> int:
        return self.height

    def in_gossip(self, viewer: str, node_id: str) -> bool:
        return False  # no channels yet, so nobody is announced


class SimRuntime:
    def __init__(self, base_dir: Path, seed: int | str = 0) -> None:
        self.base_dir = Path(base_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.world = SimWorld()
        self.nodes: dict[str, SimNode] = {}
        self._watchers: list[asyncio.Task[None]] = []

    async def start_node(self, config: NodeConfig) -> SimNode:
        if config.name in self.nodes:
            raise ValueError(f"node {config.name} already exists")
        secret = config.secret or node_secret(self.seed, config.name)
        node = SimNode(self.base_dir, config, secret, self.world)
        self.nodes[config.name] = node
        self.world.nodes[node.node_id] = node
        await node.start()  # raises PluginStartError when the node aborts
        self._watchers.append(asyncio.create_task(self._watch(node)))
        return node

    async def _watch(self, node: SimNode) -> None:
        """A node asked to stop (`stop` command or an abort) shuts itself down alone."""
        await node.wait_stop_requested()
        await asyncio.sleep(0.05)  # let the `stop` reply go out first
        await node.stop()

    async def stop_node(self, name: str) -> None:
        node = self.nodes[name]
        await node.stop()

    async def stop_all(self) -> None:
        await asyncio.gather(*(n.stop() for n in self.nodes.values()), return_exceptions=True)
        for task in self._watchers:
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)

    def describe(self) -> dict[str, Any]:
        """The content of `sim.json`: how to reach every node."""
        return {
            "pid": os.getpid(),
            "base_dir": str(self.base_dir),
            "nodes": {
                name: {
                    "id": n.node_id,
                    "lightning_dir": str(n.lightning_dir),
                    "rpc": str(n.rpc_path),
                    "state": n.state,
                    "rest_port": getattr(n, "rest_port", None),
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

    def __init__(self, base_dir: Path, seed: int | str = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="lnhive-sim", daemon=True)
        self._thread.start()
        self.runtime: SimRuntime = self.run(self._make(base_dir, seed))

    @staticmethod
    async def _make(base_dir: Path, seed: int | str) -> SimRuntime:
        return SimRuntime(base_dir, seed)

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
            self.loop.close()
