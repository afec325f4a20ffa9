"""The EMA view of a channel's flow (spec revenue-ops §1, "EMA view"): the secondary signal.

Daily buckets are weighted ``d^age`` (age in whole UTC days before today); the decay ``d``
adapts to the volatility ``v = sd(daily net) / mean(daily volume)``. ``flow_ratio`` is
``(ema_out - ema_in) / capacity`` with the EMAs as weighted means of the daily amounts
(sum of w*x over sum of w), clamped to [-1, 1]. Time is float UNIX seconds passed in.

Readings where the spec is terse: ``sd`` is the sample standard deviation (n - 1); "volume
< 1000 sat" is the mean daily volume (out + in); "idle days" are the days since the last
forward (no forward in the window -> the confidence floor 0.1); a velocity measured over
less than 0.5 h is not measured: the previous velocity stands and the reference point
(ratio, time) is kept, so the next measurement spans the longer gap.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from lnhive.revenue.kalman import finite_float

SECONDS_PER_DAY = 86_400

DECAY_FAST = 0.65
"""d when v > 0.5 (volatile: recent days dominate)."""
DECAY_SLOW = 0.95
"""d when v < 0.1 (stable: long memory)."""
DECAY_DEFAULT = 0.8
"""d when mean daily volume < 1000 sat or fewer than 3 buckets."""
VOLATILE_ABOVE = 0.5
STABLE_BELOW = 0.1
DECAY_MIN_VOLUME_SATS = 1000
DECAY_MIN_BUCKETS = 3

CONFIDENCE_BASE = 0.1
"""Confidence = min(1, 0.1 + 0.9 n/20) * 0.5^(idle days / 3), clamped to [0.1, 1]."""
CONFIDENCE_FULL_COUNT = 20
CONFIDENCE_HALF_LIFE_DAYS = 3.0
CONFIDENCE_MIN = 0.1
CONFIDENCE_MAX = 1.0

VELOCITY_MIN_GAP_HOURS = 0.5
"""Velocity = d ratio / h, measured over a gap of at least 0.5 h."""
VELOCITY_LIMIT = 0.5
"""Velocity is clamped to +-0.5 per hour."""

STATE_VERSION = 1


class FlowDay(Protocol):
    """One UTC day of a channel's forwards (``flow.DailyBucket`` has this shape)."""

    @property
    def day(self) -> int: ...
    @property
    def out_msat(self) -> int: ...
    @property
    def in_msat(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def last_ts(self) -> float: ...


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def flow_volatility(daily_net_sats: Sequence[float], daily_volume_sats: Sequence[float]) -> float:
    """v = sample sd(daily net) / mean(daily volume); 0 when it cannot be computed."""
    if len(daily_net_sats) < 2 or not daily_volume_sats:
        return 0.0
    mean_volume = sum(daily_volume_sats) / len(daily_volume_sats)
    if mean_volume <= 0:
        return 0.0
    return statistics.stdev(daily_net_sats) / mean_volume


def adaptive_decay(daily_net_sats: Sequence[float], daily_volume_sats: Sequence[float]) -> float:
    """d: 0.65 if v > 0.5, 0.95 if v < 0.1, linear between; 0.8 with little data."""
    n = len(daily_volume_sats)
    if n < DECAY_MIN_BUCKETS or len(daily_net_sats) < DECAY_MIN_BUCKETS:
        return DECAY_DEFAULT
    if sum(daily_volume_sats) / n < DECAY_MIN_VOLUME_SATS:
        return DECAY_DEFAULT
    v = flow_volatility(daily_net_sats, daily_volume_sats)
    if v > VOLATILE_ABOVE:
        return DECAY_FAST
    if v < STABLE_BELOW:
        return DECAY_SLOW
    frac = (v - STABLE_BELOW) / (VOLATILE_ABOVE - STABLE_BELOW)
    return DECAY_SLOW - frac * (DECAY_SLOW - DECAY_FAST)


def flow_confidence(count: int, last_ts: float | None, now: float) -> float:
    """min(1, 0.1 + 0.9 n/20) * 0.5^(idle days/3), clamped to [0.1, 1]."""
    count_factor = min(1.0, CONFIDENCE_BASE + (1 - CONFIDENCE_BASE) * count / CONFIDENCE_FULL_COUNT)
    if last_ts is None or count <= 0:
        return CONFIDENCE_MIN
    idle_days = max(0.0, (now - last_ts) / SECONDS_PER_DAY)
    recency = 0.5 ** (idle_days / CONFIDENCE_HALF_LIFE_DAYS)
    return _clamp(count_factor * recency, CONFIDENCE_MIN, CONFIDENCE_MAX)


def ema_flow_ratio(
    buckets: Sequence[FlowDay], *, today: int, decay: float, capacity_msat: int
) -> float:
    """(ema_out - ema_in) / capacity with weights decay^(today - day), clamped to [-1, 1]."""
    if capacity_msat <= 0 or not buckets:
        return 0.0
    total_w = ema_out = ema_in = 0.0
    for b in buckets:
        w = decay ** max(0, today - b.day)
        total_w += w
        ema_out += w * b.out_msat
        ema_in += w * b.in_msat
    if total_w <= 0:
        return 0.0
    return _clamp((ema_out - ema_in) / total_w / capacity_msat, -1.0, 1.0)


def velocity(ratio: float, prev_ratio: float, hours: float) -> float | None:
    """d ratio / h clamped to +-0.5; None when the gap is under 0.5 h."""
    if not hours >= VELOCITY_MIN_GAP_HOURS:
        return None
    return _clamp((ratio - prev_ratio) / hours, -VELOCITY_LIMIT, VELOCITY_LIMIT)


@dataclass(frozen=True)
class EmaState:
    """What the EMA view keeps between cycles: the velocity's reference point."""

    flow_ratio: float = 0.0
    velocity: float = 0.0
    measured_at: float | None = None
    """UNIX seconds of ``flow_ratio``; None before the first cycle."""
    was_reset: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, object]:
        return {
            "version": STATE_VERSION,
            "flow_ratio": self.flow_ratio,
            "velocity": self.velocity,
            "measured_at": self.measured_at,
        }

    @classmethod
    def from_json(cls, data: object) -> EmaState:
        """Corrupt or non-finite input gives a fresh state with ``was_reset`` set."""
        if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
            return cls(was_reset=True)
        try:
            ratio = finite_float(data.get("flow_ratio"))
            vel = finite_float(data.get("velocity"))
            at = data.get("measured_at")
            measured_at = None if at is None else finite_float(at)
        except ValueError:
            return cls(was_reset=True)
        if abs(ratio) > 1 or abs(vel) > VELOCITY_LIMIT:
            return cls(was_reset=True)
        return cls(flow_ratio=ratio, velocity=vel, measured_at=measured_at)


