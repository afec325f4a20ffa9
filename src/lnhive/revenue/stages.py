"""The fee controller's deterministic stages (spec revenue-ops §2.3 steps 2 and 5-11).

Pure functions over whole-ppm integers: bound -> blend -> zero-flow guard -> rate limit
-> deadband, plus the sleep rules, the htlc_max valve, congestion priority and the
LOW_FEE_EXPLORATION target. A raw (float) target is rounded up when it becomes a fee.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from fractions import Fraction

from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.profiles import ACTIVE, FeeProfile
from lnhive.revenue.rails import exact, floor_mul

# --- step 6: bound and blend -------------------------------------------------------------
BLEND_STD_SPARSE = 200.0  # std >= 200 (or < 5 observations): the profile's sparse ratio
BLEND_STD_HIGH = 100.0
BLEND_STD_MEDIUM = 50.0
BLEND_RATIO_HIGH_STD = 0.30
BLEND_RATIO_MEDIUM_STD = 0.45
BLEND_RATIO_LOW_STD = 0.60
BLEND_MIN_OBSERVATIONS = 5
MIN_MOVE_PPM = 1


def ceil_ppm(x: float | Fraction) -> int:
    """A fee from a real-valued target: rounded up (float noise below 1e-9 ppm ignored)."""
    return math.ceil(x) if isinstance(x, Fraction) else math.ceil(x - 1e-9)


def blend_ratio(
    profile: FeeProfile, posterior_std: float, observations: int, *, wake: bool = False
) -> float:
    """How far this cycle moves toward the target; tighter off the active profile and on wake."""
    if posterior_std >= BLEND_STD_SPARSE or observations < BLEND_MIN_OBSERVATIONS:
        ratio = profile.blend_sparse
    elif posterior_std >= BLEND_STD_HIGH:
        ratio = BLEND_RATIO_HIGH_STD
    elif posterior_std >= BLEND_STD_MEDIUM:
        ratio = BLEND_RATIO_MEDIUM_STD
    else:
        ratio = BLEND_RATIO_LOW_STD
    if profile.name != ACTIVE.name:
        ratio = min(ratio, profile.blend_normal)
    if wake:
        ratio = min(ratio, profile.blend_wake)
    return ratio


def bound(target: float | int, floor_ppm: int, ceiling_ppm: int) -> int:
    """The target rounded up and clamped to [floor, ceiling] (the floor wins a crossing)."""
    return max(floor_ppm, min(ceiling_ppm, ceil_ppm(target)))


def blend_origin(
    current_ppm: int,
    pending_ppm: int | None,
    floor_ppm: int,
    ceiling_ppm: int,
    *,
    target_ppm: int | None = None,
    last_broadcast_ppm: int | None = None,
) -> int:
    """Blend from a pending target the deadband kept, while it is still valid (§2.3 step 6,
    "blend from current (or a still-valid pending target)").

    Valid means: within the rails and, when this cycle's bounded target is given, still on the
    way from the current fee to it (a pending step toward an earlier target that lies on the
    far side of the current fee, or past the new target, no longer leads anywhere) and the
    target is not back inside the gossip band of the last broadcast (then there is nothing left
    to accumulate). The reference port's golden cycle traces drop a pending anchor on the same
    two conditions.
    """
    if pending_ppm is None or not floor_ppm <= pending_ppm <= ceiling_ppm:
        return current_ppm
    if target_ppm is not None:
        if not min(current_ppm, target_ppm) <= pending_ppm <= max(current_ppm, target_ppm):
            return current_ppm
        if last_broadcast_ppm is not None and last_broadcast_ppm > 0:
            band = last_broadcast_ppm * exact(GOSSIP_GATE_FRACTION)
            if abs(target_ppm - last_broadcast_ppm) <= band:
                return current_ppm
    return pending_ppm


def blend(origin_ppm: int, target_ppm: int, ratio: float) -> int:
    """origin + round(ratio x (target - origin)); a non-zero move is at least 1 ppm."""
    delta = target_ppm - origin_ppm
    moved = round(exact(ratio) * delta)
    if delta != 0 and moved == 0:
        moved = MIN_MOVE_PPM if delta > 0 else -MIN_MOVE_PPM
    return origin_ppm + moved


# --- step 8: rate limit ---------------------------------------------------------------------
def step_cap(current_ppm: int, profile: FeeProfile, *, wake: bool = False) -> int:
    """max(min step, ceil(cur x ratio)), with the profile's wake values on wake cycles."""
    if wake:
        ratio, minimum = profile.wake_step_cap_ratio, profile.wake_step_cap_min_ppm
    else:
        ratio, minimum = profile.step_cap_ratio, profile.step_cap_min_ppm
    return max(minimum, math.ceil(max(current_ppm, 1) * exact(ratio)))


