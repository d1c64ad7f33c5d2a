"""The recipients the full pending table refused lately (sesd.core.pending): what the
pending figures may leave out now. The overflow counter keeps every one since the
start; a delay SES gave up on long ago is pending in no table, so what a table's
pending column leaves out is the refusals of the last ``LONGEST_DELAY`` alone, counted
here by the event time of each one's first delay, in buckets of :data:`BUCKET`
seconds, and kept in the state file (a restart does not hold the refused recipients'
retries either: the figures still leave them out). Pure, and bounded: the buckets of
that span and two more."""

from __future__ import annotations

import math
from typing import Any, Final

from sesd.core.events import LONGEST_DELAY

__all__ = ["BUCKET", "RecentRefusals"]

#: Seconds of event time per bucket: how much longer than ``LONGEST_DELAY`` one counts.
BUCKET: Final = 600.0
_KEPT: Final = int(LONGEST_DELAY // BUCKET) + 2


class RecentRefusals:
    """Refused recipients by the bucket of their first delay's event time."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def add(self, first: float) -> None:
        """A recipient first delayed at ``first`` refused (a time no clock tells, from
        a damaged file, counts in no bucket: :attr:`overflow` has it all the same)."""
        if not math.isfinite(first):
            return
        self._added(int(first // BUCKET), 1)

    def _added(self, bucket: int, n: int) -> None:
        counts = self._counts
        counts[bucket] = counts.get(bucket, 0) + n
        if len(counts) > _KEPT:
            newest = max(counts)
            for old in [b for b in counts if b <= newest - _KEPT]:
                del counts[old]

    def held_to(self, now: float) -> None:
        """None counted later than ``now``'s bucket: those ahead of it count in it. Their
        times are events' held to the host's clock (sesd.core.pipeline clamps one ahead
        of it), so one is ahead only where this clock reads behind the one they were
        counted on (a step back, a restart on a clock behind the save, a damaged file):
        left, the newest bucket was ahead, and each refusal after it more than the kept
        span older was dropped as it came (the bound is counted from the newest),
        until the clock caught up."""
        if not math.isfinite(now):
            return
        last = int(now // BUCKET)
        ahead = [bucket for bucket in self._counts if bucket > last]
        if ahead:
            self._added(last, sum(self._counts.pop(bucket) for bucket in ahead))

    def since(self, now: float) -> int:
        """How many were first delayed within ``LONGEST_DELAY`` before ``now`` (up to a
        bucket more): those SES may still be trying. A pure read."""
        after = now - LONGEST_DELAY
        return sum(n for bucket, n in self._counts.items() if (bucket + 1) * BUCKET > after)

    def snapshot(self) -> list[list[int]]:
        """Plain data for the state file: (bucket, count) pairs."""
        return [[bucket, n] for bucket, n in self._counts.items()]

    def restore(self, rows: Any) -> None:
        """Load what :meth:`snapshot` returned (a file without it, an earlier build's,
        holds none); a pair that is not two whole numbers, a count above none, is left
        out alone (items a later build added after them are not this one's to read),
        and the bound holds as for :meth:`add`."""
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, list | tuple) and len(row) >= 2:
                bucket, n = row[0], row[1]
                if _whole(bucket) and _whole(n) and n > 0:
                    self._added(bucket, n)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
