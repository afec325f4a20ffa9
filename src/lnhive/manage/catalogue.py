"""The management schema catalogue (comms spec §2.2) and flow stages 7-8.

Each family ``hive:<family>/v1`` is a table of :class:`ActionSpec`: typed parameters
with bounds, the CLN RPC calls it maps to, the permission flag and tier it needs, its
danger vectors per parameter band, and whether this node can perform it.
:func:`prepare` turns an advisor's ``{"action","params"}`` payload into a
:class:`PreparedAction` — validated, scored, complete — or raises the §5.5 error.
The data lives in :mod:`lnhive.manage.schemas`, one module per family group.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lnhive.core.errors import InvalidParams, UnknownAction, UnknownSchema, Unsupported
from lnhive.manage.danger import DangerVector, Tier
from lnhive.manage.params import Param, missing_params, validate_params
from lnhive.manage.snapshot import EMPTY_SNAPSHOT, NodeSnapshot

SCHEMA_PREFIX = "hive:"
SCHEMA_VERSION = "v1"
COMPLETE_FROM = 5
"""From this danger score every declared parameter must be present (Reg)."""


class Effect(enum.StrEnum):
    """What an action does, as the policy rules see it."""

    READ = "read"
    FEE_CHANGE = "fee_change"
    HTLC_CHANGE = "htlc_change"
    FORWARDING = "forwarding"
    REBALANCE = "rebalance"
    OPEN = "open"
    PROPOSAL = "proposal"
    """Never executes: always held for the operator."""
    CLOSE = "close"
    FORCE_CLOSE = "force_close"
    FORCE_CLOSE_ALL = "force_close_all"
    SPLICE = "splice"
    CONNECT = "connect"
    PEER = "peer"
    PAYMENT = "payment"
    ONCHAIN_SEND = "onchain_send"
    SWEEP = "sweep"
    """Sends the whole wallet."""
    PLUGIN_START = "plugin_start"
    PLUGIN_STOP = "plugin_stop"
    CONFIG = "config"
    ALL_CHANNELS = "all_channels"
    """Touches every channel (expanded from the snapshot)."""
    WRITE = "write"


class Support(enum.StrEnum):
    ALWAYS = "always"
    NEEDS = "needs"
    """Only when the node has ``ActionSpec.capability``."""
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Band:
    """One parameter band of an action: its danger vector and the tier it needs."""

    name: str
    vector: DangerVector
    tier: Tier | None = None
    """``None``: the action's tier."""

    @property
    def score(self) -> int:
        return self.vector.score


Selector = Callable[[Mapping[str, Any], NodeSnapshot], str]
Check = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    family: str
    name: str
    tier: Tier
    params: tuple[Param, ...]
    bands: tuple[Band, ...]
    cln: str
    """How it maps onto the node, for docs and ``capabilities``."""
    rpc: tuple[str, ...]
    """The CLN (or companion plugin) RPC methods it may call."""
    permission: str
    effects: frozenset[Effect]
    select: Selector | None = None
    check: Check | None = None
    alternatives: tuple[frozenset[str], ...] = ()
    support: Support = Support.ALWAYS
    capability: str = ""
    reason: str = ""
    """Why it is unsupported (``NEVER``) or what it needs (``NEEDS``)."""

    @property
    def schema_id(self) -> str:
        return schema_id(self.family)

    @property
    def key(self) -> str:
        """``schema#action``, the form ``allowed_actions`` uses."""
        return f"{self.schema_id}#{self.name}"

    def band(self, name: str) -> Band:
        for b in self.bands:
            if b.name == name:
                return b
        raise KeyError(name)

    def band_for(self, params: Mapping[str, Any], snapshot: NodeSnapshot) -> Band:
        if self.select is None:
            return self.bands[0]
        return self.band(self.select(params, snapshot))

    def tier_of(self, band: Band) -> Tier:
        return band.tier if band.tier is not None else self.tier

    @property
    def scores(self) -> tuple[int, ...]:
        return tuple(b.score for b in self.bands)

    @property
    def is_read(self) -> bool:
        return Effect.READ in self.effects

    def supported(self, capabilities: Iterable[str]) -> bool:
        if self.support is Support.ALWAYS:
            return True
        if self.support is Support.NEVER:
            return False
        return self.capability in set(capabilities)


