"""Vegas reflex (spec revenue-ops §2.3 step 4; §7 test 7)."""

from __future__ import annotations

import random

import pytest

from lnhive.revenue import vegas
from lnhive.revenue.vegas import VegasState


class FixedRandom(random.Random):
    """A random source whose draws are scripted; fails the test if drawn too often."""

    def __init__(self, *draws: float) -> None:
        super().__init__(0)
        self.draws = list(draws)

    def random(self) -> float:
        assert self.draws, "unexpected random draw"
        return self.draws.pop(0)


def _calm(state: VegasState, cycles: int) -> VegasState:
    for _ in range(cycles):
        state = vegas.update(state, 10.0, 10.0, FixedRandom())
    return state


def test_spec_test_7_spike_then_decay() -> None:
    """§7 test 7: 40 sat/vB against a 24 h MA of 10 (4x): multiplier 3.0; after 6 calm cycles
    (feerate = MA) 2.23 +-0.01; 1.0 after 29 (0.85^29 < 0.01 snaps to 0), not yet after 28."""
    s = vegas.update(VegasState(), 40.0, 10.0, FixedRandom())
    assert vegas.multiplier(s.intensity) == 3.0
    assert vegas.multiplier(_calm(s, 6).intensity) == pytest.approx(2.23, abs=0.01)
    assert vegas.multiplier(_calm(s, 28).intensity) > 1.2
    assert vegas.multiplier(_calm(s, 29).intensity) == 1.0
    assert _calm(s, 29).intensity == 0.0


def test_partial_spike_by_chance() -> None:
    """s = 3: probability (3-2)/4 = 0.25; on a hit intensity += 0.3 x (3-2)/2 = 0.15."""
    hit = vegas.update(VegasState(), 30.0, 10.0, FixedRandom(0.24))
    assert hit.intensity == pytest.approx(0.15) and hit.last_spiked
    miss = vegas.update(VegasState(), 30.0, 10.0, FixedRandom(0.25))
    assert miss.intensity == 0.0 and miss.last_spiked


def test_second_spike_in_a_row_needs_no_draw() -> None:
    first = vegas.update(VegasState(), 30.0, 10.0, FixedRandom(0.9))
    second = vegas.update(first, 30.0, 10.0, FixedRandom())  # no draw allowed
    assert second.intensity == pytest.approx(0.15)
    third = vegas.update(second, 30.0, 10.0, FixedRandom())
    assert third.intensity == pytest.approx(0.15 * 0.85 + 0.15)


def test_partial_spikes_cap_at_full_intensity() -> None:
    s = VegasState(intensity=0.95, last_spiked=True)
    assert vegas.update(s, 39.0, 10.0, FixedRandom()).intensity == 1.0


def test_no_spike_below_2_and_unknown_feerates() -> None:
    s = VegasState(intensity=0.5)
    assert vegas.update(s, 19.9, 10.0, FixedRandom()).intensity == pytest.approx(0.425)
    assert vegas.update(s, None, 10.0, FixedRandom()).intensity == pytest.approx(0.425)
    assert vegas.update(s, 50.0, 0.0, FixedRandom()).intensity == pytest.approx(0.425)
    assert vegas.update(s, 50.0, 10.0, FixedRandom(), decay=0.5).intensity == 1.0


def test_seeded_random_is_reproducible() -> None:
    def run(seed: int) -> list[float]:
        rng, s, out = random.Random(seed), VegasState(), []
        for rate in (25.0, 12.0, 35.0, 10.0, 28.0, 31.0):
            s = vegas.update(s, rate, 10.0, rng)
            out.append(s.intensity)
        return out

    assert run(7) == run(7)


def test_multiplier_formula() -> None:
    assert vegas.multiplier(0.0) == 1.0
    assert vegas.multiplier(0.25) == 2.0
    assert vegas.multiplier(1.0) == 3.0
