"""FIFOs as gates: a process or a thread that opens one to read waits there until the
test opens it to write (a disk, a mount or a lookup that hangs, until the test says).

Opening a FIFO to write blocks until a reader comes, so the test opens it in a worker
thread. If the reader never comes (the daemon died first, or a change broke what the
test waits for), nothing interrupts that open: anyio's ``fail_after`` waits for the
thread to return, and so, once pytest's own timeout has failed the test, do the test's
event loop as it closes and the interpreter as it exits: the whole run hangs until CI
kills it. :func:`open_for_writing` lets that thread through when the test gives up,
so the test fails and the run goes on."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.lowlevel
import anyio.to_thread


def let_through(fifo: Path) -> None:
    """Let a reader, or a writer, waiting on ``fifo`` through (none waiting: nothing to
    do). A thread left waiting would keep the test run from ending."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        pass  # no reader (ENXIO): none waits
    else:
        os.close(fd)
    os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # never waits for a writer


@asynccontextmanager
async def open_for_writing(fifo: Path, mode: str = "wb", **how: Any) -> AsyncIterator[IO[Any]]:
    """``fifo`` opened to write (``mode`` and ``how`` as :func:`open` takes them), once
    a reader has opened it; closed at the end. Given up while it waits (the test's
    ``fail_after``, or pytest's timeout ending the test), the waiting thread is let
    through and the test ends: no thread stays behind in the open."""
    fd: int | None = None
    given_up = threading.Event()

    def opened() -> int | None:
        found = os.open(fifo, os.O_WRONLY)
        if given_up.is_set():  # let through below: nobody would close it
            os.close(found)
            return None
        return found

    async def released_if_given_up() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            if fd is None:
                given_up.set()
                let_through(fifo)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(released_if_given_up)
            # Not abandoned when cancelled (a ``fail_after``): the open returns once let
            # through, and the test's cancellation goes on from there.
            fd = await anyio.to_thread.run_sync(opened)
            tg.cancel_scope.cancel()
        await anyio.lowlevel.checkpoint_if_cancelled()
        assert fd is not None  # None only when given up, and cancelled then
        writer = os.fdopen(fd, mode, **how)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    with writer:
        yield writer
