"""The parts of an onion the model shows plugins: hop payload TLVs (BOLT 4)."""

from __future__ import annotations

#: A 1366-byte onion as hex; the model routes without real Sphinx packets.
NEXT_ONION = "00" * 1366
KEYSEND_TLV = 5482373484


def tu(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def tlv(records: list[tuple[int, bytes]]) -> str:
    out = bytearray()
    for typ, val in records:
        out += bigsize(typ) + bigsize(len(val)) + val
    return (bigsize(len(out)) + bytes(out)).hex()


def bigsize(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "big")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "big")
    return b"\xff" + n.to_bytes(8, "big")


def scid_bytes(scid: str) -> bytes:
    b, t, o = (int(x) for x in scid.split("x"))
    return ((b << 40) | (t << 16) | o).to_bytes(8, "big")
