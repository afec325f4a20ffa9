"""The pure part of the fee controller: one channel's §2.3 decision (spec revenue-ops §2).

:func:`decide` is a function of (evidence, stored state, inputs, config, now, rng): it reads
nothing else and changes nothing outside the new state it returns, so a cycle can be
replayed and unit-tested without a node. The stages are the committed ones, composed in
the spec's fixed order: policy → sleep → window → rails → priority (congestion,
low-fee exploration, DTS x PI) → bound → blend → zero-flow guard → rate limit →
htlc_max valve → deadband → sleep entry. Execution (``setchannel``) is the caller's.

Readings where the spec is terse:

- the first cycle that sees a dynamic channel only opens its window (nothing to learn yet);
- the window counts forwards *out* through the channel (the ones that earn its fee) and
  ``revenue_rate`` = their volume x the fee on the channel / 1e6 / hours, in sat/h;
- a window is "sparse" when it closed with fewer forwards than the profile's minimum:
  it uses the sparse DTS discount;
- static and hive policies apply their fee exactly (no min/max clamp, so hive can hold 0);
  a peer returning from ``hive`` to dynamic starts from a fresh posterior (§5);
- the congestion TRIP fee is applied undamped (no blend, no step cap) but still passes
  the deadband as a category change;
- htlc_max travels with a fee change only (it never causes a broadcast by itself);
- [ours] a fresh channel (fewer than 5 real windows) first runs the bracketing sweep of
  :mod:`lnhive.revenue.sweep` in place of the DTS target (category ``sweep``: no blend, not
  held by the dwell); congestion and low-fee exploration take priority over it.
"""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from lnhive.revenue import pi, stages, sweep, thompson
from lnhive.revenue.evidence import ChannelEvidence, CycleEvidence
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.policy import PeerPolicy, Strategy
from lnhive.revenue.profiles import FeeProfile
from lnhive.revenue.rails import Rails, RailsInputs, compute_rails
from lnhive.revenue.thompson import ThompsonState

CONTROLLER_KEY = "controller"
"""The key of the controller's cycle state inside the v2 blob (Thompson keeps unknown keys)."""
CYCLE_VERSION = 1
ONCHAIN_ADOPT_MIN_PPM = 100
ONCHAIN_ADOPT_FRACTION = 0.5


@dataclass
class CycleState:
    """The §2.1 "Cycle", PI and congestion fields of one channel."""

    last_revenue_rate: float = 0.0
    last_fee_ppm: int = 0
    last_broadcast_fee_ppm: int | None = None
    last_broadcast_ts: float = 0.0
    last_update: float | None = None
    last_state: str = "normal"
    sleep: stages.SleepState = field(default_factory=stages.SleepState)
    pending_target_ppm: int | None = None
    congestion: stages.CongestionState = field(default_factory=stages.CongestionState)
    last_gossip_refresh: float | None = None
    last_htlcmax_msat: int | None = None
    pi: pi.PIState = field(default_factory=pi.PIState)
    strategy: str = Strategy.DYNAMIC.value
    low_fee_exploration: bool = False
    recent_broadcasts: list[float] = field(default_factory=list)
    """Times of this channel's controller broadcasts in the last 24 h (the hard cap of 24)."""
    last_broadcast_dwells: bool = False
    """[ours] The last broadcast was a normal (Thompson x PI) move: the next one dwells 4 h."""
    sweep_state: sweep.SweepState = field(default_factory=sweep.SweepState)
    """[ours] The bracketing sweep of a fresh channel (:mod:`lnhive.revenue.sweep`)."""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["version"] = CYCLE_VERSION
        return d

    @classmethod
    def from_json(cls, d: Any) -> CycleState:
        if not isinstance(d, dict) or d.get("version") != CYCLE_VERSION:
            raise ValueError("bad controller cycle state")
        d = {k: v for k, v in d.items() if k != "version"}
        d["sleep"] = stages.SleepState(**d["sleep"])
        d["congestion"] = stages.CongestionState(**d["congestion"])
        d["pi"] = pi.PIState(**d["pi"])
        raw_sweep = d.get("sweep_state")
        d["sweep_state"] = sweep.SweepState(**raw_sweep) if raw_sweep else sweep.SweepState()
        return cls(**d)


