"""Signed polls and votes (spec §1.5, §3.4): shapes, bounds, ids and node-key signatures."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lnhive.core.errors import InvalidInput, Unauthorized
from lnhive.core.signmessage import verify_message
from lnhive.identity.polls import (
    POLL_PREFIX,
    SPOIL,
    VOTE_PREFIX,
    check_poll,
    check_vote,
    poll_id_of,
    signing_text,
    vote_id_of,
)
from tests.identity.polls_helpers import IDS, SECRETS, T0, poll, signer, vote


def test_poll_is_content_addressed_and_signed_by_the_creator_node_key() -> None:
    p = poll()
    again = poll()
    assert p.poll_id == again.poll_id == poll_id_of(p.doc)  # deterministic (RFC 6979, fixed nonce)
    assert p.doc["sig"] == again.doc["sig"]
    assert len(p.poll_id) == 32 and p.eligible == tuple(sorted(IDS[:4]))
    assert poll(nonce="11" * 16).poll_id != p.poll_id
    text = signing_text(POLL_PREFIX, p.doc)
    assert text.startswith("lnhive:poll:v1:") and len(text) == len(POLL_PREFIX) + 64
    assert verify_message(text, p.doc["sig"], bytes.fromhex(IDS[0]))
    assert check_poll(copy.deepcopy(p.doc)).poll_id == p.poll_id
    assert p.choices == ("yes", "no", SPOIL)


def test_tampered_poll_is_refused() -> None:
    p = poll()
    doc = copy.deepcopy(p.doc)
    doc["title"] = "Close every channel?"
    with pytest.raises(InvalidInput, match="poll_id does not match"):
        check_poll(doc)
    doc["poll_id"] = poll_id_of(doc)  # id recomputed: the creator's signature no longer fits
    with pytest.raises(Unauthorized, match="poll signature does not verify"):
        check_poll(doc)
    doc = copy.deepcopy(p.doc)
    doc["creator"] = IDS[1]
    doc["poll_id"] = poll_id_of(doc)
    with pytest.raises(Unauthorized):
        check_poll(doc)
    doc = copy.deepcopy(p.doc)
    doc["sig"] = "0" * 104
    with pytest.raises(Unauthorized, match="zbase32"):
        check_poll(doc)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"poll_type": "bad type!"}, "poll_type"),
        ({"poll_type": "x" * 33}, "poll_type"),
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"options": ["only"]}, "options"),
        ({"options": [str(i) for i in range(11)]}, "options"),
        ({"options": ["yes", "yes"]}, "unique"),
        ({"options": ["yes", ""]}, "option"),
        ({"options": ["yes", "o" * 65]}, "option"),
        ({"options": ["yes", SPOIL]}, "reserved"),
        ({"options": "yes,no"}, "options"),
        ({"metadata": []}, "metadata"),
        ({"metadata": {"blob": "x" * 8200}}, "8192"),
        ({"deadline": T0}, "future"),
        ({"deadline": T0 - 1}, "future"),
        ({"deadline": T0 + 366 * 86400}, "365"),
        ({"eligible": []}, "eligible"),
        ({"eligible": ["02" + "ab" * 31]}, "eligible"),
    ],
)
def test_malformed_poll_is_refused_before_signing(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        poll(**kw)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("v", 2),
        ("v", True),
        ("type", "LnhiveVote"),
        ("created_at", "1767225600"),
        ("eligible", list(reversed(IDS[:4]))),
        ("nonce", "nonce"),
        ("extra", 1),
    ],
)
def test_malformed_signed_poll_is_refused(field: str, value: object) -> None:
    doc = copy.deepcopy(poll().doc)
    doc[field] = value
    with pytest.raises(InvalidInput):
        check_poll(doc)
    if field != "extra":
        del doc[field]
        with pytest.raises(InvalidInput):
            check_poll(doc)
    with pytest.raises(InvalidInput):
        check_poll("not a poll")


def test_vote_is_pinned_to_the_voter_node_key() -> None:
    p = poll()
    v = vote(p, 1, "yes", reason="more liquidity")
    assert v.voter == IDS[1] and v.vote_id == vote_id_of(p.poll_id, IDS[1], "yes", T0 + 60)
    assert verify_message(signing_text(VOTE_PREFIX, v.doc), v.doc["sig"], bytes.fromhex(IDS[1]))
    assert check_vote(copy.deepcopy(v.doc), p).vote_id == v.vote_id
    assert vote(p, 2, SPOIL).choice == SPOIL


def test_bad_votes_are_refused() -> None:
    p = poll()
    # not eligible (IDS[4] is not in the poll's list)
    with pytest.raises(Unauthorized, match="not eligible"):
        vote(p, 4, "yes")
    # after the deadline, at the deadline, before the poll existed
    with pytest.raises(InvalidInput, match="deadline"):
        vote(p, 1, "yes", at=T0 + 3600)
    with pytest.raises(InvalidInput, match="before the poll"):
        vote(p, 1, "yes", at=T0 - 1)
    # a choice that is not an option names the valid ones
    with pytest.raises(InvalidInput, match="valid_choices: yes, no, spoil"):
        vote(p, 1, "maybe")
    with pytest.raises(InvalidInput, match="500"):
        vote(p, 1, "yes", reason="r" * 501)
    # a vote signed by another key than the voter's
    v = vote(p, 1, "yes")
    forged = copy.deepcopy(v.doc)
    forged["sig"] = signer(SECRETS[2])(signing_text(VOTE_PREFIX, forged))
    with pytest.raises(Unauthorized, match="vote signature does not verify"):
        check_vote(forged, p)
    # any change breaks the signature
    changed = copy.deepcopy(v.doc)
    changed["choice"] = "no"
    with pytest.raises(Unauthorized):
        check_vote(changed, p)
    # a vote for another poll
    with pytest.raises(InvalidInput, match="another poll"):
        check_vote(v.doc, poll(nonce="22" * 16))
    bad = copy.deepcopy(v.doc)
    bad["voted_at"] = float(T0 + 60)
    with pytest.raises(InvalidInput, match="voted_at"):
        check_vote(bad, p)
