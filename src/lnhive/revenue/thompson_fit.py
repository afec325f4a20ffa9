"""The posterior fits behind the fee controller's Thompson sampler (spec revenue-ops §2.4, "Recompute").

Pure numeric functions over weighted points ``(fee_ppm, revenue_rate, weight)``:

- :func:`normal_normal` — the Normal-Normal fallback (fewer than 3 points or a fee range under 5 ppm);
- :func:`anchor` — the zero-revenue anchor (recency-weighted fee, spread-based std);
- :func:`quadratic_fit` — Bayesian regression R(f) = a·f² + b·f + c on fees normalised to [0, 1], from a
  fixed prior, with the noise-variance update, the concave vertex and its delta-method std, and the
  best-lower-bound log-fee bucket when the fit is not concave;
- the 3x3 linear algebra they need (Cholesky, solve, inverse), in plain Python.

The state that feeds them lives in :mod:`lnhive.revenue.thompson`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Vec3 = tuple[float, float, float]
Mat3 = tuple[Vec3, Vec3, Vec3]
Point = tuple[float, float, float]
"""A weighted observation: (fee ppm, revenue rate sat/h, weight)."""

MIN_STD = 10.0
MIN_PRECISION = 2.5e-5  # the discount's precision floor: std never above 200
MAX_STD = 1.0 / math.sqrt(MIN_PRECISION)
REL_MIN_STD = 0.04  # Normal-Normal std floor, relative to the mean
MIN_VARIANCE = 100.0  # Normal-Normal data variance floor (spec Clarifications)
ZERO_REGIME_REL_STD = 0.15
MIN_FIT_RANGE = 5.0  # ppm: below it the quadratic is not fitted
CONCAVE_EPS = -1e-8
VERTEX_CLAMP = (-0.5, 1.5)  # of the fee range, for the posterior mean
MIN_NOISE_VARIANCE = 10.0
LOG_BUCKET_BASE = 1.1  # ~10 % wide log-fee buckets

DECAY_HOURS = 168.0  # observation half-life
MIN_WEIGHT = 1e-6  # decayed observations below it are dropped
ANCHOR_HALF_LIFE_HOURS = 24.0
MIN_MASS = 1e-3  # revenue mass below it does not count as earning

FLAG_NONE = "none"
FLAG_CONGESTION = "congestion"
FLAG_ZERO_PROBE = "zero_probe"  # a pseudo-observation: anchors only, never fitted
FLAGS = (FLAG_NONE, FLAG_CONGESTION, FLAG_ZERO_PROBE)

PRIOR_COEFFS: Vec3 = (0.0, 1.0, 0.0)
PRIOR_PRECISION: Mat3 = ((0.01, 0.0, 0.0), (0.0, 0.01, 0.0), (0.0, 0.0, 0.01))


@dataclass(slots=True)
class Observation:
    """One closed fee window: fee ppm, revenue rate sat/h, weight, unix ts, time bucket, flag."""

    fee: float
    revenue_rate: float
    weight: float
    ts: int
    time_bucket: str = "normal"
    flag: str = FLAG_NONE


def decay(age_s: float, half_life_h: float) -> float:
    """0.5^(age/half-life), age in seconds (negative ages count as 0)."""
    return float(0.5 ** (max(0.0, age_s) / 3600.0 / half_life_h))


# --- 3x3 linear algebra ---------------------------------------------------------------------


def mat_vec(m: Mat3, v: Vec3) -> Vec3:
    return (
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    )


def mat_scale(m: Mat3, k: float) -> Mat3:
    return (
        (m[0][0] * k, m[0][1] * k, m[0][2] * k),
        (m[1][0] * k, m[1][1] * k, m[1][2] * k),
        (m[2][0] * k, m[2][1] * k, m[2][2] * k),
    )


def cholesky(m: Mat3) -> Mat3 | None:
    """Lower-triangular L with L·Lᵀ = m, or None unless m is symmetric positive definite."""
    l00 = m[0][0]
    if not l00 > 0.0:
        return None
    l00 = math.sqrt(l00)
    l10 = m[1][0] / l00
    l20 = m[2][0] / l00
    d1 = m[1][1] - l10 * l10
    if not d1 > 0.0:
        return None
    l11 = math.sqrt(d1)
    l21 = (m[2][1] - l20 * l10) / l11
    d2 = m[2][2] - l20 * l20 - l21 * l21
    if not d2 > 0.0:
        return None
    l22 = math.sqrt(d2)
    return ((l00, 0.0, 0.0), (l10, l11, 0.0), (l20, l21, l22))


def solve(m: Mat3, b: Vec3) -> Vec3 | None:
    """x with m·x = b by Gaussian elimination with partial pivoting; None if m is singular."""
    rows = [[m[i][0], m[i][1], m[i][2], b[i]] for i in range(3)]
    scale = max(abs(x) for r in rows for x in r[:3])
    if not scale > 0.0 or not math.isfinite(scale):
        return None
    for col in range(3):
        pivot = max(range(col, 3), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) <= 1e-14 * scale:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, 3):
            k = rows[r][col] / rows[col][col]
            for c in range(col, 4):
                rows[r][c] -= k * rows[col][c]
    x = [0.0, 0.0, 0.0]
    for r in (2, 1, 0):
        acc = rows[r][3] - sum(rows[r][c] * x[c] for c in range(r + 1, 3))
        x[r] = acc / rows[r][r]
    return (x[0], x[1], x[2])


def inverse(m: Mat3) -> Mat3 | None:
    """m⁻¹ column by column through :func:`solve`; None if m is singular."""
    cols = [solve(m, e) for e in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))]
    if any(c is None for c in cols):
        return None
    c0, c1, c2 = (c for c in cols if c is not None)
    return ((c0[0], c1[0], c2[0]), (c0[1], c1[1], c2[1]), (c0[2], c1[2], c2[2]))


# --- fits -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuadraticFit:
    mean: float
    std: float
    coeffs: Vec3
    precision: Mat3
    noise_variance: float
    fee_min: float
    fee_max: float
    concave: bool


def _weighted_mean(points: Sequence[Point]) -> tuple[float, float]:
    total = sum(w for _, _, w in points)
    return total, (sum(f * w for f, _, w in points) / total if total > 0 else 0.0)


def normal_normal(
    points: Sequence[Point], prior_mean: float, prior_std: float
) -> tuple[float, float]:
    """(mean, std) of the Normal-Normal posterior over the fee.

    x̄ and the variance are weighted by the points' weights (equal weights give the plain
    population variance of the Clarification), the variance is floored at 100 and the prior
    precision is tau0 = 1/max(100, sigma0^2); std = max(10, 0.04·mean, tau^-½).
    """
    total, x_bar = _weighted_mean(points)
    if total <= 0.0:
        return prior_mean, prior_std
    var = sum(w * (f - x_bar) ** 2 for f, _, w in points) / total
    var = max(MIN_VARIANCE, var)
    tau0 = 1.0 / max(MIN_VARIANCE, prior_std**2)
    tau_data = total / var
    tau = tau0 + tau_data
    mean = (tau0 * prior_mean + tau_data * x_bar) / tau
    std = max(MIN_STD, REL_MIN_STD * abs(mean), 1.0 / math.sqrt(tau))
    return mean, std


def spread_std(fees: Sequence[float], mean: float) -> float:
    """clamp(max(range/4, 0.15·mean), 10, 200) — the anchor's std."""
    spread = (max(fees) - min(fees)) / 4.0 if len(fees) > 1 else 0.0
    return max(MIN_STD, min(MAX_STD, max(spread, ZERO_REGIME_REL_STD * mean)))


