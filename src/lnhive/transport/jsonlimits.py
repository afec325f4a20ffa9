"""Strict JSON decoding and the size limits of advisor messages (comms spec §5.3).

Limits, all checked before anything is canonicalised or verified:

- raw text at most :data:`MAX_RAW_BYTES` (a cheap guard before parsing; the real limit is
  the compact size below);
- nesting depth at most :data:`MAX_DEPTH`: the envelope object itself is depth 1 and
  every object or array inside adds one (``schema_payload`` is 2, ``params`` 3);
- every string (keys included) at most :data:`MAX_STRING_CHARS` characters;
- every array at most :data:`MAX_ARRAY_ITEMS` items;
- the RFC 8785 (JCS) UTF-8 bytes of the whole envelope at most :data:`MAX_ENVELOPE_BYTES`.

Decoding refuses duplicate object keys, ``NaN``/``Infinity`` and invalid UTF-8: two
readers must never see two different envelopes in the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput, InvalidRequest, PayloadTooLarge

MAX_ENVELOPE_BYTES = 65_535
"""Largest envelope, measured as its JCS (compact, canonical) UTF-8 bytes."""
MAX_RAW_BYTES = 2 * MAX_ENVELOPE_BYTES
"""Largest raw text accepted for parsing (whitespace allowance before the real check)."""
MAX_DEPTH = 8
MAX_STRING_CHARS = 8_192
"""Generic string bound; per-parameter bounds (4,096 for most) belong to the catalogue."""
MAX_ARRAY_ITEMS = 500


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InvalidRequest(f"duplicate key {key[:64]!r} in JSON object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise InvalidRequest(f"{name} is not a JSON number")


def decode_json(raw: str | bytes) -> Any:
    """Decode ``raw`` strictly (see module doc); :class:`PayloadTooLarge` over the raw guard."""
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if len(data) > MAX_RAW_BYTES:
        raise PayloadTooLarge(
            f"message exceeds maximum size ({MAX_ENVELOPE_BYTES} bytes)",
            details={"max_bytes": MAX_ENVELOPE_BYTES},
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"envelope is not UTF-8: {exc.reason}") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"envelope is not JSON: {exc.msg} at offset {exc.pos}") from None
    except RecursionError:
        raise InvalidRequest(f"envelope nests deeper than {MAX_DEPTH}") from None


def check_shape(value: object, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`InvalidRequest` if ``value`` breaks the depth, string or array limits,
    or holds something that is not JSON (non-string keys, tuples, sets, bytes...)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if isinstance(item, str):  # the commonest value first
            if len(item) > MAX_STRING_CHARS:
                _check_string(item)
        elif isinstance(item, dict):
            if depth > max_depth:
                raise InvalidRequest(f"envelope nests deeper than {max_depth}")
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise InvalidRequest("object keys must be strings")
                if len(key) > MAX_STRING_CHARS:
                    _check_string(key)
                push((sub, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                raise InvalidRequest(f"envelope nests deeper than {max_depth}")
            if len(item) > MAX_ARRAY_ITEMS:
                raise InvalidRequest(f"array of {len(item)} items (at most {MAX_ARRAY_ITEMS})")
            stack.extend((sub, depth + 1) for sub in item)
        elif item is None or isinstance(item, bool | int | float):
            continue
        else:
            raise InvalidRequest(f"{type(item).__name__} is not a JSON value")


def _check_string(s: str) -> None:
    if len(s) > MAX_STRING_CHARS:
        raise InvalidRequest(f"string of {len(s)} characters (at most {MAX_STRING_CHARS})")


def compact_size(value: object) -> int:
    """Length of the JCS UTF-8 bytes of ``value``; :class:`InvalidRequest` if JCS refuses it
    (NaN, integers beyond 2**53 - 1, lone surrogates)."""
    try:
        return len(canonical_json(value))
    except InvalidInput as exc:
        raise InvalidRequest(exc.message) from None


def check_size(value: object, limit: int = MAX_ENVELOPE_BYTES) -> int:
    """The JCS size of ``value``; :class:`PayloadTooLarge` above ``limit``."""
    return len(check_size_canonical(value, limit))


def check_size_canonical(value: object, limit: int = MAX_ENVELOPE_BYTES) -> bytes:
    """The JCS bytes of ``value`` (:class:`InvalidRequest` if JCS refuses it);
    :class:`PayloadTooLarge` when they are longer than ``limit``."""
    try:
        data = canonical_json(value)
    except InvalidInput as exc:
        raise InvalidRequest(exc.message) from None
    size = len(data)
    if size > limit:
        raise PayloadTooLarge(
            f"message exceeds maximum size ({limit} bytes)",
            details={"max_bytes": limit, "size": size},
        )
    return data
