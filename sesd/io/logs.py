"""structlog set-up: JSON lines in production, readable output on a terminal.

Logs go to standard error; standard output is for what a command prints
(:func:`print_line`). Event names are namespaced (``sesd.sqs.receive_failed``).
A daemon writes both streams through a bounded buffer each (sesd.io.log_stream).
"""

from __future__ import annotations

import atexit
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import structlog

from sesd.core.text import clean
from sesd.io.log_stream import Buffered, Lasting, dropped_lines
from sesd.io.tracebacks import said_traceback

__all__ = [
    "buffer_output",
    "configure_logging",
    "debug_logged",
    "dropped_lines",
    "flush_logs",
    "get_logger",
    "print_line",
    "set_level",
    "unbuffer_output",
]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR
_METHOD_LEVELS = _LEVELS | {"warn": logging.WARNING, "exception": logging.ERROR}
_METHOD_LEVELS["critical"] = logging.CRITICAL
#: The level in force. A processor reads it, so a reload changes it for loggers
#: already bound too (a filtering wrapper class would be fixed at bind time).
_level = [logging.INFO]


def set_level(level: str) -> None:
    """Log at ``level`` and above from now on, in every logger."""
    _level[0] = _LEVELS[level]


def debug_logged() -> bool:
    """Whether debug lines are written (the level in force): a line said on every batch
    asks first, as structlog would build the whole line before dropping it."""
    return _level[0] <= logging.DEBUG


def _by_level(_: Any, method: str, event: Any) -> Any:
    if _METHOD_LEVELS.get(method, logging.INFO) < _level[0]:
        raise structlog.DropEvent
    return event


def _said_exc_info(_: Any, __: str, event: Any) -> Any:
    """A line's ``exc_info`` (True, an exception, or the stdlib's triple) as its
    ``exception``: the traceback as :func:`said_traceback` tells it, each error's text
    cleaned (it may quote a stranger's: a sink's answer, a body, an address), as
    structlog's ``format_exc_info`` would not."""
    info = event.pop("exc_info", None)
    if info is True:
        info = sys.exc_info()
    exc = info[1] if isinstance(info, tuple) else info
    if isinstance(exc, BaseException):
        event["exception"] = said_traceback(exc)
    return event


#: The most said of a library's message that comes with an error.
MESSAGE_CHARS = 1000


def _said_message(_: Any, __: str, event: Any) -> Any:
    """A library's message logged with an error, cleaned as the error's text is: it may
    quote it (asyncio's "Task exception was never retrieved" tells the error's repr,
    an address or a whole body in it). Other messages are the library's own words."""
    if event.get("exc_info") and isinstance(event.get("event"), str):
        event["event"] = clean(event["event"], MESSAGE_CHARS)
    return event


