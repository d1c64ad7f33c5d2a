"""A command's read of the config file and the files it names, bounded: from a disk that
answers it takes well under a second, from a share that hangs (an NFS mount
hard-mounted, a volume gone) for ever. Every command that reads a config (``sesd run``,
``check-config``, the shipped unit's check before each reload, and ``silence``,
``send-test-alert``, ``replay``, ``status``, ``setup``) reads it in a daemon thread,
which the exit does not wait for, and gives the read up at READ_BOUND
(:mod:`sesd.io.hung`), saying why; waited for, the read held the command without a
word (until systemd's timeout ended it, under the unit; for ever, at a terminal)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Final, TypeVar

from sesd.core.text import escaped
from sesd.io import hung

__all__ = ["EXIT_UNREAD", "Unanswered", "config_within", "read_within", "unread"]

_T = TypeVar("_T")

#: A command's exit status when its read of the config file or a file it names did not
#: return within the bound: not 2, the file's own refusal, since nothing is known of
#: the file; 1, as for any command that could not do what it was asked.
EXIT_UNREAD: Final = 1


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


def config_within(read: Callable[[], _T], given: str | None, thread: str) -> _T:
    """``read()``, a command's read of the config file ``given`` (as given: ``PATH`` or
    ``--config``) and of the files it names, within READ_BOUND (:mod:`sesd.io.hung`),
    in a daemon thread named ``thread``; :class:`Unanswered` past it."""
    return read_within(read, str(given), hung.READ_BOUND, thread)


def unread(doing: str, exc: Unanswered) -> int:
    """A command's config read given up, said in one line on stderr (what the command
    cannot do, the file and the bound: ``sesd: cannot replay: reading ...``); its exit
    status, EXIT_UNREAD."""
    print(f"sesd: cannot {doing}: {exc}", file=sys.stderr)
    return EXIT_UNREAD
