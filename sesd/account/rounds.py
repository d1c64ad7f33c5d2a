"""A poll round over several (account, region)s, side by side: one that does not
answer holds back no other, and one that meets a fault sesd did not foresee cancels
no other either (raised at once inside the task group, it would: the other regions'
answers lost, a pause SES set there unread, every round the fault came back)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import anyio

__all__ = ["side_by_side"]


async def side_by_side(polls: Iterable[Callable[[], Awaitable[None]]]) -> None:
    """Run ``polls`` at once; the faults of any, raised together once all have ended
    (for the task's keeper to count and log)."""
    faults: list[Exception] = []
    async with anyio.create_task_group() as group:
        for poll in polls:
            group.start_soon(_caught, poll, faults)
    if faults:
        raise ExceptionGroup("a target's poll failed unforeseen", faults)


async def _caught(poll: Callable[[], Awaitable[None]], faults: list[Exception]) -> None:
    try:
        await poll()
    except Exception as exc:  # noqa: BLE001 (kept for side_by_side to raise)
        faults.append(exc)
