"""Discounted Thompson sampling of a channel's fee target (spec revenue-ops §2.1 and §2.4).

A :class:`ThompsonState` holds what one channel has learnt about its fee→revenue curve. Per fee
cycle the controller calls, in this order (§2.4 "update → discount → sample"):

1. :func:`record` — a closed window's reward (see :func:`reward`); it recomputes the posterior;
2. :func:`discount` — forget a little (gamma from the profile);
3. :func:`sample` — draw the raw DTS target, then :func:`cap_target` (supported ceiling).

Everything is pure: the clock (``now``, unix seconds) and the ``random.Random`` are arguments.
Fees are int ppm at the boundaries and floats inside. The fits live in
:mod:`lnhive.revenue.thompson_fit`.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from lnhive.revenue import thompson_fit as fit
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.thompson_fit import (
    FLAG_CONGESTION,
    FLAG_NONE,
    FLAG_ZERO_PROBE,
    FLAGS,
    MIN_STD,
    Mat3,
    Observation,
    Vec3,
)

__all__ = [
    "FLAGS", "FLAG_CONGESTION", "FLAG_NONE", "FLAG_ZERO_PROBE", "STATE_VERSION", "ContextPosterior",
    "Nudge", "Observation", "ThompsonState", "cap_target", "consume_upward_probe",
    "context_key", "discount",
    "earning_region_fee", "effective_positive_rate_ref", "from_json", "is_meaningful",
    "nudge_fee_insufficient", "real_observation_count", "recompute", "record", "record_nudge",
    "reward", "sample", "supported_ceiling", "time_bucket", "to_json", "update_context",
    "upward_probe_open", "vegas_adjust",
]  # fmt: skip

STATE_VERSION = 1
MAX_OBSERVATIONS = 200
MIN_REAL_OBSERVATIONS = 5  # fewer: sample from the prior
DECAY_HOURS = fit.DECAY_HOURS
DISCOUNT_WEIGHT_FLOOR = 0.05
TRICKLE_FRAC = 0.10  # meaningful ⇔ rate ≥ 10 % of the positive-rate reference
POSITIVE_RATE_ALPHA = 0.2
GAP_EMA_ALPHA = 0.3
ZERO_STREAK_PROBE = 4
ZERO_PROBE_STEP = 0.9
ZERO_PROBE_FLOOR_FRAC = 0.3
ZERO_STREAK_OVERRIDE = 24
CENSOR_SPENDABLE_SAT = 25_000
MAX_NUDGES = 50
NUDGE_HALF_LIFE_HOURS = 24.0
NUDGE_MIN_WEIGHT = 1e-3
NUDGE_DEDUP_TOLERANCE = 0.05
MAX_CONTEXTS = 130
PRUNED_CONTEXTS = 104
CTX_DECAY = 0.98
CTX_SHIFT_CAP = 0.20
CTX_CONFIDENCE_COUNT = 10.0
CTX_SECONDARY_BOOST = 1.25
CEILING_HEADROOM = 1.25
CEILING_QUANTILE = 0.90
UPWARD_PROBE_HOURS = 24.0
UPWARD_PROBE_MIN_STD = 60.0
VEGAS_NUDGE_WEIGHT = 0.43


@dataclass(slots=True)
class ContextPosterior:
    mean: float
    precision: float
    count: int
    ts: int


@dataclass(slots=True)
class Nudge:
    target: float
    weight: float
    ts: int


@dataclass(slots=True)
class ThompsonState:
    prior_mean: float = 200.0
    prior_std: float = 100.0
    observations: list[Observation] = field(default_factory=list)
    posterior_mean: float = 200.0
    posterior_std: float = 100.0
    coeffs: Vec3 = fit.PRIOR_COEFFS
    precision: Mat3 = fit.PRIOR_PRECISION
    noise_variance: float = 1000.0
    fee_min: float = 0.0  # fee range of the last quadratic fit (0, 0: no usable fit)
    fee_max: float = 0.0
    contexts: dict[str, ContextPosterior] = field(default_factory=dict)
    nudges: list[Nudge] = field(default_factory=list)
    charged_fee_mean: float = 0.0
    zero_revenue_streak: int = 0
    zero_run_start_fee: float = 0.0
    zero_run_start_ts: int = 0
    positive_rate_ref: float = 0.0
    positive_rate_ref_ts: int = 0
    meaningful_gap_ema_hours: float = 0.0
    last_meaningful_ts: int = 0
    last_upward_probe_ts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys, kept for round trips


# --- reward and context ---------------------------------------------------------------------


def reward(revenue_rate: float, kalman_ratio: float = 0.0, kalman_velocity: float = 0.0) -> float:
    """revenue_rate / clamp((|ratio| + |24·velocity per h|)/0.5, 1, 2): a window earned while the
    channel was draining or filling fast counts for less."""
    damping = min(2.0, max(1.0, (abs(kalman_ratio) + abs(24.0 * kalman_velocity)) / 0.5))
    return revenue_rate / damping


def time_bucket(hour_utc: int) -> str:
    return "low" if hour_utc < 6 else "peak" if hour_utc >= 18 else "normal"


def context_key(outbound_ratio: float, hour_utc: int, flow_class: FlowClass | None) -> str:
    """``balance:time:role``, e.g. ``balanced:peak:P``."""
    r = outbound_ratio
    balance = (
        "depleted" if r < 0.15 else "low" if r < 0.35 else "balanced" if r < 0.65
        else "high" if r < 0.85 else "saturated"
    )  # fmt: skip
    secondary = flow_class in (None, FlowClass.SINK, FlowClass.DORMANT)
    return f"{balance}:{time_bucket(hour_utc)}:{'S' if secondary else 'P'}"


# --- record -------------------------------------------------------------------------------------


def effective_positive_rate_ref(state: ThompsonState, now: int) -> float:
    if state.positive_rate_ref <= 0.0 or state.positive_rate_ref_ts <= 0:
        return 0.0
    return state.positive_rate_ref * fit.decay(now - state.positive_rate_ref_ts, DECAY_HOURS)


def is_meaningful(state: ThompsonState, revenue_rate: float, now: int) -> bool:
    ref = effective_positive_rate_ref(state, now)
    return revenue_rate > 0.0 and revenue_rate >= TRICKLE_FRAC * ref


def record(
    state: ThompsonState,
    fee_ppm: int,
    revenue_rate: float,
    hours: float,
    now: int,
    *,
    spendable_sat: int | None = None,
    bucket: str = "normal",
    congested: bool = False,
    context: str | None = None,
) -> bool:
    """Record one window (``revenue_rate`` is the :func:`reward`, sat/h) and recompute.

    Returns False, changing nothing, for fee 0, a non-finite input or a censored window
    (rate ≤ 0 while spendable < 25 000 sat: no revenue could have flowed).
    """
    if fee_ppm <= 0 or not math.isfinite(revenue_rate) or not math.isfinite(hours) or hours <= 0:
        return False
    revenue_rate = max(0.0, revenue_rate)
    if revenue_rate <= 0.0 and spendable_sat is not None and spendable_sat < CENSOR_SPENDABLE_SAT:
        return False
    fee = float(fee_ppm)
    weight = min(1.0, hours / 6.0)
    meaningful = is_meaningful(state, revenue_rate, now)
    if meaningful:
        ref = effective_positive_rate_ref(state, now)
        state.positive_rate_ref = (
            revenue_rate if ref <= 0.0
            else (1 - POSITIVE_RATE_ALPHA) * ref + POSITIVE_RATE_ALPHA * revenue_rate
        )  # fmt: skip
        state.positive_rate_ref_ts = now
        if 0 < state.last_meaningful_ts < now:
            gap_h = (now - state.last_meaningful_ts) / 3600.0
            ema = state.meaningful_gap_ema_hours
            state.meaningful_gap_ema_hours = (
                gap_h if ema <= 0 else (1 - GAP_EMA_ALPHA) * ema + GAP_EMA_ALPHA * gap_h
            )
        state.last_meaningful_ts = now
        state.zero_revenue_streak, state.zero_run_start_fee, state.zero_run_start_ts = 0, 0.0, 0
    else:
        if state.zero_revenue_streak == 0:
            state.zero_run_start_fee, state.zero_run_start_ts = fee, now
        state.zero_revenue_streak += 1
    flag = FLAG_CONGESTION if congested else FLAG_NONE
    state.observations.append(Observation(fee, revenue_rate, weight, now, bucket, flag))
    if not meaningful and state.zero_revenue_streak >= ZERO_STREAK_PROBE:
        earning = earning_region_fee(state, now)
        floor_ref = earning if earning else state.zero_run_start_fee
        probe_fee = max(1, math.floor(fee * ZERO_PROBE_STEP))
        if state.posterior_mean >= ZERO_PROBE_FLOOR_FRAC * floor_ref and probe_fee < fee:
            state.observations.append(
                Observation(float(probe_fee), 0.0, weight, now, bucket, FLAG_ZERO_PROBE)
            )
    del state.observations[:-MAX_OBSERVATIONS]
    recompute(state, now)
    if context is not None:
        update_context(state, context, fee, revenue_rate, bucket, now)
    return True


# --- recompute -----------------------------------------------------------------------------


def earning_region_fee(state: ThompsonState, now: int) -> float | None:
    """Revenue-mass-weighted mean fee of the earning windows, or None."""
    return fit.earning_region_fee(state.observations, now)


def recompute(state: ThompsonState, now: int) -> None:
    """Rebuild the posterior from the observations (anchor, Normal-Normal or quadratic), then
    re-apply the nudges."""
    _recompute_core(state, now)
    kept = []
    for n in state.nudges:
        decayed = n.weight * fit.decay(now - n.ts, NUDGE_HALF_LIFE_HOURS)
        if decayed >= NUDGE_MIN_WEIGHT:
            kept.append(n)
            _blend_mean(state, n.target, decayed)
    state.nudges = kept


def _recompute_core(state: ThompsonState, now: int) -> None:
    state.fee_min = state.fee_max = 0.0  # set again only by a quadratic fit
    if not state.observations:
        state.posterior_mean, state.posterior_std = state.prior_mean, state.prior_std
        state.charged_fee_mean = 0.0
        return
    points, pool = fit.weighted_points(state.observations, now)
    total_w = sum(w for _, _, w in points)
    if total_w > 0:
        state.charged_fee_mean = sum(f * w for f, _, w in points) / total_w
    zero_mass = sum(r * w for _, r, w in points) <= 1e-9
    override = state.zero_revenue_streak >= ZERO_STREAK_OVERRIDE and state.zero_run_start_ts > 0
    if pool and (zero_mass or override):
        run_start = state.zero_run_start_ts if override else None
        anchored = fit.anchor_posterior(state.observations, pool, run_start, now)
        if anchored is not None:
            state.posterior_mean, state.posterior_std = anchored
            return
    result = fit.quadratic_fit(points, state.noise_variance)
    if result is None:
        state.posterior_mean, state.posterior_std = fit.normal_normal(
            points, state.prior_mean, state.prior_std
        )
        return
    state.posterior_mean, state.posterior_std = result.mean, result.std
    state.coeffs, state.precision = result.coeffs, result.precision
    state.noise_variance = result.noise_variance
    state.fee_min, state.fee_max = result.fee_min, result.fee_max


def _blend_mean(state: ThompsonState, target: float, weight: float) -> None:
    if weight > 0:
        state.posterior_mean += (target - state.posterior_mean) * weight / (1.0 + weight)


# --- discount and sample -------------------------------------------------------------------


def discount(state: ThompsonState, gamma: float) -> None:
    """Forget: std /√gamma (precision floored at 2.5e-5, so std ≤ 200), polynomial precision xgamma,
    observation weights xgamma but not below 0.05 (a weight already below stays). Call after
    :func:`record` and before :func:`sample`; gamma outside (0, 1) is a no-op."""
    if not 0.0 < gamma < 1.0:
        return
    precision = max(fit.MIN_PRECISION, gamma / max(1.0, state.posterior_std**2))
    state.posterior_std = math.sqrt(1.0 / precision)
    state.precision = fit.mat_scale(state.precision, gamma)
    for o in state.observations:
        o.weight = max(min(o.weight, DISCOUNT_WEIGHT_FLOOR), o.weight * gamma)


def real_observation_count(state: ThompsonState) -> int:
    return sum(1 for o in state.observations if o.flag != FLAG_ZERO_PROBE)


def sample(
    state: ThompsonState,
    rng: random.Random,
    now: int,
    *,
    floor: int = 1,
    ceiling: int = 100_000,
    context: str | None = None,
) -> int:
    """One Thompson draw of the fee target, int ppm in [floor, ceiling]."""
    if real_observation_count(state) < MIN_REAL_OBSERVATIONS:
        drawn = rng.gauss(state.prior_mean, max(MIN_STD, 1.1 * state.prior_std))
        drawn += _nudge_shift(state, drawn, now)
    else:
        vertex = _sample_vertex(state, rng)
        if vertex is not None:
            drawn = vertex + _nudge_shift(state, vertex, now)
        else:  # posterior_mean already carries the nudges
            drawn = rng.gauss(state.posterior_mean, max(MIN_STD, state.posterior_std))
    base = min(float(ceiling), max(float(floor), drawn))
    ctx = state.contexts.get(context) if context is not None else None
    if ctx is not None and ctx.count >= MIN_REAL_OBSERVATIONS and math.isfinite(ctx.mean):
        ref = state.charged_fee_mean if state.charged_fee_mean > 0 else state.posterior_mean
        cap = CTX_SHIFT_CAP * abs(base)
        base += min(cap, max(-cap, ctx.mean - ref)) * ctx.count / (ctx.count + CTX_CONFIDENCE_COUNT)
    return math.floor(min(float(ceiling), max(float(floor), base)))


def _sample_vertex(state: ThompsonState, rng: random.Random) -> float | None:
    span = state.fee_max - state.fee_min
    if span < fit.MIN_FIT_RANGE:
        return None
    z = (rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0))
    beta = fit.sample_coefficients(state.coeffs, state.precision, z)
    if beta is None or not beta[0] < fit.CONCAVE_EPS:
        return None
    x_star = min(1.2, max(-0.2, -beta[1] / (2.0 * beta[0])))
    return state.fee_min + x_star * span


def _nudge_shift(state: ThompsonState, base: float, now: int) -> float:
    shifted = base
    for n in state.nudges:
        decayed = n.weight * fit.decay(now - n.ts, NUDGE_HALF_LIFE_HOURS)
        if decayed >= NUDGE_MIN_WEIGHT:
            shifted += (n.target - shifted) * decayed / (1.0 + decayed)
    return shifted - base


# --- contexts -----------------------------------------------------------------------------


def _time_similarity(observed: str, ctx_time: str) -> float:
    if observed == ctx_time:
        return 1.0
    return 0.5 if "normal" in (observed, ctx_time) else 0.2


def update_context(
    state: ThompsonState, key: str, fee: float, revenue_rate: float, bucket: str, now: int
) -> None:
    """Precision-weighted online mean of the fees charged in one context (``balance:time:role``)."""
    parts = key.split(":")
    ctx_time = parts[1] if len(parts) >= 2 else "normal"
    role_s = len(parts) >= 3 and parts[2] == "S"
    ctx = state.contexts.get(key)
    if ctx is None:
        init_std = state.posterior_std * (CTX_SECONDARY_BOOST if role_s else 1.0)
        ctx = ContextPosterior(state.posterior_mean, 1.0 / max(init_std**2, MIN_STD**2), 0, now)
    prec = ctx.precision * fit.decay(now - ctx.ts, DECAY_HOURS) * CTX_DECAY
    prec = max(prec, fit.MIN_PRECISION)
    weight = min(1.0, (revenue_rate + 1.0) / 100.0) * _time_similarity(bucket, ctx_time)
    obs_prec = weight * (1.3 if role_s else 1.0) / max(MIN_STD**2, state.posterior_std**2)
    new_prec = prec + obs_prec
    mean = (prec * ctx.mean + obs_prec * fee) / new_prec
    state.contexts[key] = ContextPosterior(mean, new_prec, ctx.count + 1, now)
    if len(state.contexts) > MAX_CONTEXTS:
        ranked = sorted(state.contexts.items(), key=lambda kv: -kv[1].count)  # stable on ties
        state.contexts = dict(ranked[:PRUNED_CONTEXTS])


# --- supported ceiling ----------------------------------------------------------------------


def supported_ceiling(state: ThompsonState, now: int, floor: float | None = None) -> float | None:
    """1.25 x the fee at the 90 % revenue-mass quantile (at least 2·floor when that fee is at or
    below the floor); None without revenue history."""
    quantile_fee = fit.mass_quantile_fee(state.observations, now, CEILING_QUANTILE)
    if quantile_fee is None:
        return None
    ceiling = CEILING_HEADROOM * quantile_fee
    if floor is not None and floor > 0 and quantile_fee <= floor:
        ceiling = max(ceiling, 2.0 * floor)
    return ceiling


def cap_target(
    state: ThompsonState,
    target: int,
    now: int,
    floor: float | None = None,
    *,
    consume_probe: bool = True,
) -> int:
    """Cap a target at the supported ceiling, except one upward probe to 1.25x the ceiling per
    24 h while the channel earns (streak 0), the posterior mean is above the cap and std ≥ 60.

    With ``consume_probe`` (the default) taking the probe stamps ``last_upward_probe_ts`` at
    once. The controller passes False and calls :func:`consume_upward_probe` only when the fee it
    applies actually crosses the pre-stretch cap: §2.4 allows "one upward probe to 1.25x per
    24 h", and a probe target that the blend and deadband never let past the cap probed nothing
    (the reference port's golden cycle traces consume the budget the same way)."""
    cap = supported_ceiling(state, now, floor)
    if cap is None or target <= cap:
        return target
    if upward_probe_open(state, now, cap):
        if consume_probe:
            consume_upward_probe(state, now)
        return min(target, math.floor(CEILING_HEADROOM * cap))
    return math.floor(cap)


def upward_probe_open(state: ThompsonState, now: int, cap: float) -> bool:
    """§2.4: the upward probe is allowed when streak = 0, mean > cap, std ≥ 60 and no probe
    was taken in the last 24 h."""
    last = state.last_upward_probe_ts
    return (
        state.zero_revenue_streak == 0
        and state.posterior_mean > cap
        and state.posterior_std >= UPWARD_PROBE_MIN_STD
        and (last <= 0 or now - last >= UPWARD_PROBE_HOURS * 3600)
    )


def consume_upward_probe(state: ThompsonState, now: int) -> None:
    """Stamp the 24 h upward-probe budget (the fee did go above the supported ceiling)."""
    state.last_upward_probe_ts = now


# --- nudges -------------------------------------------------------------------------------


def record_nudge(state: ThompsonState, target: float, weight: float, now: int) -> None:
    """Remember an out-of-band hint (kept ≤ 50, 24 h half-life, re-applied after each
    recompute) and move the mean w/(1+w) toward it; a target within 5 % of one held refreshes it."""
    if not (math.isfinite(target) and math.isfinite(weight)) or weight <= 0 or target < 0:
        return
    for i, n in enumerate(state.nudges):
        if abs(n.target - target) <= NUDGE_DEDUP_TOLERANCE * max(n.target, target, 1.0):
            state.nudges[i] = Nudge(target, max(n.weight, weight), now)
            return
    state.nudges.append(Nudge(target, weight, now))
    del state.nudges[:-MAX_NUDGES]
    _blend_mean(state, target, weight)


def nudge_fee_insufficient(
    state: ThompsonState, current_fee_ppm: int, amount_sat: int, now: int
) -> None:
    """A WIRE_FEE_INSUFFICIENT (0x100C) forward failure: nudge toward 0.8·current."""
    weight = 0.1 * (min(3.0, 1.0 + math.log10(max(1, amount_sat)) / 3.0) if amount_sat > 0 else 1.0)
    record_nudge(state, float(math.floor(0.8 * current_fee_ppm)), weight, now)


def vegas_adjust(state: ThompsonState, multiplier: float, new_floor: float, now: int) -> None:
    """Mempool spike (Vegas multiplier > 1.2): widen std xmin(mult, 2), nudge toward the new floor."""
    if multiplier <= 1.2:
        return
    state.posterior_std = max(MIN_STD, state.posterior_std * min(multiplier, 2.0))
    if new_floor > state.posterior_mean:
        record_nudge(state, new_floor, VEGAS_NUDGE_WEIGHT, now)


# --- persistence ----------------------------------------------------------------------------

_SCALARS = (
    "prior_mean", "prior_std", "posterior_mean", "posterior_std", "noise_variance", "fee_min",
    "fee_max", "charged_fee_mean", "zero_run_start_fee", "positive_rate_ref",
    "meaningful_gap_ema_hours",
)  # fmt: skip
_INTS = (
    "zero_revenue_streak", "zero_run_start_ts", "positive_rate_ref_ts", "last_meaningful_ts",
    "last_upward_probe_ts",
)  # fmt: skip
_LISTS = ("observations", "coeffs", "precision", "contexts", "nudges")


def to_json(state: ThompsonState) -> str:
    """The versioned blob for ``fee_strategy_state.v2_state_json`` (unknown keys kept)."""
    doc: dict[str, Any] = dict(state.extra)
    doc["version"] = STATE_VERSION
    doc.update({k: getattr(state, k) for k in _SCALARS + _INTS})
    doc["observations"] = [
        [o.fee, o.revenue_rate, o.weight, o.ts, o.time_bucket, o.flag] for o in state.observations
    ]
    doc["coeffs"] = list(state.coeffs)
    doc["precision"] = [list(r) for r in state.precision]
    doc["contexts"] = {k: [c.mean, c.precision, c.count, c.ts] for k, c in state.contexts.items()}
    doc["nudges"] = [[n.target, n.weight, n.ts] for n in state.nudges]
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)


