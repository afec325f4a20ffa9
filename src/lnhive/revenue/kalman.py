"""The Kalman view of a channel's flow (spec revenue-ops §1, "Kalman view"): the primary flow signal.

State ``x = [ratio, velocity]``: ``ratio`` is the net outbound flow of the last day as a
fraction of capacity (positive = draining our outbound liquidity), ``velocity`` its change
per hour. The observation ``z`` is the clamped net of the raw forwards of the last 24 h over
capacity (see :func:`lnhive.revenue.flow.observe_last_24h`); ``H = [1, 0]``.

One flow cycle is :func:`kalman_step`: a pure function from the stored state, the clock
reading and the evidence to the next state. Time is float UNIX seconds passed in.

Reading of the spec where it is terse (each choice is tested):

- the positive-definiteness guard (diagonal >= 1e-4, ``|P01| <= 0.9 sqrt(P00 P11)``) runs
  after every update, as the spec lists it there; after a predict, ``F P F' + Q`` is positive
  definite by construction, so only a numerical fallback runs (the same guard, applied only if
  the determinant is not positive) — the hand-computed predict vector keeps its exact values;
- the ratio and velocity clamps also apply after an update (the update is a convex
  combination for the ratio, so only the velocity can leave its range there);
- "regime change: |last innovation| > 2.5 sqrt(iv)" compares with ``iv`` after it has taken
  in that innovation (the stored state is read once the update is done);
- a predict-only cycle (no forwards in 24 h) moves ``last_update`` to ``now`` (so time is
  never propagated twice) and clears the regime-change flag (there is no new innovation);
- the 300 s no-op window counts from ``last_update`` (predict-only cycles included), and a
  clock reading before ``last_update`` is also a no-op;
- a non-finite state or input (NaN, inf) resets the filter to a fresh state and counts the
  reset in ``resets`` (spec test 30); the step then runs on the fresh state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

# --- initial state -------------------------------------------------------------------------
INITIAL_VARIANCE = 0.1
"""Init ``P = 0.1 I``."""
INITIAL_INNOVATION_VARIANCE = 0.01
"""Init ``iv = 0.01``."""

# --- predict ---------------------------------------------------------------------------------
FIRST_DT_HOURS = 24.0
"""dt of the very first predict (no previous update)."""
MAX_DT_HOURS = 168.0
"""dt is capped at 168 h (7 days)."""
RATIO_LIMIT = 1.0
"""ratio is clamped to [-1, 1]."""
VELOCITY_LIMIT = 0.5 / 24.0
"""velocity (ratio per hour) is clamped to +-0.5/24."""

# --- volatility V and process noise ------------------------------------------------------------
VOLATILITY_BASE = 0.5
"""V = 0.5 + min(1.5, 3 * mean|d daily net| / mean|daily net|)."""
VOLATILITY_SPAN = 1.5
VOLATILITY_GAIN = 3.0
VOLATILITY_QUIET = 0.5
"""V when mean |daily net| < 1000 sat."""
VOLATILITY_QUIET_NET_SATS = 1000
VOLATILITY_FEW_BUCKETS = 1.0
"""V with fewer than 3 daily buckets."""
VOLATILITY_MIN_BUCKETS = 3

Q_RATIO_BASE = 0.01 / 24.0
"""q_r = clamp(0.01/24 * 2V, 0.001/24, 0.1/24)."""
Q_RATIO_VOLATILITY_SCALE = 2.0
Q_RATIO_MIN = 0.001 / 24.0
Q_RATIO_MAX = 0.1 / 24.0
Q_VELOCITY_BASE = 0.005 / 24.0
"""q_v = clamp(0.005/24 * V, 0.0001/24, 0.01/24)."""
Q_VELOCITY_MIN = 0.0001 / 24.0
Q_VELOCITY_MAX = 0.01 / 24.0

# --- update ----------------------------------------------------------------------------------------
R_BASE = 0.05
"""R = clamp(0.05 / max(0.1, 0.8 conf), 0.01, 0.5)."""
R_CONFIDENCE_SCALE = 0.8
R_CONFIDENCE_FLOOR = 0.1
R_MIN = 0.01
R_MAX = 0.5
DIAGONAL_FLOOR = 1e-4
"""P00 and P11 are kept >= 1e-4."""
CORRELATION_CAP = 0.9
"""|P01| <= 0.9 sqrt(P00 P11)."""
INNOVATION_DECAY = 0.9
"""iv <- max(0.001, 0.9 iv + 0.1 y^2)."""
INNOVATION_VARIANCE_FLOOR = 0.001
REGIME_CHANGE_SIGMAS = 2.5
"""Regime change: |last innovation| > 2.5 sqrt(iv)."""

# --- cadence and convergence ------------------------------------------------------------------
NOOP_WINDOW_SECONDS = 300.0
"""Calls within 300 s of the last update are no-ops."""
OBSERVATION_WINDOW_SECONDS = 24 * 3600.0
"""z is taken from the raw forwards of the last 24 h; none -> predict only."""
CONVERGED_MAX_STD = 0.25
"""Converged <=> sqrt(P00) < 0.25 and >= 5 updates."""
CONVERGED_MIN_UPDATES = 5

STATE_VERSION = 1


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


@dataclass(frozen=True)
class Observation:
    """One Kalman observation: ``z`` in [-1, 1] and its confidence in [0.1, 1]."""

    z: float
    confidence: float
    count: int = 0
    """How many forwards it was taken from (diagnostics only)."""


@dataclass(frozen=True)
class KalmanState:
    """The persisted Kalman view of one channel. Immutable: steps return a new state."""

    ratio: float = 0.0
    velocity: float = 0.0
    p00: float = INITIAL_VARIANCE
    p01: float = 0.0
    p11: float = INITIAL_VARIANCE
    innovation_variance: float = INITIAL_INNOVATION_VARIANCE
    last_innovation: float = 0.0
    updates: int = 0
    """Measurement updates so far (predict-only cycles do not count)."""
    last_update: float | None = None
    """UNIX seconds of the last predict or update; None before the first cycle."""
    regime_change: bool = False
    resets: int = 0
    """How many times this filter was reset for non-finite state or input (spec test 30)."""
    was_reset: bool = field(default=False, compare=False)
    """True on the state returned by the call that reset it (not persisted)."""

    @property
    def uncertainty(self) -> float:
        """sqrt(P00), the standard deviation of the ratio estimate."""
        return math.sqrt(max(0.0, self.p00))

    @property
    def converged(self) -> bool:
        return self.uncertainty < CONVERGED_MAX_STD and self.updates >= CONVERGED_MIN_UPDATES

    def is_finite(self) -> bool:
        return all(
            math.isfinite(v)
            for v in (
                self.ratio,
                self.velocity,
                self.p00,
                self.p01,
                self.p11,
                self.innovation_variance,
                self.last_innovation,
            )
        ) and (self.last_update is None or math.isfinite(self.last_update))

    def is_positive_definite(self) -> bool:
        return self.p00 > 0 and self.p11 > 0 and self.p00 * self.p11 - self.p01 * self.p01 > 0

    def to_json(self) -> dict[str, object]:
        return {
            "version": STATE_VERSION,
            "ratio": self.ratio,
            "velocity": self.velocity,
            "p00": self.p00,
            "p01": self.p01,
            "p11": self.p11,
            "innovation_variance": self.innovation_variance,
            "last_innovation": self.last_innovation,
            "updates": self.updates,
            "last_update": self.last_update,
            "regime_change": self.regime_change,
            "resets": self.resets,
        }

    @classmethod
    def from_json(cls, data: object) -> KalmanState:
        """Read a stored state. Corrupt, out-of-range or non-finite input gives a fresh
        state with ``was_reset`` set and ``resets`` counted (kept from the input if it is
        readable)."""
        if not isinstance(data, Mapping):
            return fresh_state(resets=1)
        resets = data.get("resets", 0)
        salvaged: int = 0
        if isinstance(resets, int) and not isinstance(resets, bool) and resets >= 0:
            salvaged = resets
        try:
            if data.get("version") != STATE_VERSION:
                raise ValueError("version")
            last = data.get("last_update")
            regime = data.get("regime_change")
            if not isinstance(regime, bool):
                raise ValueError("regime_change")
            updates = data.get("updates")
            if not isinstance(updates, int) or isinstance(updates, bool) or updates < 0:
                raise ValueError("updates")
            state = cls(
                ratio=finite_float(data.get("ratio")),
                velocity=finite_float(data.get("velocity")),
                p00=finite_float(data.get("p00")),
                p01=finite_float(data.get("p01")),
                p11=finite_float(data.get("p11")),
                innovation_variance=finite_float(data.get("innovation_variance")),
                last_innovation=finite_float(data.get("last_innovation")),
                updates=updates,
                last_update=None if last is None else finite_float(last),
                regime_change=regime,
                resets=salvaged,
            )
        except ValueError:
            return fresh_state(resets=salvaged + 1)
        if (
            abs(state.ratio) > RATIO_LIMIT
            or abs(state.velocity) > VELOCITY_LIMIT
            or not state.is_positive_definite()
            or state.innovation_variance <= 0
        ):
            return fresh_state(resets=salvaged + 1)
        return state


def finite_float(v: object) -> float:
    """A real, finite JSON number (not a bool); ValueError otherwise. Reads persisted
    states, where anything else means the blob is corrupt."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("not a number")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError("not finite")
    return f