def rate_limit(
    current_ppm: int, target_ppm: int, profile: FeeProfile, *, wake: bool = False
) -> int:
    cap = step_cap(current_ppm, profile, wake=wake)
    return max(current_ppm - cap, min(current_ppm + cap, target_ppm))


# --- step 7: zero-flow guard ----------------------------------------------------------------
ZERO_FLOW_GUARD_MIN_STREAK = 8
ZERO_FLOW_DOWNSHIFT_MIN_STREAK = 24
ZERO_FLOW_GUARD_GAP_MULT = 2
ZERO_FLOW_DOWNSHIFT_GAP_MULT = 4
ZERO_FLOW_GAP_CAP_HOURS = 168.0
ZERO_FLOW_DOWNSHIFT_INTERVAL = 12
ZERO_FLOW_DOWNSHIFT_FACTOR = 0.85
ZERO_FLOW_ANCHOR_FRACTION = 0.5


class ZeroFlowAction(enum.StrEnum):
    NONE = "none"
    HOLD = "zero_flow_hold"  # the fee may not rise
    DOWNSHIFT = "zero_flow_downshift"


@dataclass(frozen=True)
class ZeroFlowContext:
    zero_streak: int  # consecutive windows with no forwards and no meaningful revenue
    gap_ema_hours: float | None  # meaningful-revenue gap EMA; None when there is none yet
    cycle_hours: float
    forwards_in_window: int = 0
    supported_ceiling_ppm: float | None = None
    earning_anchor_ppm: float | None = None


def zero_flow_thresholds(gap_ema_hours: float | None, cycle_hours: float) -> tuple[int, int]:
    """(g, d) = (max(8, ceil(2 gap/cycle)), max(24, ceil(4 gap/cycle))), gap capped at 168 h."""
    if gap_ema_hours is None or gap_ema_hours <= 0 or cycle_hours <= 0:
        return ZERO_FLOW_GUARD_MIN_STREAK, ZERO_FLOW_DOWNSHIFT_MIN_STREAK
    cycles = Fraction(min(gap_ema_hours, ZERO_FLOW_GAP_CAP_HOURS)) / Fraction(cycle_hours)
    g = max(ZERO_FLOW_GUARD_MIN_STREAK, math.ceil(ZERO_FLOW_GUARD_GAP_MULT * cycles))
    d = max(ZERO_FLOW_DOWNSHIFT_MIN_STREAK, math.ceil(ZERO_FLOW_DOWNSHIFT_GAP_MULT * cycles))
    return g, d


def zero_flow_guard(
    current_ppm: int, proposed_ppm: int, floor_ppm: int, ctx: ZeroFlowContext
) -> tuple[int, ZeroFlowAction]:
    """After g silent windows the fee may not rise; every 12 windows from streak d it steps
    to floor(0.85 cur) (<= supported ceiling, >= max(floor, min(cur, 0.5 anchor))).
    Never below the floor."""
    g, d = zero_flow_thresholds(ctx.gap_ema_hours, ctx.cycle_hours)
    if ctx.forwards_in_window > 0 or ctx.zero_streak < g:
        return proposed_ppm, ZeroFlowAction.NONE
    held = min(proposed_ppm, current_ppm)
    on_step = ctx.zero_streak >= d and (ctx.zero_streak - d) % ZERO_FLOW_DOWNSHIFT_INTERVAL == 0
    if not on_step:
        return max(floor_ppm, held), ZeroFlowAction.HOLD
    stepped = floor_mul(current_ppm, ZERO_FLOW_DOWNSHIFT_FACTOR)
    if ctx.supported_ceiling_ppm is not None and ctx.supported_ceiling_ppm > 0:
        stepped = min(stepped, math.floor(ctx.supported_ceiling_ppm))
    lower = floor_ppm
    if ctx.earning_anchor_ppm is not None and ctx.earning_anchor_ppm > 0:
        anchor_floor = math.floor(ctx.earning_anchor_ppm * ZERO_FLOW_ANCHOR_FRACTION)
        lower = max(lower, min(current_ppm, anchor_floor))
    fee = max(lower, min(held, stepped))
    return fee, ZeroFlowAction.DOWNSHIFT if fee < current_ppm else ZeroFlowAction.HOLD


