"""Profit evaluation of one channel and the capacity report (spec revenue-ops §4; §7 test 25)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lnhive.revenue import capacity
from lnhive.revenue.evidence import ChannelEvidence
from lnhive.revenue.profit_ledger import ChannelTotals
from lnhive.revenue.profit_view import ChannelFacts, ChannelProfit, evaluate
from lnhive.revenue.profitability import Bleeder, ProfitClass

NOW = 1_800_000_000.0
DAY = 86_400.0
PEER = "02" + "ab" * 32


def _channel(**kw: Any) -> ChannelEvidence:
    base: dict[str, Any] = dict(
        channel_id="100x1x0",
        peer_id=PEER,
        capacity_sat=2_000_000,
        local_msat=1_000_000_000,
        spendable_msat=990_000_000,
        fee_ppm=300,
        fee_base_msat=0,
        htlc_max_msat=2_000_000_000,
        htlcs_in_flight=0,
        max_accepted_htlcs=483,
        local_opener=True,
        opened_at=NOW - 200 * DAY,
        last_forward_ts=None,
    )
    base.update(kw)
    return ChannelEvidence(**base)


def _profit(totals: ChannelTotals | None = None, **kw: Any) -> ChannelProfit:
    chan_kw = {k: kw.pop(k) for k in list(kw) if k in ChannelEvidence.__dataclass_fields__}
    facts = ChannelFacts(
        channel=_channel(**chan_kw), totals=totals or ChannelTotals(), flow_confidence=0.9, **kw
    )
    return evaluate(facts, NOW)


def test_attribution_costs_and_roi() -> None:
    t = ChannelTotals(
        earned_msat=9_000_500,
        sourced_msat=2_000_000,
        earned_30d_msat=4_000_000,
        sourced_30d_msat=1_000_000,
        rebalance_msat=1_000_000,
        rebalance_30d_msat=1_000_000,
        last_forward_ts=NOW - DAY,
    )
    p = _profit(t)
    # contribution = max(earned, sourced); open 5000 sat (estimated, we opened) + rebalance
    assert p.contribution_msat == 9_000_500 and p.open_cost_source == "estimated"
    assert p.cost_msat == 6_000_000 and p.net_msat == 3_000_500
    assert p.roi == 3_000_500 / 6_000_000
    assert p.marginal_roi == 3.0 and p.marginal_reliable
    assert p.classification is ProfitClass.PROFITABLE
    j = p.to_json()
    assert j["revenue"]["fees_earned_sats"] == 9001  # rounded up
    assert j["costs"]["total_sats"] == 6000 and j["net_profit_sats"] == 3001
    assert j["roi_percent"] == 50.01 and j["marginal_roi_percent"] == 300.0


def test_open_cost_sources() -> None:
    assert _profit(local_opener=False).open_cost_source == "remote_opener"
    assert _profit(local_opener=False).cost_msat == 0
    rec = _profit(recorded_open_cost_sat=2100)
    assert (rec.open_cost_msat, rec.open_cost_source) == (2_100_000, "recorded")
    capital = _profit(recorded_open_cost_sat=1_000_000)  # half the capacity: not a fee
    assert (capital.open_cost_msat, capital.open_cost_source) == (5_000_000, "estimated")


def test_bleeder_hysteresis_from_previous_level() -> None:
    t = ChannelTotals(rebalance_msat=600_000, rebalance_30d_msat=600_000, rebalance_7d_msat=0)
    assert _profit(t).bleeder is Bleeder.SOFT
    assert _profit(t, previous_bleeder=Bleeder.HARD).bleeder is Bleeder.HARD


def _loser(**kw: Any) -> ChannelProfit:
    """An old channel with ROI -100 % (never earned), balanced and idle: a loser."""
    t = ChannelTotals(diagnostics=kw.pop("diagnostics", 2), diagnostics_14d=kw.pop("d14", 2))
    return _profit(t, **kw)


def test_25_no_close_without_two_recent_diagnostics() -> None:
    p = _loser(diagnostics=1, d14=1)
    assert capacity.loser_reason(p) is not None
    rep = capacity.capacity_report([p], feerate_sat_vb=2.0)
    assert [r["action"] for r in rep["recommendations"]] == ["DEFIBRILLATE"]
    # with two recent diagnostics and nothing protecting it, CLOSE
    rep = capacity.capacity_report([_loser()], feerate_sat_vb=2.0)
    assert [r["action"] for r in rep["recommendations"]] == ["CLOSE"]


def test_25_no_close_for_a_no_close_peer() -> None:
    p = _loser(tags=("no_close",))
    assert "tag_no_close" in capacity.close_blockers(p)
    rep = capacity.capacity_report([p], feerate_sat_vb=2.0)
    assert [r["action"] for r in rep["recommendations"]] == ["KEEP"]


def test_25_no_close_for_an_inbound_gateway_at_minus_20_percent() -> None:
    # 30 forwards, all entering through this channel; rebalance 30 d 1000 sat, contribution
    # 800 sat: marginal ROI -20 %
    t = ChannelTotals(
        sourced_msat=800_000,
        sourced_30d_msat=800_000,
        entries_30d=30,
        rebalance_msat=1_000_000,
        rebalance_30d_msat=1_000_000,
        diagnostics=2,
        diagnostics_14d=2,
        last_forward_ts=NOW - 20 * DAY,
    )
    p = _profit(t, local_msat=1_000_000_000)
    assert p.role_30d == "inbound_gateway" and round(p.marginal_roi, 6) == -0.2
    assert capacity.loser_reason(p) == "zombie"  # 2 diagnostics, idle 20 days, ROI < -10 %
    assert "inbound_gateway" in capacity.close_blockers(p)
    rep = capacity.capacity_report([p], feerate_sat_vb=2.0)
    assert [r["action"] for r in rep["recommendations"]] == ["KEEP"]
    # the same channel at -40 % marginal ROI is not protected as a gateway
    worse = replace(p, marginal_roi=-0.4)
    assert "inbound_gateway" not in capacity.close_blockers(worse)


def test_other_protection_gates() -> None:
    unsure = replace(_loser(), flow_confidence=0.3, forwards_30d=3)
    assert capacity.close_blockers(unsure) == ["low_flow_confidence"]
    assert capacity.close_blockers(_loser()) == []
    assert "static_policy" in capacity.close_blockers(_loser(strategy="static"))
    assert "hive_peer" in capacity.close_blockers(_loser(strategy="hive"))
    # a dead channel (no forwards, older than window + 7 d) is not protected by low confidence
    dead = replace(_loser(), flow_confidence=0.1, forwards_30d=0)
    assert "low_flow_confidence" not in capacity.close_blockers(dead)
    young_dead = replace(dead, days_open=10.0)
    assert "low_flow_confidence" in capacity.close_blockers(young_dead)


def _winner(channel_id: str, splice: bool) -> ChannelProfit:
    t = ChannelTotals(
        earned_msat=50_000_000,
        earned_30d_msat=50_000_000,
        exits_30d=2000,
        volume_30d_msat=40_000_000_000_000,  # 40 M sat through 2 M sat: 0.67/day
        rebalance_msat=1_000_000,
        rebalance_30d_msat=1_000_000,
        last_forward_ts=NOW - 60,
    )
    return _profit(t, channel_id=channel_id, flow_class="source", peer_supports_splice=splice)


def test_winners_pairing_and_mempool_hold() -> None:
    w1, w2 = _winner("200x1x0", True), _winner("201x1x0", False)
    assert capacity.is_winner(w1) and w1.turnover_per_day > 0.5
    big = _loser(channel_id="300x1x0", capacity_sat=5_000_000, local_msat=2_500_000_000)
    small = _loser(channel_id="301x1x0")
    rep = capacity.capacity_report([w1, w2, small, big], feerate_sat_vb=5.0)
    actions = {(r["action"], r["channel_id"]) for r in rep["recommendations"]}
    assert ("SPLICE_IN", "200x1x0") in actions and ("REOPEN_LARGER", "201x1x0") in actions
    redeploy = [r for r in rep["recommendations"] if r["action"] == "REDEPLOY"]
    # the largest loser goes to the first winner
    assert redeploy[0]["channel_id"] == "300x1x0" and redeploy[0]["amount_sats"] == 5_000_000
    assert rep["mempool_recommendation"] == "PROCEED" and not any(
        r["hold"] for r in rep["recommendations"]
    )
    held = capacity.capacity_report([w1, big], feerate_sat_vb=150.0)
    assert held["mempool_recommendation"] == "HOLD"
    assert all(r["hold"] for r in held["recommendations"])


def test_supports_splice_bits() -> None:
    assert capacity.supports_splice(hex(1 << 63)[2:])
    assert capacity.supports_splice(hex(1 << 62)[2:])
    assert not capacity.supports_splice("08a0880a8a59a1")
    assert not capacity.supports_splice("zz") and not capacity.supports_splice(None)
