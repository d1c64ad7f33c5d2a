"""Files that change under a running sesd: a Secret rotated in its mount, a certificate
renewed in place. Every ``[reload] check_files_every`` the files the config in force
names are looked at (a stat each, in a thread apart); when one has changed since it
was last read, they are read again with that config (:meth:`Reloader.refresh`), as a
SIGHUP would read them, but not the config file, which only a SIGHUP reads."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from functools import partial

import anyio

from sesd.config import Config
from sesd.config.files import followed_files
from sesd.runtime.apart import apart

__all__ = ["Follower", "Signature", "signatures", "signatures_of"]

#: What tells a file changed: a replaced file (a new inode, as a Kubernetes mount's
#: swap or an editor's save make it) or one rewritten in place. None: no such file.
Signature = tuple[int, int, int] | None

#: How often a follower that is off ("0s") looks whether a reload turned it on (a
#: reload wakes it at once; this is the fallback).
_OFF_LOOK = 60.0


def signatures(paths: list[str]) -> dict[str, Signature]:
    """path -> its signature now (blocking: one stat each)."""
    found: dict[str, Signature] = {}
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            found[path] = None
        else:
            found[path] = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    return found


def signatures_of(config: Config) -> dict[str, Signature]:
    """The signature of each file ``config`` names (blocking)."""
    return signatures(list(followed_files(config)))


class Follower:
    """What the files were when last read (:attr:`seen`, set by whoever reads them: the
    start, a reload, a refresh), and the loop that compares them with what they are
    now. It lives as long as the daemon: a loop started again after a fault compares
    with the last read, not with the start."""

    def __init__(self, config: Config) -> None:
        #: path -> signature when last read; a path not in it is taken as it is found.
        self.seen: dict[str, Signature] = signatures_of(config)
        self._woken = anyio.Event()

    def wake(self) -> None:
        """Begin the wait again, with the interval of the config in force (a reload
        read the files, and may have changed the interval or turned following on)."""
        self._woken.set()

    async def run(
        self, config: Callable[[], Config], refresh: Callable[[list[str]], Awaitable[object]]
    ) -> None:
        """Until cancelled: ``refresh(keys)`` (the keys naming the files that changed)
        whenever a file ``config()`` names differs from when it was last read."""
        while True:
            every = config().reload.check_files_every.seconds
            with anyio.move_on_after(every or _OFF_LOOK):
                await self._woken.wait()
            if self._woken.is_set():
                self._woken = anyio.Event()
                continue  # woken by a reload: its interval, from now
            if not every:
                continue
            files = followed_files(config())
            now = await apart(partial(signatures, list(files)), "sesd-follow-stat")
            seen = self.seen
            changed = {files[path] for path, mark in now.items() if seen.get(path, mark) != mark}
            if changed:
                await refresh(sorted(changed))  # marks what it reads as seen
            else:
                self.seen = {**seen, **now}
