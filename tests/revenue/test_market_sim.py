"""The benchmark's market scenario (``lnhive.cli.revmarket``) in virtual time: reproducible
for a seed, fee policies applied as stated, rebalance spend inside the daily budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from lnhive.cli.revmarket import proportional_fee, simulate_market


def test_proportional_baseline_formula() -> None:
    # spec "Clarifications": 50 + (1000 - 50) x (1 - local_ratio)
    assert [proportional_fee(r) for r in (1.0, 0.5, 0.0)] == [50, 525, 1000]


def test_runs_are_reproducible_and_arms_differ(tmp_path: Path) -> None:
    a = simulate_market(tmp_path / "a", "proportional", days=1, seed=3)
    b = simulate_market(tmp_path / "b", "proportional", days=1, seed=3)
    assert a.revenue_msat_by_day == b.revenue_msat_by_day and a.forwards == b.forwards > 50
    assert a.final_local_ratios == b.final_local_ratios
    s = simulate_market(tmp_path / "s", "static", days=1, seed=3)
    assert s.broadcasts == 0 and a.broadcasts > 0
    assert s.revenue_msat_by_day != a.revenue_msat_by_day


def test_bad_arm(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="arm must be one of"):
        simulate_market(tmp_path, "greedy", days=1)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ten_days_controller_rebalances_inside_a_small_budget(tmp_path: Path) -> None:
    budget = 300
    c = simulate_market(tmp_path / "c", "controller", days=10, seed=7, daily_budget_sat=budget)
    s = simulate_market(tmp_path / "s", "static", days=10, seed=7, daily_budget_sat=budget)
    assert c.rebalances > 0 and 0 < c.max_spent_24h_sat <= budget
    assert c.max_committed_24h_sat <= budget
    assert c.revenue_sat > s.revenue_sat  # a drained static channel loses its payments
    assert c.failed_payments < s.failed_payments
