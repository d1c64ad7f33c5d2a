"""A poll round over several (account, region)s, side by side: one that does not
answer holds back no other, and one that meets a fault sesd did not foresee cancels
no other either (raised at once inside the task group, it would: the other regions'
answers lost, a pause SES set there unread, every round the fault came back)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import anyio

__all__ = ["one_by_one", "raised", "side_by_side"]

T = TypeVar("T")
R = TypeVar("R")


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


async def one_by_one(
    targets: Iterable[T], make: Callable[[T], Awaitable[R]]
) -> list[tuple[T, R | Exception]]:
    """What ``make`` gives each of ``targets``, one after another, or what it raised: a
    target whose client cannot be made (its account's entry gone in a reload, its SDK
    files unread) costs that target alone, not the round."""
    made: list[tuple[T, R | Exception]] = []
    for target in targets:
        try:
            made.append((target, await make(target)))
        except Exception as exc:  # noqa: BLE001 (the target's poll takes it as its own)
            made.append((target, exc))
    return made


async def raised(exc: Exception) -> None:
    """Raise ``exc``: a fault met before a call, for the call's own handling to take."""
    raise exc
