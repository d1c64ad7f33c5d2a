"""Alerting at run time: the evaluation loop, the sinks' outboxes, and their metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TextIO

import aiohttp
import anyio
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.alerting.evaluator import Evaluator, Notification
from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Status
from sesd.alerting.sinks import ConsoleSink, PagerDutySink, Sink, SlackSink
from sesd.config import AlertsConfig, Config
from sesd.logs import get_logger
from sesd.pipeline import Pipeline

__all__ = ["Alerting", "build_sinks"]


class _FiringCollector(Collector):
    """``sesd_alerts_firing{rule,domain}``: 1 while firing, 0 while pending or just resolved."""

    def __init__(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "sesd_alerts_firing",
            "1 while an alert fires, by rule and domain.",
            labels=["rule", "domain"],
        )
        for rule, states in self._evaluator.states.items():
            for domain, state in list(states.items()):
                family.add_metric([rule, domain], 1.0 if state.status is Status.FIRING else 0.0)
        yield family


def build_sinks(
    alerts: AlertsConfig, session: aiohttp.ClientSession, console: TextIO | None = None
) -> list[Sink]:
    """The sinks ``[alerts]`` configures, by name; the console sink is always there."""
    sinks: list[Sink] = [ConsoleSink(console)]
    if alerts.slack is not None:
        sinks.append(SlackSink(alerts.slack, session))
    if alerts.pagerduty is not None:
        sinks.append(PagerDutySink(alerts.pagerduty, session))
    return sinks


class Alerting:
    """Owns the evaluator and one outbox per sink."""

    def __init__(
        self,
        config: Config,
        pipeline: Pipeline,
        registry: CollectorRegistry,
        clock: Callable[[], float],
        console: TextIO | None = None,
    ) -> None:
        self._config = config
        self._pipeline = pipeline
        self._clock = clock
        self._console = console
        self.evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.specs])
        self.notifications = Counter(
            "sesd_notifications",
            "Notification deliveries by sink and outcome (sent, retried, rate_limited, "
            "failed, dropped).",
            ["sink", "outcome"],
            registry=registry,
        )
        self.evaluation_errors = Counter(
            "sesd_evaluation_errors",
            "Rule evaluations that failed with an unexpected error (logged with its traceback).",
            registry=registry,
        )
        registry.register(_FiringCollector(self.evaluator))
        self.outboxes: dict[str, Outbox] = {}
        self.evaluations = 0
        self.on_evaluated: Callable[[], None] = lambda: None
        self._log = get_logger()

    def sinks(self, session: aiohttp.ClientSession) -> list[Sink]:
        """The configured sinks; the console sink is always there."""
        return build_sinks(self._config.alerts, session, self._console)

    def open(self, sinks: list[Sink]) -> None:
        """Create an outbox per sink (before :meth:`run`)."""
        for sink in sinks:
            self.outboxes[sink.name] = Outbox(
                sink,
                size=self._config.alerts.outbox_size,
                counter=self.notifications,
                max_age=self._config.alerts.notification_max_age.seconds,
            )

    async def run(self) -> None:
        """Deliver from every outbox and evaluate every ``evaluate_every``, until cancelled."""
        async with anyio.create_task_group() as tg:
            for outbox in self.outboxes.values():
                tg.start_soon(outbox.run)
            interval = self._config.alerts.evaluate_every.seconds
            next_at = anyio.current_time()
            while True:
                try:
                    self.evaluate()
                except Exception:  # noqa: BLE001 - a bug in one evaluation must not stop alerting
                    self.evaluation_errors.inc()
                    self._log.error("sesd.alert.evaluation_failed", exc_info=True)
                # Drift-free ticks; a tick missed while busy is skipped, not queued.
                next_at = max(next_at + interval, anyio.current_time())
                await anyio.sleep_until(next_at)

    def evaluate(self, *, flush: bool = False) -> list[Notification]:
        """One evaluation at the current time; due notifications go to their outboxes."""
        now = self._clock()
        for alert in self.evaluator.evaluate(self._pipeline, now):
            self._log.info(
                f"sesd.alert.{alert.kind.value}",
                rule=alert.rule,
                domain=alert.domain,
                value=alert.value,
                threshold=alert.threshold,
                window=alert.window,
            )
        notifications = self.evaluator.due(now, flush=flush)
        for notification in notifications:
            self.dispatch(notification)
        self.evaluations += 1
        self.on_evaluated()
        return notifications

    def dispatch(self, notification: Notification) -> None:
        """Queue a notification on each of its sinks' outboxes."""
        for name in notification.sinks:
            outbox = self.outboxes.get(name)
            if outbox is not None:
                outbox.put(notification)

    async def drain(self) -> None:
        """Last evaluation, every waiting group sent, every outbox emptied."""
        self.evaluate(flush=True)
        for outbox in self.outboxes.values():
            await outbox.wait_empty()
