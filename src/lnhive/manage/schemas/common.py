"""Builders shared by the family tables: parameter shorthands and a family builder."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lnhive.core.errors import InvalidParams
from lnhive.manage.catalogue import (
    ActionSpec,
    Band,
    Catalogue,
    Check,
    Effect,
    Selector,
    Support,
)
from lnhive.manage.danger import DangerVector, Tier
from lnhive.manage.params import Kind, Param

MON, STD, ADV, ADM = Tier.MONITOR, Tier.STANDARD, Tier.ADVANCED, Tier.ADMIN

MAX_FEE_PPM = 50_000
"""† bound of fee-policy actions."""
MAX_BASE_MSAT = 100_000
MAX_CHANNEL_SATS = 100_000_000
"""1 BTC: a tightenable ceiling for any single amount in sats."""
MAX_PAY_MSAT = MAX_CHANNEL_SATS * 1000
MAX_FEERATE_SAT_VB = 1_000
"""On-chain feerates are integers in sat/vB (the executor renders CLN's ``perkb``)."""
MAX_REBALANCE_FEE_PPM = 1_000


def channel(name: str = "channel_id", *, required: bool = True) -> Param:
    return Param(name, Kind.CHANNEL, required)


def node(name: str = "node_id", *, required: bool = True) -> Param:
    return Param(name, Kind.NODE, required)


def sats(name: str = "amount_sats", lo: int = 1, hi: int = MAX_CHANNEL_SATS) -> Param:
    return Param(name, Kind.INT, True, lo, hi)


def integer(name: str, lo: int, hi: int, *, required: bool = True) -> Param:
    return Param(name, Kind.INT, required, lo, hi)


def text(name: str, max_len: int = 500, *, required: bool = True, min_len: int = 0) -> Param:
    return Param(name, Kind.STR, required, lo=min_len or None, max_len=max_len)


def flag(name: str, *, required: bool = False) -> Param:
    return Param(name, Kind.BOOL, required)


def reason(*, required: bool = True) -> Param:
    return text("reason", 500, required=required)


def feerate(*, required: bool = True) -> Param:
    return Param("feerate", Kind.INT, required, 1, MAX_FEERATE_SAT_VB)


def address(name: str = "destination", *, required: bool = True) -> Param:
    return Param(name, Kind.ADDRESS, required)


def limit_since() -> tuple[Param, ...]:
    return (integer("limit", 1, 1000, required=False), Param("since", Kind.INT, False, 0))


def both_given(params: Mapping[str, Any], a: str, b: str) -> bool:
    return a in params and b in params


def require_any(*names: str) -> Check:
    def check(params: Mapping[str, Any]) -> None:
        if not any(n in params for n in names):
            raise InvalidParams(f"give at least one of {list(names)}")

    return check


class FamilyBuilder:
    """Adds one family's actions to a catalogue."""

    def __init__(self, catalogue: Catalogue, family: str, permission: str) -> None:
        self.catalogue = catalogue
        self.family = family
        self.permission = permission

    def action(
        self,
        name: str,
        tier: Tier,
        params: Iterable[Param] = (),
        *,
        v: DangerVector | None = None,
        bands: Iterable[Band] = (),
        cln: str,
        rpc: Iterable[str] = (),
        effects: Iterable[Effect] = (),
        permission: str | None = None,
        select: Selector | None = None,
        check: Check | None = None,
        alternatives: Iterable[frozenset[str]] = (),
        needs: tuple[str, str] | None = None,
        never: str | None = None,
    ) -> None:
        """``needs=(capability, reason)``: only with that capability; ``never=reason``:
        declared but unsupported."""
        band_list = tuple(bands)
        if v is not None:
            band_list = (Band("default", v), *band_list)
        if not band_list:
            raise ValueError(f"{self.family}/{name} has no danger vector")
        support, capability, why = Support.ALWAYS, "", ""
        if needs is not None:
            support, (capability, why) = Support.NEEDS, needs
        if never is not None:
            support, why = Support.NEVER, never
        effect_set = frozenset(effects)
        if Effect.READ not in effect_set:
            effect_set |= {Effect.WRITE}
        self.catalogue.add(
            ActionSpec(
                family=self.family,
                name=name,
                tier=tier,
                params=tuple(params),
                bands=band_list,
                cln=cln,
                rpc=tuple(rpc),
                permission=permission or self.permission,
                effects=effect_set,
                select=select,
                check=check,
                alternatives=tuple(alternatives),
                support=support,
                capability=capability,
                reason=why,
            )
        )
