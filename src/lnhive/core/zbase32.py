"""z-base-32 as CLN uses it: 5-bit groups, most significant bit first, no padding."""

from __future__ import annotations

ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def encode(data: bytes) -> str:
    """Encode ``data``; the last group is padded with zero bits, no padding characters."""
    nbits = len(data) * 8
    if nbits == 0:
        return ""
    value = int.from_bytes(data, "big")
    ngroups = (nbits + 4) // 5
    value <<= ngroups * 5 - nbits
    return "".join(ALPHABET[(value >> (5 * (ngroups - 1 - i))) & 0x1F] for i in range(ngroups))


def decode(text: str) -> bytes:
    """Decode ``text``; trailing bits that do not fill a byte are dropped.

    Raises :class:`ValueError` on a character outside the alphabet.
    """
    value = 0
    for ch in text:
        idx = _INDEX.get(ch)
        if idx is None:
            raise ValueError(f"invalid zbase32 character {ch!r}")
        value = (value << 5) | idx
    nbits = len(text) * 5
    nbytes = nbits // 8
    value >>= nbits - nbytes * 8
    return value.to_bytes(nbytes, "big")
