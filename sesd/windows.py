"""Stage 4: sliding windows per tracked domain, kept in event time.

Each window is a ring of fixed-width buckets holding recipient counts per event
type, with running totals so a read costs nothing however long the window.
The bucket width is ``resolution`` (10 s by default), widened for long windows
so no ring has more than ``max_buckets`` buckets: with the defaults the 5m
window moves in 10 s steps, 15m in 30 s and 1h in 2 min steps. That keeps a
domain's state a few kilobytes.

Breakdowns for alert text (delay types, SMTP status and diagnostic codes,
reporting MTAs, bounce types, example message ids, sending identities,
configuration sets) are kept per bucket only where problem events occurred.
Quantile sketches use two tumbling generations per window, the older one
weighted by the share of it still inside the window.

Pure code: time is always a parameter.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sesd.config import Duration
from sesd.events import EVENT_TYPE_INDEX, EVENT_TYPES
from sesd.sketch import LogSketch, bucket_of, quantile_of

__all__ = [
    "Breakdown",
    "DomainWindows",
    "Figures",
    "WindowSpec",
    "window_specs",
]

_T = len(EVENT_TYPES)
_SEND = EVENT_TYPE_INDEX["send"]
_DELIVERY = EVENT_TYPE_INDEX["delivery"]
_DELAY = EVENT_TYPE_INDEX["delivery_delay"]
_BOUNCE = EVENT_TYPE_INDEX["bounce"]
_COMPLAINT = EVENT_TYPE_INDEX["complaint"]
_EXAMPLES = 5
_ZEROS = array("I", bytes(4 * _T))


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """One configured window: its label (``"15m"``), length and bucket layout."""

    name: str
    seconds: float
    width: float
    slots: int


def window_specs(sizes: list[Duration], resolution: Duration, max_buckets: int) -> list[WindowSpec]:
    """Bucket layouts for the configured windows, shortest first."""
    specs = []
    for size in sorted(sizes, key=lambda d: d.seconds):
        steps = math.ceil(size.seconds / max_buckets / resolution.seconds)
        width = max(1, steps) * resolution.seconds
        specs.append(WindowSpec(size.text, size.seconds, width, math.ceil(size.seconds / width)))
    return specs


class _Details:
    """What problem events in one bucket said, for alert text."""

    __slots__ = (
        "config_sets",
        "delay_types",
        "diagnostics",
        "message_ids",
        "mtas",
        "sources",
        "statuses",
    )

    def __init__(self) -> None:
        self.delay_types: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.diagnostics: Counter[str] = Counter()
        self.mtas: Counter[str] = Counter()
        self.message_ids: list[str] = []
        self.sources: dict[str, None] = {}
        self.config_sets: dict[str, None] = {}

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file."""
        return {
            "delay_types": dict(self.delay_types),
            "statuses": dict(self.statuses),
            "diagnostics": dict(self.diagnostics),
            "mtas": dict(self.mtas),
            "message_ids": list(self.message_ids),
            "sources": list(self.sources),
            "config_sets": list(self.config_sets),
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> _Details:
        """Rebuild from :meth:`snapshot`."""
        details = cls()
        details.delay_types.update(data["delay_types"])
        details.statuses.update(data["statuses"])
        details.diagnostics.update(data["diagnostics"])
        details.mtas.update(data["mtas"])
        details.message_ids = list(data["message_ids"])
        details.sources = dict.fromkeys(data["sources"])
        details.config_sets = dict.fromkeys(data["config_sets"])
        return details


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Top values over one window, most frequent first, with counts."""

    delay_types: list[tuple[str, int]] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    diagnostics: list[tuple[str, int]] = field(default_factory=list)
    mtas: list[tuple[str, int]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    config_sets: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything one window says about one domain at one moment."""

    counts: tuple[int, ...]
    processing_ms: tuple[float | None, float | None, float | None]
    to_delivery_ms: tuple[float | None, float | None, float | None]
    delay_duration_ms: tuple[float | None, float | None, float | None]

    def count(self, event_type: str) -> int:
        """Recipients of one event type in the window."""
        return self.counts[EVENT_TYPE_INDEX[event_type]]

    @property
    def delay_ratio(self) -> float | None:
        """delayed / (delivered + delayed), None without either."""
        delayed, delivered = self.counts[_DELAY], self.counts[_DELIVERY]
        return delayed / (delivered + delayed) if delayed + delivered else None

    @property
    def bounce_ratio(self) -> float | None:
        """bounced / (delivered + bounced)."""
        bounced, delivered = self.counts[_BOUNCE], self.counts[_DELIVERY]
        return bounced / (delivered + bounced) if bounced + delivered else None

    @property
    def complaint_ratio(self) -> float | None:
        """complained / (delivered + bounced)."""
        denominator = self.counts[_DELIVERY] + self.counts[_BOUNCE]
        return self.counts[_COMPLAINT] / denominator if denominator else None

    @property
    def delivery_ratio(self) -> float | None:
        """delivered / sent, where Send events are published."""
        sent = self.counts[_SEND]
        return self.counts[_DELIVERY] / sent if sent else None


class _Ring:
    """Counts per event type in ``slots`` buckets of ``width`` seconds."""

    __slots__ = ("counts", "details", "head", "slots", "totals", "width")

    def __init__(self, spec: WindowSpec) -> None:
        self.width = spec.width
        self.slots = spec.slots
        self.head = -(2**62)  # absolute number of the newest bucket
        self.counts = array("I", bytes(4 * _T * spec.slots))
        self.totals = [0] * _T
        self.details: dict[int, _Details] | None = None

    def advance(self, bucket: int) -> None:
        """Move the head to ``bucket``, dropping what falls out of the window."""
        steps = bucket - self.head
        if steps <= 0:
            return
        counts, totals, slots = self.counts, self.totals, self.slots
        if steps >= slots:
            self.counts = array("I", bytes(4 * _T * slots))
            self.totals = [0] * _T
        else:
            for b in range(self.head + 1, bucket + 1):
                start = (b % slots) * _T
                for i in range(_T):
                    n = counts[start + i]
                    if n:
                        totals[i] -= n
                counts[start : start + _T] = _ZEROS
        self.head = bucket
        if self.details:
            oldest = bucket - slots
            for b in [b for b in self.details if b <= oldest]:
                del self.details[b]

    def bucket_for(self, t: float, now: float) -> int | None:
        """The bucket of time ``t`` after advancing to ``now``; None if outside."""
        head = int(now // self.width)
        if head > self.head:
            self.advance(head)
        bucket = int(t // self.width)
        if bucket <= self.head - self.slots or bucket > self.head:
            return None
        return bucket

    def add(self, bucket: int, type_index: int, n: int) -> None:
        """Count ``n`` recipients of a type in a bucket returned by bucket_for."""
        self.counts[(bucket % self.slots) * _T + type_index] += n
        self.totals[type_index] += n

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file."""
        return {
            "head": self.head,
            "counts": self.counts.tobytes(),
            "totals": list(self.totals),
            "details": {b: d.snapshot() for b, d in (self.details or {}).items()},
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned (for the same layout)."""
        counts = array("I")
        counts.frombytes(data["counts"])
        if len(counts) != len(self.counts) or len(data["totals"]) != _T:
            raise ValueError("window layout changed")
        self.head, self.counts, self.totals = int(data["head"]), counts, list(data["totals"])
        self.details = {int(b): _Details.restore(d) for b, d in data["details"].items()} or None

    def details_at(self, bucket: int) -> _Details:
        """The breakdown for a bucket, created on first use."""
        if self.details is None:
            self.details = {}
        found = self.details.get(bucket)
        if found is None:
            found = self.details[bucket] = _Details()
        return found


class _Tumbling:
    """Two generations of a sketch, each ``seconds`` long, for one window."""

    __slots__ = ("current", "generation", "previous", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.generation = -(2**62)
        self.current = LogSketch()
        self.previous: LogSketch | None = None

    def _roll(self, generation: int) -> None:
        if generation == self.generation + 1:
            self.previous = self.current
        else:
            self.previous = None
        self.current = LogSketch()
        self.generation = generation

    def add(self, t: float, index: int, n: int = 1) -> None:
        """Record ``n`` values of sketch bucket ``index`` at event time ``t``."""
        generation = int(t // self.seconds)
        if generation > self.generation:
            self._roll(generation)
        if generation == self.generation:
            self.current.add_index(index, n)
        elif generation == self.generation - 1 and self.previous is not None:
            self.previous.add_index(index, n)

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file."""
        previous = self.previous
        return {
            "generation": self.generation,
            "current": dict(self.current.buckets),
            "previous": None if previous is None else dict(previous.buckets),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned."""
        self.generation = int(data["generation"])
        self.current = _sketch(data["current"])
        self.previous = None if data["previous"] is None else _sketch(data["previous"])

    def quantiles(self, now: float, qs: tuple[float, ...]) -> tuple[float | None, ...]:
        generation = int(now // self.seconds)
        if generation > self.generation:
            self._roll(generation)
        parts = [(self.current, 1.0)]
        if self.previous is not None:
            # The share of the previous generation still inside the window.
            parts.append((self.previous, 1.0 - (now % self.seconds) / self.seconds))
        return tuple(quantile_of(parts, q) for q in qs)


def _sketch(buckets: dict[Any, int]) -> LogSketch:
    sketch = LogSketch()
    sketch.buckets = {int(k): int(v) for k, v in buckets.items()}
    sketch.count = sum(sketch.buckets.values())
    return sketch


_QS = (0.5, 0.95, 0.99)
_NO_QUANTILES: tuple[None, None, None] = (None, None, None)


class DomainWindows:
    """All windows of one domain (or tag value).

    Counts and sketch values are staged for the current fine bucket (the
    largest width that divides every ring's bucket width) and applied to the
    rings and sketches once per bucket, or before any read: one dict or list
    increment per event instead of three ring updates and six sketch updates.
    """

    __slots__ = (
        "_delay_durations",
        "_processing",
        "_rings",
        "_specs",
        "_stage_bucket",
        "_stage_counts",
        "_stage_delivery",
        "_stage_processing",
        "_stage_width",
        "_to_delivery",
    )

    def __init__(self, specs: list[WindowSpec]) -> None:
        self._specs = specs
        self._rings = [_Ring(spec) for spec in specs]
        self._processing: list[_Tumbling] | None = None
        self._to_delivery: list[_Tumbling] | None = None
        self._delay_durations: list[_Tumbling] | None = None
        self._stage_width = math.gcd(*(round(spec.width * 1000) for spec in specs)) / 1000
        self._stage_bucket = -(2**62)
        self._stage_counts: list[int] | None = None
        self._stage_processing: dict[int, int] | None = None
        self._stage_delivery: dict[int, int] | None = None

    def _stage(self, t: float, now: float) -> None:
        """Make ``t``'s fine bucket the staged one, applying what the previous held."""
        bucket = int(t // self._stage_width)
        if bucket != self._stage_bucket:
            self.flush(now)
            self._stage_bucket = bucket

    def flush(self, now: float) -> None:
        """Apply the staged bucket to the rings and sketches, as of ``now``."""
        t = self._stage_bucket * self._stage_width
        counts = self._stage_counts
        if counts is not None:
            self._stage_counts = None
            for ring in self._rings:
                bucket = ring.bucket_for(t, now)
                if bucket is not None:
                    for type_index, n in enumerate(counts):
                        if n:
                            ring.add(bucket, type_index, n)
        for staged, sketches in (
            (self._stage_processing, self._processing),
            (self._stage_delivery, self._to_delivery),
        ):
            if staged and sketches is not None:
                for sketch in sketches:
                    for index, n in staged.items():
                        sketch.add(t, index, n)
        self._stage_processing = self._stage_delivery = None

    def count(self, t: float, now: float, type_index: int, n: int = 1) -> None:
        """Count ``n`` recipients of a type at event time ``t``."""
        if int(t // self._stage_width) != self._stage_bucket:
            self._stage(t, now)
        counts = self._stage_counts
        if counts is None:
            counts = self._stage_counts = [0] * _T
        counts[type_index] += n

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
        """Remember what a delay, bounce or complaint said, for alert text."""
        for ring in self._rings:
            bucket = ring.bucket_for(t, now)
            if bucket is None:
                continue
            details = ring.details_at(bucket)
            if delay_type:
                details.delay_types[delay_type] += 1
            for status in statuses:
                if status:
                    details.statuses[status] += 1
            for diagnostic in diagnostics:
                if diagnostic:
                    details.diagnostics[diagnostic[:200]] += 1
            if mta:
                details.mtas[mta] += 1
            if len(details.message_ids) < _EXAMPLES and message_id not in details.message_ids:
                details.message_ids.append(message_id)
            if source and len(details.sources) < _EXAMPLES:
                details.sources[source] = None
            if config_set and len(details.config_sets) < _EXAMPLES:
                details.config_sets[config_set] = None

    def observe_processing(self, t: float, processing_ms: float, to_delivery_ms: float) -> None:
        """Record a delivery's processing time and time to delivery."""
        if self._processing is None or self._to_delivery is None:
            self._processing = [_Tumbling(spec.seconds) for spec in self._specs]
            self._to_delivery = [_Tumbling(spec.seconds) for spec in self._specs]
        if int(t // self._stage_width) != self._stage_bucket:
            self._stage(t, t)
        staged = self._stage_processing
        if staged is None:
            staged = self._stage_processing = {}
            self._stage_delivery = {}
        delivery = self._stage_delivery
        assert delivery is not None
        index = bucket_of(processing_ms)
        staged[index] = staged.get(index, 0) + 1
        index = bucket_of(to_delivery_ms)
        delivery[index] = delivery.get(index, 0) + 1

    def observe_delay_duration(self, t: float, duration_ms: float) -> None:
        """Record how long a delay lasted once its recipient was delivered or bounced."""
        if self._delay_durations is None:
            self._delay_durations = [_Tumbling(spec.seconds) for spec in self._specs]
        index = bucket_of(duration_ms)
        for sketch in self._delay_durations:
            sketch.add(t, index)

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file (call :meth:`flush` first)."""

        def sketches(found: list[_Tumbling] | None) -> list[dict[str, Any]] | None:
            return None if found is None else [t.snapshot() for t in found]

        return {
            "rings": [ring.snapshot() for ring in self._rings],
            "processing": sketches(self._processing),
            "to_delivery": sketches(self._to_delivery),
            "delay_durations": sketches(self._delay_durations),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned; ValueError if the layout differs."""
        if len(data["rings"]) != len(self._rings):
            raise ValueError("window layout changed")
        for ring, ring_data in zip(self._rings, data["rings"], strict=True):
            ring.restore(ring_data)

        def sketches(found: list[dict[str, Any]] | None) -> list[_Tumbling] | None:
            if found is None:
                return None
            out = [_Tumbling(spec.seconds) for spec in self._specs]
            for sketch, sketch_data in zip(out, found, strict=True):
                sketch.restore(sketch_data)
            return out

        self._processing = sketches(data["processing"])
        self._to_delivery = sketches(data["to_delivery"])
        self._delay_durations = sketches(data["delay_durations"])

    def figures(self, index: int, now: float) -> Figures:
        """The figures of window ``index`` (in spec order) as of ``now``."""
        self.flush(now)
        ring = self._rings[index]
        ring.advance(int(now // ring.width))
        return Figures(
            counts=tuple(ring.totals),
            processing_ms=_quantiles(self._processing, index, now),
            to_delivery_ms=_quantiles(self._to_delivery, index, now),
            delay_duration_ms=_quantiles(self._delay_durations, index, now),
        )

    def breakdown(self, index: int, now: float, top: int = 5) -> Breakdown:
        """Top delay types, codes, MTAs and examples in window ``index``."""
        ring = self._rings[index]
        ring.advance(int(now // ring.width))
        if not ring.details:
            return Breakdown()
        delay_types: Counter[str] = Counter()
        statuses: Counter[str] = Counter()
        diagnostics: Counter[str] = Counter()
        mtas: Counter[str] = Counter()
        ids: dict[str, None] = {}
        sources: dict[str, None] = {}
        config_sets: dict[str, None] = {}
        for bucket in sorted(ring.details, reverse=True):
            details = ring.details[bucket]
            delay_types.update(details.delay_types)
            statuses.update(details.statuses)
            diagnostics.update(details.diagnostics)
            mtas.update(details.mtas)
            ids.update(dict.fromkeys(details.message_ids))
            sources.update(details.sources)
            config_sets.update(details.config_sets)
        return Breakdown(
            delay_types=delay_types.most_common(top),
            statuses=statuses.most_common(top),
            diagnostics=diagnostics.most_common(top),
            mtas=mtas.most_common(top),
            message_ids=list(ids)[:_EXAMPLES],
            sources=list(sources)[:_EXAMPLES],
            config_sets=list(config_sets)[:_EXAMPLES],
        )


def _quantiles(
    sketches: list[_Tumbling] | None, index: int, now: float
) -> tuple[float | None, float | None, float | None]:
    if sketches is None:
        return _NO_QUANTILES
    p50, p95, p99 = sketches[index].quantiles(now, _QS)
    return p50, p95, p99
