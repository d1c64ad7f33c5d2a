"""Alerting at run time: the evaluation loop, the sinks' outboxes, silences, and their metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TextIO

import aiohttp
import anyio
import anyio.abc
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.alerting.evaluator import Alert, Evaluator, Notification
from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Status, Transition
from sesd.alerting.silences import Silences
from sesd.alerting.sinks import (
    AlertmanagerSink,
    ConsoleSink,
    PagerDutySink,
    Sink,
    SlackSink,
    WebhookSink,
)
from sesd.config import (
    AlertmanagerConfig,
    AlertsConfig,
    Config,
    PagerDutyConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
)
from sesd.logs import get_logger
from sesd.pipeline import Pipeline

__all__ = ["Alerting", "build_sink", "build_sinks"]


class _AlertsCollector(Collector):
    """``sesd_alerts_firing{rule,domain}`` (1 while firing, 0 while pending or just
    resolved) and ``sesd_alerts_silenced{rule,domain}`` (1 while a firing alert is
    held back by a silence)."""

    def __init__(self, evaluator: Evaluator, clock: Callable[[], float]) -> None:
        self._evaluator = evaluator
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        firing = GaugeMetricFamily(
            "sesd_alerts_firing",
            "1 while an alert fires, by rule and domain.",
            labels=["rule", "domain"],
        )
        silenced = GaugeMetricFamily(
            "sesd_alerts_silenced",
            "1 while a firing alert is muted by a silence, by rule and domain.",
            labels=["rule", "domain"],
        )
        now = self._clock()
        for rule, states in list(self._evaluator.states.items()):
            for domain, state in list(states.items()):
                on = state.status is Status.FIRING
                firing.add_metric([rule, domain], 1.0 if on else 0.0)
                muted = on and self._evaluator.silenced(rule, domain, now)
                silenced.add_metric([rule, domain], 1.0 if muted else 0.0)
        yield firing
        yield silenced


def build_sink(
    name: str, config: SinkConfig, session: aiohttp.ClientSession, console: TextIO | None = None
) -> Sink:
    """The sink a ``[alerts.sinks.NAME]`` describes."""
    if isinstance(config, SlackConfig):
        return SlackSink(config, session, name)
    if isinstance(config, PagerDutyConfig):
        return PagerDutySink(config, session, name)
    if isinstance(config, AlertmanagerConfig):
        return AlertmanagerSink(config, session, name)
    if isinstance(config, WebhookConfig):
        return WebhookSink(config, session, name)
    return ConsoleSink(console, name)


def build_sinks(
    alerts: AlertsConfig, session: aiohttp.ClientSession, console: TextIO | None = None
) -> list[Sink]:
    """Every sink ``[alerts]`` names; the console sink is always there."""
    return [
        build_sink(name, config, session, console) for name, config in alerts.named_sinks().items()
    ]


class Alerting:
    """Owns the evaluator, the silences and one outbox per sink."""

    def __init__(
        self,
        config: Config,
        pipeline: Pipeline,
        registry: CollectorRegistry,
        clock: Callable[[], float],
        console: TextIO | None = None,
        *,
        silence_prefix: str = "sesd silence add",
    ) -> None:
        self._config = config
        self._pipeline = pipeline
        self._clock = clock
        self._console = console
        self.silences = Silences(config.silences_path)
        self.evaluator = Evaluator(
            config.alerts,
            [spec.name for spec in pipeline.specs],
            self.silences,
            silence_prefix,
        )
        self.notifications = Counter(
            "sesd_notifications",
            "Notification deliveries by sink and outcome (sent, retried, rate_limited, "
            "failed, dropped, expired).",
            ["sink", "outcome"],
            registry=registry,
        )
        self.evaluation_errors = Counter(
            "sesd_evaluation_errors",
            "Rule evaluations that failed with an unexpected error (logged with its traceback).",
            registry=registry,
        )
        registry.register(_AlertsCollector(self.evaluator, clock))
        self.outboxes: dict[str, Outbox] = {}
        self.evaluations = 0
        self.on_evaluated: Callable[[], None] = lambda: None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: anyio.abc.TaskGroup | None = None
        #: When each resending sink (Alertmanager) last got every firing alert.
        self._resent: dict[str, float] = {}
        self._log = get_logger()

    def open(self, session: aiohttp.ClientSession) -> None:
        """Create an outbox per configured sink (before :meth:`run`)."""
        self._session = session
        for name, sink_config in self._config.alerts.named_sinks().items():
            self._add_outbox(build_sink(name, sink_config, session, self._console))

    def _add_outbox(self, sink: Sink) -> None:
        outbox = self.outboxes[sink.name] = Outbox(
            sink,
            size=self._config.alerts.outbox_size,
            counter=self.notifications,
            max_age=self._config.alerts.notification_max_age.seconds,
        )
        if self._tasks is not None:
            self._tasks.start_soon(outbox.run)

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config: rules (states kept by name; a removed rule's alerts
        resolve and the resolves are sent), sinks (queued notifications kept), the
        outboxes' size and notification age, silences."""
        old_sinks = self._config.alerts.named_sinks()
        removed = {r.name for r in self._config.alerts.rules} - {
            r.name for r in config.alerts.rules
        }
        self._config = config
        now = self._clock()
        self.silences.use(config.silences_path)
        resolves = self.evaluator.configure(
            config.alerts, [spec.name for spec in self._pipeline.specs], now
        )
        for alert in resolves:
            self._log.info("sesd.alert.resolved", rule=alert.rule, domain=alert.domain)
        new_sinks = config.alerts.named_sinks()
        assert self._session is not None, "reconfigure before open"
        for outbox in self.outboxes.values():
            outbox.limit(config.alerts.outbox_size, config.alerts.notification_max_age.seconds)
        for name, sink_config in new_sinks.items():
            if name not in self.outboxes:
                self._add_outbox(build_sink(name, sink_config, self._session, self._console))
            elif old_sinks.get(name) != sink_config:
                self.outboxes[name].sink = build_sink(
                    name, sink_config, self._session, self._console
                )
        # A removed rule's resolves go out now, before a removed sink's outbox closes;
        # other rules' groups keep waiting their group_wait.
        for notification in self.evaluator.due(now, flush=True, rules=removed):
            self.dispatch(notification)
        for name in set(self.outboxes) - set(new_sinks):
            self.outboxes.pop(name).close()
            self._resent.pop(name, None)

    async def run(self) -> None:
        """Deliver from every outbox and evaluate every ``evaluate_every``, until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tasks = tg
            for outbox in self.outboxes.values():
                tg.start_soon(outbox.run)
            next_at = anyio.current_time()
            while True:
                try:
                    self.evaluate()
                except Exception:  # noqa: BLE001 - a bug in one evaluation must not stop alerting
                    self.evaluation_errors.inc()
                    self._log.error("sesd.alert.evaluation_failed", exc_info=True)
                # Drift-free ticks; a tick missed while busy is skipped, not queued.
                interval = self._config.alerts.evaluate_every.seconds
                next_at = max(next_at + interval, anyio.current_time())
                await anyio.sleep_until(next_at)

    def evaluate(self, *, flush: bool = False) -> list[Notification]:
        """One evaluation at the current time; due notifications go to their outboxes."""
        now = self._clock()
        self.silences.refresh()
        for alert in self.evaluator.evaluate(self._pipeline, now):
            self._log.info(
                f"sesd.alert.{alert.kind.value}",
                rule=alert.rule,
                domain=alert.domain,
                value=alert.value,
                threshold=alert.threshold,
                window=alert.window,
            )
        for rule, domain, kind, silence in self.evaluator.held:
            self._log.info(
                "sesd.alert.silenced", rule=rule, domain=domain, kind=kind, silence=silence
            )
        self.silences.end(self.evaluator.ended_silences, now)
        notifications = self.evaluator.due(now, flush=flush)
        for notification in notifications:
            self.dispatch(notification)
        self._resend(now)
        self.evaluations += 1
        self.on_evaluated()
        return notifications

    def _resend(self, now: float) -> None:
        """Post every firing alert again to sinks that want it (Alertmanager forgets an
        alert not posted again within its ``resolve_timeout``)."""
        due = []
        for name, outbox in self.outboxes.items():
            every = getattr(outbox.sink, "resend_every", None)
            if every is None or now - self._resent.setdefault(name, now) < every or len(outbox):
                continue
            self._resent[name] = now
            due.append((name, outbox))
        if not due:
            return
        # The firing alerts not held back by a silence, by rule: gathered once.
        by_rule: dict[str, list[Alert]] = {}
        for (rule_name, domain), alert in self.evaluator.current.items():
            if not self.evaluator.silenced(rule_name, domain, now):
                by_rule.setdefault(rule_name, []).append(alert)
        for name, outbox in due:
            for rule in self.evaluator.rules:
                alerts = by_rule.get(rule.name)
                if alerts and name in rule.sinks:
                    outbox.put(
                        Notification(
                            rule=rule.name,
                            kind=Transition.REPEAT,
                            severity=rule.severity,
                            sinks=(name,),
                            alerts=tuple(alerts),
                            at=now,
                            silence=self.evaluator.mute(rule.name, [a.domain for a in alerts]),
                        )
                    )

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
