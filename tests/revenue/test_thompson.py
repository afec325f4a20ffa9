"""Discounted Thompson sampling of the fee target (spec revenue-ops §2.1, §2.4; §7 tests 5, 13, 30)."""

from __future__ import annotations

import copy
import json
import math
import random

import pytest

from lnhive.revenue import thompson as th
from lnhive.revenue import thompson_fit as fit
from lnhive.revenue.flowclass import FlowClass

T0 = 1_700_000_000
HOUR = 3600


def _mat_mul(a: fit.Mat3, b: fit.Mat3) -> list[list[float]]:
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def _earning_state(fees: list[int], rate: float = 10.0, spacing: int = HOUR) -> th.ThompsonState:
    s = th.ThompsonState()
    for i, fee in enumerate(fees):
        assert th.record(s, fee, rate, 6.0, T0 + i * spacing)
    return s


# --- spec §7 test 5 ---------------------------------------------------------------------------


def test_spec_test5_normal_normal_from_default_prior() -> None:
    s = th.ThompsonState()
    th.record(s, 250, 3.5, 6.0, T0)
    th.record(s, 400, 2.0, 6.0, T0)
    assert round(s.posterior_mean, 2) == 297.56
    assert round(s.posterior_std, 2) == 46.85
    assert (s.fee_min, s.fee_max) == (0.0, 0.0)  # two points: no quadratic fit


@pytest.mark.parametrize("scale", [500.0, 600.0, 700.0, 800.0])
def test_spec_test5_eight_noise_free_windows_find_the_vertex(scale: float) -> None:
    # R(f) = 2f·e^(-f/scale) is concave on 200-1000 ppm with its maximum at f = scale.
    s = th.ThompsonState()
    for i in range(8):
        fee = 200 + round(i * 800 / 7)
        th.record(s, fee, 2 * fee * math.exp(-fee / scale), 6.0, T0 + i * 6 * HOUR)
    assert (s.fee_min, s.fee_max) == (200.0, 1000.0)  # the quadratic path ran
    assert abs(s.posterior_mean - scale) <= 0.10 * scale


@pytest.mark.parametrize("vertex", [400.0, 600.0, 800.0])
def test_quadratic_fit_vertex_with_delta_method_std(vertex: float) -> None:
    points = [
        (200 + i * 800 / 7, 4 * (1 - ((200 + i * 800 / 7 - vertex) / 800) ** 2), 100.0)
        for i in range(8)
    ]
    r = fit.quadratic_fit(points, noise_variance=10.0)
    assert r is not None and r.concave
    assert abs(r.mean - vertex) < 0.01 * vertex
    assert fit.MIN_STD <= r.std < 100.0
    more = fit.quadratic_fit([(f, rev, w * 10) for f, rev, w in points], noise_variance=10.0)
    assert more is not None and more.std < r.std  # more evidence, narrower vertex


def test_quadratic_fit_vertex_clamped_to_half_a_range_beyond() -> None:
    rising = [(f, 1000 - (f - 3000) ** 2 / 10_000, 100.0) for f in (200, 300, 400, 500, 600)]
    r = fit.quadratic_fit(rising, noise_variance=10.0)
    assert r is not None and r.concave
    assert r.mean == pytest.approx(200 + 1.5 * 400)
    falling = [(f, 1000 - (f + 1000) ** 2 / 10_000, 100.0) for f in (200, 300, 400, 500, 600)]
    r = fit.quadratic_fit(falling, noise_variance=10.0)
    assert r is not None and r.concave
    assert r.mean == pytest.approx(200 - 0.5 * 400)


def test_quadratic_fit_non_concave_takes_best_lower_bound_bucket() -> None:
    # revenue rising with fee (convex): best region is the highest, repeatedly earning fee
    points = [(f, 0.001 * f * f, 1.0) for f in (200, 300, 400, 500, 600, 700)] + [(700, 490.0, 1.0)]
    r = fit.quadratic_fit(points, noise_variance=1000.0)
    assert r is not None and not r.concave
    assert r.mean == 700.0
    assert fit.MIN_STD <= r.std <= fit.MAX_STD


