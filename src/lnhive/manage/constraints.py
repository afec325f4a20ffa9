"""A credential's ``constraints`` (comms spec §3.2), parsed into policy rules.

Every key is enforced (the registry calls them advisory; we do not): the flat
limits become the same rule objects the policy uses, so "the stricter of credential
and policy wins" is simply both sets of rules running. Unknown keys are refused at
issuance rather than silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import InvalidInput
from lnhive.manage.rules import (
    AllowedChannels,
    AllowedPeers,
    FeeBounds,
    FeeChangeLimit,
    HistoryLimit,
    OnchainBudget,
    OpenConstraints,
    RateLimits,
    RebalanceLimits,
    RuleValues,
    SpendLimits,
    TimeWindow,
)

MAX_KEYS = 50
MAX_BYTES = 4096
DEFAULT_ESCROW_MIN_DANGER = 3

FLAT_INT_KEYS: dict[str, tuple[int, int]] = {
    "max_fee_change_pct": (0, 10_000),
    "max_rebalance_sats": (0, 2_100_000_000_000_000),
    "max_rebalance_fee_ppm": (0, 1000),
    "max_daily_actions": (0, 1_000_000),
    "max_actions_per_hour": (0, 1_000_000),
    "max_sats_per_action": (0, 2_100_000_000_000_000),
    "max_daily_sats": (0, 2_100_000_000_000_000),
    "escrow_min_danger": (1, 10),
}
OBJECT_KEYS = ("time_window", "fee_bounds", "open_constraints", "onchain_budget", "history_limit")
LIST_KEYS = ("allowed_channels", "allowed_peers")
KEYS = (*FLAT_INT_KEYS, *OBJECT_KEYS, *LIST_KEYS)


@dataclass(frozen=True)
class Constraints:
    raw: Mapping[str, Any]
    rules: tuple[RuleValues, ...]

    @property
    def escrow_min_danger(self) -> int:
        value = self.raw.get("escrow_min_danger", DEFAULT_ESCROW_MIN_DANGER)
        return int(value)


def parse_constraints(value: Any) -> Constraints:
    """Validated constraints (sane bounds per rule), or :class:`InvalidInput`."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise InvalidInput("constraints must be an object")
    if len(value) > MAX_KEYS:
        raise InvalidInput(f"constraints may have at most {MAX_KEYS} keys")
    if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_BYTES:
        raise InvalidInput(f"constraints may be at most {MAX_BYTES} bytes")
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise InvalidInput(f"unknown constraints {unknown}; known: {list(KEYS)}")
    ints: dict[str, int] = {}
    for key, (lo, hi) in FLAT_INT_KEYS.items():
        if key in value:
            raw = value[key]
            if not isinstance(raw, int) or isinstance(raw, bool) or not lo <= raw <= hi:
                raise InvalidInput(f"constraint {key} must be an integer {lo}-{hi}")
            ints[key] = raw
    rules: list[RuleValues] = []
    if "max_fee_change_pct" in ints:
        rules.append(FeeChangeLimit(ints["max_fee_change_pct"], 0))
    if "max_rebalance_sats" in ints or "max_rebalance_fee_ppm" in ints:
        rules.append(
            RebalanceLimits(ints.get("max_rebalance_sats"), ints.get("max_rebalance_fee_ppm"))
        )
    if "max_daily_actions" in ints or "max_actions_per_hour" in ints:
        rules.append(
            RateLimits(
                total_actions_per_day=ints.get("max_daily_actions"),
                actions_per_hour=ints.get("max_actions_per_hour"),
            )
        )
    if "max_sats_per_action" in ints or "max_daily_sats" in ints:
        rules.append(SpendLimits(ints.get("max_sats_per_action"), ints.get("max_daily_sats")))
    for key, cls in (
        ("time_window", TimeWindow),
        ("fee_bounds", FeeBounds),
        ("open_constraints", OpenConstraints),
        ("onchain_budget", OnchainBudget),
        ("history_limit", HistoryLimit),
        ("allowed_channels", AllowedChannels),
        ("allowed_peers", AllowedPeers),
    ):
        if key in value:
            rules.append(cls.from_json(value[key]))
    return Constraints(raw=dict(value), rules=tuple(rules))
