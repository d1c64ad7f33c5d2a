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
from typing import Any, Final, cast

from sesd.config import Duration
from sesd.events import EVENT_TYPE_INDEX, EVENT_TYPES
from sesd.sketch import add_index, bucket_of, new_sketch, quantile_of
from sesd.sketch import restore as restore_sketch
from sesd.sketch import snapshot as snapshot_sketch
from sesd.text import clean

__all__ = [
    "Breakdown",
    "DomainWindows",
    "Figures",
    "WindowSpec",
    "window_specs",
]

_T: Final = len(EVENT_TYPES)
_SEND: Final = EVENT_TYPE_INDEX["send"]
_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]
_DELAY: Final = EVENT_TYPE_INDEX["delivery_delay"]
_BOUNCE: Final = EVENT_TYPE_INDEX["bounce"]
_COMPLAINT: Final = EVENT_TYPE_INDEX["complaint"]
_EXAMPLES: Final = 5
#: Distinct values one coarse bucket's breakdown counts; the rest count as OVERFLOW.
_KEYS_PER_BUCKET: Final = 64
#: What values past the bound count as.
OVERFLOW: Final = "(other values)"
#: Coarse buckets per window for alert-text breakdowns.
_DETAIL_BUCKETS: Final = 6


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """One configured window: its label (``"15m"``), length and bucket layout."""

    name: str
    seconds: float
    width: float
    slots: int
    #: Keep breakdowns for alert text (only windows that a rule reads need them).
    breakdown: bool = True


def window_specs(
    sizes: list[Duration],
    resolution: Duration,
    max_buckets: int,
    breakdowns: set[str] | None = None,
) -> list[WindowSpec]:
    """Bucket layouts for the configured windows, shortest first; ``breakdowns`` names
    the windows whose breakdowns are kept (all when None)."""
    specs = []
    for size in sorted(sizes, key=lambda d: d.seconds):
        steps = math.ceil(size.seconds / max_buckets / resolution.seconds)
        width = max(1, steps) * resolution.seconds
        keep = breakdowns is None or size.text in breakdowns
        specs.append(
            WindowSpec(size.text, size.seconds, width, math.ceil(size.seconds / width), keep)
        )
    return specs


# The kinds a breakdown counts (delay types...) and keeps examples of (message ids...).
_DELAY_TYPE, _STATUS, _DIAGNOSTIC, _MTA = 0, 1, 2, 3
_MESSAGE_ID, _SOURCE, _CONFIG_SET = 0, 1, 2


#: A breakdown's key: a (kind, value) tuple, typed ``object`` where it is stored so
#: that compiled code passes the shared tuple itself (a ``tuple[int, str]`` would be
#: unpacked to a C struct and rebuilt, a new tuple in every bucket).
_Key = object
_KEYS: dict[tuple[int, str], _Key] = {}
_KEYS_MAX: Final = 50_000


def _key(kind: int, value: str) -> _Key:
    """One shared (kind, value) tuple per distinct pair: the same SMTP status or MTA
    in a hundred buckets is stored once (bounded, so a flood of values costs nothing)."""
    key = (kind, value)
    found = _KEYS.get(key)
    if found is None:
        found = key
        if len(_KEYS) < _KEYS_MAX:
            _KEYS[key] = found
    return found


def _pair(key: _Key) -> tuple[int, str]:
    """The (kind, value) of a breakdown key."""
    return cast(tuple[int, str], key)


