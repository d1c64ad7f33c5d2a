"""Stage 5: Prometheus metrics, built from live pipeline state at scrape time.

The names and labels of SPEC section 5 are a contract (the dashboard and the
fleet rules use them). Per-event counters are plain tallies in the pipeline;
:class:`PipelineCollector` turns them, and the windows, into metric families
when Prometheus scrapes. Low-rate I/O counters (SQS errors) are ordinary
client metrics on the same registry.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from sesd import __version__
from sesd.events import EVENT_TYPES
from sesd.pipeline import Pipeline
from sesd.providers.resolver import ProviderResolver
from sesd.scopes import DOMAIN, Scope
from sesd.sketch import QUANTILES
from sesd.tallies import FixedHistogram
from sesd.windows import DomainWindows, Summary

__all__ = ["OUTCOMES", "SQS_OPERATIONS", "Metrics", "PipelineCollector", "histogram_family"]

OUTCOMES = ("processed", "skipped", "invalid", "duplicate")
#: The ``operation`` label values of ``sesd_sqs_errors_total``.
SQS_OPERATIONS = ("receive", "delete", "release", "process")

# No `_created` series: they double the counters' series and sesd's text
# writer (sesd.exposition) keeps each family to its own samples.
disable_created_metrics()  # type: ignore[no-untyped-call]
_QUANTILE_LABELS = tuple(str(q) for q in QUANTILES)
#: Domains per chunk of window families (see PipelineCollector._windows).
_CHUNK = 25


#: A configured queue: its label, or (label, account, region).
QueueSpec = str | tuple[str, str, str]


class PipelineCollector(Collector):
    """Exports the pipeline's tallies and windows; reads ``clock()`` once per scrape."""

    def __init__(self, pipeline: Pipeline, queues: Iterable[QueueSpec], clock: Callable[[], float]):
        self._pipeline = pipeline
        #: Queue label -> (account, region), kept for queues a reload removed (their
        #: counters stay).
        self.where: dict[str, tuple[str, str]] = {}
        self.queues: list[str] = []
        self.set_queues(queues)
        self._clock = clock

    def set_queues(self, queues: Iterable[QueueSpec]) -> None:
        """The configured queues, and where each is."""
        self.queues = []
        for queue in queues:
            label, account, region = (queue, "default", "") if isinstance(queue, str) else queue
            self.queues.append(label)
            self.where[label] = (account, region)

    def _where(self, queue: str) -> tuple[str, str]:
        return self.where.get(queue, ("default", ""))

    def collect(self) -> Iterator[Metric]:
        """Build every pipeline metric family from current state."""
        p, tallies = self._pipeline, self._pipeline.tallies
        now = self._clock()

        events = CounterMetricFamily(
            "sesd_events",
            "SES events processed, by queue (its account and region) and event type.",
            labels=["queue", "account", "region", "event_type"],
        )
        for queue in sorted(set(self.queues) | set(tallies.events)):
            counts = tallies.events.get(queue) or [0] * len(EVENT_TYPES)
            for name, n in zip(EVENT_TYPES, counts, strict=True):
                events.add_metric([queue, *self._where(queue), name], n)
        yield events

        messages = CounterMetricFamily(
            "sesd_messages",
            "SQS messages handled, by queue (its account and region) and outcome.",
            labels=["queue", "account", "region", "outcome"],
        )
        queues = sorted(set(self.queues) | {q for q, _ in tallies.messages})
        for queue in queues:
            for outcome in OUTCOMES:
                n = tallies.messages.get((queue, outcome), 0)
                messages.add_metric([queue, *self._where(queue), outcome], n)
        yield messages

        invalid = CounterMetricFamily(
            "sesd_invalid_messages",
            "Invalid SQS messages, by queue (its account and region) and reason.",
            labels=["queue", "account", "region", "reason"],
        )
        for (queue, reason), n in sorted(tallies.invalid.items()):
            invalid.add_metric([queue, *self._where(queue), reason], n)
        yield invalid

        for scope in p.scopes:
            yield from self._counters(scope)
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
            value=p.pending.overflow,
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

        for scope in p.scopes:
            yield from self._windows(scope, now)
            yield self._pending(scope, now)

        tracked = GaugeMetricFamily(
            "sesd_tracked_domains", "Domains tracked under their own label.", value=len(p.domains)
        )
        yield tracked
        yield GaugeMetricFamily(
            "sesd_duplicate_filter_entries",
            "Event keys remembered for duplicate suppression.",
            value=len(p.dedup),
        )
        yield from self._tags(now)
        if p.resolver is not None:
            yield from _dns(p.resolver)

    def _counters(self, scope: Scope) -> Iterator[Metric]:
        """A scope's recipient, delay and bounce counters, in chunks of labels."""
        axis, name = scope.axis, _namer(scope)
        recipient_items = list(scope.recipients.items())
        for start in range(0, max(len(recipient_items), 1), _CHUNK):
            recipients = CounterMetricFamily(
                name("recipient_events"),
                f"Recipients per event, by {axis} and event type.",
                labels=[axis, "event_type"],
            )
            for label, counts in recipient_items[start : start + _CHUNK]:
                for event_type, n in zip(EVENT_TYPES, counts, strict=True):
                    recipients.add_metric([label, event_type], n)
            yield recipients

        yield _by_kind(
            name("delivery_delays"),
            f"Delayed recipients, by {axis}, SES delay type and cause (sesd cause).",
            [axis, "delay_type", "cause"],
            scope.delays,
        )
        yield _by_kind(
            name("bounces"),
            f"Bounced recipients, by {axis}, bounce type and subtype.",
            [axis, "bounce_type", "bounce_subtype"],
            scope.bounces,
        )

    def _pending(self, scope: Scope, now: float) -> Metric:
        pending = GaugeMetricFamily(
            _namer(scope)("delayed_recipients_pending"),
            "Recipients with a DeliveryDelay and no Delivery or Bounce yet.",
            labels=[scope.axis],
        )
        pending_counts = self._pipeline.pending.counts(now, scope.index)
        for label in scope.windows:
            pending.add_metric([label], pending_counts.get(label, 0))
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
        specs = self._pipeline.specs
        axis, name = scope.axis, _namer(scope)
        labels = [axis, "window"]
        counts = GaugeMetricFamily(
            name("window_recipient_events"),
            "Recipients per event type in the sliding window.",
            labels=[axis, "window", "event_type"],
        )
        ratios = [
            (
                GaugeMetricFamily(
                    name(f"window_{ratio}_ratio"),
                    f"{text} recipients in the window (omitted without a denominator).",
                    labels=labels,
                ),
                ratio,
            )
            for ratio, text in (
                ("delay", "delayed / (delivered + delayed)"),
                ("bounce", "bounced / (delivered + bounced)"),
                ("complaint", "complained / (delivered + bounced)"),
                ("delivery", "delivered / sent (where Send events are published)"),
            )
        ]
        summaries = [
            SummaryMetricFamily(
                name("window_processing_seconds"),
                "SES processingTimeMillis of deliveries in the window, in seconds.",
                labels=labels,
            ),
            SummaryMetricFamily(
                name("window_delivery_seconds"),
                "Time from send to delivery of deliveries in the window, in seconds.",
                labels=labels,
            ),
            SummaryMetricFamily(
                name("window_delay_duration_seconds"),
                "How long delays lasted, for delayed recipients delivered or bounced in the "
                "window, in seconds.",
                labels=labels,
            ),
        ]
        for label, windows in items:
            for index, spec in enumerate(specs):
                figures = windows.figures(index, now)
                for event_type, n in zip(EVENT_TYPES, figures.counts, strict=True):
                    counts.add_metric([label, spec.name, event_type], n)
                for family, ratio in ratios:
                    value = getattr(figures, f"{ratio}_ratio")
                    if value is not None:
                        family.add_metric([label, spec.name], value)
                for summary_family, summary in zip(
                    summaries,
                    (figures.processing, figures.to_delivery, figures.delay_duration),
                    strict=True,
                ):
                    _add_summary(summary_family, axis, [label, spec.name], summary)
        yield counts
        for family, _ in ratios:
            yield family
        yield from summaries

    def _tags(self, now: float) -> Iterator[Metric]:
        p = self._pipeline
        if not p.tag_names:
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
        counts = GaugeMetricFamily(
            "sesd_window_tag_recipient_events",
            "Recipients per event type in the window, by message tag value.",
            labels=["tag", "value", "window", "event_type"],
        )
        ratio = GaugeMetricFamily(
            "sesd_window_tag_delay_ratio",
            "delayed / (delivered + delayed) in the window, by message tag value.",
            labels=["tag", "value", "window"],
        )
        for (tag, value), windows in list(p.tag_windows.items()):
            for index, spec in enumerate(p.specs):
                figures = windows.figures(index, now)
                for name, n in zip(EVENT_TYPES, figures.counts, strict=True):
                    counts.add_metric([tag, value, spec.name, name], n)
                if figures.delay_ratio is not None:
                    ratio.add_metric([tag, value, spec.name], figures.delay_ratio)
        yield counts
        yield ratio


