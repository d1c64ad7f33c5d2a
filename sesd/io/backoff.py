"""Exponential backoff with full jitter, and a fixed pause spread about its length: pure
functions for SQS, the sinks and the supervised tasks."""

from __future__ import annotations

__all__ = ["backoff_delay", "spread"]


def backoff_delay(attempt: int, *, base: float = 0.2, cap: float = 30.0, rand: float) -> float:
    """A delay in [0, min(cap, base * 2**attempt)).

    ``rand`` is a uniform draw in [0, 1) from the caller, so the function is pure
    and a test can pin the draw.
    """
    return rand * min(cap, base * 2.0 ** min(attempt, 32))


def spread(pause: float, share: float, *, rand: float) -> float:
    """``pause`` give or take ``share`` of it, by ``rand``, a uniform draw in [0, 1): so
    that what failed together (the pollers of one queue, a fleet's replicas) is not
    tried again together."""
    return pause * (1 - share + 2 * share * rand)
