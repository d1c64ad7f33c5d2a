"""Background tasks kept running.

A fault sesd did not foresee in one background task (a bug, an answer of a shape
nobody expected) must not end the daemon, and every queue's ingestion with it.
Each task runs under :func:`kept_running`: such a fault is counted
(``sesd_task_failures_total``), logged with its traceback (each error's text cleaned:
an SDK's error may quote a stranger's answer), and the task starts again after a
pause, drawn apart for tasks that failed together; a task done once (a queue's check)
under :func:`run_once`, which counts and logs it alike, and starts nothing again. A
cancellation (a stop) is not a fault and passes; a ``CancelledError`` nobody asked
for (a library's future cancelled under the task that awaited it) is a fault like
any other, or it would end the task unseen.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Final

import anyio
import anyio.abc
from prometheus_client import Counter

from sesd.io.backoff import spread
from sesd.io.cancelled import stop_asked
from sesd.io.logs import get_logger
from sesd.metrics.registry import TASKS

__all__ = ["JITTER", "RESTART_AFTER", "kept_running", "run_once", "start_kept"]

#: How long a failed task waits before it starts again: long enough that a fault that
#: repeats at once does not spin, short enough that the task is missed for seconds.
RESTART_AFTER: Final = 10.0
#: How far each pause may be from :data:`RESTART_AFTER`, as a share of it (8 to 12 s):
#: a queue's pollers that meet one fault together (an answer of a shape nobody
#: expected) would else start again, and fail, in step, every one at once.
JITTER: Final = 0.2
_HINT: Final = (
    "sesd starts the task again; the rest of sesd runs on. A fault that repeats is a "
    "bug: report it with this traceback"
)
_ONCE_HINT: Final = (
    "a task done once: not started again (a queue is checked anew when a reload changes "
    "it, and at each start); the rest of sesd runs on. A fault that repeats is a bug: "
    "report it with this traceback"
)


async def kept_running(
    name: str,
    run: Callable[[], Awaitable[None]],
    failures: Counter,
    *,
    restart_after: float | None = None,
    until: anyio.Event | None = None,
    rand: Callable[[], float] = random.random,
    **context: str,
) -> None:
    """Run ``run()`` until it returns; after an unexpected exception, count it under
    ``name``, log it (with ``context``) and run it again ``restart_after`` seconds
    (:data:`RESTART_AFTER`) later, give or take :data:`JITTER` of it (``rand()``'s
    uniform draw), unless ``until`` is set meanwhile (a stop that need not wait the
    pause)."""
    log = get_logger(**context)
    base = RESTART_AFTER if restart_after is None else restart_after
    while True:
        try:
            await run()
            return
        except (Exception, asyncio.CancelledError) as exc:
            _count(exc, name, failures)
            pause = spread(base, JITTER, rand=rand())
            log.error(
                "sesd.task.failed",
                task=name,
                restart_in_seconds=round(pause, 3),
                hint=_HINT,
                # Told cleaned (sesd.io.logs): the error may quote a stranger's answer.
                exc_info=exc,
            )
        with anyio.move_on_after(pause):
            await (until.wait() if until is not None else anyio.sleep_forever())
        if until is not None and until.is_set():
            return


async def run_once(
    name: str, run: Callable[[], Awaitable[object]], failures: Counter, **context: str
) -> None:
    """Run ``run()``, a task done once (a queue's check: advice). A fault nobody
    foresaw in it is counted under ``name`` and logged (with ``context``), as
    :func:`kept_running` does, and ends that task alone: raised into the daemon's task
    group, it would end sesd, every queue's ingestion with it."""
    log = get_logger(**context)
    try:
        await run()
    except (Exception, asyncio.CancelledError) as exc:
        _count(exc, name, failures)
        log.error("sesd.task.failed", task=name, hint=_ONCE_HINT, exc_info=exc)


def _count(exc: BaseException, name: str, failures: Counter) -> None:
    """A task's fault counted under ``name``; a stop's cancellation, which is none,
    raised again."""
    if isinstance(exc, asyncio.CancelledError) and stop_asked():
        raise exc
    failures.labels(name).inc()


def start_kept(
    tg: anyio.abc.TaskGroup, failures: Counter, name: str, run: Callable[[], Awaitable[None]]
) -> None:
    """Start ``run()`` in ``tg`` as a background task :func:`kept_running`; ``name`` is
    one of sesd.metrics.registry's ``TASKS`` (ValueError otherwise: its failures would
    have no series until the first, which ``increase()`` misses)."""
    if name not in TASKS:
        raise ValueError(f"task {name!r} is not one of sesd.metrics.registry.TASKS")
    tg.start_soon(kept_running, name, run, failures)