@dataclass(frozen=True)
class EmaView:
    """One cycle's EMA metrics of a channel."""

    decay: float
    flow_ratio: float
    confidence: float
    velocity: float
    forward_count: int
    state: EmaState
    """The state to persist for the next cycle."""


def ema_step(
    state: EmaState, buckets: Sequence[FlowDay], *, now: float, capacity_msat: int
) -> EmaView:
    """The EMA view of ``buckets`` (one channel's window, any order) at ``now``."""
    ordered = sorted(buckets, key=lambda b: b.day)
    nets = [(b.out_msat - b.in_msat) / 1000 for b in ordered]
    volumes = [(b.out_msat + b.in_msat) / 1000 for b in ordered]
    decay = adaptive_decay(nets, volumes)
    today = math.floor(now / SECONDS_PER_DAY)
    ratio = ema_flow_ratio(ordered, today=today, decay=decay, capacity_msat=capacity_msat)
    count = sum(b.count for b in ordered)
    last_ts = max((b.last_ts for b in ordered if b.count > 0), default=None)
    confidence = flow_confidence(count, last_ts, now)
    if not math.isfinite(state.flow_ratio) or not math.isfinite(state.velocity):
        state = EmaState(was_reset=True)
    if state.measured_at is None:
        new_state = EmaState(flow_ratio=ratio, velocity=0.0, measured_at=now)
    else:
        vel = velocity(ratio, state.flow_ratio, (now - state.measured_at) / 3600.0)
        if vel is None:
            new_state = EmaState(state.flow_ratio, state.velocity, state.measured_at)
        else:
            new_state = EmaState(flow_ratio=ratio, velocity=vel, measured_at=now)
    return EmaView(
        decay=decay,
        flow_ratio=ratio,
        confidence=confidence,
        velocity=new_state.velocity,
        forward_count=count,
        state=replace(new_state, was_reset=state.was_reset),
    )
