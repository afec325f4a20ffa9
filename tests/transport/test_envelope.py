"""Envelope v1: structure, limits, clock, recipient binding and signatures (spec §5.1-5.3, §8 tests 2-8)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnhive.core import bip340
from lnhive.core.canonical import canonical_json
from lnhive.core.errors import ClockSkew, InvalidRequest, PayloadTooLarge, Unauthorized
from lnhive.transport import jsonlimits
from lnhive.transport.envelope import (
    FIELDS,
    MAX_NONCE,
    build_envelope,
    encode_envelope,
    parse_envelope,
    verify_envelope,
)
from tests.transport.keys import (
    ADVISOR,
    ADVISOR_SECRET,
    NODE_NOSTR,
    OTHER_ADVISOR,
    OTHER_ADVISOR_SECRET,
    OTHER_NODE_NOSTR,
    T0,
    envelope,
)


def verify(env: Any, now: float = T0, **kw: Any) -> Any:
    return verify_envelope(env, recipient=NODE_NOSTR, now=now, **kw)


def test_roundtrip_as_object_text_and_bytes() -> None:
    env = envelope(nonce=42)
    for raw in (env, json.dumps(env), encode_envelope(env), json.dumps(env, indent=2)):
        got = verify(raw)
        assert got.sender == ADVISOR
        assert got.nonce == 42
        assert got.action == "set_anchor"
        assert got.params == {"channel_id": "931770x2363x0", "target_fee_ppm": 150}
        assert got.to_json() == env


def test_reordered_keys_still_verify() -> None:
    env = envelope()
    items = list(env.items())
    random.Random(1).shuffle(items)
    shuffled = dict(reversed(items))
    assert list(shuffled) != list(env)
    assert verify(json.dumps(shuffled)).to_json() == env


def test_request_hash_is_sha256_of_whole_signed_envelope() -> None:
    env = envelope()
    parsed = parse_envelope(env)
    assert parsed.canonical() == canonical_json(env)
    import hashlib

    assert parsed.request_hash() == hashlib.sha256(canonical_json(env)).hexdigest()


# -- structure: invalid_request ------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
def test_missing_field(field: str) -> None:
    env = envelope()
    del env[field]
    with pytest.raises(InvalidRequest, match=f"missing {field}"):
        parse_envelope(env)


def test_unknown_top_level_key() -> None:
    env = envelope()
    env["extra"] = 1
    with pytest.raises(InvalidRequest, match="unknown key"):
        parse_envelope(env)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("v", True),
        ("v", 2),
        ("v", "1"),
        ("nonce", True),
        ("nonce", 0),
        ("nonce", -1),
        ("nonce", 1.0),
        ("nonce", "5"),
        ("nonce", MAX_NONCE + 1),
        ("timestamp", True),
        ("timestamp", -1),
        ("timestamp", 1.5),
        ("schema_type", 5),
        ("schema_type", ""),
        ("schema_type", "hive:x/v1 drop"),
        ("schema_payload", None),
        ("schema_payload", "set_anchor"),
        ("schema_payload", {"action": "x"}),
        ("schema_payload", {"params": {}}),
        ("schema_payload", {"action": "x", "params": {}, "method": "close"}),
        ("schema_payload", {"action": "x", "params": []}),
        ("schema_payload", {"action": 1, "params": {}}),
        ("sender", "5605405148d6fc25c5f70d9d7a60048b2f417436c5a07d83194a276bf7d60458"),
        ("sender", "nostr:" + "A" * 64),
        ("sender", "node:02" + "a" * 64),
        ("recipient", "nostr:" + NODE_NOSTR),
        ("recipient", NODE_NOSTR.upper()),
        ("credential", None),
        ("credential", {"mode": "bip340"}),
        ("credential", {"mode": "hmac", "id": "c"}),
        ("credential", {"mode": "bip340", "id": "c", "token": "t"}),
        ("credential", {"mode": "bip340", "id": ""}),
        ("payment_proof", {}),
        ("payment_proof", {"method": "bolt11"}),
        ("confirm_action_id", 5),
        ("confirm_action_id", ""),
        ("signature", "bip340:" + "0" * 127),
        ("signature", "hmac-sha256:" + "0" * 64),
        ("signature", "bip340:" + "A" * 128),
        ("signature", None),
    ],
)
def test_mistyped_fields(field: str, value: Any) -> None:
    env = envelope()
    env[field] = value
    with pytest.raises(InvalidRequest):
        parse_envelope(env)


@pytest.mark.parametrize("raw", ["[]", "5", '"x"', "null", "{", "not json", b"\xff\xfe{}"])
def test_non_object_or_not_json(raw: str | bytes) -> None:
    with pytest.raises(InvalidRequest):
        parse_envelope(raw)


def test_duplicate_keys_refused() -> None:
    text = json.dumps(envelope())
    dup = text[:-1] + ', "nonce": 99}'
    with pytest.raises(InvalidRequest, match="duplicate key"):
        parse_envelope(dup)


@pytest.mark.parametrize("const", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_refused(const: str) -> None:
    text = json.dumps(envelope()).replace('"target_fee_ppm": 150', f'"target_fee_ppm": {const}')
    assert const in text
    with pytest.raises(InvalidRequest):
        parse_envelope(text)


def test_big_integer_in_params_refused() -> None:
    env = envelope()
    env["schema_payload"]["params"]["amount_msat"] = 2**53
    with pytest.raises(InvalidRequest):
        parse_envelope(env)


# -- limits ---------------------------------------------------------------------------


def _padded(size: int) -> dict[str, Any]:
    """An unsigned-shaped envelope (placeholder signature) whose JCS is exactly ``size`` bytes."""
    env = envelope()
    env["signature"] = "bip340:" + "0" * 128
    base = len(canonical_json(env))
    chunks: list[str] = []
    env["schema_payload"]["params"]["pad"] = chunks
    overhead = len(canonical_json(env)) - base
    remaining = size - base - overhead
    while remaining > 0:
        # each chunk costs len + 2 quotes (+1 comma after the first)
        cost_extra = 2 + (1 if chunks else 0)
        n = min(jsonlimits.MAX_STRING_CHARS, remaining - cost_extra)
        chunks.append("x" * n)
        remaining -= n + cost_extra
    assert len(canonical_json(env)) == size
    return env


def test_size_limit_is_65535_jcs_bytes() -> None:
    ok = _padded(65_535)
    assert parse_envelope(ok).size == 65_535  # structure passes (signature is checked later)
    with pytest.raises(PayloadTooLarge, match=r"exceeds maximum size \(65535 bytes\)"):
        parse_envelope(_padded(65_536))


def test_raw_text_guard() -> None:
    text = " " * (jsonlimits.MAX_RAW_BYTES + 1)
    with pytest.raises(PayloadTooLarge):
        parse_envelope(text)


def _nest(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"n": value}
    return value


def test_depth_8_accepted_9_refused() -> None:
    # envelope 1, schema_payload 2, params 3: five more objects inside params reach 8
    ok = envelope(params=_nest(5))
    assert parse_envelope(ok).params == _nest(5)
    with pytest.raises(InvalidRequest, match="deeper than 8"):
        envelope(params=_nest(6))
    deep = envelope()
    deep["schema_payload"]["params"] = {"a": [[[[[[1]]]]]]}  # arrays count too: depth 9
    with pytest.raises(InvalidRequest, match="deeper than 8"):
        parse_envelope(deep)


def test_deeply_nested_text_is_refused_not_crashing() -> None:
    with pytest.raises(InvalidRequest):
        parse_envelope("[" * 60_000 + "]" * 60_000)


def test_array_and_string_bounds() -> None:
    env = envelope(params={"channels": ["c"] * jsonlimits.MAX_ARRAY_ITEMS})
    assert len(parse_envelope(env).params["channels"]) == 500
    with pytest.raises(InvalidRequest, match="array of 501"):
        envelope(params={"channels": ["c"] * 501})
    assert parse_envelope(envelope(params={"s": "x" * 8192}))
    with pytest.raises(InvalidRequest, match="string of 8193"):
        envelope(params={"s": "x" * 8193})


# -- clock ------------------------------------------------------------------------------


@pytest.mark.parametrize("skew", [0, 299, 300, -299, -300])
def test_clock_within_skew(skew: int) -> None:
    assert verify(envelope(timestamp=T0 + skew)).timestamp == T0 + skew


@pytest.mark.parametrize("skew", [301, -301, 10_000])
def test_clock_skew(skew: int) -> None:
    with pytest.raises(ClockSkew, match="timestamp outside allowed skew") as info:
        verify(envelope(timestamp=T0 + skew))
    assert info.value.details == {"max_clock_skew_seconds": 300}


def test_clock_skew_is_configurable() -> None:
    env = envelope(timestamp=T0 - 20)
    with pytest.raises(ClockSkew):
        verify(env, max_skew_s=10)
    assert verify(env, max_skew_s=30)


# -- authentication ---------------------------------------------------------------------


def test_zero_signature() -> None:
    env = envelope()
    env["signature"] = "bip340:" + "0" * 128
    with pytest.raises(Unauthorized, match="bad signature"):
        verify(env)


def test_signed_by_another_key_under_our_sender() -> None:
    forged = envelope(secret=OTHER_ADVISOR_SECRET)
    forged["sender"] = ADVISOR  # B's signature claiming to be A
    with pytest.raises(Unauthorized):
        verify(forged)


def test_recipient_binding() -> None:
    other = envelope(recipient=OTHER_NODE_NOSTR)
    with pytest.raises(Unauthorized, match="another node"):
        verify(other)
    retargeted = envelope()
    retargeted["recipient"] = OTHER_NODE_NOSTR
    with pytest.raises(Unauthorized):
        verify_envelope(retargeted, recipient=OTHER_NODE_NOSTR, now=T0)


ALTERATIONS: list[tuple[str, Any]] = [
    ("schema_type", "hive:channel/v1"),
    ("action", "set_zero_fee"),
    ("param", 151),
    ("credential_id", "cred-2"),
    ("confirm_action_id", "act-1"),
    ("nonce", 2),
    ("timestamp", T0 + 1),
    ("sender", OTHER_ADVISOR),
]


@pytest.mark.parametrize(("what", "value"), ALTERATIONS)
def test_any_signed_field_altered(what: str, value: Any) -> None:
    env = envelope()
    if what == "action":
        env["schema_payload"]["action"] = value
    elif what == "param":
        env["schema_payload"]["params"]["target_fee_ppm"] = value
    elif what == "credential_id":
        env["credential"]["id"] = value
    else:
        env[what] = value
    parse_envelope(env)  # still well-formed
    with pytest.raises(Unauthorized, match="bad signature"):
        verify(env)


def test_sender_allowed_hook() -> None:
    env = envelope()
    seen: list[str] = []

    def allowed(sender: str) -> bool:
        seen.append(sender)
        return False

    with pytest.raises(Unauthorized, match="unknown or revoked sender"):
        verify(env, sender_allowed=allowed)
    assert seen == [ADVISOR]
    assert verify(env, sender_allowed=lambda s: s == ADVISOR)


def test_checks_run_in_spec_order() -> None:
    # a skewed envelope with a bad signature reports the clock (step 3 before step 4)
    env = envelope(timestamp=T0 + 1000)
    env["signature"] = "bip340:" + "0" * 128
    with pytest.raises(ClockSkew):
        verify(env)
    # a malformed envelope reports structure before the clock
    env["nonce"] = 0
    with pytest.raises(InvalidRequest):
        verify(env)


def test_build_refuses_what_parse_refuses() -> None:
    with pytest.raises(InvalidRequest):
        envelope(nonce=0)
    with pytest.raises(InvalidRequest):
        envelope(recipient="nope")


json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(
    params=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    nonce=st.integers(1, MAX_NONCE),
    skew=st.integers(-300, 300),
)
def test_any_wellformed_envelope_roundtrips(params: dict[str, Any], nonce: int, skew: int) -> None:
    env = build_envelope(
        ADVISOR_SECRET,
        recipient=NODE_NOSTR,
        schema_type="hive:monitor/v1",
        action="health_summary",
        params=params,
        credential_id="c",
        nonce=nonce,
        timestamp=T0 + skew,
    )
    got = verify(json.loads(json.dumps(env)))
    assert got.to_json() == env
    assert bip340.verify(
        bytes.fromhex(got.sender_key), got.signing_digest(), bytes.fromhex(env["signature"][7:])
    )
