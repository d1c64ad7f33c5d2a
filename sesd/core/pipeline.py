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

from bisect import bisect_left
from math import ceil as _ceil
from math import log2 as _log2
from typing import Final

import xxhash

from sesd.core.canary import CANARY_TAG
from sesd.core.decode import Event, decode_body
from sesd.core.dedup import body_key, event_key
from sesd.core.delay_ends import record_duration
from sesd.core.deliveries import delivered
from sesd.core.domains import OTHER, redact_address, shown_address
from sesd.core.events import EVENT_TYPE_INDEX, Invalid, Skipped
from sesd.core.housekeeping import EXPIRY_GRACE, evict_idle
from sesd.core.kept_slots import MAX_OTHERS, Domains, Kept, domains_of, with_provider
from sesd.core.ledger import Ledger
from sesd.core.recipients import never_sent, suppressed, undelivered
from sesd.core.reputation_senders import Senders
from sesd.core.results import DUPLICATE, PROCESSED, Result, invalid, no_email
from sesd.core.scopes import Slot
from sesd.core.settings import CoreSettings
from sesd.core.sketch import MAX_BUCKET, PER_OCTAVE
from sesd.core.tag_counts import count_event_tags, count_tags
from sesd.core.tallies import Outcome
from sesd.core.tenants import TenantNotice
from sesd.core.ungrouped import drop_groups, removed_groups
from sesd.core.windows.value_keys import NO_VALUES, PAIR_ROWS, pair_row

__all__ = ["EXPIRY_GRACE", "Pipeline", "Result"]

_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]
_BOUNCE: Final = EVENT_TYPE_INDEX["bounce"]
_COMPLAINT: Final = EVENT_TYPE_INDEX["complaint"]
#: The event types a suppression list can stand in for (see never_sent).
_SUPPRESSIBLE: Final = frozenset((_BOUNCE, _COMPLAINT))
_FOREVER: Final = float("inf")
#: Below this, a whole number of seconds is exact as a float.
_EXACT: Final = 2.0**52
#: A delivered recipient's pending key's digest (pending_key(), inline).
_xxh3: Final = xxhash.xxh3_64_intdigest


#: What a body decodes to when it holds no email event. Matched by exact type: a union
#: in the call is built again for every event, and isinstance() of a msgspec Struct
#: class that does not match takes Python's slow path (together 2,600 instructions an
#: event, 2% of the pipeline, counted under cachegrind).
_NOT_EMAIL: Final = (Skipped, TenantNotice)

#: Each recipient's slots, one per scope (None when it has no usable domain).
_Slots = list[tuple[Slot, ...] | None]


