"""All windows of one domain (or tag value): rings, staged values, breakdowns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from sesd.events import EVENT_TYPE_INDEX
from sesd.sketch import bucket_of, summarise
from sesd.text import clean
from sesd.windows.breakdown import (
    CONFIG_SET,
    DELAY_TYPE,
    DIAGNOSTIC,
    MESSAGE_ID,
    MTA,
    SOURCE,
    STATUS,
    Breakdown,
    Details,
    Examples,
)
from sesd.windows.ring import KINDS, NEVER, Ring, value_key
from sesd.windows.specs import Figures, Summary, WindowSpec

__all__ = ["DomainWindows"]

_PROCESSING, _TO_DELIVERY, _DELAY_DURATION = 0, 1, 2
_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]


class DomainWindows:
    """Every window of one domain.

    Counts go straight into each ring. Values (processing times...) are staged for
    the current fine bucket (the largest width that divides every ring's width) and
    written to the rings once per fine bucket: one dict increment per value instead
    of a cell per ring. Reads include what is staged, so :meth:`flush` (before a
    snapshot) changes nothing a read returns. Every read is pure.
    """

    __slots__ = ("_details", "_examples", "_ratios", "_rings", "_specs", "_stage", "_staged")

    def __init__(self, specs: list[WindowSpec]) -> None:
        self._specs = specs
        self._rings = [Ring(spec.width, spec.slots) for spec in specs]
        self._details: list[Details | None] = [None] * len(specs)
        self._examples: Examples | None = None
        fine = math.gcd(*(round(spec.width * 1000) for spec in specs))
        self._ratios = [round(spec.width * 1000) // fine for spec in specs]
        self._stage = NEVER  # the fine bucket whose values are staged
        self._staged: dict[int, int] | None = None

    # --- write side ------------------------------------------------------------

    def count(self, t: float, now: float, type_index: int, n: int = 1) -> None:
        """Count ``n`` recipients of a type at event time ``t`` (at most ``now``)."""
        for index, ring in enumerate(self._rings):
            bucket = int(t // ring.width)
            if bucket == ring.head or self._place(index, bucket, now):
                ring.add(bucket, type_index, n)

    def _place(self, index: int, bucket: int, now: float) -> bool:
        ring = self._rings[index]
        head = ring.head
        if not ring.place(bucket, int(now // ring.width)):
            return False
        details = self._details[index]
        if details is not None and ring.head != head:
            if ring.head < head:  # started again after the clock stepped back
                details.buckets.clear()
            details.prune(ring.head - ring.slots + 1)
        return True

    def delivered(self, t: float, now: float, processing: int, to_delivery: int) -> None:
        """Count one delivered recipient, with the sketch buckets (:func:`bucket_of`) of
        its processing time and time to delivery; ``processing`` is -1 when SES gave
        none (then neither is recorded)."""
        self.count(t, now, _DELIVERY)
        if processing >= 0:
            staged = self._staged_at(t, now)
            key = value_key(_PROCESSING, processing)
            staged[key] = staged.get(key, 0) + 1
            key = value_key(_TO_DELIVERY, to_delivery)
            staged[key] = staged.get(key, 0) + 1

    def observe_delay_duration(self, t: float, now: float, duration_ms: float) -> None:
        """How long a delay lasted, once its recipient was delivered or bounced at ``t``
        (the Delivery or Bounce itself is counted by :meth:`count`)."""
        staged = self._staged_at(t, now)
        key = value_key(_DELAY_DURATION, bucket_of(duration_ms))
        staged[key] = staged.get(key, 0) + 1

    def _staged_at(self, t: float, now: float) -> dict[int, int]:
        """The staged values of ``t``'s fine bucket, writing out another one first."""
        fine = int(t // (self._rings[0].width / self._ratios[0]))
        if fine != self._stage:
            self.flush(now)
            self._stage = fine
        staged = self._staged
        if staged is None:
            staged = self._staged = {}
        return staged

    def flush(self, now: float) -> None:
        """Write the staged values to every ring still holding their bucket."""
        staged = self._staged
        if not staged:
            return
        self._staged = None
        for ring, ratio in zip(self._rings, self._ratios, strict=True):
            bucket = self._stage // ratio
            if ring.head - ring.slots < bucket <= ring.head:
                ring.add_values(bucket, staged)

    def note_problem(
        self,
        t: float,
        now: float,
        *,
        message_id: str,
        source: str,
        config_set: str,
        delay_type: str = "",
        statuses: Sequence[str] = (),
        diagnostics: Sequence[str] = (),
        mta: str = "",
    ) -> None:
        """Remember what a delay, bounce or complaint said, for alert text. Every text
        comes from a stranger (sesd.text): addresses hidden, bounded, escaped."""
        examples = self._examples
        if examples is None:
            examples = self._examples = Examples()
        examples.add(MESSAGE_ID, t, clean(message_id))
        if source:
            examples.add(SOURCE, t, clean(source))
        if config_set:
            examples.add(CONFIG_SET, t, clean(config_set))
        for index, (ring, spec) in enumerate(zip(self._rings, self._specs, strict=True)):
            if not spec.breakdown:
                continue
            bucket = int(t // ring.width)
            if not self._place(index, bucket, now):
                continue
            details = self._details[index]
            if details is None:
                details = self._details[index] = Details(ring.slots)
            if delay_type:
                details.add(bucket, DELAY_TYPE, clean(delay_type))
            for status in statuses:
                if status:
                    details.add(bucket, STATUS, clean(status))
            for diagnostic in diagnostics:
                if diagnostic:
                    details.add(bucket, DIAGNOSTIC, clean(diagnostic))
            if mta:
                details.add(bucket, MTA, clean(mta))

    # --- read side: pure ---------------------------------------------------------

    def counts(self, index: int, now: float) -> tuple[int, ...]:
        """Recipients per event type in window ``index`` (in spec order) at ``now``."""
        ring = self._rings[index]
        return tuple(ring.counts(int(now // ring.width)))

    def summaries(self, index: int, now: float) -> list[Summary]:
        """Processing time, time to delivery and delay duration in window ``index``."""
        ring = self._rings[index]
        now_bucket = int(now // ring.width)
        values = ring.values(now_bucket)
        staged = self._staged
        if staged and ring.holds(self._stage // self._ratios[index], now_bucket):
            for key, n in staged.items():
                found = values[key >> 8]
                found[key & 0xFF] = found.get(key & 0xFF, 0) + n
        out = []
        for kind in range(KINDS):
            count, sum_ms, (p50, p95, p99) = summarise(values[kind])
            out.append(Summary(count, sum_ms, p50, p95, p99))
        return out

    def figures(self, index: int, now: float) -> Figures:
        """Everything window ``index`` says at ``now``."""
        processing, to_delivery, delay_duration = self.summaries(index, now)
        return Figures(self.counts(index, now), processing, to_delivery, delay_duration)

    def breakdown(self, index: int, now: float, top_n: int = 5) -> Breakdown:
        """Top delay types, codes, MTAs and examples in window ``index`` at ``now``."""
        ring, details = self._rings[index], self._details[index]
        if details is None:
            return Breakdown()
        lo, hi = ring.span(int(now // ring.width))
        if hi <= lo:
            return Breakdown()
        delay_types, statuses, diagnostics, mtas = details.top(lo, hi, top_n)
        since = now - self._specs[index].seconds
        examples = self._examples or Examples()
        return Breakdown(
            delay_types=delay_types,
            statuses=statuses,
            diagnostics=diagnostics,
            mtas=mtas,
            message_ids=examples.since(MESSAGE_ID, since, now),
            sources=examples.since(SOURCE, since, now),
            config_sets=examples.since(CONFIG_SET, since, now),
        )

    # --- state file ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file (call :meth:`flush` first)."""
        return {
            "rings": [ring.snapshot() for ring in self._rings],
            "details": [None if d is None else d.snapshot() for d in self._details],
            "examples": None if self._examples is None else self._examples.snapshot(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned; ValueError if the layout differs."""
        if len(data["rings"]) != len(self._rings) or len(data["details"]) != len(self._rings):
            raise ValueError("window layout changed")
        for ring, ring_data in zip(self._rings, data["rings"], strict=True):
            ring.restore(ring_data)
        for index, found in enumerate(data["details"]):
            if found is not None:
                details = self._details[index] = Details(self._rings[index].slots)
                details.restore(found)
        if data["examples"] is not None:
            self._examples = Examples()
            self._examples.restore(data["examples"])
