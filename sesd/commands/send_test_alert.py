"""``sesd send-test-alert``: one notification through one configured sink, now."""

from __future__ import annotations

import time

import aiohttp

from sesd.alerting.evaluator import Alert, Notification
from sesd.alerting.rules import Transition
from sesd.alerting.service import build_sinks
from sesd.alerting.sinks import AlertmanagerSink, DeliveryError, PagerDutySink
from sesd.config import Config
from sesd.core.windows import Breakdown
from sesd.io.logs import get_logger

__all__ = ["send_test_alert", "test_notification"]


def test_notification(kind: Transition, now: float) -> Notification:
    """A clearly labelled test alert for domain ``example.com``."""
    alert = Alert(
        rule="sesd-test-alert",
        metric="delay_ratio",
        domain="example.com",
        kind=kind,
        severity="info",
        window="5m",
        value=0.5 if kind is not Transition.RESOLVED else 0.0,
        threshold=0.05,
        clear_threshold=0.03,
        at=now,
        since=now,
        counts={"send": 0, "delivery": 10, "delivery_delay": 10, "bounce": 0, "complaint": 0},
        breakdown=Breakdown(delay_types=[("TransientCommunicationFailure", 10)]),
        stage="test: nothing is wrong",
        regions=[],
        internal=False,
    )
    return Notification(
        rule=alert.rule, kind=kind, severity="info", sinks=(), alerts=(alert,), at=now
    )


async def send_test_alert(config: Config, sink_name: str) -> int:
    """Send a test alert (and, for PagerDuty, its resolve); 0 when delivered, 1 if not."""
    log = get_logger(sink=sink_name)
    async with aiohttp.ClientSession() as session:
        sinks = {sink.name: sink for sink in build_sinks(config.alerts, session)}
        sink = sinks.get(sink_name)
        if sink is None:
            log.error("sesd.test_alert.unknown_sink", configured=sorted(sinks))
            return 2
        kinds = [Transition.FIRING]
        if isinstance(sink, PagerDutySink | AlertmanagerSink):
            kinds.append(Transition.RESOLVED)  # leave no open incident behind
        for kind in kinds:
            try:
                await sink.send(test_notification(kind, time.time()))
            except DeliveryError as exc:
                log.error("sesd.test_alert.failed", kind=kind.value, error=str(exc))
                return 1
            log.info("sesd.test_alert.sent", kind=kind.value)
    return 0
