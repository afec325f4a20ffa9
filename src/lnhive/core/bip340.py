"""BIP-340 Schnorr signatures over secp256k1 (ARCHITECTURE decision 5).

Objects are signed as ``SHA256(JCS(object without its signature field))`` with 32
fresh random aux bytes; signatures and x-only keys travel as lower-case hex.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from coincurve import PrivateKey, PublicKeyXOnly
from coincurve._libsecp256k1 import ffi as _ffi  # coincurve's own binding of libsecp256k1
from coincurve._libsecp256k1 import lib as _lib
from coincurve.context import GLOBAL_CONTEXT as _CTX

from lnhive.core.canonical import canonical_hash, without
from lnhive.core.errors import InvalidInput


def _private_key(secret: bytes) -> PrivateKey:
    if not isinstance(secret, bytes) or len(secret) != 32:
        raise InvalidInput("secret key must be 32 bytes")
    try:
        return PrivateKey(secret)
    except ValueError as exc:
        raise InvalidInput("secret key is not a valid secp256k1 scalar") from exc


def xonly_pubkey(secret: bytes) -> bytes:
    """The 32-byte x-only public key of ``secret``."""
    key = _private_key(secret)
    out: bytes = PublicKeyXOnly.from_secret(key.secret).format()
    return out


def sign(secret: bytes, msg32: bytes, aux: bytes | None = None) -> bytes:
    """A 64-byte BIP-340 signature of the 32-byte ``msg32``.

    ``aux`` is the 32-byte auxiliary randomness; ``None`` draws 32 fresh bytes from
    :func:`os.urandom` (pass explicit bytes only for test vectors).
    """
    if len(msg32) != 32:
        raise InvalidInput("BIP-340 message must be 32 bytes")
    if aux is None:
        aux = os.urandom(32)
    elif len(aux) != 32:
        raise InvalidInput("BIP-340 aux randomness must be 32 bytes")
    key = _private_key(secret)
    sig: bytes = key.sign_schnorr(msg32, aux)
    return sig


class SigningKey:
    """A secret key prepared once for a signer that signs many times (the receipt key
    signs every receipt and every reply).

    :func:`sign` (coincurve's ``sign_schnorr``) parses the secret, derives both public
    keys and builds the keypair on every call, which costs as much as the signature. Here
    the keypair and the x-only key are built once and each signature is one
    ``secp256k1_schnorrsig_sign32`` with fresh aux randomness (a synthetic nonce: BIP-340's
    protection against fault attacks on the key). By default it is then verified against
    the x-only key, as ``sign_schnorr`` does, so a signature corrupted by a hardware fault
    is never stored; ``check=False`` skips that for signatures that are only handed out
    and that their receiver verifies anyway (replies)."""

    __slots__ = ("_key", "_keypair", "_xonly_obj", "xonly")

    def __init__(self, secret: bytes) -> None:
        self._key = _private_key(secret)
        self._xonly_obj = self._key.public_key_xonly
        self.xonly: bytes = self._xonly_obj.format()
        """The 32-byte x-only public key."""
        keypair = _ffi.new("secp256k1_keypair *")
        if not _lib.secp256k1_keypair_create(_CTX.ctx, keypair, self._key.secret):
            raise InvalidInput("secret key is not a valid secp256k1 scalar")
        self._keypair = keypair

    def __repr__(self) -> str:  # never print the secret
        return f"SigningKey(xonly={self.xonly.hex()!r})"

    def sign(self, msg32: bytes, *, check: bool = True) -> bytes:
        """A 64-byte BIP-340 signature of ``msg32`` with fresh aux randomness (verified
        before it is returned unless ``check`` is false)."""
        if len(msg32) != 32:
            raise InvalidInput("BIP-340 message must be 32 bytes")
        sig = _ffi.new("unsigned char[64]")
        if not _lib.secp256k1_schnorrsig_sign32(
            _CTX.ctx, sig, msg32, self._keypair, os.urandom(32)
        ):
            raise InvalidInput("BIP-340 signing failed")
        if check and not _lib.secp256k1_schnorrsig_verify(
            _CTX.ctx, sig, msg32, 32, self._xonly_obj.public_key
        ):
            raise InvalidInput("BIP-340 signature failed its own verification")
        out: bytes = _ffi.buffer(sig, 64)[:]
        return out


def verify(xonly: bytes, msg32: bytes, sig: bytes) -> bool:
    """Whether ``sig`` is a valid BIP-340 signature of ``msg32`` by ``xonly``.

    Never raises: malformed keys, messages or signatures give ``False``.
    """
    try:
        if len(xonly) != 32 or len(msg32) != 32 or len(sig) != 64:
            return False
        ok: bool = _parsed_xonly(bytes(xonly)).verify(bytes(sig), bytes(msg32))
        return ok
    except (ValueError, TypeError):
        return False


@functools.lru_cache(maxsize=4096)
def _parsed_xonly(xonly: bytes) -> PublicKeyXOnly:
    """The parsed key (public data): the same advisors, members and receipt keys sign
    again and again, and parsing costs a tenth of a verification. Invalid keys raise
    and are not cached."""
    return PublicKeyXOnly(xonly)


def object_digest(obj: Mapping[str, Any], sig_field: str = "sig") -> bytes:
    """SHA-256 of the JCS of ``obj`` without ``sig_field``: the 32 bytes that are signed."""
    return canonical_hash(without(obj, sig_field))


def sign_object(secret: bytes, obj: Mapping[str, Any], sig_field: str = "sig") -> str:
    """Hex BIP-340 signature over :func:`object_digest` of ``obj``."""
    return sign(secret, object_digest(obj, sig_field)).hex()


def verify_object(xonly_hex: str, obj: Mapping[str, Any], sig_field: str = "sig") -> bool:
    """Whether ``obj[sig_field]`` is a valid signature of ``obj`` by ``xonly_hex``.

    Never raises: a missing or malformed signature or key, or an object that cannot
    be canonicalised, gives ``False``.
    """
    try:
        sig_hex = obj.get(sig_field)
        if not isinstance(sig_hex, str) or not isinstance(xonly_hex, str):
            return False
        if len(sig_hex) != 128 or len(xonly_hex) != 64:
            return False
        sig = bytes.fromhex(sig_hex)
        xonly = bytes.fromhex(xonly_hex)
        digest = object_digest(obj, sig_field)
    except (ValueError, InvalidInput):
        return False
    return verify(xonly, digest, sig)