def test_quadratic_fit_refuses_few_points_and_narrow_range() -> None:
    assert fit.quadratic_fit([(100, 1, 1), (200, 2, 1)], 1000.0) is None
    assert fit.quadratic_fit([(100, 1, 1), (102, 2, 1), (104, 3, 1)], 1000.0) is None


def test_noise_variance_update_is_blended_and_floored() -> None:
    pts = [(100.0, 1.0, 1.0), (200.0, 50.0, 1.0), (300.0, 1.0, 1.0), (400.0, 60.0, 1.0)]
    r = fit.quadratic_fit(pts, noise_variance=1000.0)
    assert r is not None
    a, b, c = r.coeffs
    ss = sum(
        w * (rev - (a * x * x + b * x + c)) ** 2 for (f, rev, w) in pts for x in [(f - 100) / 300]
    )
    assert r.noise_variance == pytest.approx(max(10.0, 0.7 * ss / 1.0 + 0.3 * 1000.0))
    exact = [(f, 1.0, 1.0) for f in (100.0, 200.0, 300.0, 400.0)]
    r2 = fit.quadratic_fit(exact, noise_variance=10.0)
    assert r2 is not None and r2.noise_variance == 10.0


# --- linear algebra ---------------------------------------------------------------------------


def test_cholesky_inverse_and_solve() -> None:
    m: fit.Mat3 = ((4.0, 2.0, 0.6), (2.0, 5.0, 1.0), (0.6, 1.0, 3.0))
    chol = fit.cholesky(m)
    assert chol is not None
    lt = tuple(tuple(chol[j][i] for j in range(3)) for i in range(3))
    back = _mat_mul(chol, lt)  # type: ignore[arg-type]
    assert all(back[i][j] == pytest.approx(m[i][j]) for i in range(3) for j in range(3))
    assert chol[0][1] == chol[0][2] == chol[1][2] == 0.0
    inv = fit.inverse(m)
    assert inv is not None
    ident = _mat_mul(m, inv)
    assert all(
        ident[i][j] == pytest.approx(float(i == j), abs=1e-12) for i in range(3) for j in range(3)
    )
    x = fit.solve(m, (1.0, 2.0, 3.0))
    assert x is not None and fit.mat_vec(m, x) == pytest.approx((1.0, 2.0, 3.0))
    # a pivot of zero in the first column still solves (partial pivoting)
    p: fit.Mat3 = ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 2.0))
    assert fit.solve(p, (1.0, 2.0, 4.0)) == pytest.approx((2.0, 1.0, 2.0))


def test_singular_and_indefinite_matrices() -> None:
    singular: fit.Mat3 = ((1.0, 2.0, 3.0), (2.0, 4.0, 6.0), (1.0, 0.0, 1.0))
    assert fit.inverse(singular) is None
    assert fit.solve(singular, (1.0, 1.0, 1.0)) is None
    assert fit.cholesky(((1.0, 2.0, 0.0), (2.0, 1.0, 0.0), (0.0, 0.0, 1.0))) is None
    assert fit.sample_coefficients((0.0, 0.0, 0.0), singular, (1.0, 1.0, 1.0)) is None


def test_sample_coefficients_uses_covariance_factor() -> None:
    precision: fit.Mat3 = ((4.0, 0.0, 0.0), (0.0, 0.25, 0.0), (0.0, 0.0, 1.0))
    beta = fit.sample_coefficients((1.0, 2.0, 3.0), precision, (1.0, 1.0, 1.0))
    assert beta == pytest.approx((1.5, 4.0, 4.0))  # mu + sqrt(diag(precision^-1))·z


# --- discount ------------------------------------------------------------------------------


def test_discount_widens_std_decays_precision_and_weights() -> None:
    s = _earning_state([100, 200, 300, 400, 500, 600])
    s.observations[0].weight = 0.01  # already below the floor: stays
    std, prec = s.posterior_std, s.precision
    weights = [o.weight for o in s.observations]
    th.discount(s, 0.9)
    assert s.posterior_std == pytest.approx(std / math.sqrt(0.9))
    assert s.precision[1][2] == pytest.approx(prec[1][2] * 0.9)
    assert s.observations[0].weight == 0.01
    assert [o.weight for o in s.observations[1:]] == pytest.approx([w * 0.9 for w in weights[1:]])
    for _ in range(200):
        th.discount(s, 0.9)
    assert {o.weight for o in s.observations[1:]} == {0.05}
    before = th.to_json(s)
    th.discount(s, 1.0)
    th.discount(s, 0.0)
    assert th.to_json(s) == before


