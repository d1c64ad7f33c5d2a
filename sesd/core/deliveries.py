"""What a Delivery does to its recipients: counted in every scope's windows of each
(its slots), the time it took observed, and a recipient's pending delay ended and
timed (sesd.core.delay_ends). Pure code. Nine events in ten are a delivery to one
recipient at a domain whose slots are kept: the pipeline writes that one out itself
(sesd.core.pipeline.Pipeline._delivered), as :func:`delivered` would count it.
"""

from __future__ import annotations

from typing import Final

from sesd.core.decode import Event
from sesd.core.delay_ends import end_delay
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.ledger import Ledger
from sesd.core.pending_keys import pending_key
from sesd.core.scopes import Slot
from sesd.core.windows import delivery_pair

__all__ = ["delivered"]

_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]


def delivered(
    ledger: Ledger,
    event: Event,
    recipients: list[tuple[Slot, ...] | None],
    t: float,
    now: float,
    in_windows: bool,
) -> None:
    """A Delivery to its recipients (``recipients``: each one's slots, None for one not
    counted). sesd.core.pipeline.Pipeline._delivered holds a copy of what this writes
    for one recipient (held to this by tests/test_pipeline_delivery_reference.py and
    tests/test_pipeline_delivery_addresses.py): change both."""
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
        resolved = pending.resolved(pending_key(message_id, address), t, event.time)
        if resolved is not None or not address.isascii() or address[-1:] == ".":
            end_delay(ledger, message_id, address, slots, t, now, resolved)
