"""What of a cold drain's CPU is its MX lookups: how many fell inside it, and the CPU
the daemon's lookers took for them.

A cold start's lookups are paced in time (``[providers] rate``, 20 a second), not by
messages, so how many fall inside bench/end_to_end.py's cold drain follows the
drain's wall time, and that follows the machine's neighbours as much as sesd: on a
shared machine a 20,000-message drain took two to three times its CPU time, and
100-230 lookups fell inside it, where its CPU time alone would have let about 40.
Each costs CPU in the daemon's process (dnspython's query and parse, a socket each),
so the cold drain's CPU a message grows with the machine's load. The lookers' own
steps are timed here (the thread's CPU clock around each), so the bench can say
what of the cold figure is its lookups and what its events; what dnspython runs
outside those steps (the socket's callbacks, a timeout's task) is left in the events'.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any

from sesd.providers.resolver import ProviderResolver


@dataclass(frozen=True)
class Lookups:
    """The lookups answered inside a drain, the CPU their lookers took (seconds), the
    drain's wall time (seconds)."""

    answered: int
    cpu: float
    wall: float


class _Tally:
    cpu = 0.0


class _Timed(Coroutine[Any, Any, None]):
    """A coroutine whose every step adds the thread's CPU time it took to ``tally``."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], tally: _Tally) -> None:
        self._coroutine = coroutine
        self._tally = tally

    def send(self, value: Any) -> Any:
        start = time.thread_time()
        try:
            return self._coroutine.send(value)
        finally:
            self._tally.cpu += time.thread_time() - start

    def throw(self, *exc: Any) -> Any:
        start = time.thread_time()
        try:
            return self._coroutine.throw(*exc)
        finally:
            self._tally.cpu += time.thread_time() - start

    def close(self) -> None:
        self._coroutine.close()

    def __next__(self) -> Any:
        return self.send(None)

    def __await__(self) -> Generator[Any, None, None]:
        return self  # type: ignore[return-value]


class LookerClock:
    """Times ``resolver``'s lookers, made when the daemon runs (so made before then):
    :meth:`start` at the drain's start, :meth:`read` at its end."""

    def __init__(self, resolver: ProviderResolver) -> None:
        self._resolver = resolver
        self._tally = _Tally()
        looker = resolver._looker
        resolver._looker = lambda turn: _Timed(looker(turn), self._tally)  # type: ignore[method-assign]
        self._from = Lookups(0, 0.0, 0.0)

    def _now(self) -> Lookups:
        answered = sum(self._resolver.cache.outcomes.values())
        return Lookups(answered, self._tally.cpu, time.perf_counter())

    def start(self) -> None:
        """The drain starts."""
        self._from = self._now()

    def read(self) -> Lookups:
        """The lookups since :meth:`start`."""
        now = self._now()
        return Lookups(
            now.answered - self._from.answered,
            now.cpu - self._from.cpu,
            now.wall - self._from.wall,
        )