def test_discount_caps_std_at_200_and_std_never_below_10() -> None:
    s = th.ThompsonState()
    for _ in range(30):
        th.record(s, 300, 5.0, 6.0, T0)
    assert s.posterior_std == pytest.approx(max(10.0, 0.04 * s.posterior_mean))
    assert s.posterior_std >= 10.0
    for _ in range(500):
        th.discount(s, 0.98)
    assert s.posterior_std == pytest.approx(200.0)


def test_order_update_discount_sample_draws_from_the_discounted_posterior() -> None:
    # non-concave (rising) data: sampling falls back to N(mean, std), so the discount's std shows
    s = th.ThompsonState()
    for i, fee in enumerate([100, 200, 300, 400, 500, 600]):
        th.record(s, fee, 0.001 * fee * fee, 6.0, T0 + i * HOUR)
    s.fee_min = s.fee_max = 0.0  # no usable quadratic: no coefficient draws
    mean, std = s.posterior_mean, s.posterior_std
    plain = th.sample(s, random.Random(7), T0, floor=1, ceiling=100_000)
    th.discount(s, 0.5)
    wide = th.sample(s, random.Random(7), T0, floor=1, ceiling=100_000)
    z = random.Random(7).gauss(0.0, 1.0)
    assert plain == math.floor(mean + z * std)
    assert wide == math.floor(mean + z * min(200.0, std / math.sqrt(0.5)))
    assert wide != plain


# --- record -----------------------------------------------------------------------------------


def test_reward_kalman_damping() -> None:
    assert th.reward(10.0) == 10.0
    assert th.reward(10.0, 0.25, 0.0) == 10.0  # 0.5 -> 1
    assert th.reward(10.0, -0.75, 0.0) == pytest.approx(10.0 / 1.5)
    assert th.reward(10.0, 0.25, 0.5 / 24) == pytest.approx(10.0 / 1.5)
    assert th.reward(10.0, 1.0, 0.1) == 5.0  # capped at 2


def test_censored_windows_and_fee_zero_are_not_recorded() -> None:
    s = th.ThompsonState()
    before = th.to_json(s)
    assert not th.record(s, 0, 5.0, 1.0, T0)
    assert not th.record(s, 300, 0.0, 1.0, T0, spendable_sat=24_999)
    assert not th.record(s, 300, float("nan"), 1.0, T0)
    assert th.to_json(s) == before
    assert th.record(s, 300, 0.0, 1.0, T0, spendable_sat=25_000)
    assert th.record(s, 300, 2.0, 1.0, T0, spendable_sat=1_000)  # earned: never censored
    assert len(s.observations) == 2


def test_record_weight_is_min_1_h_over_6() -> None:
    s = th.ThompsonState()
    th.record(s, 300, 1.0, 3.0, T0)
    th.record(s, 300, 1.0, 12.0, T0)
    assert [o.weight for o in s.observations] == [0.5, 1.0]


def test_observation_cap_keeps_the_newest_200() -> None:
    s = th.ThompsonState()
    for i in range(250):
        th.record(s, 100 + i, 1.0, 1.0, T0 + i * 60)
    assert len(s.observations) == th.MAX_OBSERVATIONS == 200
    assert s.observations[0].ts == T0 + 50 * 60
    assert s.observations[-1].fee == 349.0