def anchor(pairs: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """(mean, std) from (fee, weight) pairs, or None when they carry no weight."""
    total = sum(w for _, w in pairs)
    if total <= 0.0:
        return None
    mean = sum(f * w for f, w in pairs) / total
    return mean, spread_std([f for f, _ in pairs], mean)


def quadratic_fit(
    points: Sequence[Point],
    noise_variance: float,
    prior_coeffs: Vec3 = PRIOR_COEFFS,
    prior_precision: Mat3 = PRIOR_PRECISION,
) -> QuadraticFit | None:
    """Bayesian quadratic regression of revenue on normalised fee; None if it cannot be fitted
    (fewer than 3 points, a range under 5 ppm, a singular precision)."""
    if len(points) < 3:
        return None
    fee_min = min(f for f, _, _ in points)
    fee_max = max(f for f, _, _ in points)
    span = fee_max - fee_min
    if span < MIN_FIT_RANGE:
        return None
    inv_sigma2 = 1.0 / max(MIN_NOISE_VARIANCE, noise_variance)
    lam = [list(row) for row in prior_precision]
    rhs = list(mat_vec(prior_precision, prior_coeffs))
    for fee, rev, w in points:
        x = (fee - fee_min) / span
        phi = (x * x, x, 1.0)
        wi = w * inv_sigma2
        for i in range(3):
            rhs[i] += wi * phi[i] * rev
            for j in range(3):
                lam[i][j] += wi * phi[i] * phi[j]
    precision: Mat3 = (
        (lam[0][0], lam[0][1], lam[0][2]),
        (lam[1][0], lam[1][1], lam[1][2]),
        (lam[2][0], lam[2][1], lam[2][2]),
    )
    cov = inverse(precision)
    if cov is None:
        return None
    a, b, c = coeffs = mat_vec(cov, (rhs[0], rhs[1], rhs[2]))
    ss = sw = 0.0
    for fee, rev, w in points:
        x = (fee - fee_min) / span
        ss += w * (rev - (a * x * x + b * x + c)) ** 2
        sw += w
    dof = max(len(points) - 3.0, 1.0)  # [ours] per unit weight; the reference divides by sum(w) - 3
    new_noise = max(MIN_NOISE_VARIANCE, 0.7 * ss / dof + 0.3 * noise_variance)
    if a < CONCAVE_EPS:
        x_star = min(VERTEX_CLAMP[1], max(VERTEX_CLAMP[0], -b / (2.0 * a)))
        grad = (b / (2.0 * a * a), -1.0 / (2.0 * a), 0.0)
        var = sum(grad[i] * cov[i][j] * grad[j] for i in range(3) for j in range(3))
        mean = fee_min + x_star * span
        std = max(MIN_STD, math.sqrt(max(0.0, var)) * span)
        concave = True
    else:
        mean = best_bucket_fee(points)
        total = sum(w for _, _, w in points)
        inflation = math.sqrt(len(points) / max(total, 1e-6))
        std = max(MIN_STD, min(MAX_STD, span / 4.0 * inflation))
        concave = False
    return QuadraticFit(mean, std, coeffs, precision, new_noise, fee_min, fee_max, concave)


def best_bucket_fee(points: Sequence[Point]) -> float:
    """Weighted mean fee of the ~10 % log-fee bucket whose mean revenue has the best lower bound
    mean - sd/√n_eff (first bucket seen wins ties)."""
    buckets: dict[int, list[Point]] = {}
    for p in points:
        buckets.setdefault(int(math.log(max(1.0, p[0])) / math.log(LOG_BUCKET_BASE)), []).append(p)
    best_fee = min(f for f, _, _ in points)
    best_lcb = -math.inf
    for entries in buckets.values():
        bw = sum(w for _, _, w in entries)
        if bw <= 0.0:
            continue
        mean_rev = sum(r * w for _, r, w in entries) / bw
        var = sum(w * (r - mean_rev) ** 2 for _, r, w in entries) / bw
        sq = sum(w * w for _, _, w in entries)
        n_eff = bw * bw / sq if sq > 0 else 1.0
        lcb = mean_rev - math.sqrt(max(0.0, var)) / math.sqrt(max(1.0, n_eff))
        if lcb > best_lcb:
            best_lcb = lcb
            best_fee = sum(f * w for f, _, w in entries) / bw
    return best_fee


def sample_coefficients(coeffs: Vec3, precision: Mat3, z: Vec3) -> Vec3 | None:
    """μ + L·z with L the Cholesky factor of Σ = precision⁻¹ (diagonal √Σii when Σ is not
    positive definite); None when the precision is singular."""
    cov = inverse(precision)
    if cov is None:
        return None
    chol = cholesky(cov)
    if chol is None:
        d = tuple(math.sqrt(max(1e-6, cov[i][i])) for i in range(3))
        return (coeffs[0] + z[0] * d[0], coeffs[1] + z[1] * d[1], coeffs[2] + z[2] * d[2])
    lz = mat_vec(chol, z)
    return (coeffs[0] + lz[0], coeffs[1] + lz[1], coeffs[2] + lz[2])


# --- from observations ------------------------------------------------------------------------


def weighted_points(
    observations: Sequence[Observation], now: int
) -> tuple[list[Point], list[tuple[float, float, int]]]:
    """(points to fit, anchor pool of (fee, weight, ts)): weights x 0.5^(age_h/168), those under
    1e-6 dropped; zero-probe points join the anchor pool only."""
    points: list[Point] = []
    pool: list[tuple[float, float, int]] = []
    for o in observations:
        w = o.weight * float(0.5 ** ((now - o.ts) / 3600.0 / DECAY_HOURS))
        if w < MIN_WEIGHT:
            continue
        pool.append((o.fee, w, o.ts))
        if o.flag != FLAG_ZERO_PROBE:
            points.append((o.fee, o.revenue_rate, w))
    return points, pool


def positive_revenue_mass(
    observations: Sequence[Observation], now: int
) -> list[tuple[float, float]]:
    """(fee, revenue·weight·recency) of earning, uncongested windows, winsorised at 3x the median."""
    masses = []
    for o in observations:
        if o.revenue_rate > 0 and o.flag == FLAG_NONE:
            mass = o.revenue_rate * o.weight * decay(now - o.ts, DECAY_HOURS)
            if mass > MIN_MASS:
                masses.append((o.fee, mass))
    if masses:
        cap = 3.0 * sorted(m for _, m in masses)[len(masses) // 2]
        masses = [(f, min(m, cap)) for f, m in masses]
    return masses


def earning_region_fee(observations: Sequence[Observation], now: int) -> float | None:
    masses = positive_revenue_mass(observations, now)
    total = sum(m for _, m in masses)
    return sum(f * m for f, m in masses) / total if total > 0 else None


def mass_quantile_fee(observations: Sequence[Observation], now: int, q: float) -> float | None:
    """The lowest fee at which the cumulative revenue mass (by fee) reaches q of the total."""
    masses = sorted(positive_revenue_mass(observations, now), key=lambda fm: fm[0])
    total = sum(m for _, m in masses)
    if total <= 0:
        return None
    acc = 0.0
    for fee, mass in masses:
        acc += mass
        if acc >= q * total:
            return fee
    return masses[-1][0]


def anchor_posterior(
    observations: Sequence[Observation],
    pool: Sequence[tuple[float, float, int]],
    run_start_ts: int | None,
    now: int,
) -> tuple[float, float] | None:
    """The zero-revenue anchor. ``run_start_ts`` set (a zero streak ≥ 24): the earning-region fee
    if there is one, else the windows of the current zero run; otherwise every window, with a
    24 h recency half-life. None when nothing carries weight."""
    if run_start_ts is not None:
        earning = earning_region_fee(observations, now)
        if earning is not None:
            fees = [f for f, _ in positive_revenue_mass(observations, now)]
            return earning, spread_std(fees, earning)
    recent = [(f, w * decay(now - ts, ANCHOR_HALF_LIFE_HOURS), ts) for f, w, ts in pool]
    pairs = [(f, w) for f, w, ts in recent if run_start_ts is not None and ts >= run_start_ts]
    return anchor(pairs or [(f, w) for f, w, _ in recent])
