"""Quantiles from bounded-memory logarithmic buckets.

A value ``v`` (milliseconds) falls in bucket ``ceil(log2(v) * 4)``: each
bucket is 19% wider than the one before, so a quantile (or a sum) read from a
bucket's geometric midpoint is within about 9% of the true value. Values from
1 ms to a year fit in 141 buckets (0 to 140), so a bucket number fits a byte
(sesd.core.windows.ring packs it into a cell).
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["MAX_BUCKET", "PER_OCTAVE", "QUANTILES", "bucket_of", "bucket_value", "summarise"]

#: Buckets an octave (a doubling of the value).
PER_OCTAVE: Final = 4
_log2: Final = math.log2
#: 2**35 ms is about a year; larger values clamp to this bucket.
MAX_BUCKET: Final = 35 * PER_OCTAVE
#: The quantiles sesd reports.
QUANTILES: Final = (0.5, 0.95, 0.99)


def bucket_of(value_ms: float) -> int:
    """The bucket index of a value; values of 1 ms and below share bucket 0."""
    if value_ms <= 1.0:
        return 0
    bucket = math.ceil(_log2(value_ms) * PER_OCTAVE)
    # Not min(): a builtin's call costs as much as the rest, and a delivery takes two.
    return bucket if bucket < MAX_BUCKET else MAX_BUCKET


def bucket_value(index: int) -> float:
    """A representative value (ms) for a bucket: the geometric middle of its bounds."""
    if index <= 0:
        return 1.0
    return float(2.0 ** ((index - 0.5) / PER_OCTAVE))


def summarise(counts: dict[int, int]) -> tuple[int, float, tuple[float | None, ...]]:
    """How many values, their (estimated) sum, and the :data:`QUANTILES` (None when
    there are none), from bucket -> count."""
    total = sum(counts.values())
    if total <= 0:
        return 0, 0.0, (None,) * len(QUANTILES)
    ordered = sorted(counts.items())
    estimate = sum(bucket_value(index) * n for index, n in ordered)
    found: list[float | None] = []
    for q in QUANTILES:
        rank, running = q * total, 0
        for index, n in ordered:
            running += n
            if running >= rank:
                found.append(bucket_value(index))
                break
    return total, estimate, tuple(found)
