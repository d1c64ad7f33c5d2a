"""Files that change under a running sesd: a Secret rotated in its mount, a certificate
renewed in place. Every ``[reload] check_files_every`` the files the config in force
names are looked at (a stat each, in a thread apart); when one has changed since it
was last read, they are read again with that config (:meth:`Reloader.refresh`), as a
SIGHUP would read them, but not the config file, which only a SIGHUP reads. The first
look is begun as sesd starts, a moment after the start read the files.

A file on a hung network mount (an NFS share hard-mounted, a volume gone) holds its
stat for ever. The look waits :data:`LOOK_BOUND` for each file, says the one that did
not answer, and looks at the others without it; that file is not looked at again (no
second thread stuck behind the first) until its stat comes back."""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Final

import anyio

from sesd.config import Config
from sesd.config.files import followed_files
from sesd.core.text import escaped
from sesd.io.logs import get_logger
from sesd.runtime.apart import apart

__all__ = ["LOOK_BOUND", "Follower", "Signature", "signature", "signatures", "signatures_of"]

#: What tells a file changed: a replaced file (a new inode, as a Kubernetes mount's
#: swap or an editor's save make it) or one rewritten in place. None: no such file.
Signature = tuple[int, int, int] | None

#: How often a follower that is off ("0s") looks whether a reload turned it on (a
#: reload wakes it at once; this is the fallback).
_OFF_LOOK = 60.0
#: How long a file's stat is waited for, in seconds: well under a second on a disk
#: that answers; one on a hung mount never does.
LOOK_BOUND: Final = 5.0
#: The most of a path a line tells: the config names it, a typo may be of any length.
_PATH_SHOWN: Final = 500
#: What a file that answered again after a hang was last read as: no stat gives it, so
#: the file counts as changed until a read of it is in force (one given up is not).
_UNREAD: Final[Signature] = (-1, -1, -1)
#: The name of a look's thread.
_THREAD: Final = "sesd-follow-stat"


