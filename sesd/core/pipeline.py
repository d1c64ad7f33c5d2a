"""The write path of the pure core: body -> event -> per-recipient facts -> the ledger.

:class:`Pipeline` writes every event into the stores of its
:class:`~sesd.core.ledger.Ledger`, which every reader (metrics, rules, the
state file, replay's report) reads. It never reads a clock: callers pass
``now`` (wall time in the daemon, event time in ``replay``) and, when known,
when the message was received.

Each recipient is counted in every scope (sesd.core.scopes): under its
domain's label and, with ``[providers]`` enabled, under its mailbox
provider's. The provider comes from the provider cache at once; a domain with
no answer yet counts as ``unknown``, and the cache notes it as wanted (the
DNS task looks it up beside the pipeline, never in it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sesd.core.causes import classify
from sesd.core.decode import Event, decode_body
from sesd.core.dedup import event_key
from sesd.core.domains import OTHER, domain_of, redact_address
from sesd.core.events import (
    EVENT_TYPE_INDEX,
    BouncedRecipient,
    DelayedRecipient,
    Invalid,
    Skipped,
)
from sesd.core.ledger import Ledger
from sesd.core.pending import pending_key
from sesd.core.scopes import Slot
from sesd.core.settings import CoreSettings
from sesd.core.sketch import bucket_of
from sesd.core.tallies import BOUNCE_SUBTYPES, BOUNCE_TYPES, DELAY_TYPES, Outcome
from sesd.core.windows import DomainWindows

__all__ = ["EXPIRY_GRACE", "Pipeline", "Result"]

_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]
_DELAY: Final = EVENT_TYPE_INDEX["delivery_delay"]
_BOUNCE: Final = EVENT_TYPE_INDEX["bounce"]
_COMPLAINT: Final = EVENT_TYPE_INDEX["complaint"]
_SEND: Final = EVENT_TYPE_INDEX["send"]
#: The event types the reputation estimate reads, by index.
_REPUTATION: Final = {
    _SEND: "send",
    _DELIVERY: "delivery",
    _BOUNCE: "bounce",
    _COMPLAINT: "complaint",
}
_CONFIG_SET_TAG: Final = "ses:configuration-set"
#: How long after its expiry a pending delay is forgotten for good, at least.
EXPIRY_GRACE: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Result:
    """What happened to one message: ``outcome`` is a ``sesd_messages_total`` label."""

    outcome: Outcome
    reason: str = ""
    detail: str = ""
    event_type: str = ""


_PROCESSED: Final = [Result(Outcome.PROCESSED, event_type=name) for name in EVENT_TYPE_INDEX]
_DUPLICATE: Final = Result(Outcome.DUPLICATE)

#: Each recipient's normalised domain and, when that domain as written is known, its
#: slot; None when it has no usable domain.
_Domains = list[tuple[str, Slot | None] | None]
#: Each recipient's slots, one per scope (None when it has no usable domain).
_Slots = list[tuple[Slot, ...] | None]


class Pipeline:
    """Decoding, duplicate suppression, domain labels, and every write into the ledger."""

    def __init__(self, settings: CoreSettings, ledger: Ledger | None = None) -> None:
        self.ledger = ledger if ledger is not None else Ledger(settings)
        self._tag_names = list(self.ledger.tag_tables)
        self._provider_slots: dict[str, Slot] = {}
        # Normalised domain -> its label's slot, for admitted domains (not for those
        # counted under ``other``, so a flood of domains does not grow it). A recipient
        # whose domain is written in normal form finds it without normalising.
        self._labels: dict[str, Slot] = {}
        # What an invalid result may say of an address: its domain only, unless
        # [logging] log_recipients allows full addresses for debugging.
        self._show = str if settings.log_recipients else redact_address

    def reconfigure(self, settings: CoreSettings) -> None:
        """Take what a reload may change (:meth:`Ledger.reconfigure`)."""
        self.ledger.reconfigure(settings)
        # Forget the resolved labels: a domain may now belong to a group.
        self._labels.clear()

    # --- write side ------------------------------------------------------------

    def feed(
        self, body: bytes | str, queue: str, now: float, received_at: float | None = None
    ) -> Result:
        """Decode and apply one SQS message body."""
        return self.apply(decode_body(body), queue, now, received_at)

    def apply(
        self,
        decoded: Event | Skipped | Invalid,
        queue: str,
        now: float,
        received_at: float | None = None,
    ) -> Result:
        """Apply one decoded body; counts the message under its outcome."""
        ledger = self.ledger
        if not isinstance(decoded, Event):
            if isinstance(decoded, Skipped):
                ledger.tallies.message(queue, Outcome.SKIPPED)
                return Result(Outcome.SKIPPED, decoded.reason)
            return self._invalid(queue, decoded.reason, decoded.detail)
        event = decoded
        domains = self._domains(event.recipients)
        usable = len(domains) - domains.count(None)
        if not usable:
            shown = ", ".join(self._show(address) for address in event.recipients[:3])
            return self._invalid(queue, "no_usable_domain", f"no usable recipient domain: {shown}")
        if ledger.dedup.seen(event_key(event), now):
            ledger.tallies.message(queue, Outcome.DUPLICATE)
            return _DUPLICATE
        ledger.tallies.invalid_recipients += len(domains) - usable
        kind = event.kind
        ledger.tallies.queue_counts(queue)[kind] += 1
        canary = ledger.canary
        canary.saw_queue(queue, now)
        if canary.owns(event):
            # Canary mail goes to the mailbox simulator: it stays out of the domain windows.
            canary.observe(event, now if received_at is None else received_at)
            return _PROCESSED[kind]
        t, in_windows = self._when(event, now, received_at)
        self._count(event, queue, domains, t, now, in_windows)
        if self._tag_names:
            self._tags(event, kind, usable, t, now, in_windows)
        return _PROCESSED[kind]

    def _domains(self, recipients: list[str]) -> _Domains:
        known = self._labels
        domains: _Domains = []
        for address in recipients:
            at = address.rfind("@")
            written = address[at + 1 :] if at >= 0 else ""
            found = known.get(written)
            if found is not None:
                domains.append((written, found))
            else:
                domain = domain_of(address)
                domains.append(None if domain is None else (domain, None))
        return domains

    def _when(self, event: Event, now: float, received_at: float | None) -> tuple[float, bool]:
        """The time an event of real traffic counts at, and whether it is in the windows
        (its lag and lateness counted)."""
        tallies = self.ledger.tallies
        t = event.time
        if received_at is not None:
            tallies.lag.observe(max(0.0, received_at - t))
        t = min(t, now)  # a clock ahead of ours is clamped to now
        # Late: its bucket has left every window (the same test the rings apply, so
        # every event counts in the windows or here, never in neither).
        in_windows = self.ledger.widest.holds(t, now)
        if not in_windows:
            tallies.late_events += 1
        return t, in_windows

    def _count(
        self,
        event: Event,
        queue: str,
        domains: _Domains,
        t: float,
        now: float,
        in_windows: bool,
    ) -> None:
        """An event of real traffic, in every recipient's scopes."""
        recipients: _Slots = [None if d is None else self._slots(d[0], d[1], now) for d in domains]
        kind = event.kind
        watched = _REPUTATION.get(kind)
        if watched is not None:
            self._reputation(event, queue, watched)
        if kind == _DELIVERY:
            self._delivery(event, recipients, t, now, in_windows)
            return
        for slots in recipients:
            if slots is not None:
                for slot in slots:
                    slot.counts[kind] += 1
                    if in_windows:
                        slot.window().count(t, now, kind)
        if kind == _DELAY:
            self._delay(event, recipients, domains, t, now, in_windows)
        elif kind == _BOUNCE:
            self._bounce(event, recipients, domains, t, now, in_windows)
        elif kind == _COMPLAINT and in_windows:
            self._note(event, recipients, t, now)

    def _reputation(self, event: Event, queue: str, watched: str) -> None:
        account, region = self.ledger.where(queue)
        bounce = event.ses.bounce
        hard = bounce is not None and bounce.bounce_type == "Permanent"
        self.ledger.reputation.observe(
            account, region, _config_set(event), watched, event.recipients, hard
        )

    def _invalid(self, queue: str, reason: str, detail: str) -> Result:
        tallies = self.ledger.tallies
        tallies.message(queue, Outcome.INVALID)
        key = (queue, reason)
        tallies.invalid[key] = tallies.invalid.get(key, 0) + 1
        return Result(Outcome.INVALID, reason, detail)

    def _slots(self, domain: str, found: Slot | None, now: float) -> tuple[Slot, ...]:
        """The slots of a recipient at a normalised domain (``found``: its domain slot,
        if known already), its domain label marked as seen at ``now``."""
        ledger = self.ledger
        if found is None:
            found = self._labels.get(domain)
        if found is not None:
            ledger.domains.touch(found.name, now)
        else:
            label = ledger.domains.label(domain, now)
            found = ledger.by_domain.slot(label)
            if label != OTHER:
                self._labels[domain] = found
        providers = ledger.providers
        if providers is None:
            return (found,)
        provider = providers.provider(domain, now)
        slot = self._provider_slots.get(provider)
        if slot is None:
            assert ledger.by_provider is not None
            slot = self._provider_slots[provider] = ledger.by_provider.slot(provider)
        return (found, slot)

    def _delivery(
        self,
        event: Event,
        recipients: list[tuple[Slot, ...] | None],
        t: float,
        now: float,
        in_windows: bool,
    ) -> None:
        delivery = event.ses.delivery
        assert delivery is not None
        processing_ms = delivery.processing_time_millis
        processing = to_delivery = -1  # sketch buckets, for the windows
        if processing_ms is not None:
            self.ledger.tallies.processing.observe(processing_ms / 1000.0)
            processing = bucket_of(processing_ms)
            to_delivery = bucket_of(max(0.0, (event.time - event.sent) * 1000.0))
        for i, slots in enumerate(recipients):
            if slots is None:
                continue
            for slot in slots:
                slot.counts[_DELIVERY] += 1
                if in_windows:
                    slot.window().delivered(t, now, processing, to_delivery)
            self._end_delay(event.message_id, event.recipients[i], slots, t, now)

    def _end_delay(
        self, message_id: str, address: str, slots: tuple[Slot, ...], t: float, now: float
    ) -> None:
        """A Delivery or Bounce at ``t`` ends the recipient's pending delay, if it had
        one (and is remembered, for a delay processed after it)."""
        resolved = self.ledger.pending.resolved(pending_key(message_id, address), t)
        if resolved is not None:
            self._record_duration(slots, t, now, resolved[1])

    def _record_duration(
        self, slots: tuple[Slot, ...], at: float, now: float, seconds: float
    ) -> None:
        """A delay that ended at ``at`` (its Delivery or Bounce) lasted ``seconds``. The
        value counts at that time, or at the clock's if the clock has since stepped back
        (a time ahead of the clock counts at the clock's, as events do)."""
        at = min(at, now)
        if self.ledger.widest.holds(at, now):
            for slot in slots:
                slot.window().observe_delay_duration(at, now, seconds * 1000.0)

    def _delay(
        self,
        event: Event,
        recipients: list[tuple[Slot, ...] | None],
        domains: list[tuple[str, Slot | None] | None],
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
        causes = self.ledger.tallies.causes
        for recipient, slots, domain in zip(entries, recipients, domains, strict=True):
            if slots is None or domain is None:
                continue
            found = classify(delay.delay_type, recipient.status, recipient.diagnostic_code)
            cause = found.cause
            causes[cause] = causes.get(cause, 0) + 1
            for slot in slots:
                slot.scope.delayed(slot.name, delay_type, cause)
            if expires is None or expires > now:
                key = pending_key(message_id, recipient.email_address)
                labels = tuple(slot.name for slot in slots)
                ended = self.ledger.pending.delayed(key, labels, t, expires)
                if ended is not None:
                    # Its Delivery or Bounce came first (SQS keeps no order): the delay is
                    # over, and lasted until then.
                    self._record_duration(slots, t + ended[1], now, ended[1])
            if in_windows:
                self._note_recipient(
                    event,
                    slots,
                    domain[0],
                    recipient,
                    t,
                    now,
                    mta=delay.reporting_mta,
                    cause=cause,
                    also=found.also,
                    delay_type=delay.delay_type,
                    count_cause=True,
                )

    def _bounce(
        self,
        event: Event,
        recipients: list[tuple[Slot, ...] | None],
        domains: list[tuple[str, Slot | None] | None],
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
        causes = self.ledger.tallies.causes
        for recipient, slots, domain in zip(entries, recipients, domains, strict=True):
            if slots is None or domain is None:
                continue
            for slot in slots:
                slot.scope.bounced(slot.name, kind)
            cause = also = ""
            if soft:
                found = classify(None, recipient.status, recipient.diagnostic_code)
                cause, also = found.cause, found.also
                causes[cause] = causes.get(cause, 0) + 1
            self._end_delay(message_id, recipient.email_address, slots, t, now)
            if in_windows:
                self._note_recipient(
                    event,
                    slots,
                    domain[0],
                    recipient,
                    t,
                    now,
                    mta=bounce.reporting_mta,
                    cause=cause,
                    also=also,
                )

    def _note_recipient(
        self,
        event: Event,
        slots: tuple[Slot, ...],
        domain: str,
        recipient: DelayedRecipient | BouncedRecipient,
        t: float,
        now: float,
        *,
        mta: str,
        cause: str,
        also: str = "",
        delay_type: str = "",
        count_cause: bool = False,
    ) -> None:
        """What a delayed or bounced recipient's event said, in each of its slots'
        windows (with ``count_cause``, a delay's cause is counted too; ``also`` is its
        second cause; a provider's windows also keep the domain)."""
        for slot in slots:
            slot.window().note_problem(
                t,
                now,
                message_id=event.message_id,
                source=event.mail.source_arn,
                config_set=_config_set(event),
                delay_type=delay_type,
                statuses=[recipient.status],
                diagnostics=[recipient.diagnostic_code],
                mta=mta,
                cause=cause,
                also=also,
                count_cause=count_cause,
                domain="" if slot.scope is self.ledger.by_domain else domain,
            )

    def _note(
        self, event: Event, recipients: list[tuple[Slot, ...] | None], t: float, now: float
    ) -> None:
        seen: set[Slot] = set()
        for slots in recipients:
            for slot in slots or ():
                if slot not in seen:
                    seen.add(slot)
                    slot.window().note_problem(
                        t,
                        now,
                        message_id=event.message_id,
                        source=event.mail.source_arn,
                        config_set=_config_set(event),
                    )

    def _tags(
        self, event: Event, type_index: int, n: int, t: float, now: float, in_windows: bool
    ) -> None:
        ledger = self.ledger
        tags = event.mail.tags
        for tag in self._tag_names:
            for value in dict.fromkeys(tags.get(tag, ())):
                label = ledger.tag_tables[tag].label(value, now)
                ledger.tallies.tag_counts(tag, label)[type_index] += n
                if in_windows:
                    key = (tag, label)
                    windows = ledger.tag_windows.get(key)
                    if windows is None:
                        windows = ledger.tag_windows[key] = DomainWindows(ledger.specs)
                    windows.count(t, now, type_index, n)

    # --- housekeeping ------------------------------------------------------------

    def housekeep(self, now: float) -> list[str]:
        """Forget long-expired pending delays; evict idle domains and tag values.

        Returns the evicted domain labels (their series are gone from the tallies).
        """
        ledger = self.ledger
        # Expired delays stop counting at once (PendingDelays.count); they are forgotten
        # for good only a while later, so a clock that stepped ahead loses nothing.
        ledger.pending.expire(now - max(ledger.horizon, EXPIRY_GRACE))
        evicted = ledger.domains.evict_idle(now)
        if evicted:
            gone = set(evicted)
            self._labels = {d: s for d, s in self._labels.items() if s.name not in gone}
        for label in evicted:
            ledger.by_domain.forget(label)
            ledger.pending.drop_label(label)
        for tag, table in ledger.tag_tables.items():
            for value in table.evict_idle(now):
                ledger.tag_windows.pop((tag, value), None)
                ledger.tallies.tag_recipients.pop((tag, value), None)
        return evicted


def _config_set(event: Event) -> str:
    values = event.mail.tags.get(_CONFIG_SET_TAG)
    return values[0] if values else ""
