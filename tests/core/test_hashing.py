from __future__ import annotations

from lnhive.core.hashing import sha256, sha256_hex, sha256d, tagged_hash

# FIPS 180-2 / NIST examples for SHA-256.
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_sha256_known_values() -> None:
    assert sha256(b"abc").hex() == ABC_SHA256
    assert sha256(b"").hex() == EMPTY_SHA256
    assert sha256_hex(b"abc") == ABC_SHA256
    assert len(sha256(b"x")) == 32


def test_sha256d_is_double() -> None:
    assert sha256d(b"abc") == sha256(sha256(b"abc"))
    # Double SHA-256 of the empty string (well-known Bitcoin value).
    assert sha256d(b"").hex() == "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
    assert sha256d(b"abc") != sha256(b"abc")


def test_tagged_hash_definition() -> None:
    tag = sha256(b"BIP0340/challenge")
    assert tagged_hash("BIP0340/challenge", b"data") == sha256(tag + tag + b"data")
    assert tagged_hash("a", b"data") != tagged_hash("b", b"data")
