"""What pause a receiver's answer asks for: its Retry-After (RFC 9110), in seconds or
as an HTTP date, read by sesd.alerting.sinks for a 429 and a 503."""

from __future__ import annotations

import math
import time
from typing import Final

from sesd.core.timestamps import http_seconds

__all__ = ["MIN_RETRY_AFTER", "asked", "retry_after"]

#: The shortest pause after a 429 (or a 503 that asks one), whatever Retry-After says
#: (0, negative, not a number): a tight loop of posts is what the limit asks to stop.
MIN_RETRY_AFTER: Final = 1.0


def asked(header: str) -> float | None:
    """The pause a Retry-After value asks for, in seconds or as an HTTP date; None when
    it does not read."""
    value: float | None
    try:
        value = float(header)
    except ValueError:
        at = http_seconds(header)
        value = None if at is None else at - time.time()
    return value if value is not None and math.isfinite(value) else None


def retry_after(header: str, floor: float, default: float) -> float:
    """The pause a 429 asks for (:func:`asked`), else ``default``; at least ``floor``
    and a second (a pause past the notification's age limit expires it: the outbox's
    ``max_age``)."""
    value = asked(header)
    return max(floor, MIN_RETRY_AFTER, default if value is None else value)
