"""What each kind of event but a delivery (sesd.core.deliveries) does to its
recipients: a delay is counted by type and cause and becomes pending; a bounce ends a
delay (sesd.core.delay_ends) and, when soft, has a cause; a complaint is noted; a
suppression list's bounce is counted apart. Each writes into every scope's windows of
the recipient (its slots), through the ledger. Pure code.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Final

from sesd.core.causes import classify
from sesd.core.decode import Event
from sesd.core.delay_ends import end_delay, record_duration
from sesd.core.events import EVENT_TYPE_INDEX, BouncedRecipient, DelayedRecipient
from sesd.core.ledger import Ledger
from sesd.core.pending_keys import pending_key
from sesd.core.scopes import Slot
from sesd.core.tallies import BOUNCE_SUBTYPES, BOUNCE_TYPES, DELAY_TYPES, SUPPRESSED_SUBTYPES
from sesd.core.windows import Noted, noted

__all__ = [
    "bounced",
    "complained",
    "delayed",
    "never_sent",
    "suppressed",
    "undelivered",
]

_DELAY: Final = EVENT_TYPE_INDEX["delivery_delay"]
_BOUNCE: Final = EVENT_TYPE_INDEX["bounce"]
_COMPLAINT: Final = EVENT_TYPE_INDEX["complaint"]
_NAME: Final = operator.attrgetter("name")


def undelivered(
    ledger: Ledger,
    event: Event,
    recipients: list[tuple[Slot, ...] | None],
    domains: Sequence[tuple[str, object] | None],
    t: float,
    now: float,
    in_windows: bool,
) -> None:
    """An event of any type but a delivery (SES attempted it: no suppression list's),
    counted in each recipient's slots, then written as its type asks."""
    kind = event.kind
    # A problem recipient's windows are read as (slot.windows or slot.window()) here and
    # in delayed() and _note_recipient(), as a delivery's are: Slot.window()'s call is
    # made only while they are not yet made (about 500 instructions a write fewer).
    # A delay is counted in the windows by delayed(): once per recipient's delay.
    counted = in_windows and kind != _DELAY
    for slots in recipients:
        if slots is not None:
            for slot in slots:
                slot.counts[kind] += 1
                if counted:
                    (slot.windows or slot.window()).count(t, now, kind)
    if kind == _DELAY:
        delayed(ledger, event, recipients, domains, t, now, in_windows)
    elif kind == _BOUNCE:
        bounced(ledger, event, recipients, domains, t, now, in_windows)
    elif kind == _COMPLAINT and in_windows:
        complained(event, recipients, t, now)


def delayed(
    ledger: Ledger,
    event: Event,
    recipients: list[tuple[Slot, ...] | None],
    domains: Sequence[tuple[str, object] | None],
    t: float,
    now: float,
    in_windows: bool,
) -> None:
    delay = event.ses.delivery_delay
    assert delay is not None
    delay_type = delay.delay_type if delay.delay_type in DELAY_TYPES else "other"
    expires = event.expires
    message_id = event.message_id
    entries = event.entries
    assert entries is not None
    causes = ledger.tallies.causes
    for recipient, slots, domain in zip(entries, recipients, domains, strict=True):
        if slots is None or domain is None:
            continue
        found = classify(delay.delay_type, recipient.status, recipient.diagnostic_code)
        cause = found.cause
        causes[cause] = causes.get(cause, 0) + 1
        for slot in slots:
            slot.scope.delayed(slot.name, delay_type, cause)
        key = pending_key(message_id, recipient.email_address)
        # SES sends a DeliveryDelay at its retries: one delayed recipient is one in
        # the windows (ratios, min_events, causes), not one per retry. A retry still
        # refreshes what its text says (examples).
        again = ledger.pending.holds(key)
        if in_windows and not again:
            for slot in slots:
                (slot.windows or slot.window()).count(t, now, _DELAY)
        if expires is None or expires > now:
            # (Not a generator's tuple, nor slot.window() called when they are made:
            # about 800 instructions a delayed recipient fewer.)
            labels = tuple(map(_NAME, slots))
            for slot in slots:
                # A label is shown (its pending gauge, the status page) and stepped by
                # rules where it has windows: a late delay, in none, still pends.
                if slot.windows is None:
                    slot.window()
            ended = ledger.pending.delayed(key, labels, t, expires, event.time)
            if ended is not None:
                # Its Delivery or Bounce came first (SQS keeps no order): the delay is
                # over, and lasted until then.
                record_duration(ledger, slots, t + ended[1], now, ended[1])
        if in_windows:
            _note_recipient(
                ledger,
                event,
                slots,
                domain[0],
                recipient,
                t,
                now,
                mta=delay.reporting_mta,
                cause=cause,
                also=found.also,
                hinted=found.hinted,
                advised=found.advised,
                delay_type=delay.delay_type,
                count_cause=not again,
                examples_only=again,
            )


def bounced(
    ledger: Ledger,
    event: Event,
    recipients: list[tuple[Slot, ...] | None],
    domains: Sequence[tuple[str, object] | None],
    t: float,
    now: float,
    in_windows: bool,
) -> None:
    bounce = event.ses.bounce
    assert bounce is not None
    kind = (
        bounce.bounce_type if bounce.bounce_type in BOUNCE_TYPES else "other",
        bounce.bounce_sub_type if bounce.bounce_sub_type in BOUNCE_SUBTYPES else "other",
    )
    message_id = event.message_id
    entries = event.entries
    assert entries is not None
    # A soft (transient) bounce has a cause as a delay has; a hard one is final.
    soft = bounce.bounce_type == "Transient"
    causes = ledger.tallies.causes
    for recipient, slots, domain in zip(entries, recipients, domains, strict=True):
        if slots is None or domain is None:
            continue
        for slot in slots:
            slot.scope.bounced(slot.name, kind)
        cause = also = advised = ""
        hinted = False
        if soft:
            found = classify(None, recipient.status, recipient.diagnostic_code)
            cause, also, hinted, advised = found.cause, found.also, found.hinted, found.advised
            causes[cause] = causes.get(cause, 0) + 1
        address = recipient.email_address
        resolved = ledger.pending.resolved(pending_key(message_id, address), t, event.time)
        end_delay(ledger, message_id, address, slots, t, now, resolved)
        if in_windows:
            _note_recipient(
                ledger,
                event,
                slots,
                domain[0],
                recipient,
                t,
                now,
                mta=bounce.reporting_mta,
                cause=cause,
                also=also,
                hinted=hinted,
                advised=advised,
                delay=False,
            )


def _note_recipient(
    ledger: Ledger,
    event: Event,
    slots: tuple[Slot, ...],
    domain: str,
    recipient: DelayedRecipient | BouncedRecipient,
    t: float,
    now: float,
    *,
    mta: str,
    cause: str,
    also: str,
    hinted: bool,
    advised: str = "",
    delay_type: str = "",
    count_cause: bool = False,
    delay: bool = True,
    examples_only: bool = False,
) -> None:
    """What a delayed or bounced recipient's event said, cleaned once, in each of its
    slots' windows (with ``count_cause``, a delay's cause is counted too; ``also`` is
    its second cause; ``hinted``: only weak evidence decided it; a provider's windows
    also keep the domain; a bounce's codes are kept apart from a ``delay``'s;
    ``examples_only``: a retry of a delay counted already, whose texts alone are new)."""
    problem = noted(
        message_id=event.message_id,
        source=event.mail.source_arn,
        config_set=event.config_set,
        delay_type=delay_type,
        # Tuples, which noted() keys its memo with as they are (a list is copied).
        statuses=(recipient.status,),
        diagnostics=(recipient.diagnostic_code,),
        mta=mta,
        cause=cause,
        also=also,
        hinted=hinted,
        advised=advised,
        count_cause=count_cause,
        domain=domain,
        delay=delay,
    )
    if examples_only:
        problem = Noted(problem.examples, (), -1, None)
    for slot in slots:
        (slot.windows or slot.window()).note(
            t, now, problem, with_domain=slot.scope is not ledger.by_domain
        )


def complained(
    event: Event, recipients: list[tuple[Slot, ...] | None], t: float, now: float
) -> None:
    seen: set[Slot] = set()
    problem = noted(
        message_id=event.message_id,
        source=event.mail.source_arn,
        config_set=event.config_set,
        delay=False,
    )
    for slots in recipients:
        for slot in slots or ():
            if slot not in seen:
                seen.add(slot)
                slot.window().note(t, now, problem)


def suppressed(
    event: Event,
    recipients: list[tuple[Slot, ...] | None],
    t: float,
    now: float,
    in_windows: bool,
) -> None:
    """A Bounce of recipients a suppression list kept SES from sending to: counted by
    subtype in each scope, and in the windows apart from bounces (a rule may count
    them in a bounce ratio, ``include_suppressed``)."""
    bounce = event.ses.bounce
    assert bounce is not None
    subtype = bounce.bounce_sub_type
    for slots in recipients:
        for slot in slots or ():
            slot.scope.suppress(slot.name, subtype)
            if in_windows:
                slot.window().suppressed(t, now)


def never_sent(event: Event) -> bool:
    """Whether a Bounce or a Complaint is SES not sending to addresses a suppression
    list holds (AWS documents a Complaint's ``OnAccountSuppressionList`` subtype as
    "accepted the message, but didn't attempt to send it")."""
    ses = event.ses
    if ses.bounce is not None:
        return ses.bounce.bounce_sub_type in SUPPRESSED_SUBTYPES
    complaint = ses.complaint
    return complaint is not None and complaint.complaint_sub_type == "OnAccountSuppressionList"
