"""SES timestamps -> Unix seconds.

SES writes every timestamp as ``2027-01-15T08:00:00.000Z``; any ISO 8601 form
is read, and a timestamp without a zone is UTC. ``datetime.fromisoformat`` is
C code and reads SES's form faster than any arithmetic written in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["unix_seconds"]


def unix_seconds(text: str) -> float:
    """The Unix time of an ISO 8601 timestamp. Raises ValueError if ``text`` is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
