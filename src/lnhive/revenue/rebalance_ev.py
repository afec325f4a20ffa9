"""The rebalance cost cap and EV gate (spec revenue-ops §3.2), pure, in msat.

- Pair budget = max(destination capex remaining, ceil(amount x ``pair-fee-cap-ppm`` / 1e6));
  the capex term is 0 until profitability tracking (slice 3) supplies it. The destination's
  budget multiplier (§4 couplings, :mod:`.couplings`) then scales it, rounded down to sat.
- p = the route's probability (``getroutes`` ``probability_ppm`` / 1e6) clamped to
  [0.05, 0.99]; else, with >= 3 past attempts on the pair, 0.5 x (0.5 + success rate)
  clamped to [0.05, 0.95]; else 0.5. Which one was used is the decision's
  ``probability_source``: ``route``, ``history`` or ``default``.
- EFV (expected future value) = amount x 0.5 x dest fee ppm / 1e6, halved when that fee
  has not earned before; source opportunity = amount x 0.5 x source fee ppm / 1e6.
- score(fee) = p x EFV - fee - source opportunity - failures x fee x 0.25 (the activity
  penalty of the reference is not modelled).
- The EV maximum fee is the largest fee whose score still reaches the hold margin
  (``rebalance-hold-margin``, 0 sat; for a destination whose peer has strategy ``hive``,
  the margin is ``-hive-rebalance-tolerance``, 50 sat). The per-attempt ceiling is
  min(pair budget, EV maximum). A route dearer than the ceiling is rejected
  ``below_hold_margin`` before anything is sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lnhive.revenue.couplings import PPM, scale_msat

P_DEFAULT = 0.5


@dataclass(frozen=True)
class EvInputs:
    amount_msat: int
    dest_fee_ppm: int
    source_fee_ppm: int
    dest_fee_has_earned: bool = True
    route_probability: float | None = None
    past_attempts: int = 0
    past_successes: int = 0
    pair_failures: int = 0
    capex_remaining_msat: int = 0
    hive_dest: bool = False
    budget_multiplier_ppm: int = PPM


@dataclass(frozen=True)
class EvConfig:
    pair_fee_cap_ppm: int = 1000
    hold_margin_sat: int = 0
    hive_rebalance_tolerance_sat: int = 50


@dataclass(frozen=True)
class EvDecision:
    probability: float
    efv_msat: int
    source_opportunity_msat: int
    pair_budget_msat: int
    ev_max_fee_msat: int
    ceiling_msat: int
    margin_msat: int
    probability_source: str = "default"

    def score_msat(self, fee_msat: int, failures: int) -> float:
        return (
            self.probability * self.efv_msat
            - fee_msat
            - self.source_opportunity_msat
            - failures * fee_msat * 0.25
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "probability": round(self.probability, 4),
            "probability_source": self.probability_source,
            "efv_msat": self.efv_msat,
            "source_opportunity_msat": self.source_opportunity_msat,
            "pair_budget_msat": self.pair_budget_msat,
            "ev_max_fee_msat": self.ev_max_fee_msat,
            "ceiling_msat": self.ceiling_msat,
            "hold_margin_msat": self.margin_msat,
        }


def probability_source(inp: EvInputs) -> str:
    """Where :func:`probability` takes p from: ``route``, ``history`` or ``default``."""
    if inp.route_probability is not None:
        return "route"
    if inp.past_attempts >= 3:
        return "history"
    return "default"


def probability(inp: EvInputs) -> float:
    if inp.route_probability is not None:
        return min(0.99, max(0.05, inp.route_probability))
    if inp.past_attempts >= 3:
        rate = inp.past_successes / inp.past_attempts
        return min(0.95, max(0.05, 0.5 * (0.5 + rate)))
    return P_DEFAULT


def pair_budget_msat(amount_msat: int, cap_ppm: int, capex_remaining_msat: int = 0) -> int:
    return max(capex_remaining_msat, math.ceil(amount_msat * cap_ppm / 1_000_000))


def evaluate(inp: EvInputs, cfg: EvConfig) -> EvDecision:
    p = probability(inp)
    efv = inp.amount_msat * 0.5 * inp.dest_fee_ppm / 1_000_000
    if not inp.dest_fee_has_earned:
        efv *= 0.5
    opp = inp.amount_msat * 0.5 * inp.source_fee_ppm / 1_000_000
    margin = (-cfg.hive_rebalance_tolerance_sat if inp.hive_dest else cfg.hold_margin_sat) * 1000
    # score(fee) >= margin  <=>  fee x (1 + 0.25 x failures) <= p x EFV - opp - margin
    room = p * efv - opp - margin
    ev_max = max(0, math.floor(room / (1 + 0.25 * inp.pair_failures)))
    budget = pair_budget_msat(inp.amount_msat, cfg.pair_fee_cap_ppm, inp.capex_remaining_msat)
    if inp.budget_multiplier_ppm != PPM:
        budget = scale_msat(budget, inp.budget_multiplier_ppm)
    return EvDecision(
        probability=p,
        efv_msat=math.floor(efv),
        source_opportunity_msat=math.ceil(opp),
        pair_budget_msat=budget,
        ev_max_fee_msat=ev_max,
        ceiling_msat=min(budget, ev_max),
        margin_msat=margin,
        probability_source=probability_source(inp),
    )


def gate(decision: EvDecision, fee_msat: int, failures: int) -> str | None:
    """``below_hold_margin`` when a route's fee exceeds the ceiling or its score misses the
    margin (a free route always passes); None when it may be sent."""
    if fee_msat <= 0:
        return None
    if fee_msat > decision.ceiling_msat:
        return "below_hold_margin"
    if decision.score_msat(fee_msat, failures) < decision.margin_msat:
        return "below_hold_margin"
    return None