def configure_logging(
    level: str = "info", fmt: str = "auto", stream: TextIO | None = None, *, daemon: bool = False
) -> None:
    """Route structlog to ``stream`` (stderr) as JSON, or console text on a TTY.

    A ``daemon``'s lines go through a bounded buffer that a thread writes out
    (:class:`sesd.io.log_stream.Buffered`): a reader that stalls never blocks the event
    loop. The other commands write each line as it comes: they serve nobody while they
    wait, and a paused ``| less`` loses none of their lines."""
    stream = stream if stream is not None else sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    set_level(level)
    _stop_writer(_writer)
    lasting = Lasting(stream)
    out: Lasting | Buffered = lasting
    if daemon:
        out = _writer[0] = Buffered(lasting, _said(renderer))
    _route_stdlib(out, renderer)
    structlog.configure(
        processors=[
            _by_level,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _said_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        # One write a line (a PrintLogger writes the newline apart): a line is dropped
        # or written whole.
        logger_factory=structlog.WriteLoggerFactory(file=out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


#: At exit, how long the lines still buffered may take to be written: 2 s, as the
#: stop's last SQS calls, so that sesd still exits within its grace period plus a few
#: seconds (README); a reader stalled longer loses what is left.
EXIT_WAIT = 2.0
#: The daemon's writer of log lines, while there is one.
_writer: list[Buffered | None] = [None]
#: The daemon's writer of standard output, while there is one.
_output: list[Buffered | None] = [None]


def flush_logs(timeout: float = EXIT_WAIT) -> bool:
    """Wait until the lines logged and printed so far are written, at most ``timeout``
    seconds for both streams together (no wait when lines are written as they come);
    whether they were."""
    deadline = time.monotonic() + timeout
    written = True
    # Each stream's thread writes meanwhile: a stalled stdout costs the log no time.
    for writer in (_writer[0], _output[0]):
        if writer is not None:
            written = writer.drain(max(0.0, deadline - time.monotonic())) and written
    return written


def _stop_writer(writers: list[Buffered | None]) -> None:
    writer, writers[0] = writers[0], None
    if writer is not None:
        writer.stop(EXIT_WAIT)


def buffer_output(stream: TextIO | None = None) -> None:
    """From now on, what :func:`print_line` prints goes to ``stream`` (stdout) through a
    bounded buffer that a thread writes out, as a daemon's log lines do: a reader that
    stalls (``sesd run | less`` left paused) never blocks the event loop, and what the
    buffer cannot hold is dropped, a line saying how much where it was left out. For the
    daemons (``sesd run``, whose console sink prints alerts, and ``sesd demo``)."""
    _stop_writer(_output)
    _output[0] = Buffered(Lasting(stream or sys.stdout), _output_said, log=False)


def unbuffer_output() -> None:
    """Write what the output buffer holds (at most ``EXIT_WAIT`` seconds), then print
    each line at once again, as before :func:`buffer_output`."""
    _stop_writer(_output)


def print_line(text: str) -> bool:
    """Print ``text`` and a newline on standard output: through the daemon's buffer
    when there is one (False when it dropped them: the buffer was full, or the reader
    is gone), else at once."""
    writer = _output[0]
    if writer is not None:
        # The stream is asked whether its reader is still there: a write fails only in
        # the writer's thread, after the line counted as printed (a console alert as
        # sent). A line or two a second at most: one poll() each costs nothing.
        return writer.offer(f"{text}\n", ask=True)
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()
    return True


def _output_said(dropped: int) -> str:
    return (
        f"sesd: {dropped} messages left out here: standard output's reader took none "
        "while sesd's buffer filled\n"
    )


# Every exit but os._exit: a return from main, sys.exit, an exception's. The writer's
# thread is a daemon thread: a stalled reader cannot hold the exit after this.
atexit.register(flush_logs)


def _said(renderer: Any) -> Callable[[int], str]:
    """The line that says how many lines were dropped, rendered as the others are."""
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)

    def said(dropped: int) -> str:
        event = {
            "event": "sesd.log.dropped",
            "dropped": dropped,
            "hint": "the log stream's reader took no lines while sesd's buffer filled",
            "level": "warning",
        }
        return f"{renderer(None, 'warning', stamp(None, 'warning', event))}\n"

    return said


#: What libraries (botocore, aiohttp, asyncio) may log through the standard
#: library: warnings and errors; their debug output would drown sesd's own.
STDLIB_LEVEL = logging.WARNING


def _route_stdlib(stream: Lasting | Buffered, renderer: Any) -> None:
    """Standard-library logging (botocore, aiohttp, asyncio) in the same form as
    sesd's own lines: every line one JSON object (or console text on a terminal)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _said_message,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _said_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(STDLIB_LEVEL)
    for name in _REFRESH_LOGGERS:
        refresh = logging.getLogger(name)
        for old in [f for f in refresh.filters if isinstance(f, _RefreshFailures)]:
            refresh.removeFilter(old)
        refresh.addFilter(_RefreshFailures())


#: Where the SDK warns, with the exception's traceback, at each failed refresh of
#: assumed-role credentials: once per call sesd makes while STS fails (every call of
#: every poller; with credentials still valid, every call that succeeds too). sesd logs
#: each such failure itself (``sesd.sqs.*``, with a hint); the SDK's line keeps its
#: message and the error's text, not twenty lines of stack each time, and is said once
#: an episode, not at every call.
_REFRESH_LOGGERS = ("botocore.credentials", "aiobotocore.credentials")
#: The most said of the error a refresh warning folds in.
_ERROR_CHARS = 300
#: How long a refresh warning must not recur before it is logged again: past the
#: 60 s between a failing poller's tries, under the 45 minutes that follow a
#: successful refresh of one-hour credentials before the next is even tried.
REFRESH_QUIET = 900.0
#: The clock the quiet period is measured with.
_clock = time.monotonic


class _RefreshFailures(logging.Filter):
    """The SDK's credential lines: the error folded into the message, without its
    traceback; a line that came in the last :data:`REFRESH_QUIET` seconds (its failure
    episode goes on) dropped. A different line (STS throttles, then refuses) passes."""

    def __init__(self) -> None:
        super().__init__()
        #: Each line's message, and when it last came (logged or not).
        self._seen: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            # The error's text is the endpoint's (STS's, or a proxy's: a code or a message
            # of any length, a line break): escaped and cut, as sesd's lines say an error.
            said = clean(f"{type(error).__name__}: {error}", _ERROR_CHARS)
            record.msg = f"{record.getMessage()} {said}"
            record.args = None
        record.exc_info = None
        record.exc_text = None
        message, now = record.getMessage(), _clock()
        last = self._seen.get(message)
        self._seen = {m: t for m, t in self._seen.items() if now - t < REFRESH_QUIET}
        self._seen[message] = now
        if last is not None and now - last < REFRESH_QUIET:
            return False
        record.msg = (
            f"{message} (repeats not logged until {REFRESH_QUIET / 60:.0f} min pass without one)"
        )
        record.args = None
        return True


def get_logger(**context: Any) -> Any:
    """A logger with ``context`` bound (queue, domain...)."""
    return structlog.get_logger().bind(**context)