@dataclass(frozen=True)
class Shaped:
    """Each stage's output for one target (for `revenue-fee-debug`)."""

    bounded: int
    blended: int
    guarded: int
    applied: int
    blend_ratio: float
    step_cap: int
    zero_flow: ZeroFlowAction


def shape_target(
    raw_target: float,
    *,
    current_ppm: int,
    floor_ppm: int,
    ceiling_ppm: int,
    profile: FeeProfile,
    posterior_std: float,
    observations: int,
    wake: bool = False,
    pending_ppm: int | None = None,
    zero_flow: ZeroFlowContext | None = None,
    last_broadcast_ppm: int | None = None,
    blend_override: float | None = None,
) -> Shaped:
    """Steps 6-8 in order: bound, blend, zero-flow guard, rate limit. ``blend_override``
    replaces the §2.3 blend ratio ([ours]: the bracketing sweep moves by whole levels)."""
    bounded = bound(raw_target, floor_ppm, ceiling_ppm)
    ratio = blend_ratio(profile, posterior_std, observations, wake=wake)
    if blend_override is not None:
        ratio = blend_override
    origin = blend_origin(
        current_ppm,
        pending_ppm,
        floor_ppm,
        ceiling_ppm,
        target_ppm=bounded,
        last_broadcast_ppm=last_broadcast_ppm,
    )
    blended = blend(origin, bounded, ratio)
    guarded, action = blended, ZeroFlowAction.NONE
    if zero_flow is not None:
        guarded, action = zero_flow_guard(current_ppm, blended, floor_ppm, zero_flow)
    applied = rate_limit(current_ppm, guarded, profile, wake=wake)
    cap = step_cap(current_ppm, profile, wake=wake)
    return Shaped(bounded, blended, guarded, applied, ratio, cap, action)


# --- step 10: deadband ----------------------------------------------------------------------
ALPHA_GUARD_SMALL_FEE_PPM = 100  # below this fee a 1 ppm move is enough
ALPHA_GUARD_SMALL_STEP_PPM = 1
ALPHA_GUARD_MIN_STEP_PPM = 5
ALPHA_GUARD_FRACTION = 0.03
GOSSIP_GATE_FRACTION = 0.05
GOSSIP_REFRESH_IDLE_S = 86_400.0
GOSSIP_REFRESH_COOLDOWN_S = 86_400.0
GOSSIP_REFRESH_STEP_PPM = 1


class Decision(enum.StrEnum):
    APPLY = "apply"
    SKIP_PENDING = "skip_pending"  # alpha guard: too small a move; the target stays pending
    SKIP_GOSSIP = "skip_gossip"  # gossip gate: too close to the last broadcast fee


@dataclass(frozen=True)
class DeadbandDecision:
    decision: Decision
    reason: str
    fee_ppm: int
    pending_target_ppm: int | None = None


def alpha_threshold(current_ppm: int) -> int:
    """1 ppm below 100 ppm, else max(5, ceil(3 % of cur))."""
    if current_ppm < ALPHA_GUARD_SMALL_FEE_PPM:
        return ALPHA_GUARD_SMALL_STEP_PPM
    return max(ALPHA_GUARD_MIN_STEP_PPM, math.ceil(current_ppm * exact(ALPHA_GUARD_FRACTION)))


def deadband(
    current_ppm: int,
    new_ppm: int,
    last_broadcast_ppm: int | None,
    *,
    category_changed: bool = False,
) -> DeadbandDecision:
    """Alpha guard, then gossip gate. A change of decision category (e.g. CONGESTION <->
    normal) or a transition to or from 0 ppm passes both whenever the fee moves."""
    delta = abs(new_ppm - current_ppm)
    zero_transition = last_broadcast_ppm is not None and (
        (last_broadcast_ppm == 0) != (new_ppm == 0)
    )
    if delta != 0 and category_changed:
        return DeadbandDecision(Decision.APPLY, "category_changed", new_ppm)
    if delta != 0 and zero_transition:
        return DeadbandDecision(Decision.APPLY, "zero_fee_transition", new_ppm)
    threshold = alpha_threshold(current_ppm)
    if delta < threshold:
        reason = f"alpha_guard: |{new_ppm} - {current_ppm}| < {threshold} ppm"
        return DeadbandDecision(Decision.SKIP_PENDING, reason, current_ppm, new_ppm)
    if last_broadcast_ppm is None:
        return DeadbandDecision(Decision.APPLY, "first_broadcast", new_ppm)
    moved = abs(new_ppm - last_broadcast_ppm)
    if moved <= last_broadcast_ppm * exact(GOSSIP_GATE_FRACTION):
        reason = f"gossip_gate: |{new_ppm} - {last_broadcast_ppm}| <= 5 % of last broadcast"
        return DeadbandDecision(Decision.SKIP_GOSSIP, reason, current_ppm)
    return DeadbandDecision(Decision.APPLY, "gossip_gate_passed", new_ppm)


