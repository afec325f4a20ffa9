"""Governance modes and the pending-action queue (spec §6.2, §8 test 14)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.cli.fleetsim import Fleet
from lnhive.core.errors import Conflict, InvalidInput, NotFound
from lnhive.fleet.hive import HiveOptions

NAMES = ["a", "b", "c"]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path, NAMES, options=HiveOptions(intent_hold_s=60))
    f.net.add_node("x")
    f.hives["a"].genesis("hive_p")
    for name in NAMES[1:]:
        f.advance(11)
        f.connect("a", name)
        f.hives[name].join(f.hives["a"].invite()["ticket"])
        f.settle()
    for name in NAMES:
        f.net.fund_wallet(name, 10_000_000)
        f.net.connect(name, "x")
    yield f
    f.close()


def _x(fleet: Fleet) -> str:
    return fleet.net.node("x").node_id


def _channels_to_x(fleet: Fleet) -> int:
    return len(fleet.net.node("x").channels)


def test_advisor_mode_never_executes_until_approved_and_approval_runs_once(fleet: Fleet) -> None:
    b = fleet.hives["b"]
    action = b.open_channel(_x(fleet), 500_000)
    assert action["status"] == "pending" and action["action_type"] == "channel_open"
    fleet.advance(3_600)
    fleet.settle()
    assert _channels_to_x(fleet) == 0  # advisor: nothing happens by itself
    out = b.approve_action(action["id"])
    assert out["approved"] == 1
    fleet.settle()
    fleet.advance(60)  # the fresh intent's full hold
    fleet.settle()
    assert _channels_to_x(fleet) == 1
    listed = {a["id"]: a for a in b.pending_actions()["actions"]}
    assert listed[action["id"]]["status"] == "executed"
    with pytest.raises(Conflict, match="executed, not pending"):
        b.approve_action(action["id"])
    assert _channels_to_x(fleet) == 1


def test_reject_stores_the_reason_and_nothing_runs(fleet: Fleet) -> None:
    b = fleet.hives["b"]
    action = b.open_channel(_x(fleet), 500_000)
    out = b.reject_action(action["id"], "too small")
    assert out == {"rejected": 1, "ids": [action["id"]]}
    got = {a["id"]: a for a in b.pending_actions()["actions"]}[action["id"]]
    assert got["status"] == "rejected" and got["reason"] == "too small"
    fleet.advance(120)
    fleet.settle()
    assert _channels_to_x(fleet) == 0


def test_pending_actions_expire_after_a_day(fleet: Fleet) -> None:
    b = fleet.hives["b"]
    action = b.open_channel(_x(fleet), 500_000)
    fleet.advance(86_401)
    fleet.settle()
    got = {a["id"]: a for a in b.pending_actions()["actions"]}[action["id"]]
    assert got["status"] == "expired"
    with pytest.raises(Conflict, match="expired"):
        b.approve_action(action["id"])


def test_approve_all_and_amount_override(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    first = a.open_channel(_x(fleet), 500_000)
    out = a.approve_action("all", 600_000)
    assert out["approved"] == 1
    assert out["actions"][0]["payload"]["amount_sats"] == 600_000
    assert first["id"] == out["actions"][0]["id"]
    fleet.advance(60)
    fleet.settle()
    (channel,) = fleet.net.node("x").channels
    assert channel.capacity_msat == 600_000_000


def test_failsafe_runs_emergency_bans_locally_but_only_two_an_hour(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    assert a.set_mode("failsafe") == {"old_mode": "advisor", "new_mode": "failsafe"}
    targets = [fleet.id("b"), fleet.id("c"), "02" + "55" * 32]
    results = [a.emergency_ban(t, "spam") for t in targets]
    assert [r["status"] for r in results] == ["executed", "executed", "pending"]
    # locally ignored and disconnected; the fleet is asked to vote (a is the only member:
    # eligible 1, so a's proposal alone passes)
    assert a.actions.ignored() == {fleet.id("b"), fleet.id("c")}
    assert fleet.id("b") not in {
        p["id"] for p in fleet.nodes["a"].listpeers()["peers"] if p.get("connected")
    }
    fleet.advance(3_601)
    assert a.emergency_ban("02" + "66" * 32)["status"] == "executed"


def test_advisor_mode_queues_emergency_bans(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    action = a.emergency_ban(fleet.id("b"), "spam")
    assert action["status"] == "pending"
    assert a.actions.ignored() == set()
    a.approve_action(action["id"])
    assert a.actions.ignored() == {fleet.id("b")}


def test_bad_mode_and_unknown_stored_mode_fail_closed(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    with pytest.raises(InvalidInput, match="advisor, failsafe"):
        a.set_mode("autonomous-ish")
    with a.store.transaction() as conn:
        a.roster.set_meta(conn, "governance_mode", "oracle")
    assert a.pending_actions()["mode"] == "advisor"
    assert a.emergency_ban(fleet.id("b"))["status"] == "pending"
    with pytest.raises(InvalidInput, match="hive-governance-mode"):
        HiveOptions(governance_mode="yolo").validate()


def test_unknown_action_and_bad_input(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    with pytest.raises(NotFound):
        a.approve_action("0" * 16)
    with pytest.raises(InvalidInput, match="external"):
        a.open_channel(fleet.id("b"), 500_000)
    with pytest.raises(InvalidInput, match="another node"):
        a.emergency_ban(fleet.id("a"))
    assert a.pending_actions()["count"] == 0
