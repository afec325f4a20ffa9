"""CLN-compatible ``signmessage``/``checkmessage`` (spec cln-interface §e).

Digest: ``SHA256(SHA256("Lightning Signed Message:" || message))``; recoverable
ECDSA (RFC 6979 nonce, low-S) over secp256k1; ``zbase`` is z-base-32 of
``[31 + recid] || r || s`` (104 characters). Parse errors carry CLN's own texts.
"""

from __future__ import annotations

from dataclasses import dataclass

from coincurve import PrivateKey, PublicKey

from lnhive.core import zbase32
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256d

PREFIX = b"Lightning Signed Message:"
MAX_MESSAGE_BYTES = 65535
"""CLN refuses longer messages ("Message must be < 64k")."""

_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HEADER_BASE = 31

ERR_NOT_ZBASE = "zbase is not valid zbase32"
ERR_TOO_SHORT = "zbase is too short"
ERR_TOO_LONG = "zbase is too long"
ERR_CANNOT_PARSE = "cannot parse zbase signature"


class ZbaseError(ValueError):
    """A ``zbase`` that CLN's ``checkmessage`` refuses; ``str()`` is CLN's text."""


@dataclass(frozen=True)
class SignedMessage:
    signature: str
    """128 hex characters: r || s."""
    recid: str
    """2 hex characters, ``00`` to ``03``."""
    zbase: str
    """104 z-base-32 characters of ``[31 + recid] || r || s``."""


def message_digest(message: str) -> bytes:
    """The 32-byte digest CLN signs for ``message``."""
    return sha256d(PREFIX + message.encode("utf-8"))


def sign_message(secret: bytes, message: str) -> SignedMessage:
    """Sign ``message`` exactly as CLN's ``signmessage`` does with node key ``secret``."""
    if len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise InvalidInput("Message must be < 64k")
    if len(secret) != 32:
        raise InvalidInput("secret key must be 32 bytes")
    try:
        key = PrivateKey(secret)
    except ValueError as exc:
        raise InvalidInput("secret key is not a valid secp256k1 scalar") from exc
    compact: bytes = key.sign_recoverable(message_digest(message), hasher=None)
    rs, recid = compact[:64], compact[64]
    zbase = zbase32.encode(bytes([_HEADER_BASE + recid]) + rs)
    return SignedMessage(signature=rs.hex(), recid=f"{recid:02x}", zbase=zbase)


def _parse_zbase(zbase: str) -> tuple[int, bytes]:
    """``(recid, r || s)`` from ``zbase``, applying CLN's checks in CLN's order."""
    # CLN converts 5-bit groups to bytes without padding and refuses leftover bits,
    # so only lengths that are multiples of 8 characters decode at all.
    if len(zbase) % 8 != 0:
        raise ZbaseError(ERR_NOT_ZBASE)
    try:
        raw = zbase32.decode(zbase)
    except ValueError as exc:
        raise ZbaseError(ERR_NOT_ZBASE) from exc
    if len(raw) < 65:
        raise ZbaseError(ERR_TOO_SHORT)
    if len(raw) > 65:
        raise ZbaseError(ERR_TOO_LONG)
    recid = raw[0] - _HEADER_BASE
    r = int.from_bytes(raw[1:33], "big")
    s = int.from_bytes(raw[33:65], "big")
    if not 0 <= recid <= 3 or r >= _ORDER or s >= _ORDER:
        raise ZbaseError(ERR_CANNOT_PARSE)
    return recid, raw[1:65]


def recover_pubkey(message: str, zbase: str) -> bytes | None:
    """The 33-byte compressed key that signed ``message``, or ``None`` if recovery fails.

    Raises :class:`ZbaseError` with CLN's text when ``zbase`` does not parse.
    """
    recid, rs = _parse_zbase(zbase)
    try:
        key = PublicKey.from_signature_and_message(
            rs + bytes([recid]), message_digest(message), hasher=None
        )
    except ValueError:
        return None
    out: bytes = key.format(compressed=True)
    return out


def verify_message(message: str, zbase: str, pubkey: bytes) -> bool:
    """Whether ``zbase`` is a signature of ``message`` by ``pubkey`` (33-byte compressed).

    Parse errors raise :class:`ZbaseError` as in :func:`recover_pubkey`.
    """
    recovered = recover_pubkey(message, zbase)
    return recovered is not None and recovered == bytes(pubkey)
