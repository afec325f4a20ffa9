from __future__ import annotations

import time

import pytest

from lnhive.core.clock import Clock, VirtualClock, WallClock


def test_wall_clock_tracks_time() -> None:
    clock: Clock = WallClock()
    before = time.time()
    now = clock.now()
    after = time.time()
    assert before <= now <= after


def test_virtual_clock_starts_at_given_time() -> None:
    assert VirtualClock().now() == 1_767_225_600.0
    assert VirtualClock(start=100).now() == 100.0


def test_timers_fire_in_order_at_their_own_instant() -> None:
    clock = VirtualClock(start=0)
    fired: list[tuple[str, float]] = []
    clock.call_later(5, lambda: fired.append(("b", clock.now())))
    clock.call_later(1, lambda: fired.append(("a", clock.now())))
    clock.call_at(5, lambda: fired.append(("c", clock.now())))
    clock.call_later(20, lambda: fired.append(("late", clock.now())))
    clock.advance(10)
    assert fired == [("a", 1.0), ("b", 5.0), ("c", 5.0)]
    assert clock.now() == 10.0
    clock.advance_to(20)
    assert fired[-1] == ("late", 20.0)


def test_cancel_and_timers_scheduled_by_callbacks() -> None:
    clock = VirtualClock(start=0)
    fired: list[float] = []
    timer = clock.call_later(2, lambda: fired.append(-1))
    VirtualClock.cancel(timer)

    def tick() -> None:
        fired.append(clock.now())
        if clock.now() < 3:
            clock.call_later(1, tick)

    clock.call_later(1, tick)
    clock.advance(5)
    assert fired == [1.0, 2.0, 3.0]


def test_cannot_go_backwards() -> None:
    clock = VirtualClock(start=10)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.advance_to(9)
    with pytest.raises(ValueError):
        clock.call_later(-1, lambda: None)
    assert clock.now() == 10.0
