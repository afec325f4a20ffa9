"""Fee rails (spec revenue-ops §2.3 step 4; §7 test 1)."""

from __future__ import annotations

import pytest

from lnhive.revenue import vegas
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.profiles import ACTIVE, CONSERVATIVE, get_profile
from lnhive.revenue.rails import (
    RailsInputs,
    ceiling_ppm,
    chain_cost_ppm,
    compute_rails,
    cost_floor_ppm,
    effective_min_fee_ppm,
    is_flow_balanced_router,
    rebalance_cost_floor_ppm,
)

NOW = 1_800_000_000.0
DAY = 86_400.0


def _inputs(**kw: object) -> RailsInputs:
    base: dict[str, object] = {
        "current_fee_ppm": 200,
        "now": NOW,
        "last_activity_ts": NOW,
        "capacity_sat": 2_000_000,
    }
    base.update(kw)
    return RailsInputs(**base)  # type: ignore[arg-type]


def test_spec_test_1_floor_vectors() -> None:
    """§7 test 1: a 2 000 000 sat balanced channel we opened, no feerates: 21 ppm;
    remote-opened: 8; opening feerate 20 000 sat/kvB: 60; plus a 12 s average hold: 72.
    These are the rails floor before the min-fee-ppm clamp (Clarifications)."""
    assert cost_floor_ppm(_inputs())[2] == 21
    assert cost_floor_ppm(_inputs(local_opener=False))[2] == 8
    assert cost_floor_ppm(_inputs(feerate_perkb=20_000))[2] == 60
    assert cost_floor_ppm(_inputs(feerate_perkb=20_000, htlc_hold_avg_s=12.0))[2] == 72


def test_chain_cost_is_floored_not_rounded() -> None:
    """8000 sat / 365 M sat x 1e6 = 21.9 -> 21 (Clarification); remote 3000 -> 8.2 -> 8."""
    assert chain_cost_ppm(None) == 21
    assert chain_cost_ppm(None, local_opener=False) == 8
    # live: open 20*140 = 2800, close 20*200 = 4000 -> 6800/365 = 18.6 -> 18
    assert chain_cost_ppm(20_000) == 18
    # clamps: 1 sat/vB gives open 140 -> 500, close 200 -> 300: 800/365 = 2.19 -> 2
    assert chain_cost_ppm(1_000) == 2
    # a known open cost overrides the estimate: (36 500 + 300) / 365 = 100.8 -> 100
    assert chain_cost_ppm(1_000, open_cost_sat=36_500) == 100


def test_slow_peer_by_std_and_not_at_threshold() -> None:
    assert cost_floor_ppm(_inputs(feerate_perkb=20_000, htlc_hold_std_s=6.0))[2] == 72
    assert cost_floor_ppm(_inputs(feerate_perkb=20_000, htlc_hold_avg_s=10.0))[2] == 60


def test_source_and_sink_multipliers() -> None:
    """72 x 1.10 = 79.2 -> 79; 72 x 0.75 = 54."""
    slow = {"feerate_perkb": 20_000, "htlc_hold_avg_s": 12.0}
    assert cost_floor_ppm(_inputs(flow_class=FlowClass.SOURCE, **slow))[2] == 79
    assert cost_floor_ppm(_inputs(flow_class=FlowClass.SINK, **slow))[2] == 54


def test_min_fee_and_saturated_variant() -> None:
    assert compute_rails(_inputs()).floor_ppm == 50  # 21 -> min-fee-ppm 50
    assert compute_rails(_inputs(feerate_perkb=20_000, htlc_hold_avg_s=12.0)).floor_ppm == 72
    # a source channel may use min-fee-ppm-saturated (default 0): the cost floor shows
    assert compute_rails(_inputs(flow_class=FlowClass.SOURCE)).floor_ppm == 23  # 21 x 1.1
    # >= 85 % outbound, balanced class, saturated minimum 10
    r = compute_rails(_inputs(outbound_ratio=0.85, min_fee_ppm_saturated=10, local_opener=False))
    assert r.floor_ppm == 10 and r.min_fee_ppm == 10
    # ... unless a flow-balanced router: 7 d gross 600 000 (30 %), net 150 000 (25 %)
    busy = _inputs(outbound_ratio=0.9, gross_7d_sat=600_000, net_7d_sat=150_000)
    assert compute_rails(busy).floor_ppm == 50


def test_flow_balanced_router_edges() -> None:
    assert is_flow_balanced_router(2_000_000, 500_000, 165_000)
    assert not is_flow_balanced_router(2_000_000, 499_999, 0)
    assert not is_flow_balanced_router(2_000_000, 500_000, 166_000)
    assert not is_flow_balanced_router(2_000_000, 0, 0)
    assert effective_min_fee_ppm(FlowClass.BALANCED, 0.84) == 50
    assert effective_min_fee_ppm(FlowClass.SOURCE, 0.1, min_fee_ppm_saturated=7) == 7


