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


class PipelineCollector(Collector):
    """Exports the pipeline's tallies and windows; reads ``clock()`` once per scrape."""

    def __init__(self, pipeline: Pipeline, queues: Iterable[str], clock: Callable[[], float]):
        self._pipeline = pipeline
        self.queues = list(queues)
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        """Build every pipeline metric family from current state."""
        p, tallies = self._pipeline, self._pipeline.tallies
        now = self._clock()

        events = CounterMetricFamily(
            "sesd_events",
            "SES events processed, by queue and event type.",
            labels=["queue", "event_type"],
        )
        for queue in sorted(set(self.queues) | set(tallies.events)):
            counts = tallies.events.get(queue) or [0] * len(EVENT_TYPES)
            for name, n in zip(EVENT_TYPES, counts, strict=True):
                events.add_metric([queue, name], n)
        yield events

        messages = CounterMetricFamily(
            "sesd_messages",
            "SQS messages handled, by queue and outcome.",
            labels=["queue", "outcome"],
        )
        queues = sorted(set(self.queues) | {q for q, _ in tallies.messages})
        for queue in queues:
            for outcome in OUTCOMES:
                messages.add_metric([queue, outcome], tallies.messages.get((queue, outcome), 0))
        yield messages

        invalid = CounterMetricFamily(
            "sesd_invalid_messages",
            "Invalid SQS messages, by queue and reason.",
            labels=["queue", "reason"],
        )
        for (queue, reason), n in sorted(tallies.invalid.items()):
            invalid.add_metric([queue, reason], n)
        yield invalid

        recipient_items = list(tallies.recipients.items())
        for start in range(0, max(len(recipient_items), 1), _CHUNK):
            recipients = CounterMetricFamily(
                "sesd_recipient_events",
                "Recipients per event, by domain and event type.",
                labels=["domain", "event_type"],
            )
            for domain, counts in recipient_items[start : start + _CHUNK]:
                for name, n in zip(EVENT_TYPES, counts, strict=True):
                    recipients.add_metric([domain, name], n)
            yield recipients

        delays = CounterMetricFamily(
            "sesd_delivery_delays",
            "Delayed recipients, by domain, SES delay type and cause (sesd cause).",
            labels=["domain", "delay_type", "cause"],
        )
        for domain, per_type in tallies.delays.items():
            for (delay_type, cause), n in per_type.items():
                delays.add_metric([domain, delay_type, cause], n)
        yield delays

        bounces = CounterMetricFamily(
            "sesd_bounces",
            "Bounced recipients, by domain, bounce type and subtype.",
            labels=["domain", "bounce_type", "bounce_subtype"],
        )
        for domain, per_kind in tallies.bounces.items():
            for (kind, subkind), n in per_kind.items():
                bounces.add_metric([domain, kind, subkind], n)
        yield bounces

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

        yield from self._windows(now)

        pending = GaugeMetricFamily(
            "sesd_delayed_recipients_pending",
            "Recipients with a DeliveryDelay and no Delivery or Bounce yet.",
            labels=["domain"],
        )
        pending_counts = p.pending.counts(now)
        for domain in p.windows:
            pending.add_metric([domain], pending_counts.get(domain, 0))
        yield pending

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

    def _windows(self, now: float) -> Iterator[Metric]:
        """Window gauges, in chunks of domains: the HTTP handler yields to the event
        loop between chunks, so a scrape of a thousand domains never stalls ingestion."""
        items = list(self._pipeline.windows.items())
        for start in range(0, max(len(items), 1), _CHUNK):
            yield from self._window_chunk(items[start : start + _CHUNK], now)

    def _window_chunk(self, items: list[tuple[str, DomainWindows]], now: float) -> Iterator[Metric]:
        specs = self._pipeline.specs
        labels = ["domain", "window"]
        counts = GaugeMetricFamily(
            "sesd_window_recipient_events",
            "Recipients per event type in the sliding window.",
            labels=["domain", "window", "event_type"],
        )
        ratios = [
            (
                GaugeMetricFamily(
                    f"sesd_window_{name}_ratio",
                    f"{text} recipients in the window (omitted without a denominator).",
                    labels=labels,
                ),
                name,
            )
            for name, text in (
                ("delay", "delayed / (delivered + delayed)"),
                ("bounce", "bounced / (delivered + bounced)"),
                ("complaint", "complained / (delivered + bounced)"),
                ("delivery", "delivered / sent (where Send events are published)"),
            )
        ]
        summaries = [
            SummaryMetricFamily(
                "sesd_window_processing_seconds",
                "SES processingTimeMillis of deliveries in the window, in seconds.",
                labels=labels,
            ),
            SummaryMetricFamily(
                "sesd_window_delivery_seconds",
                "Time from send to delivery of deliveries in the window, in seconds.",
                labels=labels,
            ),
            SummaryMetricFamily(
                "sesd_window_delay_duration_seconds",
                "How long delays lasted, for delayed recipients delivered or bounced in the "
                "window, in seconds.",
                labels=labels,
            ),
        ]
        for domain, windows in items:
            for index, spec in enumerate(specs):
                figures = windows.figures(index, now)
                for name, n in zip(EVENT_TYPES, figures.counts, strict=True):
                    counts.add_metric([domain, spec.name, name], n)
                for family, name in ratios:
                    value = getattr(figures, f"{name}_ratio")
                    if value is not None:
                        family.add_metric([domain, spec.name], value)
                for summary_family, summary in zip(
                    summaries,
                    (figures.processing, figures.to_delivery, figures.delay_duration),
                    strict=True,
                ):
                    _add_summary(summary_family, [domain, spec.name], summary)
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


def _add_summary(family: SummaryMetricFamily, labels: list[str], summary: Summary) -> None:
    """A window's summary: quantile samples (seconds) while it has observations, then
    ``_count`` and ``_sum`` (0 and 0 for an empty window)."""
    for quantile, ms in zip(_QUANTILE_LABELS, summary.quantiles, strict=True):
        if ms is not None:
            family.add_sample(
                family.name,
                {"domain": labels[0], "window": labels[1], "quantile": quantile},
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

    def __init__(self, pipeline: Pipeline, queues: Iterable[str], clock: Callable[[], float]):
        queues = list(queues)
        self.registry = CollectorRegistry(auto_describe=False)
        self._collector = PipelineCollector(pipeline, queues, clock)
        self.registry.register(self._collector)
        self.sqs_errors = Counter(
            "sesd_sqs_errors",
            "SQS calls that failed, by queue and operation.",
            ["queue", "operation"],
            registry=self.registry,
        )
        self.sqs_received = Counter(
            "sesd_sqs_messages_received",
            "Messages received from SQS, by queue.",
            ["queue"],
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

    def set_queues(self, queues: Iterable[str]) -> None:
        """The configured queues (at start and after a reload): each one's series exist
        from then on at 0, so rate() and the dashboard see them before the first error."""
        self._collector.queues = list(queues)
        for queue in self._collector.queues:
            self.sqs_received.labels(queue)
            for operation in SQS_OPERATIONS:
                self.sqs_errors.labels(queue, operation)

    def reloaded(self, ok: bool, now: float) -> None:
        """Record a config (re)load: ``ok``, and when the last good one was."""
        self.reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_at.set(now)
