from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnhive.core.canonical import canonical_hash, canonical_json, slow_canonical_json, without
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256

MAX_SAFE = 2**53 - 1

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE, max_value=MAX_SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


def _parse(data: bytes) -> Any:
    """Parse JSON as JCS sees it: every number is an IEEE double, so an integer
    literal beyond the safe range is read as a float."""

    def parse_int(s: str) -> int | float:
        n = int(s)
        return n if abs(n) <= MAX_SAFE else float(n)

    return json.loads(data, parse_int=parse_int)


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@given(json_values, st.randoms(use_true_random=False))
def test_key_order_does_not_matter(value: Any, rng: random.Random) -> None:
    assert canonical_json(_shuffled(value, rng)) == canonical_json(value)


@given(json_values)
def test_idempotent(value: Any) -> None:
    once = canonical_json(value)
    assert canonical_json(_parse(once)) == once
    # Canonical output is compact, valid UTF-8 JSON.
    once.decode("utf-8")


@given(st.dictionaries(st.text(max_size=8), st.integers(-1000, 1000), min_size=1))
def test_object_keys_sorted(value: dict[str, int]) -> None:
    parsed = json.loads(canonical_json(value))
    keys = list(parsed)
    assert keys == sorted(keys, key=lambda k: k.encode("utf-16-be"))


# RFC 8785 section 3.2.2 / 3.2.3: the sample object and its canonical form.
RFC8785_SAMPLE_INPUT = (
    '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
    ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
    ' "literals": [null, true, false]}'
)
RFC8785_SAMPLE_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)


def test_rfc8785_sample_object() -> None:
    assert canonical_json(json.loads(RFC8785_SAMPLE_INPUT)) == RFC8785_SAMPLE_OUTPUT.encode()


def test_rfc8785_sorting_example() -> None:
    # RFC 8785 section 3.2.3: keys sorted by their UTF-16 code units.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


# RFC 8785 Appendix B, "Number Serialization Samples": IEEE 754 bit pattern -> JCS text.
RFC8785_APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), RFC8785_APPENDIX_B)
def test_rfc8785_number_samples(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_non_finite_samples_rejected(bits: str) -> None:
    # Appendix B lists NaN and +-Infinity as errors.
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert not math.isfinite(value)
    with pytest.raises(InvalidInput) as info:
        canonical_json({"x": value})
    assert info.value.rpc_message().startswith("invalid_input: ")


@pytest.mark.parametrize(
    "bad",
    [
        b"bytes",
        {1: "non-string key"},
        {"set": {1, 2}},
        object(),
        2**53,
        -(2**53),
        "\ud800",
    ],
)
def test_non_json_values_rejected(bad: object) -> None:
    with pytest.raises(InvalidInput):
        canonical_json(bad)


def test_compact_sorted_nested() -> None:
    assert canonical_json({"b": [1, {"d": None, "c": True}], "a": "x"}) == (
        b'{"a":"x","b":[1,{"c":true,"d":null}]}'
    )
    assert canonical_json(5.0) == b"5"
    assert canonical_json(-0.0) == b"0"
    assert canonical_json((1, 2)) == b"[1,2]"
    assert canonical_json(MAX_SAFE) == b"9007199254740991"


def test_canonical_hash() -> None:
    obj = {"b": 1, "a": 2}
    assert canonical_hash(obj) == sha256(b'{"a":2,"b":1}')
    assert canonical_hash({"a": 2, "b": 1}) == canonical_hash(obj)
    assert canonical_hash({"a": 2, "b": 2}) != canonical_hash(obj)


def test_without() -> None:
    obj = {"a": 1, "sig": "00", "proof": {"x": 1}}
    out = without(obj, "sig", "proof")
    assert out == {"a": 1}
    assert obj == {"a": 1, "sig": "00", "proof": {"x": 1}}  # untouched
    assert without(obj, "missing") == obj
    assert without(obj, "missing") is not obj
    nested = without(obj, "sig")
    assert nested["proof"] is obj["proof"]  # shallow


# -- the fast path (the C encoder) against the rfc8785 reference ----------------------

_any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=12)
_mixed_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.integers(min_value=-MAX_SAFE - 2, max_value=-MAX_SAFE + 2)
    | st.integers(min_value=MAX_SAFE - 2, max_value=MAX_SAFE + 2)
    | st.floats()
    | _any_text
    | st.sampled_from(["\ud800", "a\udfffb", '\x00\x1f\x7f"\\/\b\f\n\r\t', "\u2028\ufeff𝄞"])
)
_mixed_keys = (
    st.text(max_size=8)
    | _any_text
    | st.sampled_from(["\ue000", "\U0001f600", "\ud800", "a", "A", "_", "é"])
)
_mixed_values = st.recursive(
    _mixed_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.dictionaries(_mixed_keys, children, max_size=5)
    ),
    max_leaves=30,
)


def _reference(value: Any) -> bytes | str:
    try:
        return slow_canonical_json(value)
    except InvalidInput:
        return "refused"


def _ours(value: Any) -> bytes | str:
    try:
        return canonical_json(value)
    except InvalidInput:
        return "refused"


@settings(max_examples=1000)
@given(_mixed_values)
def test_fast_path_matches_rfc8785(value: Any) -> None:
    assert _ours(value) == _reference(value)


@given(json_values)
def test_fast_path_matches_rfc8785_on_json(value: Any) -> None:
    assert canonical_json(value) == slow_canonical_json(value)


@settings(max_examples=3000)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.floats(-1e6, 1e6))
def test_fast_path_floats_match_rfc8785(value: float) -> None:
    """Every finite float, through the fast path when it takes it, equals the reference."""
    assert canonical_json({"x": value, "y": [value]}) == slow_canonical_json(
        {"x": value, "y": [value]}
    )


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "\U0001f600": 2},  # UTF-16 order differs from code-point order
        {"a": MAX_SAFE + 1},
        {"a": -MAX_SAFE - 1},
        {"a": 1.0},
        {"a": 0.5, "b": -0.0001, "c": 1424953923781206.2, "d": 0.1 + 0.2, "e": 1e-5},
        [0.000001, 1e15 + 0.5, 123456789012345.67, -0.0, 2.5e-7, 1e16 + 2.0],
        {"a": float("inf")},
        {"a": float("nan")},
        {"a": float("-inf")},
        {"a": "\ud800"},
        {1: 2},
        {"a": True, "b": None, "c": [1, "x", (2, 3)]},
        '\x00\x1f\x7f"\\/\b\f\n\r\t\u2028',
    ],
)
def test_fast_path_edge_cases(value: Any) -> None:
    assert _ours(value) == _reference(value)


def test_circular_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidInput):
        canonical_json(loop)
    d: dict[str, Any] = {}
    d["d"] = d
    with pytest.raises(InvalidInput):
        canonical_json(d)


def test_plain_decimal_floats_take_the_fast_path() -> None:
    from lnhive.core.canonical import _fast

    assert _fast({"score": 0.5, "uptime_pct": 99.25}) == b'{"score":0.5,"uptime_pct":99.25}'
    for other in (1.0, 1e-5, 1e16 + 2.0, float("inf"), float("nan")):
        assert _fast({"x": other}) is None