BROADCAST_HARD_CAP_PER_DAY = 24
BROADCAST_CAP_WINDOW_S = 86_400.0
UNCAPPED_REASONS = frozenset({"category_changed", "zero_fee_transition"})


def recent_broadcasts(timestamps: list[float], now: float) -> list[float]:
    """The broadcast times of the last 24 h (a new list; older ones dropped)."""
    return [t for t in timestamps if 0 <= now - t < BROADCAST_CAP_WINDOW_S]


def broadcast_cap_reached(timestamps: list[float], now: float, reason: str) -> bool:
    """§2 anti-oscillation summary, "[ours] steady state ≤6 broadcasts per channel per day,
    hard cap 24": true when this channel already broadcast 24 fees in the last 24 h. The
    transitions the deadband always sends (a decision-category change such as CONGESTION <->
    normal, a 0-fee transition; §2.3 step 10, §7 test 3) are not held back."""
    if reason in UNCAPPED_REASONS:
        return False
    return len(recent_broadcasts(timestamps, now)) >= BROADCAST_HARD_CAP_PER_DAY


STEADY_BROADCASTS_PER_DAY = 6
BROADCAST_DWELL_S = BROADCAST_CAP_WINDOW_S / STEADY_BROADCASTS_PER_DAY  # 4 h
DWELL_REASONS = frozenset({"gossip_gate_passed", "first_broadcast"})


def dwell_holds(last_broadcast_ts: float, now: float, reason: str, category: str) -> bool:
    """[ours] §2 "steady state ≤6 broadcasts per channel per day": a normal (Thompson x PI)
    move that passed the gossip gate waits until 4 h after the channel's last broadcast.
    Category changes, 0-fee transitions and the congestion, zero-flow and low-fee-exploration
    priorities are never held (§2.3 step 10 sends them; §7 tests 3, 6, 8)."""
    if reason in UNCAPPED_REASONS or category != "normal" or last_broadcast_ts <= 0:
        return False
    return 0 <= now - last_broadcast_ts < BROADCAST_DWELL_S


def gossip_refresh_due(
    now: float,
    last_broadcast_ts: float,
    last_forward_ts: float | None,
    last_refresh_ts: float | None,
) -> bool:
    """+1 ppm re-announces a channel with no broadcast and no forward for 24 h (24 h cooldown)."""
    quiet = now - last_broadcast_ts >= GOSSIP_REFRESH_IDLE_S and (
        last_forward_ts is None or now - last_forward_ts >= GOSSIP_REFRESH_IDLE_S
    )
    cooled = last_refresh_ts is None or now - last_refresh_ts >= GOSSIP_REFRESH_COOLDOWN_S
    return quiet and cooled


# --- steps 2 and 11: sleep --------------------------------------------------------------------
WAKE_REVENUE_CHANGE = 0.20
VEGAS_WAKE_INTENSITY = 0.5
VEGAS_REARM_INTENSITY = 0.3
SLEEP_STABLE_CHANGE = 0.01
SLEEP_STABLE_CYCLES = 3
SLEEP_FEE_INTERVALS = 2
VOLATILITY_RESET_CHANGE = 0.50


@dataclass(frozen=True)
class SleepState:
    is_sleeping: bool = False
    sleep_until: float = 0.0
    stable_cycles: int = 0
    vegas_armed: bool = True  # the Vegas wake fires at intensity >= 0.5, re-arms below 0.3


def relative_change(old: float, new: float) -> float:
    if old == 0:
        return 0.0 if new == 0 else math.inf
    return abs(new - old) / abs(old)


