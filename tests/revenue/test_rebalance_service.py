"""The rebalancer inside RevenueService: options (spec §6.2), the budget RPCs (§6.1), and
the loop's job, over the in-process network model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import Conflict, InvalidInput, NotFound
from lnhive.revenue.service import RevenueOptions, RevenueService
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.model import Network


def _opts(tmp: Path, **options: Any) -> RevenueOptions:
    return RevenueOptions.from_options(options, network_dir=str(tmp), developer=False)


def test_rebalance_option_defaults(tmp_path: Path) -> None:
    o = _opts(tmp_path)
    assert (o.rebalance_interval_s, o.daily_budget_sats, o.weekly_budget_sats) == (
        900,
        5000,
        35_000,
    )
    assert (o.min_wallet_reserve, o.reservation_timeout_hours, o.pair_fee_cap_ppm) == (
        1_000_000,
        4,
        1000,
    )
    assert (o.rebalance_chunk_sats, o.rebalance_min_amount, o.rebalance_max_concurrent) == (
        500_000,
        50_000,
        5,
    )
    assert o.rebalance_emergency_local_ratio == 0.10 and o.rebalance_drift_override_ratio == 0.30
    assert o.growth_budget_enabled is False and o.growth_budget_earned_fraction == 0.25
    assert (o.rebalancer, o.askrene_layers, o.hive_rebalance_tolerance) == ("native", "", 50)


def test_float_options_arrive_as_text(tmp_path: Path) -> None:
    o = _opts(
        tmp_path, **{"rebalance-emergency-local-ratio": "0.2", "growth-budget-earned-fraction": 1}
    )
    assert o.rebalance_emergency_local_ratio == 0.2 and o.growth_budget_earned_fraction == 1.0
    assert _opts(tmp_path, **{"rebalance-interval": 600}).rebalance_interval_s == 600
    assert _opts(tmp_path, **{"askrene-layers": "a, b"}).layers() == ["a", "b"]


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"rebalance-interval": 10}, "revenue-ops-rebalance-interval must be at least 300"),
        ({"daily-budget-sats": -1}, "revenue-ops-daily-budget-sats must be from 0"),
        ({"rebalance-drift-override-ratio": "1.5"}, "must be from 0 to 1"),
        ({"rebalance-emergency-local-ratio": "abc"}, "must be a number"),
        ({"rebalance-min-amount": 600_000}, "revenue-ops-rebalance-min-amount must be from 1000"),
        ({"rebalancer": "sling"}, "valid values: native"),
        ({"reservation-timeout-hours": 0}, "revenue-ops-reservation-timeout-hours"),
        ({"pair-fee-cap-ppm": "x"}, "must be a int"),
    ],
)
def test_bad_rebalance_options(tmp_path: Path, options: dict[str, Any], text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        _opts(tmp_path, **options)
    assert text in info.value.message


@pytest.fixture
def service(tmp_path: Path) -> Iterator[RevenueService]:
    clock = VirtualClock(1_800_000_000.0)
    net = Network(clock, seed=2)
    net.add_node("us")
    net.add_node("peer")
    net.open_channel("us", "peer", 3_000_000)
    node = InProcessNode(net, "us")
    svc = RevenueService(node, _opts(tmp_path), clock=clock)
    yield svc
    svc.stop(0)


def test_budget_rpcs(service: RevenueService) -> None:
    now = service.clock.now()
    a = service.budget.reserve(100, now - 7200, purpose="rebalance", ref="a").reservation
    b = service.budget.reserve(200, now, purpose="rebalance", ref="b").reservation
    assert a and b
    assert service.budget_status()["daily_committed_sat"] == 300
    assert service.release_stale(3600) == {"released": [a.id], "count": 1, "max_age_seconds": 3600}
    assert service.clear_reservations() == {"released": [b.id], "count": 1}
    assert service.spend_ledger(1)["active_reservations"] == []
    for bad in (0, -1, "x", True):
        with pytest.raises(InvalidInput):
            service.spend_ledger(bad)
    with pytest.raises(InvalidInput):
        service.release_stale(-5)


def test_cycle_rpc_checks_its_input_and_the_loop_skips_while_busy(service: RevenueService) -> None:
    for bad in (0, 1001, "many", None):
        with pytest.raises(InvalidInput):
            service.rebalance_cycle(bad)
    out = service.rebalance_cycle("3")  # one full channel: a source without a destination
    assert out["candidates"] == [] and out["attempts"] == []
    assert out["rejections"] == [] and "skipped" not in out and out["dry_run"] is False
    with service.rebalancer.single_flight():
        assert service._rebalance_job() == {"skipped": "engine_busy"}
        with pytest.raises(Conflict):
            service.rebalance_cycle(1)
    with pytest.raises(InvalidInput):
        service.rebalance_debug(channel_id=5)
    with pytest.raises(InvalidInput):
        service.rebalance(from_channel="1x1x1", to_channel="2x2x2", force="maybe")
    debug = service.rebalance_debug(summary_only="true")
    assert debug["candidates"] == 0 and "budget" in debug
    assert "rebalance" in service.status()["loops"]


def test_defibrillate_rpc_and_the_cycle_tail(service: RevenueService) -> None:
    for bad in ({"dry_run": "maybe"}, {"channel_id": 5}, {"channel_id": ""}):
        with pytest.raises(InvalidInput):
            service.defibrillate(**bad)
    with pytest.raises(NotFound):
        service.defibrillate("9x9x9")
    out = service.defibrillate(dry_run="true")
    assert out == {"dry_run": True, "plans": [], "diagnosed": [], "recent": []}
    assert service.rebalancer.after_cycle is not None
    tail = service.rebalance_cycle(1)["defibrillator"]
    assert tail == {"settled": [], "plans": [], "diagnosed": [], "dry_run": False}
