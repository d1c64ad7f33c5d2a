"""The keys a domain's values are staged and stored under (sesd.core.windows.cells):
the kind of value and its sketch bucket, and a delivery's two keys found at once.

Pure code: no clock, no I/O.
"""

from __future__ import annotations

import math
from typing import Final

from sesd.core.sketch import MAX_BUCKET, PER_OCTAVE
from sesd.core.windows.cells import value_key

__all__ = [
    "CAUSE",
    "DELAY_DURATION",
    "PROCESSING",
    "PROCESSING_KEYS",
    "SUMMARISED",
    "SUPPRESSED",
    "TO_DELIVERY",
    "TO_DELIVERY_KEYS",
    "delivery_keys",
]

PROCESSING, TO_DELIVERY, DELAY_DURATION, CAUSE = 0, 1, 2, 3
#: The fourth kind of value tallies recipients by a code: a delayed recipient's cause
#: (its index in CAUSES), or this code for a recipient that a suppression list kept
#: SES from sending to (a bounce that is not one: counted apart).
SUPPRESSED: Final = 255
#: The value kinds summarised as quantiles (the cause kind is counted, not summarised).
SUMMARISED: Final = (PROCESSING, TO_DELIVERY, DELAY_DURATION)
#: The value keys of a delivery's two values, by sketch bucket (made once: every
#: delivery needs two).
PROCESSING_KEYS: Final = [value_key(PROCESSING, b) for b in range(MAX_BUCKET + 1)]
TO_DELIVERY_KEYS: Final = [value_key(TO_DELIVERY, b) for b in range(MAX_BUCKET + 1)]
_ceil: Final = math.ceil
_log2: Final = math.log2


def delivery_keys(processing_ms: float | None, to_delivery_ms: float) -> tuple[int, int]:
    """The staged-value keys of a delivery's processing time and time to delivery, for
    :meth:`DomainWindows.delivered` (computed once for all of an event's recipients);
    (-1, -1) when SES gave no processing time."""
    if processing_ms is None:
        return -1, -1
    # bucket_of() twice, inline: every delivery takes this path, and the two calls cost
    # more than the formula.
    processing = 0 if processing_ms <= 1.0 else _ceil(_log2(processing_ms) * PER_OCTAVE)
    to_delivery = 0 if to_delivery_ms <= 1.0 else _ceil(_log2(to_delivery_ms) * PER_OCTAVE)
    return (
        PROCESSING_KEYS[processing if processing < MAX_BUCKET else MAX_BUCKET],
        TO_DELIVERY_KEYS[to_delivery if to_delivery < MAX_BUCKET else MAX_BUCKET],
    )
