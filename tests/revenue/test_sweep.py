"""The bracketing sweep of a fresh channel ([ours], docs/revenue-ops.md "Decisions")."""

from __future__ import annotations

import random
from dataclasses import replace

from lnhive.revenue import sweep
from lnhive.revenue import thompson as th
from lnhive.revenue.controller import ControllerConfig
from lnhive.revenue.controller_cycle import ChannelControl, ChannelInputs, decide
from lnhive.revenue.evidence import ChannelEvidence, CycleEvidence
from lnhive.revenue.policy import PeerPolicy

T0 = 1_767_225_600.0
LEVEL_S = sweep.SWEEP_LEVEL_HOURS * 3600.0


def _concave_state(vertex: float, lo: float = 100.0, hi: float = 700.0) -> th.ThompsonState:
    s = th.ThompsonState()
    span = hi - lo
    x = (vertex - lo) / span  # R(x) = -(x - x*)^2 + const on normalised fees
    s.coeffs = (-1.0, 2.0 * x, 1.0)
    s.fee_min, s.fee_max = lo, hi
    s.posterior_mean = vertex
    return s


def test_a_fresh_channel_starts_at_the_prior_mean_and_climbs_by_half_every_two_hours() -> None:
    fresh = th.ThompsonState()  # the spec's prior: 200 ppm
    st = sweep.step(sweep.SweepState(), fresh, now=T0, floor_ppm=60, ceiling_ppm=2000)
    assert st.state.status == sweep.RUNNING and st.base_ppm == 200.0
    held = sweep.step(st.state, fresh, now=T0 + LEVEL_S - 1, floor_ppm=60, ceiling_ppm=2000)
    assert held.base_ppm == 200.0 and held.state.level == 0
    up = sweep.step(held.state, fresh, now=T0 + LEVEL_S, floor_ppm=60, ceiling_ppm=2000)
    assert up.base_ppm == 300.0 and up.state.level == 1
    assert [sweep.level_fee(60, k) for k in range(4)] == [60, 90, 135, 203]


def test_the_ladder_starts_inside_the_rails() -> None:
    fresh = th.ThompsonState()
    high_floor = sweep.step(sweep.SweepState(), fresh, now=T0, floor_ppm=260, ceiling_ppm=2000)
    assert high_floor.base_ppm == 260.0
    low_ceiling = sweep.step(sweep.SweepState(), fresh, now=T0, floor_ppm=60, ceiling_ppm=150)
    assert low_ceiling.base_ppm == 150.0


def test_a_channel_with_history_never_sweeps() -> None:
    s = th.ThompsonState()
    for i in range(th.MIN_REAL_OBSERVATIONS):
        th.record(s, 300, 5.0, 0.5, int(T0) + i * 1800)
    st = sweep.step(sweep.SweepState(), s, now=T0, floor_ppm=60, ceiling_ppm=2000)
    assert st.state.status == sweep.DONE and st.base_ppm is None
    again = sweep.step(st.state, th.ThompsonState(), now=T0, floor_ppm=60, ceiling_ppm=2000)
    assert again.base_ppm is None  # done is final


def test_a_bracket_ends_the_sweep_only_after_three_levels() -> None:
    inside = _concave_state(400.0)
    assert sweep.bracketed(inside)
    assert not sweep.bracketed(_concave_state(690.0))  # vertex at the top edge: keep climbing
    early = sweep.SweepState(sweep.RUNNING, 1, 60, T0)
    st = sweep.step(early, inside, now=T0 + LEVEL_S, floor_ppm=60, ceiling_ppm=2000)
    assert st.state.status == sweep.RUNNING and st.state.level == 2
    st = sweep.step(st.state, inside, now=T0 + 2 * LEVEL_S, floor_ppm=60, ceiling_ppm=2000)
    assert st.state.status == sweep.DONE and st.handover and st.base_ppm == 400.0


def test_revenue_falling_across_the_ladder_is_a_bracket() -> None:
    # not concave (a >= 0) but R(1) < R(0): the best fee swept is at the bottom of the ladder
    falling = th.ThompsonState()
    falling.coeffs = (0.2, -1.0, 5.0)
    falling.fee_min, falling.fee_max = 200.0, 675.0
    assert sweep.vertex_x(falling) is None and sweep.bracketed(falling)
    rising = th.ThompsonState()
    rising.coeffs = (0.2, 0.5, 5.0)
    rising.fee_min, rising.fee_max = 200.0, 675.0
    assert not sweep.bracketed(rising)
    assert not sweep.bracketed(th.ThompsonState())  # no fit yet


def test_the_ladder_stops_where_its_next_level_would_be_charged_above_the_ceiling() -> None:
    fresh = th.ThompsonState()
    fresh.posterior_mean = 321.0
    at = sweep.SweepState(sweep.RUNNING, 5, 60, T0)  # 456 ppm; next 684
    st = sweep.step(at, fresh, now=T0 + LEVEL_S, floor_ppm=60, ceiling_ppm=2000)
    assert st.state.level == 6
    st = sweep.step(at, fresh, now=T0 + LEVEL_S, floor_ppm=60, ceiling_ppm=2000, multiplier=3.0)
    assert st.state.status == sweep.DONE and st.handover and st.base_ppm == 321.0


def _channel(**changes: object) -> ChannelEvidence:
    base = ChannelEvidence(
        channel_id="100x1x0", peer_id="02" + "11" * 32, capacity_sat=2_000_000,
        local_msat=1_000_000_000, spendable_msat=980_000_000, fee_ppm=10, fee_base_msat=0,
        htlc_max_msat=2_000_000_000, htlcs_in_flight=0, max_accepted_htlcs=483,
        local_opener=True, opened_at=0.0, last_forward_ts=None,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_decide_sweeps_a_fresh_channel_without_the_blend() -> None:
    cfg = ControllerConfig().decision_config()
    ev = _channel()
    inputs = ChannelInputs(policy=PeerPolicy(ev.peer_id))
    evidence = CycleEvidence(
        now=T0, feerate_perkb=None, channels=(ev,), forwards=(), forwards_since=0
    )
    opened = decide(ev, evidence, ChannelControl(), inputs, cfg, random.Random(1))
    assert opened.reason == "window_opened"
    later = replace(evidence, now=T0 + 1800)
    d = decide(ev, later, opened.state, inputs, cfg, random.Random(1))
    assert d.debug["category"] == "sweep" and d.debug["blend"] == 1.0
    assert d.state.cycle.sweep_state.status == sweep.RUNNING
    # the first level (the 200 ppm prior x PI) is reached through the step cap from 10 ppm
    assert d.debug["targets"]["bounded"] >= 200 > d.debug["targets"]["rate_limited"]
    assert d.apply and d.new_fee_ppm == d.debug["targets"]["rate_limited"] > d.debug["floor_ppm"]
    blob = d.state.to_blob()
    back, warning = ChannelControl.from_blob(blob)
    assert warning is None and back.cycle.sweep_state == d.state.cycle.sweep_state
