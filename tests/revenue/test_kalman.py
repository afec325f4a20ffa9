"""The Kalman view (spec revenue-ops §1): hand-computed vectors, convergence, regime change,
cadence, NaN reset, persistence, and properties over random observation sequences."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnhive.revenue.kalman import (
    MAX_DT_HOURS,
    VELOCITY_LIMIT,
    KalmanState,
    Observation,
    fresh_state,
    kalman_step,
    measurement_noise,
    predict,
    process_noise,
    update,
    volatility,
)

T0 = 1_767_225_600.0
H = 3600.0


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-9, abs=1e-12)


# --- volatility, noise ---------------------------------------------------------------------


def test_volatility_regimes() -> None:
    assert volatility([]) == 1.0
    assert volatility([50_000, -50_000]) == 1.0  # < 3 buckets
    assert volatility([900, -999, 0, 500]) == 0.5  # mean |net| < 1000 sat
    # mean|net| = 11000, mean|change| = 1000 -> 0.5 + 3 * 1000 / 11000
    assert volatility([10_000, 11_000, 12_000]) == approx(0.5 + 3 / 11)
    # mean|change| / mean|net| = 10000 / 13333 -> 3x = 2.25, capped at 1.5
    assert volatility([10_000, 20_000, 10_000]) == 2.0
    # steady flow: no change at all
    assert volatility([5_000, 5_000, 5_000]) == 0.5


def test_process_noise_and_clamps() -> None:
    q_r, q_v = process_noise(1.0)
    assert q_r == approx(0.02 / 24)
    assert q_v == approx(0.005 / 24)
    assert process_noise(1000.0) == (approx(0.1 / 24), approx(0.01 / 24))
    assert process_noise(0.0) == (approx(0.001 / 24), approx(0.0001 / 24))


def test_measurement_noise_from_confidence() -> None:
    assert measurement_noise(1.0) == approx(0.0625)
    assert measurement_noise(0.5) == approx(0.125)
    assert measurement_noise(0.1) == approx(0.5)  # max(0.1, 0.08) = 0.1 -> 0.5
    assert measurement_noise(0.0) == approx(0.5)


# --- predict ---------------------------------------------------------------------------------


def test_first_predict_hand_vector() -> None:
    """dt = 24 on the first cycle from P = 0.1 I with V = 1 (fewer than 3 buckets):
    q_r = 0.02/24, q_v = 0.005/24;
    P00 = 0.1 + 24^2 * 0.1 + q_r * 24 + q_v * 24^3 / 3 = 0.1 + 57.6 + 0.02 + 0.96 = 58.68
    P01 = 24 * 0.1 + q_v * 24^2 / 2 = 2.4 + 0.06 = 2.46
    P11 = 0.1 + q_v * 24 = 0.105"""
    s = kalman_step(KalmanState(), now=T0, observation=None, daily_net_sats=[])
    assert (s.p00, s.p01, s.p11) == (approx(58.68), approx(2.46), approx(0.105))
    assert s.ratio == 0.0 and s.velocity == 0.0
    assert s.updates == 0 and s.last_update == T0
    assert not s.converged


def test_predict_moves_ratio_by_velocity_and_clamps() -> None:
    s = replace(KalmanState(), ratio=0.2, velocity=0.01)
    p = predict(s, 10.0, 1.0)
    assert p.ratio == approx(0.3) and p.velocity == 0.01
    # velocity beyond +-0.5/24 is clamped; the ratio is clamped to [-1, 1]
    p = predict(replace(s, ratio=0.9, velocity=0.05), 10.0, 1.0)
    assert p.ratio == 1.0 and p.velocity == approx(VELOCITY_LIMIT)
    p = predict(replace(s, ratio=-0.9, velocity=-0.05), 10.0, 1.0)
    assert p.ratio == -1.0 and p.velocity == approx(-VELOCITY_LIMIT)


def test_dt_is_hours_since_update_capped_at_168() -> None:
    s1 = kalman_step(KalmanState(), now=T0, observation=None, daily_net_sats=[])
    s2 = kalman_step(s1, now=T0 + 2 * H, observation=None, daily_net_sats=[])
    assert s2.p00 == approx(predict(s1, 2.0, 1.0).p00)
    s3 = kalman_step(s1, now=T0 + 30 * 24 * H, observation=None, daily_net_sats=[])
    assert s3.p00 == approx(predict(s1, MAX_DT_HOURS, 1.0).p00)
    assert s3.p00 != approx(predict(s1, 30 * 24.0, 1.0).p00)


def test_volatility_feeds_process_noise() -> None:
    calm = kalman_step(KalmanState(), now=T0, observation=None, daily_net_sats=[5000] * 5)
    wild = kalman_step(
        KalmanState(), now=T0, observation=None, daily_net_sats=[10_000, -10_000, 10_000]
    )
    # V = 0.5: q_r = 0.01/24, q_v = 0.0025/24 -> P00 = 57.7 + 0.01 + 0.48
    assert calm.p00 == approx(0.1 + 57.6 + 0.01 + 0.48)
    # V = 2.0: q_r = 0.04/24, q_v = 0.01/24 -> P00 = 57.7 + 0.04 + 1.92
    assert wild.p00 == approx(0.1 + 57.6 + 0.04 + 1.92)


# --- update ----------------------------------------------------------------------------------


def test_first_update_hand_vector() -> None:
    """After the first predict (58.68, 2.46, 0.105), observe z = 0.1 with confidence 1:
    R = 0.0625, S = 58.7425, K = [58.68/S, 2.46/S];
    Joseph form reduces to P00 = R P00 / S, P01 = R P01 / S, P11 = P11 - P01^2 / S."""
    s = kalman_step(KalmanState(), now=T0, observation=Observation(0.1, 1.0), daily_net_sats=[])
    big_s = 58.68 + 0.0625
    assert s.ratio == approx(58.68 / big_s * 0.1)
    assert s.velocity == approx(2.46 / big_s * 0.1)
    assert s.p00 == approx(0.0625 * 58.68 / big_s)
    assert s.p01 == approx(0.0625 * 2.46 / big_s)
    assert s.p11 == approx(0.105 - 2.46**2 / big_s)
    assert s.last_innovation == approx(0.1)
    assert s.innovation_variance == approx(0.9 * 0.01 + 0.1 * 0.01)
    assert s.updates == 1 and not s.regime_change


def test_update_guards_keep_positive_definite() -> None:
    # a correlation at the edge is pulled inside |P01| <= 0.9 sqrt(P00 P11)
    s = replace(KalmanState(), p00=1.0, p01=0.999, p11=1.0)
    u = update(s, 0.5, 1.0)
    assert abs(u.p01) <= 0.9 * math.sqrt(u.p00 * u.p11) + 1e-15
    assert u.p00 >= 1e-4 and u.p11 >= 1e-4
    # tiny variances are floored at 1e-4
    u = update(replace(KalmanState(), p00=1e-9, p01=0.0, p11=1e-9), 0.0, 1.0)
    assert u.p00 == 1e-4 and u.p11 == 1e-4


def test_low_confidence_moves_less() -> None:
    base = replace(KalmanState(), p00=0.05)
    sure = update(base, 0.5, 1.0)
    unsure = update(base, 0.5, 0.1)
    assert 0 < unsure.ratio < sure.ratio
    assert sure.ratio == approx(0.05 / (0.05 + 0.0625) * 0.5)
    assert unsure.ratio == approx(0.05 / (0.05 + 0.5) * 0.5)


def test_innovation_variance_floor() -> None:
    s = KalmanState()
    for i in range(100):
        s = kalman_step(s, now=T0 + i * H, observation=Observation(0.0, 1.0), daily_net_sats=[])
    assert s.innovation_variance == 0.001


# --- convergence and regime change ---------------------------------------------------------


def test_converges_after_five_identical_observations() -> None:
    s = KalmanState()
    history = []
    for i in range(8):
        s = kalman_step(s, now=T0 + i * H, observation=Observation(0.1, 1.0), daily_net_sats=[])
        history.append(s)
    # sqrt(P00) is below 0.25 from the first update, but five updates are required
    assert all(h.uncertainty < 0.25 for h in history)
    assert [h.converged for h in history] == [False] * 4 + [True] * 4
    assert history[-1].ratio == pytest.approx(0.1, abs=0.01)


def test_not_converged_while_uncertain() -> None:
    s = replace(KalmanState(), updates=10, p00=0.0625)
    assert not s.converged  # sqrt = 0.25 is not < 0.25
    assert replace(s, p00=0.0624).converged


def test_regime_change_detected_and_clears() -> None:
    s = KalmanState()
    for i in range(60):
        s = kalman_step(s, now=T0 + i * H, observation=Observation(0.0, 1.0), daily_net_sats=[])
    assert not s.regime_change
    small = kalman_step(s, now=T0 + 60 * H, observation=Observation(0.05, 1.0), daily_net_sats=[])
    assert not small.regime_change
    jump = kalman_step(s, now=T0 + 60 * H, observation=Observation(0.5, 1.0), daily_net_sats=[])
    # y ~ 0.5; iv' = 0.9 * 0.001 + 0.1 * y^2 ~ 0.0259; 2.5 sqrt(iv') ~ 0.40 < 0.5
    assert jump.regime_change
    assert jump.last_innovation == pytest.approx(0.5, abs=0.01)
    after = jump
    for i in range(61, 80):
        after = kalman_step(
            after, now=T0 + i * H, observation=Observation(0.5, 1.0), daily_net_sats=[]
        )
    assert not after.regime_change
    assert after.ratio == pytest.approx(0.5, abs=0.02)


def test_regime_change_uses_the_updated_innovation_variance() -> None:
    """iv = 0.01 before; y = 0.3 -> iv' = 0.009 + 0.009 = 0.018, 2.5 sqrt(iv') = 0.335 > 0.3;
    y = 0.4 -> iv' = 0.025, 2.5 sqrt(iv') = 0.395 < 0.4."""
    s = replace(KalmanState(), p00=0.01)
    assert not update(s, 0.3, 1.0).regime_change
    assert update(s, 0.4, 1.0).regime_change


# --- cadence -----------------------------------------------------------------------------------


def test_calls_within_300_s_are_no_ops() -> None:
    s = kalman_step(KalmanState(), now=T0, observation=Observation(0.1, 1.0), daily_net_sats=[])
    same = kalman_step(s, now=T0 + 299, observation=Observation(-1.0, 1.0), daily_net_sats=[])
    assert same == s
    back = kalman_step(s, now=T0 - 1000, observation=Observation(-1.0, 1.0), daily_net_sats=[])
    assert back == s
    moved = kalman_step(s, now=T0 + 300, observation=Observation(-1.0, 1.0), daily_net_sats=[])
    assert moved != s and moved.updates == 2 and moved.last_update == T0 + 300


def test_predict_only_without_forwards() -> None:
    s = kalman_step(KalmanState(), now=T0, observation=Observation(0.5, 1.0), daily_net_sats=[])
    s = replace(s, regime_change=True)
    p = kalman_step(s, now=T0 + 6 * H, observation=None, daily_net_sats=[])
    assert p.updates == s.updates
    assert p.last_update == T0 + 6 * H
    assert p.p00 > s.p00
    assert p.ratio == approx(s.ratio + s.velocity * 6)
    assert not p.regime_change
    # the next cycle measures dt from the predict-only cycle, not from the last update
    q = kalman_step(p, now=T0 + 7 * H, observation=None, daily_net_sats=[])
    assert q.p00 == approx(predict(p, 1.0, 1.0).p00)


# --- NaN reset and persistence ---------------------------------------------------------------


def test_nan_state_resets_and_counts() -> None:
    bad = replace(KalmanState(), ratio=float("nan"), updates=9, resets=2, last_update=T0)
    s = kalman_step(bad, now=T0 + 10, observation=Observation(0.1, 1.0), daily_net_sats=[])
    assert s.was_reset and s.resets == 3
    assert s.updates == 1  # fresh filter, then this cycle's update
    assert math.isfinite(s.ratio)
    nxt = kalman_step(s, now=T0 + H, observation=Observation(0.1, 1.0), daily_net_sats=[])
    assert not nxt.was_reset and nxt.resets == 3


def test_nan_observation_resets_and_counts() -> None:
    s = kalman_step(KalmanState(), now=T0, observation=Observation(0.1, 1.0), daily_net_sats=[])
    r = kalman_step(s, now=T0 + H, observation=Observation(float("nan"), 1.0), daily_net_sats=[])
    assert r.was_reset and r.resets == 1 and r.updates == 0
    r = kalman_step(s, now=T0 + H, observation=Observation(0.1, math.inf), daily_net_sats=[])
    assert r.was_reset and r.resets == 1


def test_json_round_trip() -> None:
    s = KalmanState()
    for i in range(3):
        s = kalman_step(s, now=T0 + i * H, observation=Observation(0.2, 0.7), daily_net_sats=[])
    text = json.dumps(s.to_json(), allow_nan=False)
    back = KalmanState.from_json(json.loads(text))
    assert back == s and not back.was_reset
    assert KalmanState.from_json(KalmanState().to_json()) == KalmanState()


@pytest.mark.parametrize(
    "patch",
    [
        {"ratio": float("nan")},
        {"p00": float("inf")},
        {"ratio": "0.1"},
        {"updates": -1},
        {"updates": 1.5},
        {"updates": True},
        {"regime_change": 0},
        {"ratio": 1.5},
        {"p00": -0.1},
        {"p01": 1.0},  # not positive definite with P = 0.1 I
        {"version": 99},
        {"last_update": float("nan")},
    ],
)
def test_corrupt_json_gives_fresh_state_flagged(patch: dict[str, object]) -> None:
    good = replace(KalmanState(), resets=4).to_json()
    s = KalmanState.from_json({**good, **patch})
    assert s.was_reset
    assert s.resets == 5
    assert s == fresh_state(resets=5)


def test_non_mapping_json_gives_fresh_state() -> None:
    junks: list[object] = [None, [], "x", 3]
    for junk in junks:
        s = KalmanState.from_json(junk)
        assert s.was_reset and s.resets == 1
    s = KalmanState.from_json({"ratio": 0.2})  # missing keys
    assert s.was_reset and s.ratio == 0.0


def test_nan_from_parsed_json_text() -> None:
    text = json.dumps({**KalmanState().to_json(), "velocity": float("nan")})
    assert "NaN" in text
    assert KalmanState.from_json(json.loads(text)).was_reset


# --- properties ------------------------------------------------------------------------------

observations = st.one_of(
    st.none(),
    st.builds(
        Observation,
        z=st.floats(-1, 1, allow_nan=False),
        confidence=st.floats(0, 1, allow_nan=False),
    ),
)
steps = st.lists(
    st.tuples(
        st.floats(0, 14 * 24 * H, allow_nan=False),
        observations,
        st.lists(st.integers(-(10**9), 10**9), max_size=7),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_state_stays_finite_bounded_and_positive_definite(
    seq: list[tuple[float, Observation | None, list[int]]],
) -> None:
    s = KalmanState()
    now = T0
    for gap, obs, nets in seq:
        now += gap
        s = kalman_step(s, now=now, observation=obs, daily_net_sats=nets)
        assert s.is_finite()
        assert s.is_positive_definite()
        assert -1.0 <= s.ratio <= 1.0
        assert abs(s.velocity) <= VELOCITY_LIMIT
        assert s.innovation_variance >= 0.001
        assert not s.was_reset
    assert KalmanState.from_json(json.loads(json.dumps(s.to_json()))) == s


@settings(max_examples=200, deadline=None)
@given(
    st.floats(1e-4, 100),
    st.floats(-0.99, 0.99),
    st.floats(1e-4, 100),
    st.floats(-1, 1),
    st.floats(0, 1),
)
def test_joseph_update_matches_standard_form(
    p00: float, rho: float, p11: float, z: float, conf: float
) -> None:
    """Away from the guards the Joseph form equals P - K H P."""
    p01 = rho * 0.85 * math.sqrt(p00 * p11)
    s = replace(KalmanState(), p00=p00, p01=p01, p11=p11)
    u = update(s, z, conf)
    r = measurement_noise(conf)
    big_s = p00 + r
    want00 = max(1e-4, p00 - p00 * p00 / big_s)
    want11 = max(1e-4, p11 - p01 * p01 / big_s)
    assert u.p00 == pytest.approx(want00, rel=1e-6, abs=1e-12)
    assert u.p11 == pytest.approx(want11, rel=1e-6, abs=1e-9)
    assert u.is_positive_definite()