def from_json(blob: str | bytes | None) -> tuple[ThompsonState, str | None]:
    """(state, warning): a missing blob gives a fresh state and no warning; a corrupt one a fresh
    state and a warning naming what was wrong."""
    if blob is None or blob in ("", b""):
        return ThompsonState(), None
    try:
        return _parse(json.loads(blob)), None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return ThompsonState(), f"corrupt thompson state, reset: {type(exc).__name__}: {exc}"


def _num(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise ValueError(f"not a finite number: {x!r}")
    return float(x)


def _int(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise ValueError(f"not an integer: {x!r}")
    return x


def _vec(x: Any) -> Vec3:
    if len(x) != 3:
        raise ValueError("expected 3 numbers")
    return (_num(x[0]), _num(x[1]), _num(x[2]))


def _parse(doc: Any) -> ThompsonState:
    if not isinstance(doc, dict):
        raise ValueError("state is not an object")
    if doc.get("version") != STATE_VERSION:
        raise ValueError(f"unknown state version {doc.get('version')!r}")
    s = ThompsonState()
    for k in _SCALARS:
        setattr(s, k, _num(doc[k]))
    for k in _INTS:
        setattr(s, k, _int(doc[k]))
    for fee, rate, w, ts, bucket, flag in doc["observations"][-MAX_OBSERVATIONS:]:
        if not isinstance(bucket, str) or flag not in FLAGS:
            raise ValueError(f"bad observation bucket/flag {bucket!r}/{flag!r}")
        s.observations.append(Observation(_num(fee), _num(rate), _num(w), _int(ts), bucket, flag))
    s.coeffs = _vec(doc["coeffs"])
    m = doc["precision"]
    if len(m) != 3:
        raise ValueError("precision is not 3x3")
    s.precision = (_vec(m[0]), _vec(m[1]), _vec(m[2]))
    for key, (mean, prec, count, ts) in doc["contexts"].items():
        s.contexts[str(key)] = ContextPosterior(_num(mean), _num(prec), _int(count), _int(ts))
    s.nudges = [Nudge(_num(t), _num(w), _int(ts)) for t, w, ts in doc["nudges"]][-MAX_NUDGES:]
    known = {"version", *_SCALARS, *_INTS, *_LISTS}
    s.extra = {k: v for k, v in doc.items() if k not in known}
    return s
