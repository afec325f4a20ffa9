"""The fee controller on the in-process network model (spec revenue-ops §2.3, §5, §7 tests 11-12)."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from lnhive.cln.api import NodeApi
from lnhive.core.clock import VirtualClock
from lnhive.core.errors import InvalidInput, NotFound
from lnhive.revenue.controller import ControllerConfig, FeeController
from lnhive.revenue.controller_cycle import ChannelControl, ChannelInputs, decide
from lnhive.revenue.evidence import ChannelEvidence, CycleEvidence, build_evidence
from lnhive.revenue.forwards import ForwardIngestor
from lnhive.revenue.policy import PeerPolicy, PolicyService
from lnhive.revenue.profit_ledger import ProfitLedger, Snapshot
from lnhive.revenue.stages import SleepState
from lnhive.revenue.store import FeeStrategyState, RevenueStore
from lnhive.sim.network.channel import Channel
from lnhive.sim.network.events import Event
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.model import Network

CYCLE = 1800.0
EXPLAIN = re.compile(r"^\d+x\d+x\d+: \d+ -> \d+ ppm \(\w+\)")


class Wrapped(NodeApi):
    """Our node on the model, counting ``setchannel`` calls; optionally an external fee
    manager that puts ``revert_to`` back on ``revert_scid`` right after each of our calls."""

    def __init__(self, inner: InProcessNode, net: Network) -> None:
        self.inner = inner
        self.net = net
        self.setchannel_calls: list[dict[str, Any]] = []
        self.revert_scid: str | None = None
        self.revert_to = 0
        self.fail_scid: str | None = None

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        if method == "setchannel" and params is not None and params.get("id") == self.fail_scid:
            raise RuntimeError("node refused setchannel")
        out = self.inner.call(method, params)
        if method == "setchannel":
            assert params is not None
            self.setchannel_calls.append(dict(params))
            if params.get("id") == self.revert_scid:
                self.net.setchannel(self.inner.node_id, params["id"], feeppm=self.revert_to)
        return out


@dataclass
class World:
    clock: VirtualClock
    net: Network
    store: RevenueStore
    policies: PolicyService
    node: Wrapped
    chans: dict[str, Channel]
    logs: list[tuple[str, str]] = field(default_factory=list)
    ctl: FeeController | None = None

    @property
    def us(self) -> str:
        return self.net.by_name["us"]

    def peer(self, name: str) -> str:
        return self.net.by_name[name]

    def scid(self, name: str) -> str:
        scid = self.chans[name].scid
        assert scid is not None
        return scid

    def fee(self, name: str) -> int:
        c = self.chans[name]
        return c.policies[c.side_of(self.us)].fee_ppm

    def base(self, name: str) -> int:
        c = self.chans[name]
        return c.policies[c.side_of(self.us)].fee_base_msat

    def controller(self, **config: Any) -> FeeController:
        self.ctl = FeeController(
            self.node,
            self.store,
            self.policies,
            ControllerConfig(**config),
            self.clock,
            random.Random(5),
            log=lambda level, msg: self.logs.append((level, msg)),
        )
        self.policies.on_change = self.ctl.on_policy_change
        return self.ctl

    def set_policy(self, name: str, **params: Any) -> None:
        self.policies.handle("set", {"peer_id": self.peer(name), **params}, self.clock.now())

    def cycle(self) -> dict[str, Any]:
        assert self.ctl is not None
        self.clock.advance(CYCLE)
        return self.ctl.fee_cycle()


@pytest.fixture
def world(tmp_path: Path) -> World:
    clock = VirtualClock()
    net = Network(clock, 7)
    for name in ("us", "a", "b", "c"):
        net.add_node(name)
    chans = {
        "a": net.open_channel("us", "a", 2_000_000),
        "b": net.open_channel("us", "b", 2_000_000),
        "c": net.open_channel("c", "us", 2_000_000, push_msat=200_000_000),
    }
    store = RevenueStore(tmp_path / "revenue.sqlite3")
    ingestor = ForwardIngestor(store)

    def on_event(ev: Event) -> None:
        if ev.topic == "forward_event":
            ingestor.ingest_event(ev.payload)

    node = Wrapped(InProcessNode(net, "us", on_event=on_event), net)
    return World(clock, net, store, PolicyService(store), node, chans)


def _route_payments(w: World, n: int, amount_msat: int = 50_000_000) -> None:
    payer = InProcessNode(w.net, "c")
    w.clock.advance(3600)  # let gossip of the new channels reach the payer
    for _ in range(n):
        w.clock.advance(60)
        payer.keysend(destination=w.peer("a"), amount_msat=amount_msat)


# -- spec test 11: policies ------------------------------------------------------------------
def test_11_static_applied_and_held_passive_untouched_hive_forced_back(world: World) -> None:
    w = world
    w.controller()
    w.set_policy("a", strategy="static", fee_ppm=300)
    w.set_policy("b", strategy="passive")
    w.set_policy("c", strategy="hive")
    first = w.cycle()
    assert w.fee("a") == 300 and w.base("a") == 0
    assert w.fee("c") == 0 and w.base("c") == 0
    assert (w.fee("b"), w.base("b")) == (10, 1000)  # CLN's defaults, never touched
    reasons = {a["channel_id"]: a["reason"] for a in first["adjustments"]}
    assert reasons == {w.scid("a"): "policy_static", w.scid("c"): "policy_hive"}
    assert first["skip_reasons"][w.scid("b")] == "policy_passive"
    for _ in range(3):
        held = w.cycle()
        assert held["adjustments"] == []
        assert held["skip_reasons"][w.scid("a")] == "policy_static_held"
        assert w.fee("a") == 300
    # an external change to 100 on the hive channel is undone at the next cycle
    w.net.setchannel(w.us, w.scid("c"), feeppm=100)
    assert w.fee("c") == 100
    again = w.cycle()
    assert w.fee("c") == 0
    assert [a["reason"] for a in again["adjustments"]] == ["policy_hive"]
    assert (w.fee("b"), w.base("b")) == (10, 1000)
    assert w.store.fee_changes(channel_id=w.scid("b")) == []
    assert not [c for c in w.node.setchannel_calls if c["id"] == w.scid("b")]


def test_11_expired_static_policy_reverts_to_dynamic(world: World) -> None:
    w = world
    ctl = w.controller()
    w.set_policy("a", strategy="static", fee_ppm=300, expires_in_hours=1)
    w.cycle()
    assert w.fee("a") == 300
    assert ctl.fee_debug(w.scid("a"))["policy"] == "static"
    opened = w.cycle()  # 1 h after setting: expired, back to dynamic with a fresh window
    assert opened["skip_reasons"][w.scid("a")] == "window_opened"
    assert w.fee("a") == 300
    assert ctl.fee_debug(w.scid("a"))["policy"] == "dynamic"
    reasons: list[str] = []
    for _ in range(4):
        out = w.cycle()
        reasons += [a["reason"] for a in out["adjustments"] if a["channel_id"] == w.scid("a")]
        reasons.append(out["skip_reasons"].get(w.scid("a"), ""))
    assert not any(r.startswith("policy_") for r in reasons)
    assert w.fee("a") != 300  # the dynamic controller moved it (no demand at 300 ppm)


def test_policy_change_wakes_a_sleeping_channel(world: World) -> None:
    w = world
    ctl = w.controller()
    w.cycle()
    state = w.store.get_fee_strategy_state(w.scid("a"))
    assert state is not None
    control, _ = ChannelControl.from_blob(state.v2_state_json)
    control.cycle.sleep = type(control.cycle.sleep)(
        is_sleeping=True, sleep_until=w.clock.now() + 10 * CYCLE
    )
    w.store.put_fee_strategy_state(
        FeeStrategyState(
            state.channel_id, state.peer_id, state.last_fee_ppm, state.last_broadcast_fee_ppm,
            state.last_update, True, control.cycle.sleep.sleep_until, control.to_blob(),
            state.updated_at,
        )
    )  # fmt: skip
    assert w.cycle()["skip_reasons"][w.scid("a")] == "sleeping"
    w.set_policy("a", fee_multiplier_max=2.0)  # a dynamic policy change: wakes, no strategy
    assert w.peer("a") in ctl._woken_peers
    assert w.cycle()["skip_reasons"].get(w.scid("a")) != "sleeping"


# -- spec test 12: a conflicting fee manager ----------------------------------------------------
def test_12_external_manager_reverting_gets_one_retry_then_a_conflict(world: World) -> None:
    w = world
    w.controller()
    w.set_policy("a", strategy="static", fee_ppm=300)
    w.node.revert_scid, w.node.revert_to = w.scid("a"), 100
    out = w.cycle()
    calls = [c for c in w.node.setchannel_calls if c["id"] == w.scid("a")]
    assert len(calls) == 2  # the first attempt and exactly one retry
    assert calls[0]["feeppm"] == 300 and calls[0]["feebase"] == 0
    assert out["conflicts"] == [
        {
            "channel_id": w.scid("a"),
            "peer_id": w.peer("a"),
            "wanted_fee_ppm": 300,
            "observed_fee_ppm": 100,
            "attempts": 2,
            "reason": "conflict: another fee manager reverted our fee",
        }
    ]
    assert out["skip_reasons"][w.scid("a")] == "conflict"
    assert w.scid("a") not in {a["channel_id"] for a in out["adjustments"]}
    journal = w.store.fee_changes(channel_id=w.scid("a"))
    assert [(j.reason, j.applied, j.new_fee_ppm) for j in journal] == [("conflict", False, 300)]
    assert any(level == "warn" and "conflict" in msg for level, msg in w.logs)
    # the manager gives up: the next cycle applies the policy fee normally
    w.node.revert_scid = None
    again = w.cycle()
    assert w.fee("a") == 300 and again["conflicts"] == []


def test_a_failing_setchannel_skips_that_channel_only(world: World) -> None:
    w = world
    w.controller()
    w.set_policy("a", strategy="static", fee_ppm=300)
    w.set_policy("c", strategy="static", fee_ppm=400)
    w.node.fail_scid = w.scid("a")
    out = w.cycle()
    assert out["skip_reasons"][w.scid("a")] == "setchannel_failed: node refused setchannel"
    assert [a["channel_id"] for a in out["adjustments"]] == [w.scid("c")]
    assert w.fee("a") == 10 and w.fee("c") == 400
    assert w.store.get_fee_strategy_state(w.scid("a")) is None  # nothing recorded as done
    w.node.fail_scid = None
    w.cycle()
    assert w.fee("a") == 300


# -- dry run -----------------------------------------------------------------------------------
def test_dry_run_decides_and_journals_but_never_calls_setchannel(world: World) -> None:
    w = world
    ctl = w.controller(dry_run=True)
    w.set_policy("a", strategy="static", fee_ppm=300)
    outs = [w.cycle() for _ in range(4)]
    assert all(o["dry_run"] is True for o in outs)
    assert w.node.setchannel_calls == []
    assert w.fee("a") == 10 and w.fee("b") == 10 and w.fee("c") == 10
    assert outs[0]["adjustments"][0]["new_fee_ppm"] == 300
    journal = w.store.fee_changes(channel_id=w.scid("a"))
    assert journal and all(not j.applied for j in journal)
    assert journal[0].reason == "policy_static" and journal[0].new_fee_ppm == 300
    assert any(msg.startswith("dry-run: ") for _, msg in w.logs)
    res = ctl.set_fee(w.scid("b"), 500)
    assert res["dry_run"] is True and w.fee("b") == 10 and w.node.setchannel_calls == []


# -- result shapes, analysis and debug -----------------------------------------------------------
def test_fee_cycle_result_shape_and_explain_lines(world: World) -> None:
    w = world
    w.controller()
    first = w.cycle()
    assert set(first) == {"adjustments", "skip_reasons", "conflicts", "dry_run"}
    assert first["skip_reasons"] == dict.fromkeys((w.scid(n) for n in "abc"), "window_opened")
    applied: list[dict[str, Any]] = []
    for _ in range(6):
        applied += w.cycle()["adjustments"]
    assert applied, "the dynamic controller never moved a default 10 ppm fee"
    for adj in applied:
        assert set(adj) == {"channel_id", "peer_id", "old_fee_ppm", "new_fee_ppm", "reason"}
        assert adj["old_fee_ppm"] != adj["new_fee_ppm"]
    infos = [msg for level, msg in w.logs if level == "info"]
    assert len(infos) == len(applied)
    for msg in infos:
        assert EXPLAIN.match(msg), msg
        assert "floor" in msg and "ceiling" in msg and "dts" in msg
    # every executed change went out as feebase=0, feeppm=new and was journaled as applied
    for call in w.node.setchannel_calls:
        assert call["feebase"] == 0
    assert len(w.store.fee_changes()) == len(applied)
    assert all(j.applied for j in w.store.fee_changes())


def test_state_is_persisted_and_a_new_controller_continues(world: World) -> None:
    w = world
    w.controller()
    for _ in range(4):
        w.cycle()
    row = w.store.get_fee_strategy_state(w.scid("a"))
    assert row is not None and row.v2_state_json is not None
    blob = json.loads(row.v2_state_json)
    assert blob["controller"]["last_update"] == row.last_update == w.clock.now()
    assert len(blob["observations"]) >= 2
    w.controller()  # a restart: the store carries the windows on
    nxt = w.cycle()
    assert nxt["skip_reasons"].get(w.scid("a")) != "window_opened"


def test_corrupt_state_blob_gives_a_fresh_state_and_a_warning(world: World) -> None:
    w = world
    w.controller()
    w.cycle()
    row = w.store.get_fee_strategy_state(w.scid("a"))
    assert row is not None
    w.store.put_fee_strategy_state(
        FeeStrategyState(
            row.channel_id, row.peer_id, row.last_fee_ppm, row.last_broadcast_fee_ppm,
            row.last_update, False, 0.0, "{not json", row.updated_at,
        )
    )  # fmt: skip
    out = w.cycle()
    assert out["skip_reasons"][w.scid("a")] == "window_opened"
    assert any(level == "warn" and "corrupt" in msg for level, msg in w.logs)


def test_flow_cycle_classifies_and_persists(world: World) -> None:
    w = world
    ctl = w.controller()
    _route_payments(w, 30)
    out = ctl.flow_cycle()
    assert out["channels"] == 3
    assert set(out["classes"]) == {w.scid(n) for n in "abc"}
    for scid, cls in out["classes"].items():
        cs = w.store.get_channel_state(scid)
        assert cs is not None and cs.state == cls
        assert w.store.get_kalman_state(scid) is not None
    cs_a = w.store.get_channel_state(w.scid("a"))
    assert cs_a is not None and cs_a.sats_out == 30 * 50_000 and cs_a.forward_count == 30
    kalman = json.loads(w.store.get_kalman_state(w.scid("a")).state_json)  # type: ignore[union-attr]
    assert kalman["ratio"] > 0 and "ema" in kalman  # draining a's outbound


def test_analyze_shape(world: World) -> None:
    w = world
    ctl = w.controller()
    _route_payments(w, 5)
    res = ctl.analyze()
    assert res["count"] == 3
    one = ctl.analyze(w.scid("a"))["channels"]
    assert len(one) == 1
    keys = {
        "sats_in", "sats_out", "capacity", "flow_ratio", "state", "daily_volume", "confidence",
        "velocity", "kalman_flow_ratio", "kalman_velocity", "kalman_uncertainty",
        "kalman_regime_change", "forward_count",
    }  # fmt: skip
    assert keys <= set(one[0])
    assert one[0]["sats_out"] == 5 * 50_000 and one[0]["capacity"] == 2_000_000
    with pytest.raises(NotFound):
        ctl.analyze("999x9x9")


def test_fee_debug_shape(world: World) -> None:
    w = world
    ctl = w.controller()
    w.cycle()
    w.clock.advance(CYCLE)
    dbg = ctl.fee_debug(w.scid("a"))
    for key in (
        "floor", "ceiling", "targets", "blend", "cap", "posterior_mean", "posterior_std",
        "observations", "context", "sleep", "pending",
    ):  # fmt: skip
        assert key in dbg
    assert {"dts", "post_pid", "bounded", "blended", "applied"} <= set(dbg["targets"])
    # 30 sat/vB opening feerate in the model: risk premium 3 x 30 = 90 ppm wins the floor
    assert dbg["floor"] == 90 and dbg["ceiling"] == 2000
    assert dbg["floor"] <= dbg["targets"]["bounded"] <= dbg["ceiling"]
    before = w.store.get_fee_strategy_state(w.scid("a"))
    ctl.fee_debug(w.scid("a"))
    assert w.store.get_fee_strategy_state(w.scid("a")) == before  # nothing persisted
    with pytest.raises(NotFound):
        ctl.fee_debug("999x9x9")


def test_a_channel_losing_money_at_the_margin_gets_a_lower_ceiling(world: World) -> None:
    """§4 coupling: the stored profitability snapshot's marginal ROI caps the fee ceiling
    (x 1/1.15 below -50 %); without a snapshot the ceiling is the configured one."""
    w = world
    ctl = w.controller()
    w.cycle()
    w.clock.advance(CYCLE)
    assert ctl.fee_debug(w.scid("a"))["ceiling"] == 2000
    snap = Snapshot(
        w.scid("a"), w.peer("a"), "underwater", "none", -0.8, -0.6, -5_000_000, {},
        w.clock.now(),
    )  # fmt: skip
    ProfitLedger(w.store).put_snapshots([snap])
    assert ctl.fee_debug(w.scid("a"))["ceiling"] == 1739
    assert ctl.fee_debug(w.scid("b"))["ceiling"] == 2000


# -- revenue-set-fee ----------------------------------------------------------------------------
def test_set_fee_clamps_unless_forced_and_rejects_bad_input(world: World) -> None:
    w = world
    ctl = w.controller()
    res = ctl.set_fee(w.scid("a"), 5000)
    assert (res["new_fee_ppm"], res["clamped"], w.fee("a")) == (2000, True, 2000)
    res = ctl.set_fee(w.scid("a"), 5000, force=True)
    assert (res["new_fee_ppm"], res["clamped"], w.fee("a")) == (5000, False, 5000)
    assert ctl.set_fee(w.scid("a"), 10)["new_fee_ppm"] == 50
    with pytest.raises(NotFound):
        ctl.set_fee("999x9x9", 100)
    with pytest.raises(InvalidInput):
        ctl.set_fee(w.scid("a"), -1)
    journal = w.store.fee_changes(channel_id=w.scid("a"))
    assert [j.reason for j in journal] == ["manual", "manual_forced", "manual"]
    assert w.scid("a") in ctl._manual  # the next cycle is a wake cycle


# -- the pure decision -----------------------------------------------------------------------------
def test_decide_is_pure_and_replayable(world: World) -> None:
    w = world
    w.controller()
    w.cycle()
    w.clock.advance(CYCLE)
    evidence = build_evidence(w.node, w.store, w.clock.now(), forwards_since=0.0)
    ev = evidence.channel(w.scid("a"))
    assert ev is not None
    row = w.store.get_fee_strategy_state(w.scid("a"))
    assert row is not None
    stored, _ = ChannelControl.from_blob(row.v2_state_json)
    before = stored.to_blob()
    inputs = ChannelInputs(policy=PeerPolicy(ev.peer_id))
    cfg = ControllerConfig().decision_config()
    d1 = decide(ev, evidence, stored, inputs, cfg, random.Random(3))
    d2 = decide(ev, evidence, stored, inputs, cfg, random.Random(3))
    assert stored.to_blob() == before
    assert (d1.apply, d1.new_fee_ppm, d1.reason) == (d2.apply, d2.new_fee_ppm, d2.reason)
    assert d1.state.to_blob() == d2.state.to_blob()
    assert d1.debug["floor_ppm"] == 90


def _evidence_for(ev: ChannelEvidence, now: float) -> CycleEvidence:
    return CycleEvidence(now=now, feerate_perkb=None, channels=(ev,), forwards=(), forwards_since=0)


def _channel(**changes: Any) -> ChannelEvidence:
    base = ChannelEvidence(
        channel_id="100x1x0", peer_id="02" + "11" * 32, capacity_sat=2_000_000,
        local_msat=1_000_000_000, spendable_msat=980_000_000, fee_ppm=300, fee_base_msat=0,
        htlc_max_msat=2_000_000_000, htlcs_in_flight=0, max_accepted_htlcs=483,
        local_opener=True, opened_at=0.0, last_forward_ts=None,
    )  # fmt: skip
    return replace(base, **changes)


def test_decide_congestion_trips_undamped_then_holds_the_floor() -> None:
    now = 1_767_225_600.0
    cfg = ControllerConfig().decision_config()
    stored = ChannelControl()
    stored.cycle.last_update = now - CYCLE
    stored.cycle.last_broadcast_fee_ppm = 300
    busy = _channel(htlcs_in_flight=411)  # 411 / 483 = 0.85 > 0.8
    inputs = ChannelInputs(policy=PeerPolicy(busy.peer_id))
    d = decide(busy, _evidence_for(busy, now), stored, inputs, cfg, random.Random(1))
    assert (d.apply, d.new_fee_ppm) == (True, 600)  # min(2000, max(1200, 550), max(600, 550))
    assert d.reason == "category_changed" and d.debug["congestion"] == "trip"
    assert d.htlcmax_msat == 833_000_000  # min(0.45 x 2 M sat, 0.85 x spendable) in msat
    nxt = replace(busy, fee_ppm=600)
    d2 = decide(nxt, _evidence_for(nxt, now + CYCLE), d.state, inputs, cfg, random.Random(1))
    assert d2.debug["congestion"] == "hold"
    assert 600 < d2.new_fee_ppm <= 900  # floor 1.5 x 600, through blend and the 300 ppm step cap
    calm = replace(nxt, fee_ppm=d2.new_fee_ppm, htlcs_in_flight=0)
    d3 = decide(calm, _evidence_for(calm, now + 2 * CYCLE), d2.state, inputs, cfg, random.Random(1))
    d4 = decide(calm, _evidence_for(calm, now + 3 * CYCLE), d3.state, inputs, cfg, random.Random(1))
    assert d3.debug["congestion"] == "quiet" and d4.debug["congestion"] == "ended"
    assert not d4.state.cycle.congestion.active


def test_decide_sleeping_channel_holds_until_woken() -> None:
    now = 1_767_225_600.0
    cfg = ControllerConfig().decision_config()
    stored = ChannelControl()
    stored.cycle.last_update = now - CYCLE
    stored.cycle.sleep = SleepState(is_sleeping=True, sleep_until=now + 3600)
    ev = _channel()
    inputs = ChannelInputs(policy=PeerPolicy(ev.peer_id))
    d = decide(ev, _evidence_for(ev, now), stored, inputs, cfg, random.Random(1))
    assert (d.apply, d.reason) == (False, "sleeping")
    woken = replace(inputs, manual_wake=True)
    d2 = decide(ev, _evidence_for(ev, now), stored, woken, cfg, random.Random(1))
    assert d2.reason != "sleeping" and d2.debug["wake"] == "manual_fee"


def test_decide_holds_ordinary_moves_after_24_broadcasts_in_24_h() -> None:
    """§2 anti-oscillation summary: "[ours] ... hard cap 24" broadcasts per channel per day."""
    now = 1_767_225_600.0
    cfg = ControllerConfig().decision_config()
    stored = ChannelControl()
    stored.cycle.last_update = now - CYCLE
    stored.cycle.last_broadcast_fee_ppm, stored.cycle.last_broadcast_ts = 300, now - 3600
    ev = _channel(fee_ppm=300)
    inputs = ChannelInputs(policy=PeerPolicy(ev.peer_id))
    # a seed whose draw moves the fee past the deadband when nothing has been broadcast
    seed = next(
        s
        for s in range(200)
        if decide(ev, _evidence_for(ev, now), stored, inputs, cfg, random.Random(s)).reason
        == "gossip_gate_passed"
    )
    free = decide(ev, _evidence_for(ev, now), stored, inputs, cfg, random.Random(seed))
    assert free.apply and free.state.cycle.recent_broadcasts == [now]
    stored.cycle.recent_broadcasts = [now - 3600 - 60 * i for i in range(24)]
    capped = decide(ev, _evidence_for(ev, now), stored, inputs, cfg, random.Random(seed))
    assert (capped.apply, capped.new_fee_ppm) == (False, 300)
    assert capped.reason.startswith("broadcast_cap")
    # broadcasts older than 24 h no longer count
    stored.cycle.recent_broadcasts = [now - 86_400 - 60 * i for i in range(24)]
    again = decide(ev, _evidence_for(ev, now), stored, inputs, cfg, random.Random(seed))
    assert again.apply and again.state.cycle.recent_broadcasts == [now]


def test_decide_congestion_trip_is_not_held_by_the_broadcast_cap() -> None:
    now = 1_767_225_600.0
    cfg = ControllerConfig().decision_config()
    stored = ChannelControl()
    stored.cycle.last_update = now - CYCLE
    stored.cycle.last_broadcast_fee_ppm = 300
    stored.cycle.recent_broadcasts = [now - 60 * i for i in range(1, 25)]
    busy = _channel(htlcs_in_flight=411)
    inputs = ChannelInputs(policy=PeerPolicy(busy.peer_id))
    d = decide(busy, _evidence_for(busy, now), stored, inputs, cfg, random.Random(1))
    assert (d.apply, d.new_fee_ppm, d.reason) == (True, 600, "category_changed")
