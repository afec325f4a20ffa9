"""``InProcessNode``: the :class:`~lnhive.cln.api.NodeApi` of one node of the model.

A thin synchronous driver over :class:`~.commands.NodeCommands`: a call is bound as
lightningd binds it (:func:`lnhive.sim.params.bind_params`, with CLN's parameter
errors), run, and if the command passes hook points its generator is driven at once,
every hook answered by ``answer`` (default ``{"result": "continue"}``). Custom messages a
call queued are delivered before it returns. The node's notifications go to
``on_event`` if given. Failures raise :class:`lnhive.sim.errors.RpcError` with CLN's
codes and messages.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any, cast

from lnhive.cln.api import NodeApi
from lnhive.sim.errors import METHOD_NOT_FOUND, RpcError
from lnhive.sim.network.commands import COMMANDS, NodeCommands
from lnhive.sim.network.events import Event, HookCall
from lnhive.sim.network.messages import deliver_pending, has_pending
from lnhive.sim.network.model import Network
from lnhive.sim.network.payments import run_sync
from lnhive.sim.params import bind_params

Json = dict[str, Any]
Answer = Callable[[HookCall], dict[str, Any]]
Hooks = Generator[HookCall, dict[str, Any], Any]


class InProcessNode(NodeApi):
    """One node of ``network`` behind the NodeApi protocol."""

    def __init__(
        self,
        network: Network,
        node: str,
        *,
        on_event: Callable[[Event], None] | None = None,
        answer: Answer | None = None,
    ) -> None:
        self.net = network
        self.node_id = network.node(node).node_id
        self.commands = NodeCommands(network, self.node_id)
        self.answer = answer
        self._unsubscribe: Callable[[], None] | None = None
        if on_event is not None:
            me = self.node_id

            def _filter(ev: Event) -> None:
                if ev.node_id == me:
                    on_event(ev)

            self._unsubscribe = network.subscribe(_filter)

    def close_events(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def call(self, method: str, params: Json | None = None) -> Json:
        """Any served command by name (named or positional params, CLN's binding)."""
        if method not in COMMANDS:
            raise RpcError(METHOD_NOT_FOUND, f"Unknown command '{method}'")
        args = bind_params(method, {} if params is None else params)
        out: Any = self.commands.invoke(method, args)
        try:
            if inspect.isgenerator(out):
                out = run_sync(cast(Hooks, out), self.answer)
        finally:
            if has_pending(self.net):
                run_sync(deliver_pending(self.net), self.answer)
        result: Json = out
        return result
