"""Profitability, pure parts (spec revenue-ops §4; §7 tests 23 and 24)."""

from __future__ import annotations

import pytest

from lnhive.revenue import profitability as pf
from lnhive.revenue.profitability import Bleeder, ClassInputs, ProfitClass

NOW = 1_800_000_000.0
DAY = 86_400.0


def _cls(
    roi: float,
    days_open: float,
    idle: float,
    *,
    routed: bool = True,
    contribution_30d: int = 0,
    diagnostics: int = 0,
    last_ok: float | None = None,
    last_forward: float | None = None,
    variance: float | None = None,
) -> ProfitClass:
    return pf.classify(
        ClassInputs(
            roi=roi,
            days_open=days_open,
            idle_days=idle,
            routed_ever=routed,
            contribution_30d_msat=contribution_30d,
            diagnostics=diagnostics,
            last_diagnostic_success=last_ok,
            last_forward_ts=last_forward,
            now=NOW,
            fee_posterior_variance=variance,
        )
    )


# -- test 23 ---------------------------------------------------------------------------------
def test_23_classification_vectors() -> None:
    assert _cls(0.25, 10, 1, contribution_30d=5000) is ProfitClass.PROFITABLE
    assert _cls(0.005, 10, 1, contribution_30d=5000) is ProfitClass.BREAK_EVEN
    assert _cls(-0.4, 400, 8) is ProfitClass.STAGNANT_CANDIDATE
    assert _cls(0.0, 120, 120, routed=False) is ProfitClass.BREAK_EVEN
    assert _cls(-0.2, 60, 7, diagnostics=2) is ProfitClass.ZOMBIE


@pytest.mark.parametrize(
    ("profit", "cost", "want"), [(500, 200, 2.5), (-300, 600, -0.5), (500, 0, 1.0), (0, 0, 0.0)]
)
def test_23_marginal_roi_vectors(profit: int, cost: int, want: float) -> None:
    assert pf.marginal_roi(profit, cost) == pytest.approx(want)


def test_roi_with_and_without_cost() -> None:
    assert pf.roi(net_msat=-2_000, cost_msat=10_000, contribution_msat=8_000) == -0.2
    assert pf.roi(net_msat=3_000, cost_msat=0, contribution_msat=3_000) == 1.0
    assert pf.roi(net_msat=0, cost_msat=0, contribution_msat=0) == 0.0


def test_ladder_edges() -> None:
    # underwater, but still routing: not stagnant
    assert _cls(-0.2, 30, 2, contribution_30d=10) is ProfitClass.UNDERWATER
    # idle 6.9 days is not yet stagnant
    assert _cls(-0.4, 400, 6.9) is ProfitClass.UNDERWATER
    # the second stagnant arm: routed once, nothing in 30 d, idle 30 d, open > 60 d
    assert _cls(0.5, 61, 30) is ProfitClass.STAGNANT_CANDIDATE
    assert _cls(0.5, 60, 30) is ProfitClass.PROFITABLE
    assert _cls(0.5, 61, 30, contribution_30d=1) is ProfitClass.PROFITABLE
    # a confident posterior narrows the break-even band to [-15 %, 5 %]
    assert _cls(0.07, 10, 1, contribution_30d=1) is ProfitClass.BREAK_EVEN
    assert _cls(0.07, 10, 1, contribution_30d=1, variance=2000) is ProfitClass.PROFITABLE
    assert _cls(-0.12, 10, 1, contribution_30d=1) is ProfitClass.UNDERWATER
    assert _cls(-0.12, 10, 1, contribution_30d=1, variance=2000) is ProfitClass.BREAK_EVEN


