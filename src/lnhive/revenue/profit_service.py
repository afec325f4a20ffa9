"""Profitability I/O (spec revenue-ops §4, §6.1): gathers each channel's facts from the node
(one ``listpeerchannels``, one ``listpeers`` for splice support, one ``feerates``) and the
store, evaluates them (:mod:`.profit_view`), keeps snapshots, and answers
``revenue-profitability``, ``revenue-capacity-report`` and the data of ``revenue-report``.

Snapshots: :meth:`ProfitService.refresh` (the flow loop calls it every flow cycle, and
``revenue-profitability refresh=true``) stores each channel's evaluation; the stored bleeder
level is the hysteresis state of the next evaluation ("stays hard while net30 ≤ -500 sat").
A plain ``revenue-profitability`` evaluates now without storing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock
from lnhive.core.errors import InvalidInput, NotFound
from lnhive.revenue import capacity, thompson
from lnhive.revenue import profitability as pf
from lnhive.revenue.controller_cycle import ChannelControl
from lnhive.revenue.evidence import ChannelEvidence, channel_from_json, feerate_perkb
from lnhive.revenue.kalman import KalmanState
from lnhive.revenue.policy import PeerPolicy
from lnhive.revenue.profit_ledger import ChannelTotals, ProfitLedger, Snapshot
from lnhive.revenue.profit_view import ChannelFacts, ChannelProfit, evaluate
from lnhive.revenue.store import RevenueStore

PolicyOf = Callable[[str, float], PeerPolicy]


@dataclass(frozen=True)
class ProfitConfig:
    estimated_open_cost_sats: int = 5000
    flow_window_days: int = 7


@dataclass(frozen=True)
class Reasoning:
    """What the fee controller last did and believes for one channel (from the store)."""

    last_change: dict[str, Any] | None
    posterior_mean: float | None
    posterior_std: float | None
    observations: int
    sleeping_until: float | None
    pending_target_ppm: int | None
    category: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "last_change": self.last_change,
            "posterior_mean_ppm": None
            if self.posterior_mean is None
            else round(self.posterior_mean),
            "posterior_std_ppm": None if self.posterior_std is None else round(self.posterior_std),
            "observations": self.observations,
            "sleeping_until": self.sleeping_until,
            "pending_target_ppm": self.pending_target_ppm,
            "category": self.category,
        }


def _list(answer: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = answer.get(key, [])
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


class ProfitService:
    def __init__(
        self,
        node: NodeApi,
        store: RevenueStore,
        policy_of: PolicyOf,
        config: ProfitConfig,
        clock: Clock,
    ) -> None:
        self.node = node
        self.store = store
        self.ledger = ProfitLedger(store)
        self.policy_of = policy_of
        self.config = config
        self.clock = clock

    # -- facts -------------------------------------------------------------------------------
    def _channels(self) -> list[ChannelEvidence]:
        found = [channel_from_json(i) for i in _list(self.node.listpeerchannels(), "channels")]
        return sorted((c for c in found if c is not None), key=lambda c: c.channel_id)

    def _splice_peers(self) -> set[str]:
        try:
            peers = _list(self.node.listpeers(), "peers")
        except Exception:
            return set()
        return {str(p["id"]) for p in peers if capacity.supports_splice(p.get("features"))}

    def _posterior_variance(self, channel_id: str) -> float | None:
        row = self.store.get_fee_strategy_state(channel_id)
        if row is None:
            return None
        control, warning = ChannelControl.from_blob(row.v2_state_json)
        return None if warning else control.thompson.posterior_std**2

    def _kalman_ratio(self, channel_id: str) -> float:
        blob = self.store.get_kalman_state(channel_id)
        if blob is None:
            return 0.0
        try:
            return KalmanState.from_json(json.loads(blob.state_json)).ratio
        except ValueError:
            return 0.0

    def evaluate_all(self, now: float | None = None) -> list[ChannelProfit]:
        """Every open channel's profitability now (nothing stored)."""
        now = self.clock.now() if now is None else now
        totals = self.ledger.totals(now)
        recorded = self.ledger.open_costs()
        snaps = self.ledger.snapshots()
        splice = self._splice_peers()
        out = []
        for ch in self._channels():
            state = self.store.get_channel_state(ch.channel_id)
            policy = self.policy_of(ch.peer_id, now)
            snap = snaps.get(ch.channel_id)
            rec = recorded.get(ch.channel_id)
            facts = ChannelFacts(
                channel=ch,
                totals=totals.get(ch.channel_id, ChannelTotals()),
                recorded_open_cost_sat=None if rec is None else rec.open_cost_sat,
                estimated_open_cost_sat=self.config.estimated_open_cost_sats,
                flow_class=None if state is None else state.state,
                flow_confidence=None if state is None else state.confidence,
                kalman_ratio=self._kalman_ratio(ch.channel_id),
                fee_posterior_variance=self._posterior_variance(ch.channel_id),
                strategy=str(policy.strategy),
                tags=policy.tags,
                previous_bleeder=pf.Bleeder(snap.bleeder) if snap else pf.Bleeder.NONE,
                peer_supports_splice=ch.peer_id in splice,
            )
            out.append(evaluate(facts, now))
        return out

    def refresh(self) -> list[ChannelProfit]:
        """Evaluate every channel and store the snapshots (bleeder hysteresis state)."""
        now = self.clock.now()
        profits = self.evaluate_all(now)
        self.ledger.put_snapshots(
            [
                Snapshot(
                    p.channel_id,
                    p.peer_id,
                    str(p.classification),
                    str(p.bleeder),
                    p.roi,
                    p.marginal_roi,
                    p.net_msat,
                    p.to_json(),
                    now,
                )
                for p in profits
            ]
        )
        return profits

    # -- RPC backends -----------------------------------------------------------------------
    def profitability(self, channel_id: str | None = None, refresh: bool = False) -> dict[str, Any]:
        """``revenue-profitability``: per channel revenue, costs, ROI and class, plus totals."""
        if channel_id is not None and not isinstance(channel_id, str):
            raise InvalidInput(f"channel_id must be a string, got {channel_id!r}")
        now = self.clock.now()
        profits = self.refresh() if refresh else self.evaluate_all(now)
        chosen = [p for p in profits if channel_id in (None, p.channel_id)]
        if channel_id is not None and not chosen:
            raise NotFound(f"unknown channel {channel_id}", details={"channel_id": channel_id})
        life = self.ledger.node_totals(now)
        costs_open = sum(p.open_cost_msat for p in profits)
        extra = sum(p.closure_cost_msat + p.splice_cost_msat for p in profits)
        lifetime_costs = costs_open + extra + life["rebalance_fees_msat"]
        counts = {str(c): 0 for c in pf.ProfitClass}
        for p in profits:
            counts[str(p.classification)] += 1
        return {
            "as_of": now,
            "refreshed": refresh,
            "channels": [p.to_json() for p in chosen],
            "count": len(chosen),
            "classes": counts,
            "lifetime": {
                "revenue_sats": pf.sat_ceil(life["forward_fees_msat"]),
                "costs_sats": pf.sat_ceil(lifetime_costs),
                "open_costs_sats": pf.sat_ceil(costs_open),
                "rebalance_costs_sats": pf.sat_ceil(life["rebalance_fees_msat"]),
                "pnl_sats": pf.sat_ceil(life["forward_fees_msat"]) - pf.sat_ceil(lifetime_costs),
                "forwards": life["forwards"],
            },
        }

    def capacity_report(self) -> dict[str, Any]:
        """``revenue-capacity-report``: winners, losers, recommendations (advisory)."""
        now = self.clock.now()
        profits = self.evaluate_all(now)
        try:
            perkb = feerate_perkb(self.node.feerates(style="perkb"))
        except Exception:
            perkb = None
        report = capacity.capacity_report(
            profits,
            feerate_sat_vb=None if perkb is None else perkb / 1000,
            flow_window_days=self.config.flow_window_days,
        )
        report["as_of"] = now
        return report

    def reasoning(self, channel_id: str) -> Reasoning:
        """The controller's stored view of ``channel_id``: its last change and its belief."""
        row = self.store.get_fee_strategy_state(channel_id)
        changes = self.store.db.query(
            "SELECT old_fee_ppm, new_fee_ppm, reason, applied, timestamp FROM fee_changes "
            "WHERE channel_id = ? ORDER BY timestamp DESC, id DESC LIMIT 1",
            (channel_id,),
        )
        last = dict(changes[0]) if changes else None
        if last is not None:
            last["applied"] = bool(last["applied"])
        if row is None:
            return Reasoning(last, None, None, 0, None, None, None)
        control, warning = ChannelControl.from_blob(row.v2_state_json)
        if warning:
            return Reasoning(last, None, None, 0, None, None, None)
        th, cyc = control.thompson, control.cycle
        return Reasoning(
            last_change=last,
            posterior_mean=th.posterior_mean,
            posterior_std=th.posterior_std,
            observations=thompson.real_observation_count(th),
            sleeping_until=cyc.sleep.sleep_until if cyc.sleep.is_sleeping else None,
            pending_target_ppm=cyc.pending_target_ppm,
            category=cyc.last_state,
        )
