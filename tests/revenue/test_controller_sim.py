"""Spec revenue-ops §7 test 13 on the in-process network model, under a virtual clock.

payer → us → payee; demand lambda(f) = 40 forwards/h x e^(-f/600) of 50 000 sat each, where f is
our fee on the us → payee channel at the time (a Poisson process, payments by ``keysend``
from the payer through the model's own routing); liquidity pinned at 50 % by resetting both
channels' balances through the model at every cycle (spec "Clarifications"). 30 days of
30-minute cycles: ``fee_cycle`` every cycle, ``flow_cycle`` every hour. The baselines are
the same demand (same seed) at a static 100 and a static 200 ppm.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lnhive.cli.revsim import SimResult, simulate_single

SEED = 13
# With seed 13 (not tuned; spec §7 test 13), after the fit's per-unit-weight noise estimate, the
# 4 h dwell between normal broadcasts and the bracketing sweep (docs/revenue-ops.md, "Decisions
# where we differ from the reference"), with the sweep started at the prior mean: the fee over
# days 20-30 averages ~636 ppm, revenue over days 10-30 is 1.53x static 200, and the channel
# broadcasts at most 6 fees a day.


def simulate(tmp: Path, *, static_fee: int | None, seed: int = SEED) -> SimResult:
    return simulate_single(tmp, static_fee=static_fee, seed=seed, days=30)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimResult]:
    tmp = tmp_path_factory.mktemp("sim13")
    return {
        "controller": simulate(tmp, static_fee=None),
        "static100": simulate(tmp, static_fee=100),
        "static200": simulate(tmp, static_fee=200),
    }


def _summary(runs: dict[str, SimResult]) -> str:
    c, s1, s2 = runs["controller"], runs["static100"], runs["static200"]
    return (
        f"revenue d10-30: controller {c.revenue_sat(10, 30):.0f} sat, static100 "
        f"{s1.revenue_sat(10, 30):.0f}, static200 {s2.revenue_sat(10, 30):.0f}; "
        f"fee d20-30 mean {c.mean_fee(20, 30):.0f} ppm; "
        f"broadcasts/day after d10 max {max(c.broadcasts_by_day[10:])}"
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_13_harness_routes_and_records(runs: dict[str, SimResult]) -> None:
    print(_summary(runs))
    for r in runs.values():
        assert r.forwards > 1000
        assert r.failures == 0, r.errors[:5]
    assert set(runs["static100"].fee_by_cycle) == {100}
    assert len(set(runs["controller"].fee_by_cycle)) > 3  # the controller moved the fee


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_13_revenue_beats_static_100_by_half(runs: dict[str, SimResult]) -> None:
    c, s1 = runs["controller"], runs["static100"]
    assert c.revenue_sat(10, 30) >= 1.5 * s1.revenue_sat(10, 30), _summary(runs)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_13_revenue_beats_static_200_by_a_fifth(runs: dict[str, SimResult]) -> None:
    c, s2 = runs["controller"], runs["static200"]
    assert c.revenue_sat(10, 30) >= 1.2 * s2.revenue_sat(10, 30), _summary(runs)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_13_fee_converges_near_optimum(runs: dict[str, SimResult]) -> None:
    assert 420 <= runs["controller"].mean_fee(20, 30) <= 780, _summary(runs)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_13_at_most_six_broadcasts_a_day_after_day_10(runs: dict[str, SimResult]) -> None:
    assert max(runs["controller"].broadcasts_by_day[10:]) <= 6, _summary(runs)
