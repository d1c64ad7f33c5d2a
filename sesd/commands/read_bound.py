"""A command's read of the config file and the files it names, bounded: from a disk that
answers it takes well under a second, from a share that hangs (an NFS mount
hard-mounted, a volume gone) for ever. ``sesd run`` and ``sesd check-config`` (the
shipped unit's check before each reload) read in a daemon thread, which the exit does
not wait for, and give the read up at the bound, saying why; waited for, the read held
the command without a word until systemd's timeout ended it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from sesd.core.text import escaped

__all__ = ["Unanswered", "read_within"]

_T = TypeVar("_T")


class Unanswered(Exception):
    """The read had not returned within its bound; the message names the file and the
    bound, to follow a command's own words (``cannot start: ...``)."""


def read_within(read: Callable[[], _T], given: str, bound: float, thread: str) -> _T:
    """What ``read()`` returns (or raises), called in a daemon thread named ``thread``;
    :class:`Unanswered` when it has not returned within ``bound`` seconds, the read of
    the config file ``given`` (and of the files it names) left to run on there."""
    outcome: list[_T | BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(read())
        except BaseException as exc:  # noqa: BLE001 - raised again in the waiting thread
            outcome.append(exc)
        done.set()

    threading.Thread(target=run, name=thread, daemon=True).start()
    if not done.wait(bound):
        raise Unanswered(
            f"reading {escaped(given, 500)} and the files it names took over {bound:g} s "
            "(a file on a hung mount?)"
        )
    (got,) = outcome
    if isinstance(got, BaseException):
        raise got
    return got
