"""The sliding windows as gauge families, built from the ledger at scrape time: each
scope's (domains, providers, tenants: recipients per event type, the ratios, the
latency summaries) and the message tags', in chunks of labels so that the HTTP
handler yields to the event loop between them (a scrape of a thousand domains never
stalls ingestion). sesd.metrics.pipeline yields them with the tallies."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, Metric

from sesd.core.events import EVENT_TYPES
from sesd.core.ledger import Ledger
from sesd.core.scopes import DOMAIN, Scope
from sesd.core.sketch import QUANTILES
from sesd.core.windows import DomainWindows, Summary, WindowSpec
from sesd.metrics.rows import Rows

__all__ = ["CHUNK", "RATIOS", "namer", "tag_families", "window_families"]

_QUANTILE_LABELS = tuple(str(q) for q in QUANTILES)
#: Labels per chunk of families (domains, tag values).
CHUNK = 25
RATIOS = (
    ("delay", "delayed / (delivered + delayed)"),
    ("bounce", "bounced / (delivered + bounced)"),
    ("complaint", "complained / (delivered + bounced)"),
    ("delivery", "delivered / sent (where Send events are published)"),
)


def window_families(ledger: Ledger, scope: Scope, now: float) -> Iterator[Metric]:
    """Window gauges, in chunks of labels: the HTTP handler yields to the event
    loop between chunks, so a scrape of a thousand domains never stalls ingestion."""
    items = list(scope.windows.items())
    for start in range(0, max(len(items), 1), CHUNK):
        yield from _window_chunk(ledger.specs, scope, items[start : start + CHUNK], now)


def _window_chunk(
    specs: Sequence[WindowSpec], scope: Scope, items: list[tuple[str, DomainWindows]], now: float
) -> Iterator[Metric]:
    axis, name = scope.axis, namer(scope)
    labels = [axis, "window"]
    counts = Rows(
        name("window_recipient_events"),
        "Recipients per event type in the sliding window.",
        "gauge",
        [axis, "window", "event_type"],
    )
    ratios = [
        Rows(
            name(f"window_{ratio}_ratio"),
            f"{text} recipients in the window (omitted without a denominator).",
            "gauge",
            labels,
        )
        for ratio, text in RATIOS
    ]
    summaries = [
        Rows(
            name("window_processing_seconds"),
            "SES processingTimeMillis of deliveries in the window, in seconds.",
            "summary",
            labels,
        ),
        Rows(
            name("window_delivery_seconds"),
            "Time from send to delivery of deliveries in the window, in seconds.",
            "summary",
            labels,
        ),
        Rows(
            name("window_delay_duration_seconds"),
            "How long delays lasted, for delayed recipients delivered or bounced in the "
            "window, in seconds.",
            "summary",
            labels,
        ),
    ]
    delay, bounce, complaint, delivery = ratios
    for label, windows in items:
        for index, spec in enumerate(specs):
            figures = windows.figures(index, now)
            where = (label, spec.name)
            for event_type, n in zip(EVENT_TYPES, figures.counts, strict=True):
                counts.add((label, spec.name, event_type), n)
            for family, value in (
                (delay, figures.delay_ratio),
                (bounce, figures.bounce_ratio),
                (complaint, figures.complaint_ratio),
                (delivery, figures.delivery_ratio),
            ):
                if value is not None:
                    family.add(where, value)
            for summary_family, summary in zip(
                summaries,
                (figures.processing, figures.to_delivery, figures.delay_duration),
                strict=True,
            ):
                _add_summary(summary_family, where, summary)
    yield counts
    yield from ratios
    yield from summaries


def tag_families(ledger: Ledger, now: float) -> Iterator[Metric]:
    """The message tags' totals, and their windows in chunks of tag values."""
    p = ledger
    if not p.tag_tables:
        return
    totals = CounterMetricFamily(
        "sesd_tag_recipient_events",
        "Recipients per event, by message tag value and event type.",
        labels=["tag", "value", "event_type"],
    )
    for (tag, value), tag_counts in p.tallies.tag_recipients.items():
        for name, n in zip(EVENT_TYPES, tag_counts, strict=True):
            totals.add_metric([tag, value, name], n)
    yield totals
    # In chunks of tag values, as the domains' windows: whole, 200 values were 6,600
    # samples in one family and held the event loop 23-28 ms of CPU a scrape.
    items = list(p.tag_windows.items())
    for start in range(0, max(len(items), 1), CHUNK):
        yield from _tag_chunk(p.specs, items[start : start + CHUNK], now)


def _tag_chunk(
    specs: Sequence[WindowSpec], items: list[tuple[tuple[str, str], DomainWindows]], now: float
) -> Iterator[Rows]:
    counts = Rows(
        "sesd_window_tag_recipient_events",
        "Recipients per event type in the window, by message tag value.",
        "gauge",
        ["tag", "value", "window", "event_type"],
    )
    ratio = Rows(
        "sesd_window_tag_delay_ratio",
        "delayed / (delivered + delayed) in the window, by message tag value.",
        "gauge",
        ["tag", "value", "window"],
    )
    for (tag, value), windows in items:
        for index, spec in enumerate(specs):
            figures = windows.figures(index, now)
            for name, n in zip(EVENT_TYPES, figures.counts, strict=True):
                counts.add((tag, value, spec.name, name), n)
            if figures.delay_ratio is not None:
                ratio.add((tag, value, spec.name), figures.delay_ratio)
    yield counts
    yield ratio


def namer(scope: Scope) -> Callable[[str], str]:
    """A scope's family names: ``sesd_NAME`` for domains, ``sesd_provider_NAME`` for
    providers (parallel families: a sum over one family never counts a recipient
    twice)."""
    prefix = "sesd_" if scope.axis == DOMAIN else f"sesd_{scope.axis}_"
    return lambda name: prefix + name


def _add_summary(family: Rows, where: tuple[str, str], summary: Summary) -> None:
    """A window's summary: quantile samples (seconds) while it has observations, then
    ``_count`` and ``_sum`` (0 and 0 for an empty window)."""
    quantiles = [
        (quantile, ms / 1000.0)
        for quantile, ms in zip(_QUANTILE_LABELS, summary.quantiles, strict=True)
        if ms is not None
    ]
    family.add_summary(where, quantiles, summary.count, summary.sum_ms / 1000.0)
