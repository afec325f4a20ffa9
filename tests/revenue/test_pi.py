"""PI inventory multiplier (spec revenue-ops §2.5; §7 test 4)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnhive.revenue import pi
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.pi import PIState

T0 = 1_800_000_000.0


def test_spec_test_4_fresh_state() -> None:
    """§7 test 4: fresh state, outbound 0.2, balanced, 5 M sat: ewma_error 0.09 and multiplier
    1.5^((1/log2 7) x 2 x 0.09) = 1.0263 +-1e-4; no integral on the first call."""
    r = pi.step(
        PIState(), outbound_ratio=0.2, flow_class=FlowClass.BALANCED, capacity_sat=5_000_000, now=T0
    )
    assert r.state.ewma_error == pytest.approx(0.09)
    assert r.multiplier == pytest.approx(1.0263, abs=1e-4)
    assert r.state.integral == 0.0
    assert r.state.last_ts == T0


def test_over_target_outbound_lowers_the_fee() -> None:
    r = pi.step(
        PIState(), outbound_ratio=0.8, flow_class=FlowClass.BALANCED, capacity_sat=5_000_000, now=T0
    )
    assert r.multiplier < 1.0


def test_targets_by_class() -> None:
    assert pi.target_outbound(FlowClass.SOURCE) == 0.7
    assert pi.target_outbound(FlowClass.SINK) == 0.3
    assert pi.target_outbound(FlowClass.DORMANT) == 0.5
    # at the sink target the error is zero
    r = pi.step(
        PIState(), outbound_ratio=0.3, flow_class=FlowClass.SINK, capacity_sat=1_000_000, now=T0
    )
    assert r.error == pytest.approx(0.0) and r.multiplier == pytest.approx(1.0)


def test_integral_accumulates_after_the_first_call_and_clamps() -> None:
    """Second call 2 h later: ewma = 0.3 x 0.3 + 0.7 x 0.09 = 0.153, integral = 0.153 x 2."""
    first = pi.step(
        PIState(), outbound_ratio=0.2, flow_class=FlowClass.BALANCED, capacity_sat=5_000_000, now=T0
    )
    second = pi.step(
        first.state,
        outbound_ratio=0.2,
        flow_class=FlowClass.BALANCED,
        capacity_sat=5_000_000,
        now=T0 + 7200,
    )
    assert second.state.ewma_error == pytest.approx(0.153)
    assert second.state.integral == pytest.approx(0.306)
    scale = 1 / math.log2(7)
    assert second.multiplier == pytest.approx(1.5 ** (scale * (2 * 0.153 + 0.1 * 0.306)))
    later = pi.step(
        PIState(ewma_error=0.5, integral=2.9, last_ts=T0),
        outbound_ratio=0.0,
        flow_class=FlowClass.BALANCED,
        capacity_sat=5_000_000,
        now=T0 + 100 * 3600,
    )
    assert later.state.integral == 3.0
    low = pi.step(
        PIState(ewma_error=-0.5, integral=-2.9, last_ts=T0),
        outbound_ratio=1.0,
        flow_class=FlowClass.BALANCED,
        capacity_sat=5_000_000,
        now=T0 + 100 * 3600,
    )
    assert low.state.integral == -3.0


@given(
    steps=st.lists(
        st.tuples(
            st.floats(0.0, 1.0),
            st.sampled_from(list(FlowClass)),
            st.integers(1, 10**9),
            st.floats(0.0, 10 * 86_400.0),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_multiplier_always_within_half_and_double(
    steps: list[tuple[float, FlowClass, int, float]],
) -> None:
    state, now = PIState(), T0
    for outbound, flow_class, capacity, dt in steps:
        now += dt
        r = pi.step(
            state, outbound_ratio=outbound, flow_class=flow_class, capacity_sat=capacity, now=now
        )
        assert 0.5 <= r.multiplier <= 2.0
        assert -3.0 <= r.state.integral <= 3.0
        state = r.state


def test_multiplier_hits_its_clamps() -> None:
    """A tiny channel with a saturated integral: 1.5^(scale x (2 x 1 + 0.3)) > 2 -> 2."""
    hi = pi.step(
        PIState(ewma_error=1.0, integral=3.0, last_ts=T0),
        outbound_ratio=-0.5,
        flow_class=FlowClass.SOURCE,
        capacity_sat=1,
        now=T0,
    )
    assert hi.multiplier == 2.0
    lo = pi.step(
        PIState(ewma_error=-1.0, integral=-3.0, last_ts=T0),
        outbound_ratio=1.5,
        flow_class=FlowClass.SINK,
        capacity_sat=1,
        now=T0,
    )
    assert lo.multiplier == 0.5


def test_drain_discount() -> None:
    """dmax 0.2 at local 0.9: 1 - 0.2 x 0.5 = 0.9; the default dmax 0 discounts nothing."""
    assert pi.drain_discount(0.9, forwards_in_window=0, discount_max=0.2) == pytest.approx(0.9)
    assert pi.drain_discount(1.0, forwards_in_window=0, discount_max=0.2) == pytest.approx(0.8)
    assert pi.drain_discount(0.9, forwards_in_window=0) == 1.0
    assert pi.drain_discount(0.9, forwards_in_window=1, discount_max=0.2) == 1.0
    assert pi.drain_discount(0.8, forwards_in_window=0, discount_max=0.2) == 1.0


def test_node_pressure_scaled_drain_discount() -> None:
    """Receivable ratio 0.25, halfway between floor 0.20 and target 0.30: dmax 0.15."""
    assert pi.node_pressure_discount_max(0.25) == pytest.approx(0.15)
    assert pi.node_pressure_discount_max(0.10) == 0.3
    assert pi.node_pressure_discount_max(0.30) == 0.0
    d = pi.drain_discount(
        1.0, forwards_in_window=0, node_receivable_ratio=0.25, node_drain_bias_enabled=True
    )
    assert d == pytest.approx(0.85)
    off = pi.drain_discount(1.0, forwards_in_window=0, node_receivable_ratio=0.25)
    assert off == 1.0


def _hold(outbound: float, flow_class: FlowClass, hours: float) -> pi.PIResult:
    """Half-hourly PI steps at one outbound ratio for ``hours`` (a 5 M sat channel)."""
    state, r = PIState(), None
    for k in range(int(hours * 2) + 1):
        r = pi.step(
            state,
            outbound_ratio=outbound,
            flow_class=flow_class,
            capacity_sat=5_000_000,
            now=T0 + k * 1800,
        )
        state = r.state
    assert r is not None
    return r


def test_inside_the_band_the_spec_formula_holds() -> None:
    """|ewma error| <= 0.25: the out-of-band term is 0 and the multiplier is the spec's."""
    r = pi.step(
        PIState(ewma_error=0.2, integral=1.0, last_ts=T0),
        outbound_ratio=0.3,
        flow_class=FlowClass.BALANCED,
        capacity_sat=5_000_000,
        now=T0 + 3600,
    )
    assert r.state.ewma_error == pytest.approx(0.2)
    scale = 1 / math.log2(7)
    assert r.multiplier == pytest.approx(1.5 ** (scale * (2 * 0.2 + 0.1 * 1.2)))
    assert pi.band_exponent(0.25) == 0.0 and pi.band_exponent(-0.1) == 0.0


