"""Flow analysis of one channel (spec revenue-ops §1): daily buckets, the Kalman observation,
classification (the single authority for fees and rebalancing), 30-day revenue role and
depletion ETA. Pure functions of the evidence; time is float UNIX seconds passed in.

Readings where the spec is terse (each is tested):

- the bucket window is the last ``window_days`` UTC days including today (``now``'s day),
  forwards after ``now`` are ignored; ``count`` counts forwards that used the channel on
  either side; ``day`` is the UTC day number ``floor(ts / 86400)``;
- the Kalman observation takes forwards with ``now - 24 h <= resolved_time <= now``; its
  confidence is the EMA view's confidence formula over those forwards;
- the x1.5 widening while the fee posterior variance > 10 000 applies to step 2's converged
  thresholds only; step 3's "unless kalman > 0.05 / < -0.05" keeps 0.05;
- hysteresis: a channel whose previous class was SINK stays SINK while outbound > 0.72, one
  that was SOURCE stays SOURCE while outbound < 0.28 (subject to the same "unless");
- "a stored label older than 2 x flow-interval is ignored" concerns the CONGESTED label
  (:func:`usable_stored_class`); classification itself measures congestion live;
- turnover is the window's mean daily volume (out + in) over capacity.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lnhive.revenue.ema import SECONDS_PER_DAY, EmaState, EmaView, ema_step, flow_confidence
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.kalman import (
    OBSERVATION_WINDOW_SECONDS,
    KalmanState,
    Observation,
    kalman_step,
)

FLOW_WINDOW_DAYS = 7
"""``flow-window-days`` default."""
FLOW_INTERVAL_SECONDS = 3600
"""``flow-interval`` default."""

# --- classification thresholds (spec §1 "Classification") ------------------------------------
CONGESTION_THRESHOLD = 0.8
"""CONGESTED if in-flight HTLCs / max_accepted_htlcs > 0.8 (``htlc-congestion-threshold``)."""
STALE_LABEL_INTERVALS = 2
"""A stored CONGESTED label older than 2 x flow-interval is ignored."""
SOURCE_THRESHOLD = 0.05
"""Converged Kalman ratio above this -> SOURCE (``source_threshold``)."""
SINK_THRESHOLD = -0.05
"""Converged Kalman ratio below this -> SINK."""
EXPLORING_FEE_VARIANCE = 10_000.0
"""While the fee posterior variance is above this, the converged thresholds widen ..."""
EXPLORING_WIDENING = 1.5
"""... by this factor."""
SINK_ENTER_OUTBOUND = 0.78
"""Unconverged: SINK if outbound > 0.78 ..."""
SINK_STAY_OUTBOUND = 0.72
"""... and stays SINK while outbound > 0.72."""
SOURCE_ENTER_OUTBOUND = 0.22
"""Unconverged: SOURCE if outbound < 0.22 ..."""
SOURCE_STAY_OUTBOUND = 0.28
"""... and stays SOURCE while outbound < 0.28."""
KALMAN_VETO = 0.05
"""Balance-based SINK is vetoed by kalman > 0.05, SOURCE by kalman < -0.05."""
ACTIVE_TURNOVER_PER_DAY = 0.01
"""BALANCED_ACTIVE if turnover > 1 % of capacity per day."""
DORMANT_KALMAN = 0.01
"""DORMANT if |kalman| < 0.01 (and not active)."""

# --- 30-day revenue role -------------------------------------------------------------------
ROLE_WINDOW_DAYS = 30
ROLE_MIN_FORWARDS = 10
"""Fewer forwards in 30 days -> dormant."""
ROLE_GATEWAY_SHARE = 0.7
"""> 70 % as entry -> inbound_gateway, > 70 % as exit -> outbound_gateway."""

DEPLETION_MIN_DRAIN_MSAT_PER_DAY = 1000
"""A drain under 1 sat/day has no depletion ETA."""


@dataclass(frozen=True)
class Forward:
    """A settled forward: msat amounts, ``resolved_time`` in UNIX seconds."""

    in_channel: str
    out_channel: str | None
    in_msat: int
    out_msat: int
    resolved_time: float


@dataclass(frozen=True)
class DailyBucket:
    """One channel's forwards on one UTC day (``day`` = floor(ts / 86400))."""

    day: int
    out_msat: int
    in_msat: int
    count: int
    last_ts: float

    @property
    def net_msat(self) -> int:
        return self.out_msat - self.in_msat

    @property
    def volume_msat(self) -> int:
        return self.out_msat + self.in_msat


def utc_day(ts: float) -> int:
    return math.floor(ts / SECONDS_PER_DAY)