def test_meaningful_revenue_reference_gap_and_streak() -> None:
    s = th.ThompsonState()
    th.record(s, 300, 100.0, 1.0, T0)
    assert (s.positive_rate_ref, s.positive_rate_ref_ts) == (100.0, T0)
    th.record(s, 300, 50.0, 1.0, T0 + 10 * HOUR)
    ref = 100.0 * 0.5 ** (10 / 168)
    assert s.positive_rate_ref == pytest.approx(0.8 * ref + 0.2 * 50.0)
    assert s.meaningful_gap_ema_hours == pytest.approx(10.0)
    th.record(s, 300, 50.0, 1.0, T0 + 30 * HOUR)
    assert s.meaningful_gap_ema_hours == pytest.approx(0.7 * 10 + 0.3 * 20)
    # a trickle below 10 % of the (decayed) reference is not meaningful
    ref = th.effective_positive_rate_ref(s, T0 + 31 * HOUR)
    assert th.is_meaningful(s, 0.101 * ref, T0 + 31 * HOUR)
    th.record(s, 320, 0.09 * ref, 1.0, T0 + 31 * HOUR)
    assert (s.zero_revenue_streak, s.zero_run_start_fee) == (1, 320.0)
    assert s.zero_run_start_ts == T0 + 31 * HOUR
    th.record(s, 310, 0.0, 1.0, T0 + 32 * HOUR)
    assert (s.zero_revenue_streak, s.zero_run_start_fee) == (2, 320.0)
    th.record(s, 300, 60.0, 1.0, T0 + 33 * HOUR)
    assert (s.zero_revenue_streak, s.zero_run_start_ts) == (0, 0)


def test_zero_probe_point_from_streak_4() -> None:
    s = _earning_state([400, 400, 400, 400, 400], rate=20.0)
    for k in range(3):
        th.record(s, 400, 0.0, 1.0, T0 + (10 + k) * HOUR)
    assert all(o.flag != th.FLAG_ZERO_PROBE for o in s.observations)
    th.record(s, 405, 0.0, 1.0, T0 + 13 * HOUR)
    probe = s.observations[-1]
    assert (probe.flag, probe.fee, probe.revenue_rate) == (th.FLAG_ZERO_PROBE, 364.0, 0.0)
    assert s.observations[-2].fee == 405.0 and s.zero_revenue_streak == 4
    assert th.real_observation_count(s) == len(s.observations) - 1
    # the probe is not fitted: removing it leaves the posterior unchanged
    without = copy.deepcopy(s)
    del without.observations[-1]
    th.recompute(s, T0 + 13 * HOUR)
    th.recompute(without, T0 + 13 * HOUR)
    assert s.posterior_mean == without.posterior_mean
    assert s.charged_fee_mean == without.charged_fee_mean


def test_no_zero_probe_when_mean_below_30pct_of_anchor() -> None:
    s = _earning_state([1000, 1000, 1000], rate=20.0)
    s.posterior_mean = 250.0  # < 0.3 x the 1000 ppm earning region: stop descending
    s.zero_revenue_streak = 3
    s.zero_run_start_fee, s.zero_run_start_ts = 1000.0, T0
    th.record(s, 1000, 0.0, 1.0, T0 + 5 * HOUR)
    assert all(o.flag != th.FLAG_ZERO_PROBE for o in s.observations)


# --- recompute --------------------------------------------------------------------------------


def test_age_decay_and_drop_of_tiny_weights() -> None:
    obs = [th.Observation(100.0, 1.0, 1.0, T0), th.Observation(200.0, 1.0, 1.0, T0 - 168 * HOUR)]
    obs.append(th.Observation(300.0, 1.0, 1e-6, T0 - HOUR))
    points, pool = fit.weighted_points(obs, T0)
    assert [w for _, _, w in points] == pytest.approx([1.0, 0.5])
    assert len(pool) == 2


def test_anchor_when_no_revenue_mass() -> None:
    s = th.ThompsonState()
    th.record(s, 400, 0.0, 6.0, T0)
    th.record(s, 300, 0.0, 6.0, T0 + 24 * HOUR)
    w_old = 0.5 ** (24 / 168) * 0.5 ** (24 / 24)
    expected = (400 * w_old + 300 * 1.0) / (w_old + 1.0)
    assert s.posterior_mean == pytest.approx(expected)
    assert s.posterior_std == pytest.approx(max(100 / 4, 0.15 * expected))
    assert (s.fee_min, s.fee_max) == (0.0, 0.0)


def test_anchor_on_earning_region_after_24_zero_windows() -> None:
    s = _earning_state([500, 520, 540], rate=30.0)
    for k in range(24):
        th.record(s, 900, 0.0, 1.0, T0 + (5 + k) * HOUR)
    assert s.zero_revenue_streak == 24
    assert th.earning_region_fee(s, T0 + 28 * HOUR) == pytest.approx(s.posterior_mean)
    assert 500 <= s.posterior_mean <= 540
    assert s.posterior_std == pytest.approx(max(10.0, 0.15 * s.posterior_mean))


