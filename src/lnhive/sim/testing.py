"""Test harness: start stand-in nodes with plugins and talk to them as to real ones.

In the spirit of pyln-testing's `node_factory`: each node is reached through a real
`LightningRpc` on its socket, plugins run as real subprocesses in their own process
groups, and `close()` tears every process down. Plugin tests in every issue use it.
"""

from __future__ import annotations

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

    def __init__(self, base_dir: Path, seed: int | str = 0) -> None:
        self.base_dir = Path(base_dir)
        self.thread = SimThread(self.base_dir, seed)
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