def test_zombie_needs_two_diagnostics_and_a_dead_channel() -> None:
    assert _cls(-0.2, 60, 7, diagnostics=1) is ProfitClass.STAGNANT_CANDIDATE
    assert _cls(-0.2, 60, 6, diagnostics=2) is ProfitClass.UNDERWATER
    assert _cls(-0.05, 60, 7, diagnostics=2) is ProfitClass.BREAK_EVEN
    # a diagnostic succeeded 3 days ago and nothing routed since: zombie
    ok = NOW - 3 * DAY
    assert _cls(-0.2, 60, 5, diagnostics=2, last_ok=ok, last_forward=ok - DAY) is (
        ProfitClass.ZOMBIE
    )
    # ... but it routed after the success: not a zombie
    assert _cls(-0.2, 60, 1, diagnostics=2, last_ok=ok, last_forward=NOW - DAY) is (
        ProfitClass.UNDERWATER
    )
    # ... or the success is only a day old
    assert _cls(-0.2, 60, 1, diagnostics=2, last_ok=NOW - DAY) is ProfitClass.UNDERWATER


def test_idle_days() -> None:
    assert pf.idle_days(NOW, NOW - 2 * DAY, NOW - 100 * DAY) == 2.0
    assert pf.idle_days(NOW, None, NOW - 100 * DAY) == 100.0
    assert pf.idle_days(NOW, None, None) == 0.0


# -- test 24 ---------------------------------------------------------------------------------
def _bleed(net30: int, previous: Bleeder = Bleeder.NONE, **kw: int) -> Bleeder:
    """Spec test 24's setting: cost = -net30 (sat), revenue 0, net7 -200 sat."""
    return pf.bleeder(
        cost_msat=-net30 * 1000,
        revenue_msat=0,
        net7_msat=-200_000,
        net30_msat=net30 * 1000,
        previous=previous,
        **kw,
    )


def test_24_bleeder_vectors() -> None:
    assert _bleed(-1002) is Bleeder.HARD
    assert _bleed(-998) is Bleeder.SOFT
    assert _bleed(-500, Bleeder.HARD) is Bleeder.HARD
    assert _bleed(-400, Bleeder.HARD) is Bleeder.SOFT


def test_bleeder_other_arms() -> None:
    kw = {"cost_msat": 500_000, "revenue_msat": 600_000}
    assert pf.bleeder(net7_msat=-1, net30_msat=100_000, **kw) is Bleeder.SOFT
    assert pf.bleeder(net7_msat=0, net30_msat=-1, **kw) is Bleeder.SOFT
    assert pf.bleeder(net7_msat=10, net30_msat=100_000, **kw) is Bleeder.NONE
    # under 100 sat of cost is never a bleeder
    assert (
        pf.bleeder(cost_msat=99_999, revenue_msat=0, net7_msat=-99_999, net30_msat=-99_999)
        is Bleeder.NONE
    )
    # a poor success rate inflates the cost: 600 sat at 1 success in 10 is 6000 effective
    args = {"cost_msat": 1_200_000, "revenue_msat": 1_000_000, "net7_msat": 0}
    assert pf.bleeder(net30_msat=-1_100_000, **args) is Bleeder.SOFT
    assert pf.bleeder(net30_msat=-1_100_000, attempts=10, successes=1, **args) is Bleeder.HARD


# -- couplings -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("marginal", "factor"),
    [(0.5, 1.0), (0.0, 1.0), (-0.1, 1 / 1.05), (-0.3, 1 / 1.10), (-0.9, 1 / 1.15)],
)
def test_ceiling_factor(marginal: float, factor: float) -> None:
    assert pf.ceiling_factor(marginal) == pytest.approx(factor)


def test_priority_and_budget_multiplier() -> None:
    order = [pf.rebalance_priority(c) for c in ProfitClass]
    assert order == [1.5, 1.0, 0.5, 0.3, 0.0]
    assert pf.budget_multiplier(ProfitClass.PROFITABLE, 0.2) == 1.2
    assert pf.budget_multiplier(ProfitClass.PROFITABLE, 3.0) == 1.5
    assert pf.budget_multiplier(ProfitClass.ZOMBIE, 3.0) == 0.0


def test_sat_ceil() -> None:
    assert [pf.sat_ceil(m) for m in (0, 1, 999, 1000, 1001)] == [0, 1, 1, 1, 2]