def test_normal_normal_floors_variance_at_100_and_std_at_4pct() -> None:
    mean, std = fit.normal_normal([(1000.0, 1.0, 1.0)] * 2, prior_mean=200.0, prior_std=100.0)
    tau = 1e-4 + 2 / 100.0
    assert mean == pytest.approx((1e-4 * 200 + 0.02 * 1000) / tau)
    assert std == pytest.approx(max(10.0, 0.04 * mean, tau**-0.5))
    assert std == pytest.approx(0.04 * mean)


# --- sample -------------------------------------------------------------------------------------


def test_sample_is_deterministic_for_a_seed() -> None:
    def draws(seed: int) -> list[int]:
        s = _earning_state([200, 300, 400, 500, 600, 700])
        rng = random.Random(seed)
        return [th.sample(s, rng, T0, floor=50, ceiling=2000) for _ in range(20)]

    assert draws(11) == draws(11)
    assert draws(11) != draws(12)


def test_sample_from_prior_below_5_real_points() -> None:
    s = th.ThompsonState(prior_mean=300.0, prior_std=50.0)
    for i in range(4):
        th.record(s, 900, 1.0, 6.0, T0 + i)
    got = th.sample(s, random.Random(3), T0, floor=1, ceiling=5000)
    assert got == math.floor(random.Random(3).gauss(300.0, 55.0))
    tiny = th.ThompsonState(prior_mean=300.0, prior_std=1.0)
    assert th.sample(tiny, random.Random(3), T0) == math.floor(random.Random(3).gauss(300.0, 10.0))


def test_sample_concave_vertex_is_clamped_to_range() -> None:
    s = th.ThompsonState()
    for i in range(8):
        fee = 200 + round(i * 800 / 7)
        th.record(s, fee, 4 * (1 - ((fee - 600) / 800) ** 2), 6.0, T0 + i)
    s.precision = fit.mat_scale(s.precision, 1e6)  # a near-certain fit: draws ~ the mean vertex
    a, b, _ = s.coeffs
    assert a < 0
    expected = s.fee_min + min(1.2, max(-0.2, -b / (2 * a))) * (s.fee_max - s.fee_min)
    got = [th.sample(s, random.Random(k), T0, floor=1, ceiling=5000) for k in range(5)]
    assert all(abs(g - expected) <= 2 for g in got)
    s.coeffs = (-1.0, 10.0, 0.0)  # vertex at x = 5: clamped to 1.2 of the range
    one = th.sample(s, random.Random(1), T0, floor=1, ceiling=5000)
    assert abs(one - (s.fee_min + 1.2 * (s.fee_max - s.fee_min))) <= 2


def test_sample_respects_floor_and_ceiling() -> None:
    s = th.ThompsonState(prior_mean=1000.0, prior_std=1000.0)
    got = {th.sample(s, random.Random(k), T0, floor=900, ceiling=1100) for k in range(50)}
    assert min(got) >= 900 and max(got) <= 1100 and {900, 1100} <= got


def test_context_key() -> None:
    assert th.context_key(0.10, 3, FlowClass.SINK) == "depleted:low:S"
    assert th.context_key(0.30, 12, FlowClass.SOURCE) == "low:normal:P"
    assert th.context_key(0.50, 18, None) == "balanced:peak:S"
    assert th.context_key(0.84, 17, FlowClass.DORMANT) == "high:normal:S"
    assert th.context_key(0.85, 6, FlowClass.BALANCED) == "saturated:normal:P"


def test_context_posterior_update_and_sample_shift() -> None:
    s = _earning_state([200, 300, 400, 500, 600, 700])
    key = "balanced:normal:P"
    for k in range(6):
        th.update_context(s, key, 900.0, 100.0, "normal", T0 + k)
    ctx = s.contexts[key]
    assert ctx.count == 6 and ctx.mean > s.posterior_mean
    base = th.sample(s, random.Random(5), T0, floor=1, ceiling=5000)
    shifted = th.sample(s, random.Random(5), T0, floor=1, ceiling=5000, context=key)
    offset = min(0.2 * base, ctx.mean - s.charged_fee_mean) * 6 / 16
    # base is the floored draw; the shift is added to the unfloored one
    assert abs(shifted - math.floor(base + offset)) <= 1
    assert shifted > base
    # under 5 observations a context does not shift the sample
    th.update_context(s, "low:peak:S", 2000.0, 100.0, "peak", T0)
    assert th.sample(s, random.Random(5), T0, floor=1, ceiling=5000, context="low:peak:S") == base


