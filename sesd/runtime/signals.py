"""Signals: SIGTERM and SIGINT stop sesd (a second one saves the state, within a
moment, and exits; one during the exit cuts it short), SIGHUP reloads the config and
never stops it. Reloads run one at a time beside the watch, so a reload that hangs
(its file on a hung mount) never keeps a stop signal from being read."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from types import FrameType

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream

from sesd.io.logs import flush_logs, get_logger
from sesd.runtime import early
from sesd.runtime.in_flight import InFlight

__all__ = ["EXIT_FORCED", "FORCED_SAVE", "exit_signals", "signals_found", "watch_signals"]

#: Exit code after a second signal cut the graceful stop short.
EXIT_FORCED = 130


#: How long a second signal waits for the state to be saved before sesd exits.
FORCED_SAVE = 2.0
#: Then how long for the log lines still buffered (``sesd.daemon.forced_exit`` among
#: them) to be written: a log reader that stalls holds the exit no longer.
FORCED_LOGS = 1.0


async def watch_signals(
    stop: Callable[[], None],
    reload: Callable[[], Awaitable[object]],
    stopping: anyio.Event,
    save: Callable[[], Awaitable[None]],
    *,
    in_flight: InFlight,
    at_end: Callable[[], None] = lambda: None,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Turn signals into ``stop()`` and ``reload()`` calls, until cancelled; a signal
    that came while sesd started (sesd.runtime.early) is acted on now. A second
    stop signal cuts off the SQS calls ``in_flight``, saves and exits. ``at_end`` is
    called as the watch ends, once the event loop has let go of the signals (a
    daemon's :func:`exit_signals`)."""
    log = get_logger()
    # One reload waiting behind the one running is enough: it reads the newest file.
    asked, reloads = anyio.create_memory_object_stream[None](1)
    receiver = anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    with _then(at_end), receiver as signals, asked, reloads:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_reload_each, reloads, reload)
            task_status.started()
            for signum in early.taken():
                log.info("sesd.daemon.signal", signal=signum.name, during="start")
                if signum == signal.SIGHUP:
                    # Reloads once started (the file may have changed since the start
                    # read it).
                    with contextlib.suppress(anyio.WouldBlock):
                        asked.send_nowait(None)
                else:
                    stop()
            async for signum in signals:
                log.info("sesd.daemon.signal", signal=signum.name)
                if signum == signal.SIGHUP:
                    # Never a reason to stop (its default would end sesd with no drain).
                    with contextlib.suppress(anyio.WouldBlock):
                        asked.send_nowait(None)
                elif stopping.is_set():
                    await _forced_exit(signum, save, in_flight)
                else:
                    stop()


@contextlib.contextmanager
def _then(at_end: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    finally:
        at_end()


def exit_signals(exit_begun: Callable[[], bool]) -> Callable[[], None]:
    """What installs the handling of stop and reload signals once the watch has ended
    (what is left is the exit, its closes first): a SIGTERM or SIGINT ends the exit at
    once, said and with ``EXIT_FORCED``, as a second signal does while the watch runs,
    and a SIGHUP is ignored (nothing is left to reload), until the run puts back what
    it found (:func:`signals_found`). The event loop gives each its default action as
    the watch ends: a SIGTERM killed sesd without a line, a SIGINT raised
    KeyboardInterrupt in whichever close ran, a SIGHUP killed it too.

    Until the exit begins (``exit_begun``), a fault's last save is under way, given
    ``LAST_SAVE`` as a stop's is: a stop signal then (a supervisor stopping the unit
    that fails) asks for what sesd is already doing, and is said, not acted on; ended
    at once, the save was lost with it (the write left to its thread, the file older)."""

    def install() -> None:
        heard = partial(_heard_at_exit, exit_begun)
        signal.signal(signal.SIGTERM, heard)
        signal.signal(signal.SIGINT, heard)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    return install


def _heard_at_exit(exit_begun: Callable[[], bool], signum: int, frame: FrameType | None) -> None:
    # A handler runs between two bytecodes of the main thread, which may hold the log
    # writer's lock: the line is logged, and sesd ended, from a thread of its own.
    named = signal.Signals(signum)
    said = _exit_forced if exit_begun() else _last_save_goes_on
    threading.Thread(target=said, args=(named,), name="sesd-signal-at-exit").start()


def _last_save_goes_on(signum: signal.Signals) -> None:
    get_logger().info(
        "sesd.daemon.signal",
        signal=signum.name,
        during="last_save",
        hint="sesd is ending after a fault: its last save goes on, then it exits",
    )


def _exit_forced(signum: signal.Signals) -> None:
    get_logger().warning("sesd.daemon.forced_exit", signal=signum.name, during="exit")
    flush_logs(FORCED_LOGS)
    os._exit(EXIT_FORCED)


def signals_found() -> Callable[[], None]:
    """What a stop or reload signal does now, and the call that puts it back (at the
    end of a run that watched signals: a program that embeds sesd keeps its own)."""
    found = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}

    def put_back() -> None:
        for signum, handler in found.items():
            signal.signal(signum, handler)

    return put_back


async def _reload_each(
    asked: MemoryObjectReceiveStream[None], reload: Callable[[], Awaitable[object]]
) -> None:
    async for _ in asked:
        await reload()


async def _forced_exit(
    signum: signal.Signals, save: Callable[[], Awaitable[None]], in_flight: InFlight
) -> None:
    get_logger().warning("sesd.daemon.forced_exit", signal=signum.name)
    # Nothing is deleted from a queue after the save's snapshot: it comes back, and the
    # restart counts it (or finds it a duplicate, if the snapshot had it).
    in_flight.cut()
    # What the windows and alert states hold, and the pages still owed, are saved first
    # if the disk lets them within a moment; a disk that hangs does not hold the exit
    # (the write is left to its thread).
    with anyio.move_on_after(FORCED_SAVE):
        await save()
    # os._exit runs no exit handler, the one that writes the buffered lines included;
    # nothing else runs from here on, so the event loop may wait.
    flush_logs(FORCED_LOGS)
    os._exit(EXIT_FORCED)
