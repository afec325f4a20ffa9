"""Rebalance candidate selection and scoring (spec revenue-ops §3.1), pure.

The band is [0.25, 0.75] of local ratio: channels above it are sources, below it
destinations. A pair's amount is min(source excess over 0.75, destination gap under 0.25,
``rebalance-chunk-sats``) and at least ``rebalance-min-amount``. Score =
0.30 x urgency + 0.20 x drain + 0.20 x value + max(0, (5000 - source inbound ppm) / 50 000),
with urgency = (0.25 - dest local) / 0.25, drain = (source local - 0.75) / 0.25 and value 2
for a destination that earned fees as exit channel in 30 days, 1 for one that forwarded in
7 days, else 0 **[ours: earnings stand in for the PROFITABLE class]**. The source's
inbound ppm is what its peer charges toward us (the cost of the liquidity coming back).

The destination's profitability class (:mod:`.couplings`) weighs the score by its rebalance
priority (1.5 profitable, 1 break-even, 0.5 underwater, 0.3 stagnant) and sets the pair's
budget multiplier. Pairs are taken greedily by weighted score, each channel in at most one
pair, at most ``max_candidates``. Excluded, with the reason recorded: the same peer on both
ends; a ZOMBIE destination, or an UNDERWATER one with marginal ROI ≤ 0;
``rebalance_mode`` disabled (either end), source_only as destination, sink_only as source;
a disconnected peer (**[ours]** the model has no uptime history yet, so "uptime < 90 %
over 24 h" is read as "not connected now"); a CONGESTED destination; a SOURCE channel as
source unless its local ratio is above 0.80; a destination with a rebalance in flight;
and whatever ``blocked`` reports (cooldowns, futility).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lnhive.revenue.couplings import PPM, UNKNOWN, Coupling
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.policy import RebalanceMode

LOW_BAND = 0.25
HIGH_BAND = 0.75
SOURCE_CLASS_MIN_LOCAL = 0.80


@dataclass(frozen=True)
class RebalanceChannel:
    """One channel as the selection sees it (amounts in sat, floor)."""

    channel_id: str
    peer_id: str
    capacity_sat: int
    local_sat: int
    flow_class: FlowClass = FlowClass.BALANCED
    rebalance_mode: RebalanceMode = RebalanceMode.ENABLED
    peer_connected: bool = True
    fee_ppm: int = 0
    inbound_fee_ppm: int = 0
    """What the peer charges toward us on this channel."""
    value: int = 0
    """2 profitable, 1 active, 0 otherwise."""
    in_flight: bool = False
    coupling: Coupling = UNKNOWN
    """The channel's profitability class as a destination (:mod:`.couplings`)."""

    @property
    def local_ratio(self) -> float:
        return self.local_sat / self.capacity_sat if self.capacity_sat > 0 else 0.0

    def excess_sat(self) -> int:
        return max(0, self.local_sat - int(self.capacity_sat * HIGH_BAND))

    def gap_sat(self) -> int:
        return max(0, int(self.capacity_sat * LOW_BAND) - self.local_sat)


@dataclass(frozen=True)
class SelectConfig:
    chunk_sats: int = 500_000
    min_amount_sats: int = 50_000
    max_candidates: int = 20


@dataclass(frozen=True)
class Candidate:
    source: RebalanceChannel
    dest: RebalanceChannel
    amount_sat: int
    score: float
    """The selection score, weighted by the destination's priority."""
    priority: float = 1.0
    budget_multiplier_ppm: int = PPM
    """Scales the pair budget (:func:`.couplings.scale_msat`); 1 M = unchanged."""

    def to_json(self) -> dict[str, Any]:
        return {
            "from_channel": self.source.channel_id,
            "to_channel": self.dest.channel_id,
            "amount_sat": self.amount_sat,
            "score": round(self.score, 6),
            "priority": self.priority,
            "budget_multiplier": self.budget_multiplier_ppm / PPM,
            "dest_class": str(self.dest.coupling.profit_class),
            "source_local_ratio": round(self.source.local_ratio, 4),
            "dest_local_ratio": round(self.dest.local_ratio, 4),
        }


