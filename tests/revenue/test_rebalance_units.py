"""Pure rebalancer pieces: selection (§3.1, test 16), EV gate (§3.2), backoff (§3.5, test 21),
route validation (§3.3 step 4, test 20)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lnhive.revenue import backoff
from lnhive.revenue.backoff import Failure
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.policy import RebalanceMode
from lnhive.revenue.rebalance_ev import EvConfig, EvInputs, evaluate, gate, probability
from lnhive.revenue.rebalance_route import (
    ChannelEnd,
    RouteError,
    build_route,
    hops_through_us,
    last_hop_request,
    validate_route,
)
from lnhive.revenue.rebalance_select import RebalanceChannel, SelectConfig, score, select

CAP = 5_000_000
PEER_A, PEER_B, PEER_C = "02" + "aa" * 32, "02" + "bb" * 32, "02" + "cc" * 32
US = "03" + "00" * 32


def _ch(scid: str, peer: str, local: float, **kw: object) -> RebalanceChannel:
    return RebalanceChannel(scid, peer, CAP, int(CAP * local), **kw)  # type: ignore[arg-type]


# -- selection: test 16 ----------------------------------------------------------------
def test_one_pair_of_one_chunk() -> None:
    sel = select([_ch("1x1x1", PEER_A, 0.90), _ch("2x2x2", PEER_B, 0.05)], SelectConfig())
    assert [(c.source.channel_id, c.dest.channel_id, c.amount_sat) for c in sel.candidates] == [
        ("1x1x1", "2x2x2", 500_000)
    ]


def test_same_peer_gives_no_pair() -> None:
    sel = select([_ch("1x1x1", PEER_A, 0.90), _ch("2x2x2", PEER_A, 0.05)], SelectConfig())
    assert sel.candidates == []
    assert {"channel_id": "1x1x1", "reason": "same_peer", "other_channel": "2x2x2"} in (
        sel.rejections
    )


@pytest.mark.parametrize(
    ("src_mode", "dst_mode", "reason"),
    [
        (RebalanceMode.SINK_ONLY, RebalanceMode.ENABLED, "rebalance_mode_sink_only"),
        (RebalanceMode.DISABLED, RebalanceMode.ENABLED, "rebalance_mode_disabled"),
        (RebalanceMode.ENABLED, RebalanceMode.SOURCE_ONLY, "rebalance_mode_source_only"),
    ],
)
def test_rebalance_modes_exclude(
    src_mode: RebalanceMode, dst_mode: RebalanceMode, reason: str
) -> None:
    chans = [
        _ch("1x1x1", PEER_A, 0.90, rebalance_mode=src_mode),
        _ch("2x2x2", PEER_B, 0.05, rebalance_mode=dst_mode),
    ]
    sel = select(chans, SelectConfig())
    assert sel.candidates == [] and reason in {r["reason"] for r in sel.rejections}


def test_exclusions_and_amount_rules() -> None:
    cfg = SelectConfig()
    src = _ch("1x1x1", PEER_A, 0.90)
    for dst, reason in (
        (_ch("2x2x2", PEER_B, 0.05, flow_class=FlowClass.CONGESTED), "dest_congested"),
        (_ch("2x2x2", PEER_B, 0.05, in_flight=True), "dest_in_flight"),
        (_ch("2x2x2", PEER_B, 0.05, peer_connected=False), "peer_disconnected"),
        (_ch("2x2x2", PEER_B, 0.245), "below_min_amount"),
    ):
        sel = select([src, dst], cfg)
        assert sel.candidates == [] and reason in {r["reason"] for r in sel.rejections}, reason
    # a SOURCE-class channel is a source only above 0.80 local
    drained = _ch("1x1x1", PEER_A, 0.78, flow_class=FlowClass.SOURCE)
    assert select([drained, _ch("2x2x2", PEER_B, 0.05)], cfg).candidates == []
    full = _ch("1x1x1", PEER_A, 0.85, flow_class=FlowClass.SOURCE)
    assert len(select([full, _ch("2x2x2", PEER_B, 0.05)], cfg).candidates) == 1
    # the blocked hook (cooldowns, futility) is honoured
    sel = select([src, _ch("2x2x2", PEER_B, 0.05)], cfg, lambda s, d: "pair_futile")
    assert sel.candidates == [] and sel.rejections[-1]["reason"] == "pair_futile"


def test_greedy_each_channel_once_best_score_first() -> None:
    a = _ch("1x1x1", PEER_A, 0.95)
    b = _ch("2x2x2", PEER_B, 0.00)
    c = _ch("3x3x3", PEER_C, 0.20, value=2)
    d = _ch("4x4x4", "02" + "dd" * 32, 0.80)
    sel = select([a, b, c, d], SelectConfig())
    pairs = {(x.source.channel_id, x.dest.channel_id) for x in sel.candidates}
    assert len(sel.candidates) == 2
    assert len({p[0] for p in pairs} | {p[1] for p in pairs}) == 4
    assert sel.candidates[0].score >= sel.candidates[1].score
    # score formula: 0.30 urgency + 0.20 drain + 0.20 value + inbound term
    assert score(a, c) == pytest.approx(0.30 * 0.2 + 0.20 * 0.8 + 0.20 * 2 + 0.1)
    assert len(select([a, b, c, d], SelectConfig(max_candidates=1)).candidates) == 1


# -- EV ------------------------------------------------------------------------------------
def test_ev_ceiling_and_gate() -> None:
    inp = EvInputs(amount_msat=500_000_000, dest_fee_ppm=500, source_fee_ppm=50)
    d = evaluate(inp, EvConfig())
    # EFV 125 000 msat, p 0.5, source opportunity 12 500 → room 50 000 msat
    assert (d.efv_msat, d.source_opportunity_msat, d.ev_max_fee_msat) == (125_000, 12_500, 50_000)
    assert d.pair_budget_msat == 500_000 and d.ceiling_msat == 50_000
    assert gate(d, 50_000, 0) is None
    assert gate(d, 50_001, 0) == "below_hold_margin"
    assert gate(d, 0, 0) is None
    # a fee that has not earned halves EFV; failures shrink the room
    assert (
        evaluate(EvInputs(500_000_000, 500, 50, dest_fee_has_earned=False), EvConfig()).ceiling_msat
        == 18_750
    )
    assert (
        evaluate(EvInputs(500_000_000, 500, 50, pair_failures=4), EvConfig()).ceiling_msat == 25_000
    )
    # hive destination may lose up to the tolerance; the pair cap still bounds it
    hive = evaluate(EvInputs(500_000_000, 0, 0, hive_dest=True), EvConfig())
    assert hive.ceiling_msat == 50_000
    assert evaluate(EvInputs(500_000_000, 0, 0), EvConfig()).ceiling_msat == 0


def test_probability_sources() -> None:
    assert probability(EvInputs(1, 1, 1, route_probability=1.0)) == 0.99
    assert probability(EvInputs(1, 1, 1, route_probability=0.0)) == 0.05
    assert probability(EvInputs(1, 1, 1, past_attempts=4, past_successes=4)) == 0.75
    assert probability(EvInputs(1, 1, 1, past_attempts=2, past_successes=0)) == 0.5
    assert probability(EvInputs(1, 1, 1, route_probability=0.42, past_attempts=9)) == 0.42
    sources = [
        evaluate(inp, EvConfig()).probability_source
        for inp in (
            EvInputs(1, 1, 1, route_probability=0.42, past_attempts=9),
            EvInputs(1, 1, 1, past_attempts=3),
            EvInputs(1, 1, 1, past_attempts=2),
        )
    ]
    assert sources == ["route", "history", "default"]


def test_route_probability_sets_the_ev_ceiling_and_the_gate() -> None:
    """500 000 sat into a 500 ppm destination that has earned, from a 50 ppm source:
    EFV 125 sat, source opportunity 12.5 sat; ceiling = p x 125 - 12.5 sat."""
    base = EvInputs(500_000_000, 500, 50)
    likely = evaluate(replace(base, route_probability=0.9025), EvConfig())
    assert likely.probability == 0.9025 and likely.probability_source == "route"
    assert likely.ev_max_fee_msat == 100_312 and likely.ceiling_msat == 100_312
    assert likely.to_json()["probability_source"] == "route"
    unlikely = evaluate(replace(base, route_probability=0.08), EvConfig())
    assert unlikely.ev_max_fee_msat == 0
    assert gate(likely, 18_000, 0) is None
    assert gate(unlikely, 18_000, 0) == "below_hold_margin"
    assert gate(unlikely, 0, 0) is None  # a free route always passes
    # the route's p replaces a better history (4 of 4 -> 0.75) and the 0.5 default
    history = evaluate(replace(base, past_attempts=4, past_successes=4), EvConfig())
    both = evaluate(
        replace(base, route_probability=0.2, past_attempts=4, past_successes=4), EvConfig()
    )
    assert history.probability_source == "history" and history.ev_max_fee_msat == 81_250
    assert both.probability == 0.2 and both.ev_max_fee_msat == 12_500


# -- backoff: test 21 ------------------------------------------------------------------
def test_three_no_route_failures_in_30_minutes_make_a_pair_futile() -> None:
    t0 = 1_000_000.0
    fails = [Failure("no_route", t0), Failure("no_route", t0 + 600), Failure("no_route", t0 + 1700)]
    assert backoff.pair_futile(fails, t0 + 1800)
    assert not backoff.pair_futile(fails[:2], t0 + 1800)
    spread = [
        Failure("no_route", t0),
        Failure("no_route", t0 + 1000),
        Failure("no_route", t0 + 2000),
    ]
    assert not backoff.pair_futile(spread, t0 + 2100)
    assert not backoff.pair_futile(fails, t0 + 1700 + 86_400)
    too_dear = [Failure("too_expensive", t0 + i) for i in range(5)]
    assert not backoff.pair_futile(too_dear, t0 + 10)


@pytest.mark.parametrize("n", [1, 2, 3, 6, 8])
def test_nth_fee_insufficient_cooldown(n: int) -> None:
    t0 = 2_000_000.0
    fails = [Failure("fee_insufficient", t0 + i) for i in range(n)]
    last = t0 + n - 1
    until = backoff.pair_cooldown_until(fails, None, last)
    assert until == last + 1800 * min(n, 6)
    # a success after them resets the count
    assert backoff.pair_cooldown_until(fails, last + 1, last + 2) is None


def test_base_cooldowns_and_dest_futility() -> None:
    assert [backoff.base_cooldown(k) for k in ("no_route", "incorrect_cltv", "permanent", "x")] == [
        300,
        3600,
        21_600,
        600,
    ]
    t = 5_000_000.0
    assert backoff.dest_futile([Failure("no_route", t + i) for i in range(4)], t + 10)
    assert not backoff.dest_futile([Failure("temporary", t + i) for i in range(9)], t + 10)
    assert backoff.dest_futile([Failure("temporary", t + i) for i in range(10)], t + 10)
    assert not backoff.dest_futile(
        [Failure("no_route", t + i) for i in range(4)], t + 48 * 3600 + 5
    )


def test_success_cooldown_and_its_bypasses() -> None:
    t = 9_000_000.0
    common = dict(
        last_success_at=t,
        last_amount_sat=500_000,
        ratio_after_success=0.15,
        remaining_gap_sat=500_000,
        emergency_local_ratio=0.10,
        drift_override_ratio=0.30,
    )
    assert backoff.success_cooldown_s(500_000, 500_000) == 3600
    assert backoff.success_cooldown_s(100_000, 900_000) == 720
    assert backoff.success_cooldown_active(local_ratio_now=0.15, now=t + 100, **common)  # type: ignore[arg-type]
    assert not backoff.success_cooldown_active(local_ratio_now=0.15, now=t + 3601, **common)  # type: ignore[arg-type]
    # a destination at local 0.05 bypasses its success cooldown
    assert not backoff.success_cooldown_active(local_ratio_now=0.05, now=t + 100, **common)  # type: ignore[arg-type]
    common["ratio_after_success"] = 0.50
    assert not backoff.success_cooldown_active(local_ratio_now=0.15, now=t + 100, **common)  # type: ignore[arg-type]


def test_failcode_kinds() -> None:
    assert backoff.classify_failcode(0x100C) == "fee_insufficient"
    assert backoff.classify_failcode(0x100D) == "incorrect_cltv"
    assert backoff.classify_failcode(0x1007) == "temporary"
    assert backoff.classify_failcode(0x400F) == "permanent"
    assert backoff.classify_failcode(0x2002) == "temporary"
    assert backoff.classify_failcode(None, 200) == "pending_timeout"
    assert backoff.classify_failcode(None) == "other"


# -- routes: test 20 -------------------------------------------------------------------
SRC = ChannelEnd(
    "1x1x1", PEER_A, 0, remote_fee_base_msat=1000, remote_fee_ppm=100, remote_cltv_delta=6
)
DST = ChannelEnd(
    "2x2x2", PEER_B, 1, remote_fee_base_msat=1000, remote_fee_ppm=100, remote_cltv_delta=6
)
AMOUNT = 100_000_000


def _answer(through: str = PEER_C) -> dict[str, object]:
    want, cltv = last_hop_request(DST, AMOUNT, 18)
    assert want == AMOUNT + 1000 + 10_000 and cltv == 24
    return {
        "routes": [
            {
                "path": [
                    {
                        "short_channel_id_dir": "3x3x3/0",
                        "amount_in_msat": want + 2000,
                        "amount_out_msat": want + 1000,
                        "node_id_in": PEER_A,
                        "node_id_out": through,
                        "cltv_in": cltv + 12,
                        "cltv_out": cltv + 6,
                    },
                    {
                        "short_channel_id_dir": "4x4x4/1",
                        "amount_in_msat": want + 1000,
                        "amount_out_msat": want,
                        "node_id_in": through,
                        "node_id_out": PEER_B,
                        "cltv_in": cltv + 6,
                        "cltv_out": cltv,
                    },
                ]
            }
        ]
    }


def _valid(route: list[dict[str, object]], ceiling: int = 100_000) -> str | None:
    return validate_route(
        route,
        our_id=US,
        source_scid="1x1x1",
        dest_scid="2x2x2",
        amount_msat=AMOUNT,
        ceiling_msat=ceiling,
    )


def test_built_route_goes_around_the_circle() -> None:
    route = build_route(_answer(), SRC, DST, US, AMOUNT, 18)
    assert [h["channel"] for h in route] == ["1x1x1", "3x3x3", "4x4x4", "2x2x2"]
    assert [h["id"] for h in route] == [PEER_A, PEER_C, PEER_B, US]
    assert route[0]["direction"] == 0 and route[-1]["direction"] == 0
    assert route[-1]["amount_msat"] == AMOUNT and route[-1]["delay"] == 18
    assert route[0]["amount_msat"] - AMOUNT == 13_000
    assert _valid(route) is None
    assert _valid(route, ceiling=12_999) == "below_hold_margin"


def test_loops_and_wrong_amounts_are_rejected_before_sendpay() -> None:
    loop = build_route(_answer(through=US), SRC, DST, US, AMOUNT, 18)
    assert _valid(loop) == "route_loops_through_us"
    assert hops_through_us(loop, US) == ["3x3x3/0", "4x4x4/1"]
    off = build_route(_answer(), SRC, DST, US, AMOUNT, 18)
    off[-1] = {**off[-1], "amount_msat": AMOUNT - 1}
    assert _valid(off) == "route_wrong_final_amount"
    up = build_route(_answer(), SRC, DST, US, AMOUNT, 18)
    up[2] = {**up[2], "amount_msat": up[1]["amount_msat"] + 1}
    assert _valid(up) == "route_amount_increases"
    wrong_first = build_route(_answer(), DST, DST, US, AMOUNT, 18)
    assert _valid(wrong_first) == "route_wrong_first_hop"
    with pytest.raises(RouteError):
        build_route({"routes": []}, SRC, DST, US, AMOUNT, 18)
