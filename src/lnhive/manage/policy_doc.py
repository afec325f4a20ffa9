"""The operator's policy document (comms spec §4.2) and the policy it takes effect as.

The document is ``{"preset", "overrides", "temporary", "updated_at"}``; temporary
overrides carry ``expires_at`` and, while live, win over the permanent ones.
:func:`effective_policy` folds preset, overrides and live temporaries into an
:class:`EffectivePolicy`: the danger lines, the preset's forbidden classes, the rule
set and the confirmation requirements. :meth:`EffectivePolicy.at_least_as_strict_as`
is how a remote change is held to tightening only.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lnhive.core.errors import InvalidInput
from lnhive.manage.policy_presets import DEFAULT_PRESET, Forbid, implied, preset
from lnhive.manage.rules import (
    AddressAllowlist,
    ApprovedPlugins,
    BlockedSchemas,
    FeeChangeLimit,
    ForbiddenPeers,
    HiveMemberFees,
    OnchainBudget,
    ProtectedChannels,
    QuietHours,
    RateLimits,
    RebalanceLimits,
    RuleValues,
    parse_rule,
)

DAY = 86_400
APPROVAL_MODES = ("auto_execute", "always_confirm", "multi_sig_2_of_3")
LIST_KEYS = (
    "blocked_schemas",
    "forbidden_peers",
    "protected_channels",
    "approved_plugins",
    "address_allowlist",
)
BOUND_KEYS = ("fee_bounds", "open_constraints", "onchain_budget", "history_limit")
OVERRIDE_KEYS = (
    "max_danger",
    "require_confirmation_at",
    "max_fee_change_per_24h_pct",
    "max_rebalance_sats",
    "max_rebalance_fee_ppm",
    *LIST_KEYS,
    "required_confirmation",
    "rate_limits",
    "time_restrictions",
    *BOUND_KEYS,
    "approval_overrides",
    "multisig_quorum",
    "allow_hive_member_fees",
)


def _int(value: Any, key: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise InvalidInput(f"{key} must be an integer {lo}-{hi}")
    return value


@dataclass(frozen=True)
class RequiredConfirmation:
    danger_gte: int | None = None
    channel_close_always: bool = False
    onchain_send_gte_sats: int | None = None

    @classmethod
    def from_json(cls, value: Any) -> RequiredConfirmation:
        if not isinstance(value, Mapping) or set(value) - {
            "danger_gte",
            "channel_close",
            "onchain_send_gte_sats",
        }:
            raise InvalidInput(
                "required_confirmation takes danger_gte, channel_close, onchain_send_gte_sats"
            )
        close = value.get("channel_close")
        if close not in (None, "always", "never"):
            raise InvalidInput('required_confirmation.channel_close must be "always" or "never"')
        dg, onchain = value.get("danger_gte"), value.get("onchain_send_gte_sats")
        return cls(
            None if dg is None else _int(dg, "required_confirmation.danger_gte", 1, 10),
            close == "always",
            None
            if onchain is None
            else _int(onchain, "required_confirmation.onchain_send_gte_sats", 0, 2**53),
        )

    def at_least_as_strict_as(self, other: RequiredConfirmation) -> bool:
        def floor(new: int | None, old: int | None) -> bool:
            return old is None or (new is not None and new <= old)

        return (
            floor(self.danger_gte, other.danger_gte)
            and (self.channel_close_always or not other.channel_close_always)
            and floor(self.onchain_send_gte_sats, other.onchain_send_gte_sats)
        )


def check_overrides(overrides: Any) -> dict[str, Any]:
    """Validated overrides (each bound object against its sane bounds)."""
    if not isinstance(overrides, Mapping):
        raise InvalidInput("overrides must be an object")
    unknown = sorted(set(overrides) - set(OVERRIDE_KEYS))
    if unknown:
        raise InvalidInput(f"unknown policy overrides {unknown}; known: {list(OVERRIDE_KEYS)}")
    o = dict(overrides)
    for key, lo, hi in (
        ("max_danger", 1, 10),
        ("require_confirmation_at", 1, 10),
        ("max_fee_change_per_24h_pct", 0, 10_000),
        ("max_rebalance_sats", 0, 2**53),
        ("max_rebalance_fee_ppm", 0, 1000),
        ("multisig_quorum", 2, 10),
    ):
        if key in o:
            _int(o[key], key, lo, hi)
    for key in LIST_KEYS:
        if key in o:
            parse_rule(key, o[key])
    for key in BOUND_KEYS:
        if key in o:
            parse_rule(key, o[key])
    if "rate_limits" in o:
        RateLimits.from_json(o["rate_limits"])
    if "allow_hive_member_fees" in o:
        HiveMemberFees.from_json(o["allow_hive_member_fees"])
    if "required_confirmation" in o:
        RequiredConfirmation.from_json(o["required_confirmation"])
    if "time_restrictions" in o:
        _quiet_hours(o["time_restrictions"])
    if "approval_overrides" in o:
        ao = o["approval_overrides"]
        if not isinstance(ao, Mapping) or not all(
            isinstance(k, str) and 0 < len(k) <= 100 and v in APPROVAL_MODES for k, v in ao.items()
        ):
            raise InvalidInput(
                f"approval_overrides maps action patterns to one of {list(APPROVAL_MODES)}"
            )
    return o


def _quiet_hours(value: Any) -> QuietHours | None:
    if not isinstance(value, Mapping) or set(value) - {"quiet_hours", "quiet_hour_max_danger"}:
        raise InvalidInput("time_restrictions takes quiet_hours and quiet_hour_max_danger")
    qh = value.get("quiet_hours")
    if qh is None:
        return None
    if not isinstance(qh, Mapping):
        raise InvalidInput("time_restrictions.quiet_hours must be an object")
    return QuietHours.from_json({**qh, "max_danger": value.get("quiet_hour_max_danger", 2)})


@dataclass(frozen=True)
class TemporaryOverride:
    key: str
    value: Any
    expires_at: float


@dataclass(frozen=True)
class PolicyDocument:
    preset: str = DEFAULT_PRESET
    overrides: Mapping[str, Any] = field(default_factory=dict)
    temporary: tuple[TemporaryOverride, ...] = ()
    updated_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "overrides": dict(self.overrides),
            "temporary": [
                {"key": t.key, "value": t.value, "expires_at": t.expires_at} for t in self.temporary
            ],
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, value: Any) -> PolicyDocument:
        if not isinstance(value, Mapping) or set(value) - {
            "preset",
            "overrides",
            "temporary",
            "updated_at",
        }:
            raise InvalidInput("policy document takes preset, overrides, temporary, updated_at")
        name = value.get("preset", DEFAULT_PRESET)
        preset(name)
        overrides = check_overrides(value.get("overrides", {}))
        temporary = []
        for t in value.get("temporary", []):
            if not isinstance(t, Mapping) or set(t) != {"key", "value", "expires_at"}:
                raise InvalidInput("temporary overrides are {key, value, expires_at}")
            check_overrides({t["key"]: t["value"]})
            if not isinstance(t["expires_at"], int | float) or isinstance(t["expires_at"], bool):
                raise InvalidInput("expires_at must be a number")
            temporary.append(TemporaryOverride(t["key"], t["value"], float(t["expires_at"])))
        updated = value.get("updated_at", 0.0)
        if not isinstance(updated, int | float) or isinstance(updated, bool):
            raise InvalidInput("updated_at must be a number")
        return cls(name, overrides, tuple(temporary), float(updated))

    def live_overrides(self, now: float) -> dict[str, Any]:
        out = dict(self.overrides)
        for t in sorted(self.temporary, key=lambda t: t.expires_at):
            if t.expires_at > now:
                out[t.key] = t.value
        return out


@dataclass(frozen=True)
class EffectivePolicy:
    preset: str
    auto_max: int
    reject_above: int
    require_confirmation_at: int | None
    forbidden: frozenset[Forbid]
    rules: Mapping[str, RuleValues]
    required_confirmation: RequiredConfirmation
    approval_overrides: Mapping[str, str]
    multisig_quorum: int

    def approval_mode(self, family: str, action: str) -> str | None:
        """The approval override for ``<family>_<action>`` (fnmatch patterns; the longest wins)."""
        name = f"{family}_{action}"
        hits = [p for p in self.approval_overrides if fnmatch.fnmatchcase(name, p)]
        return self.approval_overrides[max(hits, key=len)] if hits else None

    def at_least_as_strict_as(self, other: EffectivePolicy) -> bool:
        if self.reject_above > other.reject_above or self.auto_max > other.auto_max:
            return False
        if other.require_confirmation_at is not None and (
            self.require_confirmation_at is None
            or self.require_confirmation_at > other.require_confirmation_at
        ):
            return False
        if not implied(self.forbidden) >= implied(other.forbidden):
            return False
        if self.multisig_quorum < other.multisig_quorum:
            return False
        if not self.required_confirmation.at_least_as_strict_as(other.required_confirmation):
            return False
        if dict(self.approval_overrides) != dict(other.approval_overrides):
            return False
        for name, old in other.rules.items():
            new = self.rules.get(name)
            if new is None or not new.at_least_as_strict_as(old):
                return False
        return True


def effective_policy(doc: PolicyDocument, now: float) -> EffectivePolicy:
    p = preset(doc.preset)
    o = doc.live_overrides(now)
    reject_above = o.get("max_danger", p.reject_above)
    rules: dict[str, RuleValues] = {}
    base_rates = p.rate_limits.to_json()
    rules["rate_limits"] = RateLimits.from_json({**base_rates, **o.get("rate_limits", {})})
    rules["fee_change_limit"] = FeeChangeLimit(
        o.get("max_fee_change_per_24h_pct", p.max_fee_change_24h_pct), DAY
    )
    rules["rebalance_limits"] = RebalanceLimits(
        o.get("max_rebalance_sats", p.max_rebalance_sats), o.get("max_rebalance_fee_ppm")
    )
    rules["blocked_schemas"] = BlockedSchemas(tuple(o.get("blocked_schemas", ())))
    rules["forbidden_peers"] = ForbiddenPeers(tuple(o.get("forbidden_peers", ())))
    rules["protected_channels"] = ProtectedChannels(tuple(o.get("protected_channels", ())))
    rules["hive_member_fees"] = HiveMemberFees(o.get("allow_hive_member_fees", False))
    rules["address_allowlist"] = AddressAllowlist(tuple(o.get("address_allowlist", ())))
    if implied(p.forbidden) & {Forbid.UNAPPROVED_PLUGIN} or "approved_plugins" in o:
        rules["approved_plugins"] = ApprovedPlugins(tuple(o.get("approved_plugins", ())))
    if "time_restrictions" in o:
        qh = _quiet_hours(o["time_restrictions"])
        if qh is not None:
            rules["quiet_hours"] = qh
    for key in BOUND_KEYS:
        if key in o:
            rules[key] = parse_rule(key, o[key])
    budget = rules.get("onchain_budget")
    if isinstance(budget, OnchainBudget):
        rules["onchain_budget"] = replace(budget, node_wide=True)
    return EffectivePolicy(
        preset=p.name,
        auto_max=min(p.auto_max, reject_above),
        reject_above=reject_above,
        require_confirmation_at=o.get("require_confirmation_at"),
        forbidden=p.forbidden,
        rules=rules,
        required_confirmation=RequiredConfirmation.from_json(o.get("required_confirmation", {})),
        approval_overrides=dict(o.get("approval_overrides", {})),
        multisig_quorum=o.get("multisig_quorum", 2),
    )


def with_changes(
    doc: PolicyDocument,
    now: float,
    *,
    preset_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    duration_s: float | None = None,
) -> PolicyDocument:
    """A new document with a preset and/or overrides merged in (temporary with ``duration_s``)."""
    new = doc
    if preset_name is not None:
        preset(preset_name)
        new = replace(new, preset=preset_name)
    if overrides:
        checked = check_overrides(overrides)
        if duration_s is None:
            new = replace(new, overrides={**new.overrides, **checked})
        else:
            if duration_s <= 0:
                raise InvalidInput("duration must be positive")
            extra = tuple(TemporaryOverride(k, v, now + duration_s) for k, v in checked.items())
            live = tuple(t for t in new.temporary if t.expires_at > now)
            new = replace(new, temporary=live + extra)
    return replace(new, updated_at=now)
