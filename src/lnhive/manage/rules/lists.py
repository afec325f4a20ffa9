"""List rules: peer and channel restrictions, approved plugins, destinations, blocked schemas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from lnhive.core.errors import InvalidInput
from lnhive.manage.catalogue import Effect
from lnhive.manage.patterns import any_matches
from lnhive.manage.rules.base import (
    Outcome,
    RuleContext,
    Verdict,
    allow_tighter,
    deny_tighter,
    refuse,
)
from lnhive.manage.snapshot import NodeSnapshot

MAX_ITEMS = 1000


def _strings(value: Any, rule: str, max_items: int = MAX_ITEMS) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > max_items:
        raise InvalidInput(f"{rule} must be a list of at most {max_items} strings")
    if not all(isinstance(s, str) and 0 < len(s) <= 200 for s in value):
        raise InvalidInput(f"{rule} must hold non-empty strings of at most 200 characters")
    return tuple(dict.fromkeys(value))


def _names_of(ref: str, snapshot: NodeSnapshot) -> set[str]:
    """Every name a channel reference is known by."""
    names = {ref}
    ch = snapshot.channel(ref)
    if ch is not None:
        names.add(ch.short_channel_id)
        if ch.channel_id:
            names.add(ch.channel_id)
    return names


def _is_bulk(ctx: RuleContext) -> bool:
    return ctx.effects.has(Effect.ALL_CHANNELS) or "channels" in ctx.prepared.params


@dataclass(frozen=True)
class _ListRule:
    items: tuple[str, ...] = ()
    name: ClassVar[str] = ""
    deny: ClassVar[bool] = True

    @classmethod
    def from_json(cls, value: Any) -> Any:
        return cls(_strings(value, cls.name))

    def validate(self) -> None:
        _strings(list(self.items), self.name)

    def to_json(self) -> Any:
        return list(self.items)

    def at_least_as_strict_as(self, other: Any) -> bool:
        if self.deny:
            return deny_tighter(self.items, other.items)
        return allow_tighter(self.items, other.items)

    def enforcer(self) -> Any:
        return self


@dataclass(frozen=True)
class ForbiddenPeers(_ListRule):
    """peer-restriction (LiT): no open, connect, payment or route through these peers."""

    name: ClassVar[str] = "forbidden_peers"

    def check(self, ctx: RuleContext) -> Verdict | None:
        for peer in ctx.effects.peers:
            if peer in self.items:
                return refuse(self.name, f"peer {peer} is forbidden", "forbidden_peers", None, peer)
        return None


@dataclass(frozen=True)
class AllowedPeers(_ListRule):
    """A credential's ``allowed_peers``: the only peers its actions may name or touch."""

    name: ClassVar[str] = "allowed_peers"
    deny: ClassVar[bool] = False

    def check(self, ctx: RuleContext) -> Verdict | None:
        for peer in (*ctx.effects.peers, *ctx.effects.channel_peers):
            if peer not in self.items:
                return refuse(self.name, f"peer {peer} is not allowed", "allowed_peers", None, peer)
        return None


@dataclass(frozen=True)
class _ChannelRule(_ListRule):
    def _blocked(self, ref: str, snapshot: NodeSnapshot) -> bool:
        hit = bool(_names_of(ref, snapshot) & set(self.items))
        return hit if self.deny else not hit

    def check(self, ctx: RuleContext) -> Verdict | None:
        blocked = tuple(r for r in ctx.effects.channels if self._blocked(r, ctx.snapshot))
        if not blocked:
            return None
        what = "protected" if self.deny else "not allowed"
        if _is_bulk(ctx):
            if len(blocked) == len(ctx.effects.channels):
                return refuse(self.name, f"every channel is {what}", self.name, None, list(blocked))
            return Verdict(
                Outcome.NARROW, self.name, f"skipping {what} channels", skip_channels=blocked
            )
        return refuse(self.name, f"channel {blocked[0]} is {what}", self.name, None, blocked[0])


@dataclass(frozen=True)
class ProtectedChannels(_ChannelRule):
    """channel-restriction (LiT): never touched; bulk actions skip them and report it."""

    name: ClassVar[str] = "protected_channels"


@dataclass(frozen=True)
class AllowedChannels(_ChannelRule):
    """A credential's ``allowed_channels``: the only channels its actions may touch."""

    name: ClassVar[str] = "allowed_channels"
    deny: ClassVar[bool] = False


@dataclass(frozen=True)
class ApprovedPlugins(_ListRule):
    """Plugins an advisor may start by name; any other start is refused."""

    name: ClassVar[str] = "approved_plugins"
    deny: ClassVar[bool] = False

    def check(self, ctx: RuleContext) -> Verdict | None:
        plugin = ctx.effects.plugin
        if ctx.effects.has(Effect.PLUGIN_START) and plugin not in self.items:
            return refuse(
                self.name, f"plugin {plugin} is not approved", "approved_plugins", None, plugin
            )
        return None


@dataclass(frozen=True)
class AddressAllowlist(_ListRule):
    """Destinations (on-chain sends, closes, splice-outs, swaps) outside the list are held."""

    name: ClassVar[str] = "address_allowlist"
    deny: ClassVar[bool] = False

    def check(self, ctx: RuleContext) -> Verdict | None:
        outside = [d for d in ctx.effects.destinations if d not in self.items]
        if outside:
            return Verdict(Outcome.HOLD, self.name, f"destination {outside[0]} is not allow-listed")
        return None


@dataclass(frozen=True)
class BlockedSchemas(_ListRule):
    """Schema patterns (exact, ``family/*``, ``*``) the policy refuses."""

    name: ClassVar[str] = "blocked_schemas"

    def check(self, ctx: RuleContext) -> Verdict | None:
        if any_matches(self.items, ctx.prepared.schema_id):
            return refuse(
                self.name,
                f"schema {ctx.prepared.schema_id} is blocked",
                "blocked_schemas",
                None,
                ctx.prepared.schema_id,
            )
        return None


@dataclass(frozen=True)
class HiveMemberFees:
    """ARCHITECTURE §8.2: fee actions on channels with fleet members (peers holding the
    ``hive`` strategy) are refused with ``hive_member`` unless the operator allows them;
    bulk fee actions skip those channels."""

    name: ClassVar[str] = "hive_member_fees"
    allowed: bool = False

    @classmethod
    def from_json(cls, value: Any) -> HiveMemberFees:
        if not isinstance(value, bool):
            raise InvalidInput(f"{cls.name} must be a boolean")
        return cls(value)

    def validate(self) -> None:
        HiveMemberFees.from_json(self.allowed)

    def to_json(self) -> Any:
        return self.allowed

    def at_least_as_strict_as(self, other: Any) -> bool:
        return other.allowed or not self.allowed

    def enforcer(self) -> HiveMemberFees:
        return self

    def check(self, ctx: RuleContext) -> Verdict | None:
        if self.allowed or not ctx.effects.has(Effect.FEE_CHANGE):
            return None
        members = set(ctx.snapshot.hive_peers)
        hits = tuple(
            ref
            for ref in ctx.effects.channels
            if (ch := ctx.snapshot.channel(ref)) is not None and ch.peer_id in members
        )
        if not hits:
            return None
        if _is_bulk(ctx) and len(hits) < len(ctx.effects.channels):
            return Verdict(
                Outcome.NARROW, self.name, "skipping hive members' channels", skip_channels=hits
            )
        return refuse(self.name, "hive_member", "hive_member", None, hits[0])
