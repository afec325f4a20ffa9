"""Flow analysis (spec revenue-ops §1): buckets, observation, classification with hysteresis,
revenue role, depletion ETA, and spec test 15's first half on synthetic flow cycles."""

from __future__ import annotations

import pytest

from lnhive.revenue.ema import EmaState
from lnhive.revenue.flow import (
    DailyBucket,
    Forward,
    RevenueRole,
    analyze_channel,
    buckets_from_forwards,
    classify,
    daily_net_sats,
    depletion_eta_days,
    is_congested,
    observe_last_24h,
    revenue_role,
    revenue_role_from_counts,
    turnover_per_day,
    usable_stored_class,
)
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.kalman import KalmanState

DAY = 86_400
H = 3600.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
TODAY = int(T0 // DAY)
NOW = T0 + 12 * H


def fwd(in_ch: str, out_ch: str | None, in_msat: int, out_msat: int, ts: float) -> Forward:
    return Forward(in_ch, out_ch, in_msat, out_msat, ts)


# --- buckets -----------------------------------------------------------------------------------


def test_buckets_from_forwards() -> None:
    forwards = [
        fwd("X", "Y", 1_010, 1_000, NOW - 1 * H),  # X in today
        fwd("Y", "X", 2_020, 2_000, NOW - 2 * H),  # X out today
        fwd("Z", "X", 5_050, 5_000, NOW - 1 * DAY),  # X out yesterday
        fwd("A", "B", 9_999, 9_000, NOW - 3 * H),  # another channel
        fwd("X", "Y", 7_000, 6_900, NOW - 6 * DAY - 1),  # day today-6 (inside 7 days)
        fwd("X", "Y", 8_000, 7_900, T0 - 7 * DAY),  # day today-7: outside
        fwd("Y", "X", 3_000, 2_900, NOW + 60),  # after now: ignored
        fwd("X", None, 4_000, 0, NOW - 4 * H),  # local failure shape: still counted as in
    ]
    b = buckets_from_forwards(forwards, "X", NOW)
    assert b == [
        DailyBucket(day=TODAY - 6, out_msat=0, in_msat=7_000, count=1, last_ts=NOW - 6 * DAY - 1),
        DailyBucket(day=TODAY - 1, out_msat=5_000, in_msat=0, count=1, last_ts=NOW - DAY),
        DailyBucket(day=TODAY, out_msat=2_000, in_msat=5_010, count=3, last_ts=NOW - H),
    ]
    assert daily_net_sats(b) == [-7, 5, -3]  # truncated toward zero
    assert buckets_from_forwards(forwards, "X", NOW, window_days=1) == b[-1:]


def test_observation_last_24h() -> None:
    cap = 1_000_000_000
    forwards = [
        fwd("Y", "X", 101_000_000, 100_000_000, NOW - 23 * H),
        fwd("X", "Y", 30_300_000, 30_000_000, NOW - H),
        fwd("Y", "X", 900_000_000, 899_000_000, NOW - 24 * H - 1),  # too old
        fwd("Y", "Z", 1, 1, NOW - H),
    ]
    obs = observe_last_24h(forwards, "X", NOW, cap)
    assert obs is not None
    assert obs.z == pytest.approx((100_000_000 - 30_300_000) / cap)
    assert obs.count == 2
    assert obs.confidence == pytest.approx((0.1 + 0.9 * 2 / 20) * 0.5 ** ((1 / 24) / 3))
    assert observe_last_24h(forwards, "Q", NOW, cap) is None
    assert observe_last_24h(forwards, "X", NOW, 0) is None
    huge = observe_last_24h([fwd("X", "Y", 5 * cap, 5 * cap, NOW)], "X", NOW, cap)
    assert huge is not None and huge.z == -1.0


def test_turnover() -> None:
    b = [DailyBucket(TODAY, out_msat=700, in_msat=700, count=2, last_ts=NOW)]
    assert turnover_per_day(b, 1000) == pytest.approx(1400 / 7 / 1000)
    assert turnover_per_day(b, 0) == 0.0


# --- classification --------------------------------------------------------------------------


def cls(**kw: object) -> FlowClass:
    args: dict[str, object] = {
        "kalman_ratio": 0.0,
        "kalman_converged": False,
        "outbound_ratio": 0.5,
        "turnover_per_day": 0.0,
    }
    args.update(kw)
    return classify(**args)  # type: ignore[arg-type]


def test_congested_first() -> None:
    # 0.81 > 0.8 beats everything, even a converged SOURCE
    got = cls(htlcs_in_flight=392, max_accepted_htlcs=483, kalman_ratio=0.5, kalman_converged=True)
    assert got is FlowClass.CONGESTED
    assert cls(htlcs_in_flight=81, max_accepted_htlcs=100) is FlowClass.CONGESTED
    assert cls(htlcs_in_flight=80, max_accepted_htlcs=100) is not FlowClass.CONGESTED
    assert not is_congested(5, 0)


def test_converged_kalman_decides() -> None:
    assert cls(kalman_ratio=0.051, kalman_converged=True) is FlowClass.SOURCE
    assert cls(kalman_ratio=-0.051, kalman_converged=True) is FlowClass.SINK
    # unconverged, the same ratio does not decide
    assert cls(kalman_ratio=0.051) is FlowClass.BALANCED
    # converged wins over the balance position
    assert cls(kalman_ratio=0.06, kalman_converged=True, outbound_ratio=0.9) is FlowClass.SOURCE
    assert cls(kalman_ratio=-0.06, kalman_converged=True, outbound_ratio=0.1) is FlowClass.SINK
    # exactly at the threshold is not beyond it
    assert cls(kalman_ratio=0.05, kalman_converged=True) is FlowClass.BALANCED


def test_thresholds_widen_while_fee_controller_explores() -> None:
    kw = {"kalman_ratio": 0.07, "kalman_converged": True}
    assert cls(**kw, fee_posterior_variance=10_000.0) is FlowClass.SOURCE
    assert cls(**kw, fee_posterior_variance=10_001.0) is not FlowClass.SOURCE
    assert cls(kalman_ratio=0.076, kalman_converged=True, fee_posterior_variance=20_000.0) is (
        FlowClass.SOURCE
    )
    assert cls(kalman_ratio=-0.07, kalman_converged=True, fee_posterior_variance=1e6) is (
        FlowClass.BALANCED
    )
    assert cls(kalman_ratio=-0.076, kalman_converged=True, fee_posterior_variance=1e6) is (
        FlowClass.SINK
    )


def test_balance_sink_with_hysteresis() -> None:
    assert cls(outbound_ratio=0.781) is FlowClass.SINK
    assert cls(outbound_ratio=0.78) is not FlowClass.SINK
    # stays while > 0.72
    assert cls(outbound_ratio=0.75, previous=FlowClass.SINK) is FlowClass.SINK
    assert cls(outbound_ratio=0.721, previous=FlowClass.SINK) is FlowClass.SINK
    assert cls(outbound_ratio=0.72, previous=FlowClass.SINK) is not FlowClass.SINK
    assert cls(outbound_ratio=0.75, previous=FlowClass.SOURCE) is not FlowClass.SINK
    assert cls(outbound_ratio=0.75) is not FlowClass.SINK
    # vetoed by an outbound-draining Kalman estimate
    assert cls(outbound_ratio=0.9, kalman_ratio=0.051) is not FlowClass.SINK
    assert cls(outbound_ratio=0.9, kalman_ratio=0.05) is FlowClass.SINK
    assert cls(outbound_ratio=0.75, previous=FlowClass.SINK, kalman_ratio=0.06) is not (
        FlowClass.SINK
    )


def test_balance_source_with_hysteresis() -> None:
    assert cls(outbound_ratio=0.219) is FlowClass.SOURCE
    assert cls(outbound_ratio=0.22) is not FlowClass.SOURCE
    assert cls(outbound_ratio=0.25, previous=FlowClass.SOURCE) is FlowClass.SOURCE
    assert cls(outbound_ratio=0.279, previous=FlowClass.SOURCE) is FlowClass.SOURCE
    assert cls(outbound_ratio=0.28, previous=FlowClass.SOURCE) is not FlowClass.SOURCE
    assert cls(outbound_ratio=0.25) is not FlowClass.SOURCE
    assert cls(outbound_ratio=0.1, kalman_ratio=-0.051) is not FlowClass.SOURCE
    assert cls(outbound_ratio=0.1, kalman_ratio=-0.05) is FlowClass.SOURCE


def test_hysteresis_sequence() -> None:
    """A channel filling up: enters SINK above 0.78, keeps it down to 0.72, then leaves."""
    prev: FlowClass | None = None
    seen = []
    for outbound in (0.70, 0.77, 0.79, 0.75, 0.73, 0.72, 0.75):
        prev = cls(outbound_ratio=outbound, previous=prev, turnover_per_day=0.02)
        seen.append(prev)
    A, S = FlowClass.BALANCED_ACTIVE, FlowClass.SINK
    assert seen == [A, A, S, S, S, A, A]


def test_active_dormant_balanced() -> None:
    assert cls(turnover_per_day=0.011) is FlowClass.BALANCED_ACTIVE
    assert cls(turnover_per_day=0.01, kalman_ratio=0.0) is FlowClass.DORMANT
    assert cls(kalman_ratio=0.0099) is FlowClass.DORMANT
    assert cls(kalman_ratio=-0.0099) is FlowClass.DORMANT
    assert cls(kalman_ratio=0.01) is FlowClass.BALANCED
    assert cls(kalman_ratio=-0.03) is FlowClass.BALANCED


def test_stale_congested_label_ignored() -> None:
    at = NOW - 2 * H
    assert usable_stored_class(FlowClass.CONGESTED, at, NOW) is FlowClass.CONGESTED
    assert usable_stored_class(FlowClass.CONGESTED, at - 1, NOW) is None
    assert usable_stored_class(FlowClass.CONGESTED, NOW - 1201, NOW, flow_interval_s=600) is None
    assert usable_stored_class(FlowClass.SOURCE, NOW - 30 * DAY, NOW) is FlowClass.SOURCE


# --- role and ETA ------------------------------------------------------------------------------


def test_revenue_role_from_counts() -> None:
    assert revenue_role_from_counts(6, 3) is RevenueRole.DORMANT
    assert revenue_role_from_counts(8, 2) is RevenueRole.INBOUND_GATEWAY
    assert revenue_role_from_counts(7, 3) is RevenueRole.BALANCED  # 70 % is not > 70 %
    assert revenue_role_from_counts(2, 8) is RevenueRole.OUTBOUND_GATEWAY
    assert revenue_role_from_counts(3, 7) is RevenueRole.BALANCED


def test_revenue_role_window() -> None:
    exits = [fwd("Y", "X", 1100, 1000, NOW - i * DAY) for i in range(9)]
    assert revenue_role(exits, "X", NOW) is RevenueRole.DORMANT
    old = fwd("Y", "X", 1100, 1000, NOW - 30 * DAY)  # exactly 30 days: outside
    assert revenue_role([*exits, old], "X", NOW) is RevenueRole.DORMANT
    recent = fwd("Y", "X", 1100, 1000, NOW - 29 * DAY)
    assert revenue_role([*exits, recent], "X", NOW) is RevenueRole.OUTBOUND_GATEWAY


def test_depletion_eta() -> None:
    assert depletion_eta_days(5_000_000_000, 10_000_000_000, 0.1) == pytest.approx(5.0)
    assert depletion_eta_days(5_000_000_000, 10_000_000_000, 0.0) is None
    assert depletion_eta_days(5_000_000_000, 10_000_000_000, -0.2) is None
    assert depletion_eta_days(5_000_000_000, 0, 0.1) is None
    assert depletion_eta_days(5_000_000_000, 10_000_000_000, float("nan")) is None


# --- spec test 15 (first half) ---------------------------------------------------------------

CAP = 10_000_000_000  # 10 M sat


def _run_outbound_demand(
    *, history_hours: int, per_hour: int, amount_msat: int, cycles: int, local_msat: int
) -> list[tuple[FlowClass, bool, float]]:
    """Outbound-only demand on channel X, no rebalancer: every hour ``per_hour`` forwards
    leave through X; one flow cycle per hour. Returns (class, converged, outbound) per cycle."""
    forwards: list[Forward] = []
    local = local_msat

    def hour_of_forwards(end: float) -> None:
        nonlocal local
        for i in range(per_hour):
            forwards.append(fwd("Y", "X", amount_msat + 1000, amount_msat, end - H + 60 * (i + 1)))
            local -= amount_msat

    for h in range(history_hours, 0, -1):
        hour_of_forwards(T0 - (h - 1) * H)
    kalman, ema, prev = KalmanState(), EmaState(), None
    out = []
    for c in range(1, cycles + 1):
        now = T0 + c * H
        hour_of_forwards(now)
        r = analyze_channel(
            forwards,
            "X",
            now=now,
            capacity_msat=CAP,
            local_msat=local,
            kalman=kalman,
            ema=ema,
            previous=prev,
        )
        kalman, ema, prev = r.kalman, r.ema.state, r.flow_class
        out.append((r.flow_class, kalman.converged, local / CAP))
    return out


def _source_within_three_cycles_of_convergence(run: list[tuple[FlowClass, bool, float]]) -> None:
    first = next(i for i, (_, conv, _) in enumerate(run) if conv)
    # before convergence the balance position decides (outbound stays inside 0.28..0.72)
    assert first >= 4
    assert FlowClass.SOURCE not in [c for c, _, _ in run[:first]]
    assert all(0.28 < o < 0.72 for _, _, o in run)
    assert FlowClass.SOURCE in [c for c, _, _ in run[first : first + 3]]
    k = [c for c, _, _ in run].index(FlowClass.SOURCE)
    assert all(c is FlowClass.SOURCE for c, _, _ in run[k:])


def test_spec_15_established_outbound_demand_gives_source() -> None:
    # 2 x 20 000 sat per hour out of a 10 M sat channel: z = 0.096 once a day has passed
    run = _run_outbound_demand(
        history_hours=48, per_hour=2, amount_msat=20_000_000, cycles=12, local_msat=8_000_000_000
    )
    _source_within_three_cycles_of_convergence(run)


def test_spec_15_fresh_demand_gives_source() -> None:
    # demand starts with the plugin: 10 x 20 000 sat per hour, z grows 0.02 per cycle
    run = _run_outbound_demand(
        history_hours=0, per_hour=10, amount_msat=20_000_000, cycles=12, local_msat=6_000_000_000
    )
    _source_within_three_cycles_of_convergence(run)


def test_balanced_traffic_never_source() -> None:
    """Two-way traffic of the same size keeps z at 0: converged, never SOURCE or SINK."""
    forwards: list[Forward] = []
    kalman, ema, prev = KalmanState(), EmaState(), None
    for c in range(1, 15):
        now = T0 + c * H
        forwards.append(fwd("Y", "X", 20_001_000, 20_000_000, now - 1800))
        forwards.append(fwd("X", "Y", 20_000_000, 19_999_000, now - 900))
        r = analyze_channel(
            forwards,
            "X",
            now=now,
            capacity_msat=CAP,
            local_msat=CAP // 2,
            kalman=kalman,
            ema=ema,
            previous=prev,
        )
        kalman, ema, prev = r.kalman, r.ema.state, r.flow_class
        assert r.flow_class in (FlowClass.DORMANT, FlowClass.BALANCED)
    assert kalman.converged


def test_analyze_channel_outputs() -> None:
    forwards = [fwd("Y", "X", 101_000_000, 100_000_000, NOW - H)]
    r = analyze_channel(
        forwards,
        "X",
        now=NOW,
        capacity_msat=CAP,
        local_msat=CAP // 2,
        kalman=KalmanState(),
        ema=EmaState(),
        htlcs_in_flight=400,
        max_accepted_htlcs=483,
    )
    assert r.flow_class is FlowClass.CONGESTED
    assert r.observation is not None and r.observation.z == pytest.approx(0.01)
    assert r.kalman.updates == 1
    assert r.buckets[0].out_msat == 100_000_000
    assert r.ema.flow_ratio == pytest.approx(0.01)
    assert r.turnover_per_day == pytest.approx(100_000_000 / 7 / CAP)
    assert r.depletion_eta_days == pytest.approx(0.5 / r.kalman.ratio)
