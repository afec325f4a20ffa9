"""Polls and votes across three nodes' archon stores (spec §1.5, §5.5-5.6, §6 tests 6-9).

Each node has its own store and its own ``Governance``; a small in-memory bus stands in
for cl-hive's ``hive-broadcast`` -> ``hive-message`` (the plugin path is in
tests/e2e/test_archon_polls.py). Every node's tally must be identical.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import (
    Conflict,
    InvalidInput,
    LnhiveError,
    NotFound,
    Unauthorized,
)
from lnhive.core.signmessage import sign_message
from lnhive.identity.governance import GRACE_S, POLL_MSG, VOTE_MSG, Governance
from lnhive.identity.polls import VOTE_PREFIX, signing_text
from lnhive.identity.store import open_archon_store
from lnhive.sim.network import InProcessNode, Network

T0 = 1_767_225_600.0
DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


class Bus:
    """Delivers every broadcast to the other members' ``on_message`` (ARCHITECTURE §8.5)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Governance] = {}
        self.members: list[str] | None = None
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.held = False
        self.queue: list[tuple[str, dict[str, Any]]] = []

    def link(self, me: str) -> Link:
        return Link(self, me)

    def deliver(self, sender: str, env: dict[str, Any]) -> None:
        for node_id, gov in self.nodes.items():
            if node_id != sender:
                self.log.append((node_id, gov.on_message(env, sender)))


class Link:
    def __init__(self, bus: Bus, me: str) -> None:
        self.bus, self.me = bus, me

    def members(self) -> list[str] | None:
        return None if self.bus.members is None else sorted(self.bus.members)

    def broadcast(self, type: str, body: dict[str, Any]) -> int:
        env = {"type": type, "sender": self.me, "body": copy.deepcopy(body)}
        if self.bus.held:
            self.bus.queue.append((self.me, env))
        else:
            self.bus.deliver(self.me, env)
        return len(self.bus.nodes) - 1


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[VirtualClock, Network, Bus, list[Governance]]]:
    clock = VirtualClock(T0)
    net = Network(clock, seed=11)
    bus = Bus()
    govs: list[Governance] = []
    stores = []
    for name in ("a", "b", "c"):
        net.add_node(name)
    for name in ("b", "c"):
        net.open_channel(name, "a", 200_000)
    net.open_channel("a", "b", 200_000)
    for name in ("a", "b", "c"):
        node = InProcessNode(net, name)
        me = node.getinfo()["id"]
        store = open_archon_store(tmp_path / f"{name}.sqlite3")
        stores.append(store)
        gov = Governance(node, store, clock, me, 50_000, lambda: DID, bus.link(me))
        gov.upgrade("governance", 100_000)
        bus.nodes[me] = gov
        govs.append(gov)
    bus.members = sorted(bus.nodes)
    yield clock, net, bus, govs
    for s in stores:
        s.close()


def _counts(gov: Governance) -> tuple[int, int]:
    polls = gov.store.query_one("SELECT COUNT(*) AS n FROM archon_polls")
    votes = gov.store.query_one("SELECT COUNT(*) AS n FROM archon_votes")
    assert polls is not None and votes is not None
    return int(polls["n"]), int(votes["n"])


def test_poll_votes_and_identical_tallies(
    fleet: tuple[VirtualClock, Network, Bus, list[Governance]],
) -> None:
    clock, _, bus, (a, b, c) = fleet
    made = a.create_poll(
        "expansion", "Open to ACINQ?", '["yes","no"]', int(T0) + 3600, {"target": "acinq"}
    )
    assert made["scope"] == "fleet" and made["sent_to"] == 2
    assert made["eligible"] == sorted(bus.nodes) and made["status"] == "active"
    pid = made["poll_id"]
    clock.advance(10)
    assert b.vote(pid, "yes", "more liquidity")["voter_id"] == b.me  # node id, never the DID
    clock.advance(10)
    c.vote(pid, "no")
    clock.advance(10)
    a.vote(pid, "spoil")
    results = [g.poll_result(pid) for g in (a, b, c)]
    assert results[0]["counts"] == {"yes": 1, "no": 1} and results[0]["spoil"] == 1
    assert results[0]["tie"] is True and results[0]["winner"] is None
    assert len({r["tally_hash"] for r in results}) == 1
    assert all(r["final"] is False and r["status"] == "active" for r in results)
    status = c.poll_status(pid)
    assert status["tally"] == {"yes": 1, "no": 1, "spoil": 1} and status["my_vote"] == "no"
    assert {v["voter"] for v in status["voters"]} == set(bus.nodes)

    clock.advance(3600 + GRACE_S)
    finals = [g.poll_result(pid) for g in (a, b, c)]
    assert all(r["final"] and r["status"] == "completed" for r in finals)
    assert a.list_polls("completed")["count"] == 1 and a.list_polls("active")["count"] == 0
    assert [v["poll_id"] for v in b.my_votes()["votes"]] == [pid]


