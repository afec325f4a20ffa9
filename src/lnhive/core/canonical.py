"""Canonical JSON (RFC 8785, JCS) for everything signed or hashed (ARCHITECTURE decision 4).

Serialisation is delegated to the ``rfc8785`` package, except for the common case that
the standard library's C encoder provably writes byte for byte the same: only ``None``,
booleans, integers within +-(2**53 - 1), non-integral floats that Python writes without
an exponent, strings, lists/tuples and dicts whose keys are all ASCII strings (see
:func:`_fast_ok`). Any other input (another float, a non-ASCII key, a subclass...) goes
through ``rfc8785``. Values JCS cannot represent (NaN, infinities,
integers outside +-(2**53 - 1), non-string keys, non-JSON types, lone surrogates) raise
:class:`~lnhive.core.errors.InvalidInput`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, cast

import rfc8785

from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256

_MAX_SAFE = 2**53 - 1
_MAX_CONTAINERS = 100_000
"""Inputs with more arrays and objects than this (or circular ones) go to ``rfc8785``."""
_STR = frozenset({str})
_LEAVES = frozenset({str, bool, type(None)})
_FAST = json.JSONEncoder(
    ensure_ascii=False,
    check_circular=True,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
)


def _fast_ok(obj: object) -> bool:
    """Whether the standard library's compact, key-sorted, non-ASCII-escaping encoding
    of ``obj`` equals its RFC 8785 serialisation.

    It does when every value is ``None``, a ``bool``, an ``int`` within JCS's safe range,
    a non-integral finite ``float`` whose ``repr`` has no exponent (both write the shortest
    round-trip digits as a plain decimal there), a ``str``, a ``list``/``tuple`` or a
    ``dict`` with ASCII ``str`` keys (exact types, no subclasses): strings are escaped identically by both (``\\"``, ``\\\\``, ``\\b \\f \\n
    \\r \\t``, other controls as lowercase ``\\u00xx``, everything else literal), integers
    print identically, and for ASCII keys code-point order is UTF-16 code-unit order.
    Other floats (integral ones, exponents: ECMAScript's notation differs) and non-ASCII
    keys are left to ``rfc8785``.
    Lone surrogates pass this check but fail the strict UTF-8 encode afterwards, which
    sends them to ``rfc8785`` too (which refuses them).
    """
    stack: list[object] = [obj]
    pop, extend = stack.pop, stack.extend
    budget = _MAX_CONTAINERS  # a circular structure must not loop here forever
    values: Iterable[object]
    while stack:
        item = pop()
        t = type(item)
        if t is dict:
            d = cast(dict[Any, Any], item)
            # exact str keys (no subclass could reorder them), all ASCII
            if not set(map(type, d)) <= _STR or not "".join(d).isascii():
                return False
            values = d.values()
        elif t is list or t is tuple:
            values = cast(list[Any], item)
        elif t is int:
            if -_MAX_SAFE <= cast(int, item) <= _MAX_SAFE:
                continue
            return False
        elif t is float:
            # Python's repr and ECMAScript's Number::toString both write the shortest
            # digits that round-trip; they differ only in notation: ECMAScript writes
            # integral values without ".0" and switches to exponents at other
            # magnitudes. A finite, non-integral float whose repr has no exponent is in
            # the range where both write plain decimals: the same text.
            f = cast(float, item)
            if not math.isfinite(f) or f.is_integer() or "e" in repr(f):
                return False
            continue
        elif t in _LEAVES:
            continue
        else:
            return False
        budget -= 1
        if budget < 0:
            return False
        if not set(map(type, values)) <= _LEAVES:
            extend(values)
    return True


def _fast(obj: object) -> bytes | None:
    """The canonical bytes by the C encoder when provably identical, else ``None``."""
    if not _fast_ok(obj):
        return None
    try:
        return _FAST.encode(obj).encode("utf-8")
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError):
        return None  # circular, too deep or a lone surrogate: rfc8785 decides


def canonical_json(obj: object) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``obj``."""
    fast = _fast(obj)
    if fast is not None:
        return fast
    return slow_canonical_json(obj)


def slow_canonical_json(obj: object) -> bytes:
    """:func:`canonical_json` always through the ``rfc8785`` package (the reference)."""
    try:
        out: bytes = rfc8785.dumps(cast(Any, obj))
    except rfc8785.CanonicalizationError as exc:
        raise InvalidInput(f"cannot canonicalise: {exc}") from exc
    except UnicodeEncodeError as exc:  # rfc8785 sorts keys by UTF-16: a lone surrogate key
        raise InvalidInput("cannot canonicalise: input contains non-UTF-8 codepoints") from exc
    except RecursionError as exc:
        raise InvalidInput("cannot canonicalise: nested too deeply") from exc
    return out


def canonical_hash(obj: object) -> bytes:
    """SHA-256 of :func:`canonical_json` of ``obj``."""
    return sha256(canonical_json(obj))


def without(obj: Mapping[str, Any], *fields: str) -> dict[str, Any]:
    """A shallow copy of ``obj`` without ``fields`` (e.g. its signature fields)."""
    return {k: v for k, v in obj.items() if k not in fields}
