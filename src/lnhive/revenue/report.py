"""``revenue-report``: what each channel earned and cost, and what the fee controller is
doing about it, in one JSON result with a ``summary`` text an operator reads at a glance.

Three views: ``summary`` (every channel, worst 30-day net first), ``peer`` (the channels of
one peer) and ``bleeders`` (channels whose rebalancing costs more than they earn). Pure:
the caller passes evaluated channels (:class:`~.profit_view.ChannelProfit`), the
controller's stored reasoning per channel, node totals and the budget.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

from lnhive.revenue import profitability as pf
from lnhive.revenue.profit_view import ChannelProfit

VIEWS = ("summary", "peer", "bleeders")


def _sat(msat: int) -> int:
    return pf.sat_ceil(msat) if msat >= 0 else -pf.sat_ceil(-msat)


def _num(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _ago(now: float, ts: float | None) -> str:
    if ts is None:
        return "never"
    s = max(0.0, now - ts)
    if s < 3600:
        return f"{s / 60:.0f} min ago"
    if s < 2 * 86400:
        return f"{s / 3600:.0f} h ago"
    return f"{s / 86400:.0f} d ago"


def controller_text(r: Mapping[str, Any], now: float, strategy: str) -> str:
    """One line on the controller's state: last change, belief, sleep, pending target."""
    if strategy != "dynamic":
        return f"policy {strategy}: fee not learned"
    parts = []
    last = r.get("last_change")
    if last:
        verb = "set" if last["applied"] else "would set"
        parts.append(
            f"{verb} {last['old_fee_ppm']}->{last['new_fee_ppm']} ppm ({last['reason']}) "
            f"{_ago(now, last['timestamp'])}"
        )
    else:
        parts.append("no change yet")
    if r.get("posterior_mean_ppm") is not None:
        parts.append(
            f"best guess {r['posterior_mean_ppm']}+-{r['posterior_std_ppm']} ppm "
            f"from {r['observations']} windows"
        )
    if r.get("sleeping_until") is not None:
        parts.append(f"asleep for {max(0.0, (r['sleeping_until'] - now) / 60):.0f} min")
    if r.get("pending_target_ppm") is not None:
        parts.append(f"pending {r['pending_target_ppm']} ppm")
    return "; ".join(parts)


def attention(p: ChannelProfit) -> str | None:
    """Why an operator should look at this channel, or None."""
    if p.bleeder is pf.Bleeder.HARD:
        return (
            f"hard bleeder: rebalancing cost {_num(_sat(p.rebalance_cost_30d_msat))} sat in 30 d, "
            f"net {_num(_sat(p.net_30d_msat))} sat"
        )
    if p.classification is pf.ProfitClass.ZOMBIE:
        return "zombie: diagnostics failed to revive it; consider closing"
    if p.classification is pf.ProfitClass.STAGNANT_CANDIDATE:
        return f"stagnant: idle {p.idle_days:.0f} d, ROI {100 * p.roi:.0f} %"
    if p.bleeder is pf.Bleeder.SOFT:
        return f"soft bleeder: net 7 d {_num(_sat(p.net_7d_msat))} sat"
    if p.classification is pf.ProfitClass.UNDERWATER:
        return f"underwater: ROI {100 * p.roi:.0f} % (costs not yet earned back)"
    return None


def _row(p: ChannelProfit, reasoning: Mapping[str, Any], now: float) -> dict[str, Any]:
    return {
        "channel_id": p.channel_id,
        "peer_id": p.peer_id,
        "classification": str(p.classification),
        "bleeder": str(p.bleeder),
        "fee_ppm": p.fee_ppm,
        "outbound_ratio": round(p.outbound_ratio, 3),
        "flow_class": p.flow_class,
        "earned_30d_sats": _sat(p.earned_30d_msat),
        "sourced_30d_sats": _sat(p.sourced_30d_msat),
        "contribution_30d_sats": _sat(p.contribution_30d_msat),
        "rebalance_cost_30d_sats": _sat(p.rebalance_cost_30d_msat),
        "net_30d_sats": _sat(p.net_30d_msat),
        "lifetime_net_sats": _sat(p.net_msat),
        "roi_percent": round(100 * p.roi, 1),
        "marginal_roi_percent": round(100 * p.marginal_roi, 1),
        "forwards_30d": p.forwards_30d,
        "controller": dict(reasoning),
        "reasoning": controller_text(reasoning, now, p.strategy),
        "attention": attention(p),
    }


