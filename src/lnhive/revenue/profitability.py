"""Channel profitability (spec revenue-ops §4), pure: ROI, marginal ROI, the classification
ladder, bleeder levels and the couplings other parts read.

Money is integer msat in and out; ROI figures are plain ratios (0.25 = 25 %).

- **Revenue attribution**: ``fees_earned`` is credited to the exit channel, the
  ``sourced_fee_contribution`` to the entry channel; a channel's contribution is the larger
  of the two (valuation and close protection only: node revenue sums ``fees_earned``).
- **Costs**: open (0 when the peer opened) + rebalance fees paid to refill the channel
  (+ closure and splice costs when known).
- ``net = contribution - costs``; ``ROI = net / costs`` (costs 0 → 1.0 if contribution > 0,
  else 0). Marginal ROI over 30 days = ``(contribution - rebalance cost) / max(1, rebalance
  cost)`` with the same zero-cost rule; it is *reliable* once that cost reaches 100 sat.

Classification, first match: ZOMBIE, STAGNANT_CANDIDATE, PROFITABLE, UNDERWATER, else
BREAK_EVEN (thresholds below). **[ours]** The second STAGNANT arm (no contribution in 30 days,
≥ 30 idle days, > 60 days open) applies only to a channel that has routed at some time: a
channel that never routed and cost nothing (ROI 0) stays BREAK_EVEN (spec §7 test 23), and
one that never routed but cost something has ROI -1 and meets the first arm anyway.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

DAY_S = 86_400.0

PROFITABLE_ROI = 0.10
UNDERWATER_ROI = -0.10
CONFIDENT_PROFITABLE_ROI = 0.05
CONFIDENT_UNDERWATER_ROI = -0.15
CONFIDENT_POSTERIOR_VARIANCE = 2500.0
"""A fee posterior this narrow (std < 50 ppm) narrows the break-even band to [-15 %, 5 %]."""
STAGNANT_IDLE_DAYS = 7
STAGNANT_ROI = -0.10
DEAD_IDLE_DAYS = 30
DEAD_MIN_DAYS_OPEN = 60
ZOMBIE_ROI = -0.10
ZOMBIE_MIN_DIAGNOSTICS = 2
ZOMBIE_DIAGNOSTIC_AGE_S = 48 * 3600.0
ZOMBIE_IDLE_DAYS = 7
MARGINAL_RELIABLE_COST_MSAT = 100_000

BLEEDER_MIN_COST_MSAT = 100_000
BLEEDER_HARD_NET30_MSAT = -1_000_000
BLEEDER_STAY_HARD_NET30_MSAT = -500_000
BLEEDER_MIN_ATTEMPTS = 3
BLEEDER_SUCCESS_FLOOR = 0.10


class ProfitClass(enum.StrEnum):
    PROFITABLE = "profitable"
    BREAK_EVEN = "break_even"
    UNDERWATER = "underwater"
    STAGNANT_CANDIDATE = "stagnant_candidate"
    ZOMBIE = "zombie"


class Bleeder(enum.StrEnum):
    NONE = "none"
    SOFT = "soft"
    HARD = "hard"


def roi(net_msat: int, cost_msat: int, contribution_msat: int) -> float:
    """``net / cost``; with no cost, 1.0 if the channel contributed anything, else 0."""
    if cost_msat <= 0:
        return 1.0 if contribution_msat > 0 else 0.0
    return net_msat / cost_msat


def marginal_roi(profit_msat: int, cost_msat: int) -> float:
    """``profit / max(1, cost)``; with no cost, 1.0 if the profit is positive, else 0."""
    if cost_msat <= 0:
        return 1.0 if profit_msat > 0 else 0.0
    return profit_msat / max(1, cost_msat)


def idle_days(now: float, last_forward_ts: float | None, opened_at: float | None) -> float:
    """Days since the last forward through the channel, or since it opened (0 if unknown)."""
    since = last_forward_ts if last_forward_ts is not None else opened_at
    return 0.0 if since is None else max(0.0, (now - since) / DAY_S)


@dataclass(frozen=True)
class ClassInputs:
    """What the classification ladder reads (times in UNIX s, ROI as a ratio)."""

    roi: float
    days_open: float
    idle_days: float
    routed_ever: bool
    contribution_30d_msat: int
    diagnostics: int = 0
    """Diagnostic (defibrillator) rebalance attempts, all time."""
    last_diagnostic_success: float | None = None
    last_forward_ts: float | None = None
    now: float = 0.0
    fee_posterior_variance: float | None = None


def _zombie(x: ClassInputs) -> bool:
    if x.roi >= ZOMBIE_ROI or x.diagnostics < ZOMBIE_MIN_DIAGNOSTICS:
        return False
    if x.last_diagnostic_success is not None:
        routed_since = (
            x.last_forward_ts is not None and x.last_forward_ts > x.last_diagnostic_success
        )
        return not routed_since and x.now - x.last_diagnostic_success > ZOMBIE_DIAGNOSTIC_AGE_S
    return x.idle_days >= ZOMBIE_IDLE_DAYS


def classify(x: ClassInputs) -> ProfitClass:
    """The §4 ladder, first match."""
    if _zombie(x):
        return ProfitClass.ZOMBIE
    if x.idle_days >= STAGNANT_IDLE_DAYS and x.roi < STAGNANT_ROI:
        return ProfitClass.STAGNANT_CANDIDATE
    if (
        x.routed_ever
        and x.contribution_30d_msat <= 0
        and x.idle_days >= DEAD_IDLE_DAYS
        and x.days_open > DEAD_MIN_DAYS_OPEN
    ):
        return ProfitClass.STAGNANT_CANDIDATE
    confident = (
        x.fee_posterior_variance is not None
        and x.fee_posterior_variance < CONFIDENT_POSTERIOR_VARIANCE
    )
    hi = CONFIDENT_PROFITABLE_ROI if confident else PROFITABLE_ROI
    lo = CONFIDENT_UNDERWATER_ROI if confident else UNDERWATER_ROI
    if x.roi > hi:
        return ProfitClass.PROFITABLE
    if x.roi < lo:
        return ProfitClass.UNDERWATER
    return ProfitClass.BREAK_EVEN


def bleeder(
    *,
    cost_msat: int,
    revenue_msat: int,
    net7_msat: int,
    net30_msat: int,
    previous: Bleeder = Bleeder.NONE,
    attempts: int = 0,
    successes: int = 0,
) -> Bleeder:
    """The §4 bleeder level from 30-day rebalance cost and contribution.

    None below 100 sat of cost. The effective cost is ``cost / max(success rate, 0.10)`` once
    there were 3 attempts. Hard: effective cost > 2 x revenue and net30 < -1000 sat; a hard
    bleeder stays hard while net30 ≤ -500 sat. Otherwise soft when net7 < 0 < net30; both
    negative: hard beyond -1000 sat over 30 days, else soft; net30 < 0 ≤ net7: soft.
    """
    if cost_msat < BLEEDER_MIN_COST_MSAT:
        return Bleeder.NONE
    effective = float(cost_msat)
    if attempts >= BLEEDER_MIN_ATTEMPTS:
        effective = cost_msat / max(successes / attempts, BLEEDER_SUCCESS_FLOOR)
    if effective > 2 * revenue_msat and net30_msat < BLEEDER_HARD_NET30_MSAT:
        return Bleeder.HARD
    if previous is Bleeder.HARD and net30_msat <= BLEEDER_STAY_HARD_NET30_MSAT:
        return Bleeder.HARD
    if net7_msat < 0 < net30_msat:
        return Bleeder.SOFT
    if net7_msat < 0 and net30_msat < 0:
        return Bleeder.HARD if abs(net30_msat) > -BLEEDER_HARD_NET30_MSAT else Bleeder.SOFT
    if net30_msat < 0 <= net7_msat:
        return Bleeder.SOFT
    return Bleeder.NONE


# -- couplings (§4 "Couplings") ---------------------------------------------------------------
_REBALANCE_PRIORITY = {
    ProfitClass.PROFITABLE: 1.5,
    ProfitClass.BREAK_EVEN: 1.0,
    ProfitClass.UNDERWATER: 0.5,
    ProfitClass.STAGNANT_CANDIDATE: 0.3,
    ProfitClass.ZOMBIE: 0.0,
}


def ceiling_factor(marginal: float) -> float:
    """Fee-ceiling multiplier ``max(0.5, 1/m)``; m by marginal ROI: > 20 % 0.95 (ignored,
    the ceiling is never raised), ≥ 0 1.0, ≥ -20 % 1.05, ≥ -50 % 1.10, else 1.15."""
    if marginal >= 0.0:
        return 1.0
    m = 1.05 if marginal >= -0.20 else 1.10 if marginal >= -0.50 else 1.15
    return max(0.5, 1.0 / m)


def rebalance_priority(cls: ProfitClass) -> float:
    """Priority weight of a destination: 1.5 / 1.0 / 0.5 / 0.3 / 0 from profitable to zombie."""
    return _REBALANCE_PRIORITY[cls]


def budget_multiplier(cls: ProfitClass, roi_value: float) -> float:
    """Budget multiplier: min(1.5, 1 + ROI) profitable, 1 break-even, 0.5 underwater,
    0.3 stagnant, 0 zombie."""
    if cls is ProfitClass.PROFITABLE:
        return min(1.5, 1.0 + roi_value) if math.isfinite(roi_value) else 1.0
    return {
        ProfitClass.BREAK_EVEN: 1.0,
        ProfitClass.UNDERWATER: 0.5,
        ProfitClass.STAGNANT_CANDIDATE: 0.3,
        ProfitClass.ZOMBIE: 0.0,
    }[cls]


def sat_ceil(msat: int) -> int:
    """Revenue and costs are reported in sat rounded up (spec §0)."""
    return -(-msat // 1000)
