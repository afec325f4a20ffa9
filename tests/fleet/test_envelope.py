"""Envelope signing and verification on the in-process network model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lnhive.cln.api import Json
from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput, Unauthorized
from lnhive.core.hashing import sha256_hex
from lnhive.fleet.envelope import (
    FIELDS,
    SIGNING_PREFIX,
    BadSignature,
    Envelope,
    MalformedEnvelope,
    StaleEnvelope,
    new_envelope,
    parse_envelope,
    verify_embedded,
    verify_envelope,
)
from lnhive.sim.network import InProcessNode
from tests.fleet.conftest import Trio

SKEW = 300.0


def _signed(trio: Trio, body: dict[str, Any] | None = None, **kw: Any) -> Envelope:
    now = trio.clock.now()
    return new_envelope(
        trio.a, trio.a.node_id, kw.pop("type", "fleet.hello"), body or {"n": 1}, now, **kw
    )


def test_round_trip_a_signs_b_verifies(trio: Trio) -> None:
    env = _signed(trio, {"pubkey": trio.a.node_id, "versions": [1]})
    wire = json.loads(json.dumps(env.to_json()))
    got = verify_envelope(trio.b, wire, now=trio.clock.now(), max_skew_s=SKEW)
    assert got == env
    assert list(wire) == list(FIELDS)
    assert len(env.msg_id) == 32 and env.ts == int(trio.clock.now())


def test_signature_is_signmessage_over_the_fleet_text(trio: Trio) -> None:
    env = _signed(trio)
    unsigned = {k: v for k, v in env.to_json().items() if k != "sig"}
    text = SIGNING_PREFIX + sha256_hex(canonical_json(unsigned))
    assert text.startswith("lnhive:fleet:v1:") and env.signing_text() == text
    check = trio.c.checkmessage(message=text, zbase=env.sig, pubkey=trio.a.node_id)
    assert check["verified"] is True


def test_random_msg_ids_differ(trio: Trio) -> None:
    assert _signed(trio).msg_id != _signed(trio).msg_id


def test_claimed_by_c_but_signed_by_a_is_refused(trio: Trio) -> None:
    env = _signed(trio)
    forged = dict(env.to_json(), sender=trio.c.node_id)
    with pytest.raises(BadSignature, match=trio.c.node_id):
        verify_envelope(trio.b, forged, now=trio.clock.now(), max_skew_s=SKEW)


def test_resigned_by_a_for_c_is_refused(trio: Trio) -> None:
    # A signs an envelope that names C as sender: the signature is A's, not C's.
    env = new_envelope(trio.a, trio.c.node_id, "fleet.hello", {}, trio.clock.now())
    with pytest.raises(Unauthorized):
        verify_envelope(trio.b, env.to_json(), now=trio.clock.now(), max_skew_s=SKEW)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body", {"n": 2}),
        ("ts", None),
        ("type", "fleet.goodbye"),
        ("msg_id", "0" * 32),
    ],
)
def test_tampering_breaks_the_signature(trio: Trio, field: str, value: Any) -> None:
    env = _signed(trio).to_json()
    env[field] = env["ts"] - 1 if field == "ts" else value
    with pytest.raises(BadSignature):
        verify_envelope(trio.b, env, now=trio.clock.now(), max_skew_s=SKEW)


def test_key_order_does_not_matter(trio: Trio) -> None:
    env = _signed(trio, {"b": 1, "a": {"z": [1, 2], "y": "é"}})
    doc = env.to_json()
    shuffled = {k: doc[k] for k in reversed(list(doc))}
    shuffled["body"] = {"a": {"y": "é", "z": [1, 2]}, "b": 1}
    text = json.dumps(shuffled, indent=2, ensure_ascii=True)
    got = verify_envelope(trio.b, json.loads(text), now=trio.clock.now(), max_skew_s=SKEW)
    assert got.canonical() == env.canonical()


def test_skew_window_both_ways(trio: Trio) -> None:
    env = _signed(trio).to_json()
    now = trio.clock.now()
    verify_envelope(trio.b, env, now=now + SKEW, max_skew_s=SKEW)
    verify_envelope(trio.b, env, now=now - SKEW, max_skew_s=SKEW)
    with pytest.raises(StaleEnvelope, match="old"):
        verify_envelope(trio.b, env, now=now + SKEW + 1, max_skew_s=SKEW)
    with pytest.raises(StaleEnvelope, match="future"):
        verify_envelope(trio.b, env, now=now - SKEW - 1, max_skew_s=SKEW)


def test_expected_type(trio: Trio) -> None:
    env = _signed(trio).to_json()
    with pytest.raises(MalformedEnvelope, match=r"expected a fleet\.ack"):
        verify_envelope(
            trio.b, env, now=trio.clock.now(), max_skew_s=SKEW, expected_type="fleet.ack"
        )


def _mutate(doc: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    out = dict(doc)
    if value is _DROP:
        del out[field]
    else:
        out[field] = value
    return out


_DROP = object()


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("sig", _DROP, "lacks field"),
        ("body", _DROP, "lacks field"),
        ("extra", 1, "unknown field"),
        ("v", 2, "version 2"),
        ("v", 0, "version 0"),
        ("v", True, "v must be an integer"),
        ("v", "1", "v must be an integer"),
        ("type", "Fleet.Hello", "dotted lowercase"),
        ("type", "hello", "dotted lowercase"),
        ("type", "fleet..hello", "dotted lowercase"),
        ("type", "fleet.hello.", "dotted lowercase"),
        ("type", "fleet." + "x" * 60, "dotted lowercase"),
        ("type", 7, "type must be a string"),
        ("sender", "02" + "A" * 64, "sender"),
        ("sender", "04" + "a" * 64, "sender"),
        ("sender", "02" + "a" * 63, "sender"),
        ("ts", 1.5, "ts must be an integer"),
        ("ts", True, "ts must be an integer"),
        ("ts", -1, "out of range"),
        ("ts", 2**53, "out of range"),
        ("msg_id", "a" * 31, "msg_id"),
        ("msg_id", "A" * 32, "msg_id"),
        ("msg_id", "g" * 32, "msg_id"),
        ("body", [], "body must be a JSON object"),
        ("body", {"x": float("nan")}, "body"),
        ("body", {"x": 2**60}, "body"),
        ("sig", 5, "sig must be a string"),
    ],
)
def test_structural_defects(trio: Trio, field: str, value: Any, match: str) -> None:
    doc = _mutate(_signed(trio).to_json(), field, value)
    with pytest.raises(MalformedEnvelope, match=match) as info:
        verify_envelope(trio.b, doc, now=trio.clock.now(), max_skew_s=SKEW)
    assert info.value.error_symbol == "invalid_input"


@pytest.mark.parametrize(
    "sig",
    ["", "y" * 103, "y" * 104, "l" * 104, "9" * 104],
)
def test_malformed_signatures_never_reach_the_node(trio: Trio, sig: str) -> None:
    doc = dict(_signed(trio).to_json(), sig=sig)
    with pytest.raises(BadSignature) as info:
        verify_envelope(trio.b, doc, now=trio.clock.now(), max_skew_s=SKEW)
    assert info.value.error_symbol == "unauthorized"


def test_not_an_object(trio: Trio) -> None:
    with pytest.raises(MalformedEnvelope, match="JSON object"):
        parse_envelope([1, 2])


def test_new_envelope_refuses_bad_arguments(trio: Trio) -> None:
    now = trio.clock.now()
    with pytest.raises(InvalidInput, match="dotted"):
        new_envelope(trio.a, trio.a.node_id, "HELLO", {}, now)
    with pytest.raises(InvalidInput, match="sender"):
        new_envelope(trio.a, "alice", "fleet.hello", {}, now)
    with pytest.raises(InvalidInput, match="msg_id"):
        new_envelope(trio.a, trio.a.node_id, "fleet.hello", {}, now, msg_id="xyz")
    with pytest.raises(InvalidInput, match="body"):
        new_envelope(trio.a, trio.a.node_id, "fleet.hello", {"x": float("inf")}, now)
    env = new_envelope(trio.a, trio.a.node_id, "fleet.hello", {}, now, msg_id="ab" * 16)
    assert env.msg_id == "ab" * 16


def test_evidence_embedded_verbatim(trio: Trio) -> None:
    trio.clock.advance(3 * 86_400)
    now = trio.clock.now()
    vouch = new_envelope(
        trio.c, trio.c.node_id, "fleet.vouch", {"target": trio.a.node_id}, now - 86_400
    )
    outer = new_envelope(
        trio.a, trio.a.node_id, "fleet.promotion", {"vouches": [vouch.to_json()]}, now
    )
    received = verify_envelope(
        trio.b, json.loads(json.dumps(outer.to_json())), now=now, max_skew_s=SKEW
    )
    inner = received.body["vouches"][0]
    got = verify_embedded(
        trio.b,
        inner,
        now=now,
        max_age_s=7 * 86_400,
        expected_type="fleet.vouch",
        expected_sender=trio.c.node_id,
    )
    assert got == vouch
    with pytest.raises(StaleEnvelope):
        verify_embedded(trio.b, inner, now=now, max_age_s=3_600)
    with pytest.raises(BadSignature, match="expected"):
        verify_embedded(
            trio.b, inner, now=now, max_age_s=7 * 86_400, expected_sender=trio.a.node_id
        )
    with pytest.raises(MalformedEnvelope, match=r"fleet\.ban_vote"):
        verify_embedded(
            trio.b, inner, now=now, max_age_s=7 * 86_400, expected_type="fleet.ban_vote"
        )
    tampered = dict(inner, body={"target": trio.b.node_id})
    with pytest.raises(BadSignature):
        verify_embedded(trio.b, tampered, now=now, max_age_s=7 * 86_400)


class _IgnoresExpectedKey(InProcessNode):
    """A node whose ``checkmessage`` drops the expected pubkey, as CLN's does when the
    caller forgets it: it then answers for any signer it knows from gossip."""

    def checkmessage(self, *, message: str, zbase: str, pubkey: str | None = None) -> Json:
        return super().checkmessage(message=message, zbase=zbase)


def test_recovered_key_must_be_the_sender_even_if_the_node_says_verified(trio: Trio) -> None:
    trio.net.open_channel("a", "b", 1_000_000)
    trio.clock.advance(3600)  # let B learn A from gossip
    lax = _IgnoresExpectedKey(trio.net, "b")
    env = new_envelope(trio.a, trio.c.node_id, "fleet.hello", {}, trio.clock.now())
    answer = lax.checkmessage(message=env.signing_text(), zbase=env.sig, pubkey=trio.c.node_id)
    assert answer == {"pubkey": trio.a.node_id, "verified": True}
    with pytest.raises(BadSignature, match=f"is by {trio.a.node_id}"):
        verify_envelope(lax, env.to_json(), now=trio.clock.now(), max_skew_s=SKEW)
