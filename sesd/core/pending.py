"""Recipients delayed now: a DeliveryDelay seen, no Delivery or Bounce yet.

A recipient is pending from its first DeliveryDelay until a Delivery or Bounce
for the same SES message and address with a later (or equal) event time, or
until the delay's ``expirationTime``, when SES gives up, and never longer than
``LONGEST_DELAY`` after its first delay (however many retries follow). SQS does not keep
order: a Delivery processed before the recipient's DeliveryDelay still
resolves it, because recent resolutions are remembered (two generations,
bounded like the pending table).

Counting is a pure function of time: :meth:`PendingDelays.count` counts the
entries whose expiry is after ``now``, so reading at a clock that jumped
ahead and came back loses nothing. Entries are removed for good only by
:meth:`PendingDelays.expire`, which the caller runs well behind the clock (and a
full table at a new delay's event time, for as few expired longest as make room); one
whose delay ran the whole ``LONGEST_DELAY`` is remembered a while after (bounded as
the resolutions are, and saved with them), so that a retry then is not a new delay.

Keys are hashes of (message id, address) (sesd.core.pending_keys), so no address
is held. Memory is bounded by ``max_entries``, of which one domain label holds three
quarters at most; a recipient whose first delay finds the table (or its domain's share) full of
delays not expired at its time is not held, counted once in :attr:`overflow` and
remembered as one given up on is (its first delay's time): SES's retries of it are
retries, not new delayed recipients, and a retry once the table has room holds it
from that first delay.
Each entry carries one label per scope (its domain's, its provider's: see
sesd.core.scopes), and is counted under each. A step of the host's clock ahead moves
the latest a delay dated on it pends, the first time of one given up on dated on it,
and each Delivery or Bounce remembered dated on it (:meth:`PendingDelays.stepped`).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Collection
from typing import Any, Final

from sesd.core.events import LONGEST_DELAY
from sesd.core.pending_file import UNKNOWN, restore_into, snapshot_of
from sesd.core.pending_forget import drop_labels, expire, give_up, unmoved
from sesd.core.pending_ses import ended_after, held, remembered
from sesd.core.pending_steps import held_to, retried, stepped
from sesd.core.refusals import RecentRefusals

__all__ = ["DEFAULT_EXPIRY", "UNKNOWN", "Labels", "PendingDelays"]

#: One label per scope: the domain's, then (with providers) the provider's.
Labels = tuple[str, ...]
#: When a delay carries no expirationTime: as long as SES ever tries, with a margin.
DEFAULT_EXPIRY: Final = LONGEST_DELAY
_NEVER: Final = float("inf")


class PendingDelays:
    """Delayed recipients per label, with expiry in event time."""

    __slots__ = (
        "_counted",
        "_credits",
        "_credits_before",
        "_entries",
        "_expiries",
        "_gave_up",
        "_gave_up_before",
        "_generation",
        "_heap",
        "_moved",
        "_resolved",
        "_resolved_before",
        "_ses",
        "_ses_before",
        "_share",
        "max_entries",
        "overflow",
        "refused",
        "scopes",
    )

    def __init__(self, max_entries: int, scopes: int = 1) -> None:
        self.max_entries = max_entries
        self.scopes = scopes
        # key -> (a label per scope, since, expires)
        self._entries: dict[int, tuple[Labels, float, float]] = {}
        # (scope, label) -> its entries' expiries, sorted
        self._expiries: dict[tuple[int, str], list[float]] = {}
        self._heap: list[tuple[float, int]] = []  # (expires, key), for expire()
        # How far steps of the clock ahead moved the latest a recipient pends
        # (LONGEST_DELAY after its first delay: :meth:`stepped`), for those moved alone:
        # of those pending and of those given up on (their first time is that clock's).
        # Below none: a step back's, against the next step ahead (moving nothing).
        self._moved: dict[int, float] = {}
        # Recent resolutions (key -> event time of the Delivery or Bounce), in two
        # generations of up to max_entries / 2 keys each.
        self._resolved: dict[int, float] = {}
        self._resolved_before: dict[int, float] = {}
        # Of each generation, how far steps back since moved the clock behind those
        # remembered then (index past the last of them, seconds), against the next
        # step ahead (sesd.core.pending_steps.stepped); saved with them.
        self._credits: list[tuple[int, float]] = []
        self._credits_before: list[tuple[int, float]] = []
        # SES's own time of those remembered from ahead of the clock (key -> time, a
        # day ahead at most: sesd.core.pending_ses); none but on a clock behind SES's.
        # In the resolutions' two generations, the older one's dropped with it.
        self._ses: dict[int, float] = {}
        self._ses_before: dict[int, float] = {}
        # Resolutions that already ended a delay (its duration was recorded): another
        # DeliveryDelay of the same episode (SES sends one at each retry) arriving
        # after them is over, and is not timed a second time. Cleared with the
        # resolutions' older generation.
        self._counted: set[int] = set()
        # Recipients whose delay ran to LONGEST_DELAY after its first and was then
        # forgotten by expire(), and those the full table refused (key -> that first
        # delay's time), in two generations as the resolutions: a retry after that is
        # no new delay of 16 h more, nor (a refused one's) a new delayed recipient.
        self._gave_up: dict[int, float] = {}
        self._gave_up_before: dict[int, float] = {}
        self._generation = max(1, max_entries // 2)
        # The most one domain label may hold: a flood of delays at one domain (a
        # provider deferring a mailing) leaves a quarter of the table to the others.
        self._share = max_entries - max_entries // 4
        self.overflow = 0
        #: Those of :attr:`overflow` first delayed lately (the status page's note).
        self.refused = RecentRefusals()

    def delayed(
        self, key: int, labels: Labels, t: float, expires: float | None, ses: float = -_NEVER
    ) -> tuple[Labels, float] | None:
        """A DeliveryDelay for a recipient (``labels``: one per scope) at event time
        ``t`` (SES's ``ses``, from ahead of the clock). Returns (labels, seconds delayed)
        when a Delivery or Bounce at or after ``t`` (or as SES dated them) was already
        seen (the delay is over: nothing is pending) and no other delay of the
        recipient was timed by it, else None."""
        before = ended_after(self, key, t, ses)
        if before is not None:
            return self._over(key, labels, *before)
        found = self._entries.get(key)
        if found is not None:
            # Another delay for the same recipient: the first time, the latest expiry,
            # but never past LONGEST_DELAY after the first time (as restore bounds it):
            # a retry's own 16 h would otherwise extend it for as long as retries come.
            labels, since, was = found
            since = since if t >= since else retried(self, key, since, t)
            until = min(max(was, t + DEFAULT_EXPIRY if expires is None else expires),
                        self._last(key, since))  # fmt: skip
            self._entries[key] = (labels, since, until)
            if until == was:
                return None
            self._unlist(labels, was)
            self._list(labels, until)
            expires = until
        else:
            # The decoder bounds expirationTime by the event's own time; ``t`` may be
            # the clock's, earlier (an event from ahead of it): bounded from ``t``.
            # A recipient whose delay ran its 16 h and was forgotten, or one the full
            # table refused: from its first.
            since = t
            first = self._first_of(key) if self._gave_up or self._gave_up_before else None
            if first is not None:
                since = retried(self, key, first, t)
            # Delays past their expiry at ``t`` (an event's time: never ahead of SES's)
            # pend no more: those expired longest make room (no more than needed: SES's
            # Bounce at the expiry of the others may be on its way, a retry of one late),
            # none when the domain's share is full of delays still pending.
            held = self._expiries.get((0, labels[0]))
            full = len(self._entries) >= self.max_entries
            if (full or (held is not None and len(held) >= self._share)) and (
                held is None or len(held) < self._share or held[0] <= t
            ):
                self.expire(t, room=labels[0])
                held = self._expiries.get((0, labels[0]))
                full = len(self._entries) >= self.max_entries
            if full or (held is not None and len(held) >= self._share):
                if first is None:  # one recipient not held, however often SES retries
                    self.overflow += 1
                    self.refused.add(since)
                if first is None or t < first:
                    give_up(self, key, since)
                return None
            until = since + LONGEST_DELAY if first is None else self._last(key, since)
            if until <= t:
                return None  # SES gave up on it before this retry: not pending again
            expires = until if expires is None or expires > until else expires
            self._entries[key] = (labels, since, expires)
            self._list(labels, expires)
        heapq.heappush(self._heap, (expires, key))
        if len(self._heap) > 2 * len(self._entries) + 1024:
            self._heap = [(e[2], k) for k, e in self._entries.items()]
            heapq.heapify(self._heap)
        return None

    def _over(
        self, key: int, labels: Labels, t: float, ended: float
    ) -> tuple[Labels, float] | None:
        """A delay at ``t`` of a recipient whose Delivery or Bounce at ``ended`` was seen."""
        if key in self._counted:
            return None  # over, and timed already (from its earliest delay seen)
        if (self._gave_up or self._gave_up_before) and self._first_of(key) is not None:
            # A retry of one the full table refused (or whose 16 h ran out) that SQS
            # brought after its end: not timed from it (a delay began earlier), as the
            # recipient, not pending then, was not at its end.
            return None
        self._counted.add(key)
        return labels, ended - t

    def holds(self, key: int) -> bool:
        """Whether a recipient is pending, or was until SES gave up on it, or was
        delayed when the table was full: a delay of it now is a retry, not one more
        delayed recipient (a pure read)."""
        if key in self._entries:
            return True
        return bool(self._gave_up or self._gave_up_before) and self._first_of(key) is not None

    def resolved(self, key: int, t: float, ses: float = -_NEVER) -> tuple[Labels, float] | None:
        """A Delivery or Bounce for a recipient at event time ``t`` (SES's ``ses``, from
        ahead of the clock): returns (labels, seconds delayed) if it was pending since no
        later than ``t``, or since a time on a clock steps back have since set behind it
        (:meth:`stepped`); timed from its first time as steps of the clock moved it."""
        # Remembered (as _remember() does, inline: nearly every recipient comes here).
        resolved = self._resolved
        known = resolved.get(key)
        if known is None or known < t:
            resolved[key] = t
        if ses > t or self._ses_before:
            remembered(self, key, t, ses)
        if len(resolved) >= self._generation:
            self._next_generation()
        found = self._entries.get(key)
        if found is None:
            return None
        if found[1] > t and not (self._moved and found[1] + self._moved.get(key, 0.0) <= t):
            # Before its delay, but for one dated before a step of the clock back that
            # this Delivery is dated after (on the clock behind, from ahead of it).
            return None
        labels, since, expires = found
        del self._entries[key]
        self._unlist(labels, expires)
        self._counted.add(key)
        if self._moved:
            moved = self._moved.get(key)
            if moved is not None:
                unmoved(self, key)
                # Its first time was dated on a clock that steps ahead have since moved
                # (the bound with it): timed from where they put it, not the step longer.
                # A Delivery dated before that shows it began earlier: no length known
                # but that it is short, counted as none rather than the step. One dated
                # before its delay after a step back: timed across the step.
                if moved > 0 or t < since:
                    return labels, max(0.0, t - since - moved)
        return labels, t - since

    def _remember(self, key: int, t: float) -> None:
        resolved = self._resolved
        known = resolved.get(key)
        if known is None or known < t:
            resolved[key] = t
        if self._ses_before:
            remembered(self, key, t, t)
        if len(resolved) >= self._generation:
            self._next_generation()

    def _next_generation(self) -> None:
        """The resolutions remembered so far become the older generation, and SES's
        times of them with them: the older generation's go, none walked (a walk held
        the event loop 17-50 ms a generation on a clock behind SES's)."""
        resolved = self._resolved
        self._resolved_before, self._credits_before = resolved, self._credits
        self._resolved, self._credits = {}, []
        self._counted &= resolved.keys()  # the older generation's are forgotten
        self._ses_before, self._ses = self._ses, {}

    def count(self, label: str, now: float, scope: int = 0) -> int:
        """Recipients of ``label`` (in scope ``scope``) delayed at ``now`` (whose delay
        has not expired)."""
        expiries = self._expiries.get((scope, label))
        if not expiries:
            return 0
        return len(expiries) - bisect.bisect_right(expiries, now)

    def counts(self, now: float, scope: int = 0) -> dict[str, int]:
        """Pending recipients per label of scope ``scope`` at ``now``."""
        return {
            label: self.count(label, now, scope)
            for index, label in self._expiries
            if index == scope
        }

    def next_expiry(self, after: float) -> float:
        """The earliest expiry later than ``after`` of a recipient still held: when a
        count drops next, with no event meanwhile (inf: never). A pure read."""
        return min((e[2] for e in self._entries.values() if e[2] > after), default=_NEVER)

    def expire(self, before: float, room: str | None = None) -> int:
        """Forget for good the delays that expired at or before ``before`` (run it well
        behind the clock: a clock that stepped ahead then back loses nothing); with
        ``room`` (a domain label), only those expired longest that make room for one
        more delay of it, in the table and in its share (sesd.core.pending_forget)."""
        return expire(self, before, room)

    def _first_of(self, key: int) -> float | None:
        first = self._gave_up.get(key)
        return self._gave_up_before.get(key) if first is None else first

    def drop_labels(self, labels: Collection[str], scope: int = 0) -> None:
        """Forget every pending recipient of evicted labels (of scope ``scope``), in one
        pass over the table however many labels go (sesd.core.pending_forget)."""
        drop_labels(self, labels, scope)

    def _last(self, key: int, since: float) -> float:
        """The latest a recipient first delayed at ``since`` pends: ``LONGEST_DELAY``
        on, and as far as steps of the clock ahead moved it."""
        moved = self._moved.get(key, 0.0) if self._moved else 0.0
        return since + LONGEST_DELAY + (moved if moved > 0 else 0.0)  # (none below none)

    def stepped(self, step: float, now: float) -> None:
        """The host's clock stepped ``step`` seconds, to ``now``: the latest each delay
        dated on it pends moved, and the resolutions remembered
        (sesd.core.pending_steps.stepped)."""
        stepped(self, step, now)

    def held_to(self, now: float) -> None:
        """No delay's latest time moved past ``now``'s own ``LONGEST_DELAY`` on, no
        resolution remembered after ``now`` (but as far as a step back since put the
        clock behind it), or at no time; nor SES's a day past it (pending_steps, pending_ses)."""
        held_to(self, now)
        held(self)

    def __len__(self) -> int:
        return len(self._entries)

    def _list(self, labels: Labels, expires: float) -> None:
        # Delays come nearly in time order, each expiring after those listed: appended
        # where insort() would put it, without its search (about 500 instructions a label).
        # A label's list made only when it has none (setdefault() made one each time).
        listed = self._expiries
        for scope, label in enumerate(labels):
            expiries = listed.get((scope, label))
            if expiries is None:
                listed[(scope, label)] = [expires]
            elif not expiries or expiries[-1] <= expires:
                expiries.append(expires)
            else:
                bisect.insort(expiries, expires)

    def _unlist(self, labels: Labels, expires: float) -> None:
        for scope, label in enumerate(labels):
            expiries = self._expiries[(scope, label)]
            del expiries[bisect.bisect_left(expiries, expires)]
            if not expiries:
                del self._expiries[(scope, label)]

    def snapshot(self) -> dict[str, object]:
        """Plain data for the state file (sesd.core.pending_file.snapshot_of)."""
        return snapshot_of(self)

    def restore(
        self,
        data: dict[str, Any],
        where: list[int] | None = None,
        admits: list[Callable[[object], bool]] | None = None,
        latest: float = _NEVER,
    ) -> int:
        """Load what :meth:`snapshot` returned (sesd.core.pending_file.restore_into):
        how many delays were not kept, their labels ones no event makes now, or first
        seen after ``latest``."""
        return restore_into(self, data, where, admits, latest)
