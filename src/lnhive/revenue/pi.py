"""PI inventory multiplier (spec revenue-ops §2.5), with an out-of-band term [ours].

Steers the fee toward a target outbound ratio: below target (draining) the multiplier
rises above 1, above target it falls below 1, always within [0.5, 2]. Beyond 0.25 of
smoothed error the channel is out of inventory and :func:`band_exponent` adds scarcity
pricing that reaches the clamp at an error of 0.5 (docs/revenue-ops.md, "Decisions").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lnhive.revenue.flowclass import FlowClass

TARGET_OUTBOUND_SOURCE = 0.7
TARGET_OUTBOUND_SINK = 0.3
TARGET_OUTBOUND_OTHER = 0.5
EWMA_ALPHA = 0.3  # ewma <- 0.3 e + 0.7 ewma
KP = 2.0
KI = 0.1
INTEGRAL_LIMIT = 3.0
BASE = 1.5
MULTIPLIER_MIN = 0.5
MULTIPLIER_MAX = 2.0
SCALE_CAPACITY_UNIT_SAT = 1_000_000  # scale = 1 / log2(capacity / 1 M sat + 2)
SCALE_CAPACITY_OFFSET = 2.0
HOUR_S = 3600.0
MAX_EXPONENT = math.log(MULTIPLIER_MAX) / math.log(BASE)  # 1.5^1.71 = 2
BAND_ERROR = 0.25  # [ours] beyond this |ewma error| the out-of-band term acts
BAND_GAIN = MAX_EXPONENT / (0.5 - BAND_ERROR)  # [ours] 6.84: at error 0.5 alone it clamps

DRAIN_LOCAL_THRESHOLD = 0.8
DRAIN_LOCAL_SPAN = 0.2
DEFAULT_DRAIN_DISCOUNT_MAX = 0.0  # `drain-fee-discount-max`
DEFAULT_NODE_DRAIN_BIAS_MAX = 0.3  # `node-drain-bias-max`
DEFAULT_RECEIVABLE_RATIO_TARGET = 0.30  # `receivable-ratio-target`
DEFAULT_RECEIVABLE_RATIO_FLOOR = 0.20  # `receivable-ratio-floor`


@dataclass(frozen=True)
class PIState:
    ewma_error: float = 0.0
    integral: float = 0.0
    last_ts: float | None = None
    """When the controller last ran; None on a fresh state (no integration then)."""


@dataclass(frozen=True)
class PIResult:
    state: PIState
    error: float
    multiplier: float


def target_outbound(flow_class: FlowClass) -> float:
    if flow_class is FlowClass.SOURCE:
        return TARGET_OUTBOUND_SOURCE
    if flow_class is FlowClass.SINK:
        return TARGET_OUTBOUND_SINK
    return TARGET_OUTBOUND_OTHER


def capacity_scale(capacity_sat: int) -> float:
    """1 / log2(capacity / 1 M sat + 2): big channels move more gently."""
    return 1.0 / math.log2(capacity_sat / SCALE_CAPACITY_UNIT_SAT + SCALE_CAPACITY_OFFSET)


def band_exponent(ewma_error: float) -> float:
    """[ours] The out-of-band term of the exponent: 0 while |ewma error| <= 0.25, then
    ``MAX_EXPONENT / 0.25`` (6.84) per unit of error beyond it, so that alone it reaches the
    output clamp at an error of 0.5.

    The spec's PI alone moves a 5 M sat channel's fee by at most x1.27 / x0.79 (the integral
    is limited to ±3), whatever the inventory: a drained channel keeps selling its last
    liquidity near the learnt fee and fails payments, a full one is never pushed out. Beyond
    a quarter of the range from its target (outside the rebalancer's [0.25, 0.75] band for a
    balanced channel) the channel is short of, or overfull with, liquidity, and this term
    prices that scarcity, reaching the output clamp [0.5, 2] by the time the error is 0.5
    (a balanced channel empty or full). It is proportional (no memory): the balance already
    integrates the flow, so a stronger integral would overshoot. Inside the band the spec's
    PI is unchanged (spec test 4's fresh-state error, 0.09, is inside)."""
    excess = abs(ewma_error) - BAND_ERROR
    if excess <= 0.0:
        return 0.0
    return math.copysign(BAND_GAIN * excess, ewma_error)


def step(
    state: PIState,
    *,
    outbound_ratio: float,
    flow_class: FlowClass,
    capacity_sat: int,
    now: float,
) -> PIResult:
    """One PI update and the resulting multiplier (target = dts_fee x multiplier)."""
    error = target_outbound(flow_class) - outbound_ratio
    ewma = EWMA_ALPHA * error + (1.0 - EWMA_ALPHA) * state.ewma_error
    integral = state.integral
    if state.last_ts is not None:
        dt_h = max(0.0, now - state.last_ts) / HOUR_S
        integral = max(-INTEGRAL_LIMIT, min(INTEGRAL_LIMIT, integral + ewma * dt_h))
    exponent = capacity_scale(capacity_sat) * (KP * ewma + KI * integral)
    exponent += band_exponent(ewma)
    mult = max(MULTIPLIER_MIN, min(MULTIPLIER_MAX, BASE**exponent))
    return PIResult(PIState(ewma_error=ewma, integral=integral, last_ts=now), error, mult)


def node_pressure_discount_max(
    receivable_ratio: float,
    *,
    bias_max: float = DEFAULT_NODE_DRAIN_BIAS_MAX,
    ratio_target: float = DEFAULT_RECEIVABLE_RATIO_TARGET,
    ratio_floor: float = DEFAULT_RECEIVABLE_RATIO_FLOOR,
) -> float:
    """Node-pressure-scaled discount cap: 0 at the receivable target, `bias_max` at the floor
    and below, linear between."""
    if receivable_ratio >= ratio_target:
        return 0.0
    if receivable_ratio <= ratio_floor:
        return bias_max
    return bias_max * (ratio_target - receivable_ratio) / (ratio_target - ratio_floor)


def drain_discount(
    local_ratio: float,
    *,
    forwards_in_window: int,
    discount_max: float = DEFAULT_DRAIN_DISCOUNT_MAX,
    node_receivable_ratio: float | None = None,
    node_drain_bias_enabled: bool = False,
    node_drain_bias_max: float = DEFAULT_NODE_DRAIN_BIAS_MAX,
) -> float:
    """Multiplier (<= 1) for a stagnant over-local channel: 1 - dmax x (local - 0.8) / 0.2.

    dmax is `drain-fee-discount-max`, or the node-pressure cap when the node drain bias is
    enabled and larger. A channel that forwarded, or is at most 80 % local, gets 1.0.
    """
    if forwards_in_window > 0 or local_ratio <= DRAIN_LOCAL_THRESHOLD:
        return 1.0
    dmax = discount_max
    if node_drain_bias_enabled and node_receivable_ratio is not None:
        pressure = node_pressure_discount_max(node_receivable_ratio, bias_max=node_drain_bias_max)
        dmax = max(dmax, pressure)
    depth = min(1.0, (local_ratio - DRAIN_LOCAL_THRESHOLD) / DRAIN_LOCAL_SPAN)
    return 1.0 - dmax * depth
