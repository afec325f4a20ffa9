"""PI inventory multiplier (spec revenue-ops §2.5).

Steers the fee toward a target outbound ratio: below target (draining) the multiplier
rises above 1, above target it falls below 1, always within [0.5, 2].
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
