"""Danger scores and approval tiers (comms spec §2.1).

Every action carries a five-dimension vector per parameter band; its danger score
``D`` is the **maximum** of the five, never an average. ``D`` decides routing: the
policy presets draw the auto/hold/reject lines, and 9-10 always need a quorum.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lnhive.core.errors import InvalidInput

MIN_SCORE = 1
MAX_SCORE = 10
MULTISIG_FLOOR = 9
"""From this score on an action never runs without an N-of-M quorum."""


class Tier(enum.IntEnum):
    """Credential tiers: a credential of tier T may request actions of tier <= T."""

    MONITOR = 0
    STANDARD = 1
    ADVANCED = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: object) -> Tier:
        if isinstance(value, str):
            for tier in cls:
                if tier.label == value:
                    return tier
        raise InvalidInput(f"tier must be one of {[t.label for t in cls]}, not {value!r}")


@dataclass(frozen=True, slots=True)
class DangerVector:
    """The five dimensions of §2.1, each 1-10 (1-2 benign .. 9-10 worst)."""

    reversibility: int
    """instant .. hours .. needs an on-chain tx .. irreversible"""
    financial_exposure: int
    """0 .. <100k .. 100k-10M .. >10M or the whole wallet"""
    time_sensitivity: int
    """none .. days .. hours .. immediate"""
    blast_radius: int
    """one metric .. one channel .. several channels .. node/fleet"""
    recovery_difficulty: int
    """trivial .. moderate .. expert and time .. maybe never"""

    def __post_init__(self) -> None:
        for value in self.as_tuple():
            if type(value) is not int or not MIN_SCORE <= value <= MAX_SCORE:
                raise InvalidInput(f"danger dimensions are integers 1-10, not {value!r}")

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (
            self.reversibility,
            self.financial_exposure,
            self.time_sensitivity,
            self.blast_radius,
            self.recovery_difficulty,
        )

    @property
    def score(self) -> int:
        """``D``: the maximum dimension."""
        return max(self.as_tuple())


def V(rev: int, fin: int, time: int, blast: int, recov: int) -> DangerVector:
    """Short constructor for catalogue tables."""
    return DangerVector(rev, fin, time, blast, recov)


class HoldKind(enum.StrEnum):
    """How a held action waits (spec §4.3)."""

    QUEUE = "queue"
    """D <= 6: operator approves (and may edit params), then it runs; 24 h."""
    CONFIRM = "confirm"
    """D 7-8: operator approves, then the advisor re-sends with ``confirm_action_id``; 4 h."""
    MULTISIG = "multisig"
    """D 9-10: N-of-M approvers; 72 h."""


HOLD_EXPIRY_S: dict[HoldKind, int] = {
    HoldKind.QUEUE: 24 * 3600,
    HoldKind.CONFIRM: 4 * 3600,
    HoldKind.MULTISIG: 72 * 3600,
}


def hold_kind(score: int) -> HoldKind:
    """The hold kind for a danger score."""
    if score >= MULTISIG_FLOOR:
        return HoldKind.MULTISIG
    if score >= 7:
        return HoldKind.CONFIRM
    return HoldKind.QUEUE


REPUTATIONS = ("new", "established", "proven")
"""Reputation classes of doc 02: factor 0.5, 1.0, 2.0."""


def approval_level(score: int, reputation: str = "established") -> int:
    """Doc 02's optional ``max(D/rep, D*0.5)`` (rep 0.5 / 1 / 2), rounded up, capped at 10.

    Scores of 9-10 keep their multi-sig floor whatever the reputation.
    """
    if reputation not in REPUTATIONS:
        raise InvalidInput(f"reputation must be one of {list(REPUTATIONS)}")
    half = -(-score // 2)
    by_rep = {"new": score * 2, "established": score, "proven": half}[reputation]
    level = min(max(by_rep, half), MAX_SCORE)
    if score >= MULTISIG_FLOOR:
        level = max(level, score)
    return level