def test_context_observation_precision_time_similarity_and_role() -> None:
    s = th.ThompsonState()
    var = s.posterior_std**2
    th.update_context(s, "balanced:normal:P", 300.0, 99.0, "low", T0)
    p0 = 1.0 / var * 0.98
    assert s.contexts["balanced:normal:P"].precision == pytest.approx(p0 + 0.5 / var)
    th.update_context(s, "balanced:peak:S", 300.0, 49.0, "low", T0)
    p0 = 1.0 / (1.25**2 * var) * 0.98
    assert s.contexts["balanced:peak:S"].precision == pytest.approx(p0 + 0.5 * 0.2 * 1.3 / var)


def test_context_pruning_130_to_104_by_count() -> None:
    s = th.ThompsonState()
    for i in range(130):
        s.contexts[f"k{i}"] = th.ContextPosterior(200.0, 1e-4, i + 1, T0)
    th.update_context(s, "new", 200.0, 1.0, "normal", T0)
    assert len(s.contexts) == 104
    assert "new" not in s.contexts and "k0" not in s.contexts
    assert min(c.count for c in s.contexts.values()) == 27


# --- supported ceiling and upward probe --------------------------------------------------------


def test_supported_ceiling_is_125pct_of_90pct_mass_quantile() -> None:
    s = _earning_state([100] * 5 + [200] * 5 + [400], rate=10.0, spacing=0)
    # 11 equal masses: cumulative 5/11 at 100, 10/11 (>= 0.9) at 200
    assert th.supported_ceiling(s, T0 + 10 * HOUR) == pytest.approx(250.0)
    assert th.supported_ceiling(th.ThompsonState(), T0) is None
    assert th.supported_ceiling(s, T0 + 10 * HOUR, floor=300) == pytest.approx(600.0)


def test_mass_quantile_fee() -> None:
    rates = [(100, 10.0)] * 5 + [(200, 9.5)] * 4 + [(400, 12.0)]  # cumulative 50, 88, 100
    obs = [fit.Observation(float(f), r, 1.0, T0) for f, r in rates]
    assert fit.mass_quantile_fee(obs, T0, 0.90) == 400.0
    assert fit.mass_quantile_fee(obs, T0, 0.88) == 200.0
    assert fit.mass_quantile_fee(obs, T0, 0.50) == 100.0
    s = th.ThompsonState(observations=obs)
    assert th.supported_ceiling(s, T0) == 500.0


def test_congested_windows_do_not_support_the_ceiling() -> None:
    s = _earning_state([100] * 5 + [200] * 5 + [400], rate=10.0, spacing=0)
    th.record(s, 1500, 500.0, 6.0, T0, congested=True)
    assert s.observations[-1].flag == th.FLAG_CONGESTION
    assert th.supported_ceiling(s, T0) == pytest.approx(250.0)


def test_revenue_masses_are_winsorised_at_3x_median() -> None:
    obs = [th.Observation(f, r, 1.0, T0) for f, r in [(100, 1), (200, 1), (300, 1), (400, 100)]]
    masses = fit.positive_revenue_mass(obs, T0)
    assert masses[-1] == (400.0, 3.0)


def test_cap_target_and_one_upward_probe_per_24h() -> None:
    s = _earning_state([100] * 5 + [200] * 5 + [400], rate=10.0, spacing=0)
    now = T0 + 10 * HOUR
    s.posterior_mean, s.posterior_std = 300.0, 80.0
    assert th.cap_target(s, 240, now) == 240  # below the 250 cap
    assert th.cap_target(s, 400, now) == 312  # the probe: 1.25 x 250
    assert s.last_upward_probe_ts == now
    assert th.cap_target(s, 400, now + 23 * HOUR) == 250
    assert th.cap_target(s, 400, now + 24 * HOUR) == 312
    assert th.cap_target(s, 280, now + 48 * HOUR) == 280  # a probe never raises the target