def fresh_state(*, resets: int = 0) -> KalmanState:
    """A new filter; ``resets > 0`` marks it as the product of a reset."""
    return KalmanState(resets=resets, was_reset=resets > 0)


def _reset(state: KalmanState) -> KalmanState:
    return fresh_state(resets=state.resets + 1)


def volatility(daily_net_sats: Sequence[int]) -> float:
    """V from the daily net flows (out - in, sat) of the window, oldest first.

    V = 0.5 + min(1.5, 3 * mean|day-to-day change| / mean|net|); mean |net| < 1000 sat -> 0.5;
    fewer than 3 buckets -> 1.
    """
    if len(daily_net_sats) < VOLATILITY_MIN_BUCKETS:
        return VOLATILITY_FEW_BUCKETS
    mean_abs_net = sum(abs(n) for n in daily_net_sats) / len(daily_net_sats)
    if mean_abs_net < VOLATILITY_QUIET_NET_SATS:
        return VOLATILITY_QUIET
    changes = [abs(b - a) for a, b in itertools.pairwise(daily_net_sats)]
    mean_change = sum(changes) / len(changes)
    return VOLATILITY_BASE + min(VOLATILITY_SPAN, VOLATILITY_GAIN * mean_change / mean_abs_net)


def process_noise(v: float) -> tuple[float, float]:
    """(q_r, q_v) for volatility V."""
    q_r = _clamp(Q_RATIO_BASE * Q_RATIO_VOLATILITY_SCALE * v, Q_RATIO_MIN, Q_RATIO_MAX)
    q_v = _clamp(Q_VELOCITY_BASE * v, Q_VELOCITY_MIN, Q_VELOCITY_MAX)
    return q_r, q_v


