"""Fee-controller stages (spec revenue-ops §2.3; §7 tests 2, 3, 6, 8, 9, 10)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lnhive.revenue import stages
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.profiles import ACTIVE, CONSERVATIVE
from lnhive.revenue.stages import (
    CongestionMode,
    CongestionState,
    Decision,
    SleepState,
    ZeroFlowAction,
    ZeroFlowContext,
)

NOW = 1_800_000_000.0
FEE_INTERVAL = 1800.0
FLOW_INTERVAL = 3600.0


# --- §7 test 2: step cap ------------------------------------------------------------------
def test_spec_test_2_step_cap() -> None:
    """Active profile: 1000 -> 5000 gives 1500 (cap max(100, 500)); on a wake cycle 1200
    (max(50, 200)); 40 -> 400 gives 140 (the 100 ppm minimum)."""
    assert stages.rate_limit(1000, 5000, ACTIVE) == 1500
    assert stages.rate_limit(1000, 5000, ACTIVE, wake=True) == 1200
    assert stages.rate_limit(40, 400, ACTIVE) == 140
    assert stages.rate_limit(1000, 100, ACTIVE) == 500
    assert stages.rate_limit(1000, 1300, ACTIVE) == 1300
    assert stages.step_cap(1001, ACTIVE) == 501  # ceil
    assert stages.step_cap(1000, CONSERVATIVE) == 250
    assert stages.step_cap(50, CONSERVATIVE, wake=True) == 10


# --- step 6: bound and blend ----------------------------------------------------------------
def test_blend_ratio_choice() -> None:
    assert stages.blend_ratio(ACTIVE, 250.0, 20) == 0.20  # sparse ratio (std >= 200)
    assert stages.blend_ratio(ACTIVE, 10.0, 4) == 0.20  # sparse ratio (< 5 observations)
    assert stages.blend_ratio(ACTIVE, 150.0, 20) == 0.30
    assert stages.blend_ratio(ACTIVE, 60.0, 20) == 0.45
    assert stages.blend_ratio(ACTIVE, 10.0, 20) == 0.60
    assert stages.blend_ratio(ACTIVE, 10.0, 20, wake=True) == 0.15
    assert stages.blend_ratio(CONSERVATIVE, 10.0, 20) == 0.20  # capped off the active profile
    assert stages.blend_ratio(CONSERVATIVE, 300.0, 20) == 0.10
    assert stages.blend_ratio(CONSERVATIVE, 10.0, 20, wake=True) == 0.10


def test_bound_rounds_up_and_clamps() -> None:
    assert stages.bound(300.2, 50, 2000) == 301
    assert stages.bound(300.0, 50, 2000) == 300
    assert stages.bound(10.0, 50, 2000) == 50
    assert stages.bound(9000.0, 50, 2000) == 2000


def test_blend_moves_part_way_and_at_least_one_ppm() -> None:
    assert stages.blend(1000, 2000, 0.35) == 1350
    assert stages.blend(1000, 500, 0.6) == 700
    assert stages.blend(100, 101, 0.2) == 101
    assert stages.blend(100, 99, 0.2) == 99
    assert stages.blend(100, 100, 0.6) == 100


def test_blend_origin_uses_a_valid_pending_target() -> None:
    assert stages.blend_origin(1000, 1025, 50, 2000) == 1025
    assert stages.blend_origin(1000, None, 50, 2000) == 1000
    assert stages.blend_origin(1000, 2500, 50, 2000) == 1000


# --- §7 test 3: deadband ------------------------------------------------------------------
def test_spec_test_3_alpha_guard() -> None:
    """80 -> 81 is applied (below 100 ppm a 1 ppm move passes; no earlier broadcast, so the
    gossip gate has nothing to compare with); 1000 -> 1025 is suppressed (25 < 30 = 3 %)
    and kept as the pending target."""
    d = stages.deadband(80, 81, None)
    assert d.decision is Decision.APPLY and d.fee_ppm == 81
    d = stages.deadband(1000, 1025, 1000)
    assert d.decision is Decision.SKIP_PENDING
    assert d.pending_target_ppm == 1025 and d.fee_ppm == 1000
    assert "alpha_guard" in d.reason
    assert stages.alpha_threshold(80) == 1
    assert stages.alpha_threshold(100) == 5
    assert stages.alpha_threshold(1000) == 30
    assert stages.deadband(80, 80, None).decision is Decision.SKIP_PENDING


def test_spec_test_3_gossip_gate() -> None:
    """Last broadcast 1000 (current 1000): 1040 suppressed (40 <= 50), 1060 sent;
    a CONGESTION <-> normal change is always sent."""
    d = stages.deadband(1000, 1040, 1000)
    assert d.decision is Decision.SKIP_GOSSIP and d.fee_ppm == 1000 and "gossip_gate" in d.reason
    assert stages.deadband(1000, 1060, 1000).decision is Decision.APPLY
    assert stages.deadband(1000, 950, 1000).decision is Decision.SKIP_GOSSIP
    changed = stages.deadband(1000, 1040, 1000, category_changed=True)
    assert changed.decision is Decision.APPLY and changed.reason == "category_changed"
    small = stages.deadband(1000, 1010, 1000, category_changed=True)
    assert small.decision is Decision.APPLY


def test_zero_fee_transition_is_sent() -> None:
    assert stages.deadband(0, 3, 0).decision is Decision.APPLY
    assert stages.deadband(2, 0, 2).decision is Decision.APPLY
    # tracked fee 100 but the last broadcast was 0: a 3 ppm move would fail the alpha guard
    d = stages.deadband(100, 103, 0)
    assert d.decision is Decision.APPLY and d.reason == "zero_fee_transition"


def test_gossip_refresh() -> None:
    day = 86_400.0
    assert stages.gossip_refresh_due(NOW, NOW - day, None, None)
    assert not stages.gossip_refresh_due(NOW, NOW - day + 1, None, None)
    assert not stages.gossip_refresh_due(NOW, NOW - day, NOW - 3600, None)
    assert not stages.gossip_refresh_due(NOW, NOW - 2 * day, NOW - 2 * day, NOW - 3600)


# --- §7 test 6: congestion ------------------------------------------------------------------
def test_spec_test_6_congestion_episode() -> None:
    """300 ppm at utilisation 0.85 (85 of 100 HTLC slots): the first trip jumps undamped to
    min(2000, max(1200, 550), max(600, 550)) = 600. The next congested cycle raises the floor
    to 1.5 x 600 = 900 and goes through blend and the step cap: with a DTS target of 2000
    (std 10, 20 observations: ratio 0.60) the blend gives 1440, the cap (300) 900. Two quiet
    cycles end the episode."""
    assert stages.htlc_congested(85, 100)
    assert not stages.htlc_congested(80, 100)
    fresh = stages.congestion_label_fresh(FlowClass.CONGESTED, NOW, NOW, FLOW_INTERVAL)
    trip = stages.congestion_step(
        CongestionState(), congested=fresh, current_ppm=300, floor_ppm=50, ceiling_ppm=2000
    )
    assert trip.mode is CongestionMode.TRIP and trip.fee_ppm == 600 and trip.flagged
    assert trip.state.active and trip.state.entry_fee_ppm == 300

    hold = stages.congestion_step(
        trip.state, congested=True, current_ppm=600, floor_ppm=50, ceiling_ppm=2000
    )
    assert hold.mode is CongestionMode.HOLD and hold.floor_ppm == 900 and hold.flagged
    assert hold.floor_ppm is not None
    shaped = stages.shape_target(
        2000.0,
        current_ppm=600,
        floor_ppm=hold.floor_ppm,
        ceiling_ppm=2000,
        profile=ACTIVE,
        posterior_std=10.0,
        observations=20,
    )
    assert shaped.blended == 1440 and shaped.applied == 900

    q1 = stages.congestion_step(
        hold.state, congested=False, current_ppm=900, floor_ppm=50, ceiling_ppm=2000
    )
    assert q1.mode is CongestionMode.QUIET and q1.state.active and not q1.flagged
    q2 = stages.congestion_step(
        q1.state, congested=False, current_ppm=900, floor_ppm=50, ceiling_ppm=2000
    )
    assert q2.mode is CongestionMode.ENDED and not q2.state.active


def test_congestion_quiet_count_restarts_when_congested_again() -> None:
    s = CongestionState(active=True, entry_fee_ppm=300, quiet_cycles=1)
    again = stages.congestion_step(
        s, congested=True, current_ppm=600, floor_ppm=50, ceiling_ppm=2000
    )
    assert again.mode is CongestionMode.HOLD and again.state.quiet_cycles == 0


def test_congestion_trip_respects_ceiling() -> None:
    trip = stages.congestion_step(
        CongestionState(), congested=True, current_ppm=900, floor_ppm=50, ceiling_ppm=1500
    )
    assert trip.fee_ppm == 1500


def test_spec_test_6_stale_congested_label_does_nothing() -> None:
    """A CONGESTED label 2 h + 1 s old (flow-interval 3600 s) is ignored; 2 h old still counts."""
    stale = stages.congestion_label_fresh(
        FlowClass.CONGESTED, NOW - 2 * FLOW_INTERVAL - 1, NOW, FLOW_INTERVAL
    )
    assert not stale
    assert stages.congestion_label_fresh(
        FlowClass.CONGESTED, NOW - 2 * FLOW_INTERVAL, NOW, FLOW_INTERVAL
    )
    assert not stages.congestion_label_fresh(FlowClass.SINK, NOW, NOW, FLOW_INTERVAL)
    out = stages.congestion_step(
        CongestionState(), congested=stale, current_ppm=300, floor_ppm=50, ceiling_ppm=2000
    )
    assert out.mode is CongestionMode.NONE and out.fee_ppm is None and out.floor_ppm is None
    assert out.state == CongestionState()


# --- §7 test 8: zero-flow guard -------------------------------------------------------------
def test_spec_test_8_zero_flow() -> None:
    """Zero flow at 800 ppm, floor 500, 30-min cycles, gap EMA 2 h (so g = 8, d = 24), DTS
    target 1200 every window (blend 0.60 from std 10). From streak 8 the fee never rises; at
    streak 24 it steps to 680, twelve windows later to 578, then would be 491 but stops at
    the floor 500."""
    assert stages.zero_flow_thresholds(2.0, 0.5) == (8, 24)
    fee, history = 800, {}
    for streak in range(8, 61):
        ctx = ZeroFlowContext(zero_streak=streak, gap_ema_hours=2.0, cycle_hours=0.5)
        shaped = stages.shape_target(
            1200.0,
            current_ppm=fee,
            floor_ppm=500,
            ceiling_ppm=2000,
            profile=ACTIVE,
            posterior_std=10.0,
            observations=20,
            zero_flow=ctx,
        )
        assert shaped.applied <= fee
        assert shaped.applied >= 500
        fee = shaped.applied
        history[streak] = fee
    assert history[23] == 800
    assert history[24] == 680
    assert history[35] == 680
    assert history[36] == 578
    assert history[47] == 578
    assert history[48] == 500
    assert history[60] == 500


def test_zero_flow_guard_inactive_before_g_or_with_forwards() -> None:
    ctx = ZeroFlowContext(zero_streak=7, gap_ema_hours=2.0, cycle_hours=0.5)
    assert stages.zero_flow_guard(800, 940, 500, ctx) == (940, ZeroFlowAction.NONE)
    busy = ZeroFlowContext(zero_streak=30, gap_ema_hours=2.0, cycle_hours=0.5, forwards_in_window=1)
    assert stages.zero_flow_guard(800, 940, 500, busy) == (940, ZeroFlowAction.NONE)
    held = ZeroFlowContext(zero_streak=8, gap_ema_hours=2.0, cycle_hours=0.5)
    assert stages.zero_flow_guard(800, 940, 500, held) == (800, ZeroFlowAction.HOLD)
    assert stages.zero_flow_guard(800, 700, 500, held) == (700, ZeroFlowAction.HOLD)


def test_zero_flow_thresholds_scale_with_the_gap() -> None:
    assert stages.zero_flow_thresholds(10.0, 0.5) == (40, 80)
    assert stages.zero_flow_thresholds(1000.0, 1.0) == (336, 672)  # gap capped at 168 h
    assert stages.zero_flow_thresholds(None, 0.5) == (8, 24)


def test_zero_flow_downshift_limits() -> None:
    """Supported ceiling 600 caps the step (800 -> 600); an earning anchor of 1500 keeps it at
    min(800, 750) = 750."""
    base = {"zero_streak": 24, "gap_ema_hours": 2.0, "cycle_hours": 0.5}
    capped = ZeroFlowContext(**base, supported_ceiling_ppm=600.0)  # type: ignore[arg-type]
    assert stages.zero_flow_guard(800, 900, 100, capped) == (600, ZeroFlowAction.DOWNSHIFT)
    anchored = ZeroFlowContext(**base, earning_anchor_ppm=1500.0)  # type: ignore[arg-type]
    assert stages.zero_flow_guard(800, 900, 100, anchored) == (750, ZeroFlowAction.DOWNSHIFT)
    high_anchor = ZeroFlowContext(**base, earning_anchor_ppm=4000.0)  # type: ignore[arg-type]
    assert stages.zero_flow_guard(800, 900, 100, high_anchor) == (800, ZeroFlowAction.HOLD)


# --- §7 test 9: sleep -----------------------------------------------------------------------
def _cycle(state: SleepState, last: float, rate: float, now: float) -> tuple[SleepState, bool]:
    return stages.after_cycle(
        state,
        now=now,
        last_revenue_rate=last,
        revenue_rate=rate,
        current_ppm=300,
        floor_ppm=50,
        fee_interval_s=FEE_INTERVAL,
    )


def test_spec_test_9_sleep_and_wake() -> None:
    """Revenue rates 10.0 -> 10.05 -> 10.0 -> 10.09 sat/h (each < 1 % change): after the third
    such cycle the channel sleeps for 2 x fee-interval (3600 s). A 15 % change does not wake
    it; a 25 % revenue jump does; so does a manual `revenue-set-fee`; and the timer."""
    s = SleepState()
    s, _ = _cycle(s, 10.0, 10.05, NOW)
    s, _ = _cycle(s, 10.05, 10.0, NOW + FEE_INTERVAL)
    assert not s.is_sleeping and s.stable_cycles == 2
    s, reset = _cycle(s, 10.0, 10.09, NOW + 2 * FEE_INTERVAL)
    assert s.is_sleeping and not reset
    assert s.sleep_until == NOW + 2 * FEE_INTERVAL + 2 * FEE_INTERVAL
    t = NOW + 2.5 * FEE_INTERVAL

    held, why = stages.check_wake(s, now=t, last_revenue_rate=10.0, revenue_rate=11.5)
    assert held.is_sleeping and why is None
    woke, why = stages.check_wake(s, now=t, last_revenue_rate=10.0, revenue_rate=12.5)
    assert not woke.is_sleeping and why == "revenue_change"
    woke, why = stages.check_wake(
        s, now=t, last_revenue_rate=10.0, revenue_rate=10.0, manual_fee_set=True
    )
    assert not woke.is_sleeping and why == "manual_fee"
    woke, why = stages.check_wake(s, now=s.sleep_until, last_revenue_rate=10.0, revenue_rate=10.0)
    assert not woke.is_sleeping and why == "timer"


def test_sleep_entry_needs_consecutive_calm_cycles() -> None:
    s = SleepState(stable_cycles=2)
    s2, reset = _cycle(s, 10.0, 10.2, NOW)  # 2 %: not calm, count restarts
    assert s2.stable_cycles == 0 and not s2.is_sleeping and not reset
    s3, reset = _cycle(s, 10.0, 16.0, NOW)  # 60 %: volatility reset
    assert s3.stable_cycles == 0 and reset


def test_no_sleep_while_earning_zero_above_floor() -> None:
    s = SleepState(stable_cycles=2)
    s2, _ = _cycle(s, 0.0, 0.0, NOW)  # current 300 > floor 50
    assert not s2.is_sleeping and s2.stable_cycles == 0
    at_floor, _ = stages.after_cycle(
        s,
        now=NOW,
        last_revenue_rate=0.0,
        revenue_rate=0.0,
        current_ppm=50,
        floor_ppm=50,
        fee_interval_s=FEE_INTERVAL,
    )
    assert at_floor.is_sleeping


def test_other_wake_triggers() -> None:
    s = SleepState(is_sleeping=True, sleep_until=NOW + 3600)
    kw = {"now": NOW, "last_revenue_rate": 5.0, "revenue_rate": 5.0}
    assert stages.check_wake(s, congested=True, **kw)[1] == "congestion"  # type: ignore[arg-type]
    assert stages.check_wake(s, policy_changed=True, **kw)[1] == "policy_change"  # type: ignore[arg-type]
    woke, why = stages.check_wake(s, vegas_intensity=0.6, **kw)  # type: ignore[arg-type]
    assert why == "vegas" and not woke.vegas_armed
    # not re-armed until the intensity falls below 0.3
    asleep = SleepState(is_sleeping=True, sleep_until=NOW + 3600, vegas_armed=False)
    still, why = stages.check_wake(asleep, vegas_intensity=0.6, **kw)  # type: ignore[arg-type]
    assert why is None and still.is_sleeping
    mid, _ = stages.check_wake(asleep, vegas_intensity=0.3, **kw)  # type: ignore[arg-type]
    assert not mid.vegas_armed
    rearmed, _ = stages.check_wake(asleep, vegas_intensity=0.29, **kw)  # type: ignore[arg-type]
    assert rearmed.vegas_armed
    awake, why = stages.check_wake(SleepState(), congested=True, **kw)  # type: ignore[arg-type]
    assert why is None and not awake.is_sleeping


# --- §7 test 10: htlc_max valve -------------------------------------------------------------
def test_spec_test_10_htlc_max() -> None:
    """2 000 000 sat balanced, 1 900 000 sat spendable: min(45 % of capacity, 85 % of
    spendable, capacity) = 900 000 000 msat. A 5 % change is not sent; 15 % is."""
    v = stages.htlc_max_msat(2_000_000, 1_900_000_000, FlowClass.BALANCED)
    assert v == 900_000_000
    assert not stages.htlc_max_should_send(945_000_000, v)
    assert not stages.htlc_max_should_send(855_000_000, v)
    assert stages.htlc_max_should_send(1_035_000_000, v)
    assert stages.htlc_max_should_send(v, None)


def test_htlc_max_by_class_and_limits() -> None:
    assert stages.htlc_max_msat(2_000_000, 1_900_000_000, FlowClass.SOURCE) == 1_000_000_000
    assert stages.htlc_max_msat(2_000_000, 1_900_000_000, FlowClass.SINK) == 500_000_000
    assert stages.htlc_max_msat(2_000_000, 100_000_000, FlowClass.BALANCED) == 85_000_000
    assert stages.htlc_max_msat(2_000_000, 1_000_000, FlowClass.BALANCED) == 10_000_000
    assert (
        stages.htlc_max_msat(2_000_000, 10**13, FlowClass.SOURCE, source_pct=1.0) == 2_000_000_000
    )


# --- step 5: LOW_FEE_EXPLORATION ------------------------------------------------------------
def test_low_fee_exploration_target() -> None:
    """Floor 100, cur 1000: max(125, 100 + 0.35 x 900 = 415) = 415, under 0.5 x 1000 -> 415.
    Floor 100, cur 300: max(125, 170) = 170 > 150 -> 150. Sparse, cur 1000: max(125, 550)
    under 750 -> 550. Floor 100, cur 220: max(125, 142) = 142 > 110 -> max(100, 110) = 110.
    Fractions round up: cur 301 gives ceil(150.5) = 151, cur 1001 ceil(415.35) = 416."""
    assert stages.low_fee_exploration_target(1000, 100) == 415
    assert stages.low_fee_exploration_target(300, 100) == 150
    assert stages.low_fee_exploration_target(1000, 100, sparse=True) == 550
    assert stages.low_fee_exploration_target(220, 100) == 110
    assert stages.low_fee_exploration_target(90, 100) == 100
    assert stages.low_fee_exploration_target(301, 100) == 151  # ceil(150.5)
    assert stages.low_fee_exploration_target(1001, 100) == 416  # ceil(415.35)


def test_exploration_never_below_floor() -> None:
    assert stages.low_fee_exploration_target(150, 100) == 100  # min(.., 75) -> floor


@given(
    raw=st.floats(0.0, 10_000.0),
    current=st.integers(50, 2000),
    std=st.floats(0.0, 400.0),
    obs=st.integers(0, 50),
    wake=st.booleans(),
    streak=st.integers(0, 100),
    conservative=st.booleans(),
)
def test_shape_target_stays_in_rails_and_within_the_step_cap(
    raw: float, current: int, std: float, obs: int, wake: bool, streak: int, conservative: bool
) -> None:
    """From a fee inside [50, 2000], the shaped fee stays inside and moves at most one step
    cap; once the zero-flow guard is on (streak >= 8) it never rises."""
    profile = CONSERVATIVE if conservative else ACTIVE
    ctx = ZeroFlowContext(zero_streak=streak, gap_ema_hours=None, cycle_hours=0.5)
    shaped = stages.shape_target(
        raw,
        current_ppm=current,
        floor_ppm=50,
        ceiling_ppm=2000,
        profile=profile,
        posterior_std=std,
        observations=obs,
        wake=wake,
        zero_flow=ctx,
    )
    assert 50 <= shaped.applied <= 2000
    assert abs(shaped.applied - current) <= stages.step_cap(current, profile, wake=wake)
    if streak >= 8:
        assert shaped.applied <= current


def test_blend_origin_drops_a_pending_target_that_is_no_longer_valid() -> None:
    """§2.3 step 6 "(or a still-valid pending target)": on the way from current to the new
    target, and the target not back inside the gossip band of the last broadcast."""
    on_path = stages.blend_origin(1000, 1025, 50, 2000, target_ppm=1500, last_broadcast_ppm=1000)
    assert on_path == 1025
    # the target turned around: the pending step lies on the far side of the current fee
    assert stages.blend_origin(1000, 1025, 50, 2000, target_ppm=800) == 1000
    # past the new target
    assert stages.blend_origin(1000, 1025, 50, 2000, target_ppm=1010) == 1000
    # the target is back within 5 % of the last broadcast
    back = stages.blend_origin(1000, 1025, 50, 2000, target_ppm=1040, last_broadcast_ppm=1000)
    assert back == 1000


def test_broadcast_cap_counts_the_last_24_h_and_spares_category_changes() -> None:
    now = 1_000_000.0
    day = [now - 3600 * i for i in range(24)]
    assert stages.broadcast_cap_reached(day, now, "gossip_gate_passed")
    assert not stages.broadcast_cap_reached(day[:23], now, "gossip_gate_passed")
    assert not stages.broadcast_cap_reached(day, now, "category_changed")
    assert not stages.broadcast_cap_reached(day, now, "zero_fee_transition")
    assert stages.recent_broadcasts([now - 86_400, now - 10], now) == [now - 10]
