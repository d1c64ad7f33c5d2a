"""structlog set-up: JSON lines in production, readable output on a terminal.

Logs go to standard error; standard output is for what a command prints.
Event names are namespaced (``sesd.sqs.receive_failed``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging", "get_logger", "set_level"]

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


def _by_level(_: Any, method: str, event: Any) -> Any:
    if _METHOD_LEVELS.get(method, logging.INFO) < _level[0]:
        raise structlog.DropEvent
    return event


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Route structlog to ``stream`` (stderr) as JSON, or console text on a TTY."""
    stream = stream if stream is not None else sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    set_level(level)
    lasting = _Lasting(stream)
    _route_stdlib(lasting, renderer)
    structlog.configure(
        processors=[
            _by_level,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.PrintLoggerFactory(file=lasting),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


class _Lasting:
    """The log stream, whose reader may go away (a log shipper restarted, ``sesd run
    2>&1 | tee`` killed): a line it cannot take is dropped, and so are the lines after
    it. Raised in whichever task logged it, the broken pipe ended the alerting, then
    sesd, before its last save: losing the logs must not lose the monitoring."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except (OSError, ValueError):  # EPIPE, EIO; or the stream was closed
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True


#: What libraries (botocore, aiohttp, asyncio) may log through the standard
#: library: warnings and errors; their debug output would drown sesd's own.
STDLIB_LEVEL = logging.WARNING


def _route_stdlib(stream: _Lasting, renderer: Any) -> None:
    """Standard-library logging (botocore, aiohttp, asyncio) in the same form as
    sesd's own lines: every line one JSON object (or console text on a terminal)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(STDLIB_LEVEL)
    for name in _REFRESH_LOGGERS:
        refresh = logging.getLogger(name)
        if not any(isinstance(f, _WithoutTraceback) for f in refresh.filters):
            refresh.addFilter(_WithoutTraceback())


#: Where the SDK warns, with the exception's traceback, at each failed refresh of
#: assumed-role credentials: once per call sesd retries while STS fails. sesd logs
#: each such failure itself (``sesd.sqs.*``, with a hint); the SDK's line keeps its
#: message and the error's text, not twenty lines of stack each time.
_REFRESH_LOGGERS = ("botocore.credentials", "aiobotocore.credentials")


class _WithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} {type(error).__name__}: {error}"
            record.args = None
        record.exc_info = None
        record.exc_text = None
        return True


def get_logger(**context: Any) -> Any:
    """A logger with ``context`` bound (queue, domain...)."""
    return structlog.get_logger().bind(**context)
