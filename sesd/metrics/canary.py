"""The canary's metrics, built from the tracker at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.core.canary import CanaryTracker
from sesd.metrics.families import described, histogram_family

__all__ = ["SEND_ERROR_REASONS", "CanaryCollector"]

#: Every ``reason`` a failed call is counted under (see sesd.canary.sender.error_reason).
SEND_ERROR_REASONS = (
    "throttled",
    "auth",
    "rejected",
    "client_error",
    "server_error",
    "timeout",
    "network",
)


class CanaryCollector(Collector):
    """``sesd_canary_*``: the three stages, the whole path, errors, and what is missing."""

    def __init__(self, tracker: CanaryTracker, now: Callable[[], float]) -> None:
        self._tracker = tracker
        self._now = now

    def describe(self) -> Iterator[Metric]:
        """Every family :meth:`collect` yields, without samples."""
        histograms = ("send", "ses_processing", "event_pipeline", "end_to_end")
        return described(
            [
                *((f"sesd_canary_{name}_seconds", "histogram") for name in histograms),
                ("sesd_canary_send_errors", "counter"),
                ("sesd_canary_sent", "counter"),
                ("sesd_canary_events", "counter"),
                ("sesd_canary_missing", "gauge"),
                ("sesd_canary_last_back_timestamp_seconds", "gauge"),
            ]
        )

    def collect(self) -> Iterator[Metric]:
        t = self._tracker
        f = t.figures
        yield histogram_family(
            "sesd_canary_send_seconds",
            "Canary SendEmail call latency (stage 1: client -> SES), successful calls.",
            f.send,
        )
        yield histogram_family(
            "sesd_canary_ses_processing_seconds",
            "processingTimeMillis of canary Delivery events (stage 2: inside SES), in seconds.",
            f.ses,
        )
        yield histogram_family(
            "sesd_canary_event_pipeline_seconds",
            "Canary Delivery event time to its receipt by sesd (SNS -> SQS -> sesd).",
            f.pipeline,
        )
        yield histogram_family(
            "sesd_canary_end_to_end_seconds",
            "Canary SendEmail call to the receipt of its Delivery event.",
            f.end_to_end,
        )
        errors = CounterMetricFamily(
            "sesd_canary_send_errors",
            "Canary SendEmail calls that failed, by reason.",
            labels=["reason"],
        )
        for reason in SEND_ERROR_REASONS:
            errors.add_metric([reason], t.errors.get(reason, 0))
        yield errors
        sent = CounterMetricFamily("sesd_canary_sent", "Canaries SES accepted.")
        sent.add_metric([], t.sent_total)
        yield sent
        events = CounterMetricFamily(
            "sesd_canary_events",
            "Canary events received (kept out of the domain windows), by outcome: matched "
            "(one of this replica's canaries) or unmatched (another replica's, or from "
            "before a restart).",
            labels=["outcome"],
        )
        for outcome in ("matched", "unmatched"):
            events.add_metric([outcome], t.events.get(outcome, 0))
        yield events
        missing = GaugeMetricFamily(
            "sesd_canary_missing",
            "Canaries sent after the newest one that came back whose call failed or whose "
            "Delivery is past the deadline.",
        )
        missing.add_metric([], t.overdue_count(self._now()))
        yield missing
        if t.last_done is not None:
            last = GaugeMetricFamily(
                "sesd_canary_last_back_timestamp_seconds",
                "When the newest canary that came back was sent (Unix time).",
            )
            last.add_metric([], t.last_done.sent_at)
            yield last
