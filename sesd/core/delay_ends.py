"""A pending delay's end: a Delivery or a Bounce of a recipient SES had delayed ends
its delay, and how long it lasted is observed in the recipient's windows, whichever
of the two SQS brought first (sesd.core.pending keeps the other). Pure code.
"""

from __future__ import annotations

from sesd.core.ledger import Ledger
from sesd.core.pending import Labels
from sesd.core.pending_keys import legacy_pending_key
from sesd.core.scopes import Slot

__all__ = ["end_delay", "record_duration"]


def end_delay(
    ledger: Ledger,
    message_id: str,
    address: str,
    slots: tuple[Slot, ...],
    t: float,
    now: float,
    resolved: tuple[Labels, float] | None,
) -> None:
    """A Delivery or Bounce at ``t`` ends the recipient's pending delay, if it had
    one: ``resolved``, what :meth:`PendingDelays.resolved` answered for its key (the
    Delivery or Bounce is remembered there, for a delay processed after it)."""
    if resolved is None and (not address.isascii() or address[-1:] == "."):
        # Its delay may have been recorded by an earlier build (a state file).
        legacy = legacy_pending_key(message_id, address)
        if legacy is not None:
            resolved = ledger.pending.resolved(legacy, t)
    if resolved is not None:
        record_duration(ledger, slots, t, now, resolved[1])


def record_duration(
    ledger: Ledger, slots: tuple[Slot, ...], at: float, now: float, seconds: float
) -> None:
    """A delay that ended at ``at`` (its Delivery or Bounce) lasted ``seconds``. The
    value counts at that time, or at the clock's if the clock has since stepped back
    (a time ahead of the clock counts at the clock's, as events do)."""
    at = min(at, now)
    if ledger.widest.holds(at, now):
        for slot in slots:
            slot.window().observe_delay_duration(at, now, seconds * 1000.0)