def buckets_from_forwards(
    forwards: Iterable[Forward], channel: str, now: float, window_days: int = FLOW_WINDOW_DAYS
) -> list[DailyBucket]:
    """Daily buckets of ``channel`` over the last ``window_days`` UTC days, oldest first:
    ``out`` = sum of out_msat where out_channel is the channel, ``in`` = sum of in_msat where
    in_channel is the channel."""
    first_day = utc_day(now) - window_days + 1
    acc: dict[int, list[float]] = {}
    for f in forwards:
        is_in, is_out = f.in_channel == channel, f.out_channel == channel
        if not (is_in or is_out) or f.resolved_time > now:
            continue
        day = utc_day(f.resolved_time)
        if day < first_day:
            continue
        row = acc.setdefault(day, [0, 0, 0, f.resolved_time])
        if is_out:
            row[0] += f.out_msat
        if is_in:
            row[1] += f.in_msat
        row[2] += 1
        row[3] = max(row[3], f.resolved_time)
    return [
        DailyBucket(day=d, out_msat=int(r[0]), in_msat=int(r[1]), count=int(r[2]), last_ts=r[3])
        for d, r in sorted(acc.items())
    ]


def _sat(msat: int) -> int:
    """msat -> sat, truncated toward zero (for daily nets, which can be negative)."""
    return msat // 1000 if msat >= 0 else -(-msat // 1000)


def daily_net_sats(buckets: Sequence[DailyBucket]) -> list[int]:
    return [_sat(b.net_msat) for b in sorted(buckets, key=lambda b: b.day)]


def observe_last_24h(
    forwards: Iterable[Forward], channel: str, now: float, capacity_msat: int
) -> Observation | None:
    """The Kalman observation: z = clamp(net of the last 24 h / capacity, +-1) with its
    confidence; None (predict only) when the channel had no forward in the last 24 h."""
    if capacity_msat <= 0:
        return None
    net = count = 0
    last_ts: float | None = None
    for f in forwards:
        is_in, is_out = f.in_channel == channel, f.out_channel == channel
        if not (is_in or is_out) or not 0 <= now - f.resolved_time <= OBSERVATION_WINDOW_SECONDS:
            continue
        net += (f.out_msat if is_out else 0) - (f.in_msat if is_in else 0)
        count += 1
        last_ts = f.resolved_time if last_ts is None else max(last_ts, f.resolved_time)
    if count == 0:
        return None
    z = max(-1.0, min(1.0, net / capacity_msat))
    return Observation(z=z, confidence=flow_confidence(count, last_ts, now), count=count)


def turnover_per_day(
    buckets: Sequence[DailyBucket], capacity_msat: int, window_days: int = FLOW_WINDOW_DAYS
) -> float:
    """Mean daily volume (out + in) over the window, as a fraction of capacity."""
    if capacity_msat <= 0 or window_days <= 0:
        return 0.0
    return sum(b.volume_msat for b in buckets) / window_days / capacity_msat


def htlc_utilisation(htlcs_in_flight: int, max_accepted_htlcs: int) -> float:
    return htlcs_in_flight / max_accepted_htlcs if max_accepted_htlcs > 0 else 0.0


def is_congested(htlcs_in_flight: int, max_accepted_htlcs: int) -> bool:
    return htlc_utilisation(htlcs_in_flight, max_accepted_htlcs) > CONGESTION_THRESHOLD


def usable_stored_class(
    label: FlowClass,
    labelled_at: float,
    now: float,
    flow_interval_s: float = FLOW_INTERVAL_SECONDS,
) -> FlowClass | None:
    """A stored class for consumers (fee controller, rebalancer): a CONGESTED label older
    than 2 x flow-interval is ignored (None); other labels pass."""
    if label is FlowClass.CONGESTED and now - labelled_at > STALE_LABEL_INTERVALS * flow_interval_s:
        return None
    return label


def classify(
    *,
    kalman_ratio: float,
    kalman_converged: bool,
    outbound_ratio: float,
    turnover_per_day: float,
    previous: FlowClass | None = None,
    fee_posterior_variance: float | None = None,
    htlcs_in_flight: int = 0,
    max_accepted_htlcs: int = 0,
) -> FlowClass:
    """The flow class, first match (spec §1): CONGESTED; converged Kalman SOURCE/SINK
    (thresholds x1.5 while the fee controller explores); balance position with hysteresis
    (vetoed by the Kalman direction); BALANCED_ACTIVE; DORMANT; BALANCED."""
    if is_congested(htlcs_in_flight, max_accepted_htlcs):
        return FlowClass.CONGESTED
    if kalman_converged:
        widen = (
            EXPLORING_WIDENING
            if fee_posterior_variance is not None
            and fee_posterior_variance > EXPLORING_FEE_VARIANCE
            else 1.0
        )
        if kalman_ratio > SOURCE_THRESHOLD * widen:
            return FlowClass.SOURCE
        if kalman_ratio < SINK_THRESHOLD * widen:
            return FlowClass.SINK
    sink_line = SINK_STAY_OUTBOUND if previous is FlowClass.SINK else SINK_ENTER_OUTBOUND
    if outbound_ratio > sink_line and not kalman_ratio > KALMAN_VETO:
        return FlowClass.SINK
    source_line = SOURCE_STAY_OUTBOUND if previous is FlowClass.SOURCE else SOURCE_ENTER_OUTBOUND
    if outbound_ratio < source_line and not kalman_ratio < -KALMAN_VETO:
        return FlowClass.SOURCE
    if turnover_per_day > ACTIVE_TURNOVER_PER_DAY:
        return FlowClass.BALANCED_ACTIVE
    if abs(kalman_ratio) < DORMANT_KALMAN:
        return FlowClass.DORMANT
    return FlowClass.BALANCED