def schema_id(family: str) -> str:
    return f"{SCHEMA_PREFIX}{family}/{SCHEMA_VERSION}"


@dataclass(frozen=True, slots=True)
class PreparedAction:
    """A validated, scored action: everything later stages need about the request."""

    spec: ActionSpec
    params: dict[str, Any]
    band: Band
    danger: int
    vector: DangerVector
    tier: Tier

    @property
    def schema_id(self) -> str:
        return self.spec.schema_id

    @property
    def action(self) -> str:
        return self.spec.name


@dataclass
class Catalogue:
    """Every family and action, keyed by schema id."""

    actions: dict[str, dict[str, ActionSpec]] = field(default_factory=dict)

    def add(self, spec: ActionSpec) -> None:
        family = self.actions.setdefault(spec.schema_id, {})
        if spec.name in family:
            raise ValueError(f"duplicate action {spec.key}")
        family[spec.name] = spec

    @property
    def schema_ids(self) -> tuple[str, ...]:
        return tuple(self.actions)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(s[len(SCHEMA_PREFIX) : -len(SCHEMA_VERSION) - 1] for s in self.actions)

    def all(self) -> list[ActionSpec]:
        return [spec for family in self.actions.values() for spec in family.values()]

    def get(self, schema_type: str, action: str) -> ActionSpec:
        family = self.actions.get(schema_type)
        if family is None:
            raise UnknownSchema(f"unknown schema {schema_type!r}", details={"schema": schema_type})
        spec = family.get(action)
        if spec is None:
            raise UnknownAction(
                f"unknown action {action!r} in {schema_type}",
                details={"schema": schema_type, "action": action},
            )
        return spec

    def unsupported(self, capabilities: Iterable[str] = ()) -> list[dict[str, str]]:
        """The ``unsupported_actions`` list of a ``capabilities`` reply."""
        caps = set(capabilities)
        return [
            {"schema": s.schema_id, "action": s.name, "reason": s.reason}
            for s in self.all()
            if not s.supported(caps)
        ]

    def capabilities(self, version: str, capabilities: Iterable[str] = ()) -> dict[str, Any]:
        return {
            "implementation": "lightning-hive",
            "version": version,
            "supported_schemas": list(self.schema_ids),
            "unsupported_actions": self.unsupported(capabilities),
        }


def require_supported(spec: ActionSpec, capabilities: Iterable[str]) -> None:
    """Raise :class:`Unsupported` (flow stage 13) if this node cannot perform ``spec``."""
    if not spec.supported(capabilities):
        raise Unsupported(
            f"{spec.key} is not supported: {spec.reason}",
            details={"schema": spec.schema_id, "action": spec.name, "reason": spec.reason},
        )


def prepare(
    catalogue: Catalogue,
    schema_type: Any,
    payload: Any,
    snapshot: NodeSnapshot = EMPTY_SNAPSHOT,
) -> PreparedAction:
    """Flow stages 7-8: known schema and action, typed in-bounds params, no extras,
    the danger score from params and live state, and every param present when D >= 5."""
    if not isinstance(schema_type, str):
        raise UnknownSchema("schema_type must be a string")
    if not isinstance(payload, Mapping) or set(payload) - {"action", "params"}:
        raise InvalidParams('schema_payload must be {"action", "params"}')
    action = payload.get("action")
    if not isinstance(action, str):
        raise InvalidParams("schema_payload.action must be a string")
    spec = catalogue.get(schema_type, action)
    raw = payload.get("params", {})
    params = validate_params(spec.params, raw, alternatives=spec.alternatives)
    if spec.check is not None:
        spec.check(params)
    band = spec.band_for(params, snapshot)
    if band.score >= COMPLETE_FROM:
        missing = missing_params(spec.params, params, spec.alternatives)
        if missing:
            raise InvalidParams(
                f"danger {band.score} actions need every param; missing {missing}",
                details={"missing": missing},
            )
    return PreparedAction(
        spec=spec,
        params=params,
        band=band,
        danger=band.score,
        vector=band.vector,
        tier=spec.tier_of(band),
    )
