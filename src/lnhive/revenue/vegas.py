"""Vegas reflex: a mempool-spike multiplier on the fee floor (spec revenue-ops §2.3 step 4).

Once per cycle the intensity decays x0.85, then a spike (sat/vB over its 24 h moving
average) of >= 4 sets it to 1.0; a spike in [2, 4) adds 0.3 x (s - 2) / 2 when the
previous cycle also spiked, or else with probability (s - 2) / 4, drawn from the
injected random source. Intensity snaps to 0 below 0.01 (spec "Clarifications").
The floor is multiplied by 1 + 2 x sqrt(intensity).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

DEFAULT_DECAY = 0.85  # `vegas-decay`
SPIKE_MIN_RATIO = 2.0
SPIKE_FULL_RATIO = 4.0
FULL_INTENSITY = 1.0
PARTIAL_SPIKE_GAIN = 0.3  # + 0.3 x (s - 2) / 2
PARTIAL_SPIKE_SPAN = 2.0
PARTIAL_SPIKE_PROBABILITY_SPAN = 4.0  # probability (s - 2) / 4
INTENSITY_SNAP_TO_ZERO = 0.01
MULTIPLIER_GAIN = 2.0  # 1 + 2 x sqrt(intensity)


@dataclass(frozen=True)
class VegasState:
    intensity: float = 0.0
    last_spiked: bool = False
    """The previous update saw a spike ratio >= 2."""


def spike_ratio(feerate_sat_vb: float | None, ma_24h_sat_vb: float | None) -> float:
    """Current feerate over its 24 h moving average; 0 when either is unknown."""
    if feerate_sat_vb is None or ma_24h_sat_vb is None or ma_24h_sat_vb <= 0:
        return 0.0
    return feerate_sat_vb / ma_24h_sat_vb


def update(
    state: VegasState,
    feerate_sat_vb: float | None,
    ma_24h_sat_vb: float | None,
    rng: random.Random,
    *,
    decay: float = DEFAULT_DECAY,
) -> VegasState:
    """One cycle's Vegas update. Draws from `rng` only for a first spike in [2, 4)."""
    intensity = state.intensity * decay
    s = spike_ratio(feerate_sat_vb, ma_24h_sat_vb)
    spiked = s >= SPIKE_MIN_RATIO
    if s >= SPIKE_FULL_RATIO:
        intensity = FULL_INTENSITY
    elif spiked and (
        state.last_spiked or rng.random() < (s - SPIKE_MIN_RATIO) / PARTIAL_SPIKE_PROBABILITY_SPAN
    ):
        gain = PARTIAL_SPIKE_GAIN * (s - SPIKE_MIN_RATIO) / PARTIAL_SPIKE_SPAN
        intensity = min(FULL_INTENSITY, intensity + gain)
    if intensity < INTENSITY_SNAP_TO_ZERO:
        intensity = 0.0
    return VegasState(intensity=intensity, last_spiked=spiked)


def multiplier(intensity: float) -> float:
    """1 + 2 x sqrt(intensity): 1.0 when calm, 3.0 at full intensity."""
    return 1.0 + MULTIPLIER_GAIN * math.sqrt(max(0.0, intensity))
