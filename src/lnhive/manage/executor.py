"""The executor: an accepted management action becomes real node RPC calls (comms spec §1
stages 13-14, §2.2; ARCHITECTURE §8.2).

:meth:`Executor.execute` looks the action up in a fixed table
(:data:`~lnhive.manage.executor_actions.WRITE_HANDLERS`,
:data:`~lnhive.manage.executor_reads.READ_HANDLERS`, and the comms-local actions the
plugin passes in), runs its pre-checks and RPCs, and returns an :class:`Execution`
(result, ``rpc_calls``). Anything not in the table is ``unsupported``. With
``dry_run`` no state-changing RPC is sent. The node's commands are found with ``help``
(cached for :data:`METHODS_TTL_S`), which is how cl-revenue-ops is detected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock
from lnhive.core.errors import Unsupported
from lnhive.core.store import Store
from lnhive.manage.catalogue import Effect, PreparedAction
from lnhive.manage.effects import ActionEffects
from lnhive.manage.execution import (
    Execution,
    ExecutionFailed,
    LocalAction,
    Run,
    capabilities_of,
    node_methods,
    scrub,
)
from lnhive.manage.executor_actions import WRITE_HANDLERS
from lnhive.manage.executor_reads import READ_HANDLERS
from lnhive.manage.snapshot import NodeSnapshot
from lnhive.manage.snapshot_from_node import channels_state_hash, funds_state_hash

__all__ = ["Execution", "ExecutionFailed", "Executor", "LocalAction", "state_hash_for"]

METHODS_TTL_S = 30.0
FUNDS_EFFECTS = frozenset(
    {
        Effect.OPEN,
        Effect.CLOSE,
        Effect.FORCE_CLOSE,
        Effect.FORCE_CLOSE_ALL,
        Effect.SPLICE,
        Effect.PAYMENT,
        Effect.ONCHAIN_SEND,
        Effect.SWEEP,
        Effect.REBALANCE,
        Effect.CONNECT,
        Effect.PEER,
    }
)


def _family(prepared: PreparedAction) -> str:
    return prepared.spec.family


def state_hash_for(effects: ActionEffects, snapshot: NodeSnapshot) -> str | None:
    """The hash of the state an action touches (spec §6): the policies of its channels,
    or the funds summary for actions that move money or peers; ``None`` for reads."""
    if effects.has(Effect.READ):
        return None
    if effects.kinds & FUNDS_EFFECTS:
        return funds_state_hash(snapshot)
    if effects.channels:
        return channels_state_hash(snapshot, effects.channels)
    return None


class Executor:
    def __init__(
        self,
        node: NodeApi,
        store: Store,
        clock: Clock,
        *,
        dry_run: bool = False,
        local: Mapping[tuple[str, str], LocalAction] | None = None,
    ) -> None:
        self.node = node
        self.store = store
        self.clock = clock
        self.dry_run = dry_run
        self.local: dict[tuple[str, str], LocalAction] = dict(local or {})
        self._methods: frozenset[str] = frozenset()
        self._methods_at: float | None = None

    def methods(self, *, refresh: bool = False) -> frozenset[str]:
        """The node's commands (``help``), cached for :data:`METHODS_TTL_S`."""
        now = self.clock.now()
        if refresh or self._methods_at is None or now - self._methods_at >= METHODS_TTL_S:
            self._methods = node_methods(self.node)
            self._methods_at = now
        return self._methods

    def capabilities(self) -> frozenset[str]:
        """Catalogue capabilities of this node (for :class:`~lnhive.manage.gate.Gate`)."""
        return capabilities_of(self.methods())

    def has_revenue_ops(self) -> bool:
        return "revenue-policy" in self.methods()

    def hive_peers(self) -> tuple[str, ...]:
        """Peers cl-revenue-ops runs with the ``hive`` strategy (empty without it)."""
        if not self.has_revenue_ops():
            return ()
        out = self.node.call("revenue-policy", {"action": "find", "strategy": "hive"})
        return tuple(str(p["peer_id"]) for p in out.get("policies", []) if "peer_id" in p)

    def mapped(self, schema_family: str, action: str) -> bool:
        key = (schema_family, action)
        return key in self.local or key in WRITE_HANDLERS or key in READ_HANDLERS

    def execute(
        self,
        prepared: PreparedAction,
        params: dict[str, Any],
        snapshot: NodeSnapshot,
        *,
        skip_channels: Iterable[str] = (),
        dry_run: bool | None = None,
    ) -> Execution:
        """Run ``prepared`` with ``params`` (validated, narrowed). Raises the §5.5 errors:
        ``invalid_params`` from a pre-check, ``unsupported``, ``execution_failed``
        (:class:`ExecutionFailed`, with the calls made so far)."""
        key = (_family(prepared), prepared.action)
        dry = self.dry_run if dry_run is None else dry_run
        if key in self.local:
            return Execution(result=self.local[key](params), dry_run=dry)
        handler = WRITE_HANDLERS.get(key) or READ_HANDLERS.get(key)
        if handler is None:
            reason = f"{prepared.spec.key} is not mapped by this executor"
            raise Unsupported(reason, details={"reason": reason})
        run = Run(
            self.node,
            snapshot,
            methods=self.methods(),
            skip=tuple(skip_channels),
            dry_run=dry,
            store=self.store,
            now=self.clock.now(),
        )
        result = handler(run, params)
        out = scrub(result)
        if dry and isinstance(out, dict):
            out = {**out, "dry_run": True}
        return Execution(result=out, rpc_calls=run.calls, dry_run=dry)
