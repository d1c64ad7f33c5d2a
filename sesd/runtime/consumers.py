"""Every queue's pollers, started and stopped one queue at a time.

At start each ``[[queues]]`` entry gets its pollers; a reload starts the
queues it adds and stops those it removes (they finish the receive in
flight, handle it, and end within the grace period); a stop ends them all,
cancelling what is left when the grace period is over.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial

import anyio
import anyio.abc
from prometheus_client import Counter

from sesd.config import QueueConfig
from sesd.io.logs import get_logger
from sesd.runtime.in_flight import InFlight
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_calls import InvalidMemory
from sesd.runtime.supervise import kept_running

__all__ = ["Consumers", "PollerFactory"]

#: Makes poller number ``index`` of a queue, stopping when ``stop`` is set.
PollerFactory = Callable[[QueueConfig, anyio.Event, InvalidMemory, int], QueuePoller]
#: What a queue's pollers hold while they run (its clients: sesd.runtime.aws).
Hold = Callable[[QueueConfig], AbstractAsyncContextManager[object]]


@dataclass(slots=True)
class _Consumer:
    """One queue's pollers: set ``stop`` to end them."""

    queue: QueueConfig
    stop: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)


class Consumers:
    """The queues being consumed, by label."""

    def __init__(
        self,
        make_poller: PollerFactory,
        failures: Counter,
        hold: Hold = lambda queue: nullcontext(),
    ) -> None:
        self._make_poller = make_poller
        self._hold = hold
        #: ``sesd_task_failures_total``: a poller's fault is counted as ``poller``'s.
        self._failures = failures
        self._running: dict[str, _Consumer] = {}
        #: The invalid message ids each queue's pollers saw, by label: kept while the
        #: queue is read where it was, so pollers a reload starts anew (its
        #: ``concurrency`` changed) do not count and log again an invalid message left
        #: for the dead-letter queue. Forgotten when a reload removes the queue or moves
        #: it (another URL, region or account): another queue's messages are judged
        #: there anew (a stand-in's ids repeat; SQS's own, moved to a dead-letter queue
        #: read next under the name, would pass uncounted and unlogged).
        self._invalid: dict[str, InvalidMemory] = {}
        self._group: anyio.abc.TaskGroup | None = None
        #: Whether a stop began: from then on no queue starts.
        self._stopping = False
        self._log = get_logger()

    async def run(
        self,
        queues: list[QueueConfig],
        stopping: anyio.Event,
        grace: Callable[[], float],
        in_flight: InFlight,
    ) -> float:
        """Consume ``queues`` (and those :meth:`change` adds) until ``stopping`` is set,
        then stop within ``grace()`` seconds; returns the deadline the stop had."""
        async with anyio.create_task_group() as group:
            self._group = group
            for queue in queues:
                self._start(queue)
            await stopping.wait()
            self._stopping = True
            # Pollers return once their receive in flight has come back and been
            # handled; past the grace period they are cancelled, and what a receive
            # brings after that is released (visibility 0).
            deadline = anyio.current_time() + grace()
            for consumer in self._running.values():
                consumer.stop.set()
            group.cancel_scope.deadline = deadline
            # SQS calls in flight are shielded; past the grace period they are bounded
            # too (a stalled network would otherwise hold the stop until a SIGKILL).
            in_flight.end_by(deadline)
        if group.cancel_scope.cancelled_caught:
            self._log.warning("sesd.daemon.grace_period_exceeded", grace_seconds=grace())
        return deadline

    def change(
        self,
        before: list[QueueConfig],
        after: list[QueueConfig],
        grace: float,
        *,
        start: bool = True,
    ) -> list[QueueConfig]:
        """Stop the queues no longer in ``after`` (or changed) within ``grace`` seconds and
        start those new in it; returns the started ones. Once a stop has begun (a reload
        that raced it; ``start`` False: the daemon's word, as this one's may come a
        moment later) nothing starts: the stop is ending every queue, and a poller
        started now would read, unasked, until cut off at the grace period's end. What
        the reload removed or moved is no longer in force all the same: its pollers end
        with the stop, their last answers the old place's (counted on none of the queue
        in force's series, nor making it ready)."""
        old = {q.label: q for q in before}
        new = {q.label: q for q in after}
        places = {label: q.place for label, q in old.items()}
        for label in [k for k in self._invalid if k not in new or new[k].place != places.get(k)]:
            del self._invalid[label]
        for label, queue in old.items():
            # (Not running: one an earlier reload of this stop moved, and started none.)
            if new.get(label) != queue and label in self._running:
                consumer = self._running.pop(label)
                consumer.stop.set()
                consumer.scope.deadline = anyio.current_time() + grace
        if self._stopping or not start:
            return []
        started = [queue for label, queue in new.items() if old.get(label) != queue]
        for queue in started:
            self._start(queue)
        return started

    def _start(self, queue: QueueConfig) -> None:
        assert self._group is not None, "start a queue inside run()"
        consumer = self._running[queue.label] = _Consumer(queue)
        self._group.start_soon(self._consume, consumer)

    def _serving(self, consumer: _Consumer) -> bool:
        """Whether ``consumer`` reads its queue as the config in force has it: not once
        a reload removed or changed the queue (a stop leaves it so)."""
        return self._running.get(consumer.queue.label) is consumer

    async def _consume(self, consumer: _Consumer) -> None:
        memory = self._invalid.setdefault(consumer.queue.label, InvalidMemory())
        # Held until the last poller has ended: a client a reload retired meanwhile is
        # closed then, not under a receive in flight.
        async with self._hold(consumer.queue):
            with consumer.scope:
                async with anyio.create_task_group() as pollers:
                    for index in range(consumer.queue.concurrency):
                        poller = self._make_poller(consumer.queue, consumer.stop, memory, index)
                        poller.in_force = partial(self._serving, consumer)
                        # A fault nobody foresaw (a bug; a CancelledError no stop asked
                        # for, which an anyio task group would take for a cancel and end
                        # the poller quietly) is counted and logged, and the poller
                        # starts again.
                        pollers.start_soon(partial(
                            kept_running, "poller", poller.run, self._failures,
                            until=consumer.stop, queue=consumer.queue.label,
                        ))  # fmt: skip
        self._log.info("sesd.queue.stopped", queue=consumer.queue.label)
