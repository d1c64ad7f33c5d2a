"""One bounded outbox and one delivery task per sink.

``put`` never blocks: the evaluator (and so ingestion) is never slowed by a
sink. When the outbox is full the oldest queued notification is dropped and
counted. The task delivers in order: backoff with full jitter on network
errors, timeouts and 5xx; on 429 it pauses for as long as the sink asked;
other 4xx are permanent (logged, counted, not retried). A slow or broken sink
only ever delays its own outbox.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Awaitable, Callable

import anyio
from prometheus_client import Counter

from sesd.alerting.evaluator import Notification
from sesd.alerting.sinks import Permanent, RateLimited, Retryable, Sink
from sesd.backoff import backoff_delay
from sesd.logs import get_logger

__all__ = ["OUTCOMES", "Outbox"]

OUTCOMES = ("sent", "retried", "rate_limited", "failed", "dropped")


class Outbox:
    """A sink's queue and the loop that empties it."""

    def __init__(
        self,
        sink: Sink,
        *,
        size: int,
        counter: Counter,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
        retry_base: float = 1.0,
        retry_cap: float = 60.0,
    ) -> None:
        self.sink = sink
        self._size = size
        self._queue: deque[Notification] = deque()
        self._in_flight = False
        self._changed = anyio.Event()
        self._counter = counter
        self._sleep = sleep
        self._rand = rand
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._log = get_logger(sink=sink.name)
        for outcome in OUTCOMES:
            counter.labels(sink.name, outcome)

    def put(self, notification: Notification) -> None:
        """Queue a notification; drops the oldest queued one when full."""
        if len(self._queue) >= self._size:
            dropped = self._queue.popleft()
            self._count("dropped")
            self._log.error(
                "sesd.notify.dropped", rule=dropped.rule, kind=dropped.kind.value, size=self._size
            )
        self._queue.append(notification)
        self._wake()

    def __len__(self) -> int:
        return len(self._queue) + self._in_flight

    async def wait_empty(self) -> None:
        """Return once nothing is queued or being delivered."""
        while len(self):
            await self._changed.wait()

    async def run(self) -> None:
        """Deliver forever, in order."""
        while True:
            while not self._queue:
                await self._changed.wait()
            notification = self._queue.popleft()
            self._in_flight = True
            try:
                await self._deliver(notification)
            finally:
                self._in_flight = False
                self._wake()

    async def _deliver(self, notification: Notification) -> None:
        log = self._log.bind(rule=notification.rule, kind=notification.kind.value)
        attempt = 0
        while True:
            try:
                await self.sink.send(notification)
            except RateLimited as exc:
                self._count("rate_limited")
                log.warning("sesd.notify.rate_limited", pause_seconds=exc.retry_after)
                await self._sleep(exc.retry_after)
            except Retryable as exc:
                attempt += 1
                delay = backoff_delay(
                    attempt, base=self._retry_base, cap=self._retry_cap, rand=self._rand()
                )
                self._count("retried")
                log.warning("sesd.notify.retrying", error=str(exc), attempt=attempt, delay=delay)
                await self._sleep(delay)
            except Permanent as exc:
                self._count("failed")
                log.error("sesd.notify.failed", error=str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - a sink bug must not kill the outbox
                self._count("failed")
                log.error("sesd.notify.failed", error=type(exc).__name__)
                return
            else:
                self._count("sent")
                log.info("sesd.notify.sent", alerts=len(notification.alerts), attempts=attempt + 1)
                return

    def _count(self, outcome: str) -> None:
        self._counter.labels(self.sink.name, outcome).inc()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
