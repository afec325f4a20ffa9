"""One channel's profitability, evaluated from its facts (spec revenue-ops §4).

:func:`evaluate` is pure: :class:`ChannelFacts` (what the node reports, the stored
aggregates, flow state and policy) in, :class:`ChannelProfit` out. The I/O that gathers the
facts lives in :mod:`.profit_service`.

Open cost: a recorded cost (``channel_costs``; bookkeeper data when an importer writes it)
unless it looks like capital (≥ 10 % of the capacity), else ``estimated-open-cost-sats``;
0 when the peer opened the channel. Turnover is the 30-day volume (in + out) over the
capacity, per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lnhive.revenue import profitability as pf
from lnhive.revenue.evidence import ChannelEvidence
from lnhive.revenue.flow import revenue_role_from_counts
from lnhive.revenue.profit_ledger import ChannelTotals

CAPITAL_SHARE = 0.10
"""A recorded open cost at or above this share of the capacity is taken for capital."""


@dataclass(frozen=True)
class ChannelFacts:
    channel: ChannelEvidence
    totals: ChannelTotals
    recorded_open_cost_sat: int | None = None
    estimated_open_cost_sat: int = 5000
    flow_class: str | None = None
    flow_confidence: float | None = None
    kalman_ratio: float = 0.0
    fee_posterior_variance: float | None = None
    strategy: str = "dynamic"
    tags: tuple[str, ...] = ()
    previous_bleeder: pf.Bleeder = pf.Bleeder.NONE
    peer_supports_splice: bool = False


@dataclass(frozen=True)
class ChannelProfit:
    channel_id: str
    peer_id: str
    capacity_sat: int
    local_msat: int
    fee_ppm: int
    local_opener: bool
    days_open: float | None
    last_routed: float | None
    idle_days: float
    earned_msat: int
    sourced_msat: int
    earned_30d_msat: int
    sourced_30d_msat: int
    contribution_msat: int
    contribution_30d_msat: int
    contribution_7d_msat: int
    open_cost_msat: int
    open_cost_source: str
    rebalance_cost_msat: int
    rebalance_cost_30d_msat: int
    closure_cost_msat: int
    splice_cost_msat: int
    cost_msat: int
    net_msat: int
    net_30d_msat: int
    net_7d_msat: int
    roi: float
    marginal_roi: float
    marginal_reliable: bool
    classification: pf.ProfitClass
    bleeder: pf.Bleeder
    role_30d: str
    forwards_30d: int
    turnover_per_day: float
    flow_class: str | None
    flow_confidence: float | None
    kalman_ratio: float
    strategy: str
    tags: tuple[str, ...]
    diagnostics: int
    diagnostics_14d: int
    peer_supports_splice: bool

    @property
    def outbound_ratio(self) -> float:
        return self.local_msat / (self.capacity_sat * 1000) if self.capacity_sat > 0 else 0.5

    def to_json(self) -> dict[str, Any]:
        """The ``revenue-profitability`` entry: sat (rounded up) and percentages."""
        sat = pf.sat_ceil
        revenue = {
            "fees_earned_sats": sat(self.earned_msat),
            "sourced_fee_contribution_sats": sat(self.sourced_msat),
            "contribution_sats": sat(self.contribution_msat),
            "contribution_30d_sats": sat(self.contribution_30d_msat),
            "contribution_7d_sats": sat(self.contribution_7d_msat),
        }
        costs: dict[str, Any] = {
            "open_sats": sat(self.open_cost_msat),
            "open_source": self.open_cost_source,
            "rebalance_sats": sat(self.rebalance_cost_msat),
            "rebalance_30d_sats": sat(self.rebalance_cost_30d_msat),
            "closure_sats": sat(self.closure_cost_msat),
            "splice_sats": sat(self.splice_cost_msat),
            "total_sats": sat(self.cost_msat),
        }
        return {
            "channel_id": self.channel_id,
            "peer_id": self.peer_id,
            "capacity_sats": self.capacity_sat,
            "outbound_ratio": round(self.outbound_ratio, 4),
            "fee_ppm": self.fee_ppm,
            "revenue": revenue,
            "costs": costs,
            "net_profit_sats": sat(self.contribution_msat) - sat(self.cost_msat),
            "net_profit_30d_sats": _sat_signed(self.net_30d_msat),
            "net_profit_7d_sats": _sat_signed(self.net_7d_msat),
            "roi_percent": round(100 * self.roi, 2),
            "marginal_roi_percent": round(100 * self.marginal_roi, 2),
            "marginal_roi_reliable": self.marginal_reliable,
            "classification": str(self.classification),
            "bleeder": str(self.bleeder),
            "role_30d": self.role_30d,
            "days_open": None if self.days_open is None else round(self.days_open, 2),
            "last_routed": self.last_routed,
            "idle_days": round(self.idle_days, 2),
            "forwards_30d": self.forwards_30d,
            "turnover_per_day": round(self.turnover_per_day, 6),
            "flow_class": self.flow_class,
            "strategy": self.strategy,
            "diagnostics": self.diagnostics,
        }


def _sat_signed(msat: int) -> int:
    """A signed msat figure in sat, rounded away from zero (costs up, gains up)."""
    return pf.sat_ceil(msat) if msat >= 0 else -pf.sat_ceil(-msat)


def open_cost(facts: ChannelFacts) -> tuple[int, str]:
    """(open cost msat, source): ``remote_opener``, ``recorded`` or ``estimated``."""
    ch = facts.channel
    if not ch.local_opener:
        return 0, "remote_opener"
    rec = facts.recorded_open_cost_sat
    if rec is not None and 0 <= rec < CAPITAL_SHARE * ch.capacity_sat:
        return rec * 1000, "recorded"
    return facts.estimated_open_cost_sat * 1000, "estimated"


def evaluate(facts: ChannelFacts, now: float) -> ChannelProfit:
    ch, t = facts.channel, facts.totals
    contribution = max(t.earned_msat, t.sourced_msat)
    contribution_30d = max(t.earned_30d_msat, t.sourced_30d_msat)
    contribution_7d = max(t.earned_7d_msat, t.sourced_7d_msat)
    open_msat, open_source = open_cost(facts)
    closure, splice = t.closure_cost_sat * 1000, t.splice_cost_sat * 1000
    cost = open_msat + t.rebalance_msat + closure + splice
    net = contribution - cost
    roi = pf.roi(net, cost, contribution)
    net30 = contribution_30d - t.rebalance_30d_msat
    net7 = contribution_7d - t.rebalance_7d_msat
    marginal = pf.marginal_roi(net30, t.rebalance_30d_msat)
    days_open = None if ch.opened_at is None else max(0.0, (now - ch.opened_at) / pf.DAY_S)
    idle = pf.idle_days(now, t.last_forward_ts, ch.opened_at)
    cls = pf.classify(
        pf.ClassInputs(
            roi=roi,
            days_open=days_open or 0.0,
            idle_days=idle,
            routed_ever=t.last_forward_ts is not None,
            contribution_30d_msat=contribution_30d,
            diagnostics=t.diagnostics,
            last_diagnostic_success=t.last_diagnostic_success,
            last_forward_ts=t.last_forward_ts,
            now=now,
            fee_posterior_variance=facts.fee_posterior_variance,
        )
    )
    bleed = pf.bleeder(
        cost_msat=t.rebalance_30d_msat,
        revenue_msat=contribution_30d,
        net7_msat=net7,
        net30_msat=net30,
        previous=facts.previous_bleeder,
        attempts=t.rebalance_attempts_30d,
        successes=t.rebalance_successes_30d,
    )
    turnover = t.volume_30d_msat / 1000 / ch.capacity_sat / 30 if ch.capacity_sat > 0 else 0.0
    return ChannelProfit(
        channel_id=ch.channel_id,
        peer_id=ch.peer_id,
        capacity_sat=ch.capacity_sat,
        local_msat=ch.local_msat,
        fee_ppm=ch.fee_ppm,
        local_opener=ch.local_opener,
        days_open=days_open,
        last_routed=t.last_forward_ts,
        idle_days=idle,
        earned_msat=t.earned_msat,
        sourced_msat=t.sourced_msat,
        earned_30d_msat=t.earned_30d_msat,
        sourced_30d_msat=t.sourced_30d_msat,
        contribution_msat=contribution,
        contribution_30d_msat=contribution_30d,
        contribution_7d_msat=contribution_7d,
        open_cost_msat=open_msat,
        open_cost_source=open_source,
        rebalance_cost_msat=t.rebalance_msat,
        rebalance_cost_30d_msat=t.rebalance_30d_msat,
        closure_cost_msat=closure,
        splice_cost_msat=splice,
        cost_msat=cost,
        net_msat=net,
        net_30d_msat=net30,
        net_7d_msat=net7,
        roi=roi,
        marginal_roi=marginal,
        marginal_reliable=t.rebalance_30d_msat >= pf.MARGINAL_RELIABLE_COST_MSAT,
        classification=cls,
        bleeder=bleed,
        role_30d=str(revenue_role_from_counts(t.entries_30d, t.exits_30d)),
        forwards_30d=t.entries_30d + t.exits_30d,
        turnover_per_day=turnover,
        flow_class=facts.flow_class,
        flow_confidence=facts.flow_confidence,
        kalman_ratio=facts.kalman_ratio,
        strategy=facts.strategy,
        tags=facts.tags,
        diagnostics=t.diagnostics,
        diagnostics_14d=t.diagnostics_14d,
        peer_supports_splice=facts.peer_supports_splice,
    )
