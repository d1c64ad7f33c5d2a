"""Exponential backoff with full jitter: one pure function for SQS and the sinks."""

from __future__ import annotations

__all__ = ["backoff_delay"]


def backoff_delay(attempt: int, *, base: float = 0.2, cap: float = 30.0, rand: float) -> float:
    """A delay in [0, min(cap, base * 2**attempt)).

    ``rand`` is a uniform draw in [0, 1) from the caller, so the function is pure
    and a test can pin the draw.
    """
    return rand * min(cap, base * 2.0 ** min(attempt, 32))
