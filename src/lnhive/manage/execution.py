"""Running one management action against the node: the RPC record, pre-checks, dry run
(comms spec §1 stages 13-14). The handlers live in :mod:`~lnhive.manage.executor_actions`
and :mod:`~lnhive.manage.executor_reads`; :mod:`~lnhive.manage.executor` drives them.

Translation uses only the validated params of a :class:`PreparedAction` and a fixed table
(one handler per action), never pass-through. Pre-checks run first against the live
:class:`NodeSnapshot` (the channel exists and is live, the peer is connected, funds
suffice, HTLC limits fit the capacity); then the RPCs run, each recorded in
``rpc_calls``. In dry-run mode the pre-checks and reads run but no state-changing RPC
is sent: the planned calls are recorded with ``"dry_run": true``.

Fee actions go to cl-revenue-ops' ``revenue-policy`` when that plugin is loaded (found
with ``help``), else to ``setchannel``. An action whose RPC the node lacks (``-32601``)
or that this executor does not map is ``unsupported`` with the reason; a node error is
``execution_failed`` with CLN's message. Secrets (preimages) never reach a result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.errors import InvalidParams, NodeRpcError, Unsupported
from lnhive.core.store import Store
from lnhive.manage.snapshot import SNAPSHOT_PEERCHANNELS, ChannelState, NodeSnapshot

METHOD_NOT_FOUND = -32601
SECRET_KEYS = frozenset({"payment_preimage", "preimage", "payment_secret"})

MIGRATIONS: tuple[str, ...] = (
    """
CREATE TABLE comms_saved_policies (
    short_channel_id TEXT PRIMARY KEY,
    htlc_minimum_msat INTEGER NOT NULL,
    htlc_maximum_msat INTEGER NOT NULL,
    saved_at REAL NOT NULL);
CREATE TABLE comms_banned_peers (
    node_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    banned_at REAL NOT NULL);
""",
)
"""The executor's tables: HTLC limits saved by ``disable_*``, and the comms deny list."""


class ExecutionFailed(NodeRpcError):
    """A node call failed while executing; ``calls`` are the RPCs made so far."""

    symbol = "execution_failed"

    def __init__(self, message: str, calls: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.calls = list(calls or [])


def scrub(value: Any) -> Any:
    """``value`` without secret-bearing members, at any depth."""
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items() if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def node_methods(node: NodeApi) -> frozenset[str]:
    """The commands the node serves (``help``); empty when ``help`` is not served."""
    try:
        entries = node.call("help", {}).get("help", [])
    except Exception:
        return frozenset()
    return frozenset(str(e.get("command", "")).split(" ", 1)[0] for e in entries)


def capabilities_of(methods: frozenset[str]) -> frozenset[str]:
    """Catalogue capabilities (``ActionSpec.capability``) the node's commands give."""
    caps = set()
    if "revenue-config" in methods:
        caps.add("revenue-ops")
    if "hive-rebalance" in methods:
        caps.add("cl-hive")
    if "backup-now" in methods:
        caps.add("backup")
    if {"splice_init", "splice_update", "splice_signed"} <= methods:
        caps.add("splicing")
    return frozenset(caps)


@dataclass
class Execution:
    """What running an action did."""

    result: Any
    rpc_calls: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False


LocalAction = Callable[[dict[str, Any]], Any]
"""A comms-local action (``comms_status``, ``capabilities``, ``revoke_all_credentials``)."""


class Run:
    """One execution: the node, the snapshot, the RPC record."""

    def __init__(
        self,
        node: NodeApi,
        snapshot: NodeSnapshot,
        *,
        methods: frozenset[str],
        skip: tuple[str, ...],
        dry_run: bool,
        store: Store,
        now: float,
    ) -> None:
        self.node = node
        self.snapshot = snapshot
        self.methods = methods
        self.skip = skip
        self.dry_run = dry_run
        self.store = store
        self.now = now
        self.calls: list[dict[str, Any]] = []
        self._wrote = False

    def _call(self, method: str, params: dict[str, Any], *, write: bool) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if v is not None}
        record: dict[str, Any] = {"method": method, "params": params}
        self._wrote = self._wrote or write
        if write and self.dry_run:
            self.calls.append({**record, "ok": True, "dry_run": True})
            return {}
        try:
            out = self.node.call(method, params)
        except Exception as exc:
            code = getattr(exc, "code", None)
            self.calls.append({**record, "ok": False})
            if code == METHOD_NOT_FOUND:
                raise Unsupported(
                    f"this node does not serve {method}",
                    details={"reason": f"{method} is not available on this node"},
                ) from exc
            text = getattr(exc, "cln_message", None) or getattr(exc, "message", None) or str(exc)
            raise ExecutionFailed(f"{method} failed: {text}", self.calls) from exc
        self.calls.append({**record, "ok": True})
        return out

    def read(self, method: str, **params: Any) -> dict[str, Any]:
        """A read RPC. ``listpeerchannels`` without filters is answered from the
        request's snapshot when it holds that answer (read moments earlier in the same
        request: one node round trip less) and nothing was written since; the record says
        so (``snapshot: true``)."""
        if (
            method == SNAPSHOT_PEERCHANNELS
            and not self._wrote
            and not any(v is not None for v in params.values())
        ):
            held = self.snapshot.extra.get(SNAPSHOT_PEERCHANNELS)
            if isinstance(held, dict):
                self.calls.append({"method": method, "params": {}, "ok": True, "snapshot": True})
                return held
        return self._call(method, params, write=False)

    def write(self, method: str, **params: Any) -> dict[str, Any]:
        return self._call(method, params, write=True)

    # -- pre-checks ------------------------------------------------------------------

    def channel(self, ref: str) -> ChannelState:
        ch = self.snapshot.channel(ref)
        if ch is None:
            raise InvalidParams(f"no open channel {ref}", details={"channel": ref})
        return ch

    def targets(self, refs: Any) -> list[ChannelState]:
        """The channels ``refs`` names (``"all"``: every live one), skipped ones left out."""
        if refs == "all" or refs is None:
            chans = list(self.snapshot.channels)
        else:
            chans = [self.channel(r) for r in refs]
        return [c for c in chans if not any(c.matches(s) for s in self.skip)]

    def banned(self, node_id: str) -> bool:
        row = self.store.query_one("SELECT 1 FROM comms_banned_peers WHERE node_id = ?", (node_id,))
        return row is not None


Handler = Callable[[Run, dict[str, Any]], Any]
