"""Attacks and bad input from spec §8 items 25-32 not covered elsewhere: oversize and
garbage frames, floods from a member, a restart in the middle of a promotion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.cli.fleetsim import Fleet
from lnhive.fleet import promotion
from lnhive.fleet.envelope import new_envelope
from lnhive.fleet.hive import MAX_QUEUE
from lnhive.fleet.wire import TYPE_PREFIX, encode_frame

NAMES = ["a", "b", "c"]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path, NAMES)
    f.hives["a"].genesis("hive_x")
    for name in NAMES[1:]:
        f.advance(11)
        f.connect("a", name)
        f.hives[name].join(f.hives["a"].invite()["ticket"])
        f.settle()
    f.connect("b", "c")
    f.settle()
    yield f
    f.close()


@pytest.mark.parametrize(
    "payload",
    [
        "",  # empty
        "8831",  # magic only
        "88",  # shorter than the type
        TYPE_PREFIX.hex() + "7b",  # "{": not JSON
        TYPE_PREFIX.hex() + b'{"hdr":{"ttl":0,"path":[]},"env":[]}'.hex(),
        "zz" * 10,  # not hex
        "4849" + "00" * 10,  # another type: not ours
    ],
)
def test_garbage_frames_change_nothing(fleet: Fleet, payload: str) -> None:
    a = fleet.hives["a"]
    before = (a.members(), a.seen.count())
    a.receive(fleet.id("b"), payload)
    a.handle(fleet.id("b"), payload)
    a.process()
    assert (a.members(), a.seen.count()) == before


def test_oversized_payload_is_dropped_at_the_hook(fleet: Fleet) -> None:
    a = fleet.hives["a"]
    assert a.receive(fleet.id("b"), TYPE_PREFIX.hex() + "00" * 70_000) is False
    assert a.stats["rejected.oversize"] == 1
    assert a.queued() == 0


def test_a_flooding_member_is_rate_limited_with_bounded_memory(fleet: Fleet) -> None:
    a, b = fleet.hives["a"], fleet.nodes["b"]
    now = fleet.clock.now()
    frames = [
        encode_frame(new_envelope(b, fleet.id("b"), "archon.flood", {"i": i}, now))
        for i in range(60)
    ]
    accepted = a.stats["accepted"]
    for frame in frames:
        a.receive(fleet.id("b"), frame)
    a.process()
    # archon.* is the default class: a burst of 20, then nothing more in the same second
    let_through = a.stats["accepted"] - accepted
    assert 10 <= let_through <= 20  # the burst, less what b's earlier traffic used
    assert a.stats["rejected.rate_limited"] == 60 - let_through
    # the queue is bounded: a flood beyond it is dropped at the hook, never stored
    for _ in range(MAX_QUEUE + 5):
        a.receive(fleet.id("b"), frames[0])
    assert a.queued() == MAX_QUEUE
    assert a.stats["rejected.queue_full"] == 5


def test_restart_mid_promotion_applies_nothing_twice(fleet: Fleet) -> None:
    """a (the only member) force-promotes b; c restarts before the promotion reaches it,
    then receives it (and a replay of it) after the restart."""
    a = fleet.hives["a"]
    fleet.net.disconnect("a", "c")
    fleet.net.disconnect("b", "c")
    a.force_promote(fleet.id("b"))
    fleet.settle()
    c = fleet.restart("c")
    version_before = c.gossip_now()["version"]
    fleet.connect("a", "c")
    fleet.settle()
    tiers = {m["peer_id"]: m["tier"] for m in c.members()["members"]}
    assert tiers[fleet.id("b")] == "member"
    promo = next(r.envelope for r in c.roster.evidence_list() if r.type == promotion.PROMOTION)
    before = c.members()
    # it came inside a roster; replayed live it is accepted once, then a duplicate,
    # and neither changes anything
    assert c.handle(fleet.id("a"), encode_frame(promo)) == "accepted"
    assert c.handle(fleet.id("a"), encode_frame(promo)) == "duplicate"
    assert c.members() == before
    assert sum(1 for r in c.roster.evidence_list() if r.type == promotion.PROMOTION) == 1
    fleet.advance(11)
    assert c.gossip_now()["version"] > version_before
