"""Rebalance backoff: cooldowns and futility (spec revenue-ops §3.5), as pure functions.

Failure kinds and their base cooldowns (s): ``temporary`` and ``no_route`` 300,
``fee_insufficient`` 1800, ``incorrect_cltv`` 3600, ``permanent`` 21 600,
``pending_timeout`` 3600, anything else (``other``) 600. The *n*-th failure of a kind on a
pair cools the pair for ``base x min(max(n, 1), 6)`` from that failure, where n counts the
pair's failures of that kind since its last success within 24 h **[ours: the lookback]**.
``too_expensive`` (a route dearer than the EV ceiling, nothing sent) cools the pair like
``other`` but is no futility strike, and a refused budget is no failure at all.

Futility: a pair with 3 failures within 30 minutes is futile for 24 h after the last of
them **[ours: the duration]**; a destination peer is futile for 48 h after 4 structural
(``no_route``, ``permanent``, ``incorrect_cltv``) or 10 other failures within 48 h.

Success cooldown of a destination: ``3600 s x min(1, 2 x amount / (amount + remaining
gap))`` **[ours: the 3600 s base]** from its last success; bypassed when the destination's
local ratio is below ``rebalance-emergency-local-ratio`` (0.10) or has drifted by at least
``rebalance-drift-override-ratio`` (0.30) since that success.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BASE_COOLDOWN_S: dict[str, float] = {
    "temporary": 300.0,
    "no_route": 300.0,
    "fee_insufficient": 1800.0,
    "incorrect_cltv": 3600.0,
    "permanent": 21_600.0,
    "pending_timeout": 3600.0,
    "other": 600.0,
}
NOT_STRIKES = frozenset({"too_expensive"})
STRUCTURAL = frozenset({"no_route", "permanent", "incorrect_cltv"})
MAX_MULTIPLIER = 6
COUNT_LOOKBACK_S = 86_400.0
PAIR_FUTILE_FAILURES = 3
PAIR_FUTILE_WINDOW_S = 1800.0
PAIR_FUTILE_FOR_S = 86_400.0
DEST_WINDOW_S = 48 * 3600.0
DEST_STRUCTURAL_FAILURES = 4
DEST_OTHER_FAILURES = 10
SUCCESS_BASE_S = 3600.0


@dataclass(frozen=True)
class Failure:
    kind: str
    timestamp: float


def base_cooldown(kind: str) -> float:
    return BASE_COOLDOWN_S.get(kind, BASE_COOLDOWN_S["other"])


def pair_cooldown_until(
    failures: Sequence[Failure], last_success: float | None, now: float
) -> float | None:
    """When the pair may be tried again after its latest failure (None: no cooldown)."""
    since = max(now - COUNT_LOOKBACK_S, last_success if last_success is not None else -1.0)
    recent = [f for f in failures if f.timestamp > since]
    if not recent:
        return None
    last = max(recent, key=lambda f: f.timestamp)
    n = sum(1 for f in recent if f.kind == last.kind)
    until = last.timestamp + base_cooldown(last.kind) * min(max(n, 1), MAX_MULTIPLIER)
    return until if until > now else None


def pair_futile(failures: Iterable[Failure], now: float) -> bool:
    """3 strikes within 30 minutes, the last of them less than 24 h ago."""
    times = sorted(f.timestamp for f in failures if f.kind not in NOT_STRIKES)
    for i in range(len(times) - PAIR_FUTILE_FAILURES + 1):
        last = times[i + PAIR_FUTILE_FAILURES - 1]
        if last - times[i] <= PAIR_FUTILE_WINDOW_S and now - last < PAIR_FUTILE_FOR_S:
            return True
    return False


def dest_futile(failures: Iterable[Failure], now: float) -> bool:
    """4 structural or 10 other strikes toward the destination peer within 48 h."""
    recent = [
        f for f in failures if f.kind not in NOT_STRIKES and now - f.timestamp < DEST_WINDOW_S
    ]
    structural = sum(1 for f in recent if f.kind in STRUCTURAL)
    return structural >= DEST_STRUCTURAL_FAILURES or len(recent) - structural >= DEST_OTHER_FAILURES


def success_cooldown_s(amount_sat: int, remaining_gap_sat: int) -> float:
    """3600 s x min(1, 2 x amount / (amount + remaining gap))."""
    total = amount_sat + max(0, remaining_gap_sat)
    if total <= 0:
        return 0.0
    return SUCCESS_BASE_S * min(1.0, 2 * amount_sat / total)


def success_cooldown_active(
    *,
    last_success_at: float | None,
    last_amount_sat: int,
    ratio_after_success: float | None,
    local_ratio_now: float,
    remaining_gap_sat: int,
    now: float,
    emergency_local_ratio: float,
    drift_override_ratio: float,
) -> bool:
    """Is the destination still cooling down after its last success?"""
    if last_success_at is None:
        return False
    if local_ratio_now < emergency_local_ratio:
        return False
    if (
        ratio_after_success is not None
        and abs(local_ratio_now - ratio_after_success) >= drift_override_ratio
    ):
        return False
    return now < last_success_at + success_cooldown_s(last_amount_sat, remaining_gap_sat)


def classify_failcode(failcode: int | None, code: int | None = None) -> str:
    """The backoff kind of a ``waitsendpay``/``sendpay`` failure (BOLT 4 failcodes)."""
    if code == 200:
        return "pending_timeout"
    if failcode is None:
        return "other"
    if failcode == 0x100C:  # fee_insufficient
        return "fee_insufficient"
    if failcode == 0x100D:  # incorrect_cltv_expiry
        return "incorrect_cltv"
    if failcode & 0x4000 and not failcode & 0x1000:  # PERM without UPDATE
        return "permanent"
    if failcode & 0x1000 or failcode & 0x2000:  # UPDATE or NODE (temporary)
        return "temporary"
    return "other"
