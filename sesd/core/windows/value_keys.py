"""The keys a domain's values are staged and stored under (sesd.core.windows.cells):
the kind of value and its sketch bucket; a delivery's two keys found at once, and
staged as one pair.

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
    "NO_VALUES",
    "PAIR_ROWS",
    "PROCESSING",
    "SUMMARISED",
    "SUPPRESSED",
    "TO_DELIVERY",
    "TO_DELIVERY_KEYS",
    "delivery_pair",
    "pair_row",
    "unpair",
]

PROCESSING, TO_DELIVERY, DELAY_DURATION, CAUSE = 0, 1, 2, 3
#: The fourth kind of value tallies recipients by a code: a delayed recipient's cause
#: (its index in CAUSES), or this code for a recipient that a suppression list kept
#: SES from sending to (a bounce that is not one: counted apart).
SUPPRESSED: Final = 255
#: The value kinds summarised as quantiles (the cause kind is counted, not summarised).
SUMMARISED: Final = (PROCESSING, TO_DELIVERY, DELAY_DURATION)
#: A delivery's two values are staged as one pair (:meth:`DomainWindows.delivered`):
#: its processing time's value key shifted by this, and its time to delivery's below
#: (a value key is 10 bits).
PAIR_SHIFT: Final = 16
#: The pair of a delivery SES gave no processing time for: counted, with no value.
NO_VALUES: Final = -1
TO_DELIVERY_KEYS: Final = [value_key(TO_DELIVERY, b) for b in range(MAX_BUCKET + 1)]
#: A delivery's pairs, by its processing time's sketch bucket, then its time to
#: delivery's: a row made on first use (pair_row(); all 141 would take 700 KB). One int
#: object a pair, every time: a stage's dict finds it by identity, where an int made by
#: ``|`` for each delivery is compared by value, then freed (600 instructions an event,
#: counted under cachegrind).
PAIR_ROWS: Final[list[list[int] | None]] = [None] * (MAX_BUCKET + 1)
_ceil: Final = math.ceil
_log2: Final = math.log2


def delivery_pair(processing_ms: float | None, to_delivery_ms: float) -> int:
    """The staged pair of a delivery's processing time and time to delivery, for
    :meth:`DomainWindows.delivered` (computed once for all of an event's recipients);
    :data:`NO_VALUES` when SES gave no processing time."""
    if processing_ms is None:
        return NO_VALUES
    # bucket_of() twice, inline: every delivery takes this path, and the two calls cost
    # more than the formula. sesd.core.pipeline.Pipeline._delivered holds a copy (held
    # to this by tests/test_pipeline_delivery_reference.py and
    # tests/test_pipeline_delivery_addresses.py): change both.
    processing = 0 if processing_ms <= 1.0 else _ceil(_log2(processing_ms) * PER_OCTAVE)
    to_delivery = 0 if to_delivery_ms <= 1.0 else _ceil(_log2(to_delivery_ms) * PER_OCTAVE)
    processing = processing if processing < MAX_BUCKET else MAX_BUCKET
    row = PAIR_ROWS[processing] or pair_row(processing)
    return row[to_delivery if to_delivery < MAX_BUCKET else MAX_BUCKET]


def pair_row(processing_bucket: int) -> list[int]:
    """The pairs of a processing time's sketch bucket, by time to delivery's (made once
    into :data:`PAIR_ROWS`)."""
    row = PAIR_ROWS[processing_bucket]
    if row is None:
        high = value_key(PROCESSING, processing_bucket) << PAIR_SHIFT
        row = PAIR_ROWS[processing_bucket] = [high | key for key in TO_DELIVERY_KEYS]
    return row


def unpair(pairs: dict[int, int], values: dict[int, int]) -> int:
    """Add the values of staged deliveries (pair -> how many) to ``values`` (value key
    -> how many), and return how many deliveries they are."""
    delivered = 0
    get = values.get
    for pair, n in pairs.items():
        delivered += n
        if pair != NO_VALUES:
            # The processing time's key is at most MAX_BUCKET (a cached small int); the
            # time to delivery's from its table: both the objects other writes use.
            key = pair >> PAIR_SHIFT
            values[key] = get(key, 0) + n
            key = TO_DELIVERY_KEYS[pair & 0xFF]
            values[key] = get(key, 0) + n
    return delivered
