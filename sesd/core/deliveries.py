"""What a Delivery does to its recipients: counted in every scope's windows of each
(its slots), the time it took observed, and a recipient's pending delay ended and
timed (sesd.core.delay_ends). The write path's busiest step: nine events in ten are
a delivery to one recipient (:func:`delivered_one`). Pure code.
"""

from __future__ import annotations

from bisect import bisect_left
from math import ceil as _ceil
from math import log2 as _log2
from typing import Final

import xxhash

from sesd.core.decode import Event
from sesd.core.delay_ends import end_delay, record_duration
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.ledger import Ledger
from sesd.core.pending_keys import pending_key
from sesd.core.scopes import Slot
from sesd.core.sketch import MAX_BUCKET, PER_OCTAVE
from sesd.core.windows import delivery_pair
from sesd.core.windows.value_keys import NO_VALUES, PAIR_ROWS, pair_row

__all__ = ["delivered", "delivered_one"]

_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]
#: pending_key()'s digest.
_xxh3: Final = xxhash.xxh3_64_intdigest


def delivered(
    ledger: Ledger,
    event: Event,
    recipients: list[tuple[Slot, ...] | None],
    t: float,
    now: float,
    in_windows: bool,
) -> None:
    """A Delivery to its recipients (``recipients``: each one's slots, None for one not
    counted)."""
    delivery = event.ses.delivery
    assert delivery is not None
    processing_ms = delivery.processing_time_millis
    if processing_ms is not None:
        ledger.tallies.processing.observe(processing_ms / 1000.0)
    # A delivery dated before its send (a clock's step) counts in the sketch's lowest
    # bucket, as any time of 1 ms and below does.
    pair = delivery_pair(processing_ms, (event.time - event.sent) * 1000.0)
    message_id, addresses, pending = event.message_id, event.recipients, ledger.pending
    for i, slots in enumerate(recipients):
        if slots is None:
            continue
        for slot in slots:
            slot.counts[_DELIVERY] += 1
            if in_windows:
                (slot.windows or slot.window()).delivered(t, now, pair)
        # The pending delay's end asked here, and end_delay() called only when it has
        # something to do (a delay ended; an address an earlier build keyed otherwise):
        # nearly every delivered recipient had no delay, and the call cost about 440
        # instructions an event (counted under cachegrind, BENCHMARKS.md section 8).
        address = addresses[i]
        resolved = pending.resolved(pending_key(message_id, address), t)
        if resolved is not None or not address.isascii() or address[-1:] == ".":
            end_delay(ledger, message_id, address, slots, t, now, resolved)


def delivered_one(
    ledger: Ledger, event: Event, slots: tuple[Slot, ...], t: float, now: float, in_windows: bool
) -> None:
    """:func:`delivered` for a delivery to one recipient (nine events in ten), its
    slots given: without the list of each recipient's slots and its loop. Its domain,
    as the address writes it, is in normal form (only such a domain's slots are kept)."""
    delivery = event.ses.delivery
    assert delivery is not None
    processing_ms = delivery.processing_time_millis
    if processing_ms is None:
        pair = NO_VALUES
    else:
        # Histogram.observe(), inline (its call cost about 300 instructions an event).
        histogram, seconds = ledger.tallies.processing, processing_ms / 1000.0
        histogram.counts[bisect_left(histogram.bounds, seconds)] += 1
        histogram.sum += seconds
        # delivery_pair(), inline likewise (its call cost about 400).
        bucket = 0 if processing_ms <= 1.0 else _ceil(_log2(processing_ms) * PER_OCTAVE)
        bucket = bucket if bucket < MAX_BUCKET else MAX_BUCKET
        row = PAIR_ROWS[bucket] or pair_row(bucket)
        to_delivery_ms = (event.time - event.sent) * 1000.0
        bucket = 0 if to_delivery_ms <= 1.0 else _ceil(_log2(to_delivery_ms) * PER_OCTAVE)
        pair = row[bucket if bucket < MAX_BUCKET else MAX_BUCKET]
    for slot in slots:
        slot.counts[_DELIVERY] += 1
        if in_windows:
            (slot.windows or slot.window()).delivered(t, now, pair)
    # pending_key(), inline (its call cost about 400 instructions an event): with the
    # domain in normal form, recipient_key() is the address stripped and lower-cased,
    # whatever its local part. Nor did an earlier build key it otherwise
    # (legacy_pending_key() is None): only a delay that ended is left to record.
    key = f"{event.message_id}\0{event.recipients[0].strip().lower()}"
    resolved = ledger.pending.resolved(_xxh3(key.encode()), t)
    if resolved is not None:
        record_duration(ledger, slots, t, now, resolved[1])