def _by_kind(
    name: str, documentation: str, labels: list[str], table: dict[str, dict[tuple[str, str], int]]
) -> Metric:
    """A counter family from a per-label tally keyed by two more label values."""
    family = CounterMetricFamily(name, documentation, labels=labels)
    for label, per_kind in table.items():
        for (first, second), n in per_kind.items():
            family.add_metric([label, first, second], n)
    return family


def _dns(resolver: ProviderResolver) -> Iterator[Metric]:
    lookups = CounterMetricFamily(
        "sesd_dns_lookups",
        "MX lookups of recipient domains (for their provider), by outcome.",
        labels=["outcome"],
    )
    for outcome, n in resolver.outcomes.items():
        lookups.add_metric([outcome], n)
    yield lookups
    yield GaugeMetricFamily(
        "sesd_dns_lookups_queued",
        "Recipient domains waiting for their MX lookup (counted as provider unknown).",
        value=resolver.queued,
    )
    yield GaugeMetricFamily(
        "sesd_dns_cache_entries",
        "Recipient domains whose provider is cached.",
        value=len(resolver.cache),
    )


def _namer(scope: Scope) -> Callable[[str], str]:
    """A scope's family names: ``sesd_NAME`` for domains, ``sesd_provider_NAME`` for
    providers (parallel families: a sum over one family never counts a recipient
    twice)."""
    prefix = "sesd_" if scope.axis == DOMAIN else f"sesd_{scope.axis}_"
    return lambda name: prefix + name


