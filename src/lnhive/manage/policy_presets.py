"""The policy presets (comms spec §4.1; default moderate).

|preset|auto|hold|reject above|fee change/24h/channel|max rebalance|forbidden|
|---|---|---|---|---|---|---|
|conservative|<=4|5-6|6|15%|100,000|closes, wallet send, plugin start|
|moderate|<=6|7-8|8|30%|500,000|force close, wallet sweep, unapproved plugin|
|aggressive|<=8|9-10 multi-sig|10|50%|2,000,000|wallet sweep, force close all|

Every preset also carries the per-advisor rate limits of §4.5.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lnhive.core.errors import InvalidInput
from lnhive.manage.rules import RateLimits


class Forbid(enum.StrEnum):
    """Action classes a preset refuses outright."""

    CLOSE = "close"
    WALLET_SEND = "wallet_send"
    PLUGIN_START = "plugin_start"
    FORCE_CLOSE = "force_close"
    WALLET_SWEEP = "wallet_sweep"
    UNAPPROVED_PLUGIN = "unapproved_plugin"
    FORCE_CLOSE_ALL = "force_close_all"


COVERS: dict[Forbid, frozenset[Forbid]] = {
    Forbid.CLOSE: frozenset({Forbid.FORCE_CLOSE, Forbid.FORCE_CLOSE_ALL}),
    Forbid.FORCE_CLOSE: frozenset({Forbid.FORCE_CLOSE_ALL}),
    Forbid.WALLET_SEND: frozenset({Forbid.WALLET_SWEEP}),
    Forbid.PLUGIN_START: frozenset({Forbid.UNAPPROVED_PLUGIN}),
}
"""A broader class forbids the narrower ones too (``close`` covers ``force_close``)."""


def implied(forbidden: frozenset[Forbid]) -> frozenset[Forbid]:
    """``forbidden`` with every class it covers."""
    out = set(forbidden)
    changed = True
    while changed:
        extra = set().union(*(COVERS.get(f, frozenset()) for f in out)) - out
        changed = bool(extra)
        out |= extra
    return frozenset(out)


DEFAULT_RATE_LIMITS = RateLimits(
    fee_changes_per_hour=10,
    rebalances_per_day=20,
    total_actions_per_day=100,
    reads_per_hour=600,
    high_danger_per_minute=5,
)


@dataclass(frozen=True)
class Preset:
    name: str
    auto_max: int
    """Actions up to this danger run without the operator."""
    reject_above: int
    """Actions above this danger are refused; in between they are held."""
    max_fee_change_24h_pct: int
    max_rebalance_sats: int
    forbidden: frozenset[Forbid]
    rate_limits: RateLimits = DEFAULT_RATE_LIMITS


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "conservative",
            4,
            6,
            15,
            100_000,
            frozenset({Forbid.CLOSE, Forbid.WALLET_SEND, Forbid.PLUGIN_START}),
        ),
        Preset(
            "moderate",
            6,
            8,
            30,
            500_000,
            frozenset({Forbid.FORCE_CLOSE, Forbid.WALLET_SWEEP, Forbid.UNAPPROVED_PLUGIN}),
        ),
        Preset(
            "aggressive",
            8,
            10,
            50,
            2_000_000,
            frozenset({Forbid.WALLET_SWEEP, Forbid.FORCE_CLOSE_ALL}),
        ),
    )
}
STRICTNESS = ("aggressive", "moderate", "conservative")
"""Presets from loosest to strictest."""
DEFAULT_PRESET = "moderate"


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise InvalidInput(f"unknown preset {name!r}; known: {list(PRESETS)}")
    return PRESETS[name]
