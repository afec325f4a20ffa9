"""CLN amount forms (spec cln-interface §f). Money is integers (ARCHITECTURE decision 12).

``msat`` parameters accept an integer N (msat), ``"N"``, ``"Nmsat"``, ``"Nsat"``
(x1000), ``"Nbtc"`` and ``"N.Fbtc"`` with 1-11 decimals. ``sat`` parameters accept
an integer N (sat), ``"N"``, ``"Nsat"``, ``"Nmsat"`` when N is a whole number of
satoshis (``"5000msat"``, ``"0msat"``), ``"Nbtc"`` and ``"N.Fbtc"`` with up to 8
decimals. Decimal ``sat``/``msat`` strings, signs, spaces, bools and floats are
refused. No amount may exceed 21 million BTC.

A refusal raises :class:`AmountError` whose text is CLN's reason, so a caller can
build CLN's message ``f"{name}: {err}: invalid token '{token}'"``; ``err.detail``
says more precisely what was wrong.
"""

from __future__ import annotations

import re
from typing import Literal

MSAT_PER_SAT = 1000
SAT_PER_BTC = 100_000_000
MSAT_PER_BTC = SAT_PER_BTC * MSAT_PER_SAT
MAX_MSAT = 21_000_000 * MSAT_PER_BTC
"""21 million BTC in msat: 2_100_000_000_000_000_000."""
MAX_SAT = MAX_MSAT // MSAT_PER_SAT

MSAT_REASON = "should be a millisatoshi amount"
SAT_REASON = "should be a satoshi amount"

_FORM = re.compile(r"([0-9]+)(?:\.([0-9]+))?(msat|sat|btc)?")


class AmountError(ValueError):
    """An amount CLN would refuse. ``str(err)`` is CLN's reason; ``detail`` is more precise."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or reason


def _split(v: object, reason: str) -> tuple[str, str | None, str]:
    """``(integer digits, decimal digits or None, unit or "")`` of a string amount."""
    if not isinstance(v, str):
        raise AmountError(reason, f"unsupported type {type(v).__name__}")
    m = _FORM.fullmatch(v)
    if m is None:
        raise AmountError(reason, f"not an amount: {v!r}")
    whole, frac, unit = m.group(1), m.group(2), m.group(3) or ""
    if frac is not None and unit != "btc":
        raise AmountError(reason, "decimals are only allowed in btc amounts")
    return whole, frac, unit


def _btc_to_msat(whole: str, frac: str | None, max_decimals: int, reason: str) -> int:
    if frac is None:
        return int(whole) * MSAT_PER_BTC
    if len(frac) > max_decimals:
        raise AmountError(reason, f"at most {max_decimals} decimals in a btc amount")
    return int(whole) * MSAT_PER_BTC + int(frac.ljust(11, "0"))


def _check_int(v: object, reason: str) -> int | None:
    """``v`` if it is a plain non-negative integer, ``None`` if it is a string."""
    if isinstance(v, bool):
        raise AmountError(reason, "a boolean is not an amount")
    if isinstance(v, int):
        if v < 0:
            raise AmountError(reason, "amount must not be negative")
        return v
    if isinstance(v, str):
        return None
    raise AmountError(reason, f"unsupported type {type(v).__name__}")


def _cap(msat: int, reason: str) -> None:
    if msat > MAX_MSAT:
        raise AmountError(reason, "amount exceeds 21 million BTC")


def parse_msat(v: int | str) -> int:
    """An ``msat`` parameter as an integer number of millisatoshis."""
    n = _check_int(v, MSAT_REASON)
    if n is None:
        whole, frac, unit = _split(v, MSAT_REASON)
        if unit == "btc":
            n = _btc_to_msat(whole, frac, 11, MSAT_REASON)
        elif unit == "sat":
            n = int(whole) * MSAT_PER_SAT
        else:  # "msat" or bare digits
            n = int(whole)
    _cap(n, MSAT_REASON)
    return n


def parse_sat(v: int | str) -> int:
    """A ``sat`` parameter as an integer number of satoshis."""
    n = _check_int(v, SAT_REASON)
    if n is None:
        whole, frac, unit = _split(v, SAT_REASON)
        if unit == "btc":
            msat = _btc_to_msat(whole, frac, 8, SAT_REASON)
        elif unit == "msat":
            msat = int(whole)
            if msat % MSAT_PER_SAT:
                raise AmountError(SAT_REASON, "msat amount is not a whole number of satoshis")
        else:  # "sat" or bare digits
            msat = int(whole) * MSAT_PER_SAT
        _cap(msat, SAT_REASON)
        return msat // MSAT_PER_SAT
    _cap(n * MSAT_PER_SAT, SAT_REASON)
    return n


def parse_msat_or_all(v: int | str) -> int | Literal["all"]:
    """``"all"`` or an ``msat`` amount."""
    return "all" if v == "all" else parse_msat(v)


def parse_sat_or_all(v: int | str) -> int | Literal["all"]:
    """``"all"`` or a ``sat`` amount."""
    return "all" if v == "all" else parse_sat(v)


def parse_msat_or_any(v: int | str) -> int | Literal["any"]:
    """``"any"`` or an ``msat`` amount."""
    return "any" if v == "any" else parse_msat(v)


def format_msat(n: int) -> str:
    """``"Nmsat"``, the string form pyln's ``Millisatoshi`` serialises to."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise AmountError(MSAT_REASON, "format_msat needs a non-negative integer")
    return f"{n}msat"


def sat_to_msat(sat: int) -> int:
    """Satoshis to millisatoshis (exact)."""
    return sat * MSAT_PER_SAT


def msat_to_sat_floor(msat: int) -> int:
    """Millisatoshis to whole satoshis, rounded down (floor)."""
    return msat // MSAT_PER_SAT