def signature(path: str) -> Signature:
    """``path``'s signature now (blocking: a stat)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def signatures(paths: list[str]) -> dict[str, Signature]:
    """path -> its signature now (blocking: one stat each)."""
    return {path: signature(path) for path in paths}


def signatures_of(config: Config) -> dict[str, Signature]:
    """The signature of each file ``config`` names (blocking)."""
    return signatures(list(followed_files(config)))


class _Look:
    """One thread's stats of ``paths`` in turn, and which it is at: a look given up says
    which file did not answer, and knows when its stat comes back."""

    def __init__(self, paths: list[str]) -> None:
        self._paths = paths
        self._lock = threading.Lock()
        self._found: dict[str, Signature] = {}
        self._at: str | None = None
        self._given_up = False
        #: Set once the stat under way when the look was given up has come back.
        self.back = threading.Event()
        #: Set once the thread has ended: every stat made, or the look given up.
        self._ended = threading.Event()
        self._begun = False

    def begin(self) -> _Look:
        """The stats begun now, in a thread of their own, with no event loop to wait
        on them yet (:meth:`within` does, once one runs)."""
        threading.Thread(target=self.run, name=_THREAD, daemon=True).start()
        self._begun = True
        return self

    async def within(self, bound: float) -> None:
        """Until every stat is made, ``bound`` seconds at most: in a thread apart, or,
        for a look begun already, its end waited for in one (a stop waits for
        neither)."""
        with anyio.move_on_after(bound):
            if self._begun:
                await apart(partial(self._ended.wait, bound), "sesd-follow-wait")
            else:
                await apart(self.run, _THREAD)

    def run(self) -> None:
        """The stats, in the thread; none begun once the look is given up."""
        try:
            self._stats()
        finally:
            self._ended.set()

    def _stats(self) -> None:
        for path in self._paths:
            with self._lock:
                if self._given_up:
                    return
                self._at = path
            mark = signature(path)
            with self._lock:
                self._found[path], self._at = mark, None
                if self._given_up:
                    self.back.set()
                    return

    def give_up(self) -> tuple[dict[str, Signature], str | None]:
        """What was found so far, and the path whose stat is under way (if one is)."""
        with self._lock:
            self._given_up = True
            return dict(self._found), self._at


class Follower:
    """What the files were when last read (:attr:`seen`, set by whoever reads them: the
    start, a reload, a refresh), and the loop that compares them with what they are
    now. It lives as long as the daemon: a loop started again after a fault compares
    with the last read, not with the start."""

    def __init__(self, config: Config) -> None:
        #: path -> signature when last read; a path not in it is taken as it is found.
        self.seen: dict[str, Signature] = {}
        files = followed_files(config)
        #: The first look, begun at once: the files a moment after the start read them
        #: (a change from the look on is read; one in that moment is not seen, as when
        #: the start stat'd them itself). It is waited for as any look, once the loop
        #: runs: a file on a mount that hangs holds no start, and is said as at a look.
        following = files and config.reload.check_files_every.seconds
        self._first = (files, _Look(list(files)).begin()) if following else None
        #: Set once that look is over: a file that hangs then is said, and known. It
        #: takes a bound for each file it looks at (one after another hangs), and the
        #: loop's turns between them.
        self._first_over = anyio.Event()
        self._first_files = len(files) if self._first is not None else 0
        if self._first is None:
            self._first_over.set()
        self._woken = anyio.Event()
        self._bound = LOOK_BOUND
        self._log = get_logger()
        #: Each path whose stat did not answer: the flag set once it has come back.
        self._hung: dict[str, threading.Event] = {}

    async def first_looked(self) -> None:
        """Until the start's look is over: a SIGHUP as sesd starts would otherwise stat
        a file that hangs before the look has said so, and hold its read there. Given
        a bound for each file it looks at and one more: with every file on a share that
        hangs, the loop's turns between the looks add up past a bound a file, and the
        reload stat'd the last file before the look had said it."""
        with anyio.move_on_after(self._bound * (self._first_files + 1)):
            await self._first_over.wait()

    def unanswered(self) -> set[str]:
        """The paths whose stat has not come back since it hung: a read that stats the
        files leaves them be, or it would hang on them as long."""
        return {path for path, back in self._hung.items() if not back.is_set()}

    def wake(self) -> None:
        """Begin the wait again, with the interval of the config in force (a reload
        read the files, and may have changed the interval or turned following on)."""
        self._woken.set()

    async def run(
        self,
        config: Callable[[], Config],
        refresh: Callable[[list[str]], Awaitable[object]],
        hung: Callable[[str, str], object],
    ) -> None:
        """Until cancelled: ``refresh(keys)`` (the keys naming the files that changed)
        whenever a file ``config()`` names differs from when it was last read, or has
        answered again after a hang; ``hung(key, error)`` when one does not answer
        (the error naming its path, escaped)."""
        if self._first is not None:
            (files, first), self._first = self._first, None
            try:
                # One its thread did not come to within the bound is read at the next
                # look: taken as then found, a change since the start would go unread.
                unread = dict.fromkeys(files, _UNREAD)
                self.seen = {**unread, **await self._look(files, hung, first), **self.seen}
            finally:
                self._first_over.set()
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
            now = await self._look(files, hung)
            if any(path in self._hung for path in files):
                # A refresh reads every file the config names, the one that hangs too:
                # what changed is read once it answers (and is still unmarked then).
                continue
            seen = self.seen
            changed = {files[path] for path, mark in now.items() if seen.get(path, mark) != mark}
            if changed:
                await refresh(sorted(changed))  # marks what it reads as seen
            else:
                self.seen = {**seen, **now}

    async def _look(
        self,
        files: dict[str, str],
        hung: Callable[[str, str], object],
        begun: _Look | None = None,
    ) -> dict[str, Signature]:
        """The signature of each of ``files`` that answered within the bound (their
        stats ``begun`` already, or begun now). One that did not is told to ``hung``
        once, and left out until its stat is back."""
        for path, back in list(self._hung.items()):
            if back.is_set():
                del self._hung[path]
                self.seen = {**self.seen, path: _UNREAD}  # read again, whatever it says
                self._log.info("sesd.config.file_answered", path=escaped(path, _PATH_SHOWN))
        todo = [path for path in files if path not in self._hung]
        found: dict[str, Signature] = {}
        while todo:
            look, begun = begun or _Look(todo), None
            await look.within(self._bound)
            some, at = look.give_up()
            found.update(some)
            if at is None:  # all answered (or the thread never came to one: next time)
                break
            self._hung[at] = look.back
            shown = escaped(at, _PATH_SHOWN)
            hung(files[at], f"{shown} did not answer a look within {self._bound:g} s")
            todo = todo[todo.index(at) + 1 :]  # those after it, in a thread of their own
        return found
