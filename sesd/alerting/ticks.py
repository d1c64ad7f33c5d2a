"""The evaluation's ticks: every ``[alerts] evaluate_every``, drift-free, a tick missed
while busy skipped rather than queued. A reload that changes the period takes it from
the last tick, not after the old period has run out (an hour, for a file that had
"1h")."""

from __future__ import annotations

from collections.abc import Callable

import anyio

__all__ = ["Ticks"]


class Ticks:
    """When the next evaluation is due, every ``every()`` seconds from :meth:`begin`."""

    def __init__(self, every: Callable[[], float]) -> None:
        self._every = every
        self._at = 0.0
        #: Set by :meth:`retime` (made in :meth:`begin`: an event needs the event loop).
        self._retimed: anyio.Event | None = None

    def begin(self) -> None:
        """The first tick is now."""
        self._at = anyio.current_time()
        self._retimed = anyio.Event()

    def retime(self) -> None:
        """The period may have changed (a reload): the wait under way is reckoned again."""
        if self._retimed is not None:
            self._retimed.set()

    async def next(self) -> None:
        """Sleep until the next tick: the period after the last one, or now if that has
        passed."""
        assert self._retimed is not None, "begin() first"
        while True:
            at = max(self._at + self._every(), anyio.current_time())
            with anyio.CancelScope(deadline=at):
                await self._retimed.wait()
            if not self._retimed.is_set():
                self._at = at
                return
            self._retimed = anyio.Event()
