"""The bound on SQS calls in flight during a stop: each call is shielded from
cancellation (a receive cut off mid-request would hide the messages SQS already took
until their visibility timeout; a delete cut off would leave counted messages to come
back), but only until the stop's grace period ends."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import anyio

__all__ = ["Cut", "InFlight"]


class InFlight:
    """SQS calls in flight, shielded from cancellation but bounded: once a stop has
    begun, a receive ends with the grace period, and a delete or a release no more
    than ``margin`` seconds after it, except a release after a cancellation, which
    has ``margin`` seconds of its own."""

    def __init__(self, margin: float = 2.0) -> None:
        self.deadline = math.inf
        self._margin = margin
        #: Each call's scope, with the margin it has past the grace period and the moment
        #: its own limit cuts it off (inf: none).
        self._scopes: dict[anyio.CancelScope, tuple[float, float]] = {}
        #: The calls made in tasks of their own (:meth:`bound`), which the timer cuts off.
        self._cuts: set[Cut] = set()
        #: The one timer that cuts off the calls past their own limit, the moment it is
        #: set for, and its event loop. A scope's own deadline would make a timer on
        #: every delete and cancel it a few milliseconds later, about 21,000
        #: instructions a batch; this one is set when none is pending for an earlier
        #: moment, and when it fires it cuts off the calls whose limit has come and is
        #: set again for the next call still in flight, if any: a delete is cut off at
        #: the moment its limit ends, as before.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def scope(self, limit: float = math.inf, *, margin: bool = True) -> _Bounded:
        """A shielded scope for one call: at most ``limit`` seconds, and no later than the
        end of the grace period (plus the margin, for deletes and releases), whether
        the stop began before the call or during it."""
        extra = self._margin if margin else 0.0
        cut_at = math.inf
        if limit != math.inf:  # a receive has none: no clock read (every batch has one)
            # The event loop's clock, anyio's on asyncio, read without anyio's dispatch.
            cut_at = asyncio.get_running_loop().time() + limit
        scope = anyio.CancelScope(shield=True, deadline=self.deadline + extra)
        return _Bounded(self, scope, extra, cut_at)

    def bound(self, limit: float) -> Cut:
        """The bound :meth:`scope` gives a call (``limit`` seconds, the margin past the
        grace period), for one made in an asyncio task of its own, which no cancel scope
        reaches: its ``task`` (set by the caller) is cancelled when the bound ends, and
        the bound's ``caught`` says so (the task may not have begun: a cut that comes
        at once); the caller ends the bound with :meth:`unbound`.
        No scope of its own: the poller's delete is made so beside each batch's
        receive, and a shielded scope's entry and exit cost 37,000 instructions."""
        cut = Cut(self._margin, asyncio.get_running_loop().time() + limit)
        self._cuts.add(cut)
        self._cut_at(min(cut.cut_at, self.deadline + cut.extra))
        return cut

    def unbound(self, cut: Cut) -> None:
        """The call ``cut`` bounds has ended: no longer cut off."""
        self._cuts.discard(cut)

    def lift(self, scope: anyio.CancelScope) -> bool:
        """The call :meth:`scope` made ``scope`` for has ended: lift its bound, the scope
        still shielded (a wait in it for a call bounded on its own, the delete made
        beside a receive, is neither cut off with the receive nor given a scope of its
        own: about 29,000 instructions a batch). False, and nothing lifted, if the
        bound has cut it off already."""
        if scope.cancel_called:
            return False
        del self._scopes[scope]
        if scope.deadline != math.inf:
            scope.deadline = math.inf
        return True

    def _cut_at(self, when: float) -> None:
        """Have the timer fire at ``when`` at the latest (a call's limit ends then)."""
        loop = asyncio.get_running_loop()
        if when >= self._timer_at and loop is self._timer_loop:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._expire)
        self._timer_at, self._timer_loop = when, loop

    def _expire(self) -> None:
        """The timer: cut off each call whose own limit has ended; set again for the
        soonest of those still running."""
        self._timer, self._timer_at = None, math.inf
        now = asyncio.get_running_loop().time()
        soonest = math.inf
        for scope, (_, cut_at) in list(self._scopes.items()):
            if cut_at <= now:
                scope.cancel()
            else:
                soonest = min(soonest, cut_at)
        for cut in list(self._cuts):
            when = min(cut.cut_at, self.deadline + cut.extra)
            if when <= now:
                cut.cancel()
            else:
                soonest = min(soonest, when)
        if soonest != math.inf:
            self._cut_at(soonest)

    @contextlib.contextmanager
    def budget(self) -> Iterator[anyio.CancelScope]:
        """A shielded scope of ``margin`` seconds from now, whatever the grace period:
        messages received as a cancellation arrived are given back even when it
        arrives at the very end (bounded by the grace period, the release would be
        cut off before it began)."""
        with anyio.CancelScope(shield=True, deadline=anyio.current_time() + self._margin) as scope:
            yield scope

    def end_by(self, deadline: float) -> None:
        """A stop began: bound every call in flight, and every later one, by ``deadline``.
        A bound only ever comes sooner: a forced exit's cut that came before the stop's
        bound (both signals handled before the consumers woke) stays."""
        self.deadline = min(self.deadline, deadline)
        deadline = self.deadline
        for scope, (extra, _) in self._scopes.items():
            scope.deadline = min(scope.deadline, deadline + extra)
        if self._cuts:
            # At once if it has come, as a scope's deadline does; else by the timer.
            now = asyncio.get_running_loop().time()
            for cut in list(self._cuts):
                if deadline + cut.extra <= now:
                    cut.cancel()
                else:
                    self._cut_at(deadline + cut.extra)

    def cut(self) -> None:
        """A forced exit begins: every call in flight is cut off, and any later one at
        once (a release, after a cancellation, keeps its own moment). The exit's save
        holds what was read until now; a delete after its snapshot would leave what the
        batch brought in neither that file nor the queue."""
        self.end_by(-math.inf)


