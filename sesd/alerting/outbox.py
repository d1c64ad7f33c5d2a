"""One bounded outbox and one delivery task per sink.

``put`` never blocks: the evaluator (and so ingestion) is never slowed by a
sink. When the outbox is full one notification is dropped (sesd.alerting.queued
says which), logged and counted. The task delivers the most urgent first
(by the rule's severity), in order within a severity; a notification waiting
out a sink's 429 or backoff steps aside for a more urgent one (a critical page
is not held behind five hundred warnings at PagerDuty's rate), and goes on
from where it was when its turn comes again. Backoff with full jitter on network
errors, timeouts, 408 and 5xx; on 429 it pauses for as long as the sink asked (a
pause past the notification's age limit gives it up, and the next waits out the
rest of the pause, up to that limit, rather than being posted into it);
other 4xx are permanent (logged, counted, not retried). A notification that
cannot be delivered within ``max_age`` of its first attempt (a URL that will
never answer) is given up as ``expired``, so the line moves on. A slow or
broken sink only ever delays its own outbox. A sink that keeps each alert's
state rather than a history of messages (Alertmanager) is sent no firing for an
alert whose resolve already waits behind it: the resolve says all there is. A sink
that sends each alert's event in turn (PagerDuty) asks before each whether the
alert's resolve waits behind (``over``), so an incident that began and ended
while it was unreachable does not page as it comes back.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable

import anyio
from prometheus_client import Counter

from sesd.alerting.alert import Notification
from sesd.alerting.behind import still_told
from sesd.alerting.clock_steps import Moves
from sesd.alerting.queued import Queued
from sesd.alerting.sinks import Permanent, RateLimited, Retryable, Sink
from sesd.alerting.urgency import rank as _rank
from sesd.io.backoff import backoff_delay
from sesd.io.cancelled import stop_asked
from sesd.io.logs import get_logger

__all__ = ["CATCH_UP_PAUSE", "OUTCOMES", "Outbox"]

#: Seconds before a catch-up that failed for a reason of sesd's own is tried again.
CATCH_UP_PAUSE = 10.0

OUTCOMES = ("sent", "retried", "rate_limited", "failed", "dropped", "expired")
#: The longest pause a 429 gets: Slack's and PagerDuty's limits ask for seconds to a
#: minute; an hour's Retry-After (a proxy's, a misconfigured header) would hold every
#: page of the sink that long, where a post every five minutes costs one more refusal.
LONGEST_PAUSE = 300.0


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
        max_age: float = 3600.0,
        clock: Callable[[], float] = anyio.current_time,
        faults: Callable[[], None] = lambda: None,
    ) -> None:
        self.sink = sink
        self._queued = Queued(size)
        #: What is queued, the next to deliver first (the order is :attr:`_queued`'s).
        self._queue: deque[Notification] = self._queued.line
        self._in_flight = False
        self._delivering: Notification | None = None
        #: When (``clock``) the notification being delivered was first tried.
        self._first = 0.0
        self._changed = anyio.Event()
        self._counter = counter
        self._sleep = sleep
        self._rand = rand
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._max_age = max_age
        self._clock = clock
        self._faults = faults
        self._closing = False
        #: When (``clock``) a 429 that expired its notification asked the sink's pause to end.
        self._resume_at = -math.inf
        #: The wait under way after a failure: the endpoint's, ended by another (:meth:`use`).
        self._waiting = anyio.CancelScope()
        #: Called with each notification once its delivery ended (sent or given up).
        self.on_done: Callable[[Notification], None] = lambda notification: None
        self._log = get_logger(sink=sink.name)
        for outcome in OUTCOMES:
            counter.labels(sink.name, outcome)
        self._hook(sink)

    def use(self, sink: Sink) -> None:
        """Deliver through ``sink`` from now on (a reload changed the sink's config): what
        is queued and the delivery under way go on through it, and it takes over what
        the sink it replaces knew of an outage (``adopt``: the resolves an Alertmanager
        member is owed). Without that, a reload during an outage paged PagerDuty for
        incidents already over, and left a member's alert firing."""
        adopt = getattr(sink, "adopt", None)
        if adopt is not None:
            adopt(self.sink)
        if getattr(sink, "endpoint", None) != getattr(self.sink, "endpoint", None):
            # A 429's pause (a backoff too) is the endpoint's that asked: not another's.
            self._resume_at = -math.inf
            self._waiting.cancel()
        self.sink = sink
        self._hook(sink)

    def _hook(self, sink: Sink) -> None:
        """Let a sink that sends each alert's event in turn ask what waits behind."""
        if hasattr(sink, "over"):
            sink.over = self.resolve_waits

    def limit(self, size: int, max_age: float) -> None:
        """Take new limits (a reload): a smaller queue drops now what :meth:`put` would
        have (those begun last); a delivery under way keeps retrying until the
        new ``max_age``. A 429's pause begun runs on, however long: an age runs from a
        first try, so waiting drops nothing, and posted into, the endpoint refuses."""
        self._queued.size = size
        self._max_age = max_age
        self._dropped(self._queued.over())

    def close(self) -> None:
        """Deliver what is queued (and what the sink owes members), then let :meth:`run`
        return (the sink was removed)."""
        self._closing = True
        self._wake()

    def reopen(self) -> None:
        """Go on delivering after :meth:`close` (the sink was named again), while
        :meth:`run` has not returned."""
        self._closing = False

    def put(self, notification: Notification) -> None:
        """Queue a notification behind the as urgent or more; when full, drops one
        (:meth:`Queued.over <sesd.alerting.queued.Queued.over>`), perhaps this one."""
        self._queued.add(notification)
        self._dropped(self._queued.over())
        self._wake()

    def _dropped(self, dropped: list[Notification]) -> None:
        """Log and count each notification dropped from the full outbox."""
        for notification in dropped:
            self._count("dropped")
            self._log.error(
                "sesd.notify.dropped",
                rule=notification.rule,
                kind=notification.kind.value,
                size=self._queued.size,
                hint="the sink has not taken notifications for a while: fix it (see "
                "sesd.notify.* lines before this one), or raise [alerts] outbox_size",
            )

    def waiting(self) -> list[Notification]:
        """The queued notifications no delivery has begun on."""
        return self._queued.waiting()

    def swap(self, queued: Notification, other: Notification | None) -> None:
        """Put ``other`` where ``queued`` waits (None: take it out), as
        :meth:`Queued.swap <sesd.alerting.queued.Queued.swap>`."""
        self._queued.swap(queued, other)
        self._wake()

    def remuted(self, made: Callable[[Notification], Notification]) -> None:
        """Each queued notification no delivery has begun on made again by ``made`` (its
        mute lines), in its place: :meth:`Queued.remade <sesd.alerting.queued.Queued.remade>`."""
        self._queued.remade(made)

    def resolve_waits(self, rule: str, label: str) -> bool:
        """Whether a resolve of ``rule``'s alert on ``label`` waits in the queue."""
        return self._queued.resolve_waits(rule, label)

    def moved(self, moves: Moves) -> None:
        """The wall clock stepped (measured, ``moves``' step): each notification not
        delivered yet, the one under way too (at its next try), moves its times as far,
        as the evaluator's (sesd.alerting.clock_steps), keeping its place and its first
        try. Unmoved, a resolve waiting out an outage across an hour's step back was
        posted ending an hour ahead (Alertmanager kept the alert firing that long), and
        a save wrote its old start and end."""
        new = {id(n): moves.notification(n) for n in self.unsent()}
        self._queued.moved(new)
        if self._delivering is not None:
            self._delivering = new[id(self._delivering)]

    def age(self, notification: Notification) -> float | None:
        """Seconds since ``notification`` (being delivered, or stepped aside) was first
        tried; None when no delivery has begun on it."""
        if notification is self._delivering:
            return self._clock() - self._first
        if any(waiting is notification for waiting in self._queued.waiting()):
            return None
        return self._clock() - self._queued.first_tried(notification, self._clock())

    def resume(self, notification: Notification, age: float) -> None:
        """Queue ``notification``, first tried ``age`` seconds ago (before a restart), as
        one that stepped aside: its delivery begun (sesd.alerting.part_saved)."""
        self._queued.step_aside(notification, self._clock() - age)
        self._dropped(self._queued.over())
        self._wake()

    def __len__(self) -> int:
        return len(self._queue) + self._in_flight

    def busy(self) -> bool:
        """Whether :meth:`run` has work left: queued, in flight, or owed to members."""
        return bool(len(self)) or self._owed_at() is not None

    def unsent(self) -> list[Notification]:
        """What is not delivered yet: the notification being delivered, then the queue."""
        first = [] if self._delivering is None else [self._delivering]
        return first + list(self._queue)

    async def wait_empty(self) -> None:
        """Return once nothing is queued or being delivered."""
        while len(self):
            await self._changed.wait()

    async def run(self) -> None:
        """Deliver in order, until closed and empty."""
        while True:
            while not self._queue:
                if self._closing and self._owed_at() is None:
                    # Not before what members are owed went (a removed Alertmanager's
                    # last resolves), or they are forgotten: bounded by the sink.
                    return
                await self._idle()
            if await self._paused():
                continue  # what is queued may have changed meanwhile
            notification = self._queue.popleft()
            self._in_flight, self._delivering = True, notification
            try:
                done = await self._deliver(notification)
            except (Exception, asyncio.CancelledError) as exc:
                # A bug, in the sink (rendering) or around its send: this sink loses this
                # notification, counted and logged with its traceback (a bug must be
                # findable, not just a class name); raised, it would cancel every other
                # sink's delivery in flight. A CancelledError no stop asked for (a future
                # of the HTTP client's cancelled under the send) is one too: raised, it
                # ended the alerting task whole, quietly, as if sesd were stopping.
                if isinstance(exc, asyncio.CancelledError) and stop_asked():
                    raise
                self._count("failed")
                log = self._log.bind(rule=notification.rule, kind=notification.kind.value)
                log.error("sesd.notify.failed", error=type(exc).__name__, exc_info=True)
                done = True
            finally:
                notification = self._delivering or notification  # as a clock step moved it
                self._in_flight, self._delivering = False, None
                self._wake()
            if done:
                self._queued.forget(notification)
                self._done(notification)

    def _done(self, notification: Notification) -> None:
        """Tell :attr:`on_done` that ``notification``'s delivery ended. A fault there (a
        bug after the delivery, not in it) is counted (``faults``) and logged with its
        traceback; raised, it would end this task, and with it every other sink's
        delivery in flight (they share a task group): what they were delivering lost,
        nothing more sent until the alerting task started again."""
        try:
            self.on_done(notification)
        except Exception as exc:
            log = self._log.bind(rule=notification.rule, kind=notification.kind.value)
            log.error(
                "sesd.notify.followup_failed",
                error=type(exc).__name__,
                hint="the delivery itself ended (the line before); what sesd does after "
                "one (saving the state at once) failed, and the outbox runs on. A fault "
                "that repeats is a bug: report it with this traceback",
                exc_info=True,
            )
            self._faults()

    async def _deliver(self, notification: Notification) -> bool:
        """Deliver (or give up) and return True; False when it stepped aside for a more
        urgent notification, queued again ahead of its own severity."""
        log = self._log.bind(rule=notification.rule, kind=notification.kind.value)
        attempt, limited = 0, False
        first = self._first = self._queued.first_tried(notification, self._clock())
        while True:
            notification = self._delivering or notification  # as a clock step moved it
            current, sink = self._current(notification), self.sink
            if current is None:
                log.info("sesd.notify.superseded", reason="every alert in it has resolved since")
                return True
            try:
                await sink.send(current)
            except RateLimited as exc:
                pause, limited = min(exc.retry_after, LONGEST_PAUSE), True
                self._count("rate_limited")
                log.warning("sesd.notify.rate_limited", pause_seconds=pause, asked=exc.retry_after)
            except Retryable as exc:
                attempt, limited = attempt + 1, False
                pause = backoff_delay(
                    attempt, base=self._retry_base, cap=self._retry_cap, rand=self._rand()
                )
                self._count("retried")
                log.warning("sesd.notify.retrying", error=str(exc), attempt=attempt, delay=pause)
            except Permanent as exc:
                self._count("failed")
                log.error("sesd.notify.failed", **exc.logged())
                return True
            else:
                self._count("sent")
                log.info("sesd.notify.sent", alerts=len(current.alerts), attempts=attempt + 1)
                return True
            if getattr(sink, "endpoint", None) != getattr(self.sink, "endpoint", None):
                continue  # a reload moved the sink during the post: the answer was the old one's
            if self._clock() + pause - first > self._max_age:
                self._count("expired")
                log.error(
                    "sesd.notify.expired",
                    attempts=attempt + 1,
                    max_age_seconds=self._max_age,
                    hint="the sink kept failing; check its URL and status",
                )
                if limited:
                    # The sink asked for the pause, not this notification: the next one
                    # waits it out (posted into it, each would be refused and given up
                    # in turn, a queue of resolves lost in milliseconds); at most
                    # max_age, the longest any notification is tried for.
                    self._resume_at = self._clock() + min(pause, self._max_age)
                return True
            with anyio.CancelScope() as self._waiting:
                await self._sleep(pause)
            notification = self._delivering or notification  # as a clock step moved it
            head = self._queue[0] if self._queue else None
            if head and _rank(head) < _rank(notification) and head.rule != notification.rule:
                # Something more urgent came while this one waited: it goes first.
                self._queued.step_aside(notification, first)
                log.info("sesd.notify.stepped_aside", severity=notification.severity)
                return False

    async def _paused(self) -> bool:
        """Wait out what is left of a pause a 429 asked for; whether there was any."""
        left, self._resume_at = self._resume_at - self._clock(), -math.inf
        if left <= 0:
            return False
        self._log.info("sesd.notify.paused", pause_seconds=round(left, 1))
        with anyio.CancelScope() as self._waiting:
            await self._sleep(left)
        return True

    def _current(self, notification: Notification) -> Notification | None:
        """What of ``notification`` goes to the sink (sesd.alerting.behind)."""
        return still_told(notification, self._queue, getattr(self.sink, "keeps_state", False))

    def _count(self, outcome: str) -> None:
        self._counter.labels(self.sink.name, outcome).inc()

    def _owed_at(self) -> float | None:
        """When the sink may post what it owes members (None: it owes nothing)."""
        owing = getattr(self.sink, "owing", None)
        due: float | None = owing() if owing is not None else None
        return due

    async def _idle(self) -> None:
        """Wait for a notification; meanwhile a sink that owes members what they missed
        (Alertmanager: a resolve) posts it when that member may be tried again."""
        due = self._owed_at()
        if due is None:
            await self._changed.wait()
            return
        with anyio.move_on_after(max(0.0, due - self._clock())):
            await self._changed.wait()
            return
        try:
            await self.sink.catch_up()  # type: ignore[attr-defined]
        except (Exception, asyncio.CancelledError) as exc:
            # A bug in posting what members missed (a member's failure is the sink's to
            # keep): raised, it ended every sink's outbox and the evaluations until the
            # alerting task started again. Counted and logged; what is owed stays owed,
            # tried again after a pause (at once, a bug that repeats would spin).
            if isinstance(exc, asyncio.CancelledError) and stop_asked():
                raise
            self._log.error("sesd.notify.catch_up_failed", error=type(exc).__name__, exc_info=True)
            self._faults()
            with anyio.move_on_after(CATCH_UP_PAUSE):
                await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