def _add_summary(
    family: SummaryMetricFamily, axis: str, labels: list[str], summary: Summary
) -> None:
    """A window's summary: quantile samples (seconds) while it has observations, then
    ``_count`` and ``_sum`` (0 and 0 for an empty window)."""
    for quantile, ms in zip(_QUANTILE_LABELS, summary.quantiles, strict=True):
        if ms is not None:
            family.add_sample(
                family.name,
                {axis: labels[0], "window": labels[1], "quantile": quantile},
                ms / 1000.0,
            )
    family.add_metric(labels, summary.count, summary.sum_ms / 1000.0)


def histogram_family(name: str, documentation: str, histogram: FixedHistogram) -> Metric:
    """A histogram family with no labels from a :class:`FixedHistogram`."""
    buckets = histogram.cumulative()
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], buckets=buckets, sum_value=histogram.sum)
    return family


class Metrics:
    """The registry sesd serves, and the I/O counters the edges increment."""

    def __init__(self, pipeline: Pipeline, queues: Iterable[QueueSpec], clock: Callable[[], float]):
        queues = list(queues)
        self.registry = CollectorRegistry(auto_describe=False)
        self._collector = PipelineCollector(pipeline, queues, clock)
        self.registry.register(self._collector)
        self.sqs_errors = Counter(
            "sesd_sqs_errors",
            "SQS calls that failed, by queue (its account and region) and operation.",
            ["queue", "account", "region", "operation"],
            registry=self.registry,
        )
        self.sqs_received = Counter(
            "sesd_sqs_messages_received",
            "Messages received from SQS, by queue (its account and region).",
            ["queue", "account", "region"],
            registry=self.registry,
        )
        self.clock_steps = Counter(
            "sesd_clock_steps",
            "Steps of the wall clock (more than 1 s away from the monotonic clock's "
            "reckoning); each re-anchors sesd's time.",
            registry=self.registry,
        )
        self.reload_ok = Gauge(
            "sesd_config_last_reload_successful",
            "1 when the last config (re)load succeeded, 0 when it failed.",
            registry=self.registry,
        )
        self.reload_at = Gauge(
            "sesd_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully (start or SIGHUP), Unix time.",
            registry=self.registry,
        )
        build = Gauge(
            "sesd_build_info",
            "sesd's version and the Python running it.",
            ["version", "python_version"],
            registry=self.registry,
        )
        build.labels(__version__, platform.python_version()).set(1)
        # Memory, CPU, file descriptors and the garbage collector: what a memory
        # limit is judged against.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.set_queues(queues)

    def set_queues(self, queues: Iterable[QueueSpec]) -> None:
        """The configured queues (at start and after a reload): each one's series exist
        from then on at 0, so rate() and the dashboard see them before the first error."""
        collector = self._collector
        collector.set_queues(queues)
        for queue in collector.queues:
            self.sqs_received.labels(queue, *collector.where[queue])
            for operation in SQS_OPERATIONS:
                self.sqs_errors.labels(queue, *collector.where[queue], operation)

    def sqs_error(self, queue: str, operation: str, n: int = 1) -> None:
        """Count ``n`` failed SQS calls of a queue."""
        self.sqs_errors.labels(queue, *self._collector._where(queue), operation).inc(n)

    def sqs_received_messages(self, queue: str, n: int) -> None:
        """Count messages received from a queue."""
        self.sqs_received.labels(queue, *self._collector._where(queue)).inc(n)

    def reloaded(self, ok: bool, now: float) -> None:
        """Record a config (re)load: ``ok``, and when the last good one was."""
        self.reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_at.set(now)
