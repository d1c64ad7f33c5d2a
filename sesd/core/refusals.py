"""The recipients the full pending table refused lately (sesd.core.pending): what the
pending figures may leave out now. The overflow counter keeps every one since the
start; a delay SES gave up on long ago is pending in no table, so what a table's
pending column leaves out is the refusals of the last ``LONGEST_DELAY`` alone, counted
here by the event time of each one's first delay, in buckets of :data:`BUCKET`
seconds. Pure, and bounded: the buckets of that span and two more."""

from __future__ import annotations

import math
from typing import Final

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
        counts = self._counts
        bucket = int(first // BUCKET)
        counts[bucket] = counts.get(bucket, 0) + 1
        if len(counts) > _KEPT:
            newest = max(counts)
            for old in [b for b in counts if b <= newest - _KEPT]:
                del counts[old]

    def since(self, now: float) -> int:
        """How many were first delayed within ``LONGEST_DELAY`` before ``now`` (up to a
        bucket more): those SES may still be trying. A pure read."""
        after = now - LONGEST_DELAY
        return sum(n for bucket, n in self._counts.items() if (bucket + 1) * BUCKET > after)
