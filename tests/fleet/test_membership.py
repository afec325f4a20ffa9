"""Genesis, invitation, the handshake and membership sync, on the in-process model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.cli.fleetsim import Fleet
from lnhive.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from lnhive.fleet import evidence, handshake
from lnhive.fleet.envelope import Envelope, new_envelope
from lnhive.fleet.hive import HiveOptions
from lnhive.fleet.ticket import BadTicket, decode_ticket, encode_ticket
from lnhive.fleet.wire import encode_frame


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path, ["a", "b", "c", "d"])
    yield f
    f.close()


def _form(fleet: Fleet, *joiners: str) -> str:
    """Genesis on a; each joiner connects to a and joins with a ticket."""
    hive_id = str(fleet.hives["a"].genesis("hive_test")["hive_id"])
    for name in joiners:
        fleet.connect("a", name)
        ticket = fleet.hives["a"].invite()["ticket"]
        fleet.hives[name].join(ticket)
        fleet.settle()
    return hive_id


def _welcome_of(fleet: Fleet, name: str) -> Envelope:
    rows = fleet.hives[name].roster.evidence_list()
    return next(r.envelope for r in rows if r.type == evidence.WELCOME)


def _view(fleet: Fleet, name: str) -> list[tuple[str, str]]:
    return [(m["peer_id"], m["tier"]) for m in fleet.hives[name].members()["members"]]


def test_genesis_makes_the_founder_a_member_and_refuses_a_second(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    assert a.status()["status"] == "genesis_required"
    out = a.genesis("hive_x")
    assert out["status"] == "genesis_complete"
    assert out["admin_pubkey"] == fleet.id("a")
    status = a.status()
    assert status["status"] == "active"
    assert status["tier"] == "member"
    assert status["members"] == {"total": 1, "member": 1, "neophyte": 0}
    with pytest.raises(Conflict, match="already in hive hive_x"):
        a.genesis()


def test_genesis_rejects_a_bad_hive_id(fleet: Fleet) -> None:
    with pytest.raises(InvalidInput, match="hive_id"):
        fleet.hives["a"].genesis("bad id!")
    assert fleet.hives["a"].status()["status"] == "genesis_required"


def test_three_nodes_agree_on_members_after_ticket_joins(fleet: Fleet) -> None:
    _form(fleet, "b", "c")
    views = {name: _view(fleet, name) for name in ("a", "b", "c")}
    assert views["a"] == views["b"] == views["c"]
    assert dict(views["a"]) == {
        fleet.id("a"): "member",
        fleet.id("b"): "neophyte",
        fleet.id("c"): "neophyte",
    }
    hashes = {fleet.hives[n].status()["membership_hash"] for n in ("a", "b", "c")}
    assert len(hashes) == 1
    for name in ("b", "c"):
        status = fleet.hives[name].status()
        assert status["status"] == "active"
        assert status["tier"] == "neophyte"
        assert status["hive_id"] == "hive_test"
        assert status["pending_evidence"] == 0
    # every reliable message was acknowledged
    assert all(fleet.hives[n].outbox.pending_count() == 0 for n in ("a", "b", "c"))


def test_join_by_channel_without_a_ticket(fleet: Fleet) -> None:
    fleet.hives["a"].genesis("hive_ch")
    fleet.connect("a", "b")
    fleet.net.open_channel("b", "a", 1_000_000)
    out = fleet.hives["b"].join(peer_id=fleet.id("a"))
    assert out["via"] == "channel"
    fleet.settle()
    assert fleet.hives["b"].status()["tier"] == "neophyte"


def test_no_ticket_and_no_channel_is_not_admitted(fleet: Fleet) -> None:
    fleet.hives["a"].genesis("hive_ch")
    fleet.connect("a", "b")
    fleet.hives["b"].join(peer_id=fleet.id("a"))
    fleet.settle()
    assert fleet.hives["b"].status()["status"] == "joining"
    assert fleet.hives["a"].members()["count"] == 1
    assert fleet.hives["a"].stats["rejected.no_admission"] == 1


def test_ticket_policy_refuses_channel_admission(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, ["a", "b"], options=HiveOptions(join_policy="ticket"))
    try:
        fleet.hives["a"].genesis("hive_t")
        fleet.connect("a", "b")
        fleet.net.open_channel("b", "a", 1_000_000)
        fleet.hives["b"].join(peer_id=fleet.id("a"))
        fleet.settle()
        assert fleet.hives["a"].members()["count"] == 1
    finally:
        fleet.close()


def test_only_members_invite(fleet: Fleet) -> None:
    with pytest.raises(Conflict, match="not in a hive"):
        fleet.hives["b"].invite()
    _form(fleet, "b")
    with pytest.raises(Unauthorized, match="neophyte"):
        fleet.hives["b"].invite()


def test_join_needs_a_connection_and_a_sound_ticket(fleet: Fleet) -> None:
    fleet.hives["a"].genesis("hive_j")
    ticket = fleet.hives["a"].invite()["ticket"]
    with pytest.raises(NotFound, match="connect first"):
        fleet.hives["b"].join(ticket)
    with pytest.raises(BadTicket, match="base64url"):
        fleet.hives["b"].join("!!not a ticket!!")
    with pytest.raises(InvalidInput, match="give a ticket"):
        fleet.hives["b"].join()
    fleet.advance(25 * 3600)
    fleet.connect("a", "b")
    with pytest.raises(BadTicket, match="expired"):
        fleet.hives["b"].join(ticket)


def test_tampered_ticket_is_refused(fleet: Fleet) -> None:
    fleet.hives["a"].genesis("hive_j")
    ticket = decode_ticket(fleet.hives["a"].invite(valid_hours=2)["ticket"])
    doc = ticket.envelope.to_json()
    doc["body"]["expires_at"] += 3600 * 1000
    forged = encode_ticket(type(ticket.envelope)(**{**doc, "body": doc["body"]}))
    fleet.connect("a", "b")
    with pytest.raises(BadTicket, match="signature"):
        fleet.hives["b"].join(forged)


def test_unsolicited_welcome_is_ignored(fleet: Fleet) -> None:
    fleet.hives["a"].genesis("hive_u")
    fleet.connect("a", "b")
    a = fleet.hives["a"]
    body = evidence.welcome_body("hive_u", fleet.id("b"), "0" * 32, 2, "0" * 64)
    env = new_envelope(fleet.nodes["a"], fleet.id("a"), evidence.WELCOME, body, fleet.clock.now())
    fleet.nodes["a"].sendcustommsg(node_id=fleet.id("b"), msg=encode_frame(env, ttl=0))
    fleet.settle()
    b = fleet.hives["b"]
    assert b.status()["status"] == "genesis_required"
    assert b.stats["rejected.unsolicited"] == 1
    assert a.members()["count"] == 1


def test_welcome_from_a_member_other_than_the_one_greeted_is_ignored(fleet: Fleet) -> None:
    _form(fleet, "b")
    fleet.connect("b", "c")
    fleet.connect("a", "c")
    ticket = fleet.hives["a"].invite()["ticket"]
    fleet.hives["c"].join(ticket)  # greets a, not b
    b_welcome = evidence.welcome_body("hive_test", fleet.id("c"), "1" * 32, 3, "0" * 64)
    env = new_envelope(
        fleet.nodes["b"], fleet.id("b"), evidence.WELCOME, b_welcome, fleet.clock.now()
    )
    fleet.nodes["b"].sendcustommsg(node_id=fleet.id("c"), msg=encode_frame(env, ttl=0))
    fleet.hives["c"].process()
    assert fleet.hives["c"].stats["rejected.unsolicited"] == 1


def test_forged_attest_by_another_key_is_rejected_and_clears_the_challenge(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    a.genesis("hive_f")
    fleet.connect("a", "b")
    fleet.connect("a", "c")
    ticket = a.invite()["ticket"]
    fleet.hives["b"].join(ticket)
    a.process()  # a challenges b
    ch = a.challenges.get(fleet.id("b"), fleet.clock.now())
    assert ch is not None
    # c signs an ATTEST claiming to be b's answer, sent from c's connection: not direct
    body = handshake.attest_body("hive_f", ch.nonce, ["anchor"])
    forged = new_envelope(
        fleet.nodes["c"], fleet.id("c"), handshake.ATTEST, body, fleet.clock.now()
    )
    frame = encode_frame(forged, ttl=0)
    assert a.handle(fleet.id("b"), frame) == "not_direct"
    # c answering for itself has no challenge
    assert a.handle(fleet.id("c"), frame) == "no_challenge"
    assert a.members()["count"] == 1


def test_attest_with_a_wrong_nonce_clears_the_challenge(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    a.genesis("hive_n")
    fleet.connect("a", "b")
    fleet.hives["b"].join(a.invite()["ticket"])
    a.process()
    body = handshake.attest_body("hive_n", "ab" * 32, ["anchor"])
    env = new_envelope(fleet.nodes["b"], fleet.id("b"), handshake.ATTEST, body, fleet.clock.now())
    assert a.handle(fleet.id("b"), encode_frame(env, ttl=0)) == "bad_nonce"
    assert a.challenges.get(fleet.id("b"), fleet.clock.now()) is None
    assert a.members()["count"] == 1


def test_expired_challenge_is_not_honoured(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    a.genesis("hive_e")
    fleet.connect("a", "b")
    fleet.hives["b"].join(a.invite()["ticket"])
    a.process()  # CHALLENGE to b
    fleet.advance(200)
    fleet.hives["b"].process()  # b's ATTEST (fresh) waits in a's queue
    fleet.advance(101)  # the challenge is now 301 s old
    a.process()
    assert a.stats["rejected.no_challenge"] == 1
    assert a.members()["count"] == 1


def test_second_hello_within_ten_seconds_gets_no_challenge(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    a.genesis("hive_r")
    fleet.connect("a", "b")
    ticket = a.invite()["ticket"]
    fleet.hives["b"].join(ticket)
    a.process()
    fleet.advance(5)
    fleet.hives["b"].join(ticket)
    a.process()
    assert a.stats["rejected.challenge_rate"] == 1


def test_replayed_frame_is_a_duplicate_and_not_applied_twice(fleet: Fleet) -> None:
    _form(fleet, "b")
    b = fleet.hives["b"]
    welcome = _welcome_of(fleet, "b")
    before = b.members()
    assert b.handle(fleet.id("a"), encode_frame(welcome, ttl=0)) == "duplicate"
    assert b.members() == before


def test_membership_heals_after_a_missed_welcome(fleet: Fleet) -> None:
    """b is offline while c joins; on reconnection state hashes differ and the roster
    (re-verified evidence) brings b up to date."""
    _form(fleet, "b")
    fleet.net.disconnect("a", "b")
    fleet.connect("a", "c")
    fleet.hives["c"].join(fleet.hives["a"].invite()["ticket"])
    fleet.settle()
    assert len(_view(fleet, "b")) == 2
    fleet.connect("a", "b")
    fleet.settle()
    assert _view(fleet, "a") == _view(fleet, "b") == _view(fleet, "c")


def test_roster_from_a_member_cannot_inject_members_without_evidence(fleet: Fleet) -> None:
    """b (a neophyte) forges a welcome for d: the signer is not a member, so no row."""
    _form(fleet, "b", "c")
    body = evidence.welcome_body("hive_test", fleet.id("d"), "2" * 32, 4, "0" * 64)
    forged = new_envelope(
        fleet.nodes["b"], fleet.id("b"), evidence.WELCOME, body, fleet.clock.now()
    )
    assert fleet.hives["a"].handle(fleet.id("b"), encode_frame(forged, ttl=0)) == "accepted"
    assert fleet.id("d") not in dict(_view(fleet, "a"))
    row = fleet.hives["a"].roster.evidence(forged.msg_id)
    assert row is not None and row.status == "rejected" and "neophyte" in (row.reason or "")


def test_non_member_messages_are_ignored_without_consuming_ids(fleet: Fleet) -> None:
    _form(fleet, "b")
    fleet.connect("a", "d")
    a = fleet.hives["a"]
    body = {"hive_id": "hive_test", "membership_hash": "0" * 64, "member_count": 9}
    env = new_envelope(fleet.nodes["d"], fleet.id("d"), "fleet.state_hash", body, fleet.clock.now())
    assert a.handle(fleet.id("d"), encode_frame(env, ttl=0)) == "not_member"
    assert not a.seen.seen(env.msg_id)


def test_restart_keeps_the_roster_and_dedupe(fleet: Fleet) -> None:
    _form(fleet, "b")
    welcome = _welcome_of(fleet, "b")
    b = fleet.restart("b")
    assert b.status()["status"] == "active"
    assert b.handle(fleet.id("a"), encode_frame(welcome, ttl=0)) == "duplicate"


def test_lost_ack_leads_to_a_retry_and_no_double_apply(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    a.genesis("hive_l")
    fleet.connect("a", "b")
    fleet.hives["b"].join(a.invite()["ticket"])
    a.process()  # challenge
    fleet.hives["b"].process()  # attest
    a.process()  # welcome + roster queued in a's outbox
    a.flush_outbox()
    fleet.net.disconnect("a", "b")  # b's acks are lost with the connection
    fleet.hives["b"].process()
    fleet.hives["b"].flush_outbox()
    assert a.outbox.pending_count(fleet.id("b")) == 2
    fleet.connect("a", "b")
    fleet.settle()
    assert a.outbox.pending_count(fleet.id("b")) == 0
    assert fleet.hives["b"].stats["duplicate"] >= 1
    assert _view(fleet, "a") == _view(fleet, "b")
