"""Signals: SIGTERM and SIGINT stop sesd (a second one exits at once), SIGHUP reloads
the config and never stops it."""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc

from sesd.io.logs import get_logger

__all__ = ["EXIT_FORCED", "watch_signals"]

#: Exit code after a second signal cut the graceful stop short.
EXIT_FORCED = 130


async def watch_signals(
    stop: Callable[[], None],
    reload: Callable[[], Awaitable[object]],
    stopping: anyio.Event,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Turn signals into ``stop()`` and ``reload()`` calls, until cancelled."""
    log = get_logger()
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        task_status.started()
        async for signum in signals:
            log.info("sesd.daemon.signal", signal=signum.name)
            if signum == signal.SIGHUP:
                # Never a reason to stop (its default would end sesd with no drain).
                await reload()
            elif stopping.is_set():
                log.warning("sesd.daemon.forced_exit", signal=signum.name)
                os._exit(EXIT_FORCED)
            else:
                stop()
