"""The core's tallies and windows as metric families, built from the ledger at scrape
time.

The names and labels are a contract (the dashboard and the fleet rules use
them; README lists them). Per-event counters are plain tallies in the ledger;
:class:`PipelineCollector` turns them, and the windows (sesd.metrics.windows), into
families when Prometheus scrapes: a pure read, at the time the scrape passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from sesd.core.events import EVENT_TYPES, INVALID_REASONS, SKIPPED_REASONS
from sesd.core.ledger import Ledger
from sesd.core.providers import LABELS
from sesd.core.scopes import Scope
from sesd.core.tallies import Outcome
from sesd.metrics.dns import dns_families
from sesd.metrics.families import Family, described, histogram_family
from sesd.metrics.rows import Rows
from sesd.metrics.windows import CHUNK, RATIOS, namer, tag_families, window_families

__all__ = ["PipelineCollector"]


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
            name = namer(scope)
            kinds += [
                (name(n), "counter")
                for n in ("recipient_events", "delivery_delays", "bounces", "suppressed_recipients")
            ]
            kinds += [(name("window_recipient_events"), "gauge")]
            kinds += [(name(f"window_{ratio}_ratio"), "gauge") for ratio, _ in RATIOS]
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

        for name, what, counted, reasons in (
            ("sesd_invalid_messages", "Invalid SQS messages", tallies.invalid, INVALID_REASONS),
            ("sesd_skipped_messages", "SQS messages that are no email event", tallies.skipped,
             SKIPPED_REASONS),
        ):  # fmt: skip
            family = CounterMetricFamily(
                name,
                f"{what}, by queue (its account and region) and reason.",
                labels=["queue", "account", "region", "reason"],
            )
            # Every reason of a configured queue at 0 before its first: increase() sees
            # no step in a series' first sample, so one first exported at 1 hides it.
            zeros = {(queue, reason): 0 for queue in self.queues for reason in reasons}
            for (queue, reason), n in sorted((zeros | counted).items()):
                family.add_metric([queue, *where(queue), reason], n)
            yield family

        for scope in ledger.scopes:
            yield from self._counters(scope)
        yield from self._totals()
        for scope in ledger.scopes:
            yield from window_families(ledger, scope, now)
            yield self._pending(scope, now)
        yield GaugeMetricFamily(
            "sesd_event_lag_latest_seconds",
            "How far behind sesd reads: the lag of the freshest event of the latest two "
            "receives, on the queue furthest behind (0 after an empty long poll of a "
            "standard queue).",
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
        yield from tag_families(ledger, now)
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
            "Delayed recipients not held as pending: the table, or their domain's share of it, "
            "was full.",
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

    def _known(self, scope: Scope) -> list[str]:
        """The labels of ``scope`` known before their first event: tracked domains and
        groups, tenants a rule names, every mailbox provider."""
        ledger = self._ledger
        if scope is ledger.by_provider:
            return [*LABELS, *ledger.settings.mx]
        table = ledger.tenant_labels if scope is ledger.by_tenant else ledger.domains
        return sorted(table.fixed_labels)

    def _counters(self, scope: Scope) -> Iterator[Metric]:
        """A scope's recipient, delay and bounce counters, in chunks of labels."""
        axis, name = scope.axis, namer(scope)
        recipient_items = list(scope.recipients.items())
        # The labels known ahead at 0 before their first event: a series first exported
        # at N hides those N from rate() (a rarely mailed group's first events after a
        # scrape). Their delays and bounces, by kind, are too many to list ahead.
        zeros = [0] * len(EVENT_TYPES)
        recipient_items += [(k, zeros) for k in self._known(scope) if k not in scope.recipients]
        for start in range(0, max(len(recipient_items), 1), CHUNK):
            recipients = Rows(
                name("recipient_events"),
                f"Recipients per event, by {axis} and event type.",
                "counter",
                [axis, "event_type"],
            )
            for label, counts in recipient_items[start : start + CHUNK]:
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
            namer(scope)("delayed_recipients_pending"),
            "Recipients with a DeliveryDelay and no Delivery or Bounce yet.",
            "gauge",
            [scope.axis],
        )
        pending_counts = self._ledger.pending.counts(now, scope.index)
        # Labels with windows, at 0 too; and a label pending without (a restart that
        # resized every window, or began counting providers, keeps its delays).
        for label in {**dict.fromkeys(scope.windows, 0), **pending_counts}:
            pending.add((label,), pending_counts.get(label, 0))
        return pending


def _by_kind(
    name: str, documentation: str, labels: list[str], table: dict[str, dict[tuple[str, str], int]]
) -> Metric:
    """A counter family from a per-label tally keyed by two more label values."""
    family = Rows(name, documentation, "counter", labels)
    for label, per_kind in table.items():
        for (first, second), n in per_kind.items():
            family.add((label, first, second), n)
    return family
