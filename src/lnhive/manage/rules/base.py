"""The shape every policy rule has (ARCHITECTURE §6, after Lightning Terminal's firewall).

A rule is a *values* object — its settings, parsed from JSON and able to check
itself against sane minimum and maximum values — and an *enforcer* built from the
values that looks at one request (:class:`RuleContext`) and allows it (``None``),
refuses it, holds it, or narrows it (a :class:`Verdict`). Values also say whether
they are at least as strict as other values of the same rule, which is how remote
callers are held to tightening only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from lnhive.core.errors import InvalidInput
from lnhive.manage.catalogue import PreparedAction
from lnhive.manage.effects import ActionEffects
from lnhive.manage.snapshot import NodeSnapshot


class History(Protocol):
    """Past actions, as the counting rules need them (per advisor or node-wide)."""

    def count(
        self, *, since: float, effects: Iterable[str] | None = None, min_danger: int = 0
    ) -> int:
        """Actions since ``since`` having any of ``effects`` (all if ``None``) and D >= ``min_danger``."""
        ...

    def sats_out_since(self, since: float) -> int: ...

    def onchain_since(self, since: float) -> int: ...

    def fee_at_window_start(self, channel: str, since: float) -> int | None:
        """The fee_ppm a channel had before its first change since ``since``, if any."""
        ...


class EmptyHistory:
    def count(
        self, *, since: float, effects: Iterable[str] | None = None, min_danger: int = 0
    ) -> int:
        return 0

    def sats_out_since(self, since: float) -> int:
        return 0

    def onchain_since(self, since: float) -> int:
        return 0

    def fee_at_window_start(self, channel: str, since: float) -> int | None:
        return None


@dataclass(frozen=True)
class RuleContext:
    prepared: PreparedAction
    effects: ActionEffects
    snapshot: NodeSnapshot
    now: float
    advisor: History = field(default_factory=EmptyHistory)
    """This advisor's past actions."""
    node: History = field(default_factory=EmptyHistory)
    """Every advisor's past actions (per-channel fee windows, node budgets)."""

    @property
    def danger(self) -> int:
        return self.prepared.danger


class Outcome(enum.StrEnum):
    REFUSE = "refuse"
    HOLD = "hold"
    NARROW = "narrow"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    rule: str
    reason: str
    symbol: str = "policy_blocked"
    """The §5.5 code when the policy refuses (a credential refusal is always
    ``constraint_violation``)."""
    key: str = ""
    limit: Any = None
    requested: Any = None
    skip_channels: tuple[str, ...] = ()
    """NARROW: channels a bulk action leaves out."""
    narrow_params: Mapping[str, Any] = field(default_factory=dict)
    """NARROW: params replaced (e.g. a later ``since``)."""
    retry_after: int | None = None
    """REFUSE with ``rate_limited``: seconds after which a retry passes (§5.5's field)."""

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "reason": self.reason}
        if self.key:
            out.update(key=self.key, limit=self.limit, requested=self.requested)
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        if self.skip_channels:
            out["skipped"] = list(self.skip_channels)
        return out


def refuse(
    rule: str,
    reason: str,
    key: str = "",
    limit: Any = None,
    requested: Any = None,
    symbol: str = "policy_blocked",
) -> Verdict:
    return Verdict(Outcome.REFUSE, rule, reason, symbol, key, limit, requested)


class Enforcer(Protocol):
    def check(self, ctx: RuleContext) -> Verdict | None: ...


class RuleValues(Protocol):
    name: ClassVar[str]

    def validate(self) -> None:
        """Raise :class:`InvalidInput` if a setting is outside its sane bounds."""
        ...

    def to_json(self) -> dict[str, Any]: ...

    def at_least_as_strict_as(self, other: Any) -> bool: ...

    def enforcer(self) -> Enforcer: ...


# --- helpers for parsing and comparing settings -----------------------------------


def obj(value: Any, rule: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{rule} must be an object")
    return value


def only_keys(value: Mapping[str, Any], rule: str, keys: Iterable[str]) -> None:
    extra = sorted(set(value) - set(keys))
    if extra:
        raise InvalidInput(f"{rule}: unknown settings {extra}")


def opt_int(value: Mapping[str, Any], key: str, lo: int, hi: int, rule: str) -> int | None:
    """An optional integer setting within sane bounds ``lo..hi``."""
    raw = value.get(key)
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not lo <= raw <= hi:
        raise InvalidInput(f"{rule}.{key} must be an integer {lo}-{hi}")
    return raw


def opt_strs(
    value: Mapping[str, Any], key: str, rule: str, max_items: int = 1000
) -> tuple[str, ...] | None:
    raw = value.get(key)
    if raw is None:
        return None
    if (
        not isinstance(raw, list)
        or len(raw) > max_items
        or not all(isinstance(s, str) and 0 < len(s) <= 200 for s in raw)
    ):
        raise InvalidInput(f"{rule}.{key} must be a list of at most {max_items} strings")
    return tuple(dict.fromkeys(raw))


def drop_none(**fields: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items() if v is not None}


def max_tighter(new: int | None, old: int | None) -> bool:
    """A ceiling ``new`` is at least as strict as ``old`` (``None`` = unlimited)."""
    return old is None or (new is not None and new <= old)


def min_tighter(new: int | None, old: int | None) -> bool:
    """A floor ``new`` is at least as strict as ``old`` (``None`` = no floor)."""
    return old is None or (new is not None and new >= old)


def allow_tighter(new: tuple[str, ...] | None, old: tuple[str, ...] | None) -> bool:
    """An allow-list: ``None`` allows everything; a subset is stricter."""
    return old is None or (new is not None and set(new) <= set(old))


def deny_tighter(new: tuple[str, ...], old: tuple[str, ...]) -> bool:
    """A deny-list: a superset is stricter."""
    return set(new) >= set(old)
