"""The daemon's clock: time passes on the monotonic clock, anchored to wall time.

Windows are kept in event time, so the daemon needs wall time ("now") to read
them; but the wall clock can step (an NTP step, a VM resume, a manual
``date``). :class:`AnchoredClock` reads the monotonic clock and adds the wall
time it was anchored at. When the wall clock and that reckoning diverge by
more than :data:`TOLERANCE`, the wall clock stepped: the clock re-anchors to
it, counts the step and reports it once (``on_step``). Between steps, time
only moves forward, smoothly. Readers that must not change anything (a
scrape) :meth:`~AnchoredClock.peek`. The windows themselves lose nothing to a step
(reads are pure; see sesd.core.windows).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

__all__ = ["TOLERANCE", "AnchoredClock"]

#: Divergence (seconds) beyond which the wall clock is taken to have stepped.
TOLERANCE: Final = 1.0


class AnchoredClock:
    """Wall time as the monotonic clock carries it forward; callable like ``time.time``."""

    __slots__ = ("_anchor_monotonic", "_anchor_wall", "_monotonic", "_on_step", "_wall", "steps")

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        on_step: Callable[[float], None] = lambda step: None,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._on_step = on_step
        self._anchor_wall = wall()
        self._anchor_monotonic = monotonic()
        #: Steps of the wall clock seen so far.
        self.steps = 0

    def peek(self) -> float:
        """The current time as the monotonic clock carries the anchor, without looking
        for a step: a read that changes nothing (what a scrape uses)."""
        return self._anchor_wall + (self._monotonic() - self._anchor_monotonic)

    def __call__(self) -> float:
        """The current time (Unix seconds); a step of the wall clock since the last
        call re-anchors it, and is counted and reported."""
        elapsed = self._monotonic() - self._anchor_monotonic
        now = self._anchor_wall + elapsed
        wall = self._wall()
        if abs(wall - now) > TOLERANCE:
            self._anchor_wall, self._anchor_monotonic = wall, self._monotonic()
            self.steps += 1
            self._on_step(wall - now)
            return wall
        return now
