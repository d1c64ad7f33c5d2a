"""How SIGTERM, SIGINT and SIGHUP reach a daemon's run: one handler, from the run's
start to its end, writes each signal's number to a pipe, and whoever reads the pipe
acts on it, the signal watch while sesd runs (sesd.runtime.signals), then a thread of
its own through the exit.

The number is written by the interpreter's own C handler (the pipe is its wakeup
file, ``signal.set_wakeup_fd``), whichever thread the signal came to, as the event
loop's signal handling does: a Python handler runs only in the main thread, between
two of its bytecodes, so not while that thread waits in a call (the exit joining a
thread, a close that blocks) that the signal did not interrupt, and there it may hold
any lock it takes: threading's own (inside ``Thread.start``, or joining threads at the
exit), the log writer's. A thread started from it, or a line logged, could wait for
ever on a lock its own thread held. The Python handler writes nothing while the pipe
is the wakeup file (it is what keeps each signal from its default action); the reader
is a task or a thread that was running before the signal came. (Where the wakeup file
is another's, a program embedding sesd whose event loop handles signals of its own,
from before the run or since, the Python handler writes the number, with
``os.write``, which takes no lock.)

One handler for the whole run also leaves no moment without one: the watch's end
handing over to the exit's thread changes who reads the pipe, not what a signal does,
and a signal neither has read waits in the pipe for the next. (The event loop's own
handlers, given up as the watch ended, put each signal's default action back until
the exit's were installed: a SIGTERM then ended sesd without a line.)"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

import anyio

__all__ = ["STOP_AND_RELOAD", "SignalPipe"]

#: The signals a run handles.
STOP_AND_RELOAD = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers


class SignalPipe:
    """The run's signals, in the order they came (:meth:`take` installs the handler)."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        # Never a wait in the handler (a full pipe already holds signals enough to
        # act on), nor in the watch's read.
        os.set_blocking(self._write, False)
        os.set_blocking(self._read, False)
        #: What each signal did before, put back by :meth:`put_back`.
        self._found: dict[signal.Signals, _Handler] = {}
        self._thread: threading.Thread | None = None
        #: The wakeup file before, put back; -1 if none (then the pipe is it).
        self._wakeup = -1

    @classmethod
    def take(cls) -> SignalPipe:
        """Handle each of :data:`STOP_AND_RELOAD` from now on (in the main thread), but
        one whose handler Python cannot read."""
        pipe = cls()
        pipe._wakeup = signal.set_wakeup_fd(pipe._write, warn_on_full_buffer=False)
        if pipe._wakeup != -1:
            signal.set_wakeup_fd(pipe._wakeup)  # another's: the handler writes instead
        for signum in STOP_AND_RELOAD:
            found = signal.getsignal(signum)
            if found is None:
                # Set outside Python (a program embedding sesd, in C), which could not
                # be put back: left to that handler, the run does not watch it.
                continue
            pipe._found[signum] = found
            signal.signal(signum, pipe._heard)
        return pipe

    def _heard(self, signum: int, frame: FrameType | None) -> None:
        if self._wakeup == -1:
            # Still the wakeup file? An event loop that begins watching a signal of its
            # own (a program embedding sesd) makes its pipe the wakeup file, and none
            # once it ends: the number went there, to be dropped, or nowhere. (Set to
            # this pipe again, it is a swap for itself while the pipe is the file.)
            found = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
            if found == self._write:
                return  # the C handler wrote the number
            if found != -1:
                signal.set_wakeup_fd(found)  # the loop's: left to it, the number written here
                self._wakeup = found
        with contextlib.suppress(OSError):  # full: what it holds is read first
            os.write(self._write, bytes([signum]))

    def _taken(self, numbers: bytes) -> list[signal.Signals]:
        # The wakeup file has every signal with a Python handler (the process's other
        # handlers' too): only the run's are its to act on.
        return [signal.Signals(n) for n in numbers if n in self._found]

    async def received(self) -> list[signal.Signals]:
        """The signals come since the last call, once there is one."""
        while True:
            await anyio.wait_readable(self._read)
            with contextlib.suppress(BlockingIOError):
                if taken := self._taken(os.read(self._read, 64)):
                    return taken

    def hand_to_thread(self, act: Callable[[signal.Signals], None]) -> None:
        """From now on a thread of its own reads the pipe and calls ``act`` with each
        signal (the watch has ended: the exit), until :meth:`put_back`. Called as the
        watch ends, not from a handler: a thread may start here."""
        os.set_blocking(self._read, True)
        self._thread = threading.Thread(
            target=self._read_in_thread, args=(act,), name="sesd-signals-at-exit", daemon=True
        )
        self._thread.start()

    def _read_in_thread(self, act: Callable[[signal.Signals], None]) -> None:
        try:
            while numbers := os.read(self._read, 64):  # empty: put back, the pipe closed
                for signum in self._taken(numbers):
                    act(signum)
        finally:
            os.close(self._read)

    def put_back(self) -> None:
        """What each signal did before :meth:`take`, done again; the pipe closed (its
        thread, if any, ends)."""
        for signum, handler in self._found.items():
            signal.signal(signum, handler)
        if self._wakeup == -1:
            now = signal.set_wakeup_fd(-1)
            if now != self._write:  # another's since: left to it
                signal.set_wakeup_fd(now)
        os.close(self._write)
        if self._thread is None:
            os.close(self._read)