def test_upward_probe_budget_is_spent_only_when_consumed() -> None:
    """The controller takes the probe target without spending the 24 h budget and spends it
    only once the applied fee crosses the supported ceiling (§2.4 "one upward probe ... per
    24 h")."""
    s = _earning_state([100] * 5 + [200] * 5 + [400], rate=10.0, spacing=0)
    now = T0 + 10 * HOUR
    s.posterior_mean, s.posterior_std = 300.0, 80.0
    assert th.upward_probe_open(s, now, 250.0)
    assert th.cap_target(s, 400, now, consume_probe=False) == 312
    assert s.last_upward_probe_ts == 0
    assert th.cap_target(s, 400, now + HOUR, consume_probe=False) == 312  # still open
    th.consume_upward_probe(s, now + HOUR)
    assert not th.upward_probe_open(s, now + 2 * HOUR, 250.0)
    assert th.cap_target(s, 400, now + 2 * HOUR, consume_probe=False) == 250


@pytest.mark.parametrize(
    ("streak", "mean", "std"), [(1, 300.0, 80.0), (0, 240.0, 80.0), (0, 300.0, 59.0)]
)
def test_no_upward_probe_without_its_conditions(streak: int, mean: float, std: float) -> None:
    s = _earning_state([100] * 5 + [200] * 5 + [400], rate=10.0, spacing=0)
    s.zero_revenue_streak, s.posterior_mean, s.posterior_std = streak, mean, std
    assert th.cap_target(s, 400, T0 + 10 * HOUR) == 250
    assert s.last_upward_probe_ts == 0


# --- nudges ----------------------------------------------------------------------------------


def test_fee_insufficient_nudge() -> None:
    s = _earning_state([500] * 6, rate=10.0)
    mean = s.posterior_mean
    th.nudge_fee_insufficient(s, 500, 100_000, T0 + 6 * HOUR)
    w = 0.1 * min(3.0, 1 + 5 / 3)
    assert s.nudges[0].target == 400.0
    assert s.nudges[0].weight == pytest.approx(w)
    assert s.posterior_mean == pytest.approx(mean + (400 - mean) * w / (1 + w))
    # re-applied after a recompute, decaying with a 24 h half-life
    th.recompute(s, T0 + 30 * HOUR)
    assert len(s.nudges) == 1
    after = s.posterior_mean
    s2 = _earning_state([500] * 6, rate=10.0)
    th.recompute(s2, T0 + 30 * HOUR)
    wd = w * 0.5
    assert after == pytest.approx(s2.posterior_mean + (400 - s2.posterior_mean) * wd / (1 + wd))
    th.recompute(s, T0 + 400 * HOUR)
    assert s.nudges == []


def test_nudges_shift_prior_and_vertex_samples() -> None:
    s = th.ThompsonState()
    th.record_nudge(s, 600.0, 1.0, T0)
    drawn = random.Random(4).gauss(200.0, 110.0)
    assert th.sample(s, random.Random(4), T0) == math.floor(drawn + (600.0 - drawn) * 0.5)


def test_nudges_dedupe_and_cap() -> None:
    s = th.ThompsonState()
    th.record_nudge(s, 400.0, 0.1, T0)
    th.record_nudge(s, 410.0, 0.3, T0 + 1)
    assert [(n.target, n.weight, n.ts) for n in s.nudges] == [(410.0, 0.3, T0 + 1)]
    for i in range(60):
        th.record_nudge(s, 1000.0 * 1.1**i, 0.1, T0)
    assert len(s.nudges) == 50
    assert s.nudges[-1].target == pytest.approx(1000.0 * 1.1**59)


def test_vegas_adjustment() -> None:
    s = _earning_state([300] * 6, rate=10.0)
    std, mean = s.posterior_std, s.posterior_mean
    th.vegas_adjust(s, 1.2, 900.0, T0)
    assert (s.posterior_std, s.posterior_mean) == (std, mean)
    th.vegas_adjust(s, 3.0, 900.0, T0)
    assert s.posterior_std == pytest.approx(2 * std)
    assert s.nudges[0].target == 900.0 and s.nudges[0].weight == 0.43
    assert s.posterior_mean == pytest.approx(mean + (900 - mean) * 0.43 / 1.43)


