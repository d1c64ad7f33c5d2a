"""Stop and reload signals that come while sesd starts, before it watches signals
(sesd.runtime.signals).

In a container sesd is PID 1, and the kernel drops a signal PID 1 has no handler
for: a SIGTERM during the imports, the state file's load or the first AWS calls was
lost, and the pod ran on (consuming, deleting, saving nothing) until its SIGKILL.
Elsewhere the same signal killed sesd at once, a SIGINT with a traceback, and so did
a SIGHUP (a reload sent as sesd restarts), whose default action ends a process. ``sesd
run`` calls :func:`hold` first thing, before its imports; the signal watcher acts
on what was held once it runs, but a stop held already ends the start before its
read of the config, which may hang on a share (:func:`stop_held`). Standard library
only: it is imported before the rest of sesd.
"""

from __future__ import annotations

import signal
from types import FrameType

__all__ = ["hold", "stop_held", "taken"]

_received: list[signal.Signals] = []


def hold() -> None:
    """Remember a SIGTERM, SIGINT or SIGHUP from now until the signal watcher takes
    over."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _remember)


def _remember(signum: int, frame: FrameType | None) -> None:
    _received.append(signal.Signals(signum))


def stop_held() -> bool:
    """Whether a SIGTERM or SIGINT is held, left held for the watcher: what may end a
    start before its watch runs (its read of the config file, on a share that hangs)."""
    return any(kind != signal.SIGHUP for kind in _received)


def taken() -> list[signal.Signals]:
    """The signals held so far, in their order (forgotten once taken)."""
    found = list(_received)
    _received.clear()
    return found
