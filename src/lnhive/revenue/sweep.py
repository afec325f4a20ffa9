"""[ours] The bracketing sweep: a fresh channel's first look at its fee→revenue curve.

Thompson sampling learns the revenue curve from the fees the channel has charged. A channel
that starts far from its optimum (a fresh channel at CLN's 10 ppm, a 200 ppm prior) only
sees windows near where it is, and with the §2.3 blend (0.20 of the way while the posterior
is wide), the step cap and the 4 h dwell it climbs for days; and while the fit cannot see a
maximum (revenue still rising at the top of the observed range, a non-concave fit) its
best-lower-bound bucket is the highest fee charged so far, so a PI multiplier below 1 (a
full channel) pulls the learnt fee down with it, window after window.

So before Thompson sampling takes over, a fresh channel sweeps: its base fee (before the PI
multiplier) climbs a geometric ladder from the prior mean (§2.1's 200 ppm, kept inside the
rails), x1.5 per level, each level held for 2 h (4 windows), until the evidence brackets the
optimum - the quadratic fit over the swept windows is concave with its vertex inside (or
below) the swept range, or falls from the bottom of the range to its top - or the ladder
reaches the ceiling. The sweep then hands over with one move to the fit's best fee (x PI).
The ladder is the classic bracketing step of a line search over a unimodal curve (revenue
f x demand(f)), started at the initial guess: it climbs a factor of 1.5 every 2 h whatever
the fee scale, so 200 ppm to 2000 ppm takes at most 6 levels (12 h); an optimum below the
prior shows as revenue falling across the first levels, and the fit's vertex (clamped to
half the swept range below it) and Thompson sampling take the fee down from there.

A channel that already has Thompson history (five or more real windows) never sweeps. The
sweep is paused by congestion and low-fee exploration, and its moves still pass the rails,
the zero-flow guard, the step cap and the deadband; only the blend (which would take 20 % of
each step) is skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lnhive.revenue.thompson import MIN_REAL_OBSERVATIONS, ThompsonState, real_observation_count
from lnhive.revenue.thompson_fit import CONCAVE_EPS, MIN_FIT_RANGE

SWEEP_FACTOR = 1.5
SWEEP_LEVEL_HOURS = 2.0
SWEEP_MIN_LEVELS = 3
"""Levels swept before a bracket may end the sweep (a fit over fewer is mostly noise)."""
SWEEP_MAX_LEVELS = 16
SWEEP_BRACKET_X = 0.85
"""The vertex must lie below 85 % of the swept range (normalised fee) to count as bracketed."""

IDLE = "idle"
RUNNING = "running"
DONE = "done"


@dataclass(frozen=True)
class SweepState:
    status: str = IDLE
    level: int = 0
    start_ppm: int = 0
    level_since: float = 0.0


@dataclass(frozen=True)
class SweepStep:
    state: SweepState
    base_ppm: float | None
    """The base fee (before PI) this cycle, or None when the sweep does not act."""
    handover: bool = False
    """This cycle ends the sweep with a move to the fit's vertex."""


def level_fee(start_ppm: int, level: int) -> int:
    return math.ceil(start_ppm * SWEEP_FACTOR**level - 1e-9)


def vertex_x(th: ThompsonState) -> float | None:
    """The normalised fee of the last quadratic fit's vertex, or None unless it is concave."""
    a, b, _ = th.coeffs
    if th.fee_max - th.fee_min < MIN_FIT_RANGE or not a < CONCAVE_EPS:
        return None
    return -b / (2.0 * a)


def bracketed(th: ThompsonState) -> bool:
    """The swept windows show a maximum below the top of the ladder: a concave fit with its
    vertex well inside (or below) the range, or a fit that is not concave but falls from the
    bottom of the range to its top (its maximum over the range is at the bottom)."""
    x = vertex_x(th)
    if x is not None:
        return x <= SWEEP_BRACKET_X
    a, b, _ = th.coeffs
    return th.fee_max - th.fee_min >= MIN_FIT_RANGE and a + b < 0.0


def step(
    state: SweepState,
    th: ThompsonState,
    *,
    now: float,
    floor_ppm: int,
    ceiling_ppm: int,
    multiplier: float = 1.0,
) -> SweepStep:
    """One cycle of the sweep (call after the window is recorded). ``multiplier`` is this
    cycle's PI multiplier: the ladder ends once its next level would be charged above the
    ceiling."""
    if state.status == DONE:
        return SweepStep(state, None)
    if state.status == IDLE:
        if real_observation_count(th) >= MIN_REAL_OBSERVATIONS:
            return SweepStep(SweepState(status=DONE), None)
        # the ladder starts at the prior's belief (§2.1: 200 ppm) kept inside the rails
        start = max(1, floor_ppm, min(ceiling_ppm, math.ceil(th.prior_mean)))
        new = SweepState(status=RUNNING, level=0, start_ppm=start, level_since=now)
        return SweepStep(new, float(start))
    level = state.level
    if now - state.level_since >= SWEEP_LEVEL_HOURS * 3600.0:
        done_levels = level + 1
        top = level_fee(state.start_ppm, level + 1) * max(1.0, multiplier)
        if (done_levels >= SWEEP_MIN_LEVELS and bracketed(th)) or (
            top > ceiling_ppm or done_levels >= SWEEP_MAX_LEVELS
        ):
            return SweepStep(SweepState(status=DONE), th.posterior_mean, handover=True)
        state = SweepState(RUNNING, level + 1, state.start_ppm, now)
    return SweepStep(state, float(level_fee(state.start_ppm, state.level)))
