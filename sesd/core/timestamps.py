"""SES timestamps -> Unix seconds, and Unix seconds -> the same ISO 8601 form; HTTP
dates (a Date or Retry-After header) -> Unix seconds.

SES writes every timestamp as ``2027-01-15T08:00:00.000Z``; any ISO 8601 form
is read, and a timestamp without a zone is UTC. ``datetime.fromisoformat`` is
C code and reads SES's form faster than any arithmetic written in Python.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

__all__ = ["CLOCK_OFF", "http_seconds", "iso", "parse_iso", "unix_seconds"]

#: How far (seconds) the host's clock may be from AWS's before sesd says so: past it,
#: events count at the wrong time (an hour ahead, every event is late, in no window).
CLOCK_OFF: Final = 30.0

#: Found once: read through its class at each call, it cost an eighth of a call (two
#: calls an event, counted under cachegrind).
_parse: Final = datetime.fromisoformat
#: The same, for sesd.core.decode, which reads SES's form inline (two calls an event).
parse_iso: Final = _parse


def unix_seconds(text: str) -> float:
    """The Unix time of an ISO 8601 timestamp. Raises ValueError if ``text`` is not one."""
    try:
        moment = _parse(text)
    except ValueError:
        raise ValueError("not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(t: float) -> str:
    """Unix time ``t`` as ISO 8601 in UTC with a ``Z`` (what sesd writes in JSON)."""
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def http_seconds(text: str) -> float | None:
    """The Unix time of an HTTP date (RFC 9110's three forms), None when ``text`` is
    not one. A date without a zone (asctime's form, which RFC 9110 has recipients read,
    or RFC 5322's "-0000") is UTC, as every HTTP date is: not the host's local time."""
    with contextlib.suppress(TypeError, ValueError, IndexError):
        moment = parsedate_to_datetime(text)
        return moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()
    return None
