"""Typed, bounded action parameters (comms spec §2.2, flow stage 7).

A :class:`Param` declares one parameter: its kind, whether it is required and its
bounds. :func:`validate_params` checks a params object against an action's
declaration: no unknown keys, exact JSON types (a bool is never an int), values in
bounds. Every failure is :class:`~lnhive.core.errors.InvalidParams` naming the field.
Bounds marked † in the spec are tightenable defaults: the policy narrows them further.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import InvalidParams


class Kind(enum.StrEnum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"
    ENUM = "enum"
    CHANNEL = "channel"
    """An SCID ``BLOCKxTXxOUT`` or a 64-hex channel id."""
    CHANNELS = "channels"
    """A list of channel references, or the string ``"all"``."""
    NODE = "node"
    """A 66-hex compressed node id."""
    ADDRESS = "address"
    """An on-chain address (checked against the policy's allow-list later)."""
    HOSTPORT = "hostport"
    OUTPOINTS = "outpoints"
    """A list of ``txid:vout``."""
    HTLC_ID = "htlc_id"
    """``scid:index``."""
    HEX32 = "hex32"
    BOLT11 = "bolt11"
    OBJECT = "object"
    """A JSON object of at most ``max_len`` compact bytes."""
    STR_LIST = "str_list"
    OBJECT_LIST = "object_list"
    """A list of 1-``hi`` JSON objects (entries are checked by the action)."""
    INT_OR_ALL = "int_or_all"
    """An integer in bounds, or ``"all"``."""


MAX_STR = 4096
MAX_TOKEN_STR = 8192
MAX_LIST = 500

_SCID = re.compile(r"[0-9]{1,8}x[0-9]{1,6}x[0-9]{1,5}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NODE = re.compile(r"0[23][0-9a-f]{64}")
_ADDRESS = re.compile(r"[a-zA-Z0-9]{14,100}")
_HOSTPORT = re.compile(r"[A-Za-z0-9.\-\[\]:]{1,253}:[0-9]{1,5}")
_OUTPOINT = re.compile(r"[0-9a-f]{64}:[0-9]{1,6}")
_HTLC_ID = re.compile(r"[0-9]{1,8}x[0-9]{1,6}x[0-9]{1,5}:[0-9]{1,20}")
_BOLT11 = re.compile(r"ln[a-z0-9]{1,8190}")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: Kind
    required: bool = True
    lo: int | float | None = None
    hi: int | float | None = None
    max_len: int | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    def bounds_text(self) -> str:
        """A short human description for the catalogue table."""
        parts: list[str] = []
        if self.kind in (Kind.INT, Kind.FLOAT, Kind.INT_OR_ALL) and (
            self.lo is not None or self.hi is not None
        ):
            lo = "" if self.lo is None else f"{self.lo:,}"
            hi = "" if self.hi is None else f"{self.hi:,}"
            parts.append(f"{lo}-{hi}" if lo and hi else (f">={lo}" if lo else f"<={hi}"))
        if self.kind is Kind.INT_OR_ALL:
            parts.append('or "all"')
        if self.kind is Kind.CHANNELS:
            parts.append(f'<={self.hi or MAX_LIST} or "all"')
        if self.kind is Kind.ENUM:
            parts.append("|".join(self.choices))
        text = self.name + (" " + " ".join(parts) if parts else "")
        return text if self.required else f"[{text}]"


def param_in_range(p: Param, value: int | float) -> None:
    if p.lo is not None and value < p.lo:
        raise InvalidParams(f"{p.name} must be >= {p.lo}", details={"param": p.name})
    if p.hi is not None and value > p.hi:
        raise InvalidParams(f"{p.name} must be <= {p.hi}", details={"param": p.name})


def _fail(p: Param, what: str) -> InvalidParams:
    return InvalidParams(f"{p.name} must be {what}", details={"param": p.name})


def _string(p: Param, value: Any, limit: int = MAX_STR) -> str:
    if not isinstance(value, str):
        raise _fail(p, "a string")
    max_len = p.max_len if p.max_len is not None else limit
    if len(value) > max_len:
        raise _fail(p, f"at most {max_len} characters")
    return value


def _matching(p: Param, value: Any, pattern: re.Pattern[str], what: str) -> str:
    text = _string(p, value, MAX_TOKEN_STR)
    if not pattern.fullmatch(text):
        raise _fail(p, what)
    return text


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_value(p: Param, value: Any) -> Any:
    """``value`` if it fits ``p``; else :class:`InvalidParams`."""
    k = p.kind
    if k is Kind.INT:
        if not _is_int(value):
            raise _fail(p, "an integer")
        param_in_range(p, value)
        return value
    if k is Kind.INT_OR_ALL:
        if value == "all":
            return value
        if not _is_int(value):
            raise _fail(p, 'an integer or "all"')
        param_in_range(p, value)
        return value
    if k is Kind.FLOAT:
        if not (_is_int(value) or isinstance(value, float)) or value != value:
            raise _fail(p, "a number")
        param_in_range(p, value)
        return value
    if k is Kind.BOOL:
        if not isinstance(value, bool):
            raise _fail(p, "a boolean")
        return value
    if k is Kind.STR:
        text = _string(p, value)
        if p.lo is not None and len(text) < p.lo:
            raise _fail(p, f"at least {p.lo} characters")
        return text
    if k is Kind.ENUM:
        if value not in p.choices:
            raise _fail(p, f"one of {list(p.choices)}")
        return value
    if k is Kind.CHANNEL:
        text = _string(p, value, 64)
        if not (_SCID.fullmatch(text) or _HEX64.fullmatch(text)):
            raise _fail(p, "a short channel id or a 64-hex channel id")
        return text
    if k is Kind.CHANNELS:
        if value == "all":
            return value
        limit = int(p.hi) if p.hi is not None else MAX_LIST
        if not isinstance(value, list) or not value or len(value) > limit:
            raise _fail(p, f'"all" or a list of 1-{limit} channels')
        one = Param(p.name, Kind.CHANNEL)
        refs = [check_value(one, v) for v in value]
        if len(set(refs)) != len(refs):
            raise _fail(p, "a list without duplicates")
        return refs
    if k is Kind.NODE:
        return _matching(p, value, _NODE, "a 66-hex node id")
    if k is Kind.ADDRESS:
        return _matching(p, value, _ADDRESS, "an on-chain address")
    if k is Kind.HOSTPORT:
        return _matching(p, value, _HOSTPORT, "host:port")
    if k is Kind.HTLC_ID:
        return _matching(p, value, _HTLC_ID, "scid:index")
    if k is Kind.HEX32:
        return _matching(p, value, _HEX64, "64 lower-case hex characters")
    if k is Kind.BOLT11:
        return _matching(p, value, _BOLT11, "a bolt11 invoice")
    if k is Kind.OUTPOINTS:
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise _fail(p, f"a list of 1-{MAX_LIST} outpoints")
        one = Param(p.name, Kind.STR)
        for v in value:
            _matching(one, v, _OUTPOINT, "txid:vout")
        return list(value)
    if k is Kind.STR_LIST:
        limit = int(p.hi) if p.hi is not None else MAX_LIST
        if not isinstance(value, list) or len(value) > limit:
            raise _fail(p, f"a list of at most {limit} strings")
        for v in value:
            _string(p, v)
        return list(value)
    if k is Kind.OBJECT_LIST:
        limit = int(p.hi) if p.hi is not None else MAX_LIST
        if not isinstance(value, list) or not value or len(value) > limit:
            raise _fail(p, f"a list of 1-{limit} objects")
        one = Param(p.name, Kind.OBJECT, max_len=p.max_len)
        return [check_value(one, v) for v in value]
    if k is Kind.OBJECT:
        if not isinstance(value, dict):
            raise _fail(p, "an object")
        try:
            size = len(json.dumps(value, separators=(",", ":")).encode())
        except (TypeError, ValueError) as exc:
            raise _fail(p, "a JSON object") from exc
        limit = p.max_len if p.max_len is not None else MAX_STR
        if size > limit:
            raise _fail(p, f"at most {limit} bytes")
        return value
    raise InvalidParams(f"unknown parameter kind {k}")  # pragma: no cover


def validate_params(
    declared: Sequence[Param],
    params: Any,
    *,
    alternatives: Sequence[frozenset[str]] = (),
) -> dict[str, Any]:
    """The checked params, or :class:`InvalidParams`.

    ``alternatives``: groups of which exactly one must be complete (e.g. ``bolt11`` or
    ``destination`` + ``amount_msat``); their members are declared optional.
    """
    if not isinstance(params, Mapping):
        raise InvalidParams("params must be an object")
    by_name = {p.name: p for p in declared}
    extras = sorted(set(params) - set(by_name))
    if extras:
        raise InvalidParams(f"unexpected params: {extras}", details={"params": extras})
    out: dict[str, Any] = {}
    for p in declared:
        if p.name in params:
            out[p.name] = check_value(p, params[p.name])
        elif p.required:
            raise InvalidParams(f"missing param {p.name}", details={"param": p.name})
    if alternatives:
        complete = [g for g in alternatives if g <= set(out)]
        touched = [g for g in alternatives if g & set(out)]
        if len(complete) != 1 or len(touched) != 1:
            names = [sorted(g) for g in alternatives]
            raise InvalidParams(f"give exactly one of {names}", details={"alternatives": names})
    return out


def missing_params(
    declared: Sequence[Param],
    given: Mapping[str, Any],
    alternatives: Sequence[frozenset[str]] = (),
) -> list[str]:
    """Declared params absent from ``given``, except members of unchosen alternatives."""
    chosen: set[str] = set()
    excluded: set[str] = set()
    for group in alternatives:
        if group <= set(given):
            chosen |= group
        else:
            excluded |= group
    excluded -= chosen
    return [p.name for p in declared if p.name not in given and p.name not in excluded]
