"""The circular rebalancer against the in-process network model (spec §3.3; §7 tests
16-22): real invoices, askrene exclusion layers, routes and payments through the model's
channels, under a virtual clock.

Topology: us - a (5 M sat, us local 0.90), us - b (5 M sat, us local 0.05), a - x - b
(10 M sat each, balanced), so the only way round the circle is us → a → x → b → us.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import Conflict, InvalidInput, NotFound, PolicyBlocked
from lnhive.revenue.budget import Budget
from lnhive.revenue.policy import PolicyService
from lnhive.revenue.rebalance_layers import LAYER_PREFIX
from lnhive.revenue.rebalance_log import RebalanceLog
from lnhive.revenue.rebalance_rpc import debug, manual_rebalance
from lnhive.revenue.rebalancer import RebalanceConfig, Rebalancer
from lnhive.revenue.store import RevenueStore
from lnhive.sim.errors import RpcError
from lnhive.sim.network.channel import Channel
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.model import Network

CAP = 5_000_000


class TimingOutNode(InProcessNode):
    """The model's node, whose next ``waitsendpay`` times out (code 200) while the payment
    itself goes on (as CLN's does when its ``timeout`` passes first)."""

    timeouts = 0
    broken: str | None = None
    """A method that fails without an answer (a lost connection), after doing its work."""

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        if method == "waitsendpay" and self.timeouts > 0:
            self.timeouts -= 1
            raise RpcError(200, "Timed out")
        if method == self.broken:
            self.broken = None
            super().call(method, params)
            raise ConnectionError(f"{method}: connection lost")
        return super().call(method, params)


@dataclass
class Ring:
    clock: VirtualClock
    net: Network
    us: TimingOutNode
    store: RevenueStore
    rb: Rebalancer
    chans: dict[str, Channel]
    ids: dict[str, str]
    calls: list[str] = field(default_factory=list)

    def local_ratio(self, name: str) -> float:
        chan = self.chans[name]
        return chan.balance[chan.side_of(self.ids["us"])] / chan.capacity_msat

    def scid(self, name: str) -> str:
        return self.chans[name].scid or ""


def _set_local(chan: Channel, us: str, ratio: float) -> None:
    side = chan.side_of(us)
    chan.balance[side] = int(chan.capacity_msat * ratio)
    chan.balance[1 - side] = chan.capacity_msat - chan.balance[side]


def make_ring(
    tmp: Path,
    config: RebalanceConfig | None = None,
    *,
    x_fee_ppm: int = 10,
    dest_fee_ppm: int = 500,
    dry_run: bool = False,
    policies: PolicyService | None = None,
    hop_capacity: int = 10_000_000,
) -> Ring:
    clock = VirtualClock(1_800_000_000.0)
    net = Network(clock, seed=5, gossip_delay=60.0)
    ids = {n: net.add_node(n) for n in ("us", "a", "b", "x")}
    chans = {
        "ua": net.open_channel("us", "a", CAP),
        "ub": net.open_channel("us", "b", CAP),
        "ax": net.open_channel("a", "x", hop_capacity, push_msat=hop_capacity * 100),
        "xb": net.open_channel("x", "b", hop_capacity, push_msat=hop_capacity * 100),
    }
    _set_local(chans["ua"], ids["us"], 0.90)
    _set_local(chans["ub"], ids["us"], 0.05)
    net.setchannel(ids["us"], chans["ub"].scid or "", feebase=0, feeppm=dest_fee_ppm)
    net.setchannel(ids["us"], chans["ua"].scid or "", feebase=0, feeppm=50)
    net.setchannel(ids["x"], chans["xb"].scid or "", feebase=1000, feeppm=x_fee_ppm)
    clock.advance(3600)
    tmp.mkdir(parents=True, exist_ok=True)
    store = RevenueStore(tmp / "rev.sqlite3")
    cfg = config or RebalanceConfig()
    us = TimingOutNode(net, "us")
    pol = policies or PolicyService(store)

    def policy_of(peer: str) -> tuple[str, str]:
        p = pol.effective(peer, clock.now())
        return p.strategy.value, p.rebalance_mode.value

    rb = Rebalancer(
        us,
        RebalanceLog(store),
        Budget(store, cfg.budget_config()),
        cfg,
        clock,
        dry_run=dry_run,
        policy_of=policy_of,
    )
    return Ring(clock, net, us, store, rb, chans, ids)


@pytest.fixture
def ring(tmp_path: Path) -> Ring:
    return make_ring(tmp_path)


def _history(r: Ring) -> list[dict[str, Any]]:
    return list(reversed(r.rb.journal.history()))


def test_cycle_moves_one_chunk_round_the_circle(ring: Ring) -> None:
    out = ring.rb.cycle()
    assert [(c["from_channel"], c["to_channel"], c["amount_sat"]) for c in out["candidates"]] == [
        (ring.scid("ua"), ring.scid("ub"), 500_000)
    ]
    (attempt,) = out["attempts"]
    assert attempt["status"] == "success"
    # x charges 1000 msat + 10 ppm, b nothing (model default toward us is 1000 msat + 10 ppm)
    fee = attempt["fee_msat"]
    assert fee > 0 and fee == ring.rb.journal.history()[0]["actual_fee_msat"]
    assert ring.local_ratio("ua") == pytest.approx(0.80, abs=1e-3)
    assert ring.local_ratio("ub") == pytest.approx(0.15, abs=1e-3)
    # the budget holds the actual fee as spent, nothing reserved; cost logged; layer removed
    summary = ring.rb.budget.summary(ring.clock.now())
    assert summary["spent_24h_sat"] == -(-fee // 1000) and summary["active_reservations"] == []
    costs = ring.rb.journal.costs(since=0)
    assert [(c["amount_sat"], c["fee_msat"]) for c in costs] == [(500_000, fee)]
    layers = ring.us.call("askrene-listlayers", {})["layers"]
    assert not [x for x in layers if x["layer"].startswith(LAYER_PREFIX)]
    # the invoice to ourselves is paid
    inv = ring.us.listinvoices()["invoices"]
    assert [i["status"] for i in inv] == ["paid"]
    # the success cooldown keeps the destination out of the next cycle
    again = ring.rb.cycle()
    assert again["attempts"] == []
    assert {"channel_id": ring.scid("ua"), "reason": "dest_success_cooldown",
            "other_channel": ring.scid("ub")} in again["rejections"]  # fmt: skip


def test_route_dearer_than_the_ceiling_is_not_sent(tmp_path: Path) -> None:
    r = make_ring(tmp_path, x_fee_ppm=2000)  # 1000 sat through x, EV ceiling is 50 sat
    out = r.rb.cycle()
    (attempt,) = out["attempts"]
    assert attempt["status"] == "skipped" and attempt["reason"] == "below_hold_margin"
    assert r.us.listsendpays()["payments"] == []
    assert r.us.listinvoices()["invoices"] == []  # the attempt's invoice was deleted
    assert r.rb.budget.active() == [] and r.local_ratio("ub") == pytest.approx(0.05)


def test_zero_budget_skips_without_a_futility_strike(tmp_path: Path) -> None:
    r = make_ring(tmp_path, RebalanceConfig(daily_budget_sats=0))
    assert r.rb.cycle()["skipped"] == "budget_zero"
    # a budget too small for the ceiling: history skipped, no failure recorded
    r2 = make_ring(tmp_path / "two", RebalanceConfig(daily_budget_sats=10))
    out = r2.rb.cycle()
    assert out["attempts"][0]["status"] == "skipped"
    assert out["attempts"][0]["reason"] == "budget_exhausted"
    assert _history(r2)[0]["status"] == "skipped"
    assert r2.rb.journal.pair_failures(r2.scid("ua"), r2.scid("ub"), 0) == []
    assert r2.us.listsendpays()["payments"] == []


def test_pending_payment_keeps_invoice_and_reservation_until_reconciled(ring: Ring) -> None:
    ring.us.timeouts = 1
    out = ring.rb.cycle()
    (attempt,) = out["attempts"]
    assert attempt["status"] == "pending_settlement"
    assert len(attempt["attempts"]) == 1  # no retry
    (active,) = ring.rb.budget.active()
    assert active.pending
    # stale release leaves a pending payment's reservation alone
    assert ring.rb.budget.release_stale(ring.clock.now() + 5 * 3600) == []
    assert [i["label"] for i in ring.us.listinvoices()["invoices"]] == [_history(ring)[0]["label"]]
    # the next cycle first reconciles through listsendpays: settled with the actual fee
    ring.clock.advance(60)
    nxt = ring.rb.cycle()
    (rec,) = nxt["reconciled"]
    sent = ring.us.listsendpays(payment_hash=attempt["payment_hash"])["payments"][0]
    assert rec["status"] == "success" and rec["fee_msat"] == sent["amount_sent_msat"] - 500_000_000
    assert ring.rb.budget.active() == []
    assert _history(ring)[0]["status"] == "success"


def test_pending_destination_is_skipped_next_cycle(ring: Ring) -> None:
    hid = ring.rb.journal.start(
        from_channel=ring.scid("ua"),
        to_channel=ring.scid("ub"),
        dest_peer=ring.ids["b"],
        amount_sat=1000,
        max_fee_msat=1,
        status="pending_settlement",
        now=ring.clock.now(),
        manual=False,
    )
    ring.rb.journal.update(hid, ring.clock.now(), payment_hash="00" * 32)
    # a pending row whose payment listsendpays does not know stays pending: dest in flight
    out = ring.rb.cycle()
    assert out["attempts"] == []
    assert {"channel_id": ring.scid("ub"), "reason": "dest_in_flight"} in out["rejections"]


def test_failed_hop_is_excluded_and_the_amount_shrinks(ring: Ring) -> None:
    # x - b cannot carry 500 000 sat toward b (x holds only 400 000 sat there): the first
    # attempt fails at x, its channel is excluded, and no other path remains
    _set_local(ring.chans["xb"], ring.ids["x"], 0.04)
    out = ring.rb.cycle()
    (attempt,) = out["attempts"]
    assert attempt["status"] == "failed"
    assert attempt["attempts"][0]["status"] == "failed"
    amounts = [a["amount_sat"] for a in attempt["attempts"]]
    assert amounts[0] == 500_000 and all(b == a // 2 for a, b in itertools.pairwise(amounts))
    assert attempt["attempts"][0]["exclude"] == [f"{ring.scid('xb')}/{_dir(ring, 'x', 'b')}"]
    assert all(a["status"] == "failed" for a in attempt["attempts"])
    assert ring.rb.budget.active() == []
    assert ring.us.listinvoices()["invoices"] == []
    assert [p["status"] for p in ring.us.listsendpays()["payments"]] == []  # delpay'd
    fails = ring.rb.journal.pair_failures(ring.scid("ua"), ring.scid("ub"), 0)
    assert len(fails) == 1  # one strike per pair execution
    assert ring.rb.cycle()["attempts"] == []  # pair cooling down


def _dir(r: Ring, frm: str, to: str) -> int:
    return 0 if r.ids[frm] < r.ids[to] else 1


def test_wallet_reserve_blocks_automatic_and_manual(tmp_path: Path) -> None:
    r = make_ring(tmp_path, RebalanceConfig(min_wallet_reserve=50_000_000))
    assert r.rb.cycle()["skipped"] == "wallet_reserve"
    with pytest.raises(PolicyBlocked) as info:
        manual_rebalance(r.rb, r.scid("ua"), r.scid("ub"), 100_000)
    assert "wallet_reserve" in info.value.message
    assert r.rb.journal.history() == []


def test_dry_run_journals_and_never_pays(tmp_path: Path) -> None:
    r = make_ring(tmp_path, dry_run=True)
    out = r.rb.cycle()
    assert out["attempts"][0]["status"] == "skipped" and out["attempts"][0]["reason"] == "dry_run"
    assert r.us.listinvoices()["invoices"] == [] and r.rb.budget.active() == []


def test_sink_only_source_gives_no_pair(tmp_path: Path) -> None:
    pol = None
    r = make_ring(tmp_path)
    pol = PolicyService(r.store)
    pol.handle("set", {"peer_id": r.ids["a"], "rebalance": "sink_only"}, r.clock.now())
    r2 = make_ring(tmp_path / "p", policies=None)
    assert r2.rb.cycle()["candidates"]  # control: enabled gives a pair
    r.rb.policy_of = lambda peer: (
        "dynamic",
        pol.effective(peer, r.clock.now()).rebalance_mode.value,
    )
    out = r.rb.cycle()
    assert out["candidates"] == []
    assert {"channel_id": r.scid("ua"), "reason": "rebalance_mode_sink_only"} in out["rejections"]


def test_the_route_is_found_first_and_its_probability_gates_the_fee(tmp_path: Path) -> None:
    """The same 18 sat route (500 000 sat over a -> x -> b) passes the EV gate when its
    channels make it likely and is refused when they make it unlikely (at the default
    p = 0.5 its ceiling would be 18.75 sat, enough either way)."""
    likely = make_ring(tmp_path / "likely")
    seen: list[str] = []
    plain_call = likely.us.call

    def recording(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        seen.append(method)
        return plain_call(method, params)

    likely.us.call = recording  # type: ignore[method-assign]
    (went,) = likely.rb.cycle()["attempts"]
    assert went["status"] == "success" and went["fee_msat"] == 18_000
    # 10 M sat hops: (1 - 0.05)^2
    assert went["ev"]["probability"] == 0.9025 and went["ev"]["probability_source"] == "route"
    assert went["max_fee_msat"] == 43_906 and went["attempts"][0]["probability"] == 0.902498
    assert seen.index("getroutes") < seen.index("invoice")
    assert seen.count("getroutes") == 1  # the first attempt pays over the route found

    unlikely = make_ring(tmp_path / "unlikely", hop_capacity=1_000_000)
    (held,) = unlikely.rb.cycle()["attempts"]
    assert held["status"] == "skipped" and held["reason"] == "below_hold_margin"
    # 1 M sat hops: (1 - 0.5)^2; ceiling 0.25 x 62.5 - 12.5 = 3.125 sat
    assert held["ev"]["probability"] == 0.25 and held["max_fee_msat"] == 3124
    assert held["attempts"][0]["fee_msat"] == 18_000
    (row,) = _history(unlikely)
    assert row["reason_code"] == "below_hold_margin" and "(p 0.2500 route)" in row["error"]
    assert unlikely.local_ratio("ub") == pytest.approx(0.05)
    assert unlikely.rb.budget.active() == []


def test_without_a_route_the_gate_falls_back_to_history_or_default(ring: Ring) -> None:
    _set_local(ring.chans["ax"], ring.ids["a"], 0.0)  # a cannot send toward x: no route
    (miss,) = ring.rb.cycle()["attempts"]
    assert miss["status"] == "failed" and miss["reason"] == "no_route"
    assert miss["ev"]["probability"] == 0.5 and miss["ev"]["probability_source"] == "default"


# -- manual rebalance and its bad input: test 29 -------------------------------------------
def test_manual_rebalance_moves_the_amount(tmp_path: Path) -> None:
    ring = make_ring(tmp_path, x_fee_ppm=100)
    # the route a -> x -> b over two 10 M sat channels is found first: p = 0.98 x 0.98;
    # without force its EV ceiling (0.9604 x 25 - 5 = 19.009 sat for 200 000 sat) stops
    # the 27 sat route
    held = manual_rebalance(ring.rb, ring.scid("ua"), ring.scid("ub"), 200_000, 100)
    assert held["status"] == "skipped" and held["reason"] == "below_hold_margin"
    assert held["ev"]["probability"] == 0.9604 and held["ev"]["probability_source"] == "route"
    assert held["attempts"][0]["fee_msat"] == 27_000 and held["max_fee_msat"] == 19_009
    # force: only max_fee_sats caps it
    out = manual_rebalance(ring.rb, ring.scid("ua"), ring.scid("ub"), 200_000, 100, force=True)
    assert out["status"] == "success" and out["amount_sat"] == 200_000
    assert out["max_fee_msat"] == 100_000 and out["fee_msat"] == 27_000
    assert ring.local_ratio("ub") == pytest.approx(0.09, abs=1e-3)
    assert [h["manual"] for h in _history(ring)] == [1, 1]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("same", "same", 1000, None), InvalidInput),
        (("ua", "ua", 1000, None), InvalidInput),
        (("ua", "999x1x1", 1000, None), NotFound),
        (("ua", "ub", 0, None), InvalidInput),
        (("ua", "ub", -5, None), InvalidInput),
        (("ua", "ub", CAP + 1, None), InvalidInput),
        (("ua", "ub", 1000, -1), InvalidInput),
        (("ua", "ub", True, None), InvalidInput),
        ((None, "ub", 1000, None), InvalidInput),
    ],
)
def test_bad_manual_input_changes_nothing(
    ring: Ring, args: tuple[Any, ...], error: type[Exception]
) -> None:
    def name(x: Any) -> Any:
        return ring.scid(x) if x in ring.chans else x

    before = (ring.local_ratio("ua"), ring.local_ratio("ub"))
    with pytest.raises(error):
        manual_rebalance(ring.rb, name(args[0]), name(args[1]), args[2], args[3])
    assert ring.rb.journal.history() == [] and ring.rb.budget.active() == []
    assert ring.us.listinvoices()["invoices"] == []
    assert (ring.local_ratio("ua"), ring.local_ratio("ub")) == before


def test_concurrent_call_gets_engine_busy(ring: Ring) -> None:
    with ring.rb.single_flight():
        with pytest.raises(Conflict) as info:
            manual_rebalance(ring.rb, ring.scid("ua"), ring.scid("ub"), 1000)
        assert info.value.rpc_message().startswith("engine_busy:")
        with pytest.raises(Conflict):
            ring.rb.cycle()
    assert ring.rb.cycle()["attempts"]  # free again


def test_orphan_layers_are_swept(ring: Ring) -> None:
    ring.us.call("askrene-create-layer", {"layer": f"{LAYER_PREFIX}1-1"})
    ring.us.call("askrene-create-layer", {"layer": "someone-elses"})
    assert ring.rb.cycle()["layers_swept"] == [f"{LAYER_PREFIX}1-1"]
    names = [x["layer"] for x in ring.us.call("askrene-listlayers", {})["layers"]]
    assert names == ["someone-elses"]


def test_debug_explains_candidates_and_rejections(ring: Ring) -> None:
    out = debug(ring.rb)
    (cand,) = out["candidates"]
    assert cand["ev"]["ceiling_msat"] == 18_750 and cand["ev"]["probability"] == 0.5
    assert out["refusal"] is None and out["budget"]["daily_limit_sat"] == 5000
    summary = debug(ring.rb, summary_only=True)
    assert summary["candidates"] == 1
    one = debug(ring.rb, channel_id=ring.scid("ub"))
    assert one["backoff"]["dest_futile"] is False
    with pytest.raises(NotFound):
        debug(ring.rb, channel_id="1x2x3")
    by_peer: Callable[..., dict[str, Any]] = debug
    assert by_peer(ring.rb, peer_id=ring.ids["x"])["candidates"] == []


def test_lost_answer_after_sendpay_is_pending_not_retried(ring: Ring) -> None:
    ring.us.broken = "sendpay"  # the payment goes out, its answer is lost
    (attempt,) = ring.rb.cycle()["attempts"]
    assert attempt["status"] == "pending_settlement" and len(attempt["attempts"]) == 1
    assert len(ring.us.listsendpays()["payments"]) == 1
    ring.clock.advance(10)
    (rec,) = ring.rb.cycle()["reconciled"]
    assert rec["status"] == "success" and ring.rb.budget.active() == []
    assert ring.local_ratio("ub") == pytest.approx(0.15, abs=1e-3)


def test_node_failure_before_sending_releases_everything(ring: Ring) -> None:
    original = ring.us.invoice

    def no_invoice(**kw: Any) -> dict[str, Any]:
        raise ConnectionError("lightningd went away")

    ring.us.invoice = no_invoice  # type: ignore[method-assign]
    (attempt,) = ring.rb.cycle()["attempts"]
    ring.us.invoice = original  # type: ignore[method-assign]
    assert attempt["status"] == "failed" and attempt["reason"] == "error"
    assert ring.rb.budget.active() == [] and _history(ring)[0]["status"] == "failed"
    layers = ring.us.call("askrene-listlayers", {})["layers"]
    assert layers == []


def test_reconcile_releases_failed_and_never_sent_payments(ring: Ring) -> None:
    now = ring.clock.now()
    budget, journal = ring.rb.budget, ring.rb.journal
    # a payment that failed in the network after the wait timed out
    _set_local(ring.chans["xb"], ring.ids["x"], 0.0)
    ring.us.timeouts = 1
    first = ring.rb.cycle()["attempts"][0]
    # the model fails at once, so waitsendpay's timeout leaves a failed payment behind
    assert first["status"] == "pending_settlement"
    assert [p["status"] for p in ring.us.listsendpays()["payments"]] == ["failed"]
    # a pending row whose payment the node never recorded
    hid = journal.start(
        from_channel=ring.scid("ua"),
        to_channel=ring.scid("ub"),
        dest_peer=ring.ids["b"],
        amount_sat=1000,
        max_fee_msat=1000,
        status="pending_settlement",
        now=now,
        manual=False,
    )
    grant = budget.reserve(1, now, purpose="rebalance", ref="x")
    assert grant.reservation is not None
    journal.update(hid, now, payment_hash="11" * 32, reservation_id=grant.reservation.id)
    budget.mark_pending(grant.reservation.id, now)
    got = {r["id"]: r["status"] for r in ring.rb.reconcile()}
    assert got == {first["id"]: "failed"}  # the unknown one waits an hour
    ring.clock.advance(3601)
    assert {r["id"]: r["status"] for r in ring.rb.reconcile()} == {hid: "failed"}
    assert budget.active() == []
    assert ring.us.listinvoices()["invoices"] == []
    kinds = [f.kind for f in journal.pair_failures(ring.scid("ua"), ring.scid("ub"), 0)]
    assert kinds == ["pending_timeout"]


def test_a_route_through_a_banned_peer_is_never_sent(ring: Ring) -> None:
    ring.rb.banned = lambda: frozenset({ring.ids["x"]})  # the only way round passes x
    out = ring.rb.cycle()
    (attempt,) = out["attempts"]
    first = attempt["attempts"][0]
    assert first["status"] == "rejected" and first["error"] == "route_through_banned_peer"
    # x's channels are excluded on the retries, and there is no other way round
    assert first["exclude"] == [f"{ring.scid('ax')}/1", f"{ring.scid('xb')}/0"]
    assert attempt["status"] == "failed" and attempt["reason"] == "no_route"
    assert ring.us.listsendpays()["payments"] == []
    assert ring.local_ratio("ub") == pytest.approx(0.05)
    # a banned peer's channel is refused even to a forced manual rebalance
    ring.rb.banned = lambda: frozenset({ring.ids["b"]})
    with pytest.raises(PolicyBlocked) as info:
        manual_rebalance(ring.rb, ring.scid("ua"), ring.scid("ub"), 100_000, None, force=True)
    assert info.value.message.startswith("banned_peer:")