def measurement_noise(confidence: float) -> float:
    """R = clamp(0.05 / max(0.1, 0.8 conf), 0.01, 0.5)."""
    return _clamp(R_BASE / max(R_CONFIDENCE_FLOOR, R_CONFIDENCE_SCALE * confidence), R_MIN, R_MAX)


def _guard(p00: float, p01: float, p11: float) -> tuple[float, float, float]:
    p00 = max(DIAGONAL_FLOOR, p00)
    p11 = max(DIAGONAL_FLOOR, p11)
    cap = CORRELATION_CAP * math.sqrt(p00 * p11)
    return p00, _clamp(p01, -cap, cap), p11


def predict(state: KalmanState, dt_hours: float, v: float) -> KalmanState:
    """Propagate the state by ``dt_hours`` with volatility ``v`` (no time bookkeeping)."""
    dt = dt_hours
    velocity = _clamp(state.velocity, -VELOCITY_LIMIT, VELOCITY_LIMIT)
    ratio = _clamp(state.ratio + state.velocity * dt, -RATIO_LIMIT, RATIO_LIMIT)
    q_r, q_v = process_noise(v)
    p00, p01, p11 = state.p00, state.p01, state.p11
    n00 = p00 + 2 * dt * p01 + dt * dt * p11 + q_r * dt + q_v * dt**3 / 3
    n01 = p01 + dt * p11 + q_v * dt * dt / 2
    n11 = p11 + q_v * dt
    if not (n00 > 0 and n11 > 0 and n00 * n11 - n01 * n01 > 0):
        n00, n01, n11 = _guard(n00, n01, n11)
    return replace(state, ratio=ratio, velocity=velocity, p00=n00, p01=n01, p11=n11)


