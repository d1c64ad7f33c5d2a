"""A test process that ends without a word says where it was.

pytest-xdist reports a worker that died as "node down: Not properly terminated ...
crashed while running <test>", and nothing more: no traceback, no signal. A crash
(SIGSEGV, SIGABRT) already prints its stacks (pytest's faulthandler); the deaths
that print nothing are a signal whose default action ends the process (SIGTERM,
SIGHUP, SIGUSR1, SIGUSR2) and ``os._exit``. Each of them here first prints every
thread's stack to the worker's standard error (the run's log), then ends the
process as it would have: which test, and where in it, is then in the log.

Only in pytest-xdist's workers, whose deaths nothing else tells (a run in one process
ends in plain sight), and only in the worker itself: a child forked from it
(mutmut's, which end by ``os._exit``) exits as it would.

A handler a test or a daemon installs for one of these signals takes the place of
the one here while it is installed (the signal is theirs then); removed, it leaves
the default back (asyncio's does), and :func:`rearm` puts this one back after each
test.
"""

from __future__ import annotations

import faulthandler
import os
import signal
from typing import Any, NoReturn

__all__ = ["install", "rearm"]

#: Signals whose default action ends a process and prints nothing.
SILENT = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)

_stream: Any = None
_exit = os._exit
_worker = 0


def install() -> None:
    """Say where the process was when a silent signal or ``os._exit`` ends it: on a
    copy of standard error taken now (a test's capture replaces it later)."""
    global _stream, _worker
    if _stream is not None or "PYTEST_XDIST_WORKER" not in os.environ:
        return
    _stream, _worker = os.fdopen(os.dup(2), "w"), os.getpid()
    os._exit = _exit_saying_where
    rearm()


def rearm() -> None:
    """Back on each silent signal whose handler is the default again."""
    if _stream is None:
        return
    for signum in SILENT:
        if signal.getsignal(signum) is signal.SIG_DFL:
            # Registered still as far as faulthandler knows, but a handler set since
            # (and removed) took its place: registered afresh, not left as it thinks.
            faulthandler.unregister(signum)
            # chain: after the stacks, the default action, as without this module.
            faulthandler.register(signum, file=_stream, all_threads=True, chain=True)


def _exit_saying_where(status: int) -> NoReturn:
    if os.getpid() != _worker:
        _exit(status)
    _stream.write(f"\nos._exit({status}) in a test process; its threads:\n")
    _stream.flush()
    faulthandler.dump_traceback(file=_stream, all_threads=True)
    _exit(status)
