"""Capacity planning (spec revenue-ops §4 "Capacity report"), pure and advisory: it never
opens, closes or splices anything.

- **Winners**: marginal ROI > 20 %, turnover > 0.5/day and strongly directional (flow class
  SOURCE or SINK) → ``SPLICE_IN`` when the peer advertises ``option_splice`` (feature bit
  62/63), else ``REOPEN_LARGER`` (close and reopen larger).
- **Losers**: older than 90 days and ZOMBIE or ROI < -50 %; or balanced (outbound 0.4-0.6)
  with turnover < 0.0015/day and marginal ROI < 10 %. A loser with fewer than 2 diagnostic
  attempts in 14 days gets ``DEFIBRILLATE``, never ``CLOSE``; otherwise ``CLOSE`` unless a
  protection gate blocks it (then ``KEEP`` with the gates named).
- **Close protection** (any one blocks): flow confidence < 0.5 (unless the channel had no
  forward in 30 days and is older than the flow window + 7 days); inbound gateway with
  marginal ROI ≥ -30 %; sourced fees > 100 sat with ROI > -50 %; a proven revenue route
  (**[ours]**: it earned as exit channel in the last 30 days) with ROI > -30 %; a static or
  passive policy, or a ``protect``/``no_close`` tag; a ``hive`` peer **[ours]**.
- Winners (by ROI, best first) are paired with closable losers (by capacity, largest
  first): ``REDEPLOY`` moves the loser's capacity to the winner. With the mempool above
  100 sat/vB every on-chain action is held (``mempool_recommendation = HOLD``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lnhive.revenue import profitability as pf
from lnhive.revenue.profit_view import ChannelProfit

WINNER_MARGINAL_ROI = 0.20
WINNER_TURNOVER = 0.5
LOSER_MIN_DAYS = 90
LOSER_ROI = -0.50
IDLE_BALANCED = (0.4, 0.6)
IDLE_TURNOVER = 0.0015
IDLE_MARGINAL_ROI = 0.10
MIN_DIAGNOSTICS_14D = 2
CONFIDENCE_FLOOR = 0.5
GATEWAY_MARGINAL_ROI = -0.30
SOURCED_PROTECT_MSAT = 100_000
SOURCED_PROTECT_ROI = -0.50
ROUTE_PROTECT_ROI = -0.30
PROTECT_TAGS = ("protect", "no_close")
HOLD_FEERATE_SAT_VB = 100.0
DIRECTIONAL = ("source", "sink")
SPLICE_BITS = (62, 63)


def supports_splice(features_hex: object) -> bool:
    """Whether an init/node feature hex string sets bit 62 or 63 (``option_splice``)."""
    if not isinstance(features_hex, str) or not features_hex:
        return False
    try:
        bits = int(features_hex, 16)
    except ValueError:
        return False
    return any(bits >> b & 1 for b in SPLICE_BITS)


def loser_reason(p: ChannelProfit) -> str | None:
    """Why ``p`` is a loser, or None."""
    days = p.days_open or 0.0
    if days > LOSER_MIN_DAYS and p.classification is pf.ProfitClass.ZOMBIE:
        return "zombie"
    if days > LOSER_MIN_DAYS and p.roi < LOSER_ROI:
        return "roi_below_-50%"
    lo, hi = IDLE_BALANCED
    if (
        lo <= p.outbound_ratio <= hi
        and p.turnover_per_day < IDLE_TURNOVER
        and p.marginal_roi < IDLE_MARGINAL_ROI
    ):
        return "idle_balanced"
    return None


def is_winner(p: ChannelProfit) -> bool:
    return (
        p.marginal_roi > WINNER_MARGINAL_ROI
        and p.turnover_per_day > WINNER_TURNOVER
        and p.flow_class in DIRECTIONAL
    )


def close_blockers(p: ChannelProfit, flow_window_days: int = 7) -> list[str]:
    """Every protection gate that blocks closing ``p`` (empty: closing may be recommended)."""
    out: list[str] = []
    dead = p.forwards_30d == 0 and (p.days_open or 0.0) > flow_window_days + 7
    if (p.flow_confidence is None or p.flow_confidence < CONFIDENCE_FLOOR) and not dead:
        out.append("low_flow_confidence")
    if p.role_30d == "inbound_gateway" and p.marginal_roi >= GATEWAY_MARGINAL_ROI:
        out.append("inbound_gateway")
    if p.sourced_msat > SOURCED_PROTECT_MSAT and p.roi > SOURCED_PROTECT_ROI:
        out.append("sourced_fees")
    if p.earned_30d_msat > 0 and p.roi > ROUTE_PROTECT_ROI:
        out.append("proven_revenue_route")
    if p.strategy in ("static", "passive"):
        out.append(f"{p.strategy}_policy")
    if p.strategy == "hive":
        out.append("hive_peer")
    out.extend(f"tag_{t}" for t in PROTECT_TAGS if t in p.tags)
    return out


@dataclass(frozen=True)
class Recommendation:
    action: str
    channel_id: str
    peer_id: str
    reason: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "channel_id": self.channel_id,
            "peer_id": self.peer_id,
            "reason": self.reason,
            **self.detail,
        }


def _summary(p: ChannelProfit) -> dict[str, Any]:
    return {
        "channel_id": p.channel_id,
        "peer_id": p.peer_id,
        "capacity_sats": p.capacity_sat,
        "classification": str(p.classification),
        "roi_percent": round(100 * p.roi, 2),
        "marginal_roi_percent": round(100 * p.marginal_roi, 2),
        "turnover_per_day": round(p.turnover_per_day, 6),
        "days_open": None if p.days_open is None else round(p.days_open, 1),
    }


def capacity_report(
    profits: Sequence[ChannelProfit],
    *,
    feerate_sat_vb: float | None,
    flow_window_days: int = 7,
) -> dict[str, Any]:
    """``revenue-capacity-report``: winners, losers, recommendations, mempool advice."""
    hold = feerate_sat_vb is not None and feerate_sat_vb > HOLD_FEERATE_SAT_VB
    winners = sorted((p for p in profits if is_winner(p)), key=lambda p: -p.roi)
    recs: list[Recommendation] = []
    for w in winners:
        action = "SPLICE_IN" if w.peer_supports_splice else "REOPEN_LARGER"
        recs.append(Recommendation(action, w.channel_id, w.peer_id, "winner", {}))
    losers: list[tuple[ChannelProfit, str, list[str], str]] = []
    for p in profits:
        why = loser_reason(p)
        if why is None:
            continue
        blockers = close_blockers(p, flow_window_days)
        if p.diagnostics_14d < MIN_DIAGNOSTICS_14D:
            action = "DEFIBRILLATE"
        else:
            action = "KEEP" if blockers else "CLOSE"
        losers.append((p, why, blockers, action))
        recs.append(
            Recommendation(action, p.channel_id, p.peer_id, why, {"close_blockers": blockers})
        )
    closable = sorted((p for p, _, _, a in losers if a == "CLOSE"), key=lambda p: -p.capacity_sat)
    for w, lo in zip(winners, closable, strict=False):
        recs.append(
            Recommendation(
                "REDEPLOY",
                lo.channel_id,
                lo.peer_id,
                "pair_loser_with_winner",
                {"to_channel": w.channel_id, "to_peer": w.peer_id, "amount_sats": lo.capacity_sat},
            )
        )
    on_chain = {"SPLICE_IN", "REOPEN_LARGER", "CLOSE", "REDEPLOY"}
    return {
        "winners": [_summary(w) for w in winners],
        "losers": [
            {**_summary(p), "reason": why, "action": action, "close_blockers": blockers}
            for p, why, blockers, action in losers
        ],
        "recommendations": [{**r.to_json(), "hold": hold and r.action in on_chain} for r in recs],
        "mempool_recommendation": "HOLD" if hold else "PROCEED",
        "feerate_sat_vb": feerate_sat_vb,
    }