def check_wake(
    state: SleepState,
    *,
    now: float,
    last_revenue_rate: float,
    revenue_rate: float,
    congested: bool = False,
    policy_changed: bool = False,
    manual_fee_set: bool = False,
    vegas_intensity: float = 0.0,
) -> tuple[SleepState, str | None]:
    """Step 2. Returns the new state and why the channel woke (None: it did not, or was awake)."""
    armed = state.vegas_armed
    vegas_fired = armed and vegas_intensity >= VEGAS_WAKE_INTENSITY
    if vegas_fired:
        armed = False
    elif vegas_intensity < VEGAS_REARM_INTENSITY:
        armed = True
    state = replace(state, vegas_armed=armed)
    if not state.is_sleeping:
        return state, None
    reasons = [
        (now >= state.sleep_until, "timer"),
        (relative_change(last_revenue_rate, revenue_rate) > WAKE_REVENUE_CHANGE, "revenue_change"),
        (congested, "congestion"),
        (policy_changed, "policy_change"),
        (manual_fee_set, "manual_fee"),
        (vegas_fired, "vegas"),
    ]
    for hit, reason in reasons:
        if hit:
            return replace(state, is_sleeping=False, sleep_until=0.0, stable_cycles=0), reason
    return state, None


def after_cycle(
    state: SleepState,
    *,
    now: float,
    last_revenue_rate: float,
    revenue_rate: float,
    current_ppm: int,
    floor_ppm: int,
    fee_interval_s: float,
) -> tuple[SleepState, bool]:
    """Step 11: three cycles with < 1 % rate change (not while earning zero above the floor)
    send the channel to sleep for 2 x fee-interval. Returns (state, volatility reset)."""
    change = relative_change(last_revenue_rate, revenue_rate)
    if change > VOLATILITY_RESET_CHANGE:
        return replace(state, stable_cycles=0), True
    earning_zero_above_floor = revenue_rate <= 0 and current_ppm > floor_ppm
    if change >= SLEEP_STABLE_CHANGE or earning_zero_above_floor:
        return replace(state, stable_cycles=0), False
    stable = state.stable_cycles + 1
    if stable >= SLEEP_STABLE_CYCLES:
        until = now + SLEEP_FEE_INTERVALS * fee_interval_s
        return replace(state, is_sleeping=True, sleep_until=until, stable_cycles=0), False
    return replace(state, stable_cycles=stable), False


# --- step 9: htlc_max valve -------------------------------------------------------------------
HTLC_MAX_MIN_MSAT = 10_000_000
HTLC_MAX_PCT_SOURCE = 0.50  # `htlcmax-source-pct`
HTLC_MAX_PCT_SINK = 0.25  # `htlcmax-sink-pct`
HTLC_MAX_PCT_BALANCED = 0.45  # `htlcmax-balanced-pct`
HTLC_MAX_SPENDABLE_FRACTION = 0.85
HTLC_MAX_SEND_CHANGE = 0.10
MSAT_PER_SAT = 1_000


def htlc_max_msat(
    capacity_sat: int,
    spendable_msat: int,
    flow_class: FlowClass,
    *,
    source_pct: float = HTLC_MAX_PCT_SOURCE,
    sink_pct: float = HTLC_MAX_PCT_SINK,
    balanced_pct: float = HTLC_MAX_PCT_BALANCED,
) -> int:
    """max(10 000 000 msat, min(capacity x pct, 0.85 x spendable, capacity)), floored msat."""
    pct = {FlowClass.SOURCE: source_pct, FlowClass.SINK: sink_pct}.get(flow_class, balanced_pct)
    capacity_msat = capacity_sat * MSAT_PER_SAT
    return max(
        HTLC_MAX_MIN_MSAT,
        min(
            floor_mul(capacity_msat, pct),
            floor_mul(spendable_msat, HTLC_MAX_SPENDABLE_FRACTION),
            capacity_msat,
        ),
    )


def htlc_max_should_send(new_msat: int, last_sent_msat: int | None) -> bool:
    """Send only a move of more than 10 % from the last value sent."""
    if last_sent_msat is None or last_sent_msat <= 0:
        return True
    return abs(new_msat - last_sent_msat) > last_sent_msat * exact(HTLC_MAX_SEND_CHANGE)


# --- step 5: congestion priority ----------------------------------------------------------------
CONGESTION_UTILISATION = 0.8  # `htlc-congestion-threshold`
CONGESTION_LABEL_MAX_AGE_INTERVALS = 2  # a label older than 2 x flow-interval is ignored
CONGESTION_ENTRY_MULT = 4
CONGESTION_CURRENT_MULT = 2
CONGESTION_JUMP_PPM = 250
CONGESTION_HOLD_FLOOR_MULT = 1.5
CONGESTION_QUIET_CYCLES_TO_END = 2


