"""Time sources: the wall clock for live plugins, a virtual clock for simulations.

Domain code never calls ``time.time()`` itself; it is handed a :class:`Clock`, so the
same code runs live and in a month-long simulation that takes seconds.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the UNIX epoch."""
        ...


class WallClock:
    def now(self) -> float:
        return time.time()


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class VirtualClock:
    """A clock that moves only when told to, firing timers in time order as it goes."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = float(start)
        self._timers: list[_Timer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(float(when), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        if delay < 0:
            raise ValueError("delay must not be negative")
        return self.call_at(self._now + delay, callback)

    @staticmethod
    def cancel(timer: _Timer) -> None:
        timer.cancelled = True

    def advance(self, seconds: float) -> None:
        """Move time forward, running each due timer at its own instant."""
        if seconds < 0:
            raise ValueError("a virtual clock cannot go backwards")
        self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> None:
        if when < self._now:
            raise ValueError("a virtual clock cannot go backwards")
        while self._timers and self._timers[0].due <= when:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, timer.due)
            timer.callback()
        self._now = when
