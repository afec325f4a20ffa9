"""Profitability through RevenueService over the in-process network model: attribution
from stored forwards and rebalance costs, snapshots and bleeder hysteresis, the RPCs of
spec §6.1 (``revenue-profitability``, ``-capacity-report``, ``-report``) and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import InvalidInput, NotFound
from lnhive.revenue.rebalance_log import RebalanceLog
from lnhive.revenue.service import RevenueOptions, RevenueService
from lnhive.revenue.store import ForwardRecord
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.model import Network

DAY = 86_400.0


@dataclass
class World:
    svc: RevenueService
    clock: VirtualClock
    a: str
    b: str
    c: str
    peer_a: str


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = VirtualClock(1_800_000_000.0)
    net = Network(clock, seed=3)
    for name in ("us", "alice", "bob", "carol"):
        net.add_node(name)
    ca = net.open_channel("us", "alice", 2_000_000)
    cb = net.open_channel("us", "bob", 2_000_000)
    cc = net.open_channel("carol", "us", 2_000_000)  # carol opened: no open cost for us
    clock.advance(40 * DAY)
    opts = RevenueOptions.from_options({}, network_dir=str(tmp_path), developer=False)
    svc = RevenueService(InProcessNode(net, "us"), opts, clock=clock)
    assert ca.scid and cb.scid and cc.scid
    yield World(svc, clock, ca.scid, cb.scid, cc.scid, net.by_name["alice"])
    svc.stop(0)


def _forward(w: World, src: str, dst: str, fee_msat: int, age_days: float, n: int) -> None:
    now = w.clock.now()
    w.svc.store.insert_forwards(
        ForwardRecord(
            in_channel=src,
            out_channel=dst,
            in_msat=50_000_000 + fee_msat,
            out_msat=50_000_000,
            fee_msat=fee_msat,
            received_time=now - age_days * DAY + i,
            resolved_time=now - age_days * DAY + i + 1,
            in_htlc_id=int(age_days * 1000) * 1000 + i,
        )
        for i in range(n)
    )


def _rebalance_cost(w: World, dst: str, fee_msat: int, age_days: float) -> None:
    RebalanceLog(w.svc.store).record_cost(
        rebalance_id=1,
        from_channel=w.a,
        to_channel=dst,
        dest_peer=None,
        amount_sat=500_000,
        fee_msat=fee_msat,
        dest_ratio_after=0.3,
        now=w.clock.now() - age_days * DAY,
    )


def _by_id(out: dict[str, object]) -> dict[str, dict[str, object]]:
    chans = out["channels"]
    assert isinstance(chans, list)
    return {c["channel_id"]: c for c in chans}


def test_attribution_roi_and_classes(world: World) -> None:
    w = world
    # 20 forwards carol -> alice at 400 sat each: alice's channel earns, carol's sources
    _forward(w, w.c, w.a, 400_000, age_days=2, n=20)
    # bob: refilled for 7000 sat, earned 100 sat
    _forward(w, w.c, w.b, 100_000, age_days=1, n=1)
    _rebalance_cost(w, w.b, 7_000_000, age_days=3)
    out = w.svc.profitability()
    ch = _by_id(out)
    a, b, c = ch[w.a], ch[w.b], ch[w.c]
    assert a["revenue"] == {
        "fees_earned_sats": 8000,
        "sourced_fee_contribution_sats": 0,
        "contribution_sats": 8000,
        "contribution_30d_sats": 8000,
        "contribution_7d_sats": 8000,
    }
    assert a["costs"]["open_sats"] == 5000 and a["costs"]["open_source"] == "estimated"
    assert a["net_profit_sats"] == 3000 and a["roi_percent"] == 60.0
    assert a["classification"] == "profitable" and a["role_30d"] == "outbound_gateway"
    # carol opened her channel: no cost; it sourced 8100 sat of fees
    assert c["costs"]["total_sats"] == 0 and c["revenue"]["contribution_sats"] == 8100
    assert c["classification"] == "profitable" and c["role_30d"] == "inbound_gateway"
    # bob: 100 earned against 5000 open + 7000 rebalance
    assert b["net_profit_sats"] == 100 - 12_000 and b["classification"] == "underwater"
    assert b["marginal_roi_percent"] == round(100 * (100 - 7000) / 7000, 2)
    assert b["bleeder"] == "hard"  # 7000 sat spent against 100 earned, net30 < -1000 sat
    assert out["classes"]["profitable"] == 2 and out["classes"]["underwater"] == 1
    assert out["lifetime"]["revenue_sats"] == 8100 and out["lifetime"]["forwards"] == 21
    assert out["lifetime"]["costs_sats"] == 5000 + 5000 + 7000
    assert out["refreshed"] is False and w.svc.profits.ledger.snapshots() == {}


def test_refresh_stores_snapshots_and_bleeder_stays_hard(world: World) -> None:
    w = world
    _rebalance_cost(w, w.b, 1_200_000, age_days=1)
    one = w.svc.profitability(w.b, refresh=True)
    assert one["count"] == 1 and one["channels"][0]["bleeder"] == "hard"
    snaps = w.svc.profits.ledger.snapshots()
    assert set(snaps) == {w.a, w.b, w.c} and snaps[w.b].bleeder == "hard"
    # 600 sat earned later: net30 -600 sat; no longer hard by itself but a hard bleeder
    # stays hard while net30 <= -500 sat
    _forward(w, w.c, w.b, 600_000, age_days=0.5, n=1)
    assert _by_id(w.svc.profitability())[w.b]["bleeder"] == "hard"
    # the flow loop's job refreshes the snapshots too
    w.svc._flow_job()
    assert w.svc.profits.ledger.snapshots()[w.b].updated_at == w.clock.now()


def test_profitability_bad_input(world: World) -> None:
    with pytest.raises(NotFound):
        world.svc.profitability("999x9x9")
    with pytest.raises(InvalidInput):
        world.svc.profitability(5)
    with pytest.raises(InvalidInput):
        world.svc.profitability(None, refresh="sometimes")


def test_capacity_report_over_the_model(world: World) -> None:
    rep = world.svc.capacity_report()
    assert set(rep) >= {"winners", "losers", "recommendations", "mempool_recommendation"}
    assert rep["mempool_recommendation"] == "PROCEED"  # the model's feerates are low
    # three 40-day-old idle balanced channels: losers, none with diagnostics: DEFIBRILLATE
    assert {r["action"] for r in rep["recommendations"]} <= {"DEFIBRILLATE"}


def test_diagnostics_feed_the_zombie_rule(world: World) -> None:
    w = world
    ledger = w.svc.profits.ledger
    _forward(w, w.c, w.a, 1000, age_days=30, n=1)
    for days in (10, 9):
        ledger.record_diagnostic(w.a, False, w.clock.now() - days * DAY)
    assert _by_id(w.svc.profitability())[w.a]["classification"] == "zombie"


def test_report_summary_bleeders_and_peer(world: World) -> None:
    w = world
    _forward(w, w.c, w.a, 400_000, age_days=2, n=20)
    _rebalance_cost(w, w.b, 7_000_000, age_days=3)
    w.svc.fee_cycle()  # the first cycle opens the windows, the next one sets fees
    w.clock.advance(3600)
    w.svc.fee_cycle()
    rep = w.svc.report()
    assert rep["view"] == "summary" and rep["count"] == 3
    assert rep["node"]["earned_30d_sats"] == 8000 and rep["node"]["net_30d_sats"] == 1000
    assert rep["node"]["bleeders"] == {"hard": 1, "soft": 0}
    rows = {r["channel_id"]: r for r in rep["channels"]}
    assert rep["channels"][0]["channel_id"] == w.b  # worst 30-day net first
    assert rows[w.b]["attention"].startswith("hard bleeder")
    assert rows[w.a]["controller"]["last_change"] is not None
    assert rows[w.a]["reasoning"].startswith("set 10->")
    text = rep["summary"]
    assert "Last 30 days: earned 8 000 sat from 20 forwards" in text
    assert "Needs attention:" in text and w.b in text and "controller" in text
    assert "Rebalance budget today:" in text
    bleeders = w.svc.report("bleeders")
    assert [r["channel_id"] for r in bleeders["channels"]] == [w.b]
    peer = w.svc.report("peer", w.peer_a)
    assert [r["channel_id"] for r in peer["channels"]] == [w.a]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("weekly",), InvalidInput),
        (("peer",), InvalidInput),
        (("peer", "02zz"), InvalidInput),
        (("peer", "02" + "11" * 32), NotFound),
    ],
)
def test_report_bad_input(world: World, args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        world.svc.report(*args)