class _Bounded:
    """:meth:`InFlight.scope`'s scope, known to its :class:`InFlight` while it is entered
    (a stop's bound reaches it). A class, not a generator's context manager: two of
    them a batch, and the generator's machinery cost about a third of the scope."""

    __slots__ = ("_cut_at", "_extra", "_in_flight", "_scope")

    def __init__(
        self, in_flight: InFlight, scope: anyio.CancelScope, extra: float, cut_at: float
    ) -> None:
        self._in_flight = in_flight
        self._scope = scope
        self._extra = extra
        self._cut_at = cut_at

    def __enter__(self) -> anyio.CancelScope:
        scope = self._scope.__enter__()
        self._in_flight._scopes[scope] = (self._extra, self._cut_at)
        if self._cut_at != math.inf:
            self._in_flight._cut_at(self._cut_at)
        return scope

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._in_flight._scopes.pop(self._scope, None)  # (lifted already: :meth:`lift`)
        return self._scope.__exit__(exc_type, exc, tb)


class Cut:
    """:meth:`InFlight.bound`'s bound of one call made in a task of its own: ``task``
    is cancelled when the bound ends, and ``caught`` then says the bound ended before
    the call did (a cancellation it ends in is the cut's; one that came otherwise is no
    cut; an answer that came as the bound ended is read, not cut off)."""

    __slots__ = ("caught", "cut_at", "extra", "task")

    def __init__(self, extra: float, cut_at: float) -> None:
        self.extra = extra
        self.cut_at = cut_at
        self.task: asyncio.Task[Any] | None = None
        self.caught = False

    def cancel(self) -> None:
        """Cut the call off (not once it has ended); not in a turn of the event loop
        where what the task waits for has come (SQS's answer, read at the task's next
        step), as a cancel scope does not: the cancellation would take the answer's
        place, and a delete SQS made would be said cut off, its messages said to come
        back, the answer's bookkeeping lost. The next turn cancels it (its step, asked
        for first, has run), whatever it then waits for: the delete's second try, or
        more of an answer that keeps coming, which a cut that waited at each turn (as a
        cancel scope does) would let run for as long as it came."""
        task = self.task
        if task is not None and not self.caught and not task.done():
            self.caught = True
            # asyncio's own record of what the task waits for (anyio's scopes read it too).
            waiter = getattr(task, "_fut_waiter", None)
            if isinstance(waiter, asyncio.Future) and waiter.done():
                task.get_loop().call_soon(self._again)
            else:
                self._again()

    def _again(self) -> None:
        """Cancel the task, and again at each turn of the event loop until it ends, as a
        cancel scope does the tasks in it: code under the call that took one
        cancellation for its own and waited on would else outlast the bound."""
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            task.get_loop().call_soon(self._again)
