"""Blocking file work off the event loop, in a thread that never holds up the exit."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["apart"]

T = TypeVar("T")


async def apart(work: Callable[[], T], name: str) -> T:
    """``work()`` in a daemon thread of its own, named ``name``. A file on a hung network
    mount holds a read (or a stat) for ever: a stop leaves it there, and the process
    still exits (Python waits at exit for the threads that are not daemons, anyio's
    workers among them: ``systemctl stop`` then waited out its timeout and killed
    sesd)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # cancelled: a stop came first
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        result, error = None, None
        try:
            result = work()
        except BaseException as exc:  # noqa: BLE001 - raised again in the awaiting task
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: sesd has stopped
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
