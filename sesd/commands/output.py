"""A command's result on standard output, and what is said when it cannot be written.

A result that cannot be written is lost: said in one line, never a traceback, and
never an exit status of success. A full disk (``sesd replay --json > november.json``),
a device that refuses it (``/dev/full``): :class:`OutputFailed`, status 1. Standard
output closed (``>&-``), where Python drops what is printed without a word: a reader
gone, as ``| head`` is, status 141 quietly (sesd.commands.main). A command whose change
is made before it says so (``sesd silence add``) says so with :func:`confirmed`: its
status is the change's, and a confirmation lost is said on standard error.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar, cast

__all__ = ["EXIT_OUTPUT", "OutputFailed", "confirmed", "discard", "flushed", "guarded", "put"]

_T = TypeVar("_T")

#: The exit status when standard output refused the result.
EXIT_OUTPUT = 1


class OutputFailed(Exception):
    """Standard output refused a write (a full disk, an I/O error); the message says so
    and why."""

    def __init__(self, why: str) -> None:
        super().__init__(f"cannot write to standard output: {why}; the result is lost")
        #: Why, as the system says it ("No space left on device").
        self.why = why


def put(text: str) -> None:
    """``text`` and a line break on standard output: BrokenPipeError when there is none
    (closed) or its reader is gone; :class:`OutputFailed` when a write fails otherwise."""
    if sys.stdout is None:
        raise BrokenPipeError(errno.EPIPE, "standard output is closed")
    _refusing(sys.stdout.write, text + "\n")


def flushed() -> None:
    """What standard output holds, written now: a file's buffer is otherwise written at
    exit, where a failure is a bare "Exception ignored" and status 120."""
    if sys.stdout is None:
        return
    _refusing(sys.stdout.flush)


def _refusing(call: Callable[..., _T], *args: Any) -> _T:
    """``call(*args)``, a write to standard output: BrokenPipeError as raised (a reader
    gone), any other OSError as :class:`OutputFailed` saying why."""
    try:
        return call(*args)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputFailed(exc.strerror or type(exc).__name__) from None


def confirmed(text: str) -> str:
    """``text`` and a line break on standard output, flushed now, for a change already
    made (a silence written): "" when it is written, else why not. What standard output
    still holds is then dropped quietly (:func:`discard`), so that the command's status
    is the change's: a status of failure would have a script, or an operator, make the
    change again."""
    try:
        put(text)
        flushed()
    except (BrokenPipeError, OutputFailed) as exc:
        discard()
        return exc.why if isinstance(exc, OutputFailed) else exc.strerror or "its reader is gone"
    return ""


def discard() -> None:
    """Point standard output at nothing, so that what its buffer holds is dropped
    quietly at exit (None: closed at the start, nothing to flush)."""
    try:
        number = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # closed, or no descriptor (a capture)
        return
    nothing = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(nothing, number)
    finally:
        os.close(nothing)


@contextmanager
def guarded() -> Iterator[None]:
    """Standard output, while a command runs, refusing as :func:`put` does: each
    ``print`` of the command's (``sesd silence list``, ``sesd status``), written at once
    where PYTHONUNBUFFERED=1 (the image's) or past a buffer's size, ended it in a
    traceback on a full disk, and printed to nothing with standard output closed."""
    stream = sys.stdout
    guard = cast(TextIO, _Guarded(stream))
    sys.stdout = guard
    try:
        yield
    finally:
        if sys.stdout is guard:  # not when the command put its own in its place
            sys.stdout = stream


class _Guarded:
    """Standard output (None: closed at the start) whose writes fail as :func:`put`'s:
    BrokenPipeError for a reader gone or none, :class:`OutputFailed` otherwise."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if self._stream is None:
            raise BrokenPipeError(errno.EPIPE, "standard output is closed")
        return _refusing(self._stream.write, text)

    def flush(self) -> None:
        if self._stream is None:
            return
        _refusing(self._stream.flush)

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError(errno.EBADF, "standard output is closed")
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    @property
    def closed(self) -> bool:
        """Whether there is no standard output to write to (closed at the start)."""
        return self._stream is None or self._stream.closed

    def __getattr__(self, name: str) -> Any:
        # What else a command asks of it (its encoding, its buffer): the stream's own.
        return getattr(self._stream, name)
