from __future__ import annotations

import pytest
from coincurve import PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from lnhive.core import zbase32
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256d
from lnhive.core.signmessage import (
    SignedMessage,
    ZbaseError,
    message_digest,
    recover_pubkey,
    sign_message,
    verify_message,
)

# Vectors from spec/cln-interface.md section (e).
KEY_01 = b"\x01" * 32
KEY_01_PUB = "031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f"
KEY_01_ZBASE = "d9jjhb9nw7ebyzyquro43cwfr9hcszcesu7i7xszwfzkt7m7cqugyygi8h7heqp3hq19nutkdajqgbuwyd9eqf5rwx44hxj9zzrw1ktf"
# Core Lightning's own examples (doc/schemas signmessage.json / checkmessage.json).
CLN_PUB = "033845802d25b4e074ccfd7cd8b339a41dc75bf9978a034800444b51d42b07799a"
CLN_EXAMPLES = [
    (
        "this is a test!",
        "d63t8j9xmusnx6f6j3tauwoewi1g3a94t9xrastmou8i5rzn3gm9nuahkx6zfnm9ry145w4j88ctteim4mtxc7qreyity55zq63sj6n5",
    ),
    (
        "message for you",
        "rnu3qotbr47u7uzgodtq51fraszhp47xfen4yxbzhsisrekqwzshysu7sq4f74g5jobnh35fsh1a3ysoa7who6cqbti47qkxp6w1qwan",
    ),
]
ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_digest_definition() -> None:
    assert message_digest("hi") == sha256d(b"Lightning Signed Message:hi")
    assert message_digest("é") == sha256d(b"Lightning Signed Message:\xc3\xa9")


def test_key_01_vector_byte_identical() -> None:
    signed = sign_message(KEY_01, "this is a test!")
    assert signed.zbase == KEY_01_ZBASE
    assert signed.recid == "00"
    assert len(signed.signature) == 128
    assert zbase32.decode(signed.zbase) == bytes([31]) + bytes.fromhex(signed.signature)
    assert recover_pubkey("this is a test!", KEY_01_ZBASE) == bytes.fromhex(KEY_01_PUB)
    assert verify_message("this is a test!", KEY_01_ZBASE, bytes.fromhex(KEY_01_PUB))


@pytest.mark.parametrize(("message", "zbase"), CLN_EXAMPLES)
def test_cln_examples_recover(message: str, zbase: str) -> None:
    assert recover_pubkey(message, zbase) == bytes.fromhex(CLN_PUB)
    assert verify_message(message, zbase, bytes.fromhex(CLN_PUB))
    assert not verify_message(message, zbase, bytes.fromhex(KEY_01_PUB))
    assert not verify_message(message + "!", zbase, bytes.fromhex(CLN_PUB))


def test_cln_example_recid_01() -> None:
    raw = zbase32.decode(CLN_EXAMPLES[1][1])
    assert raw[0] == 31 + 1


def test_signed_message_is_frozen() -> None:
    signed = sign_message(KEY_01, "x")
    assert isinstance(signed, SignedMessage)
    with pytest.raises(AttributeError):
        signed.zbase = "y"  # type: ignore[misc]


def test_deterministic_rfc6979() -> None:
    assert sign_message(KEY_01, "abc") == sign_message(KEY_01, "abc")
    assert sign_message(KEY_01, "abc") != sign_message(KEY_01, "abd")


secrets = st.integers(min_value=1, max_value=ORDER - 1).map(lambda k: k.to_bytes(32, "big"))


@settings(max_examples=300)
@given(secrets, st.text(max_size=200))
def test_round_trip_header_and_recid(secret: bytes, message: str) -> None:
    signed = sign_message(secret, message)
    pub = PrivateKey(secret).public_key.format(compressed=True)
    raw = zbase32.decode(signed.zbase)
    assert len(signed.zbase) == 104
    assert len(raw) == 65
    recid = int(signed.recid, 16)
    assert 0 <= recid <= 3
    assert raw[0] == 31 + recid
    assert raw[1:].hex() == signed.signature
    # low-S
    assert int(signed.signature[64:], 16) <= ORDER // 2
    assert recover_pubkey(message, signed.zbase) == pub
    assert verify_message(message, signed.zbase, pub)


