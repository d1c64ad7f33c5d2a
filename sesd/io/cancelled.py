"""Whether a ``CancelledError`` is a stop or a fault.

A cancel scope (a stop, a timeout) cancels the task itself. A library's future
cancelled under the task that awaited it (a connection pool's waiter, say) raises
``CancelledError`` there too, though nobody asked the task to stop: let pass as a
stop, it ends the task, and an anyio task group whose child ends so is cancelled
whole and exits as if stopped, with nothing logged.
"""

from __future__ import annotations

import asyncio

__all__ = ["stop_asked"]


def stop_asked() -> bool:
    """Whether the running task was asked to stop (its ``CancelledError`` is a stop,
    to re-raise); False in a task a stray ``CancelledError`` reached."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0
