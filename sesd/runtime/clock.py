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
from typing import Any, Final

from prometheus_client import Gauge

from sesd.core.timestamps import CLOCK_OFF, http_seconds
from sesd.runtime.health import Health

__all__ = ["TOLERANCE", "AnchoredClock", "compare_with_aws"]

#: Divergence (seconds) beyond which the wall clock is taken to have stepped.
TOLERANCE: Final = 1.0
#: Reads of the wall clock (each between two of the monotonic one) an anchor is taken
#: from at most: the first whose monotonic reads lie within TOLERANCE of each other,
#: else the closest.
_ANCHOR_READS: Final = 3


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
        self._anchor_wall, self._anchor_monotonic = self._anchor(*self._read())
        #: Steps of the wall clock seen so far.
        self.steps = 0

    def _read(self) -> tuple[float, float, float]:
        """The wall clock read between two reads of the monotonic one."""
        before = self._monotonic()
        wall = self._wall()
        return before, wall, self._monotonic()

    def _anchor(self, before: float, wall: float, after: float) -> tuple[float, float]:
        """An anchor (wall time, monotonic time) from a read, taken at the middle of its
        monotonic reads: off by half their span at most. A span past TOLERANCE (the
        thread held between them) would leave it off by more than a step is allowed to
        be, the next call taking that for a step of its own: the clocks are read again,
        up to _ANCHOR_READS times, and the closest read anchors."""
        for _ in range(_ANCHOR_READS - 1):
            if after - before <= TOLERANCE:
                break
            read = self._read()
            if read[2] - read[0] < after - before:
                before, wall, after = read
        return wall, (before + after) / 2

    def peek(self) -> float:
        """The current time as the monotonic clock carries the anchor, without looking
        for a step: a read that changes nothing (what a scrape uses)."""
        return self._anchor_wall + (self._monotonic() - self._anchor_monotonic)

    def __call__(self) -> float:
        """The current time (Unix seconds); a step of the wall clock since the last
        call re-anchors it, and is counted and reported."""
        # The wall clock is read between two reads of the monotonic one: a thread held
        # between reads (a loaded host, a VM paused for a second) would else have its
        # wall read taken for a step as long as the hold. The wall time lies within the
        # span the two reads carry the anchor to, give or take TOLERANCE, unless the
        # wall clock stepped. A step the hold hides (one ahead, by a hold after the wall
        # read; one back, by a hold before it) is seen at the next call: the anchor is
        # unchanged until a step is.
        before, wall, after = self._read()
        earliest = self._anchor_wall + (before - self._anchor_monotonic)
        latest = self._anchor_wall + (after - self._anchor_monotonic)
        if earliest - TOLERANCE <= wall <= latest + TOLERANCE:
            return latest
        was = self._anchor_wall - self._anchor_monotonic
        self._anchor_wall, self._anchor_monotonic = self._anchor(before, wall, after)
        self.steps += 1
        # What the new anchor says less what the old one said, at any one time: what
        # the times kept on this clock move by.
        self._on_step(self._anchor_wall - self._anchor_monotonic - was)
        return self._anchor_wall


def compare_with_aws(date: str | None, now: float, health: Health, gauge: Gauge, log: Any) -> None:
    """Compare this host's clock (``now``) with AWS's (an SQS answer's Date header, to
    the second): events count at their time on this clock, so a host an hour ahead
    reads every event an hour late (in no window, as if behind a backlog). Kept in
    ``health`` and ``gauge``; said when it goes off, and when it is back."""
    aws = http_seconds(date) if date else None
    if aws is None:
        return
    offset = now - aws
    was, health.clock_offset = health.clock_offset, offset
    gauge.set(offset)
    off, was_off = abs(offset) > CLOCK_OFF, was is not None and abs(was) > CLOCK_OFF
    if off and not was_off:
        side = "ahead of" if offset > 0 else "behind"
        log.warning(
            "sesd.clock.off",
            offset_seconds=round(offset),
            hint=f"this host's clock is {abs(round(offset))} s {side} AWS's: fix its time "
            "sync (chrony, NTP); until then events count at the wrong time (a host ahead "
            "reads every event as late, and an hour ahead counts none in a window)",
        )
    elif was_off and not off:
        log.info("sesd.clock.on_time", offset_seconds=round(offset))
