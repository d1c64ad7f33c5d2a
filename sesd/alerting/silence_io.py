"""The silences file's reads, writes and looks, each a step the watcher asks for.

The watcher (sesd.alerting.silence_watcher) says what it needs of the file as steps:
a generator that yields each file operation and is sent its result (or has its error
thrown in). :func:`inline` runs the steps in the calling thread, for the CLI and for
callers that are not async. :class:`FileThread` runs each in a worker thread, the
daemon's way: a silences file on a hard-mounted NFS share that hangs, or a slow disk
reading 64 MB, would otherwise hold every poller, the HTTP server and alerting. A step
that has not come back within :attr:`FileThread.bound` is said and given up (its
caller goes on with what it read last), and no other one starts on that file until
it has; one that no thread began in time never will, and holds nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any, Final, NamedTuple, TypeVar

import anyio
import anyio.to_thread

from sesd.alerting.silences import SilenceError
from sesd.core.text import escaped
from sesd.io.logs import get_logger

__all__ = ["BOUND", "FileOp", "FileThread", "Found", "Hung", "Later", "Steps", "inline", "later"]

T = TypeVar("T")

#: How long a step is waited for: a read of the largest file sesd takes, or a write
#: and its syncs, takes well under a second on a disk that answers.
BOUND: Final = 5.0
#: The most of a path a line tells: the config names it, a typo may be of any length.
_PATH_SHOWN: Final = 500


class FileOp(NamedTuple):
    """One operation on the file at ``path``: ``what`` it is (``look``, ``read`` or
    ``write``, as a line says it) and the ``call`` that does it."""

    path: str
    what: str
    call: Callable[[], Any]


#: The steps of one thing the watcher does, which returns a ``T``.
Steps = Generator[FileOp, Any, T]
#: The answers of looks and reads made a moment before, by (path, what): each result,
#: or the error it raised.
Found = dict[tuple[str, str], Any]


class Hung(SilenceError):
    """The file did not answer in time, or is still busy with a step that did not."""


class Later(SilenceError):
    """The file is not looked at now: a caller that may not wait (a reload's change of
    the rules, in one step with the rest of the config) leaves it to the next steps
    run in the thread."""


def inline(steps: Steps[T]) -> T:
    """What ``steps`` return, each file operation done in the calling thread."""
    try:
        op = next(steps)
        while True:
            try:
                result = op.call()
            except Exception as exc:  # noqa: BLE001 - the steps handle it, or it is raised
                op = steps.throw(exc)
            else:
                op = steps.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


def later(steps: Steps[T], found: Found | None = None) -> T:
    """What ``steps`` return, no file operation done: a look or a read the thread made
    a moment before (``found``) is answered as it was, each other has :class:`Later`
    thrown in (reads keep what was read, writes wait for the next steps that run)."""
    found = found or {}
    try:
        op = next(steps)
        while True:
            if (op.path, op.what) not in found:
                op = steps.throw(Later(f"{op.path}: not now"))
            elif isinstance(answer := found[op.path, op.what], SilenceError):
                op = steps.throw(answer)
            else:
                op = steps.send(answer)
    except StopIteration as stop:
        value: T = stop.value
        return value


class FileThread:
    """Runs steps with each file operation in a worker thread, one at a time, each
    waited for :attr:`bound` seconds at most."""

    def __init__(self, bound: float | None = None) -> None:
        self.bound = BOUND if bound is None else bound
        self._log = get_logger()
        self._lock = anyio.Lock()
        #: Each path whose last operation was given up: what it was, the flag its thread
        #: sets once it came back, and why it was given up.
        self._hung: dict[str, tuple[str, threading.Event, str]] = {}

    async def run(self, steps: Steps[T]) -> T:
        """What ``steps`` return, each file operation done in a worker thread; one not
        back in time has :class:`Hung` thrown in instead of its result. One run at a
        time: the daemon's writes never interleave, nor a read a write, and a reload's
        switch to another file comes between an evaluation's reads, not amid them."""
        await self._lock.acquire()
        try:
            op = next(steps)
            while True:
                try:
                    result = await self._call(op)
                except Exception as exc:  # noqa: BLE001 - the steps handle it, or it is raised
                    op = steps.throw(exc)
                else:
                    op = steps.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        finally:
            steps.close()  # cancelled meanwhile: the steps end where they are
            self._lock.release()

    async def _call(self, op: FileOp) -> Any:
        shown = escaped(op.path, _PATH_SHOWN)
        if op.path in self._hung:
            what, back, why = self._hung[op.path]
            if not back.is_set():
                # A second operation would hang as well, and another thread with it. Why,
                # as said when it was given up: its callers say it once.
                raise Hung(why)
            del self._hung[op.path]
            self._log.info("sesd.silences.answered", path=shown, what=what)
        back = threading.Event()
        # Taken by the thread as it begins the operation, or by the bound's end first:
        # then the file is never asked (the thread skips it, or never gets it), and
        # nothing would set ``back``: left unset, it would hold the file as hung until a
        # restart.
        begun = threading.Lock()

        def call() -> Any:
            if not begun.acquire(blocking=False):
                return None  # given up before it began: nobody waits for it
            try:
                return op.call()
            finally:
                back.set()

        with anyio.move_on_after(self.bound):
            return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        if begun.acquire(blocking=False):
            back.set()  # no thread began it in time (all busy, or none ran): tried next time
        why = f"{shown} did not answer a {op.what} within {self.bound:g} s"
        self._hung[op.path] = op.what, back, why
        self._log.warning(
            "sesd.silences.hung",
            path=shown,
            what=op.what,
            seconds=self.bound,
            hint="the silences file did not answer (a hung share or disk?): alerting goes "
            "on with the silences read last, and ends not written wait; sesd tries the file "
            "again once this operation comes back",
        )
        raise Hung(why)
