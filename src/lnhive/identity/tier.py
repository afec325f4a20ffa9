"""The governance tier and its bond check (spec §1.4), as pure functions.

A node moves from ``basic`` to ``governance`` by naming a bond in sats that is at least
the operator's minimum (option ``hive-archon-governance-min-bond``) and that its own
channel balance covers. The balance is a snapshot read from ``listfunds``: the sum of
``our_amount_msat`` over channels that are open (``CHANNELD_NORMAL`` or
``CHANNELD_AWAITING_SPLICE``), in whole sats rounded down. Nothing is locked. Money is
integers throughout (decision 12); a bool or a float is never an amount. Downgrading to
``basic`` is always allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import ConstraintViolation, InvalidInput

BASIC = "basic"
GOVERNANCE = "governance"
TIERS: tuple[str, ...] = (BASIC, GOVERNANCE)
OPEN_STATES = frozenset({"CHANNELD_NORMAL", "CHANNELD_AWAITING_SPLICE"})
"""Channel states whose balance counts toward the bond."""
MAX_BOND_SATS = 21_000_000 * 100_000_000
_MSAT = re.compile(r"(0|[1-9][0-9]{0,20})msat")


def parse_msat(value: object) -> int:
    """An amount in msat from CLN's forms: a non-negative int or ``"<n>msat"``."""
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, str):
        match = _MSAT.fullmatch(value)
        if match:
            return int(match.group(1))
    raise InvalidInput(f"not an msat amount: {str(value)[:32]!r}")


def local_balance_sats(listfunds: Mapping[str, Any]) -> int:
    """Σ ``our_amount_msat`` over open channels in ``listfunds``, in sats rounded down."""
    channels = listfunds.get("channels")
    if not isinstance(channels, list):
        raise InvalidInput("listfunds has no channels list")
    total_msat = 0
    for chan in channels:
        if not isinstance(chan, Mapping):
            raise InvalidInput("listfunds channel is not an object")
        if chan.get("state") not in OPEN_STATES:
            continue
        total_msat += parse_msat(chan.get("our_amount_msat"))
    return total_msat // 1000


@dataclass(frozen=True)
class TierDecision:
    """What an upgrade request resolves to."""

    tier: str
    bond_sats: int
    balance_sats: int | None
    """The balance read for the check; ``None`` when none was needed (downgrade)."""


def check_target(target_tier: object) -> str:
    if not isinstance(target_tier, str) or target_tier not in TIERS:
        raise InvalidInput(
            f"invalid target_tier {str(target_tier)[:32]!r}; valid_tiers: {', '.join(TIERS)}"
        )
    return target_tier


def check_bond(bond_sats: object, min_bond_sats: int) -> int:
    """``bond_sats`` as an int at least ``min_bond_sats``, else an error naming the minimum."""
    if type(bond_sats) is not int or not 0 <= bond_sats <= MAX_BOND_SATS:
        raise InvalidInput("bond_sats must be a non-negative integer (sats)")
    if bond_sats < min_bond_sats:
        raise ConstraintViolation(
            f"insufficient bond for governance tier: {bond_sats} < "
            f"required_bond_sats {min_bond_sats}"
        )
    return bond_sats


def decide_upgrade(
    target_tier: object, bond_sats: object, min_bond_sats: int, balance_sats: int | None
) -> TierDecision:
    """The tier to store, or an error; ``balance_sats`` is the node's own snapshot.

    Upgrading needs ``min_bond_sats <= bond_sats <= balance_sats``; ``basic`` needs nothing.
    """
    tier = check_target(target_tier)
    if tier == BASIC:
        return TierDecision(BASIC, 0, None)
    bond = check_bond(bond_sats, min_bond_sats)
    if balance_sats is None:
        raise ConstraintViolation("bond verification failed: reason no balance could be read")
    if balance_sats < bond:
        raise ConstraintViolation(
            f"bond verification failed: local_balance_sats {balance_sats} < bond_sats {bond} "
            f"(required_bond_sats {min_bond_sats})"
        )
    return TierDecision(GOVERNANCE, bond, balance_sats)
