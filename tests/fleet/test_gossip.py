"""HiveMap gossip, targeted relay and anti-entropy on the in-process model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.cli.fleetsim import Fleet
from lnhive.fleet import hivemap
from lnhive.fleet.envelope import MalformedEnvelope, new_envelope
from lnhive.fleet.hive import Hive
from lnhive.fleet.wire import encode_frame

NAMES = ["a", "b", "c", "d"]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path, NAMES)
    yield f
    f.close()


def _form_all(fleet: Fleet) -> None:
    """a founds; b, c, d join through a (connected to all)."""
    fleet.hives["a"].genesis("hive_g")
    for name in NAMES[1:]:
        fleet.connect("a", name)
        fleet.hives[name].join(fleet.hives["a"].invite()["ticket"])
        fleet.settle()


def _hashes(fleet: Fleet, names: list[str] = NAMES) -> set[str]:
    return {fleet.hives[n].status()["fleet_hash"] for n in names}


def _versions(hive: Hive) -> dict[str, int]:
    return hive.hivemap.versions()


def test_records_converge_everywhere(fleet: Fleet) -> None:
    _form_all(fleet)
    fleet.advance(11)
    for name in NAMES:
        fleet.hives[name].gossip_now()
    fleet.settle()
    ids = {fleet.id(n) for n in NAMES}
    for name in NAMES:
        assert set(_versions(fleet.hives[name])) == ids
    assert len(_hashes(fleet)) == 1


def test_relay_reaches_members_the_origin_is_not_connected_to(fleet: Fleet) -> None:
    _form_all(fleet)
    # a is the hub; b, c, d only know a. d's record reaches b and c through a.
    fleet.advance(11)
    for name in NAMES:
        fleet.hives[name].gossip_now()
    fleet.settle()
    a = fleet.hives["a"]
    relayed_before = a.stats["relayed"]
    fleet.advance(11)
    out = fleet.hives["d"].gossip_now()
    assert out["sent_to"] == 1  # only a is connected to d
    fleet.settle()
    version = out["version"]
    for name in ("a", "b", "c"):
        assert _versions(fleet.hives[name])[fleet.id("d")] == version
    assert a.stats["relayed"] - relayed_before == 2  # to b and c, once each
    # every node processed d's record once
    assert all(fleet.hives[n].stats["gossip.applied"] >= 1 for n in ("a", "b", "c"))


def test_full_mesh_sends_n_minus_one_and_relays_nothing(fleet: Fleet) -> None:
    _form_all(fleet)
    for x, y in (("b", "c"), ("b", "d"), ("c", "d")):
        fleet.connect(x, y)
    fleet.settle()
    fleet.advance(11)
    for name in NAMES:
        fleet.hives[name].gossip_now()  # records now list everyone as hive_peers
    fleet.settle()
    sent_before = sum(h.stats["sent"] for h in fleet.hives.values())
    relayed_before = sum(h.stats["relayed"] for h in fleet.hives.values())
    fleet.advance(11)
    assert fleet.hives["b"].gossip_now()["sent_to"] == 3
    fleet.settle()
    assert sum(h.stats["sent"] for h in fleet.hives.values()) - sent_before == 3
    assert sum(h.stats["relayed"] for h in fleet.hives.values()) == relayed_before


def test_partition_heals_through_anti_entropy(fleet: Fleet) -> None:
    _form_all(fleet)
    fleet.connect("a", "b")  # already; make the halves explicit
    fleet.connect("c", "d")
    fleet.settle()
    # partition {a, b} / {c, d}
    for x, y in (("a", "c"), ("a", "d")):
        fleet.net.disconnect(x, y)
    fleet.advance(30)
    for name in NAMES:
        fleet.hives[name].gossip_now()
    fleet.settle()
    assert len(_hashes(fleet)) > 1
    assert (
        _versions(fleet.hives["a"]).get(fleet.id("c")) != _versions(fleet.hives["c"])[fleet.id("c")]
    )
    # heal: a reconnects to c; state hashes differ, versions are compared
    fleet.connect("a", "c")
    fleet.settle()
    assert _versions(fleet.hives["a"])[fleet.id("c")] == _versions(fleet.hives["c"])[fleet.id("c")]
    assert _versions(fleet.hives["c"])[fleet.id("a")] == _versions(fleet.hives["a"])[fleet.id("a")]
    # b and d learn the other half at their next exchange with a / c
    fleet.connect("a", "d")
    fleet.connect("b", "c")
    fleet.settle()
    assert len(_hashes(fleet)) == 1


def test_lower_or_equal_versions_are_not_applied(fleet: Fleet) -> None:
    _form_all(fleet)
    fleet.advance(11)
    b = fleet.hives["b"]
    b.gossip_now()
    fleet.settle()
    a = fleet.hives["a"]
    current = _versions(a)[fleet.id("b")]
    snap = hivemap.snapshot(fleet.nodes["b"], fleet.id("b"), {fleet.id("a")}, [])
    old = new_envelope(
        fleet.nodes["b"],
        fleet.id("b"),
        hivemap.GOSSIP,
        {"version": current - 1, **snap.body},
        fleet.clock.now(),
    )
    assert a.handle(fleet.id("b"), encode_frame(old, ttl=0)) == "accepted"
    assert _versions(a)[fleet.id("b")] == current
    assert a.stats["gossip.not_newer"] >= 1


def test_gossip_from_a_non_member_is_ignored(fleet: Fleet) -> None:
    fleet.hives["a"].genesis("hive_g")
    fleet.connect("a", "d")
    snap = hivemap.snapshot(fleet.nodes["d"], fleet.id("d"), set(), [])
    env = new_envelope(
        fleet.nodes["d"], fleet.id("d"), hivemap.GOSSIP, {"version": 1, **snap.body}, 0
    )
    assert fleet.hives["a"].handle(fleet.id("d"), encode_frame(env, ttl=0)) == "not_member"
    assert fleet.hives["a"].hivemap.get(fleet.id("d")) is None


def test_version_keeps_rising_across_a_restart(fleet: Fleet) -> None:
    _form_all(fleet)
    fleet.advance(11)
    first = fleet.hives["b"].gossip_now()["version"]
    b = fleet.restart("b")
    fleet.advance(11)
    assert b.gossip_now()["version"] > first


def _record(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": 5,
        "capacity_sats": 1_000_000,
        "available_sats": 400_000,
        "channel_count": 3,
        "external_capacity_sats": 2_000_000,
        "fee_policy": {
            "base_fee": 1000,
            "fee_rate": 100,
            "min_htlc": 1,
            "max_htlc": 990_000_000,
            "cltv_delta": 34,
        },
        "topology": ["02" + "ab" * 32],
        "hive_peers": [],
        "addresses": ["127.0.0.1:9735"],
        "health": 100,
        "liquidity_needs": [],
        "capabilities": ["proto-v1"],
    }
    body.update(over)
    return body


@pytest.mark.parametrize(
    "over",
    [
        {"capacity_sats": -1},
        {"available_sats": 2_000_000},
        {"version": 0},
        {"health": 101},
        {"topology": ["02" + f"{i:064x}" for i in range(201)]},
        {"fee_policy": {"base_fee": 1}},
        {"fee_policy": {k: 1 for k in hivemap.FEE_KEYS} | {"extra": 1}},
        {"addresses": ["a b"]},
        {"liquidity_needs": [{"peer_id": "02" + "ab" * 32, "need": "sideways", "amount_sats": 1}]},
        {"unknown": 1},
    ],
)
def test_malformed_records_are_rejected(over: dict[str, Any]) -> None:
    with pytest.raises(MalformedEnvelope):
        hivemap.check_record(_record(**over))


def test_record_check_accepts_a_good_record() -> None:
    assert hivemap.check_record(_record()) == 5


@pytest.mark.parametrize(
    ("new_capacity", "reason"),
    [(1_090_000, None), (1_110_000, "capacity"), (890_000, "capacity"), (910_000, None)],
)
def test_gossip_threshold_is_ten_percent(new_capacity: int, reason: str | None) -> None:
    last = _record()
    snap = hivemap.Snapshot({k: v for k, v in _record(capacity_sats=new_capacity).items()})
    assert snap.differs(last, 0.10) == reason


def test_fee_policy_and_topology_changes_are_meaningful() -> None:
    last = _record()
    fees = dict(last["fee_policy"], fee_rate=101)
    assert hivemap.Snapshot(_record(fee_policy=fees)).differs(last, 0.1) == "fee_policy"
    assert hivemap.Snapshot(_record(topology=[])).differs(last, 0.1) == "topology"
    assert hivemap.Snapshot(_record()).differs(None, 0.1) == "first"


def test_fleet_hash_is_order_independent_and_version_sensitive() -> None:
    a, b = "02" + "11" * 32, "03" + "22" * 32
    assert hivemap.fleet_hash([(a, 1, 10), (b, 2, 20)]) == hivemap.fleet_hash(
        [(b, 2, 20), (a, 1, 10)]
    )
    assert hivemap.fleet_hash([(a, 1, 10)]) != hivemap.fleet_hash([(a, 2, 10)])
    assert hivemap.fleet_hash([(a, 1, 10)]) != hivemap.fleet_hash([(a, 1, 11)])


def test_a_missed_record_is_repaired_within_a_heartbeat(fleet: Fleet) -> None:
    _form_all(fleet)
    fleet.advance(11)
    for name in NAMES:
        fleet.hives[name].gossip_now()
    fleet.settle()
    b = fleet.hives["b"]
    # b is briefly cut off while d gossips, and the link comes back without the
    # connection-time sync (a flap the plugins never saw)
    fleet.net.disconnect("a", "b")
    fleet.advance(11)
    new = fleet.hives["d"].gossip_now()["version"]
    fleet.settle()
    fleet.net.connect("a", "b")
    assert _versions(b)[fleet.id("d")] < new
    fleet.advance(b.options.heartbeat_s)
    b.tick()  # only b does periodic work: d sends nothing new
    for _ in range(10):
        for hive in fleet.hives.values():
            hive.process()
    assert _versions(b)[fleet.id("d")] == new


def test_topology_readout_reports_links_and_shares(fleet: Fleet) -> None:
    _form_all(fleet)
    fleet.net.add_node("x")
    fleet.net.open_channel("b", "x", 1_000_000)
    fleet.net.open_channel("c", "x", 1_000_000)
    fleet.net.add_node("y")
    fleet.net.open_channel("x", "y", 8_000_000)
    fleet.net.mine(6)
    fleet.advance(11)
    for name in NAMES:
        fleet.hives[name].gossip_now()
    fleet.settle()
    fleet.advance(120)  # the new channels' announcements reach a's gossip view
    out = fleet.hives["a"].topology()
    x = fleet.net.node("x").node_id
    entry = next(t for t in out["external"] if t["peer_id"] == x)
    assert entry["members"] == sorted([fleet.id("b"), fleet.id("c")])
    assert entry["public_capacity_sats"] == 10_000_000
    assert entry["fleet_capacity_sats"] == 2_000_000
    assert entry["fleet_share"] == 0.2
    assert x in out["saturated"]
    assert out["links"][fleet.id("a")] == sorted(fleet.id(n) for n in ("b", "c", "d"))


def test_config_health_and_gossip_stats(fleet: Fleet) -> None:
    _form_all(fleet)
    a = fleet.hives["a"]
    assert a.config()["options"]["heartbeat_s"] == 300.0
    assert a.health()["status"] == "ok"  # settle ran the periodic work just now
    fleet.advance(61)
    assert a.health()["status"] == "stalled"
    a.tick()
    assert a.health()["status"] == "ok"
    fleet.advance(11)
    for name in NAMES:
        fleet.hives[name].gossip_now()
    fleet.settle()
    stats = a.gossip_stats()
    assert stats["records"] == 4 and stats["stale"] == 0
    assert stats["own_version"] == _versions(a)[fleet.id("a")]
    fleet.advance(3_601)
    assert a.gossip_stats()["stale"] == 4
