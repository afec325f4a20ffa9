"""The reservation ledger (spec §3.4, §7 test 18), on a SQLite file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lnhive.revenue.budget import Budget, BudgetConfig
from lnhive.revenue.store import ForwardRecord, RevenueStore

T0 = 1_700_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> RevenueStore:
    return RevenueStore(tmp_path / "rev.sqlite3")


def test_daily_cap_refuses_what_would_exceed_it(store: RevenueStore) -> None:
    b = Budget(store, BudgetConfig(daily_budget_sats=5000))
    first = b.reserve(4800, T0, purpose="rebalance", ref="a")
    assert first.granted and first.daily_committed_sat == 4800
    refused = b.reserve(300, T0 + 1, purpose="rebalance", ref="b")
    assert not refused.granted and refused.reason == "budget_exhausted"
    assert b.reserve(200, T0 + 2, purpose="rebalance", ref="c").granted
    assert b.committed(T0 + 3) == (5000, 5000)


def test_spent_counts_in_its_window_and_released_frees(store: RevenueStore) -> None:
    b = Budget(store, BudgetConfig(daily_budget_sats=5000, weekly_budget_sats=6000))
    r1 = b.reserve(3000, T0, purpose="rebalance", ref="a").reservation
    r2 = b.reserve(2000, T0, purpose="rebalance", ref="b").reservation
    assert r1 is not None and r2 is not None
    assert b.settle(r1.id, 1200, T0 + 10)
    assert b.release(r2.id, T0 + 10, "failed")
    assert b.committed(T0 + 20) == (1200, 1200)
    # terminal reservations never change again
    assert not b.settle(r1.id, 5, T0 + 30) and not b.release(r1.id, T0 + 30, "x")
    assert not b.settle(r2.id, 5, T0 + 30)
    # a day later the spend leaves the daily window but not the weekly one
    assert b.committed(T0 + 86_400 + 11) == (0, 1200)
    assert not b.reserve(4900, T0 + 86_400 + 12, purpose="rebalance", ref="c").granted
    assert b.reserve(4800, T0 + 86_400 + 12, purpose="rebalance", ref="c").granted


def test_zero_budget_refuses(store: RevenueStore) -> None:
    g = Budget(store, BudgetConfig(daily_budget_sats=0)).reserve(1, T0, purpose="r", ref=None)
    assert not g.granted and g.reason == "budget_zero"


def test_reservations_survive_restart_and_stale_ones_release(tmp_path: Path) -> None:
    path = tmp_path / "rev.sqlite3"
    with RevenueStore(path) as s:
        b = Budget(s, BudgetConfig())
        old = b.reserve(100, T0, purpose="rebalance", ref="old").reservation
        pend = b.reserve(200, T0, purpose="rebalance", ref="pending").reservation
        new = b.reserve(300, T0 + 3 * 3600, purpose="rebalance", ref="new").reservation
        assert old and pend and new
        assert b.mark_pending(pend.id, T0 + 1)
    with RevenueStore(path) as s:
        b = Budget(s, BudgetConfig())
        assert [r.id for r in b.active()] == [old.id, pend.id, new.id]
        assert b.committed(T0 + 4 * 3600) == (600, 600)
        assert b.release_stale(T0 + 4 * 3600 - 1) == []
        assert b.release_stale(T0 + 4 * 3600) == [old.id]  # pending payments keep theirs
        assert {r.id for r in b.active()} == {pend.id, new.id}
        got = b.get(old.id)
        assert got is not None and got.state == "released" and got.reason == "stale"
        assert b.release_stale(T0 + 100 * 3600) == [new.id]
        assert b.settle(pend.id, 150, T0 + 101 * 3600)
        assert b.active() == []


def test_reservation_is_atomic_across_threads(store: RevenueStore) -> None:
    b = Budget(store, BudgetConfig(daily_budget_sats=1000))
    granted: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        g = b.reserve(100, T0, purpose="rebalance", ref=None)
        with lock:
            granted.append(g.granted)

    threads = [threading.Thread(target=worker) for _ in range(25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 10
    assert b.committed(T0)[0] == 1000


def test_growth_credit_is_capped(store: RevenueStore) -> None:
    store.insert_forward(ForwardRecord("1x1x1", "2x2x2", 101_000_000, 1_000_000, 100_000_000, T0))
    cfg = BudgetConfig(daily_budget_sats=5000, growth_budget_enabled=True)
    # 100 000 sat earned in 24 h: 5000 + 25 000 credit, capped at 10 000
    assert Budget(store, cfg).daily_limit(T0 + 10) == 10_000
    assert Budget(store, BudgetConfig()).daily_limit(T0 + 10) == 5000
    assert Budget(store, cfg).daily_limit(T0 + 86_400 + 1) == 5000


def test_summary_and_release_all(store: RevenueStore) -> None:
    b = Budget(store, BudgetConfig())
    r = b.reserve(100, T0, purpose="rebalance", ref="x").reservation
    p = b.reserve(50, T0, purpose="rebalance", ref="y").reservation
    assert r and p and b.mark_pending(p.id, T0)
    s = b.summary(T0)
    assert s["daily_committed_sat"] == 150 and s["daily_remaining_sat"] == 4850
    assert len(s["active_reservations"]) == 2
    assert b.release_all(T0 + 1) == [r.id]
    assert b.release_all(T0 + 1, include_pending=True) == [p.id]
