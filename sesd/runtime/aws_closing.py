"""When sesd's AWS clients close: each one a reload in force no longer needs, as soon
as nothing holds it (a poller's receive in flight, a poll round, the canary); every
other at exit. Kept open instead, each reload that changed which clients are needed
left some open until exit, their connection pools and sockets with them."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import anyio

from sesd.config.sections import EXIT_ROOM
from sesd.runtime.closes import in_turns
from sesd.runtime.exit_room import ExitRoom

__all__ = ["Closing"]


class Closing:
    """The clients not yet closed, what holds them, and those waiting to close."""

    def __init__(self, exit_room: ExitRoom | None = None) -> None:
        #: The daemon's exit's budget: a close of some once it has begun has its share
        #: of what is left of its closes' plan, not a room of its own.
        self._exit_room = exit_room
        #: Each client not yet closed (by ``id``), with what closes it and its name.
        self._open: dict[int, tuple[Any, AsyncExitStack, str]] = {}
        #: The clients nothing needs any more (by ``id``), with their use: closed once
        #: nothing holds them.
        self._retired: dict[int, str] = {}
        #: How many users hold each client (by ``id``), and every client of a use.
        self._holds: Counter[int] = Counter()
        self._uses: Counter[str] = Counter()

    def opened(self, client: Any, closing: AsyncExitStack, name: str = "aws_client") -> None:
        """``client`` is made; ``closing`` closes it; ``name`` says which it is."""
        self._open[id(client)] = client, closing, name

    @asynccontextmanager
    async def holding(self, *clients: Any) -> AsyncIterator[None]:
        """Hold ``clients`` while the block runs: one retired meanwhile is closed as its
        last hold ends, not under a call in flight."""
        for client in clients:
            self._holds[id(client)] += 1
        try:
            yield
        finally:
            for client in clients:
                self._holds[id(client)] -= 1
            self._holds = +self._holds  # (drops the zeros)
            await self._close_held()

    @asynccontextmanager
    async def holding_all(self, use: str) -> AsyncIterator[None]:
        """Hold every client of ``use`` while the block runs (a poll round, which asks
        for its clients as it goes), as :meth:`holding`."""
        self._uses[use] += 1
        try:
            yield
        finally:
            self._uses[use] -= 1
            await self._close_held()

    async def retire(self, client: Any, use: str) -> None:
        """Nothing needs ``client`` (of ``use``) any more: closed now, or as soon as
        nothing holds it."""
        self._retired[id(client)] = use
        await self._close_retired()

    async def close(self, client: Any) -> None:
        """Close ``client`` now (if it is not closed already)."""
        self._retired.pop(id(client), None)
        found = self._open.pop(id(client), None)
        if found is not None:
            await found[1].aclose()

    async def close_in_turns(self, clients: list[Any]) -> None:
        """Close ``clients`` now, the last listed first, each in its turn, all within a
        close's room (:meth:`_room`), as retired ones close: one whose connection never
        finishes closing must not hold what awaits them (a failed reload, and every
        reload after it) for ever."""
        shut = [
            (self._open[id(client)][2], partial(self.close, client))
            for client in clients
            if id(client) in self._open
        ]
        if shut:
            await in_turns(shut, anyio.current_time() + self._room())

    def _room(self) -> float:
        """Seconds a close of some has from now: ``EXIT_ROOM`` mid-run (a reload's); once
        the exit has begun (the holders' ends as the tasks stop), its share of what is
        left of the closes' plan. A room of its own then held the exit past its bound,
        which ended sesd mid-plan, the closes after it never run; all that was left of
        the plan left none to the closes still to run."""
        if self._exit_room is not None and self._exit_room.begun:
            return self._exit_room.share_left()
        return EXIT_ROOM

    async def aclose(self) -> None:
        """Close every client still open (the daemon's exit), the newest first, each in
        its turn within what is left of the exit's room (:func:`in_turns`): one whose
        connection hangs keeps none of the others open."""
        await in_turns(
            (name, partial(self.close, client)) for client, _, name in self._open.values()
        )

    async def _close_held(self) -> None:
        # Even when the holder is cancelled: a retired client must not stay open.
        with anyio.CancelScope(shield=True):
            await self._close_retired()

    async def _close_retired(self) -> None:
        # Each in its turn, all within a close's room (EXIT_ROOM), as at exit: a retired
        # client whose connection never finishes closing must not hold what awaits it
        # for ever (shielded, under a holder: the receive, the poll round, so the stop).
        # The first retired closes first.
        ready = [
            self._open[ident][0]
            for ident, use in self._retired.items()
            if not self._holds[ident] and not self._uses[use] and ident in self._open
        ]
        await self.close_in_turns(ready[::-1])
