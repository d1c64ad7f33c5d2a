"""Files that change under a running sesd: a Secret rotated in its mount, a certificate
renewed in place. Every ``[reload] check_files_every`` the files the config in force
names are looked at (a stat each, in a thread apart); when one has changed since it
was last seen, they are read again with that config (:meth:`Reloader.refresh`), as a
SIGHUP would read them, but not the config file, which only a SIGHUP reads."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from functools import partial

import anyio

from sesd.config import Config, followed_files
from sesd.runtime.apart import apart

__all__ = ["follow_files", "signatures"]

#: What tells a file changed: a replaced file (a new inode, as a Kubernetes mount's
#: swap or an editor's save make it) or one rewritten in place. None: no such file.
Signature = tuple[int, int, int] | None


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


async def follow_files(
    config: Callable[[], Config],
    refresh: Callable[[list[str]], Awaitable[object]],
    seen: dict[str, Signature],
) -> None:
    """Until cancelled: when a file ``config()`` names has changed since it was ``seen``
    (at the start, what was read with the config), ``refresh(keys)`` with the keys
    naming those that did. A file seen for the first time (a reload named it) is not
    a change: the reload that named it read it."""
    while True:
        every = config().reload.check_files_every.seconds
        if not every:
            # Off ("0s"): looked at again now and then, in case a reload turns it on;
            # then its first look is where it starts from.
            seen = {}
            await anyio.sleep(_OFF_LOOK)
            continue
        await anyio.sleep(every)
        files = followed_files(config())
        now = await apart(partial(signatures, list(files)), "sesd-follow-stat")
        changed = {files[path] for path, mark in now.items() if seen.get(path, mark) != mark}
        seen = now
        if changed:
            await refresh(sorted(changed))


#: How often a follower that is off looks whether a reload turned it on.
_OFF_LOOK = 60.0
