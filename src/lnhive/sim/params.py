"""Binding a request's ``params`` to a command's parameter table, as lightningd does.

``bind_params`` turns positional (array) or named (object) params into a dict by
name, checks each value against its type and converts it (amounts to integers,
hex to lower case, short channel ids to canonical form), and refuses bad
requests with lightningd's own -32602 messages (common/json_param.c):

* ``unknown parameter: X, this may be caused by a failure to autodetect
  key=value-style parameters. Please try using the -k flag and explicit
  key=value pairs of parameters.``
* ``missing required parameter: X``
* ``too many parameters: got N, expected M`` (N counts every array element,
  nulls included)
* ``X: <reason>: invalid token (see logs for details)``, or with developer APIs
  on, ``X: <reason>: invalid token '<the JSON token>'``
* ``Expected array or object for params``

Values are checked in the order they were sent, so the first bad one is the one
reported; missing required parameters are reported after every given value
passed. As in lightningd, integer types accept decimal digits given as JSON
numbers or strings (``42`` or ``"42"``), booleans must be JSON ``true``/``false``,
and string parameters take any scalar as its JSON text.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from typing import Any

from lnhive.core.amounts import (
    AmountError,
    parse_msat,
    parse_msat_or_all,
    parse_msat_or_any,
    parse_sat,
    parse_sat_or_all,
)
from lnhive.sim.errors import INVALID_PARAMS, METHOD_NOT_FOUND, RpcError
from lnhive.sim.paramtables import (
    ALL_TYPES,
    ANY,
    ARRAY,
    BIP340SIG,
    BOOLEAN,
    EXTRA_PARAMS_ALLOWED,
    FEERATE,
    HASH,
    HEX,
    INTEGER,
    MSAT,
    MSAT_OR_ALL,
    MSAT_OR_ANY,
    NUMBER,
    OBJECT,
    OUTPOINT,
    PUBKEY,
    SAT,
    SAT_OR_ALL,
    SECRET,
    SHORT_CHANNEL_ID,
    SHORT_CHANNEL_ID_DIR,
    SIGNATURE,
    STRING,
    TABLES,
    TXID,
    U8,
    U16,
    U32,
    U64,
    Param,
)

__all__ = [
    "ALL_TYPES",
    "EXTRA_PARAMS_ALLOWED",
    "TABLES",
    "Param",
    "bind_params",
    "convert_value",
    "unknown_parameter_message",
]

_UNKNOWN = (
    "unknown parameter: {}, this may be caused by a failure to autodetect key=value-style"
    " parameters. Please try using the -k flag and explicit key=value pairs of parameters."
)

# Reasons lightningd gives for each type (json_param.c, feerate.c, invoice.c).
_REASONS: dict[str, str] = {
    STRING: "should be a string",
    INTEGER: "should be an integer",
    BOOLEAN: "should be 'true' or 'false'",
    NUMBER: "should be a non-negative floating-point number",
    HEX: "should be a hex value",
    HASH: "should be a 32 byte hex value",
    SECRET: "should be a 32 byte hex value",
    TXID: "should be a txid",
    PUBKEY: "should be a node id",
    U8: "should be an unsigned 8 bit integer",
    U16: "should be an unsigned 16 bit integer",
    U32: "should be an unsigned 32 bit integer",
    U64: "should be an unsigned 64 bit integer",
    MSAT: "should be a millisatoshi amount",
    SAT: "should be a satoshi amount",
    SAT_OR_ALL: "should be a satoshi amount",
    MSAT_OR_ALL: "should be a millisatoshi amount",
    MSAT_OR_ANY: "should be positive msat or 'any'",
    SHORT_CHANNEL_ID: "should be a short_channel_id of form NxNxN",
    SHORT_CHANNEL_ID_DIR: "should be a short_channel_id_dir of form NxNxN/N",
    OUTPOINT: "should be a txid:outnum",
    FEERATE: "should be a feerate",
    SIGNATURE: "should be a signature",
    BIP340SIG: "should be a bip340 signature",
    ARRAY: "should be an array",
    OBJECT: "should be an object",
    ANY: "has an unexpected type",
}

_INT_BITS = {INTEGER: 32, U8: 8, U16: 16, U32: 32, U64: 64}

# Named feerates lightningd accepts (lightningd/feerate.c).
FEERATE_NAMES = frozenset(
    {
        "opening",
        "mutual_close",
        "penalty",
        "unilateral_close",
        "unilateral_anchor_close",
        "slow",
        "normal",
        "urgent",
        "minimum",
    }
)

_SCID = re.compile(r"([0-9]+)x([0-9]+)x([0-9]+)")
_MILLIONTHS = re.compile(r"[0-9]*\.?[0-9]*")

# secp256k1 field prime, for checking that a compressed key is a point on the curve.
_P = 2**256 - 2**32 - 977


class _Refused(Exception):
    """A value the type's parser refuses; ``message`` set when not a badparam reason."""

    def __init__(self, reason: str | None = None, message: str | None = None) -> None:
        super().__init__(reason or message or "")
        self.reason = reason
        self.message = message


def unknown_parameter_message(name: str) -> str:
    return _UNKNOWN.format(name)


