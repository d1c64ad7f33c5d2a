"""Where lines go once rendered: the stream, and for the daemon a buffer before it
that one thread writes out, so that the event loop never waits on the stream's reader.

A reader that stalls without closing the stream (journald or a container's log driver
blocked, ``sesd run 2>&1 | less`` left paused) fills the pipe, and a write to a full
pipe waits until the reader reads. Written from the event loop, one log line stopped
everything with it: SQS polling, the alerts, ``/metrics`` and ``/healthz``. A reader
that goes away (``EPIPE``) is the other case: :class:`Lasting` drops the lines then.

Standard error's log lines and standard output's (the console sink's alerts, ``sesd
demo``'s summaries) go through the same kind of buffer (sesd.io.logs owns both); only
the log's dropped lines count in :func:`dropped_lines`.
"""

from __future__ import annotations

import select
import threading
from collections import deque
from collections.abc import Callable
from typing import TextIO

__all__ = ["BUFFER_CHARS", "Buffered", "Lasting", "dropped_lines"]

#: What the daemon's buffer holds while its reader does not read, in characters of
#: rendered lines (about 16,000 JSON lines, a few MB): a minute's stall of a daemon
#: logging a few hundred lines a second loses none. Past it, lines are dropped.
BUFFER_CHARS = 4 * 1024 * 1024
#: Room kept for the ``sesd.log.dropped`` line, which goes in before the next line.
_SAID_ROOM = 512

#: Lines every buffer dropped since the process started (a metric reads it).
_dropped = [0]


def dropped_lines() -> int:
    """How many log lines were dropped, in this process, because the stream's reader
    did not take them in time."""
    return _dropped[0]


class Lasting:
    """The log stream, whose reader may go away (a log shipper restarted, ``sesd run
    2>&1 | tee`` killed): a line it cannot take is dropped, and so are the lines after
    it. Raised in whichever task logged it, the broken pipe ended the alerting, then
    sesd, before its last save: losing the logs must not lose the monitoring."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        """Write ``text``, or nothing once the reader is gone."""
        if not self.broken:
            try:
                return self._stream.write(text)
            except (OSError, ValueError):  # EPIPE, EIO; or the stream was closed
                self.broken = True
        return len(text)

    def reader_gone(self) -> bool:
        """Whether the reader is gone, asking the stream's pipe, socket or terminal
        without writing (``POLLERR``: a pipe nobody reads any more; ``POLLHUP``: a
        socket or terminal closed). A write learns it only from a thread behind a
        buffer, after its line counted as handed over; a caller that must know
        whether its line can be written asks first."""
        if not self.broken:
            try:
                poller = select.poll()
                poller.register(self._stream.fileno(), 0)  # errors and hang-ups only
                ready = poller.poll(0)
            except (OSError, ValueError):  # no descriptor (a StringIO), or closed
                return False
            if ready and ready[0][1] & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                self.broken = True
        return self.broken

    def flush(self) -> None:
        """Flush the stream, unless the reader is gone."""
        if not self.broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True


class Buffered:
    """A bounded buffer of lines in front of ``out``, written out in order by one
    thread. ``write`` never waits on the reader: when the buffer is full the line is
    dropped and counted, and once there is room again a line rendered by ``said(n)``
    (``sesd.log.dropped``) stands where the ``n`` lines were left out."""

    def __init__(
        self,
        out: Lasting,
        said: Callable[[int], str],
        capacity: int = BUFFER_CHARS,
        *,
        log: bool = True,
    ) -> None:
        self._out = out
        self._said = said
        self._capacity = capacity
        self._log = log  # its dropped lines count in dropped_lines()
        self._lines: deque[str] = deque()
        #: Characters waiting in ``_lines`` or being written: what counts against the
        #: capacity until the write returns.
        self._held = 0
        self._unsaid = 0  # lines dropped since the last sesd.log.dropped line
        self._writing = False
        self._stopping = False
        self._changed = threading.Condition(threading.Lock())
        name = "sesd-log-writer" if log else "sesd-output-writer"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def write(self, text: str) -> int:
        """Hand ``text`` (whole lines) to the writer, or drop it when the buffer is full."""
        self.offer(text)
        return len(text)

    def offer(self, text: str, *, ask: bool = False) -> bool:
        """Hand ``text`` (whole lines) to the writer; False when it was dropped: the
        buffer was full, or the reader is gone (with ``ask``, asked of the stream now,
        not only learnt from an earlier write)."""
        if self._out.broken or (ask and self._out.reader_gone()):
            return False  # the reader is gone: nothing handed is written any more
        with self._changed:
            room = self._capacity - self._held - (_SAID_ROOM if self._unsaid else 0)
            if len(text) > room:
                self._unsaid += 1
                if self._log:
                    _dropped[0] += 1
                self._changed.notify_all()  # an idle writer says so at once
                return False
            if self._unsaid:
                self._put(self._said(self._unsaid))
                self._unsaid = 0
            self._put(text)
            self._changed.notify_all()
        return True

    def flush(self) -> None:
        """Nothing: the writer writes each line as soon as the reader takes it."""

    def drain(self, timeout: float) -> bool:
        """Wait until every line handed so far is written, at most ``timeout`` seconds;
        whether it was."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not (self._lines or self._writing or self._unsaid), timeout
            )

    def stop(self, timeout: float) -> bool:
        """Write what is held (waiting at most ``timeout`` seconds), then end the writer;
        whether all was written. Lines handed later are dropped."""
        written = self.drain(timeout)
        with self._changed:
            self._stopping = True
            self._capacity = 0
            self._changed.notify_all()
        return written

    def _put(self, text: str) -> None:
        self._lines.append(text)
        self._held += len(text)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._lines or self._unsaid or self._stopping)
                if not self._lines and self._unsaid:
                    # Nothing came after the dropped lines yet: say so now, not at the
                    # next line, which may be a long while coming.
                    self._put(self._said(self._unsaid))
                    self._unsaid = 0
                if not self._lines:
                    return  # stopping, and all written
                batch = "".join(self._lines)
                self._lines.clear()
                self._writing = True
            self._out.write(batch)
            self._out.flush()
            with self._changed:
                self._writing = False
                self._held -= len(batch)
                self._changed.notify_all()
