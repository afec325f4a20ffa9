"""The EMA view (spec revenue-ops §1): adaptive decay, flow ratio, confidence, velocity."""

from __future__ import annotations

import json

import pytest

from lnhive.revenue.ema import (
    EmaState,
    adaptive_decay,
    ema_flow_ratio,
    ema_step,
    flow_confidence,
    flow_volatility,
    velocity,
)
from lnhive.revenue.flow import DailyBucket

DAY = 86_400
T0 = 1_767_225_600.0  # 00:00 UTC
TODAY = int(T0 // DAY)


def test_decay_defaults_with_little_data() -> None:
    assert adaptive_decay([1000, 2000], [5000, 5000]) == 0.8  # < 3 buckets
    assert adaptive_decay([0, 500, -500], [999, 999, 999]) == 0.8  # mean volume < 1000 sat
    assert adaptive_decay([0, 0, 0], [1000, 1000, 1000]) == 0.95  # mean volume 1000 is enough


def test_decay_regimes() -> None:
    vol = [10_000.0] * 3
    assert adaptive_decay([0, 0, 0], vol) == 0.95  # v = 0 < 0.1
    assert adaptive_decay([-6000, 0, 6000], vol) == 0.65  # v = 0.6 > 0.5
    # v = 0.3 is the midpoint: 0.95 - 0.5 * 0.3
    assert adaptive_decay([-3000, 0, 3000], vol) == pytest.approx(0.8)
    # sample sd: sd([-2000, 0, 2000]) = 2000 -> v = 0.2 -> 0.95 - 0.25 * 0.3
    assert adaptive_decay([-2000, 0, 2000], vol) == pytest.approx(0.875)
    assert flow_volatility([-2000, 0, 2000], vol) == pytest.approx(0.2)
    # boundaries: v = 0.5 exactly is "linear" (0.65), v = 0.1 exactly is linear (0.95)
    assert adaptive_decay([-5000, 0, 5000], vol) == pytest.approx(0.65)
    assert adaptive_decay([-1000, 0, 1000], vol) == pytest.approx(0.95)


def test_confidence() -> None:
    now = T0
    assert flow_confidence(0, None, now) == 0.1
    assert flow_confidence(20, now, now) == 1.0
    assert flow_confidence(40, now, now) == 1.0
    assert flow_confidence(10, now, now) == pytest.approx(0.55)
    # three idle days halve it
    assert flow_confidence(10, now - 3 * DAY, now) == pytest.approx(0.275)
    assert flow_confidence(20, now - 6 * DAY, now) == pytest.approx(0.25)
    # clamp at 0.1
    assert flow_confidence(20, now - 30 * DAY, now) == 0.1
    assert flow_confidence(1, now, now) == pytest.approx(0.145)


def test_ema_flow_ratio_weights_by_age() -> None:
    b = [
        DailyBucket(day=TODAY - 1, out_msat=0, in_msat=100_000, count=1, last_ts=T0 - 10),
        DailyBucket(day=TODAY, out_msat=100_000, in_msat=0, count=1, last_ts=T0 + 10),
    ]
    # weights 1 (today) and 0.5 (yesterday): ema_out = 100000/1.5, ema_in = 50000/1.5
    r = ema_flow_ratio(b, today=TODAY, decay=0.5, capacity_msat=1_000_000)
    assert r == pytest.approx((100_000 - 50_000) / 1.5 / 1_000_000)
    assert ema_flow_ratio(b, today=TODAY, decay=0.5, capacity_msat=0) == 0.0
    assert ema_flow_ratio([], today=TODAY, decay=0.5, capacity_msat=10) == 0.0
    big = [DailyBucket(day=TODAY, out_msat=10**12, in_msat=0, count=1, last_ts=T0)]
    assert ema_flow_ratio(big, today=TODAY, decay=0.8, capacity_msat=1000) == 1.0


def test_velocity() -> None:
    assert velocity(0.3, 0.2, 0.49) is None
    assert velocity(0.3, 0.1, 2.0) == pytest.approx(0.1)
    assert velocity(-0.1, 0.1, 0.5) == pytest.approx(-0.4)
    assert velocity(1.0, -1.0, 0.5) == 0.5
    assert velocity(-1.0, 1.0, 0.5) == -0.5


def _buckets(n_days: int, out_sat: int) -> list[DailyBucket]:
    return [
        DailyBucket(
            day=TODAY - i, out_msat=out_sat * 1000, in_msat=0, count=5, last_ts=T0 - i * DAY
        )
        for i in range(n_days)
    ]


def test_ema_step_first_and_subsequent_cycles() -> None:
    cap = 10_000_000_000
    v1 = ema_step(EmaState(), _buckets(3, 100_000), now=T0, capacity_msat=cap)
    # steady flow -> v = 0 -> d = 0.95; ratio = 100000 sat / 10M sat
    assert v1.decay == 0.95
    assert v1.flow_ratio == pytest.approx(0.01)
    assert v1.forward_count == 15
    assert v1.confidence == pytest.approx(0.775)
    assert v1.velocity == 0.0 and v1.state.measured_at == T0
    # 15 minutes later: too soon to measure a velocity; the reference point is kept
    v2 = ema_step(v1.state, _buckets(3, 200_000), now=T0 + 900, capacity_msat=cap)
    assert v2.velocity == 0.0 and v2.state == v1.state
    # two hours after the reference point
    v3 = ema_step(v2.state, _buckets(3, 200_000), now=T0 + 7200, capacity_msat=cap)
    assert v3.flow_ratio == pytest.approx(0.02)
    assert v3.velocity == pytest.approx((0.02 - 0.01) / 2)
    assert v3.state.measured_at == T0 + 7200


def test_ema_state_json() -> None:
    s = EmaState(flow_ratio=0.1, velocity=-0.01, measured_at=T0)
    assert EmaState.from_json(json.loads(json.dumps(s.to_json()))) == s
    for bad in (
        None,
        {},
        {**s.to_json(), "flow_ratio": float("nan")},
        {**s.to_json(), "velocity": 2.0},
        {**s.to_json(), "measured_at": "x"},
        {**s.to_json(), "version": 0},
    ):
        r = EmaState.from_json(bad)
        assert r.was_reset and r == EmaState()


def test_nan_state_is_reset_in_step() -> None:
    bad = EmaState(flow_ratio=float("nan"), velocity=0.0, measured_at=T0)
    v = ema_step(bad, _buckets(3, 1000), now=T0 + 3600, capacity_msat=10**9)
    assert v.state.was_reset and v.velocity == 0.0 and v.state.measured_at == T0 + 3600
