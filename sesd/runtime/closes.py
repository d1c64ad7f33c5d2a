"""The exit's closes, each in its turn: what the start opened (the state file's lock,
the HTTP server, the AWS clients, the sinks' session) closed the last opened first,
each within its share of what is left of the exit's room. Bounded only as a whole, one
close that hung (a connector that never finished closing) held every close after it to
the end of the room: the sinks' session, closed first, left every AWS client open, its
sockets to the collector ("Unclosed client session")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack

import anyio

from sesd.io.logs import get_logger

__all__ = ["Closes", "in_turns"]

#: A close, by the name a cut-off is logged with.
Named = tuple[str, Callable[[], Awaitable[object]]]


async def in_turns(closes: Iterable[Named], deadline: float | None = None) -> None:
    """Run ``closes``, the last listed first, each in its turn, by ``deadline`` (else
    the enclosing scope's): each within what is left of it shared evenly among the
    closes still to run, so one that hangs takes its share and the rest still run, and
    all end by ``deadline``. One cut off is logged (``sesd.daemon.close_cut_off``); one
    that raises does not keep the rest from their turn (raised once all ran, as an
    AsyncExitStack does)."""
    if deadline is None:
        deadline = anyio.current_effective_deadline()
    async with AsyncExitStack() as turns:
        for left, (name, close) in enumerate(list(closes), start=1):
            # Pushed first, run last: when it runs, ``left`` closes are left, itself too.
            turns.push_async_callback(_turn, name, close, deadline, left)


async def _turn(
    name: str, close: Callable[[], Awaitable[object]], deadline: float, left: int
) -> None:
    room = max(0.0, deadline - anyio.current_time()) / left
    with anyio.move_on_after(room) as bound:
        await close()
    if bound.cancelled_caught:
        get_logger().warning(
            "sesd.daemon.close_cut_off",
            what=name,
            seconds=round(room, 3),
            hint="left to the process's exit; the closes after it still ran",
        )


class Closes:
    """What the start opens, by name, each closed in its turn at exit (:func:`in_turns`)."""

    def __init__(self) -> None:
        self._parts: list[tuple[str, AsyncExitStack]] = []

    def part(self, name: str) -> AsyncExitStack:
        """The stack what ``name`` opens is closed with: one turn at exit."""
        stack = AsyncExitStack()
        self._parts.append((name, stack))
        return stack

    def __len__(self) -> int:
        """How many parts are still to close."""
        return len(self._parts)

    async def aclose(self, deadline: float) -> None:
        """Close every part, the last opened first, all by ``deadline``."""
        parts, self._parts = self._parts, []
        await in_turns(((name, stack.aclose) for name, stack in parts), deadline)