@settings(max_examples=100)
@given(secrets, st.text(max_size=50), st.integers(min_value=0, max_value=63), st.integers(1, 255))
def test_tampered_signature_fails(secret: bytes, message: str, pos: int, flip: int) -> None:
    signed = sign_message(secret, message)
    pub = PrivateKey(secret).public_key.format(compressed=True)
    raw = bytearray(zbase32.decode(signed.zbase))
    raw[1 + pos] ^= flip
    tampered = zbase32.encode(bytes(raw))
    try:
        ok = verify_message(message, tampered, pub)
    except ZbaseError as exc:  # r or s pushed to >= n
        assert str(exc) == "cannot parse zbase signature"
    else:
        assert ok is False


@settings(max_examples=50)
@given(secrets, st.text(max_size=50))
def test_wrong_recid_recovers_another_key(secret: bytes, message: str) -> None:
    signed = sign_message(secret, message)
    pub = PrivateKey(secret).public_key.format(compressed=True)
    raw = bytearray(zbase32.decode(signed.zbase))
    raw[0] = 31 + ((raw[0] - 31) ^ 1)
    assert recover_pubkey(message, zbase32.encode(bytes(raw))) != pub


def _zbase_of(raw: bytes) -> str:
    return zbase32.encode(raw)


@pytest.mark.parametrize(
    ("zbase", "text"),
    [
        (KEY_01_ZBASE[:-1] + "l", "zbase is not valid zbase32"),
        (KEY_01_ZBASE.upper(), "zbase is not valid zbase32"),
        (KEY_01_ZBASE[:-1], "zbase is not valid zbase32"),  # 103 chars: leftover bits
        (KEY_01_ZBASE + "y", "zbase is not valid zbase32"),
        (KEY_01_ZBASE[:96], "zbase is too short"),
        ("", "zbase is too short"),
        (KEY_01_ZBASE + "yyyyyyyy", "zbase is too long"),
        (_zbase_of(bytes([30]) + b"\x01" * 64), "cannot parse zbase signature"),
        (_zbase_of(bytes([35]) + b"\x01" * 64), "cannot parse zbase signature"),
        (_zbase_of(bytes([0]) + b"\x01" * 64), "cannot parse zbase signature"),
        (
            _zbase_of(bytes([31]) + ORDER.to_bytes(32, "big") + b"\x01" * 32),
            "cannot parse zbase signature",
        ),
        (
            _zbase_of(bytes([32]) + b"\x01" * 32 + b"\xff" * 32),
            "cannot parse zbase signature",
        ),
    ],
)
def test_parse_errors_use_cln_texts(zbase: str, text: str) -> None:
    with pytest.raises(ZbaseError) as info:
        recover_pubkey("this is a test!", zbase)
    assert str(info.value) == text
    assert isinstance(info.value, ValueError)
    with pytest.raises(ZbaseError):
        verify_message("this is a test!", zbase, bytes.fromhex(KEY_01_PUB))


def test_headers_31_to_34_parse_and_only_the_right_one_matches() -> None:
    signed = sign_message(KEY_01, "m")
    rs = bytes.fromhex(signed.signature)
    right = 31 + int(signed.recid, 16)
    recovered = {h: recover_pubkey("m", _zbase_of(bytes([h]) + rs)) for h in (31, 32, 33, 34)}
    assert recovered[right] == bytes.fromhex(KEY_01_PUB)
    others = [key for h, key in recovered.items() if h != right]
    assert bytes.fromhex(KEY_01_PUB) not in others


def test_recovery_failure_returns_none() -> None:
    # r = 0 parses (it is below n) but no key can be recovered from it.
    zbase = _zbase_of(bytes([31]) + b"\x00" * 32 + b"\x01" * 32)
    assert recover_pubkey("m", zbase) is None
    assert verify_message("m", zbase, bytes.fromhex(KEY_01_PUB)) is False


def test_sign_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput, match="Message must be < 64k"):
        sign_message(KEY_01, "x" * 65536)
    assert sign_message(KEY_01, "x" * 65535).recid in {"00", "01", "02", "03"}
    with pytest.raises(InvalidInput):
        sign_message(b"\x00" * 32, "m")
    with pytest.raises(InvalidInput):
        sign_message(b"\x01" * 31, "m")
