"""The core's tallies and windows as metric families, built from the ledger at scrape
time.

The names and labels are a contract (the dashboard and the fleet rules use
them; README lists them). Per-event counters are plain tallies in the ledger;
:class:`PipelineCollector` turns them, and the windows, into families when
Prometheus scrapes: a pure read, at the time the scrape passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from sesd.core.events import EVENT_TYPES
from sesd.core.ledger import Ledger
from sesd.core.scopes import DOMAIN, Scope
from sesd.core.sketch import QUANTILES
from sesd.core.tallies import Outcome
from sesd.core.windows import DomainWindows, Summary
from sesd.metrics.dns import dns_families
from sesd.metrics.families import Family, described, histogram_family
from sesd.metrics.rows import Rows

__all__ = ["PipelineCollector"]

_QUANTILE_LABELS = tuple(str(q) for q in QUANTILES)
#: Domains per chunk of window families (see PipelineCollector._windows).
_CHUNK = 25
_RATIOS = (
    ("delay", "delayed / (delivered + delayed)"),
    ("bounce", "bounced / (delivered + bounced)"),
    ("complaint", "complained / (delivered + bounced)"),
    ("delivery", "delivered / sent (where Send events are published)"),
)


class PipelineCollector(Collector):
    """Exports the ledger's tallies and windows; takes the time once per scrape."""

    def __init__(self, ledger: Ledger, queues: Iterable[str], now: Callable[[], float]):
        self._ledger = ledger
        #: The configured queues: their series exist from the start, at 0.
        self.queues = list(queues)
        self._now = now

    def describe(self) -> Iterator[Metric]:
        """Every family :meth:`collect` yields, without samples."""
        ledger = self._ledger
        names = ["sesd_events", "sesd_messages", "sesd_invalid_messages", "sesd_skipped_messages"]
        kinds: list[Family] = [(name, "counter") for name in names]
        for scope in ledger.scopes:
            name = _namer(scope)
            kinds += [
                (name(n), "counter")
                for n in ("recipient_events", "delivery_delays", "bounces", "suppressed_recipients")
            ]
            kinds += [(name("window_recipient_events"), "gauge")]
            kinds += [(name(f"window_{ratio}_ratio"), "gauge") for ratio, _ in _RATIOS]
            kinds += [
                (name(n), "summary")
                for n in ("window_processing_seconds", "window_delivery_seconds",
                          "window_delay_duration_seconds")
            ]  # fmt: skip
            kinds += [(name("delayed_recipients_pending"), "gauge")]
        kinds += [
            ("sesd_late_events", "counter"),
            ("sesd_invalid_recipients", "counter"),
            ("sesd_pending_delays_overflow", "counter"),
            ("sesd_delivery_processing_seconds", "histogram"),
            ("sesd_event_lag_seconds", "histogram"),
            ("sesd_event_lag_latest_seconds", "gauge"),
            ("sesd_tracked_domains", "gauge"),
            ("sesd_duplicate_filter_entries", "gauge"),
        ]
        if ledger.tag_tables:
            kinds += [
                ("sesd_tag_recipient_events", "counter"),
                ("sesd_window_tag_recipient_events", "gauge"),
                ("sesd_window_tag_delay_ratio", "gauge"),
            ]
        if ledger.providers is not None:
            kinds += [
                ("sesd_dns_lookups", "counter"),
                ("sesd_dns_lookups_queued", "gauge"),
                ("sesd_dns_cache_entries", "gauge"),
                ("sesd_dns_failing", "gauge"),
            ]
        return described(kinds)

    def collect(self) -> Iterator[Metric]:
        """Build every pipeline metric family from current state."""
        ledger, tallies = self._ledger, self._ledger.tallies
        now = self._now()
        where = ledger.where

        events = CounterMetricFamily(
            "sesd_events",
            "SES events processed, by queue (its account and region) and event type.",
            labels=["queue", "account", "region", "event_type"],
        )
        for queue in sorted(set(self.queues) | set(tallies.events)):
            counts = tallies.events.get(queue) or [0] * len(EVENT_TYPES)
            for name, n in zip(EVENT_TYPES, counts, strict=True):
                events.add_metric([queue, *where(queue), name], n)
        yield events

        messages = CounterMetricFamily(
            "sesd_messages",
            "SQS messages handled, by queue (its account and region) and outcome.",
            labels=["queue", "account", "region", "outcome"],
        )
        counted = tallies.messages
        for queue in sorted(set(self.queues) | {q for q, _ in counted}):
            for outcome in Outcome:
                n = counted.get((queue, outcome), 0)
                messages.add_metric([queue, *where(queue), outcome.value], n)
        yield messages

        for name, what, counted in (
            ("sesd_invalid_messages", "Invalid SQS messages", tallies.invalid),
            ("sesd_skipped_messages", "SQS messages that are no email event", tallies.skipped),
        ):
            family = CounterMetricFamily(
                name,
                f"{what}, by queue (its account and region) and reason.",
                labels=["queue", "account", "region", "reason"],
            )
            for (queue, reason), n in sorted(counted.items()):
                family.add_metric([queue, *where(queue), reason], n)
            yield family

        for scope in ledger.scopes:
            yield from self._counters(scope)
        yield from self._totals()
        for scope in ledger.scopes:
            yield from self._windows(scope, now)
            yield self._pending(scope, now)
        yield GaugeMetricFamily(
            "sesd_event_lag_latest_seconds",
            "How far behind sesd reads: the lag of the freshest event of the latest two "
            "receives, on the queue furthest behind.",
            value=ledger.tallies.behind(now),
        )
        yield GaugeMetricFamily(
            "sesd_tracked_domains",
            "Domains tracked under their own label.",
            value=len(ledger.domains),
        )
        yield GaugeMetricFamily(
            "sesd_duplicate_filter_entries",
            "Event keys remembered for duplicate suppression.",
            value=len(ledger.dedup),
        )
        yield from self._tags(now)
        if ledger.providers is not None:
            yield from dns_families(ledger.providers)

    def _totals(self) -> Iterator[Metric]:
        ledger, tallies = self._ledger, self._ledger.tallies
        yield CounterMetricFamily(
            "sesd_late_events",
            "Events older than the largest window: counted in totals, not in windows.",
            value=tallies.late_events,
        )
        yield CounterMetricFamily(
            "sesd_invalid_recipients",
            "Recipient addresses without a usable domain in otherwise valid events.",
            value=tallies.invalid_recipients,
        )
        yield CounterMetricFamily(
            "sesd_pending_delays_overflow",
            "Delayed recipients not tracked as pending because the table was full.",
            value=ledger.pending.overflow,
        )
        yield histogram_family(
            "sesd_delivery_processing_seconds",
            "SES processingTimeMillis of Delivery events, in seconds.",
            tallies.processing,
        )
        yield histogram_family(
            "sesd_event_lag_seconds",
            "Receive time minus event time.",
            tallies.lag,
        )

    def _counters(self, scope: Scope) -> Iterator[Metric]:
        """A scope's recipient, delay and bounce counters, in chunks of labels."""
        axis, name = scope.axis, _namer(scope)
        recipient_items = list(scope.recipients.items())
        for start in range(0, max(len(recipient_items), 1), _CHUNK):
            recipients = Rows(
                name("recipient_events"),
                f"Recipients per event, by {axis} and event type.",
                "counter",
                [axis, "event_type"],
            )
            for label, counts in recipient_items[start : start + _CHUNK]:
                for event_type, n in zip(EVENT_TYPES, counts, strict=True):
                    recipients.add((label, event_type), n)
            yield recipients

        yield _by_kind(
            name("delivery_delays"),
            f"Delayed recipients, by {axis}, SES delay type and cause (sesd cause).",
            [axis, "delay_type", "cause"],
            scope.delays,
        )
        yield _by_kind(
            name("bounces"),
            f"Bounced recipients, by {axis}, bounce type and subtype (suppressed ones apart).",
            [axis, "bounce_type", "bounce_subtype"],
            scope.bounces,
        )
        suppressed = Rows(
            name("suppressed_recipients"),
            f"Recipients SES did not send to because a suppression list (global, account, "
            f"tenant) holds them, by {axis} and bounce subtype: not bounces.",
            "counter",
            [axis, "bounce_subtype"],
        )
        for label, per_subtype in scope.suppressed.items():
            for subtype, n in per_subtype.items():
                suppressed.add((label, subtype), n)
        yield suppressed

    def _pending(self, scope: Scope, now: float) -> Metric:
        pending = Rows(
            _namer(scope)("delayed_recipients_pending"),
            "Recipients with a DeliveryDelay and no Delivery or Bounce yet.",
            "gauge",
            [scope.axis],
        )
        pending_counts = self._ledger.pending.counts(now, scope.index)
        for label in scope.windows:
            pending.add((label,), pending_counts.get(label, 0))
        return pending

    def _windows(self, scope: Scope, now: float) -> Iterator[Metric]:
        """Window gauges, in chunks of labels: the HTTP handler yields to the event
        loop between chunks, so a scrape of a thousand domains never stalls ingestion."""
        items = list(scope.windows.items())
        for start in range(0, max(len(items), 1), _CHUNK):
            yield from self._window_chunk(scope, items[start : start + _CHUNK], now)

    def _window_chunk(
        self, scope: Scope, items: list[tuple[str, DomainWindows]], now: float
    ) -> Iterator[Metric]:
        specs = self._ledger.specs
        axis, name = scope.axis, _namer(scope)
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
            for ratio, text in _RATIOS
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

    def _tags(self, now: float) -> Iterator[Metric]:
        p = self._ledger
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
        for start in range(0, max(len(items), 1), _CHUNK):
            yield from self._tag_chunk(items[start : start + _CHUNK], now)

    def _tag_chunk(
        self, items: list[tuple[tuple[str, str], DomainWindows]], now: float
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
            for index, spec in enumerate(self._ledger.specs):
                figures = windows.figures(index, now)
                for name, n in zip(EVENT_TYPES, figures.counts, strict=True):
                    counts.add((tag, value, spec.name, name), n)
                if figures.delay_ratio is not None:
                    ratio.add((tag, value, spec.name), figures.delay_ratio)
        yield counts
        yield ratio


def _by_kind(
    name: str, documentation: str, labels: list[str], table: dict[str, dict[tuple[str, str], int]]
) -> Metric:
    """A counter family from a per-label tally keyed by two more label values."""
    family = Rows(name, documentation, "counter", labels)
    for label, per_kind in table.items():
        for (first, second), n in per_kind.items():
            family.add((label, first, second), n)
    return family


def _namer(scope: Scope) -> Callable[[str], str]:
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