@dataclass
class ChannelControl:
    """Everything the controller keeps for one channel between cycles."""

    thompson: ThompsonState = field(default_factory=ThompsonState)
    cycle: CycleState = field(default_factory=CycleState)

    def to_blob(self) -> str:
        self.thompson.extra[CONTROLLER_KEY] = self.cycle.to_json()
        return thompson.to_json(self.thompson)

    @classmethod
    def from_blob(cls, blob: str | None) -> tuple[ChannelControl, str | None]:
        """(state, warning): a corrupt blob gives a fresh state and a warning (spec test 30)."""
        th, warning = thompson.from_json(blob)
        if warning is not None:
            return cls(), warning
        raw = th.extra.get(CONTROLLER_KEY)
        if raw is None:
            return cls(thompson=th), None
        try:
            cyc = CycleState.from_json(raw)
        except (TypeError, ValueError, KeyError) as exc:
            return cls(), f"corrupt controller state, reset: {type(exc).__name__}: {exc}"
        return cls(thompson=th, cycle=cyc), None

    def clone(self) -> ChannelControl:
        """A copy the decision may change (faster than deepcopy for 200 observations)."""
        th = copy.copy(self.thompson)
        th.observations = [copy.copy(o) for o in th.observations]
        th.contexts = {k: copy.copy(c) for k, c in th.contexts.items()}
        th.nudges = [copy.copy(n) for n in th.nudges]
        th.extra = copy.deepcopy(th.extra)
        return ChannelControl(thompson=th, cycle=copy.copy(self.cycle))


@dataclass(frozen=True)
class DecisionConfig:
    """The slice of the controller's configuration a decision reads."""

    profile: FeeProfile
    fee_interval_s: int
    flow_interval_s: int
    min_fee_ppm: int
    min_fee_ppm_saturated: int
    max_fee_ppm: int
    hive_fee_ppm: int
    estimated_open_cost_sats: int
    vegas_reflex: bool
    enable_dynamic_htlcmax: bool


@dataclass(frozen=True)
class ChannelInputs:
    """What the controller knows of a channel beyond the node's answer."""

    policy: PeerPolicy
    flow_class: FlowClass = FlowClass.BALANCED
    kalman_ratio: float = 0.0
    kalman_velocity: float = 0.0
    policy_changed: bool = False
    manual_wake: bool = False
    vegas_intensity: float = 0.0
    vegas_multiplier: float = 1.0
    ceiling_factor: float = 1.0
    """The profitability coupling of the fee ceiling (§4; :mod:`.couplings`)."""


@dataclass(frozen=True)
class Decision:
    channel_id: str
    peer_id: str
    apply: bool
    old_fee_ppm: int
    new_fee_ppm: int
    reason: str
    state: ChannelControl
    htlcmax_msat: int | None = None
    debug: dict[str, Any] = field(default_factory=dict)
    explain: str = ""


def _window(ev: ChannelEvidence, forwards: CycleEvidence, since: float) -> tuple[int, int]:
    """(forwards out through the channel, their out volume msat) resolved in (since, now]."""
    count = volume = 0
    for f in forwards.forwards:
        if f.out_channel == ev.channel_id and since < f.resolved_time <= forwards.now:
            count += 1
            volume += f.out_msat
    return count, volume


def _hour(now: float) -> int:
    return datetime.fromtimestamp(now, tz=UTC).hour


def _skip(
    ev: ChannelEvidence, st: ChannelControl, reason: str, debug: dict[str, Any] | None = None
) -> Decision:
    dbg = debug or {}
    return Decision(
        ev.channel_id, ev.peer_id, False, ev.fee_ppm, ev.fee_ppm, reason, st, None, dbg,
        f"{ev.channel_id}: hold {ev.fee_ppm} ppm ({reason})",
    )  # fmt: skip


