"""A batch's delete, in a task of its own beside the receive, still running when the
poller ended (its event loop closing): its end is read when it comes, quietly. Neither
asyncio's "Task exception was never retrieved" nor an error of a callback of the event
loop's: an on-call engineer reading the log at a stop would take either for a bug."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import anyio

from sesd.runtime.in_flight import Cut
from sesd.runtime.sqs_beside import Calls, read_end


async def test_a_delete_still_running_when_the_poller_ended_is_read_without_an_error() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    try:

        async def delete() -> None:
            await anyio.lowlevel.checkpoint()
            raise GeneratorExit("under the delete")

        task = loop.create_task(delete())
        read_end(task, Calls(), Cut(0.0, math.inf))
        await asyncio.wait((task,))
        await anyio.lowlevel.checkpoint()  # the callbacks of the task's end run
    finally:
        loop.set_exception_handler(None)
    assert [context.get("message") for context in errors] == []
    assert isinstance(task.exception(), GeneratorExit)
