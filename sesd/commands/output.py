"""A command's result on standard output, and what is said when it cannot be written.

A result that cannot be written is lost: said in one line, never a traceback, and
never an exit status of success. A full disk (``sesd replay --json > november.json``),
a device that refuses it (``/dev/full``): :class:`OutputFailed`, status 1. Standard
output closed (``>&-``), where Python drops what is printed without a word: a reader
gone, as ``| head`` is, status 141 quietly (sesd.commands.main).
"""

from __future__ import annotations

import errno
import sys

__all__ = ["EXIT_OUTPUT", "OutputFailed", "flushed", "put"]

#: The exit status when standard output refused the result.
EXIT_OUTPUT = 1


class OutputFailed(Exception):
    """Standard output refused a write (a full disk, an I/O error); the message says so
    and why."""


def put(text: str) -> None:
    """``text`` and a line break on standard output: BrokenPipeError when there is none
    (closed) or its reader is gone; :class:`OutputFailed` when a write fails otherwise."""
    if sys.stdout is None:
        raise BrokenPipeError(errno.EPIPE, "standard output is closed")
    try:
        sys.stdout.write(text + "\n")
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _failed(exc) from None


def flushed() -> None:
    """What standard output holds, written now: a file's buffer is otherwise written at
    exit, where a failure is a bare "Exception ignored" and status 120."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _failed(exc) from None


def _failed(exc: OSError) -> OutputFailed:
    why = exc.strerror or type(exc).__name__
    return OutputFailed(f"cannot write to standard output: {why}; the result is lost")