def test_arrival_order_does_not_matter(
    fleet: tuple[VirtualClock, Network, Bus, list[Governance]],
) -> None:
    _, _, bus, (a, b, c) = fleet
    bus.held = True
    pid = a.create_poll("config_change", "Raise base fee?", ["yes", "no"], int(T0) + 600)["poll_id"]
    (poll_msg,) = bus.queue
    bus.queue = []
    b.on_message(poll_msg[1], a.me)  # only b has the poll
    b.vote(pid, "yes")
    a.vote(pid, "no")
    queue, bus.queue, bus.held = bus.queue, [], False
    for sender, env in reversed(queue):  # c gets a vote first: votes carry their poll
        bus.deliver(sender, env)
    bus.deliver(*poll_msg)  # the poll itself last: nothing new
    c.vote(pid, "yes")
    hashes = {g.poll_result(pid)["tally_hash"] for g in (a, b, c)}
    assert len(hashes) == 1
    assert a.poll_result(pid)["winner"] == "yes" and a.poll_result(pid)["majority"] is True


def test_second_vote_is_refused_without_change(
    fleet: tuple[VirtualClock, Network, Bus, list[Governance]],
) -> None:
    _, _, _, (a, b, _) = fleet
    pid = a.create_poll("expansion", "Q", ["yes", "no"], int(T0) + 600)["poll_id"]
    b.vote(pid, "yes")
    before = [_counts(g) for g in fleet[3]]
    with pytest.raises(Conflict, match="vote already exists for this voter and poll"):
        b.vote(pid, "no")
    with pytest.raises(Conflict, match="vote already exists"):
        b.vote(pid, "yes")
    assert [_counts(g) for g in fleet[3]] == before
    assert a.poll_status(pid)["tally"]["yes"] == 1


def _hand_vote(net: Network, gov: Governance, pid: str, choice: str, at: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "LnhiveVote",
        "v": 1,
        "poll_id": pid,
        "voter": gov.me,
        "choice": choice,
        "reason": "",
        "voted_at": at,
    }
    doc["sig"] = sign_message(net.nodes[gov.me].secret, signing_text(VOTE_PREFIX, doc)).zbase
    return doc


def test_equivocating_peer_counts_once_with_its_first_signed_vote(
    fleet: tuple[VirtualClock, Network, Bus, list[Governance]],
) -> None:
    """Two different signed votes by b (made by hand: b's own store would refuse the
    second): every node keeps the one signed first, whatever the order of arrival; a
    later one is ignored without any change."""
    clock, net, _, (a, b, c) = fleet
    pid = a.create_poll("expansion", "Q", ["yes", "no"], int(T0) + 600)["poll_id"]
    clock.advance(60)
    row = a.store.query_one("SELECT poll_json FROM archon_polls")
    assert row is not None
    poll_doc = json.loads(row["poll_json"])
    early = _hand_vote(net, b, pid, "no", int(T0) + 20)
    late = _hand_vote(net, b, pid, "yes", int(T0) + 30)

    def send(gov: Governance, vote: dict[str, Any]) -> dict[str, Any]:
        return gov.on_message({"type": VOTE_MSG, "body": {"poll": poll_doc, "vote": vote}}, b.me)

    assert send(a, early)["stored"] == 1
    before = a.store.query("SELECT vote_id, vote_json FROM archon_votes ORDER BY vote_id")
    assert send(a, late)["kept_earlier"] == 1
    assert send(a, early)["duplicate"] == 1
    assert a.store.query("SELECT vote_id, vote_json FROM archon_votes ORDER BY vote_id") == before
    assert send(c, late)["stored"] == 1
    assert send(c, early)["replaced"] == 1  # the earlier-signed one wins here too
    assert a.poll_result(pid)["tally_hash"] == c.poll_result(pid)["tally_hash"]
    assert c.poll_result(pid)["counts"] == {"yes": 0, "no": 1}