def test_vegas_multiplies_the_floor() -> None:
    """Full intensity (x3.0): max(21, 50) x 3 = 150."""
    r = compute_rails(_inputs(vegas_multiplier=vegas.multiplier(1.0)))
    assert r.floor_ppm == 150


def test_rebalance_cost_floor() -> None:
    """4 rebalances costing 500 sat for 1 M sat: 1.2 x 500 ppm = 600."""

    def floor(flow_class: FlowClass, count: int) -> int:
        return rebalance_cost_floor_ppm(
            flow_class,
            rebalances_30d=count,
            rebalance_cost_sat_30d=500,
            rebalance_amount_sat_30d=1_000_000,
        )

    assert floor(FlowClass.BALANCED, 4) == 600
    assert floor(FlowClass.BALANCED, 3) == 0
    assert floor(FlowClass.SINK, 9) == 0
    assert floor(FlowClass.DORMANT, 9) == 0
    medium = rebalance_cost_floor_ppm(
        FlowClass.SOURCE, peer_history_cost_ppm=101, peer_history_confidence="medium"
    )
    assert medium == 121
    low = rebalance_cost_floor_ppm(
        FlowClass.SOURCE, peer_history_cost_ppm=101, peer_history_confidence="low"
    )
    assert low == 0
    r = compute_rails(
        _inputs(rebalances_30d=4, rebalance_cost_sat_30d=500, rebalance_amount_sat_30d=1_000_000)
    )
    assert r.floor_ppm == 600 and r.rebalance_floor_ppm == 600


def test_ceiling_decay_after_idle_days() -> None:
    assert ceiling_ppm(600, NOW, NOW - 2.9 * DAY) == 2000
    assert ceiling_ppm(600, NOW, NOW - 3 * DAY) == 1500
    assert ceiling_ppm(600, NOW, NOW - 7 * DAY) == 1000
    assert ceiling_ppm(499, NOW, NOW - 30 * DAY) == 2000
    assert ceiling_ppm(500, NOW, NOW - 30 * DAY, max_fee_ppm=3000) == 1500


def test_policy_multiplier_bounds_clamp_around_target() -> None:
    """Target 300 with multipliers [0.5, 1.5]: rails inside [150, 450]."""
    r = compute_rails(
        _inputs(policy_fee_ppm_target=300, policy_multiplier_min=0.5, policy_multiplier_max=1.5)
    )
    assert (r.floor_ppm, r.ceiling_ppm) == (150, 450)
    only_max = compute_rails(_inputs(policy_fee_ppm_target=300, policy_multiplier_max=1.1))
    assert (only_max.floor_ppm, only_max.ceiling_ppm) == (50, 330)


def test_floor_at_or_above_ceiling_is_reset() -> None:
    """max-fee 120, Vegas x3: floor 150 >= ceiling 120 -> max(min fee 50, 120 - 10) = 110."""
    r = compute_rails(_inputs(max_fee_ppm=120, vegas_multiplier=3.0))
    assert (r.floor_ppm, r.ceiling_ppm, r.floor_reset_below_ceiling) == (110, 120, True)
    equal = compute_rails(_inputs(max_fee_ppm=150, vegas_multiplier=3.0))  # floor 150 = ceiling
    assert (equal.floor_ppm, equal.ceiling_ppm) == (140, 150)
    low = compute_rails(_inputs(max_fee_ppm=55, vegas_multiplier=3.0))
    assert low.floor_ppm == 50
    assert not compute_rails(_inputs()).floor_reset_below_ceiling


def test_profiles_table() -> None:
    assert get_profile("active") is ACTIVE and get_profile("conservative") is CONSERVATIVE
    assert (ACTIVE.window_min_hours, ACTIVE.window_min_forwards) == (0.25, 3)
    assert (CONSERVATIVE.dts_gamma_normal, CONSERVATIVE.dts_gamma_sparse) == (0.992, 0.996)
    assert (ACTIVE.blend_normal, ACTIVE.blend_wake, ACTIVE.blend_sparse) == (0.35, 0.15, 0.20)
    assert (CONSERVATIVE.step_cap_ratio, CONSERVATIVE.step_cap_min_ppm) == (0.25, 25)
    assert (CONSERVATIVE.wake_step_cap_ratio, CONSERVATIVE.wake_step_cap_min_ppm) == (0.10, 10)
    with pytest.raises(KeyError, match="active"):
        get_profile("aggressive")


@pytest.mark.parametrize(
    ("factor", "ceiling"),
    [(1.0, 2000), (1 / 1.05, 1904), (1 / 1.10, 1818), (1 / 1.15, 1739), (0.3, 1000)],
)
def test_profitability_coupling_lowers_the_ceiling(factor: float, ceiling: int) -> None:
    """§4: ceiling x max(0.5, 1/m); a channel earning at the margin keeps its ceiling."""
    r = compute_rails(_inputs(ceiling_factor=factor))
    assert r.ceiling_ppm == ceiling and r.ceiling_factor == factor
