"""W3C Bitstring Status List v1.0 for revocation (``statusPurpose`` ``revocation``).

A status list credential is a VC 2.0 credential of type ``BitstringStatusListCredential``
whose subject is ``{"type": "BitstringStatusList", "statusPurpose": "revocation",
"encodedList": "u" + base64url-no-pad(GZIP(bitstring))}``; the bitstring has at least
131 072 entries (16 KiB) and bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8`` (the most
significant bit of the first byte is index 0). A credential points at its bit with
``credentialStatus: {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
"statusListIndex": "<decimal>", "statusListCredential": <list id>}``; a set bit means
revoked.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import InvalidInput

LIST_TYPE = "BitstringStatusListCredential"
SUBJECT_TYPE = "BitstringStatusList"
ENTRY_TYPE = "BitstringStatusListEntry"
REVOCATION = "revocation"
MIN_BITS = 131_072  # 16 KiB, the spec's minimum
MAX_BYTES = 16 * 1024 * 1024  # a decompressed list larger than this is refused
_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")


def encode_list(bits: bytes) -> str:
    """``encodedList``: multibase base64url (``u``, no padding) of the GZIP of ``bits``."""
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_list(encoded: object) -> bytes:
    """The bitstring of an ``encodedList``; InvalidInput when it is not one."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise InvalidInput("encodedList must be multibase base64url (starting with u)")
    body = encoded[1:]
    if not re.fullmatch(r"[A-Za-z0-9_-]*", body):
        raise InvalidInput("encodedList is not base64url without padding")
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput("encodedList is not base64url") from None
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip only
        bits = inflater.decompress(packed, MAX_BYTES + 1)
        if len(bits) > MAX_BYTES or inflater.unconsumed_tail:
            raise InvalidInput(f"encodedList is over {MAX_BYTES} bytes uncompressed")
        if not inflater.eof or inflater.unused_data:
            raise InvalidInput("encodedList is not one complete GZIP stream")
    except zlib.error:
        raise InvalidInput("encodedList is not GZIP-compressed") from None
    if len(bits) * 8 < MIN_BITS:
        raise InvalidInput(f"the bitstring has {len(bits) * 8} entries, fewer than {MIN_BITS}")
    return bits


def get_bit(bits: bytes, index: int) -> bool:
    """Bit ``index``, most significant bit of the first byte first."""
    if not 0 <= index < len(bits) * 8:
        raise InvalidInput(f"index {index} is outside the list (0-{len(bits) * 8 - 1})")
    return bool(bits[index // 8] >> (7 - index % 8) & 1)


def set_bit(bits: bytearray, index: int) -> None:
    """Set bit ``index`` (most significant bit of the first byte first)."""
    if not 0 <= index < len(bits) * 8:
        raise InvalidInput(f"index {index} is outside the list (0-{len(bits) * 8 - 1})")
    bits[index // 8] |= 0x80 >> (index % 8)


def empty_list(size_bits: int = MIN_BITS) -> bytearray:
    return bytearray(size_bits // 8)


def status_entry(list_id: str, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` of a credential at ``index`` in the list ``list_id``."""
    return {
        "id": f"{list_id}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": REVOCATION,
        "statusListIndex": str(index),
        "statusListCredential": list_id,
    }


@dataclass(frozen=True)
class Entry:
    """A revocation status entry of a credential."""

    list_id: str
    index: int


def revocation_entries(vc: Mapping[str, Any]) -> tuple[list[Entry], int]:
    """The credential's revocation entries, and how many other status entries it has.

    InvalidInput when ``credentialStatus`` is there but not well formed.
    """
    raw = vc.get("credentialStatus")
    if raw is None:
        return [], 0
    items: list[Any] = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(i, Mapping) for i in items):
        raise InvalidInput("credentialStatus must be an object (or a list of objects)")
    entries: list[Entry] = []
    others = 0
    for item in items:
        if item.get("type") != ENTRY_TYPE or item.get("statusPurpose") != REVOCATION:
            others += 1
            continue
        index = item.get("statusListIndex")
        if not isinstance(index, str) or not _INDEX.fullmatch(index):
            raise InvalidInput("statusListIndex must be a decimal string")
        list_id = item.get("statusListCredential")
        if not isinstance(list_id, str) or not list_id:
            raise InvalidInput("statusListCredential must be a non-empty string")
        entries.append(Entry(list_id, int(index)))
    return entries, others


def list_bits(vc: Mapping[str, Any]) -> bytes:
    """The bitstring of a (shape-checked) revocation status list credential."""
    types = vc.get("type")
    if not isinstance(types, list) or LIST_TYPE not in types:
        raise InvalidInput(f"status list type must contain {LIST_TYPE}")
    subject = vc.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise InvalidInput("status list credentialSubject must be one object")
    if subject.get("type") != SUBJECT_TYPE:
        raise InvalidInput(f"status list credentialSubject type must be {SUBJECT_TYPE}")
    if subject.get("statusPurpose") != REVOCATION:
        raise InvalidInput(f"status list statusPurpose must be {REVOCATION}")
    return decode_list(subject.get("encodedList"))