def test_bad_input_changes_nothing(
    fleet: tuple[VirtualClock, Network, Bus, list[Governance]],
) -> None:
    clock, _, _, (a, b, c) = fleet
    with pytest.raises(InvalidInput, match="options_json"):
        a.create_poll("expansion", "Q", "[yes", int(T0) + 600)
    with pytest.raises(InvalidInput, match="future"):
        a.create_poll("expansion", "Q", ["yes", "no"], int(T0))
    with pytest.raises(InvalidInput, match="options"):
        a.create_poll("expansion", "Q", ["yes"], int(T0) + 600)
    with pytest.raises(InvalidInput, match="metadata"):
        a.create_poll("expansion", "Q", ["yes", "no"], int(T0) + 600, "[1]")
    with pytest.raises(NotFound):
        b.vote("0" * 32, "yes")
    pid = a.create_poll("expansion", "Q", ["yes", "no"], int(T0) + 600)["poll_id"]
    with pytest.raises(InvalidInput, match="valid_choices: yes, no, spoil"):
        b.vote(pid, "maybe")
    with pytest.raises(InvalidInput, match="500"):
        b.vote(pid, "yes", "r" * 501)
    assert [_counts(g) for g in (a, b, c)] == [(1, 0)] * 3
    # voting after the deadline
    clock.advance(600)
    with pytest.raises(Conflict, match="poll is not active: status completed"):
        b.vote(pid, "yes")
    assert a.poll_status(pid)["poll"]["status"] == "completed"
    # the basic tier may read but not create or vote
    b.upgrade("basic")
    with pytest.raises(Unauthorized, match="governance tier required"):
        b.create_poll("expansion", "Q", ["yes", "no"], int(T0) + 6000)
    with pytest.raises(Unauthorized, match="governance tier required"):
        b.vote(pid, "yes")
    assert [_counts(g) for g in (a, b, c)] == [(1, 0)] * 3


def test_inbound_refusals(
    fleet: tuple[VirtualClock, Network, Bus, list[Governance]],
) -> None:
    clock, _, bus, (a, b, c) = fleet
    pid = a.create_poll("expansion", "Q", ["yes", "no"], int(T0) + 600)["poll_id"]
    row = a.store.query_one("SELECT poll_json FROM archon_polls WHERE poll_id = ?", (pid,))
    assert row is not None
    poll_doc = json.loads(row["poll_json"])

    # a malformed or forged poll is refused and stores nothing
    forged = dict(poll_doc, title="other")
    with pytest.raises(InvalidInput, match="poll_id"):
        c.on_message({"type": POLL_MSG, "body": {"poll": forged}}, a.me)
    with pytest.raises(InvalidInput):
        c.on_message({"type": POLL_MSG, "body": {"poll": "x"}}, a.me)
    with pytest.raises(InvalidInput):
        c.on_message({"type": POLL_MSG, "body": "x"}, a.me)
    assert c.on_message({"type": "archon.other", "body": {}}, a.me)["ignored"]

    # a poll whose creator or voters are not members here is refused
    bus.members = [b.me, c.me]
    fresh = c.store.query_one("SELECT COUNT(*) AS n FROM archon_polls")
    c.store.execute("DELETE FROM archon_polls")
    with pytest.raises(Unauthorized, match="creator is not a member"):
        c.on_message({"type": POLL_MSG, "body": {"poll": poll_doc}}, a.me)
    bus.members = sorted(bus.nodes)
    assert fresh is not None

    # a vote from a voter the poll does not name, or wrongly signed, is rejected
    b.vote(pid, "yes")
    vrow = b.store.query_one("SELECT vote_json FROM archon_votes WHERE voter = ?", (b.me,))
    assert vrow is not None
    vote_doc = json.loads(vrow["vote_json"])
    bad = dict(vote_doc, choice="no")
    out = a.on_message({"type": VOTE_MSG, "body": {"poll": poll_doc, "vote": bad}}, b.me)
    assert out["stored"] == 0 and "signature" in out["rejected"][0]
    # a valid vote that arrives after deadline + grace is refused: the tally is final
    c.store.execute("DELETE FROM archon_votes")
    clock.advance(600 + GRACE_S + 1)
    out = c.on_message({"type": VOTE_MSG, "body": {"poll": poll_doc, "vote": vote_doc}}, b.me)
    assert out["stored"] == 0 and "closed" in out["rejected"][0]


def test_local_only_without_a_fleet(tmp_path: Path) -> None:
    clock = VirtualClock(T0)
    net = Network(clock, seed=5)
    net.add_node("a")
    net.add_node("b")
    net.open_channel("a", "b", 100_000)
    node = InProcessNode(net, "a")
    store = open_archon_store(tmp_path / "a.sqlite3")
    try:
        gov = Governance(node, store, clock, node.getinfo()["id"], 50_000, lambda: DID)
        gov.upgrade("governance", 50_000)
        made = gov.create_poll("expansion", "Q", ["yes", "no"], int(T0) + 60)
        assert made["scope"] == "local" and made["eligible"] == [gov.me] and made["sent_to"] == 0
        assert gov.vote(made["poll_id"], "yes")["sent_to"] == 0
        assert gov.poll_result(made["poll_id"])["winner"] == "yes"
        with pytest.raises(LnhiveError):
            gov.on_message({"type": POLL_MSG, "body": {"poll": {}}}, gov.me)
    finally:
        store.close()