class Pipeline:
    """Decoding, duplicate suppression, domain labels, and every write into the ledger."""

    def __init__(self, settings: CoreSettings, ledger: Ledger | None = None) -> None:
        self.ledger = ledger if ledger is not None else Ledger(settings)
        self._tag_names = list(self.ledger.tag_tables)
        self._provider_slots: dict[str, Slot] = {}
        self._tenant_slots: dict[str, Slot] = {}
        self._tenant_tags = settings.tenant_tags
        # Normalised domain -> its label's slot, for admitted domains (not for those
        # counted under ``other``, so a flood of domains does not grow it). A recipient
        # whose domain is written in normal form finds it without normalising.
        self._labels: dict[str, Slot] = {}
        # Domain -> its slots while they hold (sesd.core.kept_slots): every admitted
        # domain's, and those counted under ``other`` while there are under MAX_OTHERS
        # entries. The provider cache drops a domain's entry when its answer changes or
        # leaves the cache or its lookup is abandoned; evictions and reloads drop them
        # here.
        self._kept: dict[str, Kept] = {}
        if self.ledger.providers is not None:
            self.ledger.providers.readers.append(self._kept)
        # Each sender's reputation windows, and an event's counting in them (one call).
        self._estimates = Senders(self.ledger.reputation, self.ledger.sender)
        self._reputation = self._estimates.observe
        # The polls' count of account ids named anew as senders were asked with (its
        # change: a label found reaching another account, and each sender asked again).
        self._reach = self.ledger.accounts.reach
        # What an invalid result may say of an address: its domain only, unless
        # [logging] log_recipients allows full addresses for debugging.
        self._show = shown_address if settings.log_recipients else redact_address
        # The bucket of the widest window ``now`` was last in, and the earliest event
        # time it holds then (_holds(): none yet). A ledger's layout is its for life (a
        # reload keeps it): a bucket's span holds while ``now`` is in it.
        self._now_from, self._now_to, self._earliest = _FOREVER, -_FOREVER, 0.0

    def reconfigure(self, settings: CoreSettings) -> None:
        """Take what a reload may change (:meth:`Ledger.reconfigure`); a group removed
        goes at once (sesd.core.ungrouped)."""
        gone = removed_groups(self.ledger.settings.groups, settings.groups, settings.track)
        senders = self.ledger.senders  # (each placed again below, idle or not)
        self.ledger.reconfigure(settings)
        drop_groups(self.ledger, gone)
        # Forget the resolved labels: a domain may now belong to a group. And where each
        # sender's mail is estimated: [[accounts]] and the queues' places may have moved.
        self._labels.clear()
        self._kept.clear()
        self._reach = self.ledger.accounts.reach  # (the polls' moves followed here too)
        self._estimates.moved(senders)

    # --- write side ------------------------------------------------------------

    def feed(
        self, body: bytes | str, queue: str, now: float, received_at: float | None = None
    ) -> Result:
        """Decode and apply one SQS message body. One delivered again (its delete failed)
        is a duplicate: an event by its identity (:meth:`apply`), another by its bytes."""
        decoded = decode_body(body)
        if type(decoded) in _NOT_EMAIL and self.ledger.dedup.seen(body_key(body), now):
            self.ledger.tallies.message(queue, Outcome.DUPLICATE)
            return DUPLICATE
        return self.apply(decoded, queue, now, received_at)

    def apply(
        self,
        decoded: Event | Skipped | Invalid | TenantNotice,
        queue: str,
        now: float,
        received_at: float | None = None,
    ) -> Result:
        """Apply one decoded body; counts the message under its outcome."""
        if not isinstance(decoded, Event):
            return no_email(self.ledger, decoded, queue, now)
        ledger = self.ledger
        event = decoded
        listed = event.recipients
        # Nine events in ten: a delivery to one recipient whose domain's slots are kept
        # and hold, counted by _delivered() without the lists and loops of the rest.
        kept = None
        if event.kind == _DELIVERY and len(listed) == 1:
            address = listed[0]
            at = address.rfind("@")
            kept = self._kept.get(address[at + 1 :] if at >= 0 else "")
        if kept is not None and kept[0] > now:
            domains, usable, unusable = None, 1, 0
        else:
            kept = None
            domains, unusable = domains_of(self._kept, self._labels, listed)
            usable = len(domains) - unusable
            if not usable:
                return self._unusable(queue, listed)
        # Remembered before it is applied: should applying it raise (a bug), what it
        # wrote before is not written again by SQS's redelivery, a duplicate then.
        if ledger.dedup.seen(event_key(event), now):
            ledger.tallies.message(queue, Outcome.DUPLICATE)
            return DUPLICATE
        tallies = ledger.tallies
        tallies.invalid_recipients += unusable
        kind = event.kind
        # The queue's counter list (one count a type: never empty): made by queue_counts()
        # once, then found without its two calls (every event).
        per_type = tallies.events.get(queue) or tallies.queue_counts(queue)
        per_type[kind] += 1
        canary = ledger.canary  # CanaryTracker.arrived(), inline (its call: 280 instructions)
        if queue == canary.queue:
            canary.last_event_at = now
        if CANARY_TAG in event.mail.tags or (canary.by_id and event.message_id in canary.by_id):
            # Canary mail goes to the mailbox simulator: it stays out of the domain windows.
            canary.observe(event, now if received_at is None else received_at)
            return PROCESSED[kind]
        # The time it counts at, and whether it is in the windows: inline, not a method
        # (with the tuple it returned, 1,280 instructions an event fewer, cachegrind).
        t = event.time
        if received_at is not None:
            self._lag(queue, received_at, t)
        t = now if t > now else t  # a clock ahead of ours is clamped to now (not min())
        # Late: its bucket has left every window (the same test the rings apply, so
        # every event counts in the windows or here, never in neither): the widest
        # window's WindowSpec.holds(), as one comparison with the earliest time held
        # while ``now`` stays in its bucket (_holds(): the two floor divisions of Unix
        # times cost 640 instructions an event more, counted under cachegrind).
        if self._now_from <= now < self._now_to:
            in_windows = t >= self._earliest
        else:
            in_windows = self._holds(t, now)
        if not in_windows:
            tallies.late_events += 1
        if domains is None:
            assert kept is not None
            self._delivered(event, queue, kept[1], t, now, in_windows)
        else:
            self._count(event, queue, domains, t, now, in_windows)
            count_event_tags(ledger, self._tag_names, event, usable, t, now, in_windows)
        return PROCESSED[kind]

    def _unusable(self, queue: str, listed: list[str]) -> Result:
        """No recipient with a usable domain: invalid, with (up to) three shown."""
        shown = ", ".join(self._show(address) for address in listed[:3])
        return invalid(
            self.ledger, queue, "no_usable_domain", f"no usable recipient domain: {shown}"
        )

    def _holds(self, t: float, now: float) -> bool:
        """The widest window's WindowSpec.holds(t, now). With a width of whole seconds,
        also the span of ``now``'s bucket and the earliest time held while ``now`` is in
        it, which :meth:`apply` compares instead: whole numbers below 2**52 are exact
        floats, so ``t // width > bucket - slots`` is exactly ``t >= earliest``."""
        widest = self.ledger.widest
        width, slots = widest.width, widest.slots
        bucket = now // width
        if width.is_integer() and abs(now) < _EXACT:
            self._now_from, self._now_to = bucket * width, (bucket + 1) * width
            self._earliest = (bucket - slots + 1) * width
        else:  # no span: each event comes here
            self._now_from, self._now_to = _FOREVER, -_FOREVER
        return t // width > bucket - slots

    def _lag(self, queue: str, received_at: float, t: float) -> None:
        """An event's lag, from its time ``t`` to its receive, and its receive's
        (:meth:`Tallies.received`)."""
        lag = received_at - t
        if lag < 0.0:  # SES's clock ahead of ours: no lag, not a negative one
            lag = 0.0
        tallies = self.ledger.tallies
        # FixedHistogram.observe(), inline (its call cost about 400 instructions an event).
        histogram = tallies.lag
        histogram.counts[bisect_left(histogram.bounds, lag)] += 1
        histogram.sum += lag
        tallies.received(queue, received_at, lag)

    def _count(
        self,
        event: Event,
        queue: str,
        domains: Domains,
        t: float,
        now: float,
        in_windows: bool,
    ) -> None:
        """An event of real traffic, in every recipient's scopes."""
        ledger = self.ledger
        tenant = self._tenant_slot(event, now) if ledger.by_tenant is not None else None
        if ledger.providers is not None:
            ledger.providers.latest = now  # as ProviderCache.provider() sets it
        last_seen = ledger.domains.last_seen
        # A loop, not a comprehension: in Python 3.11 a comprehension is a function made
        # (with its cells) and called, every event.
        recipients: _Slots = []
        for d in domains:
            if d is None:
                recipients.append(None)
                continue
            kept = d[1]
            if kept is not None and kept[0] > now:
                slots = kept[1]
                last_seen[slots[0].name] = now  # LabelTable.touch(), inline
            else:
                slots = self._slots(d[0], now)
            recipients.append(slots if tenant is None else (*slots, tenant))
        kind = event.kind
        if kind in _SUPPRESSIBLE and never_sent(event):
            # Never attempted: in no ratio nor estimate; a bounce is counted apart.
            if kind == _BOUNCE:
                suppressed(event, recipients, t, now, in_windows)
            return
        if self._reach != ledger.accounts.reach:  # a label's polls found another account
            self._follow_moves()
        self._reputation(event, queue, kind)
        if kind == _DELIVERY:
            delivered(ledger, event, recipients, t, now, in_windows)
        else:
            undelivered(ledger, event, recipients, domains, t, now, in_windows)

    def _delivered(
        self,
        event: Event,
        queue: str,
        slots: tuple[Slot, ...],
        t: float,
        now: float,
        in_windows: bool,
    ) -> None:
        """:meth:`_count` and its tags for a delivery to one recipient whose domain's kept
        ``slots`` hold (never a suppression list's): sesd.core.deliveries.delivered() for
        one recipient, written out (a call cost 350-600 instructions an event, cachegrind)."""
        ledger = self.ledger
        if ledger.by_tenant is not None:
            slots = (*slots, self._tenant_slot(event, now))
        if ledger.providers is not None:
            ledger.providers.latest = now
        ledger.domains.last_seen[slots[0].name] = now
        if self._reach != ledger.accounts.reach:  # as _count() follows it
            self._follow_moves()
        self._reputation(event, queue, _DELIVERY)
        delivery = event.ses.delivery
        assert delivery is not None
        processing_ms = delivery.processing_time_millis
        if processing_ms is None:
            pair = NO_VALUES
        else:
            # FixedHistogram.observe() and delivery_pair(), inline (their calls: 700).
            histogram, seconds = ledger.tallies.processing, processing_ms / 1000.0
            histogram.counts[bisect_left(histogram.bounds, seconds)] += 1
            histogram.sum += seconds
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
        # pending_key(), inline: with the domain in normal form (only such a domain's
        # slots are kept), recipient_key() is the address stripped and lower-cased,
        # whatever its local part. Nor did an earlier build key it otherwise
        # (legacy_pending_key() is None): only a delay that ended is left to record.
        key = f"{event.message_id}\0{event.recipients[0].strip().lower()}"
        resolved = ledger.pending.resolved(_xxh3(key.encode()), t, event.time)
        if resolved is not None:
            record_duration(ledger, slots, t, now, resolved[1])
        if self._tag_names:
            count_tags(ledger, self._tag_names, event, _DELIVERY, 1, t, now, in_windows)

    def _tenant_slot(self, event: Event, now: float) -> Slot:
        """The slot of the tenant an event's mail was sent for (sesd.core.tenant_map)."""
        ledger = self.ledger
        mail = event.mail
        name = ledger.tenant_map.of_mail(
            mail.tags, self._tenant_tags, mail.source_arn, event.config_set
        )
        label = ledger.tenant_labels.label(name, now)
        slot = self._tenant_slots.get(label)
        if slot is None:
            assert ledger.by_tenant is not None
            slot = self._tenant_slots[label] = ledger.by_tenant.slot(label)
        return slot

    def _slots(self, domain: str, now: float) -> tuple[Slot, ...]:
        """The slots of a recipient at a normalised domain but its tenant's, its domain
        label marked as seen at ``now``; kept while they hold (sesd.core.kept_slots)."""
        ledger = self.ledger
        found = self._labels.get(domain)
        other = False
        if found is not None:
            ledger.domains.last_seen[found.name] = now  # LabelTable.touch(), inline
        else:
            label = ledger.domains.label(domain, now)
            found = ledger.by_domain.slot(label)
            other = label == OTHER
            if not other:
                self._labels[domain] = found
        kept = with_provider(ledger, self._provider_slots, found, domain, now)
        # Under ``other``, kept while there are under MAX_OTHERS entries: a flood of
        # domains grows this map by that many, no more.
        if kept[0] > now and (not other or len(self._kept) < MAX_OTHERS):
            self._kept[domain] = kept
        return kept[1]

    def _follow_moves(self) -> None:
        """The polls moved where senders count: each is placed again, the places left
        go (the callers compare the reach inline: no call without a move)."""
        self._reach = self.ledger.accounts.reach
        self._estimates.moved(self.ledger.senders)

    # --- housekeeping ------------------------------------------------------------

    def housekeep(self, now: float) -> list[str]:
        """Follow a poll's move of senders that no event has followed yet; forget
        long-expired pending delays; evict idle domains and tag values
        (sesd.core.housekeeping), and what this pipeline kept of their labels.

        Returns the evicted domain labels (their series are gone from the tallies).
        """
        ledger = self.ledger
        if self._reach != ledger.accounts.reach:  # a poll's move, no event since
            self._follow_moves()
        evicted, tenants = evict_idle(ledger, now)
        if evicted:
            gone = set(evicted)
            self._labels = {d: s for d, s in self._labels.items() if s.name not in gone}
            kept = self._kept  # in place: the provider cache holds it too
            # (``other``'s too: a domain counted under it may be admitted now.)
            gone.add(OTHER)
            for domain in [d for d, (_, slots) in kept.items() if slots[0].name in gone]:
                del kept[domain]
        for label in tenants:
            self._tenant_slots.pop(label, None)
        return evicted
