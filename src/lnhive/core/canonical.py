"""Canonical JSON (RFC 8785, JCS) for everything signed or hashed (ARCHITECTURE decision 4).

Serialisation is delegated to the ``rfc8785`` package. Values JCS cannot represent
(NaN, infinities, integers outside +-(2**53 - 1), non-string keys, non-JSON types,
lone surrogates) raise :class:`~lnhive.core.errors.InvalidInput`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import rfc8785

from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256


def canonical_json(obj: object) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``obj``."""
    try:
        out: bytes = rfc8785.dumps(cast(Any, obj))
    except rfc8785.CanonicalizationError as exc:
        raise InvalidInput(f"cannot canonicalise: {exc}") from exc
    except RecursionError as exc:
        raise InvalidInput("cannot canonicalise: nested too deeply") from exc
    return out


def canonical_hash(obj: object) -> bytes:
    """SHA-256 of :func:`canonical_json` of ``obj``."""
    return sha256(canonical_json(obj))


def without(obj: Mapping[str, Any], *fields: str) -> dict[str, Any]:
    """A shallow copy of ``obj`` without ``fields`` (e.g. its signature fields)."""
    return {k: v for k, v in obj.items() if k not in fields}
