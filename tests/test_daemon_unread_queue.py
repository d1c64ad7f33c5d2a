"""The daemon wires a queue that cannot be read to its rules: while it is unread, an
empty window resolves nothing. moto's SQS, a queue deleted while an alert fires, the
real poller, health and alerting."""

from __future__ import annotations

from typing import Any

from sesd.alerting.rules import Status
from sesd.config import parse_config
from sesd.runtime.daemon import Daemon
from sesd.runtime.sqs import QueuePoller
from tests.conftest import make_queue
from tests.test_routing import RULE, T
from tests.test_rules import feed_spike


async def test_a_deleted_queue_resolves_nothing_while_its_alert_fires(sqs: Any) -> None:
    url, _ = await make_queue(sqs)
    config = parse_config(f'[[queues]]\nurl = "{url}"\nname = "q"\n' + RULE)
    wall, mono = [T], [1000.0]
    daemon = Daemon(config, clock=lambda: wall[0], monotonic=lambda: mono[0])
    feed_spike(daemon.pipeline, "a.example", T, 5, 5)
    daemon.alerting.evaluate()
    state = daemon.alerting.evaluator.states["delays"]["a.example"]
    assert state.status is Status.FIRING
    await sqs.delete_queue(QueueUrl=url)  # someone deletes it (or revokes sqs:ReceiveMessage)
    poller = QueuePoller(
        sqs,
        config.queues[0],
        pipeline=daemon.pipeline,
        metrics=daemon.metrics,
        health=daemon.health,
        changes=daemon.changes,
        stopping=daemon.stopping,
        delete_invalid=False,
        clock=daemon.clock,
        monotonic=daemon.monotonic,
        in_flight=daemon.in_flight,
    )
    assert await poller._receive() is None
    wall[0] += 900  # 15 minutes of an unreadable queue; the 5m window is empty
    mono[0] += 900
    daemon.alerting.evaluate()
    status = daemon.alerting.evaluator.states["delays"]["a.example"].status
    assert status is Status.FIRING
