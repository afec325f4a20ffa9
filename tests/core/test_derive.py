from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnhive.core.derive import (
    ALL_LABELS,
    AT_REST_LABEL,
    DID_ED25519_LABEL,
    ESCROW_LABEL,
    NOSTR_LABEL,
    RECEIPTS_LABEL,
    hkdf_secret,
    secp256k1_secret_valid,
)

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_labels_pinned() -> None:
    assert NOSTR_LABEL == "lnhive/nostr/v1"
    assert RECEIPTS_LABEL == "lnhive/receipts/v1"
    assert ESCROW_LABEL == "lnhive/escrow/v1"
    assert DID_ED25519_LABEL == "lnhive/did-ed25519/v1"
    assert AT_REST_LABEL == "lnhive/at-rest/v1"
    assert len(set(ALL_LABELS)) == len(ALL_LABELS) == 5


def test_rfc5869_test_case_1_prefix() -> None:
    # RFC 5869 Appendix A.1 (HKDF-SHA256): the first 32 bytes of OKM.
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    assert hkdf_secret(ikm, info, salt).hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
    )


def test_rfc5869_test_case_3_prefix() -> None:
    # RFC 5869 Appendix A.3: zero-length salt and info.
    ikm = bytes.fromhex("0b" * 22)
    assert hkdf_secret(ikm, b"").hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
    )


def test_deterministic_and_label_separated() -> None:
    root = b"\x42" * 32
    keys = {label: hkdf_secret(root, label.encode()) for label in ALL_LABELS}
    assert len(set(keys.values())) == len(ALL_LABELS)
    assert hkdf_secret(root, NOSTR_LABEL.encode()) == keys[NOSTR_LABEL]
    assert hkdf_secret(b"\x43" * 32, NOSTR_LABEL.encode()) != keys[NOSTR_LABEL]
    assert hkdf_secret(root, NOSTR_LABEL.encode(), b"salt") != keys[NOSTR_LABEL]
    assert all(len(k) == 32 for k in keys.values())


@given(st.binary(min_size=1, max_size=64), st.binary(max_size=64))
def test_always_32_bytes(root: bytes, info: bytes) -> None:
    out = hkdf_secret(root, info)
    assert len(out) == 32
    assert out == hkdf_secret(root, info)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (b"\x00" * 32, False),
        ((1).to_bytes(32, "big"), True),
        ((ORDER - 1).to_bytes(32, "big"), True),
        (ORDER.to_bytes(32, "big"), False),
        ((ORDER + 1).to_bytes(32, "big"), False),
        (b"\xff" * 32, False),
        (b"\x01" * 31, False),
        (b"\x01" * 33, False),
    ],
)
def test_secp256k1_secret_valid(value: bytes, ok: bool) -> None:
    assert secp256k1_secret_valid(value) is ok