def test_out_of_band_term_reaches_the_clamp_at_half_error() -> None:
    assert pi.band_exponent(0.5) == pytest.approx(math.log(2) / math.log(1.5))
    assert pi.band_exponent(-0.5) == pytest.approx(-math.log(2) / math.log(1.5))
    assert pi.band_exponent(0.3) < pi.band_exponent(0.4)  # monotone beyond the band


def test_an_empty_or_full_balanced_channel_reaches_the_clamps() -> None:
    """The spec's PI alone stops at 1.5^(scale x (2 x 0.5 + 0.1 x 3)) = x1.21 for an empty
    5 M sat channel (and /1.21 for a full one); with the out-of-band term it prices the
    scarcity up to the [0.5, 2] clamp."""
    scale = 1 / math.log2(7)
    spec_only = 1.5 ** (scale * (2 * 0.5 + 0.1 * 3))
    assert spec_only < 1.22
    empty = _hold(0.0, FlowClass.BALANCED, 24)
    full = _hold(1.0, FlowClass.BALANCED, 24)
    assert empty.state.integral == 3.0  # the integral limit is the spec's
    assert empty.multiplier == 2.0
    assert full.multiplier == 0.5


def test_spec_test_15_multiplier_above_1_15_after_a_drained_day() -> None:
    """§7 test 15 (second half): a SOURCE channel below 0.15 outbound for a day."""
    assert _hold(0.14, FlowClass.SOURCE, 24).multiplier > 1.15
