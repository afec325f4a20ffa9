"""Promotion by vouches and bans by vote (spec §1.5, §1.6, §8 tests 8, 16, 21, 30)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.cli.fleetsim import Fleet
from lnhive.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from lnhive.fleet import bans, promotion
from lnhive.fleet.envelope import new_envelope
from lnhive.fleet.wire import encode_frame

NAMES = ["a", "b", "c", "d", "e"]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """a founds; b..e join through a; everyone is connected to everyone."""
    f = Fleet(tmp_path, NAMES)
    f.hives["a"].genesis("hive_g")
    for name in NAMES[1:]:
        f.advance(11)
        f.connect("a", name)
        f.hives[name].join(f.hives["a"].invite()["ticket"])
        f.settle()
    for i, x in enumerate(NAMES[1:], 1):
        for y in NAMES[i + 1 :]:
            f.connect(x, y)
    f.settle()
    yield f
    f.close()


def _tiers(fleet: Fleet, name: str) -> dict[str, str]:
    return {m["peer_id"]: m["tier"] for m in fleet.hives[name].members()["members"]}


def _agree(fleet: Fleet, names: list[str]) -> bool:
    return len({fleet.hives[n].status()["membership_hash"] for n in names}) == 1


def _members_bcd(fleet: Fleet) -> None:
    """b by force-promote (quorum 1 era), c by force-promote (2 members), d by vouches."""
    fleet.hives["a"].force_promote(fleet.id("b"))
    fleet.settle()
    fleet.hives["a"].force_promote(fleet.id("c"))
    fleet.settle()
    # three members now: quorum max(2, ceil(1.53)) = 2
    fleet.hives["a"].vouch(fleet.id("d"))
    fleet.settle()
    assert _tiers(fleet, "a")[fleet.id("d")] == "neophyte"
    fleet.hives["b"].vouch(fleet.id("d"))
    fleet.settle()


@pytest.mark.parametrize(("members", "quorum"), [(1, 1), (2, 2), (3, 2), (4, 3), (10, 6)])
def test_promotion_quorum(members: int, quorum: int) -> None:
    assert promotion.quorum(members) == quorum


@pytest.mark.parametrize(("eligible", "needed"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 4)])
def test_ban_threshold_is_two_thirds(eligible: int, needed: int) -> None:
    assert bans.needed(eligible) == needed


def test_promotions_converge_everywhere(fleet: Fleet) -> None:
    _members_bcd(fleet)
    for name in NAMES:
        tiers = _tiers(fleet, name)
        assert [tiers[fleet.id(n)] for n in NAMES] == [
            "member",
            "member",
            "member",
            "member",
            "neophyte",
        ]
    assert _agree(fleet, NAMES)


def test_force_promote_is_only_for_bootstrapping(fleet: Fleet) -> None:
    _members_bcd(fleet)
    with pytest.raises(Conflict, match="bootstrapping only"):
        fleet.hives["a"].force_promote(fleet.id("e"))
    assert _tiers(fleet, "a")[fleet.id("e")] == "neophyte"


def test_neophytes_cannot_vouch_or_ban_and_no_self_vouch(fleet: Fleet) -> None:
    with pytest.raises(Unauthorized, match="only members"):
        fleet.hives["e"].vouch(fleet.id("d"))
    with pytest.raises(Unauthorized, match="only members"):
        fleet.hives["e"].propose_ban(fleet.id("d"))
    with pytest.raises(InvalidInput, match="itself"):
        fleet.hives["a"].vouch(fleet.id("a"))
    with pytest.raises(NotFound):
        fleet.hives["a"].vouch("02" + "77" * 32)


def test_a_neophytes_forged_vouch_does_not_count(fleet: Fleet) -> None:
    _members_bcd(fleet)
    a = fleet.hives["a"]
    body = promotion.vouch_body("hive_g", fleet.id("d"))
    env = new_envelope(fleet.nodes["e"], fleet.id("e"), promotion.VOUCH, body, fleet.clock.now())
    assert a.handle(fleet.id("e"), encode_frame(env)) == "not_member_tier"


def test_a_promotion_without_enough_vouches_is_rejected(fleet: Fleet) -> None:
    _members_bcd(fleet)  # four members: quorum 3
    a = fleet.hives["a"]
    vouch = new_envelope(
        fleet.nodes["a"],
        fleet.id("a"),
        promotion.VOUCH,
        promotion.vouch_body("hive_g", fleet.id("e")),
        fleet.clock.now(),
    )
    body = promotion.promotion_body("hive_g", fleet.id("e"), [promotion.check_vouch(vouch)])
    promo = new_envelope(
        fleet.nodes["b"], fleet.id("b"), promotion.PROMOTION, body, fleet.clock.now()
    )
    assert a.handle(fleet.id("b"), encode_frame(promo)) == "accepted"
    assert _tiers(fleet, "a")[fleet.id("e")] == "neophyte"
    row = a.roster.evidence(promo.msg_id)
    assert row is not None and row.status == "rejected" and "of 3 needed" in (row.reason or "")


def test_a_ban_passes_at_two_thirds_and_late_votes_change_nothing(fleet: Fleet) -> None:
    """Members a, b, c, d; e (neophyte) misbehaves: eligible 4, needed 3."""
    _members_bcd(fleet)
    a, b, c = fleet.hives["a"], fleet.hives["b"], fleet.hives["c"]
    e = fleet.id("e")
    out = a.propose_ban(e, "flooding")
    assert out["approvals"] == 1 and out["needed"] == 3 and out["eligible"] == 4
    fleet.settle()
    pid = out["proposal_id"]
    assert b.vote_ban(pid, "approve")["status"] == "open"
    fleet.settle()
    assert e in _tiers(fleet, "a")  # two approvals of three: not yet
    c.vote_ban(pid, "approve")
    fleet.settle()
    for name in ("a", "b", "c", "d"):
        assert e not in _tiers(fleet, name)
        assert [x["peer_id"] for x in fleet.hives[name].roster.banned()] == [e]
    assert _agree(fleet, ["a", "b", "c", "d"])
    # d's late vote: the ballot is closed
    with pytest.raises(Conflict, match="closed"):
        fleet.hives["d"].vote_ban(pid, "approve")
    # e learned it too, and its traffic is dropped from now on
    assert fleet.hives["e"].status()["status"] == "banned"
    assert fleet.hives["a"].hivemap.get(e) is None
    msg = new_envelope(fleet.nodes["e"], e, "archon.note", {}, fleet.clock.now())
    assert fleet.hives["a"].handle(e, encode_frame(msg)) == "banned"
    # a new proposal against e within 7 days is refused (e is not in the roster anyway)
    with pytest.raises(NotFound):
        a.propose_ban(e)


def test_silence_is_not_approval_and_rejections_do_not_count(fleet: Fleet) -> None:
    _members_bcd(fleet)
    a, b, c = fleet.hives["a"], fleet.hives["b"], fleet.hives["c"]
    pid = a.propose_ban(fleet.id("e"))["proposal_id"]
    fleet.settle()
    b.vote_ban(pid, "reject")
    c.vote_ban(pid, "approve")
    fleet.settle()
    fleet.advance(8 * 86_400)  # the proposal expires
    fleet.settle()
    assert fleet.id("e") in _tiers(fleet, "a")
    with pytest.raises(Conflict, match="closed"):
        fleet.hives["d"].vote_ban(pid, "approve")


def test_one_vote_per_member_and_the_target_cannot_vote(fleet: Fleet) -> None:
    _members_bcd(fleet)
    a, b, d = fleet.hives["a"], fleet.hives["b"], fleet.hives["d"]
    pid = a.propose_ban(fleet.id("d"))["proposal_id"]
    fleet.settle()
    b.vote_ban(pid, "reject")
    with pytest.raises(Conflict, match="already voted"):
        b.vote_ban(pid, "approve")
    with pytest.raises(Conflict, match="already voted"):
        a.vote_ban(pid, "approve")  # the proposer approved by proposing
    with pytest.raises(Unauthorized, match="target"):
        d.vote_ban(pid, "reject")
    with pytest.raises(Conflict, match="already open"):
        fleet.hives["c"].propose_ban(fleet.id("d"))


def test_a_forged_ban_without_votes_bans_no_one(fleet: Fleet) -> None:
    _members_bcd(fleet)
    a = fleet.hives["a"]
    now = fleet.clock.now()
    prop_env = new_envelope(
        fleet.nodes["b"],
        fleet.id("b"),
        bans.PROPOSAL,
        bans.proposal_body("hive_g", fleet.id("c"), "", now),
        now,
    )
    ban = new_envelope(
        fleet.nodes["b"],
        fleet.id("b"),
        bans.BAN,
        bans.ban_body(bans.check_proposal(prop_env), []),
        now,
    )
    assert a.handle(fleet.id("b"), encode_frame(ban)) == "accepted"
    assert fleet.id("c") in _tiers(fleet, "a")
    row = a.roster.evidence(ban.msg_id)
    assert row is not None and row.status == "rejected"


def test_a_new_member_learns_bans_and_promotions_from_the_roster(fleet: Fleet) -> None:
    _members_bcd(fleet)
    a = fleet.hives["a"]
    pid = a.propose_ban(fleet.id("e"))["proposal_id"]
    fleet.settle()
    fleet.hives["b"].vote_ban(pid, "approve")
    fleet.hives["c"].vote_ban(pid, "approve")
    fleet.settle()
    fleet.net.add_node("f")
    fleet.start("f")
    fleet.advance(11)
    fleet.connect("a", "f")
    fleet.hives["f"].join(a.invite()["ticket"])
    fleet.settle()
    tiers = _tiers(fleet, "f")
    assert fleet.id("e") not in tiers
    assert tiers[fleet.id("d")] == "member"
    assert [x["peer_id"] for x in fleet.hives["f"].roster.banned()] == [fleet.id("e")]


def test_vouches_and_gossip_reach_members_through_relays(tmp_path: Path) -> None:
    """Spec §8 test 17: d is linked only to c; its gossip and a's vouch cross the line
    a - b - c - d by relay, and each node processes each message once."""
    f = Fleet(tmp_path, ["a", "b", "c", "d"])
    try:
        f.hives["a"].genesis("hive_r")
        for name in ("b", "c", "d"):
            f.advance(11)
            f.connect("a", name)
            f.hives[name].join(f.hives["a"].invite()["ticket"])
            f.settle()
        f.net.disconnect("a", "c")
        f.net.disconnect("a", "d")
        f.connect("b", "c")
        f.connect("c", "d")
        f.advance(11)
        for name in ("a", "b", "c", "d"):
            f.hives[name].gossip_now()  # records learn the line's links
        f.settle()
        f.hives["a"].force_promote(f.id("b"))  # two members: a, b
        f.settle()
        assert f.hives["d"].roster.tier(f.id("b")) == "member"
        f.advance(11)
        applied = {n: f.hives[n].stats["gossip.applied"] for n in ("a", "b", "c")}
        version = f.hives["d"].gossip_now()["version"]
        f.settle()
        for name in ("a", "b", "c"):
            assert f.hives[name].hivemap.versions()[f.id("d")] == version
            assert f.hives[name].stats["gossip.applied"] - applied[name] == 1  # once each
        f.hives["a"].vouch(f.id("c"))
        f.hives["b"].vouch(f.id("c"))
        f.settle()
        for name in ("a", "b", "c", "d"):
            assert f.hives[name].roster.tier(f.id("c")) == "member"
    finally:
        f.close()
