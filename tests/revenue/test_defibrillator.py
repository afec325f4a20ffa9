"""The defibrillator (spec §3.6): selection, limits, budget, dry-run and the LOW_FEE_EXPLORATION
flag, pure and against the in-process network model (the ring of test_rebalancer_sim:
us - a at 90 % local, us - b, a - x - b)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.errors import InvalidInput, NotFound, PolicyBlocked, RateLimited
from lnhive.revenue import defibrillator as df
from lnhive.revenue.controller_cycle import ChannelControl
from lnhive.revenue.couplings import Coupling
from lnhive.revenue.defibrillator import Defibrillator, DiagnosticLog
from lnhive.revenue.exploration import flag_low_fee_exploration, low_fee_exploration
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.policy import PolicyService, RebalanceMode
from lnhive.revenue.profit_ledger import ProfitLedger, Snapshot
from lnhive.revenue.profit_service import ProfitConfig, ProfitService
from lnhive.revenue.profitability import ProfitClass
from lnhive.revenue.rebalance_rpc import debug
from lnhive.revenue.rebalance_select import RebalanceChannel
from lnhive.revenue.rebalancer import RebalanceConfig
from lnhive.revenue.store import FeeStrategyState, RevenueStore
from tests.revenue.test_rebalancer_sim import Ring, _set_local, make_ring

CAP = 5_000_000
DAY = 86_400.0
PEERS = ["02" + f"{i:02x}" * 32 for i in range(1, 7)]


# -- pure pieces -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ages_h", "reason"),
    [
        ([], None),
        ([23.9], "diagnostic_spacing"),
        ([24.1], None),
        ([30, 200], "diagnostic_window_full"),
        ([30, 14 * 24 + 1], None),  # the older one left the 14-day window
    ],
)
def test_rate_limit(ages_h: list[float], reason: str | None) -> None:
    now = 1_800_000_000.0
    why, next_at = df.rate_limit([now - h * 3600 for h in ages_h], now)
    assert why == reason
    assert (next_at is None) == (reason is None)
    if reason == "diagnostic_window_full":
        assert next_at == now - 200 * 3600 + 14 * DAY


def _ch(scid: str, peer: int, local: float, **kw: Any) -> RebalanceChannel:
    return RebalanceChannel(scid, PEERS[peer], CAP, int(CAP * local), **kw)


def test_direction_and_target_checks() -> None:
    assert df.direction(_ch("1x1x1", 0, 0.49)) == "fill"
    assert df.direction(_ch("1x1x1", 0, 0.5)) == "drain"
    banned = frozenset({PEERS[1]})
    assert df.target_reason(_ch("1x1x1", 0, 0.3), "fill", frozenset()) is None
    assert df.target_reason(_ch("1x1x1", 1, 0.3), "fill", banned) == "banned_peer"
    full = _ch("1x1x1", 0, 0.985)  # 75 000 sat remote, 50 000 reserve → no room to fill
    assert df.target_reason(full, "fill", frozenset()) == "no_room"
    assert df.target_reason(full, "drain", frozenset()) is None
    assert df.target_reason(_ch("1x1x1", 0, 0.015), "drain", frozenset()) == "no_room"
    for kw, way, reason in [
        ({"rebalance_mode": RebalanceMode.SOURCE_ONLY}, "fill", "rebalance_mode_source_only"),
        ({"rebalance_mode": RebalanceMode.SINK_ONLY}, "drain", "rebalance_mode_sink_only"),
        ({"rebalance_mode": RebalanceMode.DISABLED}, "fill", "rebalance_mode_disabled"),
        ({"peer_connected": False}, "fill", "peer_disconnected"),
        ({"in_flight": True}, "drain", "payment_pending"),
        ({"flow_class": FlowClass.CONGESTED}, "fill", "congested"),
    ]:
        assert df.target_reason(_ch("1x1x1", 0, 0.3, **kw), way, frozenset()) == reason


def test_counterparties_at_most_three_best_first() -> None:
    target = _ch("9x9x9", 0, 0.2)
    chans = [
        target,
        _ch("1x1x1", 1, 0.60),
        _ch("2x2x2", 2, 0.95),
        _ch("3x3x3", 3, 0.80),
        _ch("4x4x4", 4, 0.70),
        _ch("5x5x5", 5, 0.505),  # would fall below 50 %
        _ch("6x6x6", 0, 0.99),  # the target's peer
        _ch("7x7x7", 1, 0.99, rebalance_mode=RebalanceMode.SINK_ONLY),
    ]
    got = df.counterparties(chans, target, "fill", frozenset())
    assert [c.channel_id for c in got] == ["2x2x2", "3x3x3", "4x4x4"]
    # draining: emptiest first, never a zombie or a channel that would pass 50 %
    zombie = Coupling(ProfitClass.ZOMBIE, -1.0, -1.0, known=True)
    target = _ch("9x9x9", 0, 0.9)
    chans = [
        target,
        _ch("1x1x1", 1, 0.3),
        _ch("2x2x2", 2, 0.1),
        _ch("3x3x3", 3, 0.0, coupling=zombie),
        _ch("4x4x4", 4, 0.495),
    ]
    got = df.counterparties(chans, target, "drain", frozenset())
    assert [c.channel_id for c in got] == ["2x2x2", "1x1x1"]


def test_flag_is_what_the_controller_reads(tmp_path: Path) -> None:
    with RevenueStore(tmp_path / "r.sqlite3") as store:
        assert flag_low_fee_exploration(store, "1x1x1", PEERS[0], 120, 100.0) is True
        assert low_fee_exploration(store, "1x1x1")
        assert flag_low_fee_exploration(store, "1x1x1", PEERS[0], 120, 101.0) is False
        row = store.get_fee_strategy_state("1x1x1")
        assert row is not None and row.last_fee_ppm == 120
        control, warning = ChannelControl.from_blob(row.v2_state_json)
        assert warning is None and control.cycle.low_fee_exploration
        # a sleeping channel is woken, the rest of its state kept
        control.cycle.sleep = replace(control.cycle.sleep, is_sleeping=True, sleep_until=9e9)
        control.cycle.low_fee_exploration = False
        control.cycle.last_fee_ppm = 77
        store.put_fee_strategy_state(
            FeeStrategyState("2x2x2", PEERS[1], 77, 77, 50.0, True, 9e9, control.to_blob(), 50.0)
        )
        assert flag_low_fee_exploration(store, "2x2x2", PEERS[1], 1, 102.0)
        row = store.get_fee_strategy_state("2x2x2")
        assert row is not None and not row.is_sleeping and row.last_fee_ppm == 77
        after, _ = ChannelControl.from_blob(row.v2_state_json)
        assert after.cycle.low_fee_exploration and not after.cycle.sleep.is_sleeping
        assert after.cycle.last_fee_ppm == 77


# -- on the network model ------------------------------------------------------------------
def _stagnant(r: Ring, name: str, cls: str = "stagnant_candidate") -> None:
    now = r.clock.now()
    ProfitLedger(r.store).put_snapshots(
        [Snapshot(r.scid(name), r.ids[name[1]], cls, "none", -1.0, 0.0, -5_000_000, {}, now)]
    )


def _defib(r: Ring) -> Defibrillator:
    def flag(ch: RebalanceChannel) -> bool:
        return flag_low_fee_exploration(
            r.store, ch.channel_id, ch.peer_id, ch.fee_ppm, r.clock.now()
        )

    d = Defibrillator(r.rb, DiagnosticLog(r.store), flag)
    r.rb.after_cycle = d.cycle_step
    return d


def _rows(r: Ring, table: str) -> int:
    row = r.store.db.query_one(f"SELECT COUNT(*) FROM {table}")
    return 0 if row is None else int(row[0])


def _fill_ring(tmp: Path, **kw: Any) -> Ring:
    """b at 40 % local (no ordinary destination) and stagnant."""
    r = make_ring(tmp, **kw)
    _set_local(r.chans["ub"], r.ids["us"], 0.40)
    _stagnant(r, "ub")
    return r


def test_stagnant_channel_gets_a_diagnostic_and_the_flag(tmp_path: Path) -> None:
    r = _fill_ring(tmp_path)
    d = _defib(r)
    out = r.rb.cycle()
    assert out["candidates"] == []  # no ordinary pair: the defibrillator's turn
    defib = out["defibrillator"]
    (plan,) = defib["plans"]
    assert plan["direction"] == "fill" and plan["counterparties"] == [r.scid("ua")]
    assert plan["max_fee_sat"] == 5000  # min(10 000, the daily budget left)
    (done,) = defib["diagnosed"]
    assert done["outcome"] == "success" and done["flag_set"] is True
    assert r.local_ratio("ub") == pytest.approx(0.41, abs=1e-4)
    assert r.local_ratio("ua") == pytest.approx(0.89, abs=1e-4)
    # the controller's state has the flag; the attempt feeds the zombie rule
    assert low_fee_exploration(r.store, r.scid("ub"))
    (row,) = d.diagnostics.recent()
    assert (row.outcome, row.direction, row.counterparty) == ("success", "fill", r.scid("ua"))
    totals = ProfitLedger(r.store).totals(r.clock.now())[r.scid("ub")]
    assert (totals.diagnostics, totals.diagnostics_14d) == (1, 1)
    assert totals.last_diagnostic_success == row.timestamp
    # spent through the budget ledger as a diagnostic, within the cap
    hist = r.rb.journal.get(row.rebalance_id or 0)
    assert hist is not None and hist["status"] == "success" and hist["max_fee_msat"] == 5_000_000
    spent = r.rb.budget.spend_events(0)
    assert [e["ref"] for e in spent] == [f"diagnostic:{row.rebalance_id}"]
    assert spent[0]["amount_sat"] == -(-int(hist["actual_fee_msat"]) // 1000)
    # rate limits: not again within 24 h, a second after, never a third in 14 days
    again = r.rb.cycle()["defibrillator"]
    assert again["diagnosed"] == [] and again["plans"][0]["reason"] == "diagnostic_spacing"
    r.clock.advance(DAY + 60)
    _stagnant(r, "ub")
    assert r.rb.cycle()["defibrillator"]["diagnosed"][0]["outcome"] == "success"
    r.clock.advance(DAY + 60)
    _stagnant(r, "ub")
    third = r.rb.cycle()["defibrillator"]
    assert third["diagnosed"] == [] and third["plans"][0]["reason"] == "diagnostic_window_full"
    assert len(d.diagnostics.recent()) == 2


def test_dry_run_plans_only(tmp_path: Path) -> None:
    r = _fill_ring(tmp_path, dry_run=True)
    d = _defib(r)
    chans = {c["channel_id"]: c["coupling"] for c in debug(r.rb)["channels"]}
    assert chans[r.scid("ub")] == {
        "class": "stagnant_candidate",
        "known": True,
        "priority": 0.3,
        "budget_multiplier": 0.3,
    }
    assert chans[r.scid("ua")]["known"] is False
    out = r.rb.cycle()["defibrillator"]
    assert out["dry_run"] is True and out["diagnosed"] == []
    assert out["plans"][0]["reason"] is None
    assert _rows(r, "diagnostic_attempts") == _rows(r, "rebalance_history") == 0
    assert _rows(r, "budget_reservations") == 0 and not low_fee_exploration(r.store, r.scid("ub"))
    assert d.run(r.scid("ub"))["plans"][0]["direction"] == "fill"
    assert _rows(r, "diagnostic_attempts") == 0


def test_only_stagnant_channels_and_not_when_the_budget_is_spent(tmp_path: Path) -> None:
    r = make_ring(tmp_path)
    _set_local(r.chans["ub"], r.ids["us"], 0.40)
    _stagnant(r, "ub", "underwater")
    _defib(r)
    assert r.rb.cycle()["defibrillator"]["plans"] == []
    _stagnant(r, "ub")
    r.rb.budget.reserve(5000, r.clock.now(), purpose="rebalance", ref="other")
    out = r.rb.cycle()["defibrillator"]
    assert out["plans"][0]["reason"] == "budget_exhausted" and out["diagnosed"] == []
    assert _rows(r, "diagnostic_attempts") == 0


def test_a_refused_cycle_runs_no_diagnostic(tmp_path: Path) -> None:
    r = _fill_ring(tmp_path, config=RebalanceConfig(daily_budget_sats=0))
    _defib(r)
    out = r.rb.cycle()
    assert out["skipped"] == "budget_zero" and "defibrillator" not in out


def test_too_expensive_route_is_a_failed_attempt(tmp_path: Path) -> None:
    r = _fill_ring(tmp_path, x_fee_ppm=200_000)  # 10 000 sat on 50 000: above the 5000 cap
    d = _defib(r)
    (done,) = r.rb.cycle()["defibrillator"]["diagnosed"]
    assert done["outcome"] == "failed" and "flag_set" not in done
    assert done["tried"][0]["reason"] == "below_hold_margin"
    (row,) = d.diagnostics.recent()
    assert row.outcome == "failed" and not low_fee_exploration(r.store, r.scid("ub"))
    assert r.rb.budget.summary(r.clock.now())["daily_committed_sat"] == 0
    assert r.local_ratio("ub") == pytest.approx(0.40, abs=1e-6)


def test_pending_diagnostic_settles_later(tmp_path: Path) -> None:
    r = _fill_ring(tmp_path)
    d = _defib(r)
    r.us.timeouts = 1
    (done,) = r.rb.cycle()["defibrillator"]["diagnosed"]
    assert done["outcome"] == "pending" and not low_fee_exploration(r.store, r.scid("ub"))
    out = r.rb.cycle()["defibrillator"]
    assert out["settled"] == [{"channel_id": r.scid("ub"), "outcome": "success"}]
    assert d.diagnostics.recent()[0].outcome == "success"
    assert low_fee_exploration(r.store, r.scid("ub"))


def test_full_stagnant_channel_is_drained(tmp_path: Path) -> None:
    r = make_ring(tmp_path)
    _set_local(r.chans["ub"], r.ids["us"], 0.30)
    _stagnant(r, "ua")  # 90 % local: cannot take 50 000 sat more in most channels
    d = _defib(r)
    out = d.run(r.scid("ua"))
    (done,) = out["diagnosed"]
    assert out["plans"][0]["direction"] == "drain" and done["outcome"] == "success"
    assert r.local_ratio("ua") == pytest.approx(0.89, abs=1e-4)
    assert low_fee_exploration(r.store, r.scid("ua"))
    assert out["recent"][0]["direction"] == "drain"


def test_rpc_bad_input_and_refusals_change_nothing(tmp_path: Path) -> None:
    r = _fill_ring(tmp_path)
    d = _defib(r)
    for bad in (5, "", ["1x1x1"]):
        with pytest.raises(InvalidInput):
            d.run(bad)
    with pytest.raises(NotFound):
        d.run("9x9x9")
    d.run(r.scid("ub"))
    before = [_rows(r, t) for t in ("diagnostic_attempts", "rebalance_history", "spend_events")]
    with pytest.raises(RateLimited) as info:
        d.run(r.scid("ub"))
    assert "diagnostic_spacing" in info.value.message
    _set_local(r.chans["ua"], r.ids["us"], 0.505)  # no source left with 50 000 sat to spare
    r.clock.advance(DAY + 60)
    with pytest.raises(PolicyBlocked) as blocked:
        d.run(r.scid("ub"))
    assert blocked.value.message.startswith("no_counterparty")
    after = [_rows(r, t) for t in ("diagnostic_attempts", "rebalance_history", "spend_events")]
    assert before == after
    with r.rb.single_flight(), pytest.raises(Exception, match="already running"):
        d.run()


def test_classes_from_a_profitability_refresh(tmp_path: Path) -> None:
    """Eight idle days after opening: the flow loop's refresh classes both of our channels
    STAGNANT_CANDIDATE (ROI -100 %), and the cycle diagnoses one of them."""
    r = make_ring(tmp_path)
    _set_local(r.chans["ub"], r.ids["us"], 0.40)
    r.clock.advance(8 * DAY)
    profits = ProfitService(
        r.us, r.store, PolicyService(r.store).effective, ProfitConfig(), r.clock
    )
    classes = {p.channel_id: p.classification for p in profits.refresh()}
    assert classes == {r.scid("ua"): ProfitClass.STAGNANT_CANDIDATE} | {
        r.scid("ub"): ProfitClass.STAGNANT_CANDIDATE
    }
    d = _defib(r)
    out = r.rb.cycle()["defibrillator"]
    assert len(out["plans"]) == 2
    (done,) = out["diagnosed"]
    assert done["outcome"] == "success" and low_fee_exploration(r.store, done["channel_id"])
    after = {p.channel_id: p for p in profits.evaluate_all()}
    assert after[done["channel_id"]].diagnostics == 1
    assert len(d.diagnostics.recent()) == 1
