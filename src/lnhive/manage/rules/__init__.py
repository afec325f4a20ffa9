"""Policy rules in Lightning Terminal's shape: values + enforcer, one registry.

=====================  ==================================================================
rule                   what it does
=====================  ==================================================================
``rate_limits``        action budgets per hour/day/minute from the persisted action log
``spend_limits``       sats leaving the node per action and per rolling day
``rebalance_limits``   largest rebalance and its fee ceiling
``fee_change_limit``   fee_ppm change vs the current fee or the fee at a window's start
``fee_bounds``         channel-policy bounds: base msat, ppm, CLTV delta, HTLC msat
``open_constraints``   channel constraints: capacity, push, public/private
``onchain_budget``     total on-chain sats and a feerate ceiling
``history_limit``      how far back reads reach (forward queries refused, lists narrowed)
``forbidden_peers``    peer restriction: no open, connect, payment or route through them
``allowed_peers``      a credential's peer allow-list
``protected_channels`` channel restriction: never touched; bulk actions skip them
``allowed_channels``   a credential's channel allow-list
``approved_plugins``   plugins that may be started by name
``address_allowlist``  destinations outside the list are held for the operator
``blocked_schemas``    schema patterns the policy refuses
``hive_member_fees``   fee actions on fleet members' channels refused unless allowed
``quiet_hours``        above a danger score nothing runs between two local times
``time_window``        a credential's allowed days and hours
=====================  ==================================================================
"""

from __future__ import annotations

from typing import Any

from lnhive.manage.rules.base import (
    EmptyHistory,
    Enforcer,
    History,
    Outcome,
    RuleContext,
    RuleValues,
    Verdict,
)
from lnhive.manage.rules.bounds import FeeBounds, HistoryLimit, OnchainBudget, OpenConstraints
from lnhive.manage.rules.limits import FeeChangeLimit, RateLimits, RebalanceLimits, SpendLimits
from lnhive.manage.rules.lists import (
    AddressAllowlist,
    AllowedChannels,
    AllowedPeers,
    ApprovedPlugins,
    BlockedSchemas,
    ForbiddenPeers,
    HiveMemberFees,
    ProtectedChannels,
)
from lnhive.manage.rules.timing import QuietHours, TimeWindow

REGISTRY: dict[str, Any] = {
    cls.name: cls
    for cls in (
        RateLimits,
        SpendLimits,
        RebalanceLimits,
        FeeChangeLimit,
        FeeBounds,
        OpenConstraints,
        OnchainBudget,
        HistoryLimit,
        ForbiddenPeers,
        AllowedPeers,
        ProtectedChannels,
        AllowedChannels,
        ApprovedPlugins,
        AddressAllowlist,
        BlockedSchemas,
        HiveMemberFees,
        QuietHours,
        TimeWindow,
    )
}
"""Rule name -> values class (whose ``enforcer()`` builds the enforcer)."""


def parse_rule(name: str, value: Any) -> RuleValues:
    """The validated values of rule ``name`` from JSON."""
    cls = REGISTRY[name]
    values: RuleValues = cls.from_json(value)
    return values


__all__ = [
    "REGISTRY",
    "AddressAllowlist",
    "AllowedChannels",
    "AllowedPeers",
    "ApprovedPlugins",
    "BlockedSchemas",
    "EmptyHistory",
    "Enforcer",
    "FeeBounds",
    "FeeChangeLimit",
    "ForbiddenPeers",
    "History",
    "HistoryLimit",
    "HiveMemberFees",
    "OnchainBudget",
    "OpenConstraints",
    "Outcome",
    "ProtectedChannels",
    "QuietHours",
    "RateLimits",
    "RebalanceLimits",
    "RuleContext",
    "RuleValues",
    "SpendLimits",
    "TimeWindow",
    "Verdict",
    "parse_rule",
]
