"""Tickets, roster frames and the outbox's offline handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.core.store import Store
from lnhive.fleet import evidence, rostersync, wire_migrations
from lnhive.fleet.envelope import MalformedEnvelope, new_envelope
from lnhive.fleet.outbox import Outbox
from lnhive.fleet.roster import membership_hash
from lnhive.fleet.ticket import (
    MAX_TICKET_CHARS,
    BadTicket,
    check_ticket,
    decode_ticket,
    encode_ticket,
    issue_ticket,
    required_features,
)
from lnhive.fleet.wire import SIZE_LIMITS, encode_frame

from .conftest import Trio


def test_ticket_round_trips_and_verifies(trio: Trio) -> None:
    a_id = trio.a.getinfo()["id"]
    now = trio.clock.now()
    t = issue_ticket(trio.a, a_id, "hive_1", now, valid_hours=3, requirements=3)
    back = decode_ticket(t.encode())
    assert back == t
    assert back.issuer == a_id
    assert back.expires_at == int(now) + 3 * 3600
    assert back.required_features() == ["splice", "dual-fund"]
    assert check_ticket(trio.b, back, now) is back


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"valid_hours": 0}, "valid_hours"),
        ({"valid_hours": 24 * 366}, "valid_hours"),
        ({"requirements": 16}, "requirements"),
        ({"requirements": -1}, "requirements"),
    ],
)
def test_issue_ticket_rejects_bad_parameters(
    trio: Trio, kwargs: dict[str, int], match: str
) -> None:
    a_id = trio.a.getinfo()["id"]
    with pytest.raises(InvalidInput, match=match):
        issue_ticket(trio.a, a_id, "hive_1", trio.clock.now(), **kwargs)


def test_ticket_signed_by_someone_else_is_refused(trio: Trio) -> None:
    b_id = trio.b.getinfo()["id"]
    now = trio.clock.now()
    # a signs, but the envelope claims b as issuer
    env = new_envelope(
        trio.a,
        b_id,
        "fleet.ticket",
        {"hive_id": "h", "tier": "neophyte", "requirements": 0, "expires_at": int(now) + 60},
        now,
    )
    with pytest.raises(BadTicket, match="signature"):
        check_ticket(trio.c, decode_ticket(encode_ticket(env)), now)


@pytest.mark.parametrize(
    "body",
    [
        {"hive_id": "h", "tier": "member", "requirements": 0, "expires_at": 2_000_000_000},
        {"hive_id": "h", "tier": "neophyte", "requirements": 0},
        {"hive_id": "h h", "tier": "neophyte", "requirements": 0, "expires_at": 2_000_000_000},
        {"hive_id": "h", "tier": "neophyte", "requirements": 0, "expires_at": 1},
    ],
)
def test_malformed_ticket_bodies(trio: Trio, body: dict[str, object]) -> None:
    a_id = trio.a.getinfo()["id"]
    env = new_envelope(trio.a, a_id, "fleet.ticket", body, trio.clock.now())
    with pytest.raises(BadTicket):
        decode_ticket(encode_ticket(env))


def test_ticket_text_limits() -> None:
    with pytest.raises(BadTicket, match="over"):
        decode_ticket("A" * (MAX_TICKET_CHARS + 1))
    with pytest.raises(BadTicket, match="non-empty"):
        decode_ticket("")


def test_required_features_bits() -> None:
    assert required_features(0) == []
    assert required_features(15) == ["splice", "dual-fund", "anchor", "onion-msg"]


def test_membership_hash_is_order_independent_and_tier_sensitive() -> None:
    a, b = "02" + "11" * 32, "03" + "22" * 32
    assert membership_hash([(a, "member"), (b, "neophyte")]) == membership_hash(
        [(b, "neophyte"), (a, "member")]
    )
    assert membership_hash([(a, "member"), (b, "member")]) != membership_hash(
        [(a, "member"), (b, "neophyte")]
    )


def test_roster_frames_stay_under_the_limit(trio: Trio) -> None:
    """Three hundred welcomes split into several frames, each encodable."""
    a_id = trio.a.getinfo()["id"]
    now = trio.clock.now()
    joiners = [f"02{i:064x}" for i in range(1, 301)]
    chain = [
        new_envelope(
            trio.a,
            a_id,
            evidence.WELCOME,
            evidence.welcome_body("hive_1", j, f"{i:032x}", i + 1, "0" * 64),
            now,
        )
        for i, j in enumerate(joiners)
    ]
    bodies = rostersync.roster_bodies("hive_1", chain)
    assert len(bodies) >= 2
    assert [b["part"] for b in bodies] == list(range(1, len(bodies) + 1))
    assert sum(len(b["evidence"]) for b in bodies) == 300
    for body in bodies:
        assert len(canonical_json(body)) <= SIZE_LIMITS["fleet.roster"]
        env = new_envelope(trio.a, a_id, rostersync.ROSTER, body, now)
        encode_frame(env, ttl=0)
        assert rostersync.check_roster(body)[0] == "hive_1"


@pytest.mark.parametrize(
    "body",
    [
        {"hive_id": "h", "part": 2, "parts": 1, "evidence": []},
        {"hive_id": "h", "part": 1, "parts": 1, "evidence": {}},
        {"hive_id": "h", "part": 1, "parts": 1},
        {"hive_id": "h", "part": 1, "parts": 1, "evidence": [], "extra": 1},
    ],
)
def test_malformed_roster_bodies(body: dict[str, object]) -> None:
    with pytest.raises(MalformedEnvelope):
        rostersync.check_roster(body)


def test_unreachable_peer_keeps_its_retry_budget(tmp_path: Path, trio: Trio) -> None:
    store = Store(tmp_path / "o.sqlite3", wire_migrations())
    box = Outbox(store, trio.clock, max_attempts=2)
    peer = "02" + "33" * 32
    box.enqueue(peer, "8831", "a" * 32)
    for _ in range(5):
        (item,) = box.due()
        assert item.attempt == 1
        box.unreachable(peer, item.msg_id, 30.0)
        assert box.due() == []
        trio.clock.advance(31)
    assert box.get(peer, "a" * 32).status == "pending"  # type: ignore[union-attr]
    box.due()  # attempt 1, now counted; the next is 30 s or more away
    trio.clock.advance(5)
    assert box.due() == []
    assert box.wake(peer) == 1
    (item,) = box.due()
    assert item.attempt == 2
    store.close()


def test_frames_due_together_leave_in_queue_order(tmp_path: Path, trio: Trio) -> None:
    store = Store(tmp_path / "o.sqlite3", wire_migrations())
    box = Outbox(store, trio.clock)
    peer = "02" + "33" * 32
    ids = ["f" * 32, "0" * 32, "7" * 32]
    for mid in ids:
        box.enqueue(peer, "8831", mid)
    assert [p.msg_id for p in box.due()] == ids
    store.close()
