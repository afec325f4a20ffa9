"""Intent locks: one channel open toward a target fleet-wide (spec §4, §8 tests 7, 18)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.cli.fleetsim import Fleet
from lnhive.core.errors import Conflict, InvalidInput
from lnhive.fleet import intents
from lnhive.fleet.envelope import MalformedEnvelope, new_envelope
from lnhive.fleet.hive import HiveOptions
from lnhive.fleet.wire import encode_frame
from lnhive.sim.network import InProcessNode

NAMES = ["a", "b", "c", "d"]
HOLD = 60


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path, NAMES, options=HiveOptions(intent_hold_s=HOLD, intent_expire_s=300))
    f.net.add_node("x")
    f.hives["a"].genesis("hive_i")
    for name in NAMES[1:]:
        f.connect("a", name)
        f.hives[name].join(f.hives["a"].invite()["ticket"])
        f.settle()
    for x, y in (("b", "c"), ("b", "d"), ("c", "d")):
        f.connect(x, y)
    for name in NAMES:
        f.net.fund_wallet(name, 10_000_000)
        f.net.connect(name, "x")
    f.settle()
    yield f
    f.close()


def _channels_to_x(fleet: Fleet) -> list[str]:
    """Members with a channel to the external node x."""
    x = fleet.net.node("x")
    return sorted(n for n in NAMES if any(fleet.id(n) in c.node_ids for c in x.channels))


def _open(fleet: Fleet, name: str, target: str, amount: int) -> dict[str, Any]:
    """hive-open-channel then hive-approve-action: the intent the approval announced."""
    action = fleet.hives[name].open_channel(target, amount)
    assert action["status"] == "pending"
    approved = fleet.hives[name].approve_action(action["id"])["actions"][0]
    assert approved["status"] == "approved"
    intent = fleet.hives[name].intents.get(approved["payload"]["intent_id"])
    assert intent is not None
    return intent.to_json()


def _status(fleet: Fleet, name: str, intent_id: str) -> str:
    intent = fleet.hives[name].intents.get(intent_id)
    assert intent is not None
    return intent.status


@pytest.mark.parametrize("first", ["b", "c"])
def test_racing_opens_commit_exactly_once_lower_pubkey_wins(fleet: Fleet, first: str) -> None:
    x = fleet.net.node("x").node_id
    second = "c" if first == "b" else "b"
    i1 = _open(fleet, first, x, 1_000_000)
    # the second announces before hearing of the first (both within a second)
    i2 = _open(fleet, second, x, 1_000_000)
    fleet.settle()
    winner, loser = sorted([(fleet.id(first), first, i1), (fleet.id(second), second, i2)])
    assert _status(fleet, loser[1], loser[2]["id"]) == "aborted"
    assert fleet.hives[loser[1]].intents.get(loser[2]["id"]).reason == "tie_breaker_loss"  # type: ignore[union-attr]
    fleet.advance(HOLD)
    fleet.settle()
    assert _status(fleet, winner[1], winner[2]["id"]) == "executed"
    assert _channels_to_x(fleet) == [winner[1]]
    # every node saw the same outcome
    for name in NAMES:
        seen = {i.id: i.status for i in fleet.hives[name].intents.recent()}
        if name != winner[1]:
            assert seen[winner[2]["id"]] == "committed"
        if name != loser[1]:
            assert seen[loser[2]["id"]] == "aborted"


def test_silence_commits_after_the_hold_and_not_before(fleet: Fleet) -> None:
    x = fleet.net.node("x").node_id
    intent = _open(fleet, "c", x, 500_000)
    assert intent["commit_at"] == intent["timestamp"] + HOLD
    fleet.settle()
    fleet.advance(HOLD - 1)
    fleet.settle()
    assert _status(fleet, "c", intent["id"]) == "pending"
    assert _channels_to_x(fleet) == []
    fleet.advance(1)
    fleet.settle()
    assert _status(fleet, "c", intent["id"]) == "executed"
    assert _channels_to_x(fleet) == ["c"]


def test_a_conflict_one_second_before_commit_aborts_the_loser(fleet: Fleet) -> None:
    x = fleet.net.node("x").node_id
    lo, hi = sorted(["b", "c"], key=fleet.id)
    high = _open(fleet, hi, x, 500_000)
    fleet.settle()
    fleet.advance(HOLD - 1)
    # lo did not hear of hi's intent (it was offline); simulate by forgetting it
    fleet.hives[lo].store.execute("DELETE FROM intent_locks WHERE id = ?", (high["id"],))
    low = _open(fleet, lo, x, 500_000)
    fleet.settle()
    assert _status(fleet, hi, high["id"]) == "aborted"
    fleet.advance(HOLD)
    fleet.settle()
    assert _status(fleet, lo, low["id"]) == "executed"
    assert _channels_to_x(fleet) == [lo]


def test_committed_beats_a_late_pending_intent(fleet: Fleet) -> None:
    x = fleet.net.node("x").node_id
    hi = max(NAMES, key=fleet.id)
    lo = min(NAMES, key=fleet.id)
    first = _open(fleet, hi, x, 500_000)
    fleet.settle()
    fleet.advance(HOLD)
    fleet.settle()
    assert _status(fleet, hi, first["id"]) == "executed"
    # a node that missed everything announces anyway; the committed one wins
    fleet.hives[lo].store.execute("DELETE FROM intent_locks")
    late = _open(fleet, lo, x, 500_000)
    fleet.settle()
    assert _status(fleet, lo, late["id"]) == "aborted"
    assert fleet.hives[lo].intents.get(late["id"]).reason == "target_taken"  # type: ignore[union-attr]
    fleet.advance(HOLD)
    fleet.settle()
    assert _channels_to_x(fleet) == [hi]


def test_announcing_against_a_known_intent_is_refused(fleet: Fleet) -> None:
    x = fleet.net.node("x").node_id
    _open(fleet, "b", x, 500_000)
    fleet.settle()
    with pytest.raises(Conflict, match="already pending"):
        fleet.hives["c"].open_channel(x, 500_000)
    with pytest.raises(Conflict, match="already pending by we"):
        fleet.hives["b"].open_channel(x, 500_000)


def test_open_channel_rejects_bad_input(fleet: Fleet) -> None:
    b = fleet.hives["b"]
    with pytest.raises(InvalidInput, match="node id"):
        b.open_channel("nope", 500_000)
    with pytest.raises(InvalidInput, match="external"):
        b.open_channel(fleet.id("c"), 500_000)
    with pytest.raises(InvalidInput, match="at least"):
        b.open_channel(fleet.net.node("x").node_id, 10)
    assert b.intent_status()["count"] == 0


def test_failed_fundchannel_is_recorded(fleet: Fleet) -> None:
    x = fleet.net.node("x").node_id
    intent = _open(fleet, "d", x, 50_000_000)  # more than the wallet holds
    fleet.advance(HOLD)
    fleet.settle()
    got = fleet.hives["d"].intents.get(intent["id"])
    assert got is not None and got.status == "failed" and got.reason


def test_pending_intents_expire(fleet: Fleet) -> None:
    x = fleet.net.node("x").node_id
    b = fleet.hives["b"]
    intent = _open(fleet, "b", x, 500_000)
    fleet.settle()
    # c holds b's intent; if b never commits, c expires it
    b.store.execute("UPDATE intent_locks SET status = 'aborted' WHERE id = ?", (intent["id"],))
    fleet.advance(300)
    fleet.settle()
    assert _status(fleet, "c", intent["id"]) == "expired"


def test_intent_from_a_non_member_is_ignored(fleet: Fleet) -> None:
    xnode = InProcessNode(fleet.net, "x", answer=fleet._answer)
    x = xnode.node_id
    now = fleet.clock.now()
    body = intents.intent_body("channel_open", fleet.id("b"), 60, int(now) + 300, 500_000)
    env = new_envelope(xnode, x, intents.INTENT, body, now)
    xnode.sendcustommsg(node_id=fleet.id("a"), msg=encode_frame(env))
    fleet.settle()
    a = fleet.hives["a"]
    assert a.stats["rejected.not_member"] == 1
    assert a.intents.get(env.msg_id) is None
    assert not a.seen.seen(env.msg_id)


@pytest.mark.parametrize(
    "over",
    [
        {"intent_type": "teleport"},
        {"target": "zz"},
        {"hold_s": 0},
        {"hold_s": 601},
        {"expires_at": 0},
        {"amount_sats": -5},
        {"extra": 1},
    ],
)
def test_malformed_intents_are_rejected(fleet: Fleet, over: dict[str, object]) -> None:
    now = fleet.clock.now()
    body = intents.intent_body(
        "channel_open", fleet.net.node("x").node_id, 60, int(now) + 300, 500_000
    )
    body.update(over)
    env = new_envelope(fleet.nodes["b"], fleet.id("b"), intents.INTENT, body, now)
    with pytest.raises(MalformedEnvelope):
        intents.check_intent(env)
    assert fleet.hives["a"].handle(fleet.id("b"), encode_frame(env)) == "invalid_input"
    assert fleet.hives["a"].intents.get(env.msg_id) is None