def _policy_decision(
    ev: ChannelEvidence, st: ChannelControl, policy: PeerPolicy, cfg: DecisionConfig, now: float
) -> Decision:
    cyc = st.cycle
    cyc.strategy = policy.strategy.value
    cyc.last_update = now
    cyc.sleep = stages.SleepState()
    cyc.pending_target_ppm = None
    if policy.strategy is Strategy.STATIC:
        target, tag = policy.fee_ppm_target or 0, "policy_static"
    else:
        target, tag = cfg.hive_fee_ppm, "policy_hive"
    debug = {"policy": policy.strategy.value, "target": target}
    if ev.fee_ppm == target and ev.fee_base_msat == 0:
        cyc.last_fee_ppm = target
        return _skip(ev, st, f"{tag}_held", debug)
    cyc.last_fee_ppm = cyc.last_broadcast_fee_ppm = target
    cyc.last_broadcast_ts = now
    cyc.last_broadcast_dwells = False
    explain = f"{ev.channel_id}: {ev.fee_ppm} -> {target} ppm ({tag}: peer policy fee enforced)"
    return Decision(
        ev.channel_id, ev.peer_id, True, ev.fee_ppm, target, tag, st, None, debug, explain
    )


def decide(
    ev: ChannelEvidence,
    evidence: CycleEvidence,
    stored: ChannelControl,
    inputs: ChannelInputs,
    cfg: DecisionConfig,
    rng: random.Random,
) -> Decision:
    """One channel's decision for this cycle; ``stored`` is not modified."""
    now = evidence.now
    st = stored.clone()
    cyc = st.cycle
    policy = inputs.policy
    previous_strategy = cyc.strategy
    # 1. policy
    if policy.strategy is Strategy.PASSIVE:
        cyc.strategy = policy.strategy.value
        return _skip(ev, st, "policy_passive", {"policy": "passive"})
    if policy.strategy in (Strategy.STATIC, Strategy.HIVE):
        return _policy_decision(ev, st, policy, cfg, now)
    policy_changed = inputs.policy_changed or previous_strategy != Strategy.DYNAMIC.value
    if previous_strategy == Strategy.HIVE.value:
        st.thompson = ThompsonState()  # §5: back from hive with a fresh posterior
    cyc.strategy = Strategy.DYNAMIC.value
    cur = ev.fee_ppm
    if cyc.last_update is None or previous_strategy != Strategy.DYNAMIC.value:
        cyc.last_update = now  # a fresh window: nothing to learn from yet
        cyc.last_fee_ppm = cur
        cyc.sleep = stages.SleepState()
        if cyc.last_broadcast_fee_ppm is None:
            cyc.last_broadcast_fee_ppm, cyc.last_broadcast_ts = cur, now
        return _skip(ev, st, "window_opened", {"policy_changed": policy_changed})
    # 3 (measured before 2: the wake rule looks at the revenue rate)
    hours = max(0.0, (now - cyc.last_update) / 3600.0)
    count, volume_msat = _window(ev, evidence, cyc.last_update)
    revenue_rate = volume_msat / 1000 * cur / 1e6 / hours if hours > 0 else 0.0
    congested_live = stages.htlc_congested(ev.htlcs_in_flight, ev.max_accepted_htlcs)
    congested = congested_live or inputs.flow_class is FlowClass.CONGESTED
    # 2. sleep
    sleep, woke = stages.check_wake(
        cyc.sleep, now=now, last_revenue_rate=cyc.last_revenue_rate, revenue_rate=revenue_rate,
        congested=congested, policy_changed=policy_changed, manual_fee_set=inputs.manual_wake,
        vegas_intensity=inputs.vegas_intensity,
    )  # fmt: skip
    cyc.sleep = sleep
    if sleep.is_sleeping:
        return _skip(ev, st, "sleeping", {"sleep_until": sleep.sleep_until})
    wake = woke is not None
    # 3. window
    profile = cfg.profile
    if hours < profile.window_min_hours and count < profile.window_min_forwards:
        return _skip(ev, st, "window_open", {"hours": hours, "forwards": count})
    if cyc.last_broadcast_fee_ppm is not None:
        tracked = cyc.last_broadcast_fee_ppm
        if abs(cur - tracked) > max(ONCHAIN_ADOPT_MIN_PPM, ONCHAIN_ADOPT_FRACTION * tracked):
            cyc.last_broadcast_fee_ppm = cur  # someone else moved it: adopt the on-chain fee
    # 4. rails
    gross, net = evidence.flow_7d.get(ev.channel_id, (0, 0))
    multi = policy.fee_multiplier_min is not None or policy.fee_multiplier_max is not None
    rails: Rails = compute_rails(
        RailsInputs(
            current_fee_ppm=cur, now=now,
            last_activity_ts=ev.last_forward_ts or ev.opened_at or now,
            flow_class=inputs.flow_class, outbound_ratio=ev.outbound_ratio,
            capacity_sat=ev.capacity_sat, feerate_perkb=evidence.feerate_perkb,
            local_opener=ev.local_opener, estimated_open_cost_sat=cfg.estimated_open_cost_sats,
            min_fee_ppm=cfg.min_fee_ppm, min_fee_ppm_saturated=cfg.min_fee_ppm_saturated,
            max_fee_ppm=cfg.max_fee_ppm, gross_7d_sat=gross, net_7d_sat=net,
            vegas_multiplier=inputs.vegas_multiplier if cfg.vegas_reflex else 1.0,
            policy_fee_ppm_target=policy.fee_ppm_target if multi else None,
            policy_multiplier_min=policy.fee_multiplier_min,
            policy_multiplier_max=policy.fee_multiplier_max,
            ceiling_factor=inputs.ceiling_factor,
        )
    )  # fmt: skip
    floor, ceiling = rails.floor_ppm, rails.ceiling_ppm
    # DTS: record the closed window, discount, sample (§2.4)
    th = st.thompson
    inow = int(now)
    ctx = thompson.context_key(ev.outbound_ratio, _hour(now), inputs.flow_class)
    rew = thompson.reward(revenue_rate, inputs.kalman_ratio, inputs.kalman_velocity)
    recorded = thompson.record(
        th, cur, rew, hours, inow, spendable_sat=ev.spendable_msat // 1000,
        bucket=thompson.time_bucket(_hour(now)), congested=cyc.congestion.active, context=ctx,
    )  # fmt: skip
    sparse = count < profile.window_min_forwards
    # §2.4 "Order: update → discount → sample"; the Vegas widening (§2.4 Nudges) acts on the
    # discounted posterior just before the sample, as in the reference port's cycle.
    thompson.discount(th, profile.dts_gamma_sparse if sparse else profile.dts_gamma_normal)
    if cfg.vegas_reflex:
        thompson.vegas_adjust(th, inputs.vegas_multiplier, float(floor), inow)
    dts = thompson.sample(th, rng, inow, floor=floor, ceiling=ceiling, context=ctx)
    # §2.4 "one upward probe to 1.25x per 24 h": the budget is spent below, only if the fee
    # applied this cycle really goes above the pre-stretch supported ceiling.
    supported = thompson.supported_ceiling(th, inow, float(floor))
    dts = thompson.cap_target(th, dts, inow, float(floor), consume_probe=False)
    probe_pre_cap = supported if supported is not None and dts > supported else None
    pir = pi.step(
        cyc.pi, outbound_ratio=ev.outbound_ratio, flow_class=inputs.flow_class,
        capacity_sat=ev.capacity_sat, now=now,
    )  # fmt: skip
    cyc.pi = pir.state
    raw: float = dts * pir.multiplier
    # 5. priority
    category = "normal"
    cong = stages.congestion_step(
        cyc.congestion, congested=congested, current_ppm=cur, floor_ppm=floor, ceiling_ppm=ceiling
    )
    cyc.congestion = cong.state
    if count > 0:
        cyc.low_fee_exploration = False
    if cong.flagged:
        category = "congestion"
    elif cyc.low_fee_exploration:
        category = "low_fee_exploration"
        raw = stages.low_fee_exploration_target(cur, floor, sparse=sparse)
    else:
        sw = sweep.step(
            cyc.sweep_state, th, now=now, floor_ppm=floor, ceiling_ppm=ceiling,
            multiplier=pir.multiplier,
        )  # fmt: skip
        cyc.sweep_state = sw.state
        if sw.base_ppm is not None:
            category = "sweep"
            raw = sw.base_ppm * pir.multiplier
    shape_floor = cong.floor_ppm if cong.floor_ppm is not None else floor
    zero_ctx = stages.ZeroFlowContext(
        zero_streak=th.zero_revenue_streak,
        gap_ema_hours=th.meaningful_gap_ema_hours or None,
        cycle_hours=cfg.fee_interval_s / 3600.0, forwards_in_window=count,
        supported_ceiling_ppm=thompson.supported_ceiling(th, inow, float(floor)),
        earning_anchor_ppm=thompson.earning_region_fee(th, inow),
    )  # fmt: skip
    # 6-8. bound, blend, zero-flow guard, rate limit
    shaped = stages.shape_target(
        raw, current_ppm=cur, floor_ppm=shape_floor, ceiling_ppm=ceiling, profile=profile,
        posterior_std=th.posterior_std, observations=thompson.real_observation_count(th),
        wake=wake, pending_ppm=cyc.pending_target_ppm, zero_flow=zero_ctx,
        last_broadcast_ppm=cyc.last_broadcast_fee_ppm,
        blend_override=1.0 if category == "sweep" else None,
    )  # fmt: skip
    target = shaped.applied
    if cong.mode is stages.CongestionMode.TRIP and cong.fee_ppm is not None:
        target = cong.fee_ppm  # the first trip jumps undamped
    if shaped.zero_flow is not stages.ZeroFlowAction.NONE and category == "normal":
        category = "zero_flow"
    # 9. htlc_max valve
    htlcmax: int | None = None
    if cfg.enable_dynamic_htlcmax:
        valve = stages.htlc_max_msat(ev.capacity_sat, ev.spendable_msat, inputs.flow_class)
        last_sent = cyc.last_htlcmax_msat if cyc.last_htlcmax_msat is not None else ev.htlc_max_msat
        if stages.htlc_max_should_send(valve, last_sent):
            htlcmax = valve
    # 10. deadband
    changed = (category == "congestion") != (cyc.last_state == "congestion")
    db = stages.deadband(cur, target, cyc.last_broadcast_fee_ppm, category_changed=changed)
    new_fee, reason, apply = cur, db.reason, db.decision is stages.Decision.APPLY
    if apply and stages.broadcast_cap_reached(cyc.recent_broadcasts, now, db.reason):
        apply, reason = False, f"broadcast_cap: {stages.BROADCAST_HARD_CAP_PER_DAY} in 24 h"
        cyc.pending_target_ppm = None
    elif (
        apply
        and cyc.last_broadcast_dwells
        and stages.dwell_holds(cyc.last_broadcast_ts, now, db.reason, category)
    ):
        apply, reason = False, "dwell: last broadcast under 4 h ago"
        cyc.pending_target_ppm = None
    elif apply:
        new_fee = db.fee_ppm
        cyc.pending_target_ppm = None
    else:
        cyc.pending_target_ppm = db.pending_target_ppm if db.pending_target_ppm != cur else None
        if stages.gossip_refresh_due(
            now, cyc.last_broadcast_ts, ev.last_forward_ts, cyc.last_gossip_refresh
        ):
            new_fee = min(ceiling, cur + stages.GOSSIP_REFRESH_STEP_PPM)
            apply, reason = new_fee != cur, "gossip_refresh"
            cyc.last_gossip_refresh = now
    # 12 (clamp part): the execution bounds
    if apply and new_fee != cur:
        new_fee = max(rails.min_fee_ppm, min(cfg.max_fee_ppm, new_fee))
        apply = new_fee != cur
        if not apply:
            reason = "clamped_to_current"
    # 11. sleep entry
    cyc.sleep, volatile = stages.after_cycle(
        cyc.sleep, now=now, last_revenue_rate=cyc.last_revenue_rate, revenue_rate=revenue_rate,
        current_ppm=new_fee, floor_ppm=floor, fee_interval_s=cfg.fee_interval_s,
    )  # fmt: skip
    cyc.last_revenue_rate = revenue_rate
    cyc.last_update = now
    cyc.last_fee_ppm = new_fee
    cyc.last_state = category
    recent = stages.recent_broadcasts(cyc.recent_broadcasts, now)
    if apply:
        recent.append(now)
        cyc.last_broadcast_fee_ppm, cyc.last_broadcast_ts = new_fee, now
        cyc.last_broadcast_dwells = category == "normal" and reason in stages.DWELL_REASONS
        if probe_pre_cap is not None and new_fee > probe_pre_cap:
            thompson.consume_upward_probe(th, inow)
        if htlcmax is not None:
            cyc.last_htlcmax_msat = htlcmax
    else:
        htlcmax = None
    cyc.recent_broadcasts = recent
    debug: dict[str, Any] = {
        "floor_ppm": floor, "ceiling_ppm": ceiling, "rails": asdict(rails),
        "targets": {
            "dts": dts, "post_pid": math.ceil(dts * pir.multiplier - 1e-9),
            "bounded": shaped.bounded, "blended": shaped.blended, "guarded": shaped.guarded,
            "rate_limited": shaped.applied, "applied": new_fee,
        },
        "blend": shaped.blend_ratio, "cap": shaped.step_cap, "pi_multiplier": pir.multiplier,
        "posterior_mean": th.posterior_mean, "posterior_std": th.posterior_std,
        "observations": thompson.real_observation_count(th), "recorded": recorded,
        "context": ctx, "category": category, "congestion": str(cong.mode),
        "zero_flow": str(shaped.zero_flow), "wake": woke, "volatility_reset": volatile,
        "window": {"hours": hours, "forwards": count, "revenue_rate_sat_h": revenue_rate},
        "sleep": {"is_sleeping": cyc.sleep.is_sleeping, "sleep_until": cyc.sleep.sleep_until},
        "pending": cyc.pending_target_ppm, "sweep": asdict(cyc.sweep_state), "flow_class": str(inputs.flow_class),
        "htlcmax_msat": htlcmax,
    }  # fmt: skip
    if not apply:
        reason = reason if reason != "gossip_refresh" else "gossip_refresh_capped"
    explain = (
        f"{ev.channel_id}: {cur} -> {new_fee} ppm ({reason}); floor {floor} ceiling {ceiling}, "
        f"dts {dts} x pi {pir.multiplier:.3f}, blended {shaped.blended}, "
        f"rate {revenue_rate:.1f} sat/h over {hours:.2f} h ({count} fwd), "
        f"class {inputs.flow_class}, mean {th.posterior_mean:.0f}±{th.posterior_std:.0f}"
    )
    if not apply:
        explain = explain.replace(f"{cur} -> {new_fee} ppm", f"hold {cur} ppm", 1)
    return Decision(
        ev.channel_id, ev.peer_id, apply, cur, new_fee, reason, st, htlcmax, debug, explain
    )


def describe_state(st: ChannelControl) -> dict[str, Any]:
    """The stored state in JSON-ready form (for ``revenue-fee-debug``)."""
    out: dict[str, Any] = json.loads(json.dumps(st.cycle.to_json()))
    out["posterior_mean"] = st.thompson.posterior_mean
    out["posterior_std"] = st.thompson.posterior_std
    out["observations"] = thompson.real_observation_count(st.thompson)
    return out