def htlc_congested(
    inflight_htlcs: int, max_accepted_htlcs: int, threshold: float = CONGESTION_UTILISATION
) -> bool:
    return max_accepted_htlcs > 0 and inflight_htlcs / max_accepted_htlcs > threshold


def congestion_label_fresh(
    label: FlowClass, label_ts: float, now: float, flow_interval_s: float
) -> bool:
    """A CONGESTED label counts only while it is at most 2 x flow-interval old."""
    max_age = CONGESTION_LABEL_MAX_AGE_INTERVALS * flow_interval_s
    return label is FlowClass.CONGESTED and now - label_ts <= max_age


class CongestionMode(enum.StrEnum):
    NONE = "none"
    TRIP = "trip"  # first congested cycle: the fee jumps undamped
    HOLD = "hold"  # later congested cycles: floor 1.5 x cur, then blend and step cap
    QUIET = "quiet"
    ENDED = "ended"


@dataclass(frozen=True)
class CongestionState:
    active: bool = False
    entry_fee_ppm: int = 0
    quiet_cycles: int = 0


@dataclass(frozen=True)
class CongestionOutcome:
    state: CongestionState
    mode: CongestionMode
    fee_ppm: int | None = None  # TRIP: the fee to apply, undamped
    floor_ppm: int | None = None  # HOLD: the floor for this cycle's bound, blend and step cap

    @property
    def flagged(self) -> bool:
        """The window's observation carries the congestion flag."""
        return self.mode in (CongestionMode.TRIP, CongestionMode.HOLD)


def congestion_step(
    state: CongestionState, *, congested: bool, current_ppm: int, floor_ppm: int, ceiling_ppm: int
) -> CongestionOutcome:
    """One cycle of an episode. `congested`: live utilisation > 0.8 or a fresh CONGESTED
    label (see `congestion_label_fresh`); a stale label must be passed as False."""
    if congested and not state.active:
        entry = current_ppm
        fee = min(
            ceiling_ppm,
            max(CONGESTION_ENTRY_MULT * entry, entry + CONGESTION_JUMP_PPM),
            max(CONGESTION_CURRENT_MULT * current_ppm, current_ppm + CONGESTION_JUMP_PPM),
        )
        new = CongestionState(active=True, entry_fee_ppm=entry, quiet_cycles=0)
        return CongestionOutcome(new, CongestionMode.TRIP, fee_ppm=max(fee, floor_ppm))
    if congested:
        raised = floor_mul(current_ppm, CONGESTION_HOLD_FLOOR_MULT)
        floor = min(ceiling_ppm, max(floor_ppm, raised))
        return CongestionOutcome(
            replace(state, quiet_cycles=0), CongestionMode.HOLD, floor_ppm=floor
        )
    if not state.active:
        return CongestionOutcome(state, CongestionMode.NONE)
    quiet = state.quiet_cycles + 1
    if quiet >= CONGESTION_QUIET_CYCLES_TO_END:
        return CongestionOutcome(CongestionState(), CongestionMode.ENDED)
    return CongestionOutcome(replace(state, quiet_cycles=quiet), CongestionMode.QUIET)


# --- step 5: LOW_FEE_EXPLORATION ------------------------------------------------------------
EXPLORATION_FLOOR_MULT = Fraction(5, 4)  # ceil(1.25 x floor)
EXPLORATION_HEADROOM = 0.35
EXPLORATION_DISCOUNT = 0.5  # at most (1 - 0.5) x cur
EXPLORATION_SPARSE_HEADROOM = 0.5
EXPLORATION_SPARSE_DISCOUNT = 0.25


def low_fee_exploration_target(current_ppm: int, floor_ppm: int, *, sparse: bool = False) -> int:
    """max(floor, min(max(ceil(1.25 floor), floor + h (cur - floor)), (1 - d) cur)), rounded up;
    h, d = 0.35, 0.5 (sparse: 0.5, 0.25)."""
    if current_ppm <= floor_ppm:
        return floor_ppm
    h, d = (
        (EXPLORATION_SPARSE_HEADROOM, EXPLORATION_SPARSE_DISCOUNT)
        if sparse
        else (EXPLORATION_HEADROOM, EXPLORATION_DISCOUNT)
    )
    floor_candidate = Fraction(math.ceil(floor_ppm * EXPLORATION_FLOOR_MULT))
    headroom = floor_ppm + exact(h) * (current_ppm - floor_ppm)
    cap = (1 - exact(d)) * current_ppm
    return max(floor_ppm, ceil_ppm(min(max(floor_candidate, headroom), cap)))
