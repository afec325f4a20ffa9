"""A node's rune book: ``createrune``, ``checkrune``, ``showrunes``, ``blacklistrune``.

Runes are byte-compatible with Core Lightning's: the authcode chain is computed by the
``runes`` package (CLN's own rune library); this module adds what ``lightningd`` does around
it (``lightningd/runes.c`` and ``ccan/rune``): unique ids, the stored-rune table, the
blacklist, the fields a restriction can test, the rate limits and the exact error texts.
As in lightningd, ``rate=N`` means one use per 60/N seconds (not N uses in any minute), and
the last use is kept per stored unique id, so every rune derived from one id shares it.

Differences from lightningd, all at the edges:

* parameter values are compared by their JSON text, which lightningd takes verbatim from the
  caller's request; we only see parsed values, so we re-serialise them the way pyln clients
  (and clnrest) do: ``json.dumps`` with its default separators and ``ensure_ascii``;
* ``pinvX_*`` decodes BOLT11 only (the ``bolt11`` package); a BOLT12 invoice is reported as an
  invalid invoice;
* a restriction text that is not UTF-8, or a restriction with no alternatives (``[[]]``), is
  refused with -32602 where lightningd would accept garbage it can never verify later.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import runes as runelib

from lnhive.sim.errors import (
    RUNE_BLACKLISTED,
    RUNE_NOT_AUTHORIZED,
    RUNE_NOT_PERMITTED,
    RpcError,
    invalid_params,
)

__all__ = ["MAX_BLACKLIST_NUM", "READONLY_RESTRICTIONS", "UNRESTRICTED_WARNING", "RuneBook"]

READONLY_RESTRICTIONS: list[list[str]] = [
    ["method^list", "method^get", "method=summary"],
    ["method/listdatastore"],
]
UNRESTRICTED_WARNING = (
    "WARNING: This rune has no restrictions! Anyone who has access to this rune could drain "
    "funds from your node. Be careful when giving this to apps that you don't trust. Consider "
    "using the restrictions parameter to only allow access to specific rpc methods."
)
MAX_BLACKLIST_NUM = 100_000_000

_CONDITIONS = frozenset("!=/^$~<>{}#")
_PUNCT = frozenset(string.punctuation)  # C's ispunct() in the "C" locale
_B64_RE = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_S64_MIN, _S64_MAX = -(2**63), 2**63 - 1
_NSEC = 1_000_000_000
_PER_UNITS = {"": _NSEC, "sec": _NSEC, "nsec": 1, "usec": 10**3, "msec": 10**6}
_PER_UNITS |= {"min": 60 * _NSEC, "hour": 3600 * _NSEC, "day": 86400 * _NSEC}
# condition -> (its English in showrunes, checkrune's complaint when it fails; ccan/rune)
_OPS = {
    "=": ("equal to", "is not equal to"),
    "/": ("unequal to", "is equal to"),
    "^": ("starts with", "does not start with"),
    "$": ("ends with", "does not end with"),
    "~": ("contains", "does not contain"),
    "<": ("<", "is greater or equal to"),
    ">": (">", "is less or equal to"),
    "{": ("sorts before", "is equal to or ordered after"),
    "}": ("sorts after", "is equal to or ordered before"),
}
_ERR_PREFIXES = (
    ("pname", "parameter "),
    ("parr", "parameter #"),
    ("pnum", "number of parameters"),
    ("pinv", "invoice parameter "),
)

Alt = tuple[str, str, str]  # fieldname, condition, value


def _badparam(name: str, why: str) -> RpcError:
    return invalid_params(f"{name}: {why}: invalid token (see logs for details)")


@dataclass
class _Decoded:
    rune: Any  # runes.Rune
    alts: list[list[Alt]]
    unique_id: str
    version: str | None
    uid: int


def _parse_restrictions(text: str) -> list[list[Alt]] | None:
    """Split a rune's restriction text exactly as ccan/rune's decoder does."""
    out: list[list[Alt]] = []
    pos, n = 0, len(text)
    while pos < n:
        alts: list[Alt] = []
        while True:
            end = pos
            while end < n and not (text[end] in _PUNCT and text[end] != "_"):
                end += 1
            if end >= n or text[end] not in _CONDITIONS:
                return None
            field, cond = text[pos:end], text[end]
            pos = end + 1
            value: list[str] = []
            more = False
            while pos < n:
                c = text[pos]
                pos += 1
                if c == "|":
                    more = True
                    break
                if c == "&":
                    break
                if c == "\\":
                    if pos >= n:
                        return None
                    c = text[pos]
                    pos += 1
                value.append(c)
            alts.append((field, cond, "".join(value)))
            if not more:
                break
        out.append(alts)
    return out


def _strtoull0(text: str) -> int | None:
    """``strtoull(text, &end, 0)`` accepted only if it consumes everything (CLN's unique_id_num)."""
    if text == "":
        return 0
    body = text.lstrip(" \t\n\v\f\r")
    body = body.removeprefix("+")
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", body):
        value = int(body[2:], 16)
    elif re.fullmatch(r"0[0-7]*", body):
        value = int(body, 8)
    elif re.fullmatch(r"[1-9][0-9]*", body):
        value = int(body)
    else:
        return None
    return value if value <= _S64_MAX else None


def _restrictions(alts: Sequence[Sequence[Alt]]) -> list[Any]:
    """runes.Restriction objects for already validated alternatives."""
    return [
        runelib.Restriction([runelib.Alternative(f, c, v, allow_idfield=f == "") for f, c, v in r])
        for r in alts
    ]


def _with_counter(rune: Any) -> Any:
    """Set the byte count of a rune rebuilt from its authcode.

    ``Rune.from_authcode`` (runes 0.6) under-counts the SHA-256 padding when a restriction's
    length modulo 64 is 0 or above 55, which corrupts any restriction appended afterwards.
    """
    count = 64
    for restr in rune.restrictions:
        count += len(restr.encode().encode())
        count += len(runelib.end_shastream(count))
    rune.shaobj._counter = count
    return rune


def _raw_json(value: Any) -> str:
    """The JSON text lightningd would compare: string contents without quotes, else the token."""
    if isinstance(value, str):
        return json.dumps(value)[1:-1]
    return json.dumps(value)


def _field_value(value: Any) -> tuple[str | None, int | None]:
    """A parameter as lightningd's check_condition sees it: an s64, or its JSON text."""
    if isinstance(value, int) and not isinstance(value, bool) and _S64_MIN <= value <= _S64_MAX:
        return None, value
    return _raw_json(value), None


def _single(alt: Alt, text: str | None, num: int | None) -> str | None:
    """ccan/rune's rune_alt_single(): None if the alternative passes, else why not."""
    field, cond, value = alt
    if num is not None:
        text = str(num)
    if cond == "#":
        return None
    if cond == "!":
        return None if text is None else f"{field} is present"
    if text is None:
        return f"{field} not present"
    if cond in "<>":
        if num is None:
            return f"{field} is not an integer field"
        if not re.fullmatch(r"[ \t\n\v\f\r]*[+-]?[0-9]+", value):
            return f"{value} is not a valid integer"
        limit = int(value)
        if not _S64_MIN <= limit <= _S64_MAX:
            return f"{value} is not a valid integer"
        ok = num < limit if cond == "<" else num > limit
    else:
        have, want = text.encode(), value.encode()
        ok = {
            "=": have == want,
            "/": have != want,
            "^": have.startswith(want),
            "$": have.endswith(want),
            "~": want in have,
            "{": have < want,
            "}": have > want,
        }[cond]
    return None if ok else f"{field} {_OPS[cond][1]} {value}"


def _english(alt: Alt) -> str:
    field, cond, value = alt
    if cond == "!":
        return f"{field} is missing"
    if cond == "#":
        return f"comment: {field} {value}"
    return f"{field} {_OPS[cond][0]} {value}"


@dataclass
class _Check:
    """One checkrune call: the values a restriction may test (lightningd's cond_info)."""

    nodeid: str | None
    method: str | None
    params: dict[str, Any] | list[Any] | None
    now_ns: int
    last_used: int | None  # the id's last use in ns (0: never); None if the id is not stored
    _cache: dict[str, Any] | None = None

    def _cached(self) -> dict[str, Any]:
        if self._cache is None:
            self._cache = {}
            if isinstance(self.params, dict):
                for key, val in self.params.items():
                    raw = _raw_json(str(key))
                    self._cache.setdefault("pname" + raw, val)
                    stripped = "".join(c for c in raw if c not in _PUNCT)
                    self._cache.setdefault("pname" + stripped, val)
            elif isinstance(self.params, list):
                for i, val in enumerate(self.params):
                    self._cache.setdefault(f"parr{i}", val)
        return self._cache

    def test(self, alt: Alt) -> str | None:
        field = alt[0]
        if field == "time":
            return _single(alt, None, self.now_ns // _NSEC)
        if field == "id":
            return _single(alt, self.nodeid, None)
        if field == "method":
            return _single(alt, self.method, None)
        if field == "pnum":
            return _single(alt, None, len(self.params) if self.params is not None else 0)
        if field in ("rate", "per"):
            return self._limit(alt)
        if field.startswith("pinv"):
            return self._invoice(alt)
        cache = self._cached()
        if field not in cache:
            return _single(alt, None, None)
        text, num = _field_value(cache[field])
        return _single(alt, text, num)

    def _limit(self, alt: Alt) -> str | None:
        """``rate=N`` (one use per 60/N s) and ``per=N<unit>``, kept per unique id."""
        field, cond, value = alt
        if cond != "=":
            return f"{field} operator must be ="
        m = re.fullmatch(r"[ \t\n\v\f\r]*\+?([0-9]+)(.*)", value, re.DOTALL)
        if m is None or not 0 < int(m.group(1)) < 2**32 - 1 or (field == "rate" and m[2]):
            return f"malformed {field}"
        if field == "rate":
            interval = 60 * _NSEC // int(m[1])
        elif m[2] not in _PER_UNITS:
            return "malformed suffix"
        else:
            interval = int(m[1]) * _PER_UNITS[m[2]]
            if interval >= 2**64:
                return "per overflow"
        if self.last_used is None:  # lightningd: "If we do not know the rune, per does not work"
            return None
        return "too soon" if self.now_ns - min(self.last_used, self.now_ns) < interval else None

    def _invoice(self, alt: Alt) -> str | None:
        invfield = alt[0][len("pinv") :]
        for suffix in ("_amount", "_description", "_node"):
            if invfield.endswith(suffix):
                param = invfield[: -len(suffix)]
                break
        else:
            return f"Unknown invoice field {invfield}"
        cache = self._cached()
        if "pname" + param not in cache:
            return f"Unknown invoice parameter {param}"
        invstr = _raw_json(cache["pname" + param])
        if invstr.startswith(("lightning:", "LIGHTNING:")):
            invstr = invstr[len("lightning:") :]
        try:
            import bolt11

            decoded = bolt11.decode(invstr)
        except Exception as exc:
            return f"Invalid invoice: {str(exc) or type(exc).__name__}"
        if suffix == "_amount":
            amount = decoded.amount_msat
            return _single(alt, None, None if amount is None else int(amount))
        if suffix == "_node":
            return _single(alt, str(decoded.payee), None)
        return _single(alt, decoded.description, None)


class RuneBook:
    """The runes of one node, keyed by its rune secret (CLN: ``makesecret("commando")``).

    Methods take the RPC's parameters and return its result object, or raise
    :class:`~lnhive.sim.errors.RpcError` exactly as lightningd would.
    """

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        if not 0 < len(secret) <= 55:
            raise ValueError("a rune secret must fit one SHA-256 block (1..55 bytes)")
        self._secret = bytes(secret)
        self._master = runelib.MasterRune(self._secret)
        self._clock = clock
        self._lock = threading.Lock()
        self._stored: dict[int, str] = {}
        self._last_used: dict[int, int] = {}  # unique id -> nanoseconds; absent = never used
        self._next_id = 0
        self._blacklist: list[tuple[int, int]] = []

    # -- parameters -------------------------------------------------------------------------

    @staticmethod
    def _param_rune(name: str, runestr: Any) -> _Decoded:
        """lightningd's param_rune: base64 rune with a numeric unique id, else -32602."""
        decoded = RuneBook._decode(runestr)
        if decoded is None:
            raise _badparam(name, "should be base64 string")
        if not isinstance(decoded, _Decoded):
            raise _badparam(name, "should have valid numeric unique_id")
        return decoded

    @staticmethod
    def _decode(runestr: Any) -> _Decoded | bool | None:
        """None if undecodable, False if decodable but without a numeric unique id."""
        if not isinstance(runestr, str) or not _B64_RE.fullmatch(runestr):
            return None
        body = runestr.rstrip("=")
        if len(body) % 4 == 1:
            return None
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            text = raw[32:].decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if len(raw) < 32 or "\0" in text:
            return None
        alts = _parse_restrictions(text)
        if alts is None:
            return None
        unique_id: str | None = None
        version: str | None = None
        for i, restr in enumerate(alts):
            for field, cond, value in restr:
                if field != "":
                    continue
                if len(restr) != 1 or i != 0 or cond != "=":
                    return None
                unique_id, _, ver = value.partition("-")
                version = ver if "-" in value else None
        try:
            rune = _with_counter(runelib.Rune.from_authcode(raw[:32], _restrictions(alts)))
        except ValueError:
            return None
        uid = _strtoull0(unique_id) if unique_id is not None else None
        if unique_id is None or uid is None:
            return False
        return _Decoded(rune, alts, unique_id, version, uid)

    @staticmethod
    def _param_restrictions(restrictions: Any) -> list[list[Alt]]:
        """lightningd's param_restrictions: ``"readonly"`` or an array of string arrays."""
        if restrictions == "readonly":
            restrictions = READONLY_RESTRICTIONS
        bad = _badparam("restrictions", "not a valid restriction (should be array)")
        if not isinstance(restrictions, list):
            raise bad
        out: list[list[Alt]] = []
        for restr in restrictions:
            parsed = [_alt_from_json(a) for a in restr] if isinstance(restr, list) else []
            alts = [a for a in parsed if a is not None]
            if not alts or len(alts) != len(parsed):
                raise bad
            out.append(alts)
        return out

    def _is_ours(self, decoded: _Decoded) -> str | None:
        """ccan/rune's rune_is_derived against our master rune: None, or why not."""
        if decoded.version is not None:
            return "Version mismatch"
        if not self._master.is_rune_authorized(decoded.rune):
            return "Not derived from master"
        return None

    def _is_blacklisted(self, uid: int) -> bool:
        return uid < MAX_BLACKLIST_NUM and any(s <= uid <= e for s, e in self._blacklist)

    # -- RPC methods ------------------------------------------------------------------------

    def createrune(
        self, rune: str | None = None, restrictions: list[list[str]] | str | None = None
    ) -> dict[str, Any]:
        """A fresh stored rune with the next unique id, or ``rune`` with more restrictions."""
        decoded = self._param_rune("rune", rune) if rune is not None else None
        alts = self._param_restrictions(restrictions) if restrictions is not None else []
        with self._lock:
            if decoded is not None:
                result = _with_counter(
                    runelib.Rune.from_authcode(decoded.rune.authcode(), decoded.rune.restrictions)
                )
                for restr in _restrictions(alts):
                    result.add_restriction(restr)
                unique_id = decoded.unique_id
            else:
                unique_id = str(self._next_id)
                result = runelib.MasterRune(
                    self._secret, unique_id=unique_id, restrictions=_restrictions(alts)
                )
                self._stored[self._next_id] = result.to_base64()
                self._next_id += 1
            out: dict[str, Any] = {"rune": result.to_base64(), "unique_id": unique_id}
            if len(result.restrictions) <= 1:
                out["warning_unrestricted_rune"] = UNRESTRICTED_WARNING
            return out

    def checkrune(
        self,
        rune: str,
        nodeid: str | None = None,
        method: str | None = None,
        params: dict[str, Any] | list[Any] | None = None,
    ) -> dict[str, Any]:
        """``{"valid": true}``, or RpcError 1503 / 1501 / 1502 (-32602 for bad parameters)."""
        decoded = self._param_rune("rune", rune)
        if nodeid is not None:
            nodeid = _param_node_id(nodeid)
        if method is not None and not isinstance(method, str):
            method = _raw_json(method)
        if params is not None and not isinstance(params, dict | list):
            raise _badparam("params", "must be object or array")
        with self._lock:
            if self._is_blacklisted(decoded.uid):
                raise RpcError(RUNE_BLACKLISTED, "Not authorized: Blacklisted rune")
            why = self._is_ours(decoded)
            if why is not None:
                raise RpcError(RUNE_NOT_AUTHORIZED, f"Not authorized: {why}")
            now_ns = int(self._clock() * _NSEC)
            last = self._last_used.get(decoded.uid, 0) if decoded.uid in self._stored else None
            check = _Check(nodeid, method, params, now_ns, last)
            err = _first_failure(decoded.alts, check)
            if err is not None:
                for prefix, english in _ERR_PREFIXES:
                    if err.startswith(prefix):
                        err = english + err[len(prefix) :]
                        break
                raise RpcError(RUNE_NOT_PERMITTED, f"Not permitted: {err}")
            if decoded.uid in self._stored:
                self._last_used[decoded.uid] = now_ns
            return {"valid": True}

    def showrunes(self, rune: str | None = None) -> dict[str, Any]:
        """The stored runes, or the decoding of ``rune`` (``stored: false`` if not ours as is)."""
        with self._lock:
            if rune is not None:
                decoded = self._param_rune("rune", rune)
                stored = self._stored.get(decoded.uid)
                last = self._last_used.get(decoded.uid, 0) if stored is not None else 0
                return {"runes": [self._describe(rune, decoded, stored == rune, last)]}
            entries = []
            for uid in sorted(self._stored):
                text = self._stored[uid]
                decoded = self._param_rune("rune", text)
                entries.append(self._describe(text, decoded, True, self._last_used.get(uid, 0)))
            return {"runes": entries}

    def blacklistrune(
        self, start: int | None = None, end: int | None = None, relist: bool | None = None
    ) -> dict[str, Any]:
        """Blacklist (or with ``relist`` un-blacklist) ids start..end; returns all ranges."""
        for name, val in (("start", start), ("end", end)):
            if val is not None and (
                not isinstance(val, int) or isinstance(val, bool) or not 0 <= val < 2**64
            ):
                raise _badparam(name, "should be an unsigned 64 bit integer")
        if relist is not None and not isinstance(relist, bool):
            raise _badparam("relist", "should be 'true' or 'false'")
        if end is not None and start is None:
            raise invalid_params("Can not specify end without start")
        if end is None:
            end = start
        if end is not None and end >= MAX_BLACKLIST_NUM:
            raise invalid_params(f"Cannot blacklist beyond {MAX_BLACKLIST_NUM}")
        with self._lock:
            if start is not None and end is not None and start <= end:
                if relist:
                    self._blacklist = _remove_range(self._blacklist, start, end)
                else:
                    self._blacklist = _add_range(self._blacklist, start, end)
            return {"blacklist": [{"start": s, "end": e} for s, e in self._blacklist]}

    # -- helpers ----------------------------------------------------------------------------

    def _describe(
        self, text: str, decoded: _Decoded, stored: bool, last_used_ns: int
    ) -> dict[str, Any]:
        """One ``showrunes`` entry, fields in lightningd's order."""
        entry: dict[str, Any] = {"rune": text}
        if not stored:
            entry["stored"] = False
        if self._is_blacklisted(decoded.uid):
            entry["blacklisted"] = True
        if self._is_ours(decoded) is not None:
            entry["our_rune"] = False
        if last_used_ns // _NSEC != 0:
            entry["last_used"] = last_used_ns / _NSEC
        entry["unique_id"] = decoded.unique_id
        restrictions: list[dict[str, Any]] = []
        for restr in decoded.alts[1:]:
            alternatives = [
                {"fieldname": f, "value": v, "condition": c, "english": _english((f, c, v))}
                for f, c, v in restr
            ]
            english = " OR ".join(a["english"] for a in alternatives)
            restrictions.append({"alternatives": alternatives, "english": english})
        entry["restrictions"] = restrictions
        entry["restrictions_as_english"] = " AND ".join(r["english"] for r in restrictions)
        return entry


def _alt_from_json(alt: Any) -> Alt | None:
    """lightningd's rune_altern_from_json: field up to the first operator, value verbatim."""
    if not isinstance(alt, str):
        return None
    end = 0
    while end < len(alt) and not (alt[end] in _PUNCT and alt[end] != "_"):
        end += 1
    if end >= len(alt) or alt[end] not in _CONDITIONS or end == 0:
        return None
    return alt[:end], alt[end], alt[end + 1 :]


def _param_node_id(nodeid: Any) -> str:
    """lightningd's param_node_id: 33-byte hex of a valid public key, lower-cased."""
    if isinstance(nodeid, str) and re.fullmatch(r"0[23][0-9a-fA-F]{64}", nodeid):
        from coincurve import PublicKey

        try:
            PublicKey(bytes.fromhex(nodeid))
        except Exception:
            pass
        else:
            return nodeid.lower()
    raise _badparam("nodeid", "should be a node id")


def _first_failure(alts: list[list[Alt]], check: _Check) -> str | None:
    """ccan/rune's rune_meets_criteria: every restriction (AND) needs one passing alternative."""
    for i, restr in enumerate(alts):
        if i == 0 and restr[0][0] == "":
            continue  # the unique id is not checked
        errors = []
        for alt in restr:
            err = check.test(alt)
            if err is None:
                break
            errors.append(err)
        else:
            return " AND ".join(errors)
    return None


def _add_range(ranges: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted([*ranges, (start, end)]):
        if out and s <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _remove_range(ranges: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in ranges:
        if s < start:
            out.append((s, min(e, start - 1)))
        if e > end:
            out.append((max(s, end + 1), e))
    return out