class RevenueRole(enum.StrEnum):
    INBOUND_GATEWAY = "inbound_gateway"
    OUTBOUND_GATEWAY = "outbound_gateway"
    BALANCED = "balanced"
    DORMANT = "dormant"


def revenue_role_from_counts(as_entry: int, as_exit: int) -> RevenueRole:
    """>= 10 forwards: > 70 % as entry -> inbound_gateway, > 70 % as exit -> outbound_gateway,
    else balanced; fewer -> dormant."""
    total = as_entry + as_exit
    if total < ROLE_MIN_FORWARDS:
        return RevenueRole.DORMANT
    if as_entry / total > ROLE_GATEWAY_SHARE:
        return RevenueRole.INBOUND_GATEWAY
    if as_exit / total > ROLE_GATEWAY_SHARE:
        return RevenueRole.OUTBOUND_GATEWAY
    return RevenueRole.BALANCED


def revenue_role(
    forwards: Iterable[Forward], channel: str, now: float, days: int = ROLE_WINDOW_DAYS
) -> RevenueRole:
    """The 30-day revenue role of ``channel`` from forwards resolved in (now - days, now]."""
    since = now - days * SECONDS_PER_DAY
    entry = exit_ = 0
    for f in forwards:
        if not since < f.resolved_time <= now:
            continue
        entry += f.in_channel == channel
        exit_ += f.out_channel == channel
    return revenue_role_from_counts(entry, exit_)


def depletion_eta_days(local_msat: int, capacity_msat: int, kalman_ratio: float) -> float | None:
    """Days until local liquidity runs out: local / (max(0, kalman) · capacity per day);
    None when nothing drains (under 1 sat/day) or the inputs are unusable."""
    if capacity_msat <= 0 or local_msat < 0 or not math.isfinite(kalman_ratio):
        return None
    drain_per_day = max(0.0, kalman_ratio) * capacity_msat
    if drain_per_day < DEPLETION_MIN_DRAIN_MSAT_PER_DAY:
        return None
    return local_msat / drain_per_day


@dataclass(frozen=True)
class ChannelFlow:
    """One flow cycle's result for a channel, with the states to persist."""

    flow_class: FlowClass
    buckets: list[DailyBucket]
    ema: EmaView
    kalman: KalmanState
    observation: Observation | None
    turnover_per_day: float
    depletion_eta_days: float | None


def analyze_channel(
    forwards: Sequence[Forward],
    channel: str,
    *,
    now: float,
    capacity_msat: int,
    local_msat: int,
    kalman: KalmanState,
    ema: EmaState,
    previous: FlowClass | None = None,
    fee_posterior_variance: float | None = None,
    htlcs_in_flight: int = 0,
    max_accepted_htlcs: int = 0,
    window_days: int = FLOW_WINDOW_DAYS,
) -> ChannelFlow:
    """Run one flow cycle for ``channel``: buckets, EMA view, Kalman step, classification."""
    buckets = buckets_from_forwards(forwards, channel, now, window_days)
    observation = observe_last_24h(forwards, channel, now, capacity_msat)
    ema_view = ema_step(ema, buckets, now=now, capacity_msat=capacity_msat)
    k = kalman_step(
        kalman, now=now, observation=observation, daily_net_sats=daily_net_sats(buckets)
    )
    turnover = turnover_per_day(buckets, capacity_msat, window_days)
    outbound = local_msat / capacity_msat if capacity_msat > 0 else 0.5
    cls = classify(
        kalman_ratio=k.ratio,
        kalman_converged=k.converged,
        outbound_ratio=outbound,
        turnover_per_day=turnover,
        previous=previous,
        fee_posterior_variance=fee_posterior_variance,
        htlcs_in_flight=htlcs_in_flight,
        max_accepted_htlcs=max_accepted_htlcs,
    )
    return ChannelFlow(
        flow_class=cls,
        buckets=buckets,
        ema=ema_view,
        kalman=k,
        observation=observation,
        turnover_per_day=turnover,
        depletion_eta_days=depletion_eta_days(local_msat, capacity_msat, k.ratio),
    )
