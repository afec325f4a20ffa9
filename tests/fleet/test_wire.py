"""The frame codec in custom message type 34865, its limits and the relay rules."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.core.signmessage import sign_message
from lnhive.fleet.envelope import MAX_TYPE_LEN, Envelope, MalformedEnvelope, verify_envelope
from lnhive.fleet.wire import (
    HIVE_MSG_TYPE,
    MAX_MESSAGE_BYTES,
    MAX_TTL,
    SIZE_LIMITS,
    Frame,
    FrameError,
    NotHiveFrame,
    body_limit,
    decode_frame,
    encode_frame,
    is_hive_payload,
    next_hop_frame,
)
from tests.fleet.conftest import Trio

SIG = sign_message(b"\x01" * 32, "anything").zbase
SENDER = "02" + "11" * 32


def _id(i: int) -> str:
    return "03" + f"{i:064x}"


def _env(body: dict[str, Any] | None = None, type_: str = "fleet.gossip") -> Envelope:
    return Envelope(
        type=type_, sender=SENDER, ts=1_767_225_600, msg_id="ab" * 16, body=body or {}, sig=SIG
    )


def _raw(doc: object, prefix: bytes = b"\x88\x31") -> str:
    return (prefix + json.dumps(doc).encode()).hex()


def _doc(ttl: Any = 3, path: Any = None, env: Any = None) -> dict[str, Any]:
    return {
        "hdr": {"ttl": ttl, "path": [] if path is None else path},
        "env": env or _env().to_json(),
    }


def test_round_trip_and_layout() -> None:
    env = _env({"capacity_sats": 5, "note": "ünïcode"})
    hexmsg = encode_frame(env, 2, [_id(1)])
    raw = bytes.fromhex(hexmsg)
    assert raw[:2] == b"\x88\x31" and HIVE_MSG_TYPE == 34865
    doc = json.loads(raw[2:].decode("utf-8"))
    assert doc == {"hdr": {"ttl": 2, "path": [_id(1)]}, "env": env.to_json()}
    frame = decode_frame(hexmsg)
    assert frame == Frame(ttl=2, path=(_id(1),), env=env)
    assert frame.encode() == hexmsg
    assert is_hive_payload(hexmsg) and not is_hive_payload("9419" + hexmsg[4:])


def _padded(n: int, limits: dict[str, int]) -> str:
    return encode_frame(_env({"pad": "x" * n}), 0, [], limits=limits)


def test_exactly_65535_bytes_accepted_65536_refused() -> None:
    limits = {"*": 100_000}
    base = len(bytes.fromhex(_padded(0, limits)))
    n = MAX_MESSAGE_BYTES - base
    exact = _padded(n, limits)
    assert len(bytes.fromhex(exact)) == MAX_MESSAGE_BYTES
    assert decode_frame(exact, limits=limits).env.body["pad"] == "x" * n
    with pytest.raises(FrameError, match="65535-byte limit"):
        _padded(n + 1, limits)
    over = (
        b"\x88\x31"
        + canonical_json(
            {"hdr": {"ttl": 0, "path": []}, "env": _env({"pad": "x" * (n + 1)}).to_json()}
        )
    ).hex()
    assert len(over) == 2 * (MAX_MESSAGE_BYTES + 1)
    with pytest.raises(FrameError, match="over the 65535-byte limit"):
        decode_frame(over, limits=limits)


def test_body_limits_per_type() -> None:
    limit = SIZE_LIMITS["fleet.ack"]
    # {"pad":"xx…"} is the pad plus 10 bytes of JCS
    at = _env({"pad": "x" * (limit - 10)}, "fleet.ack")
    assert len(canonical_json(at.body)) == limit
    decode_frame(encode_frame(at, 0, []))
    over = _env({"pad": "x" * (limit - 9)}, "fleet.ack")
    with pytest.raises(FrameError, match="over its limit of 256"):
        encode_frame(over, 0, [])
    with pytest.raises(FrameError, match="over its limit"):
        decode_frame(_raw(_doc(env=over.to_json())))
    assert body_limit("archon.vote") == SIZE_LIMITS["archon.*"]
    assert body_limit("fleet.unknown_kind") == SIZE_LIMITS["*"]
    assert body_limit("fleet.full_sync") == 60_000


@pytest.mark.parametrize("key", sorted(SIZE_LIMITS))
def test_every_limit_fits_a_fully_relayed_frame(key: str) -> None:
    # wildcard entries apply to any name in their namespace: take the longest one
    prefix = "fleet." if key == "*" else key[:-1] if key.endswith(".*") else None
    name = key if prefix is None else prefix + "z" * (MAX_TYPE_LEN - len(prefix))
    assert body_limit(name) == SIZE_LIMITS[key]
    env = Envelope(
        type=name,
        sender=SENDER,
        ts=2**53 - 1,
        msg_id="ab" * 16,
        body={"pad": "x" * (SIZE_LIMITS[key] - 10)},
        sig=SIG,
    )
    hexmsg = encode_frame(env, 0, [_id(i) for i in range(MAX_TTL)])
    assert len(hexmsg) // 2 <= MAX_MESSAGE_BYTES


@pytest.mark.parametrize(
    ("payload", "exc", "match"),
    [
        ("", FrameError, "shorter"),
        ("88", FrameError, "shorter"),
        ("883", FrameError, "not hex"),
        ("8831zz", FrameError, "not hex"),
        ("8831 7b7d", FrameError, "not hex"),
        ("8833" + "7b7d", NotHiveFrame, "type 34867"),
        ("9419" + "7b7d", NotHiveFrame, "type 37913"),
        ("8831", FrameError, "not JSON"),
        ("8831ff7b7d", FrameError, "not UTF-8"),
        ("8831" + b"{nope".hex(), FrameError, "not JSON"),
        ("8831" + b"[1,2]".hex(), FrameError, "exactly"),
        ("8831" + "5b" * 100_000 + "5d" * 100_000, FrameError, "65535-byte limit"),
        ("8831" + "5b" * 30_000 + "5d" * 30_000, FrameError, "nested too deeply|exactly"),
        ("8831" + b'{"hdr":{"ttl":'.hex() + "31" * 5000 + b"}}".hex(), FrameError, "acceptable"),
    ],
)
def test_garbage_is_refused(payload: str, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        decode_frame(payload)


def test_not_hive_frame_is_a_frame_error() -> None:
    assert issubclass(NotHiveFrame, FrameError) and issubclass(FrameError, InvalidInput)


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        (_doc(ttl=-1), "outside 0..8"),
        (_doc(ttl=9), "outside 0..8"),
        (_doc(ttl="3"), "ttl must be an integer"),
        (_doc(ttl=True), "ttl must be an integer"),
        (_doc(ttl=1.0), "ttl must be an integer"),
        (_doc(path="02ab"), "path must be a list"),
        (_doc(path=["alice"]), "node ids"),
        (_doc(path=[_id(0xABC).upper()]), "node ids"),
        (_doc(path=[_id(1), _id(1)]), "repeats"),
        (_doc(path=[SENDER]), "sender"),
        (_doc(ttl=0, path=[_id(i) for i in range(9)]), "more than 8"),
        (_doc(ttl=2, path=[_id(i) for i in range(7)]), "exceeds 8"),
        ({"hdr": {"ttl": 1, "path": []}}, "exactly"),
        ({**_doc(), "extra": 1}, "exactly"),
        ({"hdr": {"ttl": 1, "path": [], "x": 1}, "env": _env().to_json()}, "hdr must"),
        ({"hdr": [], "env": _env().to_json()}, "hdr must"),
    ],
)
def test_header_defects(doc: dict[str, Any], match: str) -> None:
    with pytest.raises(FrameError, match=match):
        decode_frame(_raw(doc))


def test_envelope_defects_and_json_tricks() -> None:
    with pytest.raises(MalformedEnvelope, match="version 2"):
        decode_frame(_raw(_doc(env=dict(_env().to_json(), v=2))))
    text = json.dumps(_doc())
    dup = text.replace('"ttl": 3', '"ttl": 3, "ttl": 1')
    with pytest.raises(FrameError, match="repeats the key"):
        decode_frame(b"\x88\x31".hex() + dup.encode().hex())
    nan = text.replace('"body": {}', '"body": {"x": NaN}')
    with pytest.raises(FrameError, match="NaN"):
        decode_frame(b"\x88\x31".hex() + nan.encode().hex())


def test_encode_refuses_bad_headers() -> None:
    with pytest.raises(FrameError, match="outside"):
        encode_frame(_env(), 9, [])
    with pytest.raises(FrameError, match="repeats"):
        encode_frame(_env(), 1, [_id(1), _id(1)])


def test_relay_rules() -> None:
    frame = decode_frame(encode_frame(_env(), 3, []))
    hops = [_id(1), _id(2), _id(3), _id(4)]
    f1 = next_hop_frame(frame, hops[0])
    assert f1 is not None and f1.ttl == 2 and f1.path == (hops[0],)
    assert decode_frame(f1.encode()) == f1
    assert next_hop_frame(f1, hops[0]) is None  # already on the path
    assert next_hop_frame(frame, SENDER) is None  # the origin never relays its own
    f2 = next_hop_frame(f1, hops[1])
    assert f2 is not None
    f3 = next_hop_frame(f2, hops[2])
    assert f3 is not None and f3.ttl == 0 and f3.path == tuple(hops[:3])
    assert next_hop_frame(f3, hops[3]) is None  # ttl exhausted
    with pytest.raises(InvalidInput):
        next_hop_frame(frame, "me")


def test_relayed_signed_frame_still_verifies(trio: Trio) -> None:
    from lnhive.fleet.envelope import new_envelope

    env = new_envelope(trio.a, trio.a.node_id, "fleet.gossip", {"v": 1}, trio.clock.now())
    relayed = next_hop_frame(decode_frame(encode_frame(env, 2, [])), trio.b.node_id)
    assert relayed is not None
    got = decode_frame(relayed.encode())
    verify_envelope(trio.c, got.env, now=trio.clock.now(), max_skew_s=300)


# -- properties ------------------------------------------------------------------------

_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(max_size=20)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_node_ids = st.builds(
    lambda n, p: p + f"{n:064x}", st.integers(0, 2**256 - 1), st.sampled_from(["02", "03"])
)
_type_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){1,3}", fullmatch=True)


@st.composite
def _frames(draw: st.DrawFn) -> Frame:
    ttl = draw(st.integers(0, MAX_TTL))
    path = draw(st.lists(_node_ids, max_size=MAX_TTL - ttl, unique=True))
    sender = draw(_node_ids.filter(lambda s: s not in path))
    env = Envelope(
        type=draw(_type_names),
        sender=sender,
        ts=draw(st.integers(0, 2**53 - 1)),
        msg_id=draw(st.binary(min_size=16, max_size=16)).hex(),
        body=draw(st.dictionaries(st.text(max_size=8), _json, max_size=5)),
        sig=SIG,
    )
    return Frame(ttl=ttl, path=tuple(path), env=env)


@given(_frames())
@settings(max_examples=200, deadline=None)
def test_property_round_trip(frame: Frame) -> None:
    hexmsg = frame.encode()
    assert decode_frame(hexmsg) == frame
    assert decode_frame(hexmsg).encode() == hexmsg


@given(_frames(), _node_ids)
@settings(max_examples=100, deadline=None)
def test_property_relay_keeps_invariants(frame: Frame, me: str) -> None:
    nxt = next_hop_frame(frame, me)
    if frame.ttl == 0 or me in frame.path or me == frame.env.sender:
        assert nxt is None
    else:
        assert nxt is not None and nxt.ttl == frame.ttl - 1 and nxt.path[-1] == me
        assert decode_frame(nxt.encode()) == nxt


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_property_garbage_only_raises_frame_errors(data: bytes) -> None:
    # anything but an InvalidInput (FrameError, MalformedEnvelope) escapes and fails
    with contextlib.suppress(InvalidInput):
        decode_frame((b"\x88\x31" + data).hex())
