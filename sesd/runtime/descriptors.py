"""File descriptors: as many as the host allows, and one line a minute, not thousands
a second, when they run out anyway."""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from typing import Final

from sesd.io.logs import get_logger

__all__ = ["raise_open_files_limit", "watch_descriptors"]

#: Open files sesd asks for: every poller, sink, AWS client and scrape, with room for
#: many clients of its port (systemd's default soft limit is 1,024).
WANTED: Final = 65_536
#: How often running out of descriptors is said.
EVERY: Final = 60.0
# What the event loop's error says when an accept failed for want of descriptors.
_OUT_OF_RESOURCE: Final = "socket.accept() out of system resource"


def raise_open_files_limit(wanted: int = WANTED) -> int:
    """Raise the soft limit on open files towards the hard one (at most ``wanted``), as
    Go's runtime does; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


class _OutOfDescriptors(logging.Filter):
    """Python 3.11's event loop logs an accept that failed for want of descriptors once
    for each connection waiting, then retries each (fixed in later Pythons): thousands
    of error lines a second while a flood of clients holds the descriptors. One
    warning a minute says it instead, with how many accepts failed meanwhile."""

    def __init__(self, every: float, clock: Callable[[], float]) -> None:
        super().__init__()
        self._every = every
        self._clock = clock
        self._last = float("-inf")
        self._failed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(_OUT_OF_RESOURCE):
            return True
        self._failed += 1
        now = self._clock()
        if now - self._last >= self._every:
            self._last = now
            get_logger().warning(
                "sesd.http.out_of_descriptors",
                accepts_failed=self._failed,
                open_files_limit=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                hint="sesd is out of file descriptors: connections to its port, SQS "
                "receives, posts to the sinks and saves fail until clients leave; raise "
                "its limit (LimitNOFILE=) or keep untrusted clients off the port",
            )
            self._failed = 0
        return False


def watch_descriptors(
    every: float = EVERY, clock: Callable[[], float] = time.monotonic
) -> logging.Filter:
    """Put the event loop's errors for want of descriptors through one warning every
    ``every`` seconds; returns the filter (a test removes it)."""
    found = _OutOfDescriptors(every, clock)
    logging.getLogger("asyncio").addFilter(found)
    return found
