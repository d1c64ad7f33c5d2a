"""The bound on SQS calls in flight during a stop: each call is shielded from
cancellation (a receive cut off mid-request would hide the messages SQS already took
until their visibility timeout; a delete cut off would leave counted messages to come
back), but only until the stop's grace period ends."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from types import TracebackType

import anyio

__all__ = ["InFlight"]


class InFlight:
    """SQS calls in flight, shielded from cancellation but bounded: once a stop has
    begun, a receive ends with the grace period, and a delete or a release no more
    than ``margin`` seconds after it, except a release after a cancellation, which
    has ``margin`` seconds of its own."""

    def __init__(self, margin: float = 2.0) -> None:
        self.deadline = math.inf
        self._margin = margin
        #: Each call's scope, with the margin it has past the grace period.
        self._scopes: dict[anyio.CancelScope, float] = {}

    def scope(self, limit: float = math.inf, *, margin: bool = True) -> _Bounded:
        """A shielded scope for one call: at most ``limit`` seconds, and no later than the
        end of the grace period (plus the margin, for deletes and releases), whether
        the stop began before the call or during it."""
        extra = self._margin if margin else 0.0
        deadline = self.deadline + extra
        if limit != math.inf:  # a receive has none: no clock read (every batch has one)
            deadline = min(anyio.current_time() + limit, deadline)
        return _Bounded(self._scopes, anyio.CancelScope(shield=True, deadline=deadline), extra)

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
        for scope, extra in self._scopes.items():
            scope.deadline = min(scope.deadline, deadline + extra)

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

    __slots__ = ("_extra", "_scope", "_scopes")

    def __init__(
        self, scopes: dict[anyio.CancelScope, float], scope: anyio.CancelScope, extra: float
    ) -> None:
        self._scopes = scopes
        self._scope = scope
        self._extra = extra

    def __enter__(self) -> anyio.CancelScope:
        scope = self._scope.__enter__()
        self._scopes[scope] = self._extra
        return scope

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        del self._scopes[self._scope]
        return self._scope.__exit__(exc_type, exc, tb)