def update(state: KalmanState, z: float, confidence: float) -> KalmanState:
    """Fold in one observation: gain, Joseph-form covariance, guards, innovation tracking."""
    r = measurement_noise(confidence)
    p00, p01, p11 = state.p00, state.p01, state.p11
    y = z - state.ratio
    s = p00 + r
    k0, k1 = p00 / s, p01 / s
    ratio = _clamp(state.ratio + k0 * y, -RATIO_LIMIT, RATIO_LIMIT)
    velocity = _clamp(state.velocity + k1 * y, -VELOCITY_LIMIT, VELOCITY_LIMIT)
    # Joseph form: P' = (I - K H) P (I - K H)' + K R K', H = [1, 0].
    a = 1 - k0
    n00 = a * a * p00 + k0 * k0 * r
    n01 = a * (p01 - k1 * p00) + k0 * k1 * r
    n11 = k1 * k1 * p00 - 2 * k1 * p01 + p11 + k1 * k1 * r
    n00, n01, n11 = _guard(n00, n01, n11)
    iv = max(INNOVATION_VARIANCE_FLOOR, INNOVATION_DECAY * state.innovation_variance + 0.1 * y * y)
    return replace(
        state,
        ratio=ratio,
        velocity=velocity,
        p00=n00,
        p01=n01,
        p11=n11,
        innovation_variance=iv,
        last_innovation=y,
        updates=state.updates + 1,
        regime_change=abs(y) > REGIME_CHANGE_SIGMAS * math.sqrt(iv),
    )


def kalman_step(
    state: KalmanState,
    *,
    now: float,
    observation: Observation | None,
    daily_net_sats: Sequence[int],
) -> KalmanState:
    """One flow cycle: no-op within 300 s of ``last_update``; otherwise predict over the
    hours since then (24 on the first cycle, at most 168) and, when there is an observation
    (forwards in the last 24 h), update. Non-finite state or input resets the filter."""
    reset = False
    if not state.is_finite():
        state, reset = _reset(state), True
    if observation is not None and not (
        math.isfinite(observation.z) and math.isfinite(observation.confidence)
    ):
        state, reset = _reset(state), True
        observation = None
    if not math.isfinite(now):
        return _reset(state) if not reset else state
    if (
        not reset
        and state.last_update is not None
        and now - state.last_update < NOOP_WINDOW_SECONDS
    ):
        return replace(state, was_reset=False)
    if state.last_update is None:
        dt = FIRST_DT_HOURS
    else:
        dt = min(MAX_DT_HOURS, max(0.0, (now - state.last_update) / 3600.0))
    nxt = predict(state, dt, volatility(daily_net_sats))
    if observation is not None:
        z = _clamp(observation.z, -RATIO_LIMIT, RATIO_LIMIT)
        nxt = update(nxt, z, _clamp(observation.confidence, 0.0, 1.0))
    else:
        nxt = replace(nxt, regime_change=False)
    nxt = replace(nxt, last_update=now, was_reset=reset)
    if not nxt.is_finite():
        return _reset(state)
    return nxt
