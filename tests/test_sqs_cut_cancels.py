"""How a bound cuts off a call made in an asyncio task of its own (the delete beside a
receive): it cancels the task, and again at each turn of the event loop until the task
ends, as a cancel scope does the tasks in it. Code under the call that takes a
cancellation for its own (a library's cleanup) gets the next one a turn later: one at a
time, each asked for only once the one before has reached it, none doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import anyio
import pytest

from sesd.runtime.in_flight import InFlight


async def _a_future() -> None:
    """A wait for something that never comes (an answer over the network)."""
    await asyncio.get_running_loop().create_future()


async def _a_turn() -> None:
    """A turn of the event loop given up, waiting for nothing (``sleep(0)``)."""
    await asyncio.sleep(0)


@pytest.mark.parametrize("wait", [_a_future, _a_turn], ids=["a future", "a turn"])
async def test_a_call_that_takes_each_cut_for_its_own_gets_one_a_turn(
    wait: Callable[[], Awaitable[None]],
) -> None:
    """A forced exit cuts off a call in a task of its own whose code takes each
    cancellation for its own and waits on, three times, then ends. Each cancellation
    asked for reaches it, in a turn of the event loop of its own, before the next is
    asked for (``Task.cancelling()`` counts those asked for): none was asked for while
    one was pending, none came twice, and the task ended when the call did, not
    cancelled once more."""
    loop = asyncio.get_running_loop()
    turn = 0

    def count() -> None:
        nonlocal turn
        turn += 1
        loop.call_soon(count)

    taken: list[tuple[int, int]] = []  # (cancellations asked for, turn) at each
    # The test ended first (a cut that stopped cancelling): the next cancellation, the
    # event loop's close, ends the call, which would else hold the close for ever.
    ended = False

    async def call() -> str:
        task = asyncio.current_task()
        assert task is not None
        while len(taken) < 3:
            try:
                await wait()
                await wait()
            except asyncio.CancelledError:
                if ended:
                    raise
                taken.append((task.cancelling(), turn))
        return "ended"

    in_flight = InFlight()
    bound = in_flight.bound(15.0)
    task = bound.task = loop.create_task(call())
    loop.call_soon(count)
    try:
        with anyio.fail_after(2):
            await asyncio.sleep(0)  # the call waits
            in_flight.cut()
            await asyncio.wait((task,))
    finally:
        ended = True
    in_flight.unbound(bound)
    assert bound.caught
    assert task.result() == "ended"
    assert [asked for asked, _ in taken] == [1, 2, 3]
    turns = [at for _, at in taken]
    assert turns == sorted(set(turns)), taken
