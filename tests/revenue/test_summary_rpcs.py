"""Read-only RPCs of spec §6.1 through RevenueService over the in-process network model:
``revenue-dashboard``, ``revenue-history`` (stored data only), ``revenue-profile-preview``
(decides, changes nothing) and ``revenue-hive-status`` (members marked by policy)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import InvalidInput
from lnhive.revenue.rebalance_log import RebalanceLog
from lnhive.revenue.service import RevenueOptions, RevenueService
from lnhive.revenue.store import FeeChange, ForwardRecord
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.model import Network

DAY = 86_400.0
T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC


@dataclass
class World:
    svc: RevenueService
    clock: VirtualClock
    a: str
    b: str
    alice: str
    bob: str


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = VirtualClock(T0)
    net = Network(clock, seed=6)
    for name in ("us", "alice", "bob"):
        net.add_node(name)
    ca = net.open_channel("us", "alice", 2_000_000)
    cb = net.open_channel("us", "bob", 2_000_000)
    clock.advance(40 * DAY)
    opts = RevenueOptions.from_options({}, network_dir=str(tmp_path), developer=False)
    svc = RevenueService(InProcessNode(net, "us"), opts, clock=clock)
    assert ca.scid and cb.scid
    yield World(svc, clock, ca.scid, cb.scid, net.by_name["alice"], net.by_name["bob"])
    svc.stop(0)


def _stored_activity(w: World) -> None:
    """Forwards 2 and 35 days ago, a rebalance cost and fee changes."""
    now, store = w.clock.now(), w.svc.store
    for i, (age, fee) in enumerate(((2, 1500), (2, 2501), (35, 7000))):
        t = now - age * DAY + i
        store.insert_forward(
            ForwardRecord(w.a, w.b, 1_000_000 + fee, 1_000_000, fee, t, t + 1, in_htlc_id=i)
        )
    RebalanceLog(store).record_cost(
        rebalance_id=1, from_channel=w.a, to_channel=w.b, dest_peer=w.bob, amount_sat=100_000,
        fee_msat=1200, dest_ratio_after=0.4, now=now - DAY,
    )  # fmt: skip
    store.record_fee_change(FeeChange(w.a, w.alice, 100, 150, "dts", now - DAY))
    store.record_fee_change(FeeChange(w.b, w.bob, 100, 90, "dts", now - DAY, applied=False))


def test_dashboard_sums_the_window_from_stored_data(world: World) -> None:
    _stored_activity(world)
    d = world.svc.dashboard(30)
    assert d["window_days"] == 30 and d["forwards"] == 2
    assert (d["revenue_msat"], d["revenue_sat"]) == (4001, 5)  # fees rounded up
    assert (d["rebalance_cost_msat"], d["rebalance_cost_sat"]) == (1200, 2)
    assert (d["net_msat"], d["net_sat"]) == (2801, 3)
    assert d["top_channels"] == [{"channel_id": world.b, "forwards": 2, "fee_msat": 4001}]
    fc = d["fee_changes"]
    assert (fc["count"], fc["applied"], fc["not_applied"]) == (2, 1, 1)
    assert fc["by_reason"] == {"dts": 2} and len(fc["recent"]) == 2
    assert d["rebalances"] == {"count": 0, "by_status": {}, "moved_sat": 0, "fee_msat": 0}
    assert "2 forwards earned 5 sat" in d["summary"]
    assert world.svc.dashboard("60")["forwards"] == 3
    for bad in (0, 366, -1, "week", 1.5, True):
        with pytest.raises(InvalidInput, match="window_days must"):
            world.svc.dashboard(bad)


def test_history_groups_everything_by_month(world: World) -> None:
    assert world.svc.history()["totals"]["forwards"] == 0
    _stored_activity(world)
    h = world.svc.history()
    months = [m["month"] for m in h["months"]]
    assert months == ["2027-01", "2027-02"]
    jan, feb = h["months"]
    assert (jan["forwards"], jan["revenue_msat"]) == (1, 7000)
    assert (feb["forwards"], feb["revenue_msat"], feb["rebalance_cost_msat"]) == (2, 4001, 1200)
    assert feb["fee_changes"] == 2 and feb["net_msat"] == 2801
    assert h["totals"]["revenue_msat"] == 11_001 and h["totals"]["net_msat"] == 9801
    assert h["summary"].startswith("Since 2027-01: 3 forwards")


def test_profile_preview_decides_for_each_profile_and_changes_nothing(world: World) -> None:
    svc = world.svc
    before = svc.store.fee_changes()
    out = svc.profile_preview()
    assert out["current_profile"] == "active" and out["applied"] is False
    assert set(out["profiles"]) == {"active", "conservative"}
    for p in out["profiles"].values():
        assert {c["channel_id"] for c in p["channels"]} == {world.a, world.b}
    assert out["profiles"]["conservative"]["settings"]["step_cap_ratio"] == 0.25
    assert set(svc.profile_preview("conservative")["profiles"]) == {"conservative"}
    assert svc.store.fee_changes() == before and svc.store.get_fee_strategy_state(world.a) is None
    for bad in ("wild", 3):
        with pytest.raises(InvalidInput, match="valid values: active, conservative"):
            svc.profile_preview(bad)


def test_hive_status_lists_members_and_their_treatment(world: World) -> None:
    svc = world.svc
    svc.policy("set", {"peer_id": world.alice, "strategy": "hive"})
    svc.policy("set", {"peer_id": world.bob, "strategy": "hive"})
    svc.peer_list("ignore", world.bob)
    out = svc.hive_status()
    assert out["mode"] == "policy" and out["cl_hive_available"] is False
    assert out["bridge"] is None and out["hive_fee_ppm"] == 0
    assert out["count"] == 2
    rows = {m["peer_id"]: m for m in out["members"]}
    assert rows[world.alice]["channels"] == [world.a]
    assert rows[world.alice]["treatment"].startswith("fee held at 0 ppm")
    assert rows[world.bob]["treatment"] == "ignored: left alone"
    svc.policy("delete", {"peer_id": world.alice})
    assert svc.hive_status()["count"] == 1
