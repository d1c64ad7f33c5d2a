"""The recipients the full pending table refused lately (sesd.core.pending): what the
pending figures may leave out now. The overflow counter keeps every one since the
start; a delay SES gave up on long ago is pending in no table, so what a table's
pending column leaves out is the refusals of the last ``LONGEST_DELAY`` alone, counted
here by the event time of each one's first delay, in buckets of :data:`BUCKET`
seconds, and kept in the state file (a restart does not hold the refused recipients'
retries either: the figures still leave them out). An event from ahead of the host's
clock is dated on it: a step of that clock ahead moves them (:meth:`stepped`). Pure,
and bounded: the buckets of
that span and two more, behind the newest; twice that after the host's clock went back
(:meth:`RecentRefusals._added`)."""

from __future__ import annotations

import math
from typing import Any, Final

from sesd.core.events import LONGEST_DELAY

__all__ = ["BUCKET", "MOST_AHEAD", "RecentRefusals"]

#: Seconds of event time per bucket: how much longer than ``LONGEST_DELAY`` one counts.
BUCKET: Final = 600.0
_KEPT: Final = int(LONGEST_DELAY // BUCKET) + 2
#: How far ahead of the clock a restart keeps a bucket as counted (a state file saved on
#: a clock ahead, as far as sesd.runtime.state_alerts moves its alert times back); one
#: further ahead (a damaged file) counts as of the restart. The pending table's times
#: are held as far (sesd.core.pending_file).
MOST_AHEAD: Final = 86_400.0


class RecentRefusals:
    """Refused recipients by the bucket of their first delay's event time."""

    __slots__ = ("_counts", "_past")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        #: How far past where its refusals' steps took them a bucket moved at a step
        #: ahead ends (whole buckets moved for part of one): the next step ahead moves
        #: it as much less. Not saved: a restart moves none.
        self._past: dict[int, float] = {}

    def add(self, first: float) -> None:
        """A recipient first delayed at ``first`` refused (a time no clock tells, from
        a damaged file, counts in no bucket: :attr:`overflow` has it all the same)."""
        if not math.isfinite(first):
            return
        self._added(int(first // BUCKET), 1)

    def _added(self, bucket: int, n: int) -> None:
        self._past.pop(bucket, None)  # one counted in it may be as late as its end
        counts = self._counts
        if bucket in counts:
            counts[bucket] += n
            return
        counts[bucket] = n
        if len(counts) > _KEPT:
            # Those more than the span behind the one added. Not behind the newest:
            # after the host's clock went back (a step, a restart on a clock behind the
            # save) those counted before are ahead of it, and each refusal after them,
            # bounded from them, was dropped as it came. They stay, at the times SES
            # dated them: once NTP sets the clock again, they are as old as they are.
            for old in [b for b in counts if b <= bucket - _KEPT]:
                del counts[old]
            while len(counts) > 2 * _KEPT:  # those before the clock went back, and after
                del counts[min(counts)]

    def held_to(self, now: float) -> None:
        """None counted more than a day later than ``now`` (a restart's time): those
        count in its bucket. A state file saved that far ahead is taken as damaged, as
        its alert times are (sesd.runtime.state_alerts.stepped_back); left, one far
        ahead (a flipped byte) counted for as long. Those within the day stay: the host
        started before NTP set its clock, and they count until 16 h after their time."""
        if not math.isfinite(now):
            return
        last = int(now // BUCKET)
        ahead = [bucket for bucket in self._counts if bucket * BUCKET > now + MOST_AHEAD]
        if ahead:
            self._added(last, sum(self._counts.pop(bucket) for bucket in ahead))

    def stepped(self, step: float, now: float) -> None:
        """The host's clock stepped ``step`` seconds, to ``now``. A step ahead moves the
        buckets not ahead of the clock it left (``now - step``) as far, held to
        ``now``'s: a refusal an event from ahead of that clock brought is dated on it
        (sesd.core.pipeline takes such an event's time as the clock's), and NTP setting
        a clock an hour behind left each an hour older than SES's: forgotten an hour
        before SES gives up on it. Which of them SES dated earlier (a backlog) is not
        kept: each counts up to the step longer. Those ahead of the clock it left (from
        before a step back) are at SES's times: they stay. A step back moves none (as
        :meth:`_added` keeps them); those then more than a day ahead count as of
        ``now``, as a restart's (:meth:`held_to`): a step ahead taken back would
        otherwise count them for as long."""
        if not math.isfinite(step) or not math.isfinite(now):
            return
        if step < 0:
            self.held_to(now)
            return
        counts, left, last = self._counts, int((now - step) // BUCKET), int(now // BUCKET)
        # All taken out before any lands: one landing on another still to move (the
        # next but its shift) was moved again with it, and those of 16 hours piled up
        # on the clock of the step.
        moving = [(b, counts.pop(b), self._past.pop(b, 0.0)) for b in list(counts) if b <= left]
        for bucket, n, past in moving:
            # A bucket's end moved as far as the step, or further; by whole buckets,
            # and what is further is kept: moved a whole bucket at each step of two
            # seconds, a time sync stepping a drifting clock, or one flapping back and
            # ahead, counted them ten minutes more a step.
            shift = max(0, math.ceil((step - past) / BUCKET))
            to = min(bucket + shift, last)
            # Not bounded from the one moved (as _added bounds): those it lands ahead
            # of by more than the span, at SES's times, are not the older for it.
            if to <= last - _KEPT:
                continue
            further = past + (to - bucket) * BUCKET - step
            if to in counts:  # two of them, or one not moved: as far as the nearer
                further = min(further, self._past.get(to, 0.0))
            counts[to] = counts.get(to, 0) + n
            if further > 0:
                self._past[to] = further
            else:
                self._past.pop(to, None)
        # (those of buckets dropped since the last step: as many as the buckets at most)
        self._past = {bucket: past for bucket, past in self._past.items() if bucket in counts}

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
        read = [
            (row[0], row[1])
            for row in (rows if isinstance(rows, list) else ())
            if isinstance(row, list | tuple) and len(row) >= 2 and _whole(row[0])
            and _whole(row[1]) and row[1] > 0
        ]  # fmt: skip
        # The newest first: each is bounded from the one added (those counted before
        # the clock went back, ahead, are not dropped for those after).
        for bucket, n in sorted(read, reverse=True):
            self._added(bucket, n)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
