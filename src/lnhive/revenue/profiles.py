"""Fee-controller profiles (spec revenue-ops §2.2, option `fee-profile`).

The table as data: one frozen record per profile. Ratios are fractions, step minimums
whole ppm.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeeProfile:
    """One column of the §2.2 table."""

    name: str
    window_min_hours: float
    """A window closes after at least this many hours ..."""
    window_min_forwards: int
    """... or at least this many forwards."""
    dts_gamma_normal: float
    dts_gamma_sparse: float
    blend_normal: float
    blend_wake: float
    blend_sparse: float
    step_cap_ratio: float
    """Normal cycles: step cap = max(step_cap_min_ppm, ceil(cur * step_cap_ratio))."""
    step_cap_min_ppm: int
    wake_step_cap_ratio: float
    """Wake cycles: step cap = max(wake_step_cap_min_ppm, ceil(cur * wake_step_cap_ratio))."""
    wake_step_cap_min_ppm: int


ACTIVE = FeeProfile(
    name="active",
    window_min_hours=0.25,
    window_min_forwards=3,
    dts_gamma_normal=0.98,
    dts_gamma_sparse=0.992,
    blend_normal=0.35,
    blend_wake=0.15,
    blend_sparse=0.20,
    step_cap_ratio=0.50,
    step_cap_min_ppm=100,
    wake_step_cap_ratio=0.20,
    wake_step_cap_min_ppm=50,
)

CONSERVATIVE = FeeProfile(
    name="conservative",
    window_min_hours=1.0,
    window_min_forwards=6,
    dts_gamma_normal=0.992,
    dts_gamma_sparse=0.996,
    blend_normal=0.20,
    blend_wake=0.10,
    blend_sparse=0.10,
    step_cap_ratio=0.25,
    step_cap_min_ppm=25,
    wake_step_cap_ratio=0.10,
    wake_step_cap_min_ppm=10,
)

PROFILES: dict[str, FeeProfile] = {p.name: p for p in (ACTIVE, CONSERVATIVE)}
DEFAULT_PROFILE = ACTIVE.name


def get_profile(name: str) -> FeeProfile:
    """The profile called `name`; KeyError naming the valid ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown fee profile {name!r} (valid: {', '.join(PROFILES)})") from None
