"""Leaving the hive, and archon.* carriage for other plugins (ARCHITECTURE §8.5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.cli.fleetsim import Fleet
from lnhive.core.errors import Conflict, InvalidInput
from lnhive.fleet import evidence
from lnhive.fleet.envelope import new_envelope
from lnhive.fleet.wire import encode_frame

NAMES = ["a", "b", "c", "d"]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path, NAMES)
    f.hives["a"].genesis("hive_l")
    for name in NAMES[1:]:
        f.connect("a", name)
        f.hives[name].join(f.hives["a"].invite()["ticket"])
        f.settle()
    yield f
    f.close()


def _ids(fleet: Fleet, name: str) -> set[str]:
    return {m["peer_id"] for m in fleet.hives[name].members()["members"]}


def test_a_member_that_leaves_is_removed_everywhere(fleet: Fleet) -> None:
    d = fleet.id("d")
    out = fleet.hives["d"].leave("moving on")
    assert out["status"] == "left" and out["told"] == 1  # d is connected to a only
    fleet.settle()
    for name in ("a", "b", "c"):
        assert d not in _ids(fleet, name)
        assert fleet.hives[name].hivemap.get(d) is None
    assert fleet.hives["d"].status()["status"] == "genesis_required"
    assert fleet.hives["d"].outbox.pending_count() == 0  # every member acknowledged
    hashes = {fleet.hives[n].status()["membership_hash"] for n in ("a", "b", "c")}
    assert len(hashes) == 1


def test_the_sole_member_cannot_leave(fleet: Fleet) -> None:
    with pytest.raises(Conflict, match="only member"):
        fleet.hives["a"].leave()
    assert fleet.hives["a"].status()["status"] == "active"


def test_leave_rejects_a_long_reason(fleet: Fleet) -> None:
    with pytest.raises(InvalidInput, match="512"):
        fleet.hives["b"].leave("x" * 513)
    assert fleet.hives["b"].status()["status"] == "active"


def test_a_former_member_can_join_again(fleet: Fleet) -> None:
    fleet.hives["c"].leave()
    fleet.settle()
    fleet.advance(20)
    fleet.hives["c"].join(fleet.hives["a"].invite()["ticket"])
    fleet.settle()
    assert fleet.id("c") in _ids(fleet, "b")
    assert fleet.hives["c"].status()["status"] == "active"
    assert _ids(fleet, "c") == _ids(fleet, "a")


def test_a_forged_leave_for_someone_else_removes_no_one(fleet: Fleet) -> None:
    """b signs a leave that claims to be c's: the signer is the one who leaves."""
    body = evidence.left_body("hive_l", "")
    env = new_envelope(fleet.nodes["b"], fleet.id("b"), evidence.MEMBER_LEFT, body, 0)
    doc = env.to_json() | {"sender": fleet.id("c")}
    forged = type(env)(**doc)
    assert fleet.hives["a"].handle(fleet.id("c"), encode_frame(forged, ttl=0)) in (
        "unauthorized",
        "invalid_input",
    )
    assert fleet.id("c") in _ids(fleet, "a")


def test_archon_messages_reach_every_member_as_notifications(fleet: Fleet) -> None:
    out = fleet.hives["b"].broadcast_message("archon.vote", {"poll": "p1", "choice": "yes"})
    assert out["sent_to"] == 1  # b is connected to a only; a relays to c and d
    fleet.settle()
    got = {(name, n["from"]) for name, topic, n in fleet.notices if topic == "hive-message"}
    assert {name for name, _ in got} == {"a", "c", "d"}
    for _name, topic, payload in fleet.notices:
        env = payload["envelope"]
        assert topic == "hive-message"
        assert env["sender"] == fleet.id("b") and env["body"] == {"poll": "p1", "choice": "yes"}


def test_broadcast_to_chosen_peers_is_direct(fleet: Fleet) -> None:
    out = fleet.hives["a"].broadcast_message("archon.poll", {"q": 1}, [fleet.id("c")])
    assert out["sent_to"] == 1
    fleet.settle()
    assert [name for name, _, _ in fleet.notices] == ["c"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("fleet.gossip", {}), "archon."),
        (("archon.vote", []), "JSON object"),
        (("archon.vote", {}, ["02" + "11" * 32]), "not members"),
        (("archon.Bad Name", {}), "dotted"),
    ],
)
def test_broadcast_rejects_bad_input(fleet: Fleet, args: tuple[object, ...], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        fleet.hives["a"].broadcast_message(*args)
    fleet.settle()
    assert fleet.notices == []
