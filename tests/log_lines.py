"""sesd's log lines as a test reads them (:func:`sesd_logs`, :func:`said_in`), and
the logging each test starts from (``_quiet_logs``). tests/conftest.py imports the
fixtures, so every test has them."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Any

import pytest
import structlog

from sesd.io import logs
from sesd.io.logs import configure_logging

#: The root logger's handler the last ``configure_logging`` of ``_quiet_logs`` made,
#: and what that configuration left (``_logging_now``).
_configured: list[tuple[logging.Handler, tuple[object, ...]]] = []


def _logging_now(handler: logging.Handler) -> tuple[object, ...]:
    """Everything ``configure_logging`` sets that a test could have changed since, but
    the root logger's handlers and level (set again each test: pytest adds its own
    handlers for each phase of a test, which configuring takes out): the stream,
    ``handler``'s own settings, structlog's configuration, the daemon's log writer,
    the SDK loggers' filters."""
    config = structlog.get_config()
    stream = getattr(handler, "stream", None)
    return (
        sys.stderr,
        stream,
        getattr(stream, "broken", None),
        handler.formatter,
        handler.level,
        tuple(handler.filters),
        tuple(config["processors"]),
        config["logger_factory"],
        config["wrapper_class"],
        config["context_class"],
        config["cache_logger_on_first_use"],
        logs._writer[0],
        *(tuple(logging.getLogger(name).filters) for name in logs._REFRESH_LOGGERS),
    )


@pytest.fixture(autouse=True)
def _quiet_logs() -> None:
    """Logs as JSON to stderr, as in production (captured by pytest). Configured again
    only when something changed what the last configuration set (a daemon's run, a
    test's own configuration, pytest's capture swapping stderr); else what a test may
    change anyway is set again (the level, the root logger's one handler) and the SDK
    lines' quiet periods forgotten. A configuration costs about a tenth of a
    millisecond under coverage, each test."""
    if _configured and _configured[0][1] == _logging_now(_configured[0][0]):
        root = logging.getLogger()
        root.handlers = [_configured[0][0]]
        if root.level != logs.STDLIB_LEVEL:  # setLevel clears every logger's cache
            root.setLevel(logs.STDLIB_LEVEL)
        logs.set_level("debug")
        for name in logs._REFRESH_LOGGERS:
            for found in logging.getLogger(name).filters:
                if isinstance(found, logs._RefreshFailures):
                    found._seen.clear()
        return
    configure_logging("debug", "json")
    (handler,) = logging.getLogger().handlers
    _configured[:] = [(handler, _logging_now(handler))]


def sesd_logs(level: str = "debug") -> io.StringIO:
    """sesd's log lines from now on, at ``level`` and above, as JSON: the lines a user's
    log shipper reads, libraries' included. structlog's ``capture_logs`` sees sesd's
    events before its processors: an error's traceback not yet told (cleaned) as
    ``exception``, a value JSON has no form for not yet its repr, a level's lines not
    yet left out, and no library's line at all. A test of what the log says (a secret
    or an address it must not hold) reads these. Read them with :func:`said_in` or
    :func:`log_records`. Configured for this test alone, and only for loggers bound
    after it: ``_quiet_logs`` configures the next test again."""
    stream = io.StringIO()
    configure_logging(level, "json", stream=stream)
    return stream


@pytest.fixture
def json_logs() -> io.StringIO:
    """sesd's log lines at every level from the test's start (:func:`sesd_logs`)."""
    return sesd_logs()


def log_records(json_logs: io.StringIO) -> list[dict[str, Any]]:
    """The log's lines, parsed, in the order they were written."""
    return [json.loads(line) for line in json_logs.getvalue().splitlines()]


def said_in(json_logs: io.StringIO) -> dict[str, dict[str, Any]]:
    """The log's lines by event name (the last of each)."""
    return {r["event"]: r for r in log_records(json_logs)}
