"""The read side of a domain's windows (sesd.core.windows.domain): what its rings say
at a given time, with the stage added where a flush would put it. Pure functions of
what is held: a read never changes a later read. Kept apart from the write side,
which stages writes and moves the rings, so that each stays readable.

Pure code: no clock, no I/O.
"""

from __future__ import annotations

from typing import Final

from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.sketch import summarise
from sesd.core.windows.breakdown import (
    ADVISED,
    CAUSE,
    CONFIG_SET,
    DELAY_TYPE,
    DOMAIN,
    HINTED_CAUSE,
    SECOND_CAUSE,
    SOURCE,
    Breakdown,
    Details,
    Examples,
    Problem,
    problem_kinds,
)
from sesd.core.windows.ring import Ring
from sesd.core.windows.specs import Figures, Summary, WindowSpec
from sesd.core.windows.value_keys import CAUSE as _CAUSE
from sesd.core.windows.value_keys import SUMMARISED as _SUMMARISED
from sesd.core.windows.value_keys import SUPPRESSED as _SUPPRESSED
from sesd.core.windows.value_keys import unpair

__all__ = ["DomainReads"]

_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]


class DomainReads:
    """The reads of a :class:`~sesd.core.windows.domain.DomainWindows`, which holds the
    attributes named here (its rings, their ratios to the stage, and the stage: see
    its docstring)."""

    __slots__ = ()

    _specs: list[WindowSpec]
    _rings: list[Ring]
    _ratios: list[int]
    _details: list[Details | None]
    _examples: Examples | None
    _stage: int
    _accepted: int
    #: The stage: counts per type (but deliveries'), values (value key -> how many),
    #: and deliveries (their values' pair -> how many, sesd.core.windows.value_keys).
    _staged_counts: list[int] | None
    _staged: dict[int, int] | None
    _pairs: dict[int, int] | None
    #: What problem recipients said, for the breakdowns (Problem -> how many).
    _problems: dict[Problem, int] | None
    changes: int

    def _stage_in(self, index: int, now_bucket: int) -> bool:
        """Whether the stage counts in window ``index`` read at ``now_bucket``."""
        if not self._accepted >> index & 1:
            return False
        # Ring.holds written out: most domains hold a stage (it is flushed by their next
        # write), so nearly every read asks. With the sum in place in counts(), 4,300 of a
        # read's 32,000 instructions (631 an event of the replay benchmark, cachegrind).
        ring = self._rings[index]
        head, bucket = ring.head, self._stage // self._ratios[index]
        return max(now_bucket, head) - ring.slots < bucket <= min(now_bucket, head)

    def stamp(self, index: int, now: float) -> tuple[int, int]:
        """What every read of window ``index`` at ``now`` depends on: the writes so far
        and the bucket ``now`` falls in. Reads under equal stamps return the same."""
        return self.changes, int(now // self._rings[index].width)

    def moved_over(self, index: int, before: int, after: int, *, values: bool) -> bool:
        """Whether reads of window ``index`` in bucket ``after`` (a :meth:`stamp`'s)
        return what they returned in bucket ``before``, nothing written between: the
        buckets that entered or left the window held nothing (no count, and no value
        with ``values``: the quantiles, causes and suppressed addresses)."""
        # A staged delivery is a count, whatever its values.
        staged = (
            self._staged_counts is not None
            or self._pairs is not None
            or (values and bool(self._staged))
        )
        stage = None  # the staged bucket, where this window counts what is staged
        if staged and self._accepted >> index & 1:
            stage = self._stage // self._ratios[index]
        low, high = (before, after) if before <= after else (after, before)
        return self._rings[index].moved_over(low, high, values, stage)

    def counts(self, index: int, now: float) -> tuple[int, ...]:
        """Recipients per event type in window ``index`` (in spec order) at ``now``."""
        ring = self._rings[index]
        now_bucket = int(now // ring.width)
        counts = ring.counts(now_bucket)
        staged, pairs = self._staged_counts, self._pairs
        if (staged is not None or pairs is not None) and self._stage_in(index, now_bucket):
            # Added in place (the ring's list is this read's own), not through a
            # comprehension over zip(): see _stage_in for what the two save.
            if staged is not None:
                for i, n in enumerate(staged):
                    counts[i] += n
            if pairs is not None:
                counts[_DELIVERY] += sum(pairs.values())
        return tuple(counts)

    def series(self, index: int, now: float, type_index: int) -> list[int]:
        """Recipients of one type per bucket of window ``index`` at ``now``, oldest
        first (one number per bucket of the window: what a sparkline draws); they add
        up to :meth:`counts`' figure for the type."""
        ring = self._rings[index]
        now_bucket = int(now // ring.width)
        out = ring.series(now_bucket, type_index)
        staged = 0 if self._staged_counts is None else self._staged_counts[type_index]
        if type_index == _DELIVERY and self._pairs is not None:
            staged += sum(self._pairs.values())
        if staged and self._stage_in(index, now_bucket):
            bucket = self._stage // self._ratios[index]
            out[bucket - now_bucket + ring.slots - 1] += staged
        return out

    def summaries(self, index: int, now: float) -> list[Summary]:
        """Processing time, time to delivery and delay duration in window ``index``."""
        ring = self._rings[index]
        now_bucket = int(now // ring.width)
        values = ring.values(now_bucket)
        staged, pairs = self._staged, self._pairs
        if (staged or pairs) and self._stage_in(index, now_bucket):
            staged = dict(staged or ())  # this read's own: the deliveries' values added
            if pairs:
                unpair(pairs, staged)
            for key, n in staged.items():
                found = values[key >> 8]
                found[key & 0xFF] = found.get(key & 0xFF, 0) + n
        out = []
        for kind in _SUMMARISED:
            count, sum_ms, (p50, p95, p99) = summarise(values[kind])
            out.append(Summary(count, sum_ms, p50, p95, p99))
        return out

    def causes(self, index: int, now: float) -> dict[int, int]:
        """Delayed recipients per cause number in window ``index`` at ``now``."""
        ring = self._rings[index]
        now_bucket = int(now // ring.width)
        found = ring.values(now_bucket)[_CAUSE]
        staged = self._staged  # (a delivery's pair holds no cause)
        if staged and self._stage_in(index, now_bucket):
            for key, n in staged.items():
                if key >> 8 == _CAUSE:
                    found[key & 0xFF] = found.get(key & 0xFF, 0) + n
        return found

    def suppressed_count(self, index: int, now: float) -> int:
        """Recipients a suppression list kept SES from sending to, in window ``index``."""
        return self.causes(index, now).get(_SUPPRESSED, 0)

    def figures(self, index: int, now: float) -> Figures:
        """Everything window ``index`` says at ``now``."""
        processing, to_delivery, delay_duration = self.summaries(index, now)
        return Figures(self.counts(index, now), processing, to_delivery, delay_duration)

    def breakdown(
        self, index: int, now: float, top_n: int = 5, *, delays: bool = True
    ) -> Breakdown:
        """Top delay types, codes, MTAs and examples in window ``index`` at ``now``: the
        codes, MTAs and message ids of the delays, or (not ``delays``: a bounce or
        complaint alert) of the bounces and complaints."""
        ring, details = self._rings[index], self._details[index]
        if details is None:
            return Breakdown()
        lo, hi = ring.span(int(now // ring.width))
        if hi <= lo:
            return Breakdown()
        problems, staged = self._problems, None
        if problems and self._specs[index].breakdown and self._accepted >> index & 1:
            staged = (self._stage // self._ratios[index], problems)
        top = details.top(lo, hi, top_n, staged)
        status, diagnostic, mta, id_kind = problem_kinds(delays)
        since = now - self._specs[index].seconds
        examples = self._examples or Examples()
        return Breakdown(
            delay_types=top[DELAY_TYPE],
            statuses=top[status],
            diagnostics=top[diagnostic],
            mtas=top[mta],
            message_ids=examples.since(id_kind, since, now),
            sources=examples.since(SOURCE, since, now),
            config_sets=examples.since(CONFIG_SET, since, now),
            causes=top[CAUSE],
            domains=top[DOMAIN],
            second_causes=top[SECOND_CAUSE],
            hinted_causes=top[HINTED_CAUSE],
            advised=top[ADVISED],
        )