def _count(details: dict[_Key, int], kind: int, value: str) -> None:
    """Count one (kind, value) in a coarse bucket's breakdown. A bucket counts at most
    ``_KEYS_PER_BUCKET`` distinct values: an outage with unique texts grows nothing."""
    key = _key(kind, value)
    if key not in details and len(details) >= _KEYS_PER_BUCKET:
        key = _key(kind, OVERFLOW)
    details[key] = details.get(key, 0) + 1


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
    """Counts per event type in ``slots`` buckets of ``width`` seconds.

    One column (``array('I')``) per event type, made on first use: a domain sees
    a few of the eleven types. Breakdowns for alert text are kept per coarse
    bucket of ``detail_span`` ring buckets (about a sixth of the window).
    """

    __slots__ = (
        "breakdown",
        "columns",
        "detail_span",
        "details",
        "head",
        "slots",
        "totals",
        "width",
    )

    def __init__(self, spec: WindowSpec) -> None:
        self.width = spec.width
        self.slots = spec.slots
        self.head = -(2**62)  # absolute number of the newest bucket
        self.columns: list[array[int] | None] = [None] * _T
        self.totals = [0] * _T
        # Coarse bucket -> counts per (kind, value) of what problem events said.
        self.details: dict[int, dict[_Key, int]] | None = None
        self.detail_span = max(1, spec.slots // _DETAIL_BUCKETS)
        self.breakdown = spec.breakdown

    def advance(self, bucket: int) -> None:
        """Move the head to ``bucket``, dropping what falls out of the window."""
        steps = bucket - self.head
        if steps <= 0:
            return
        slots, totals = self.slots, self.totals
        if steps >= slots:
            # Everything left the window: forget the columns (made again when used).
            self.columns = [None] * _T
            self.totals = [0] * _T
        else:
            for i, column in enumerate(self.columns):
                if column is None:
                    continue
                for b in range(self.head + 1, bucket + 1):
                    position = b % slots
                    n = column[position]
                    if n:
                        totals[i] -= n
                        column[position] = 0
        self.head = bucket
        if self.details:
            first = (bucket - slots + 1) // self.detail_span
            for b in [b for b in self.details if b < first]:
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
        column = self.columns[type_index]
        if column is None:
            column = self.columns[type_index] = array("I", bytes(4 * self.slots))
        column[bucket % self.slots] += n
        self.totals[type_index] += n

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file."""
        return {
            "head": self.head,
            "columns": {i: c.tobytes() for i, c in enumerate(self.columns) if c is not None},
            "totals": list(self.totals),
            "details": {
                b: [[*_pair(key), n] for key, n in d.items()]
                for b, d in (self.details or {}).items()
            },
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned (for the same layout)."""
        if len(data["totals"]) != _T:
            raise ValueError("window layout changed")
        columns: list[array[int] | None] = [None] * _T
        for i, raw in data["columns"].items():
            column = array("I")
            column.frombytes(raw)
            if len(column) != self.slots:
                raise ValueError("window layout changed")
            columns[int(i)] = column
        self.head, self.columns, self.totals = int(data["head"]), columns, list(data["totals"])
        self.details = {
            int(b): {_key(int(k), str(v)): int(n) for k, v, n in d}
            for b, d in data["details"].items()
        } or None

    def details_at(self, bucket: int) -> dict[_Key, int]:
        """The breakdown for the coarse bucket holding ``bucket``, made on first use."""
        if self.details is None:
            self.details = {}
        key = bucket // self.detail_span
        found = self.details.get(key)
        if found is None:
            found = self.details[key] = {}
        return found


class _Tumbling:
    """Two generations of a sketch, each ``seconds`` long, for one window."""

    __slots__ = ("current", "generation", "previous", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.generation = -(2**62)
        self.current = new_sketch()
        self.previous: array[int] | None = None

    def _roll(self, generation: int) -> None:
        if generation == self.generation + 1:
            self.previous = self.current
        else:
            self.previous = None
        self.current = new_sketch()
        self.generation = generation

    def add(self, t: float, index: int, n: int = 1) -> None:
        """Record ``n`` values of sketch bucket ``index`` at event time ``t``."""
        sketch = self._at(t)
        if sketch is not None:
            add_index(sketch, index, n)

    def add_all(self, t: float, counts: dict[int, int]) -> None:
        """Record values at event time ``t``: ``counts`` maps sketch buckets to numbers."""
        sketch = self._at(t)
        if sketch is not None:
            for index, n in counts.items():
                add_index(sketch, index, n)

    def _at(self, t: float) -> array[int] | None:
        """The generation holding event time ``t``, if it is still kept."""
        generation = int(t // self.seconds)
        if generation > self.generation:
            self._roll(generation)
        if generation == self.generation:
            return self.current
        if generation == self.generation - 1:
            return self.previous
        return None

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file."""
        previous = self.previous
        return {
            "generation": self.generation,
            "current": snapshot_sketch(self.current),
            "previous": None if previous is None else snapshot_sketch(previous),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned."""
        self.generation = int(data["generation"])
        self.current = restore_sketch(data["current"])
        previous = data["previous"]
        self.previous = None if previous is None else restore_sketch(previous)

    def quantiles(self, now: float, qs: tuple[float, ...]) -> tuple[float | None, ...]:
        generation = int(now // self.seconds)
        if generation > self.generation:
            self._roll(generation)
        parts = [(self.current, 1.0)]
        if self.previous is not None:
            # The share of the previous generation still inside the window.
            parts.append((self.previous, 1.0 - (now % self.seconds) / self.seconds))
        return tuple(quantile_of(parts, q) for q in qs)


def _add_staged(staged: dict[int, int] | None, sketches: list[_Tumbling] | None, t: float) -> None:
    """Apply staged sketch values (bucket -> number) to each window's sketch."""
    if staged and sketches is not None:
        for sketch in sketches:
            sketch.add_all(t, staged)


_QS: Final = (0.5, 0.95, 0.99)
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
        "_examples",
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
        # The most recent message ids, identities and configuration sets of problem
        # events, with their times; each window shows those inside it.
        self._examples: list[list[tuple[float, str]]] | None = None
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
        _add_staged(self._stage_processing, self._processing, t)
        _add_staged(self._stage_delivery, self._to_delivery, t)
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
        """Remember what a delay, bounce or complaint said, for alert text. Every text
        comes from a stranger (sesd.text): addresses hidden, bounded, escaped."""
        self._example(_MESSAGE_ID, t, clean(message_id))
        if source:
            self._example(_SOURCE, t, clean(source))
        if config_set:
            self._example(_CONFIG_SET, t, clean(config_set))
        for ring in self._rings:
            if not ring.breakdown:
                continue
            bucket = ring.bucket_for(t, now)
            if bucket is None:
                continue
            details = ring.details_at(bucket)
            if delay_type:
                _count(details, _DELAY_TYPE, clean(delay_type))
            for status in statuses:
                if status:
                    _count(details, _STATUS, clean(status))
            for diagnostic in diagnostics:
                if diagnostic:
                    _count(details, _DIAGNOSTIC, clean(diagnostic))
            if mta:
                _count(details, _MTA, clean(mta))

    def _example(self, kind: int, t: float, value: str) -> None:
        """Keep the most recent examples of a kind (with their times) for the domain."""
        if self._examples is None:
            self._examples = [[], [], []]
        recent = self._examples[kind]
        for _, known in recent:
            if known == value:
                return
        recent.append((t, value))
        if len(recent) > _EXAMPLES:
            del recent[0]

    def delivered(self, t: float, now: float, processing: int, to_delivery: int) -> None:
        """Count one delivered recipient, with the sketch buckets (:func:`bucket_of`) of
        its processing time and time to delivery; ``processing`` is -1 when SES gave
        none (then neither is recorded)."""
        if int(t // self._stage_width) != self._stage_bucket:
            self._stage(t, now)
        counts = self._stage_counts
        if counts is None:
            counts = self._stage_counts = [0] * _T
        counts[_DELIVERY] += 1
        if processing >= 0:
            self._stage_sketches(processing, to_delivery)

    def _stage_sketches(self, processing: int, to_delivery: int) -> None:
        """Stage one value of each sketch, by bucket, in the current fine bucket."""
        if self._processing is None or self._to_delivery is None:
            self._processing = [_Tumbling(spec.seconds) for spec in self._specs]
            self._to_delivery = [_Tumbling(spec.seconds) for spec in self._specs]
        staged = self._stage_processing
        if staged is None:
            staged = self._stage_processing = {}
            self._stage_delivery = {}
        delivery = self._stage_delivery
        assert delivery is not None
        staged[processing] = staged.get(processing, 0) + 1
        delivery[to_delivery] = delivery.get(to_delivery, 0) + 1

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
            "examples": None
            if self._examples is None
            else [[[t, v] for t, v in recent] for recent in self._examples],
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
        if data["examples"] is not None:
            self._examples = [
                [(float(t), str(v)) for t, v in recent][-_EXAMPLES:] for recent in data["examples"]
            ]

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

    def breakdown(self, index: int, now: float, top_n: int = 5) -> Breakdown:
        """Top delay types, codes, MTAs and examples in window ``index``."""
        ring = self._rings[index]
        ring.advance(int(now // ring.width))
        if not ring.details:
            return Breakdown()
        counts: Counter[_Key] = Counter()
        for details in ring.details.values():
            counts.update(details)
        pairs = [(_pair(key), n) for key, n in counts.items()]
        since = now - self._specs[index].seconds

        def top(kind: int) -> list[tuple[str, int]]:
            ranked = sorted(
                ((value, n) for (k, value), n in pairs if k == kind),
                key=lambda pair: (-pair[1], pair[0]),
            )
            return ranked[:top_n]

        def some(kind: int) -> list[str]:
            if self._examples is None:
                return []
            return [value for t, value in reversed(self._examples[kind]) if t > since]

        return Breakdown(
            delay_types=top(_DELAY_TYPE),
            statuses=top(_STATUS),
            diagnostics=top(_DIAGNOSTIC),
            mtas=top(_MTA),
            message_ids=some(_MESSAGE_ID),
            sources=some(_SOURCE),
            config_sets=some(_CONFIG_SET),
        )


def _quantiles(
    sketches: list[_Tumbling] | None, index: int, now: float
) -> tuple[float | None, float | None, float | None]:
    if sketches is None:
        return _NO_QUANTILES
    p50, p95, p99 = sketches[index].quantiles(now, _QS)
    return p50, p95, p99
