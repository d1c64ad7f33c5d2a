"""All windows of one domain (or tag value): rings, staged values, breakdowns."""

from __future__ import annotations

import math
from typing import Any, Final

from sesd.core.events import EVENT_TYPE_INDEX, EVENT_TYPES
from sesd.core.sketch import bucket_of
from sesd.core.windows.breakdown import Details, Examples, Noted, Problem
from sesd.core.windows.domain_reads import DomainReads
from sesd.core.windows.ring import NEVER, Ring, value_key
from sesd.core.windows.specs import WindowSpec
from sesd.core.windows.value_keys import CAUSE as _CAUSE
from sesd.core.windows.value_keys import DELAY_DURATION as _DELAY_DURATION
from sesd.core.windows.value_keys import SUPPRESSED as _SUPPRESSED
from sesd.core.windows.value_keys import unpair

__all__ = ["DomainWindows"]

_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]
_T: Final = len(EVENT_TYPES)
#: Below this, a whole number of seconds is exact as a float (the stage's span).
_EXACT: Final = 2.0**52
#: Distinct problems (sesd.core.windows.breakdown.Problem) a stage holds before they are
#: written to the breakdowns: an incident's recipients say the same few things, a
#: stranger's texts may all differ.
_PROBLEMS: Final = 64


class DomainWindows(DomainReads):
    """Every window of one domain (its reads: sesd.core.windows.domain_reads).

    Writes are staged for the current fine bucket (the largest width that divides
    every ring's width): when an event opens a fine bucket, its bucket is placed in
    every ring at once (moving each on, as a write does), and its counts and values
    are then added to the stage alone (one list or dict increment, instead of one per
    ring) until another fine bucket opens or :meth:`flush` writes them out. Reads add
    the stage to the rings that accepted its bucket, so a flush changes nothing a read
    returns. Every read is pure. A delivery is staged as one entry, its two values'
    pair (:meth:`delivered`); what problem recipients said, as one entry for each
    distinct thing said, with how many said it (:meth:`note`).
    """

    __slots__ = (
        "_accepted",
        "_details",
        "_examples",
        "_fine",
        "_pairs",
        "_problems",
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
        # Deliveries: their values' pair (sesd.core.windows.value_keys) -> how many.
        self._pairs: dict[int, int] | None = None
        # What problem recipients said, for the breakdowns: Problem -> how many.
        self._problems: dict[Problem, int] | None = None
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
            if not ring.place(fine // self._ratios[index], now):
                continue
            accepted |= 1 << index
            details = self._details[index]
            if details is not None and ring.head != head:
                if ring.head < head:  # started again after the clock stepped back
                    details.buckets.clear()
                details.prune(ring.head - ring.slots + 1)
        self._accepted = accepted

    def delivered(self, t: float, now: float, pair: int) -> None:
        """Count one delivered recipient, with the pair (:func:`delivery_pair`) of its
        processing time's and time to delivery's keys (:data:`NO_VALUES` when SES gave
        no processing time: neither is recorded). Nine recipients in ten take this
        path: it does what :meth:`count` does, inline, and stages the delivery and its
        two values as one entry, written out as a count and two values when the stage
        is (a list increment and a dict's get and write fewer: 1,300 instructions a
        call, 2,300 an event, counted under cachegrind)."""
        self.changes += 1
        if not self._stage_from <= t < self._stage_to and t // self._fine != self._stage:
            self._open(t, now)
        pairs = self._pairs
        if pairs is None:
            pairs = self._pairs = {}
        pairs[pair] = pairs.get(pair, 0) + 1

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
        problems = self._problems  # (write_problems(), inline: a call every stage)
        if problems is not None:
            self._problems = None
            self._write_problems(problems)
        counts, values, pairs = self._staged_counts, self._staged, self._pairs
        if counts is None and not values and pairs is None:
            return
        self._staged_counts = self._staged = self._pairs = None
        # The types counted (a few of eleven), found once for every ring.
        counted: list[tuple[int, int]] = []
        if pairs is not None:  # the deliveries: a count, and their values
            if values is None:
                values = {}
            delivered = unpair(pairs, values)
            if counts is None:  # deliveries alone (most stages): their count is all
                counted.append((_DELIVERY, delivered))
            else:
                counts[_DELIVERY] += delivered
        if counts is not None:
            counted = [(i, n) for i, n in enumerate(counts) if n]
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
        cause = noted.cause
        if cause >= 0:
            staged = self._staged
            if staged is None:
                staged = self._staged = {}
            key = _CAUSE << 8 | cause  # value_key(), inline (its call: 300 instructions)
            staged[key] = staged.get(key, 0) + 1
        # What it said is staged, then counted in each breakdown when the stage is
        # written: an incident's recipients say the same few things, counted there once
        # for many (a recipient's five or so keys counted in each window noted in cost
        # about a fifth of a problem event's instructions, cachegrind).
        problems = self._problems
        if problems is None:
            problems = self._problems = self._detailed()
        keys, domain = noted.keys, noted.domain if with_domain else None
        if keys or domain is not None:
            problem = (keys, domain)
            problems[problem] = problems.get(problem, 0) + 1
            if len(problems) >= _PROBLEMS:
                self._write_problems(problems)
                problems.clear()

    def _detailed(self) -> dict[Problem, int]:
        """An empty stage of problems, once each window that keeps breakdowns and holds
        the stage's bucket has details: a window with a problem in it has them, even when
        the event said nothing more (a complaint), as its message ids are shown from
        them."""
        accepted = self._accepted
        for index, spec in enumerate(self._specs):
            if spec.breakdown and accepted >> index & 1 and self._details[index] is None:
                self._details[index] = Details(self._rings[index].slots)
        return {}

    def write_problems(self) -> None:
        """Count the problems staged in the breakdowns that keep them, and stage anew. A
        reload that changes which windows keep breakdowns calls this first: each problem
        counts in the windows that kept them when it came (as a read then said), and the
        next one makes the details of those kept from then on."""
        problems = self._problems
        if problems is not None:
            self._problems = None
            self._write_problems(problems)

    def _write_problems(self, problems: dict[Problem, int]) -> None:
        """Count staged problems in each breakdown that holds the stage's bucket."""
        if not problems:
            return
        for index, details in enumerate(self._details):
            if details is not None and self._specs[index].breakdown and self._accepted >> index & 1:
                details.add_noted(self._stage // self._ratios[index], problems)

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
        self._problems = None  # (staged for the details replaced here)
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
