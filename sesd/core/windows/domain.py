"""All windows of one domain (or tag value): rings, staged values, breakdowns."""

from __future__ import annotations

import math
from typing import Any, Final

from sesd.core.events import EVENT_TYPE_INDEX, EVENT_TYPES
from sesd.core.sketch import bucket_of, summarise
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
    Noted,
    problem_kinds,
)
from sesd.core.windows.ring import NEVER, Ring, value_key
from sesd.core.windows.specs import Figures, Summary, WindowSpec
from sesd.core.windows.value_keys import CAUSE as _CAUSE
from sesd.core.windows.value_keys import DELAY_DURATION as _DELAY_DURATION
from sesd.core.windows.value_keys import SUMMARISED as _SUMMARISED
from sesd.core.windows.value_keys import SUPPRESSED as _SUPPRESSED

__all__ = ["DomainWindows"]

_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]
_T: Final = len(EVENT_TYPES)
#: Below this, a whole number of seconds is exact as a float (the stage's span).
_EXACT: Final = 2.0**52


class DomainWindows:
    """Every window of one domain.

    Writes are staged for the current fine bucket (the largest width that divides
    every ring's width): when an event opens a fine bucket, its bucket is placed in
    every ring at once (moving each on, as a write does), and its counts and values
    are then added to the stage alone (one list or dict increment, instead of one per
    ring) until another fine bucket opens or :meth:`flush` writes them out. Reads add
    the stage to the rings that accepted its bucket, so a flush changes nothing a read
    returns. Every read is pure.
    """

    __slots__ = (
        "_accepted",
        "_details",
        "_examples",
        "_fine",
        "_ratios",
        "_rings",
        "_specs",
        "_stage",
        "_stage_from",
        "_stage_to",
        "_staged",
        "_staged_counts",
        "changes",
    )

    def __init__(self, specs: list[WindowSpec]) -> None:
        self._specs = specs
        self._details: list[Details | None] = [None] * len(specs)
        self._examples: Examples | None = None
        fine = math.gcd(*(round(spec.width * 1000) for spec in specs))
        self._fine = fine / 1000  # the fine bucket's width, in seconds
        self._ratios = [round(spec.width * 1000) // fine for spec in specs]
        # A ring wider than the stage gathers its newest bucket's values (Ring.gathers).
        self._rings = [
            Ring(s.width, s.slots, r > 1) for s, r in zip(specs, self._ratios, strict=True)
        ]
        # The fine bucket staged. Each write compares ``t // self._fine`` with it as the
        # float ``//`` gives: a whole number, equal to an int exactly when its int() is,
        # so without that call (two a delivered recipient).
        self._stage = NEVER
        # Where the stage's bucket begins and ends: a write at ``t`` inside them compares
        # two floats instead of dividing (``t // self._fine``'s fmod of a Unix time cost
        # 1,400 instructions an event, 1.8 writes, counted under cachegrind). The
        # same test exactly when the fine width is whole seconds (a whole number of them
        # times a whole number is exact below 2**53); else the span stays empty.
        self._stage_from, self._stage_to = math.inf, -math.inf
        self._accepted = 0  # bit i: ring i holds the stage's bucket
        self._staged_counts: list[int] | None = None
        self._staged: dict[int, int] | None = None  # values: value_key -> how many
        #: Writes so far: reads at the same bucket between equal counts are equal.
        self.changes = 0

    # --- write side ------------------------------------------------------------

    def count(self, t: float, now: float, type_index: int, n: int = 1) -> None:
        """Count ``n`` recipients of a type at event time ``t`` (at most ``now``)."""
        self.changes += 1
        if not self._stage_from <= t < self._stage_to and t // self._fine != self._stage:
            self._open(t, now)
        counts = self._staged_counts
        if counts is None:
            counts = self._staged_counts = [0] * _T
        counts[type_index] += n

    def _open(self, t: float, now: float) -> None:
        """Write out the stage, and stage ``t``'s fine bucket: placed in every ring now."""
        self._write_stage()
        fine = int(t // self._fine)
        self._stage = fine
        if self._fine.is_integer() and abs(t) < _EXACT:
            self._stage_from, self._stage_to = fine * self._fine, (fine + 1) * self._fine
        else:  # no span (not the last bucket's): each write divides
            self._stage_from, self._stage_to = math.inf, -math.inf
        accepted = 0
        for index, ring in enumerate(self._rings):
            head = ring.head
            if not ring.place(fine // self._ratios[index], int(now // ring.width)):
                continue
            accepted |= 1 << index
            details = self._details[index]
            if details is not None and ring.head != head:
                if ring.head < head:  # started again after the clock stepped back
                    details.buckets.clear()
                details.prune(ring.head - ring.slots + 1)
        self._accepted = accepted

    def delivered(self, t: float, now: float, processing: int, to_delivery: int) -> None:
        """Count one delivered recipient, with the keys (:func:`delivery_keys`) of its
        processing time and time to delivery; ``processing`` is -1 when SES gave none
        (then neither is recorded). Nine recipients in ten take this path: it does what
        :meth:`count` does, inline."""
        self.changes += 1
        if not self._stage_from <= t < self._stage_to and t // self._fine != self._stage:
            self._open(t, now)
        counts = self._staged_counts
        if counts is None:
            counts = self._staged_counts = [0] * _T
        counts[_DELIVERY] += 1
        if processing >= 0:
            staged = self._staged
            if staged is None:
                staged = self._staged = {}
            staged[processing] = staged.get(processing, 0) + 1
            staged[to_delivery] = staged.get(to_delivery, 0) + 1

    def suppressed(self, t: float, now: float) -> None:
        """Count one recipient that a suppression list kept SES from sending to (its
        bounce is not counted as one)."""
        self.changes += 1
        if not self._stage_from <= t < self._stage_to and t // self._fine != self._stage:
            self._open(t, now)
        staged = self._staged
        if staged is None:
            staged = self._staged = {}
        key = value_key(_CAUSE, _SUPPRESSED)
        staged[key] = staged.get(key, 0) + 1

    def observe_delay_duration(self, t: float, now: float, duration_ms: float) -> None:
        """How long a delay lasted, once its recipient was delivered or bounced at ``t``
        (the Delivery or Bounce itself is counted by :meth:`count`)."""
        self.changes += 1
        if not self._stage_from <= t < self._stage_to and t // self._fine != self._stage:
            self._open(t, now)
        staged = self._staged
        if staged is None:
            staged = self._staged = {}
        key = value_key(_DELAY_DURATION, bucket_of(duration_ms))
        staged[key] = staged.get(key, 0) + 1

    def flush(self, now: float) -> None:
        """Write the stage to every ring that accepted its bucket, and the values the
        rings gather (Ring.gathers) as cells: nothing is held aside after it."""
        self._write_stage()
        for ring in self._rings:
            ring.settle()

    def _write_stage(self) -> None:
        """Write the stage to every ring that accepted its bucket (it still holds it:
        only this object moves its rings, and only when a stage opens)."""
        counts, values = self._staged_counts, self._staged
        if counts is None and not values:
            return
        self._staged_counts = self._staged = None
        # The types counted (a few of eleven), found once for every ring.
        counted = [] if counts is None else [(i, n) for i, n in enumerate(counts) if n]
        for index, ring in enumerate(self._rings):
            if not self._accepted >> index & 1:
                continue
            bucket = self._stage // self._ratios[index]
            if counted:
                ring.add_counts(bucket, counted)
            if values:
                ring.add_values(bucket, values)

    def note(self, t: float, now: float, noted: Noted, *, with_domain: bool = False) -> None:
        """Remember what a delay, bounce or complaint said (:func:`noted`), for alert
        text; a delayed recipient's cause is also counted exactly, as a fourth kind of
        value, for ``cause_ratio``. ``with_domain``: a provider's windows also keep the
        recipient's domain (its top affected domains)."""
        self.changes += 1
        examples = self._examples
        if examples is None:
            examples = self._examples = Examples()
        examples.add(t, noted.examples)
        if not self._stage_from <= t < self._stage_to and t // self._fine != self._stage:
            self._open(t, now)
        if noted.cause >= 0:
            staged = self._staged
            if staged is None:
                staged = self._staged = {}
            key = value_key(_CAUSE, noted.cause)
            staged[key] = staged.get(key, 0) + 1
        # A window with a problem in it has details, even when the event said nothing
        # more (a complaint): its message ids are shown from them.
        keys = noted.keys
        if with_domain and noted.domain is not None:
            keys = [*keys, noted.domain]
        for index, ring in enumerate(self._rings):
            if not self._specs[index].breakdown or not self._accepted >> index & 1:
                continue
            details = self._details[index]
            if details is None:
                details = self._details[index] = Details(ring.slots)
            details.add(self._stage // self._ratios[index], keys)

    # --- read side: pure ---------------------------------------------------------

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
        staged = self._staged_counts is not None or (values and bool(self._staged))
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
        staged = self._staged_counts
        if staged is not None and self._stage_in(index, now_bucket):
            # Added in place (the ring's list is this read's own), not through a
            # comprehension over zip(): see _stage_in for what the two save.
            for i, n in enumerate(staged):
                counts[i] += n
        return tuple(counts)

    def series(self, index: int, now: float, type_index: int) -> list[int]:
        """Recipients of one type per bucket of window ``index`` at ``now``, oldest
        first (one number per bucket of the window: what a sparkline draws); they add
        up to :meth:`counts`' figure for the type."""
        ring = self._rings[index]
        now_bucket = int(now // ring.width)
        out = ring.series(now_bucket, type_index)
        staged = self._staged_counts
        if staged is not None and staged[type_index] and self._stage_in(index, now_bucket):
            bucket = self._stage // self._ratios[index]
            out[bucket - now_bucket + ring.slots - 1] += staged[type_index]
        return out

    def summaries(self, index: int, now: float) -> list[Summary]:
        """Processing time, time to delivery and delay duration in window ``index``."""
        ring = self._rings[index]
        now_bucket = int(now // ring.width)
        values = ring.values(now_bucket)
        staged = self._staged
        if staged and self._stage_in(index, now_bucket):
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
        staged = self._staged
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
        top = details.top(lo, hi, top_n)
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

    # --- state file ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file (call :meth:`flush` first)."""
        return {
            "rings": [ring.snapshot() for ring in self._rings],
            "details": [None if d is None else d.snapshot() for d in self._details],
            "examples": None if self._examples is None else self._examples.snapshot(),
        }

    def restore(self, data: dict[str, Any], kept: list[int | None] | None = None) -> None:
        """Load what :meth:`snapshot` returned: each window from the saved one at its
        index in ``kept`` (None: it starts empty; by default, the same layout)."""
        self.changes += 1
        rings, saved_details = data["rings"], data["details"]
        kept = list(range(len(self._rings))) if kept is None else kept
        if (
            len(kept) != len(self._rings)
            or len(saved_details) != len(rings)
            or any(source is not None and source >= len(rings) for source in kept)
        ):
            raise ValueError("window layout changed")
        for index, source in enumerate(kept):
            if source is None:
                continue
            self._rings[index].restore(rings[source])
            if saved_details[source] is not None:
                details = self._details[index] = Details(self._rings[index].slots)
                details.restore(saved_details[source])
        if data["examples"] is not None:
            self._examples = Examples()
            self._examples.restore(data["examples"])