# --- persistence (spec §7 test 30) ------------------------------------------------------------


def test_json_round_trip_keeps_everything_and_unknown_keys() -> None:
    s = _earning_state([200, 300, 400, 500, 600, 700])
    th.record(s, 800, 0.0, 1.0, T0 + 9 * HOUR, congested=True, context="balanced:normal:P")
    th.nudge_fee_insufficient(s, 500, 10_000, T0)
    s.last_upward_probe_ts = T0
    blob = th.to_json(s)
    doc = json.loads(blob)
    assert doc["version"] == th.STATE_VERSION
    doc["future_field"] = {"x": [1, 2]}
    back, warning = th.from_json(json.dumps(doc))
    assert warning is None
    assert back.extra == {"future_field": {"x": [1, 2]}}
    back.extra = {}
    assert back == s
    assert json.loads(th.to_json(th.from_json(json.dumps(doc))[0]))["future_field"] == {"x": [1, 2]}


@pytest.mark.parametrize(
    "blob",
    [
        "{not json",
        "[]",
        "mutate:version=99",
        "mutate:observations=[[1, 2]]",
        "mutate:posterior_mean=NaN",
        "mutate:posterior_std=true",
        "mutate:zero_revenue_streak=1.5",
        'mutate:observations=[[1, 2, 3, 4, "normal", "weird"]]',
        "mutate:precision=[[1, 0, 0], [0, 1, 0]]",
        "drop:coeffs",
    ],
)
def test_corrupt_blob_gives_fresh_state_and_a_warning(blob: str) -> None:
    if blob.startswith(("mutate:", "drop:")):
        doc = json.loads(th.to_json(_earning_state([200, 300])))
        op, _, rest = blob.partition(":")
        if op == "drop":
            del doc[rest]
            blob = json.dumps(doc)
        else:
            key, _, value = rest.partition("=")
            blob = json.dumps(doc).replace(f'"{key}":', f'"{key}": {value}, "_x":', 1)
    state, warning = th.from_json(blob)
    assert warning is not None and "corrupt" in warning
    assert state == th.ThompsonState()


def test_missing_blob_is_a_fresh_state_without_warning() -> None:
    assert th.from_json(None) == (th.ThompsonState(), None)
    assert th.from_json("") == (th.ThompsonState(), None)


# --- spec §7 test 13's shape: a pure 30-day loop ---------------------------------------------


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _simulate(seed: int, days: int = 30) -> list[int]:
    """λ(f) = 40/h·e^(-f/600) forwards of 50 000 sat; 30-min windows; record -> discount -> sample
    -> supported-ceiling cap, from the 200 ppm prior; floor 50, ceiling 2000."""
    rng = random.Random(seed)
    s = th.ThompsonState()
    fee, fees = 200, []
    for k in range(days * 48):
        now = T0 + (k + 1) * 1800
        forwards = _poisson(rng, 40 * math.exp(-fee / 600) * 0.5)
        th.record(s, fee, forwards * 50_000 * fee / 1e6 / 0.5, 0.5, now)
        th.discount(s, 0.98)
        fee = th.cap_target(s, th.sample(s, rng, now, floor=50, ceiling=2000), now, 50)
        fees.append(fee)
    return fees


def test_simulated_demand_settles_the_fee_near_the_revenue_optimum() -> None:
    fees = _simulate(seed=1)
    late = fees[20 * 48 :]
    # optimum 600 ppm (441 sat/h); the curve is flat there, so judge the revenue the fees earn
    late_rate = sum(2 * f * math.exp(-f / 600) for f in late) / len(late)
    assert late_rate >= 0.75 * 2 * 600 * math.exp(-1)  # seed 1: 81 % (draws unblended here)
    # expected revenue over days 10-30 against static fees (sat/h = 2f·e^(-f/600))
    mid = fees[10 * 48 :]
    rate = sum(2 * f * math.exp(-f / 600) for f in mid) / len(mid)
    assert rate >= 1.5 * 2 * 100 * math.exp(-100 / 600)
    assert rate > 2 * 200 * math.exp(-200 / 600)
