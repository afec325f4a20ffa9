"""Profitability → rebalancer and fee-ceiling couplings (spec revenue-ops §4 "Couplings", §3.1).

Each channel's last stored profitability snapshot (``channel_profitability``, refreshed every
flow cycle) gives its class, ROI and marginal ROI. As a rebalance *destination*:

| class | priority | budget multiplier |
|---|---|---|
| profitable | 1.5 | min(1.5, 1 + ROI) |
| break_even | 1.0 | 1 |
| underwater | 0.5 | 0.5 |
| stagnant_candidate | 0.3 | 0.3 |
| zombie | 0 | 0 |

- The priority weighs the selection score, so it orders the candidates (greedy matching).
- The multiplier scales the pair budget (``pair-fee-cap-ppm`` of the amount, the per-pair
  spend cap): ``floor(budget_msat x multiplier)`` rounded *down* to whole sat. The multiplier
  travels as parts per million (``round(m x 1e6)``) so the money math stays integer.
- Multiplier 0 (zombie) → never an automatic destination (``dest_zombie``); the
  defibrillator's diagnostic (:mod:`.defibrillator`) is the only rebalance into such a
  channel, and it never targets zombies anyway. §3.1 also excludes an UNDERWATER destination
  whose marginal ROI is ≤ 0 (``dest_underwater``).
- A channel without a snapshot, or with one older than :data:`SNAPSHOT_MAX_AGE_S`, counts as
  break-even (priority 1, multiplier 1): the couplings never act on stale figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lnhive.revenue import profitability as pf
from lnhive.revenue.store import RevenueStore

PPM = 1_000_000
SNAPSHOT_MAX_AGE_S = 2 * 86_400.0
"""A profitability snapshot older than this (two days; the flow loop refreshes hourly) is
ignored."""


@dataclass(frozen=True)
class Coupling:
    """What the rebalancer reads of one channel's profitability."""

    profit_class: pf.ProfitClass = pf.ProfitClass.BREAK_EVEN
    roi: float = 0.0
    marginal_roi: float = 0.0
    known: bool = False
    """False: no usable snapshot (treated as break-even)."""

    @property
    def priority(self) -> float:
        return pf.rebalance_priority(self.profit_class)

    @property
    def ceiling_factor(self) -> float:
        """The fee ceiling's factor max(0.5, 1/m) by marginal ROI (1 without a snapshot)."""
        if not self.known or not math.isfinite(self.marginal_roi):
            return 1.0
        return pf.ceiling_factor(self.marginal_roi)

    @property
    def multiplier_ppm(self) -> int:
        return multiplier_ppm(self.profit_class, self.roi)

    def dest_exclusion(self) -> str | None:
        """Why the channel may never be an automatic destination (None: it may)."""
        if self.multiplier_ppm <= 0 or self.profit_class is pf.ProfitClass.ZOMBIE:
            return "dest_zombie"
        if self.profit_class is pf.ProfitClass.UNDERWATER and self.marginal_roi <= 0:
            return "dest_underwater"
        return None

    def to_json(self) -> dict[str, object]:
        return {
            "class": str(self.profit_class),
            "known": self.known,
            "priority": self.priority,
            "budget_multiplier": self.multiplier_ppm / PPM,
        }


UNKNOWN = Coupling()


def multiplier_ppm(cls: pf.ProfitClass, roi: float) -> int:
    """The budget multiplier in ppm: 1.5 M at most, never negative (a profitable channel has
    ROI > 5 %, so 1 + ROI > 1; a non-finite ROI counts as 1)."""
    m = pf.budget_multiplier(cls, roi if math.isfinite(roi) else 0.0)
    return max(0, min(3 * PPM // 2, round(m * PPM)))


def scale_msat(amount_msat: int, mult_ppm: int) -> int:
    """``amount x multiplier``, rounded down to whole sat (in msat)."""
    if amount_msat <= 0 or mult_ppm <= 0:
        return 0
    return amount_msat * mult_ppm // PPM // 1000 * 1000


def stored_couplings(store: RevenueStore, now: float) -> dict[str, Coupling]:
    """Every channel's coupling from its last snapshot (stale or unreadable ones left out)."""
    rows = store.db.query(
        "SELECT channel_id, classification, roi, marginal_roi, updated_at FROM "
        "channel_profitability WHERE updated_at >= ?",
        (now - SNAPSHOT_MAX_AGE_S,),
    )
    out: dict[str, Coupling] = {}
    for r in rows:
        try:
            cls = pf.ProfitClass(r["classification"])
        except ValueError:
            continue
        out[str(r["channel_id"])] = Coupling(
            cls, float(r["roi"]), float(r["marginal_roi"]), known=True
        )
    return out