def _full(value: object) -> str:
    """The JSON token as sent (json_tok_full: strings keep their quotes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _raw(value: object) -> str:
    """The token's text as lightningd's parsers see it (strings without quotes)."""
    return value if isinstance(value, str) else _full(value)


def _badparam(name: str, reason: str, value: object, developer: bool) -> RpcError:
    if developer:
        return RpcError(INVALID_PARAMS, f"{name}: {reason}: invalid token '{_full(value)}'")
    return RpcError(INVALID_PARAMS, f"{name}: {reason}: invalid token (see logs for details)")


def _is_scalar(value: object) -> bool:
    return not isinstance(value, dict | list)


def _u64_text(text: str) -> int | None:
    """str_to_u64: decimal digits only, no sign, no space, fits in 64 bits."""
    if not text or not all(c in string.digits for c in text):
        return None
    n = int(text)
    return n if n < 2**64 else None


def _to_int(value: object, bits: int) -> int:
    if not _is_scalar(value):
        raise _Refused()
    n = _u64_text(_raw(value))
    if n is None or n >= 2**bits:
        raise _Refused()
    return n


def _is_hex(text: str) -> bool:
    return len(text) % 2 == 0 and all(c in string.hexdigits for c in text)


def _to_hex(value: object, nbytes: int | None = None) -> str:
    if not isinstance(value, str) or not _is_hex(value):
        raise _Refused()
    if nbytes is not None and len(value) != 2 * nbytes:
        raise _Refused()
    return value.lower()


def _is_point(key: str) -> bool:
    """A 33-byte compressed secp256k1 key (hex) that decodes to a curve point."""
    if len(key) != 66 or not _is_hex(key) or key[:2] not in ("02", "03"):
        return False
    x = int(key[2:], 16)
    if x >= _P:
        return False
    y2 = (pow(x, 3, _P) + 7) % _P
    return pow(y2, (_P - 1) // 2, _P) == 1


def _to_pubkey(value: object) -> str:
    if not isinstance(value, str) or not _is_point(value.lower()):
        raise _Refused()
    return value.lower()


def _scid(text: str) -> str | None:
    m = _SCID.fullmatch(text)
    if m is None:
        return None
    block, tx, out = (int(g) for g in m.groups())
    if block >= 2**24 or tx >= 2**24 or out >= 2**16:
        return None
    return f"{block}x{tx}x{out}"


def _to_scid(value: object) -> str:
    scid = _scid(value) if isinstance(value, str) else None
    if scid is None:
        raise _Refused()
    return scid


def _to_scid_dir(value: object) -> str:
    if isinstance(value, str) and value[-2:] in ("/0", "/1"):
        scid = _scid(value[:-2])
        if scid is not None:
            return scid + value[-2:]
    raise _Refused()


def _to_outpoint(value: object) -> str:
    if isinstance(value, str) and value.count(":") == 1:
        txid, _, n = value.partition(":")
        if len(txid) == 64 and _is_hex(txid):
            num = _u64_text(n)
            if num is not None and num < 2**32:
                return f"{txid.lower()}:{num}"
    raise _Refused()


def _to_number(value: object) -> float:
    """param_millionths: digits with at most one decimal point."""
    if isinstance(value, bool) or not _is_scalar(value):
        raise _Refused()
    text = _raw(value)
    if not any(c in string.digits for c in text) or not _MILLIONTHS.fullmatch(text):
        raise _Refused()
    return float(text)


def _to_feerate(name: str, value: object) -> int | str:
    """A feerate as given: an integer (perkb), ``"Nperkw"``/``"Nperkb"``, ``"Nblocks"`` or a name."""
    if not _is_scalar(value) or isinstance(value, bool):
        text = _raw(value)
        raise _Refused(
            message=f"'{name}' should be an integer with optional perkw/perkb, not '{text}'"
        )
    text = _raw(value)
    if isinstance(value, str) and text in FEERATE_NAMES:
        return text
    if isinstance(value, str) and text.endswith("blocks"):
        base = text[: -len("blocks")]
        n = _u64_text(base)
        if n is None or n >= 2**32:
            raise _Refused(message=f"'{name}' should be an integer not '{base}'")
        return text
    base = text
    for suffix in ("perkb", "perkw"):
        if text.endswith(suffix):
            base = text[: -len(suffix)]
            break
    n = _u64_text(base)
    if n is None or n >= 2**32:
        raise _Refused(
            message=f"'{name}' should be an integer with optional perkw/perkb, not '{base}'"
        )
    return n if isinstance(value, int) else text


def _amount(value: object, parse: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Refused()
    try:
        return parse(value)
    except AmountError as e:
        raise _Refused() from e


def _to_string(value: object) -> str:
    """param_string keeps whatever token it is given, as text."""
    return _raw(value)


def _matches(alternative: str, value: object) -> bool:
    """Whether ``value`` is of one ``oneOf`` alternative (JSON shape, or one of our types)."""
    if alternative == STRING:
        return isinstance(value, str)
    if alternative == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if alternative == BOOLEAN:
        return isinstance(value, bool)
    if alternative == ARRAY:
        return isinstance(value, list)
    if alternative == OBJECT:
        return isinstance(value, dict)
    try:
        convert_value(Param("", alternative), value)
    except RpcError:
        return False
    return True


def _convert(name: str, p: Param, value: object) -> Any:
    t = p.type
    if p.enum is not None:
        if not isinstance(value, str) or value not in p.enum:
            raise _Refused()
        return value
    if t == STRING:
        return _to_string(value)
    if t in _INT_BITS:
        return _to_int(value, _INT_BITS[t])
    if t == BOOLEAN:
        if not isinstance(value, bool):
            raise _Refused()
        return value
    if t == NUMBER:
        return _to_number(value)
    if t == HEX:
        return _to_hex(value)
    if t in (HASH, SECRET, TXID):
        return _to_hex(value, 32)
    if t == PUBKEY:
        return _to_pubkey(value)
    if t == SIGNATURE:
        sig = _to_hex(value)
        if len(sig) > 144:
            raise _Refused()
        return sig
    if t == BIP340SIG:
        return _to_hex(value, 64)
    if t == MSAT:
        return _amount(value, parse_msat)
    if t == SAT:
        return _amount(value, parse_sat)
    if t == SAT_OR_ALL:
        return _amount(value, parse_sat_or_all)
    if t == MSAT_OR_ALL:
        return _amount(value, parse_msat_or_all)
    if t == MSAT_OR_ANY:
        amount = _amount(value, parse_msat_or_any)
        if amount == 0:  # invoice refuses a zero amount (param_positive_msat_or_any)
            raise _Refused()
        return amount
    if t == SHORT_CHANNEL_ID:
        return _to_scid(value)
    if t == SHORT_CHANNEL_ID_DIR:
        return _to_scid_dir(value)
    if t == OUTPOINT:
        return _to_outpoint(value)
    if t == FEERATE:
        return _to_feerate(name, value)
    if t == ARRAY:
        if not isinstance(value, list):
            raise _Refused()
        return value
    if t == OBJECT:
        if not isinstance(value, dict):
            raise _Refused()
        return value
    if t == ANY:
        if p.one_of is not None and not any(_matches(a, value) for a in p.one_of):
            raise _Refused()
        return value
    raise ValueError(f"unknown parameter type {t!r} for {name!r}")


def convert_value(p: Param, value: object, *, developer: bool = False) -> Any:
    """Check and convert one given (non-null) value for ``p``; RpcError(-32602) if refused."""
    try:
        return _convert(p.name, p, value)
    except _Refused as refused:
        if p.message is not None:
            msg = p.message.format(name=p.name, full=_full(value), raw=_raw(value))
            raise RpcError(INVALID_PARAMS, msg) from None
        if refused.message is not None:
            raise RpcError(INVALID_PARAMS, refused.message) from None
        reason = p.reason or refused.reason or _REASONS[p.type]
        raise _badparam(p.name, reason, value, developer) from None


def bind_params(
    method: str,
    params: object,
    *,
    developer: bool = False,
    table: tuple[Param, ...] | None = None,
    allow_extra: bool | None = None,
) -> dict[str, Any]:
    """Bind ``params`` (array or object) for ``method``; raise RpcError as lightningd would.

    Returns the given parameters by name, converted; parameters not given (absent,
    or JSON null) are left out. ``developer``: quote the refused token in type
    errors, as lightningd does with developer APIs on. ``table``/``allow_extra``
    override the built-in table (for commands not in ``TABLES``). Extra named
    parameters of commands that take them (``plugin``'s plugin options) are
    returned unchanged; extra positional ones are dropped.
    """
    if table is None:
        if method not in TABLES:
            raise RpcError(METHOD_NOT_FOUND, f"Unknown command '{method}'")
        table = TABLES[method]
    if allow_extra is None:
        allow_extra = method in EXTRA_PARAMS_ALLOWED
    out: dict[str, Any] = {}
    if isinstance(params, list):
        for i, value in enumerate(params):
            if i == len(table):
                if not allow_extra:
                    raise RpcError(
                        INVALID_PARAMS,
                        f"too many parameters: got {len(params)}, expected {len(table)}",
                    )
                break
            if value is not None:
                if table[i].dev_only and not developer:
                    raise RpcError(INVALID_PARAMS, f"Parameter {i} is developer-only")
                out[table[i].name] = convert_value(table[i], value, developer=developer)
    elif isinstance(params, Mapping):
        by_name = {p.name: p for p in table}
        for key, value in params.items():
            p = by_name.get(key)
            if p is None:
                if not allow_extra:
                    raise RpcError(INVALID_PARAMS, unknown_parameter_message(str(key)))
                out[key] = value
            elif value is not None:
                if p.dev_only and not developer:
                    raise RpcError(INVALID_PARAMS, f"Parameter '{key}' is developer-only")
                out[key] = convert_value(p, value, developer=developer)
    else:
        raise RpcError(INVALID_PARAMS, "Expected array or object for params")
    for p in table:
        if p.required and p.name not in out:
            raise RpcError(INVALID_PARAMS, f"missing required parameter: {p.name}")
    return out
