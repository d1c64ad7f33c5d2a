"""Window layouts, and the figures a window gives at one moment."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

from sesd.core.events import EVENT_TYPE_INDEX

__all__ = ["NO_SUMMARY", "Figures", "Summary", "WindowSpec", "counts_figures", "window_specs"]

_SEND: Final = EVENT_TYPE_INDEX["send"]
_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]
_DELAY: Final = EVENT_TYPE_INDEX["delivery_delay"]
_BOUNCE: Final = EVENT_TYPE_INDEX["bounce"]
_COMPLAINT: Final = EVENT_TYPE_INDEX["complaint"]


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """One configured window: its label (``"15m"``), length and bucket layout.

    The window at time ``now`` holds the buckets numbered ``now // width - slots + 1``
    to ``now // width``: its length in whole buckets.
    """

    name: str
    seconds: float
    width: float
    slots: int
    #: Keep breakdowns for alert text (only windows that a rule reads need them).
    breakdown: bool = True

    def kept(self, breakdown: bool) -> WindowSpec:
        """This layout, keeping breakdowns or not."""
        return WindowSpec(self.name, self.seconds, self.width, self.slots, breakdown)

    def holds(self, t: float, now: float) -> bool:
        """Whether event time ``t`` (at most ``now``) is inside this window at ``now``."""
        # The buckets' numbers compared as the floats ``//`` gives, without int(): a
        # floor quotient of a time by a width of a second or more is a whole number far
        # below 2**53, so exact, and the two calls cost as much as the rest (every event).
        width = self.width
        return t // width > now // width - self.slots


def window_specs(
    sizes: Iterable[tuple[str, float]],
    resolution: float,
    max_buckets: int,
    breakdowns: Collection[str] | None = None,
) -> list[WindowSpec]:
    """Bucket layouts for the configured windows ((label, seconds) each), shortest
    first; ``breakdowns`` names the windows whose breakdowns are kept (all when None).
    Every width is a multiple of ``resolution``."""
    specs = []
    for name, seconds in sorted(sizes, key=lambda size: size[1]):
        steps = math.ceil(seconds / max_buckets / resolution)
        width = max(1, steps) * resolution
        keep = breakdowns is None or name in breakdowns
        specs.append(WindowSpec(name, seconds, width, math.ceil(seconds / width), keep))
    return specs


@dataclass(frozen=True, slots=True)
class Summary:
    """Observations of one quantity in one window (milliseconds): how many, their
    sum, and p50, p95 and p99 (None without observations). The quantiles and the sum
    come from log buckets, within their error (sesd.core.sketch)."""

    count: int
    sum_ms: float
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def quantiles(self) -> tuple[float | None, float | None, float | None]:
        """(p50, p95, p99)."""
        return self.p50, self.p95, self.p99


NO_SUMMARY: Final = Summary(0, 0.0, None, None, None)


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything one window says about one domain at one moment."""

    counts: tuple[int, ...]
    processing: Summary = NO_SUMMARY
    to_delivery: Summary = NO_SUMMARY
    delay_duration: Summary = NO_SUMMARY

    def count(self, event_type: str) -> int:
        """Recipients of one event type in the window."""
        return self.counts[EVENT_TYPE_INDEX[event_type]]

    @property
    def processing_ms(self) -> tuple[float | None, float | None, float | None]:
        """p50, p95 and p99 of ``processingTimeMillis``."""
        return self.processing.quantiles

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


# Figures(counts) without the frozen class's __init__, which sets each of the four
# fields through object.__setattr__ (each step of a rule on counts builds one): the
# slots' own descriptors set them, in half the time. The same object.
_new: Final = object.__new__
_SET_COUNTS, _SET_PROCESSING, _SET_TO_DELIVERY, _SET_DELAY_DURATION = (
    getattr(Figures, field).__set__
    for field in ("counts", "processing", "to_delivery", "delay_duration")
)


def counts_figures(counts: tuple[int, ...]) -> Figures:
    """``Figures(counts)``: counts alone, no values read (so no summaries)."""
    figures = _new(Figures)
    _SET_COUNTS(figures, counts)
    _SET_PROCESSING(figures, NO_SUMMARY)
    _SET_TO_DELIVERY(figures, NO_SUMMARY)
    _SET_DELAY_DURATION(figures, NO_SUMMARY)
    return figures