def _table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    head = (
        f"{'channel':<14} {'peer':<10} {'class':<18} {'earned':>9} {'sourced':>9} {'rebal':>8} "
        f"{'net30d':>9} "
        f"{'ROI%':>7} {'fee':>5} {'local':>5}  controller"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        peer = f"{r['peer_id'][:4]}..{r['peer_id'][-4:]}"
        lines.append(
            f"{r['channel_id']:<14} {peer:<10} {r['classification']:<18} "
            f"{_num(r['earned_30d_sats']):>9} {_num(r['sourced_30d_sats']):>9} "
            f"{_num(r['rebalance_cost_30d_sats']):>8} "
            f"{_num(r['net_30d_sats']):>9} {r['roi_percent']:>7.1f} {r['fee_ppm']:>5} "
            f"{100 * r['outbound_ratio']:>4.0f}%  {r['reasoning']}"
        )
    return lines


def build_report(
    view: str,
    profits: Sequence[ChannelProfit],
    reasoning: Mapping[str, Mapping[str, Any]],
    *,
    now: float,
    totals_30d: Mapping[str, int],
    budget: Mapping[str, Any] | None = None,
    mode: str = "live",
) -> dict[str, Any]:
    """The ``revenue-report`` result for ``view`` over the given channels."""
    if view == "bleeders":
        chosen = [p for p in profits if p.bleeder is not pf.Bleeder.NONE]
    else:
        chosen = list(profits)
    chosen.sort(key=lambda p: (p.net_30d_msat, p.channel_id))
    rows = [_row(p, reasoning.get(p.channel_id, {}), now) for p in chosen]
    counts = {str(c): 0 for c in pf.ProfitClass}
    for p in profits:
        counts[str(p.classification)] += 1
    earned = totals_30d["forward_fees_msat"]
    spent = totals_30d["rebalance_fees_msat"]
    node: dict[str, Any] = {
        "earned_30d_sats": _sat(earned),
        "forwards_30d": totals_30d["forwards"],
        "rebalance_cost_30d_sats": _sat(spent),
        "rebalances_30d": totals_30d["rebalances"],
        "net_30d_sats": _sat(earned - spent),
        "classes": counts,
        "bleeders": {
            "hard": sum(p.bleeder is pf.Bleeder.HARD for p in profits),
            "soft": sum(p.bleeder is pf.Bleeder.SOFT for p in profits),
        },
    }
    when = _dt.datetime.fromtimestamp(now, _dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"cl-revenue-ops {view} report, {when} ({mode})",
        f"Last 30 days: earned {_num(node['earned_30d_sats'])} sat from "
        f"{_num(node['forwards_30d'])} forwards; rebalancing cost "
        f"{_num(node['rebalance_cost_30d_sats'])} sat in {node['rebalances_30d']} rebalances; "
        f"net {_num(node['net_30d_sats'])} sat.",
        "Channels: "
        + ", ".join(f"{n} {c.replace('_', ' ')}" for c, n in counts.items())
        + f"; bleeders: {node['bleeders']['hard']} hard, {node['bleeders']['soft']} soft.",
    ]
    if budget is not None:
        lines.append(
            f"Rebalance budget today: {_num(int(budget.get('daily_committed_sat', 0)))} of "
            f"{_num(int(budget.get('daily_limit_sat', 0)))} sat committed."
        )
    lines.append("")
    if rows:
        lines.extend(_table(rows))
    else:
        lines.append("No channels to show." if view != "bleeders" else "No bleeders.")
    notes = [f"- {r['channel_id']}: {r['attention']}" for r in rows if r["attention"]]
    if notes:
        lines += ["", "Needs attention:", *notes]
    return {
        "view": view,
        "as_of": now,
        "mode": mode,
        "node": node,
        "budget": None if budget is None else dict(budget),
        "channels": rows,
        "count": len(rows),
        "summary": "\n".join(lines),
    }
