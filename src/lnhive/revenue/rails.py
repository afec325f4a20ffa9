"""Fee rails: the floor and ceiling every target is bound to (spec revenue-ops §2.3 step 4).

Every rails component is a whole ppm, rounded down (spec "Clarifications"); multipliers
that are exact decimals are applied in rational arithmetic so that, for example,
60 x 1.2 is 72 and never 71. Feerates arrive as CLN's `feerates perkb` gives them:
sat per 1000 vbytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from lnhive.revenue.flowclass import FlowClass

# Chain cost: (open + close) amortised over 1 M sat/day for 365 days.
DEFAULT_OPEN_COST_SAT = 5_000  # `estimated-open-cost-sats`
DEFAULT_CLOSE_COST_SAT = 3_000
AMORTISED_VOLUME_SAT = 1_000_000 * 365
OPEN_TX_VBYTES = 140
CLOSE_TX_VBYTES = 200
OPEN_COST_MIN_SAT, OPEN_COST_MAX_SAT = 500, 50_000
CLOSE_COST_MIN_SAT, CLOSE_COST_MAX_SAT = 300, 50_000
VBYTES_PER_KVB = 1_000
PPM = 1_000_000

# Risk premium: 150 vB commitment x 0.1 % force-close odds / 50 000 sat HTLC = 3 ppm per sat/vB.
RISK_PREMIUM_PPM_PER_SAT_VB = 3
SLOW_PEER_HOLD_AVG_S = 10.0
SLOW_PEER_HOLD_STD_S = 5.0
SLOW_PEER_MULTIPLIER = Fraction(6, 5)  # x1.2

SOURCE_FLOOR_MULTIPLIER = Fraction(11, 10)  # x1.10
SINK_FLOOR_MULTIPLIER = Fraction(3, 4)  # x0.75

DEFAULT_MIN_FEE_PPM = 50  # `min-fee-ppm`
DEFAULT_MIN_FEE_PPM_SATURATED = 0  # `min-fee-ppm-saturated`
SATURATED_OUTBOUND_RATIO = 0.85
FLOW_BALANCED_MIN_GROSS_OF_CAPACITY = 0.25  # 7 d gross >= 25 % of capacity
FLOW_BALANCED_MAX_NET_OF_GROSS = 0.33  # |net| / gross <= 0.33

REBALANCE_FLOOR_MIN_COUNT_30D = 4
REBALANCE_FLOOR_MULTIPLIER = Fraction(6, 5)  # x1.2
PEER_HISTORY_CONFIDENCES = frozenset({"medium", "high"})

DEFAULT_MAX_FEE_PPM = 2_000  # `max-fee-ppm`
CEILING_DECAY_MIN_FEE_PPM = 500
CEILING_DECAY_MODERATE_DAYS = 3
CEILING_DECAY_MODERATE = Fraction(3, 4)  # x0.75
CEILING_DECAY_SEVERE_DAYS = 7
CEILING_DECAY_SEVERE = Fraction(1, 2)  # x0.5
DAY_S = 86_400.0

FLOOR_BELOW_CEILING_GAP_PPM = 10


def exact(x: float) -> Fraction:
    """The decimal a float was written as (0.85 -> 17/20), for exact whole-ppm rounding."""
    return Fraction(x).limit_denominator(1_000_000)


def floor_mul(value: int, factor: float | Fraction) -> int:
    """floor(value x factor), exact for decimal factors."""
    f = factor if isinstance(factor, Fraction) else exact(factor)
    return math.floor(value * f)


def _sat_per_vb(feerate_perkb: int) -> Fraction:
    return Fraction(feerate_perkb, VBYTES_PER_KVB)


def _clamp(x: Fraction, lo: int, hi: int) -> Fraction:
    return max(Fraction(lo), min(Fraction(hi), x))


def chain_cost_ppm(
    feerate_perkb: int | None,
    *,
    local_opener: bool = True,
    open_cost_sat: int | None = None,
    estimated_open_cost_sat: int = DEFAULT_OPEN_COST_SAT,
) -> int:
    """Open plus close cost per ppm of a year's 1 M sat/day volume, floored.

    `open_cost_sat` is a known actual cost (bookkeeper); otherwise the live estimate
    from the feerate, or `estimated_open_cost_sat` without one. A remote opener pays
    the open, so only the close counts.
    """
    if feerate_perkb is None:
        open_est = Fraction(estimated_open_cost_sat)
        close = Fraction(DEFAULT_CLOSE_COST_SAT)
    else:
        rate = _sat_per_vb(feerate_perkb)
        open_est = _clamp(rate * OPEN_TX_VBYTES, OPEN_COST_MIN_SAT, OPEN_COST_MAX_SAT)
        close = _clamp(rate * CLOSE_TX_VBYTES, CLOSE_COST_MIN_SAT, CLOSE_COST_MAX_SAT)
    opening = Fraction(open_cost_sat) if open_cost_sat is not None else open_est
    if not local_opener:
        opening = Fraction(0)
    return math.floor((opening + close) * PPM / AMORTISED_VOLUME_SAT)


def risk_premium_ppm(feerate_perkb: int | None) -> int:
    """3 ppm per sat/vB (0 without a feerate), floored."""
    if feerate_perkb is None:
        return 0
    return math.floor(RISK_PREMIUM_PPM_PER_SAT_VB * _sat_per_vb(feerate_perkb))


def is_slow_peer(hold_avg_s: float | None, hold_std_s: float | None) -> bool:
    """The peer holds HTLCs long: average > 10 s or standard deviation > 5 s."""
    return (hold_avg_s is not None and hold_avg_s > SLOW_PEER_HOLD_AVG_S) or (
        hold_std_s is not None and hold_std_s > SLOW_PEER_HOLD_STD_S
    )


def is_flow_balanced_router(capacity_sat: int, gross_7d_sat: int, net_7d_sat: int) -> bool:
    """7 d gross flow >= 25 % of capacity and |net| / gross <= 0.33."""
    if gross_7d_sat <= 0 or capacity_sat <= 0:
        return False
    busy = gross_7d_sat >= exact(FLOW_BALANCED_MIN_GROSS_OF_CAPACITY) * capacity_sat
    even = Fraction(abs(net_7d_sat), gross_7d_sat) <= exact(FLOW_BALANCED_MAX_NET_OF_GROSS)
    return busy and even


def effective_min_fee_ppm(
    flow_class: FlowClass,
    outbound_ratio: float,
    *,
    min_fee_ppm: int = DEFAULT_MIN_FEE_PPM,
    min_fee_ppm_saturated: int = DEFAULT_MIN_FEE_PPM_SATURATED,
    flow_balanced_router: bool = False,
) -> int:
    """`min-fee-ppm`, or `min-fee-ppm-saturated` for a source or >= 85 %-outbound channel
    that is not a flow-balanced router."""
    saturated = flow_class is FlowClass.SOURCE or outbound_ratio >= SATURATED_OUTBOUND_RATIO
    if saturated and not flow_balanced_router:
        return min_fee_ppm_saturated
    return min_fee_ppm


def rebalance_cost_floor_ppm(
    flow_class: FlowClass,
    *,
    rebalances_30d: int = 0,
    rebalance_cost_sat_30d: int = 0,
    rebalance_amount_sat_30d: int = 0,
    peer_history_cost_ppm: int | None = None,
    peer_history_confidence: str = "low",
) -> int:
    """1.2 x what refilling this channel cost (0 for sink and dormant channels).

    With >= 4 rebalances in 30 days: 1.2 x sum(cost) / sum(amount) x 1e6; else the peer's
    history when its confidence is medium or high.
    """
    if flow_class in (FlowClass.SINK, FlowClass.DORMANT):
        return 0
    if rebalances_30d >= REBALANCE_FLOOR_MIN_COUNT_30D and rebalance_amount_sat_30d > 0:
        ratio = Fraction(rebalance_cost_sat_30d * PPM, rebalance_amount_sat_30d)
        return math.floor(REBALANCE_FLOOR_MULTIPLIER * ratio)
    if peer_history_cost_ppm is not None and peer_history_confidence in PEER_HISTORY_CONFIDENCES:
        return floor_mul(peer_history_cost_ppm, REBALANCE_FLOOR_MULTIPLIER)
    return 0


def ceiling_ppm(
    current_fee_ppm: int,
    now: float,
    last_activity_ts: float,
    *,
    max_fee_ppm: int = DEFAULT_MAX_FEE_PPM,
) -> int:
    """`max-fee-ppm`, x0.75 after 3 and x0.5 after 7 days without forwards (at >= 500 ppm).

    `last_activity_ts` is the last forward, or the channel's opening when it never routed.
    """
    idle_days = (now - last_activity_ts) / DAY_S
    if current_fee_ppm < CEILING_DECAY_MIN_FEE_PPM:
        return max_fee_ppm
    if idle_days >= CEILING_DECAY_SEVERE_DAYS:
        return math.floor(max_fee_ppm * CEILING_DECAY_SEVERE)
    if idle_days >= CEILING_DECAY_MODERATE_DAYS:
        return math.floor(max_fee_ppm * CEILING_DECAY_MODERATE)
    return max_fee_ppm


@dataclass(frozen=True)
class RailsInputs:
    """Everything step 4 looks at for one channel."""

    current_fee_ppm: int
    now: float
    last_activity_ts: float
    flow_class: FlowClass = FlowClass.BALANCED
    outbound_ratio: float = 0.5
    capacity_sat: int = 0
    feerate_perkb: int | None = None
    local_opener: bool = True
    open_cost_sat: int | None = None
    estimated_open_cost_sat: int = DEFAULT_OPEN_COST_SAT
    htlc_hold_avg_s: float | None = None
    htlc_hold_std_s: float | None = None
    min_fee_ppm: int = DEFAULT_MIN_FEE_PPM
    min_fee_ppm_saturated: int = DEFAULT_MIN_FEE_PPM_SATURATED
    max_fee_ppm: int = DEFAULT_MAX_FEE_PPM
    gross_7d_sat: int = 0
    net_7d_sat: int = 0
    vegas_multiplier: float = 1.0
    rebalances_30d: int = 0
    rebalance_cost_sat_30d: int = 0
    rebalance_amount_sat_30d: int = 0
    peer_history_cost_ppm: int | None = None
    peer_history_confidence: str = "low"
    policy_fee_ppm_target: int | None = None
    policy_multiplier_min: float | None = None
    policy_multiplier_max: float | None = None
    ceiling_factor: float = 1.0
    """Profitability coupling (§4): max(0.5, 1/m) by marginal ROI; 1 unless losing money."""


@dataclass(frozen=True)
class Rails:
    """The rails and how they came about (for `revenue-fee-debug`)."""

    floor_ppm: int
    ceiling_ppm: int
    chain_cost_ppm: int
    risk_premium_ppm: int
    cost_floor_ppm: int
    """max(chain cost, risk premium), x1.2 for a slow peer, x1.10 source / x0.75 sink."""
    min_fee_ppm: int
    """The `min-fee-ppm` (or saturated variant) that applied."""
    rebalance_floor_ppm: int
    floor_reset_below_ceiling: bool
    """The floor met the ceiling and was reset to max(min fee, ceiling - 10)."""
    ceiling_factor: float = 1.0
    """The profitability coupling applied to the ceiling (§4)."""


def class_floor_multiplier(flow_class: FlowClass) -> Fraction:
    if flow_class is FlowClass.SOURCE:
        return SOURCE_FLOOR_MULTIPLIER
    if flow_class is FlowClass.SINK:
        return SINK_FLOOR_MULTIPLIER
    return Fraction(1)


def cost_floor_ppm(i: RailsInputs) -> tuple[int, int, int]:
    """(chain cost, risk premium, cost floor): the floor before `min-fee-ppm`."""
    chain = chain_cost_ppm(
        i.feerate_perkb,
        local_opener=i.local_opener,
        open_cost_sat=i.open_cost_sat,
        estimated_open_cost_sat=i.estimated_open_cost_sat,
    )
    risk = risk_premium_ppm(i.feerate_perkb)
    winner = max(chain, risk)
    if is_slow_peer(i.htlc_hold_avg_s, i.htlc_hold_std_s):
        winner = floor_mul(winner, SLOW_PEER_MULTIPLIER)
    return chain, risk, floor_mul(winner, class_floor_multiplier(i.flow_class))


def compute_rails(i: RailsInputs) -> Rails:
    """Floor and ceiling for one channel, in the spec's order."""
    chain, risk, cost_floor = cost_floor_ppm(i)
    min_fee = effective_min_fee_ppm(
        i.flow_class,
        i.outbound_ratio,
        min_fee_ppm=i.min_fee_ppm,
        min_fee_ppm_saturated=i.min_fee_ppm_saturated,
        flow_balanced_router=is_flow_balanced_router(i.capacity_sat, i.gross_7d_sat, i.net_7d_sat),
    )
    floor = math.floor(max(cost_floor, min_fee) * i.vegas_multiplier)
    rebalance = rebalance_cost_floor_ppm(
        i.flow_class,
        rebalances_30d=i.rebalances_30d,
        rebalance_cost_sat_30d=i.rebalance_cost_sat_30d,
        rebalance_amount_sat_30d=i.rebalance_amount_sat_30d,
        peer_history_cost_ppm=i.peer_history_cost_ppm,
        peer_history_confidence=i.peer_history_confidence,
    )
    floor = max(floor, rebalance)
    ceiling = ceiling_ppm(i.current_fee_ppm, i.now, i.last_activity_ts, max_fee_ppm=i.max_fee_ppm)
    if i.ceiling_factor < 1.0:  # a channel losing money at the margin is capped lower (§4)
        ceiling = floor_mul(ceiling, max(0.5, i.ceiling_factor))
    if i.policy_fee_ppm_target is not None:
        lo = 0
        hi = max(ceiling, floor)
        if i.policy_multiplier_min is not None:
            lo = floor_mul(i.policy_fee_ppm_target, i.policy_multiplier_min)
        if i.policy_multiplier_max is not None:
            hi = floor_mul(i.policy_fee_ppm_target, i.policy_multiplier_max)
        floor = min(max(floor, lo), hi)
        ceiling = min(max(ceiling, lo), hi)
    reset = floor >= ceiling
    if reset:
        floor = max(min_fee, ceiling - FLOOR_BELOW_CEILING_GAP_PPM)
    return Rails(
        floor_ppm=floor,
        ceiling_ppm=ceiling,
        chain_cost_ppm=chain,
        risk_premium_ppm=risk,
        cost_floor_ppm=cost_floor,
        min_fee_ppm=min_fee,
        rebalance_floor_ppm=rebalance,
        floor_reset_below_ceiling=reset,
        ceiling_factor=i.ceiling_factor,
    )
