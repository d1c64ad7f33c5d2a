"""Signals: SIGTERM and SIGINT stop sesd (a second one saves the state, within a
moment, and exits; one during the exit cuts it short), SIGHUP reloads the config and
never stops it. Reloads run one at a time beside the watch, so a reload that hangs
(its file on a hung mount) never keeps a stop signal from being read."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from functools import partial

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream

from sesd.io.logs import flush_logs, get_logger
from sesd.runtime import early
from sesd.runtime.in_flight import InFlight
from sesd.runtime.signal_pipe import SignalPipe

__all__ = ["EXIT_FORCED", "FORCED_SAVE", "at_forced_exit", "exit_signals", "watch_signals"]

#: Exit code after a second signal cut the graceful stop short.
EXIT_FORCED = 130


#: How long a second signal waits for the state to be saved before sesd exits.
FORCED_SAVE = 2.0
#: Then how long for the log lines still buffered (``sesd.daemon.forced_exit`` among
#: them) to be written: a log reader that stalls holds the exit no longer.
FORCED_LOGS = 1.0
#: What a forced exit does before it ends the process, the last added first.
_AT_FORCED_EXIT: list[Callable[[], None]] = []


@contextlib.contextmanager
def at_forced_exit(callback: Callable[[], None]) -> Iterator[None]:
    """Have a forced exit (a second stop signal, or one during the exit) call
    ``callback`` while within: it ends the process with ``os._exit``, which runs no
    ``finally`` nor exit handler (``sesd demo``'s temporary directory stayed). The
    callback must not raise, and what it waits for holds the exit: a moment's work."""
    _AT_FORCED_EXIT.append(callback)
    try:
        yield
    finally:
        _AT_FORCED_EXIT.remove(callback)


def _before_forced_exit() -> None:
    # A copy: a forced exit during the exit runs in the signal pipe's thread.
    for callback in reversed([*_AT_FORCED_EXIT]):
        callback()


async def watch_signals(
    stop: Callable[[], None],
    reload: Callable[[], Awaitable[object]],
    stopping: anyio.Event,
    save: Callable[[], Awaitable[None]],
    *,
    in_flight: InFlight,
    heard: SignalPipe | None = None,
    at_end: Callable[[], None] = lambda: None,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Turn signals into ``stop()`` and ``reload()`` calls, until cancelled; a signal
    that came while sesd started (sesd.runtime.early) is acted on now. A second
    stop signal cuts off the SQS calls ``in_flight``, saves and exits. The signals are
    read from ``heard`` (a daemon's run's, whose handler outlasts the watch), else from
    a pipe of the watch's own, whose handler it puts back as it ends. ``at_end`` is
    called as the watch ends (a daemon's :func:`exit_signals`)."""
    log = get_logger()
    # One reload waiting behind the one running is enough: it reads the newest file.
    asked, reloads = anyio.create_memory_object_stream[None](1)
    with _then(at_end), _taken(heard) as signals, asked, reloads:
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
            while True:
                for signum in await signals.received():
                    log.info("sesd.daemon.signal", signal=signum.name)
                    if signum == signal.SIGHUP:
                        # Never a reason to stop (its default would end sesd, no drain).
                        with contextlib.suppress(anyio.WouldBlock):
                            asked.send_nowait(None)
                    elif stopping.is_set():
                        await _forced_exit(signum, save, in_flight)
                    else:
                        stop()


@contextlib.contextmanager
def _taken(heard: SignalPipe | None) -> Iterator[SignalPipe]:
    if heard is not None:
        yield heard
        return
    own = SignalPipe.take()
    try:
        yield own
    finally:
        own.put_back()


@contextlib.contextmanager
def _then(at_end: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    finally:
        at_end()


def exit_signals(heard: SignalPipe, exit_begun: Callable[[], bool]) -> Callable[[], None]:
    """What hands ``heard`` over to the exit once the watch has ended (what is left is
    the exit, its closes first): a SIGTERM or SIGINT ends the exit at once, said and
    with ``EXIT_FORCED``, as a second signal does while the watch runs, and a SIGHUP is
    ignored (nothing is left to reload), until the run puts back what it found.

    Until the exit begins (``exit_begun``), a fault's last save is under way, given
    ``LAST_SAVE`` as a stop's is: a stop signal then (a supervisor stopping the unit
    that fails) asks for what sesd is already doing, and is said, not acted on; ended
    at once, the save was lost with it (the write left to its thread, the file older)."""
    return partial(heard.hand_to_thread, partial(_heard_at_exit, exit_begun))


def _heard_at_exit(exit_begun: Callable[[], bool], signum: signal.Signals) -> None:
    # In the pipe's thread, never in a handler: the main thread may hold the log
    # writer's lock, or threading's.
    if signum == signal.SIGHUP:
        return
    if exit_begun():
        _exit_forced(signum)
    else:
        _last_save_goes_on(signum)


def _last_save_goes_on(signum: signal.Signals) -> None:
    get_logger().info(
        "sesd.daemon.signal",
        signal=signum.name,
        during="last_save",
        hint="sesd is ending after a fault: its last save goes on, then it exits",
    )


def _exit_forced(signum: signal.Signals) -> None:
    get_logger().warning("sesd.daemon.forced_exit", signal=signum.name, during="exit")
    _before_forced_exit()
    flush_logs(FORCED_LOGS)
    os._exit(EXIT_FORCED)


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
    # (the write is left to its thread). Shielded: the drain ending meanwhile (the
    # stop's save given up behind this one) cancels the watch, and took the exit with
    # it; whatever this save does, it is whole or not renamed over the file.
    with anyio.move_on_after(FORCED_SAVE, shield=True):
        await save()
    # os._exit runs no exit handler, the one that writes the buffered lines included;
    # nothing else runs from here on, so the event loop may wait.
    _before_forced_exit()
    flush_logs(FORCED_LOGS)
    os._exit(EXIT_FORCED)
