"""The daemon wires a queue that cannot be read to its rules: while it is unread, an
empty window resolves nothing. moto's SQS, a queue deleted (or one whose receives hang
behind a stalled connection) while an alert fires, the real poller, health and alerting."""

from __future__ import annotations

from typing import Any

import anyio

from sesd.alerting.rules import Status
from sesd.config import parse_config
from sesd.runtime.aws import sqs_config
from sesd.runtime.daemon import Daemon
from sesd.runtime.sqs import QueuePoller
from tests.conftest import aws_client, make_queue
from tests.proxy import Proxy
from tests.test_routing import RULE, T
from tests.test_rules import feed_spike


def _firing(url: str, queue: str = "") -> tuple[Daemon, list[float], list[float]]:
    """A daemon reading the queue at ``url`` (``queue``: more of its settings) whose
    delay rule fires for a.example, and its wall and monotonic clocks to move."""
    config = parse_config(f'[[queues]]\nurl = "{url}"\nname = "q"\n{queue}' + RULE)
    wall, mono = [T], [1000.0]
    daemon = Daemon(config, clock=lambda: wall[0], monotonic=lambda: mono[0])
    feed_spike(daemon.pipeline, "a.example", T, 5, 5)
    daemon.alerting.evaluate()
    return daemon, wall, mono


def _status(daemon: Daemon) -> Status:
    return daemon.alerting.evaluator.states["delays"]["a.example"].status


def _reading(client: Any, daemon: Daemon) -> QueuePoller:
    """The real poller of the daemon's queue, wired to its pipeline, health and clocks."""
    return QueuePoller(
        client,
        daemon.config.queues[0],
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


async def test_a_deleted_queue_resolves_nothing_while_its_alert_fires(sqs: Any) -> None:
    url, _ = await make_queue(sqs)
    daemon, wall, mono = _firing(url)
    assert _status(daemon) is Status.FIRING
    await sqs.delete_queue(QueueUrl=url)  # someone deletes it (or revokes sqs:ReceiveMessage)
    poller = _reading(sqs, daemon)
    assert await poller._receive() is None
    wall[0] += 900  # 15 minutes of an unreadable queue; the 5m window is empty
    mono[0] += 900
    daemon.alerting.evaluate()
    assert _status(daemon) is Status.FIRING


async def test_a_queue_whose_receive_hangs_resolves_nothing_while_its_alert_fires(
    local_sqs: Any, sqs: Any
) -> None:
    """SQS takes the receive and never answers (a stalled connection): no receive fails,
    yet none is answered, so sesd reads none of the queue's events while an alert fires.
    The empty window resolves nothing while the receive hangs, nor for a window's length
    after the queue answers again (the events of the hang come in late): the hold of a
    queue whose receives fail."""
    url, _ = await make_queue(sqs)
    daemon, wall, mono = _firing(url, "wait_time_seconds = 0\n")

    def status() -> Status:
        return _status(daemon)

    assert status() is Status.FIRING
    async with (
        Proxy(local_sqs.port) as proxy,
        aws_client("sqs", proxy, sqs_config(1, receive=True)) as client,  # sesd's receiver
    ):
        poller = _reading(client, daemon)
        assert await poller._receive() == []  # answered: the queue is read
        proxy.stall()
        hung: list[object] = []
        async with anyio.create_task_group() as tg:

            async def receive() -> None:
                hung.append(await poller._receive())

            tg.start_soon(receive)
            with anyio.fail_after(5):
                while not daemon.in_flight._scopes:  # the receive is in flight
                    await anyio.lowlevel.checkpoint()
            try:
                wall[0] += 900  # 15 minutes of a receive that hangs; the 5m window is empty
                mono[0] += 900
                daemon.alerting.evaluate()
                assert daemon.health.failing == set()  # nothing failed...
                assert daemon.health.ready(mono[0]) == (False, ["q"])  # ...and /readyz says so
                assert status() is Status.FIRING
            finally:
                proxy.cut()  # the hang ends: the connection is dropped
        assert hung == [None]
        proxy.restore()
        # The queue answers again, as it goes on to, before each evaluation: the window
        # still misses what the hang kept back until a window after its last hung one.
        for seconds, then in ((299, Status.FIRING), (1, Status.INACTIVE)):
            wall[0] += seconds
            mono[0] += seconds
            assert await poller._receive() == []
            daemon.alerting.evaluate()
            assert status() is then


async def test_a_clock_step_back_after_an_unread_queue_holds_resolves_a_window_only(
    sqs: Any,
) -> None:
    """A queue unread for two minutes while an alert fires holds its resolves; it is
    read again, then the wall clock steps a day back (a host's clock set by hand, an
    NTP server fixed). The hold starts over at the step and ends a window after it,
    as after any step: the hold set on the old clock, a day ahead of the new one, would
    keep every empty window from resolving for a day."""
    url, _ = await make_queue(sqs)
    # Short polls: each receive of the empty queue answers at once, not in 20 s.
    daemon, wall, mono = _firing(url, "wait_time_seconds = 0\n")

    def status() -> Status:
        return _status(daemon)

    assert status() is Status.FIRING
    attributes = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    await sqs.delete_queue(QueueUrl=url)
    poller = _reading(sqs, daemon)
    assert await poller._receive() is None
    wall[0] += 120
    mono[0] += 120
    daemon.alerting.evaluate()  # unread: resolves held from here
    assert status() is Status.FIRING
    name = url.rsplit("/", 1)[1]
    kept = {"VisibilityTimeout": attributes["Attributes"]["VisibilityTimeout"]}
    await sqs.create_queue(QueueName=name, Attributes=kept)  # made again: read again
    assert await poller._receive() == []
    wall[0] -= 86400  # the wall clock steps a day back; the monotonic clock does not
    daemon.alerting.evaluate()
    assert daemon.clock.steps == 1
    assert status() is Status.FIRING  # within a window of the step: held
    wall[0] += 301
    mono[0] += 301
    assert await poller._receive() == []
    daemon.alerting.evaluate()
    assert status() is Status.INACTIVE
