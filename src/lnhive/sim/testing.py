"""Test harness: start stand-in nodes with plugins and talk to them as to real ones.

In the spirit of pyln-testing's `node_factory`: each node is reached through a real
`LightningRpc` on its socket, plugins run as real subprocesses in their own process
groups, and `close()` tears every process down. Plugin tests in every issue use it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pyln.client import LightningRpc

from lnhive.sim.host import PluginSpec
from lnhive.sim.node import NodeConfig, SimNode
from lnhive.sim.runtime import SimThread

PluginArg = str | PluginSpec | tuple[str, dict[str, Any]]


def _spec(p: PluginArg) -> PluginSpec:
    if isinstance(p, PluginSpec):
        return p
    if isinstance(p, tuple):
        return PluginSpec(path=p[0], options=dict(p[1]))
    return PluginSpec(path=p)


class TestNode:
    """A started node: `rpc` is a real LightningRpc on the node's socket."""

    __test__ = False  # not a pytest test class

    def __init__(self, factory: NodeFactory, node: SimNode) -> None:
        self.factory = factory
        self.sim = node
        self.name = node.name
        self.info_id = node.node_id
        self.rpc = LightningRpc(str(node.rpc_path))

    @property
    def id(self) -> str:
        return self.info_id

    @property
    def rest_url(self) -> str:
        port = self.sim.rest_port
        if port is None:
            raise RuntimeError(f"{self.name} was started without REST (get_node(rest=True))")
        return f"http://127.0.0.1:{port}"

    def wait_for_log(self, pattern: str, timeout: float = 30.0) -> str:
        return self.sim.logs.wait_for(pattern, timeout)

    def plugin_pids(self) -> list[int]:
        return [p.pid for p in self.sim.host.plugins if p.pid is not None]

    def stop(self) -> None:
        self.factory.thread.run(self.sim.stop())


class NodeFactory:
    """Starts nodes on one stand-in runtime and cleans everything up in `close()`."""

    def __init__(self, base_dir: Path, seed: int | str = 0, **runtime_options: Any) -> None:
        self.base_dir = Path(base_dir)
        self.thread = SimThread(self.base_dir, seed, **runtime_options)
        self.nodes: list[TestNode] = []
        self._count = 0

    def get_node(
        self,
        name: str | None = None,
        plugins: Sequence[PluginArg] = (),
        *,
        important: Sequence[PluginArg] = (),
        developer: bool = True,
        allow_deprecated_apis: bool = True,
        startup_timeout: float = 120.0,
        shutdown_grace: float = 30.0,
        secret: bytes | None = None,
        rest: bool = False,
    ) -> TestNode:
        name = name or f"l{self._count + 1}"
        self._count += 1
        specs = [_spec(p) for p in plugins]
        for p in important:
            spec = _spec(p)
            spec.important = True
            specs.append(spec)
        config = NodeConfig(
            name=name,
            developer=developer,
            allow_deprecated_apis=allow_deprecated_apis,
            plugins=specs,
            startup_timeout=startup_timeout,
            shutdown_grace=shutdown_grace,
            secret=secret,
            rest_port=0 if rest else None,
        )
        node = TestNode(self, self.thread.start_node(config))
        self.nodes.append(node)
        return node

    def get_nodes(self, n: int, plugins: Sequence[PluginArg] = (), **kw: Any) -> list[TestNode]:
        return [self.get_node(plugins=plugins, **kw) for _ in range(n)]

    # ------------------------------------------------------------ chain and channels

    @property
    def network(self) -> Any:
        """The network model behind the nodes (read it only from the test thread
        between calls; the runtime thread owns it)."""
        return self.thread.runtime.network

    def mine(self, blocks: int = 1) -> int:
        return self.thread.run(self.thread.runtime.mine(blocks))

    def open_channel(
        self,
        a: TestNode,
        b: TestNode,
        amount_sat: int = 1_000_000,
        *,
        push_msat: int = 0,
        announce: bool = True,
    ) -> dict[str, Any]:
        """Connect, fund, open and confirm a channel from `a` to `b` through the nodes' own
        commands (hooks and notifications fire); returns fundchannel's result."""
        return self.thread.run(
            self.thread.runtime.open_channel(
                a.name, b.name, amount_sat, push_msat=push_msat, announce=announce
            )
        )

    def join_nodes(
        self,
        nodes: Sequence[TestNode],
        amount_sat: int = 1_000_000,
        *,
        push_msat: int = 0,
        wait_for_announce: bool = True,
    ) -> None:
        """Channels between consecutive nodes: nodes[0] -> nodes[1] -> ..."""
        for a, b in itertools.pairwise(nodes):
            self.open_channel(a, b, amount_sat, push_msat=push_msat)
        if wait_for_announce:
            self.wait_for_gossip(nodes, 2 * (len(nodes) - 1))

    def line_graph(
        self,
        n: int,
        amount_sat: int = 1_000_000,
        plugins: Sequence[PluginArg] = (),
        *,
        push_msat: int = 0,
        wait_for_announce: bool = True,
        **kw: Any,
    ) -> list[TestNode]:
        """n nodes in a line, each funding a channel to the next (as pyln-testing's)."""
        nodes = self.get_nodes(n, plugins=plugins, **kw)
        self.join_nodes(nodes, amount_sat, push_msat=push_msat, wait_for_announce=wait_for_announce)
        return nodes

    def wait_for_gossip(
        self, nodes: Sequence[TestNode], directions: int, timeout: float = 30.0
    ) -> None:
        """Wait until every node sees `directions` channel directions in `listchannels`."""
        wait_for(
            lambda: all(len(n.rpc.listchannels()["channels"]) >= directions for n in nodes), timeout
        )

    def violations(self) -> list[str]:
        return [f"{n.name}: {v}" for n in self.nodes for v in n.sim.violations]

    def close(self) -> None:
        self.thread.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll until `predicate()` is truthy; return its value or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)