@dataclass
class Selection:
    candidates: list[Candidate] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, reason: str, *, channel: str, other: str | None = None) -> None:
        entry: dict[str, Any] = {"channel_id": channel, "reason": reason}
        if other is not None:
            entry["other_channel"] = other
        self.rejections.append(entry)


Blocked = Callable[[RebalanceChannel, RebalanceChannel], str | None]
"""(source, dest) → a reason the pair may not run now (cooldown, futility), or None."""


def source_reason(ch: RebalanceChannel) -> str | None:
    """Why ``ch`` cannot be a source (None: it can)."""
    if ch.local_ratio <= HIGH_BAND:
        return "not_above_band"
    if ch.rebalance_mode in (RebalanceMode.DISABLED, RebalanceMode.SINK_ONLY):
        return f"rebalance_mode_{ch.rebalance_mode.value}"
    if not ch.peer_connected:
        return "peer_disconnected"
    if ch.flow_class is FlowClass.SOURCE and ch.local_ratio <= SOURCE_CLASS_MIN_LOCAL:
        return "source_class_not_full"
    return None


def dest_reason(ch: RebalanceChannel) -> str | None:
    """Why ``ch`` cannot be a destination (None: it can)."""
    if ch.local_ratio >= LOW_BAND:
        return "not_below_band"
    if ch.rebalance_mode in (RebalanceMode.DISABLED, RebalanceMode.SOURCE_ONLY):
        return f"rebalance_mode_{ch.rebalance_mode.value}"
    if not ch.peer_connected:
        return "peer_disconnected"
    if ch.flow_class is FlowClass.CONGESTED:
        return "dest_congested"
    if ch.in_flight:
        return "dest_in_flight"
    return ch.coupling.dest_exclusion()


def pair_amount(src: RebalanceChannel, dst: RebalanceChannel, chunk_sats: int) -> int:
    return min(src.excess_sat(), dst.gap_sat(), chunk_sats)


def score(src: RebalanceChannel, dst: RebalanceChannel) -> float:
    urgency = max(0.0, (LOW_BAND - dst.local_ratio) / LOW_BAND)
    drain = max(0.0, (src.local_ratio - HIGH_BAND) / (1 - HIGH_BAND))
    inbound = max(0.0, (5000 - src.inbound_fee_ppm) / 50_000)
    return 0.30 * urgency + 0.20 * drain + 0.20 * dst.value + inbound


def select(
    channels: Sequence[RebalanceChannel],
    config: SelectConfig,
    blocked: Blocked | None = None,
) -> Selection:
    """The pairs to try this cycle, best first, and why the others were left out."""
    out = Selection()
    sources, dests = [], []
    for ch in sorted(channels, key=lambda c: c.channel_id):
        if ch.local_ratio > HIGH_BAND:
            why = source_reason(ch)
            (out.reject(why, channel=ch.channel_id) if why else sources.append(ch))
        elif ch.local_ratio < LOW_BAND:
            why = dest_reason(ch)
            (out.reject(why, channel=ch.channel_id) if why else dests.append(ch))
    scored: list[Candidate] = []
    for src in sources:
        for dst in dests:
            if src.peer_id == dst.peer_id:
                out.reject("same_peer", channel=src.channel_id, other=dst.channel_id)
                continue
            amount = pair_amount(src, dst, config.chunk_sats)
            if amount < config.min_amount_sats:
                out.reject("below_min_amount", channel=src.channel_id, other=dst.channel_id)
                continue
            why = blocked(src, dst) if blocked is not None else None
            if why is not None:
                out.reject(why, channel=src.channel_id, other=dst.channel_id)
                continue
            c = dst.coupling
            weighted = score(src, dst) * c.priority
            scored.append(Candidate(src, dst, amount, weighted, c.priority, c.multiplier_ppm))
    scored.sort(key=lambda c: (-c.score, c.source.channel_id, c.dest.channel_id))
    used: set[str] = set()
    for cand in scored:
        if len(out.candidates) >= config.max_candidates:
            break
        if cand.source.channel_id in used or cand.dest.channel_id in used:
            continue
        used.update((cand.source.channel_id, cand.dest.channel_id))
        out.candidates.append(cand)
    return out
