"""What the pipeline answers for one message (:class:`Result`), and the counting of a
body that holds no email event or is refused: a tenant notice, one skipped, one
invalid. Pure, as the rest of the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from sesd.core.events import EVENT_TYPE_INDEX, Invalid, Skipped
from sesd.core.ledger import Ledger
from sesd.core.tallies import Outcome
from sesd.core.tenants import TenantNotice
from sesd.core.timestamps import CLOCK_OFF

__all__ = ["DUPLICATE", "NOTICE", "PROCESSED", "Result", "invalid", "no_email"]


@dataclass(frozen=True, slots=True)
class Result:
    """What happened to one message: ``outcome`` is a ``sesd_messages_total`` label."""

    outcome: Outcome
    reason: str = ""
    detail: str = ""
    event_type: str = ""


#: Made once: most messages answer one of these.
PROCESSED: Final = [Result(Outcome.PROCESSED, event_type=name) for name in EVENT_TYPE_INDEX]
DUPLICATE: Final = Result(Outcome.DUPLICATE)
NOTICE: Final = Result(Outcome.PROCESSED, event_type="tenant_status")
#: A tenant event with [tenants] off: a reason of its own, so that one who routes
#: them to sesd and left tenants off sees why no pause is told of.
_UNUSED: Final = Skipped("tenants_off")


def no_email(
    ledger: Ledger, decoded: Skipped | Invalid | TenantNotice, queue: str, now: float
) -> Result:
    """Count a body from ``queue`` that holds no email event, by what it holds, read at
    ``now``."""
    if isinstance(decoded, TenantNotice) and not ledger.settings.tenants:
        # [tenants] off: no poll reads a tenant's status again nor forgets it, and no rule
        # reads it; what the event says would stand for the run (a pause lifted since).
        decoded = _UNUSED
    if isinstance(decoded, TenantNotice):
        if decoded.time > now + CLOCK_OFF:
            # Dated further ahead of sesd's clock than the two clocks may differ before
            # sesd says so (a clock gone wrong, a body made up): as of now, as an email
            # event is, else it outranks every poll until that date. Within it, SES's
            # own time: on a host a few seconds behind AWS, two of SES's events a moment
            # apart keep their order (SQS hands them out in any).
            decoded = msgspec.structs.replace(decoded, time=now)
        # What SES says of a tenant: rules read it at their next evaluation.
        ledger.tenant_status.apply(decoded)
        ledger.tallies.notices[queue] = ledger.tallies.notices.get(queue, 0) + 1
        return NOTICE
    if isinstance(decoded, Skipped):
        tallies = ledger.tallies
        tallies.message(queue, Outcome.SKIPPED)
        key = (queue, decoded.reason)
        tallies.skipped[key] = tallies.skipped.get(key, 0) + 1
        return Result(Outcome.SKIPPED, decoded.reason)
    return invalid(ledger, queue, decoded.reason, decoded.detail)


def invalid(ledger: Ledger, queue: str, reason: str, detail: str) -> Result:
    """Count a body from ``queue`` refused for ``reason``."""
    tallies = ledger.tallies
    tallies.message(queue, Outcome.INVALID)
    key = (queue, reason)
    tallies.invalid[key] = tallies.invalid.get(key, 0) + 1
    return Result(Outcome.INVALID, reason, detail)
