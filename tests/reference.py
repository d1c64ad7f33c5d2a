"""The reference model the windows are held to: README's Inputs and Windows written
for clarity.

Events sit in a list. A window at time ``now`` is a filter by event time over
that list; pending follows README's rules literally. Nothing here is fast or
bounded, and nothing is shared with sesd's windows: the property test in
test_reference_model.py feeds this model and the production pipeline the same
streams and requires the same figures.

The windows' contract, which this model states:

* An event's time is clamped to the clock when it arrives. It counts
  in the windows unless it is late: its bucket of the widest window has left
  that window when it arrives (README's "older than the largest window",
  aligned to buckets, so that an event counts in the windows or as late, never
  in neither).
* The window of length ``slots`` buckets of ``width`` seconds at time ``now``
  holds the events whose bucket ``t // width`` is one of the ``slots`` buckets
  up to ``now // width``, among those it keeps.
* A window keeps the ``slots`` buckets up to the newest bucket an event brought
  it; an event older than those is not kept. While the clock runs forward this
  loses nothing a read could show. After the clock stepped back, a read shows
  what is kept; and once everything kept is ahead of the clock by more than the
  window, the next event inside the window starts it afresh.
* An identical event (message id, type, time, recipients) seen before is a
  duplicate and changes nothing.
* A DeliveryDelay of a recipient delayed already and not ended (SES's retry) counts
  in no window: one delayed recipient is one, however often SES retries it. Its text
  is still kept (the alert's examples), so it moves the window on as an event does.
* A recipient (message id, address) is pending at ``now`` from its first
  DeliveryDelay, unless a Delivery or Bounce of it at or after the delay's time
  was processed (or one SES dated at or after it and no more than 16 h after, when
  that one was from ahead of the clock, its time held to a day after the clock's),
  and while ``now`` is before the delay's expiry (its ``expirationTime``, or 16 h;
  and never more than 16 h after the first delay's time, however many follow: SES
  tries no longer). A delay already expired when it arrives is not pending. When a
  pending delay is resolved, how long it lasted is a value at the resolution's time
  (by SES's times, when it ended as SES dated them).
* A step of the clock that sesd measures moves none of the windows (they are in
  event time) and none of the event times kept, but for what README's Inputs say of
  a delay: its first time is the clock's when it came from ahead of it, and so is
  the latest it pends, 16 h on. A step ahead moves that latest time of each delay
  first seen no later than the clock it left, or moved before, by the step (never
  past the clock: its first time so moved is no later than the new clock's); an
  expiry that latest time set moves with it, an earlier ``expirationTime`` (SES's
  own time) stays. One later than the latest time when it came was cut to it, and
  sesd keeps one expiry a delay: it moves as the latest time does, and such a delay
  may pend up to the step past SES's time (README says so). A step back moves none:
  it takes back as much of what steps ahead moved, and what it takes back past none
  is kept, a move below none, against the next step ahead. Such a move moves no
  latest time and times no delay longer, but a Delivery or Bounce dated on the clock
  behind, at or after the first time so moved, ends the delay (timed across the
  step), and a retry dated so keeps the first delay's time (its ``expirationTime``,
  SES's own time, held to the latest that first time sets, not to 16 h after the
  retry's time on the clock behind). A delay's length, when
  its Delivery or Bounce ends it, is timed from its first time as steps ahead moved
  it (none, not less, when the Delivery is dated before that). A retry SES dated
  before the first time is the first delay, on this clock: what steps moved of the
  one it replaces goes.
* Each Delivery or Bounce remembered for a delay SQS brings after it moves with a
  step ahead too, if dated no later than the clock the step left; a step back moves
  none, and is kept of each remembered then (its credit) against the next step
  ahead, which moves it as much less.
* A restart holds each Delivery or Bounce remembered later than its clock to it (but
  as far as its credit puts the clock behind it, a day at most: the state file keeps
  no more), and SES's time of one to a day after that. The clock's steps sesd did not
  measure (the property test makes some) are not known to it, so one dated after the
  save reads as a damaged file's. It holds each delay's move likewise: a first time
  so moved ahead of the restart's clock is held to it (a move below none then goes).
  A file saved ahead of the restart's clock (the clock stepped back while sesd was
  stopped) is read at its save and then stepped back as far, as a step measured.
  Which Delivery or Bounce timed a delay is kept: a retry SQS brings after the
  restart is timed no more than one before it (one value per delayed recipient).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sesd.core.events import LONGEST_DELAY
from sesd.core.pending import DEFAULT_EXPIRY
from sesd.core.refusals import MOST_AHEAD

__all__ = ["Model", "ModelEvent", "Window"]


@dataclass(frozen=True)
class Window:
    """A window's layout: ``slots`` buckets of ``width`` seconds."""

    width: float
    slots: int

    def bucket(self, t: float) -> int:
        """The bucket of time ``t``."""
        return math.floor(t / self.width)

    def holds(self, t: float, now: float) -> bool:
        """Whether time ``t`` is inside the window at ``now``."""
        head = self.bucket(now)
        return head - self.slots < self.bucket(t) <= head


@dataclass
class _Kept:
    """What one window of one domain keeps: values and its newest bucket."""

    window: Window
    values: list[tuple[str, str, float, float]] = field(default_factory=list)
    newest: int | None = None

    def keep(self, domain: str, kind: str, t: float, value: float, now: float) -> None:
        """An event's (or value's) arrival at ``now``, at time ``t``."""
        window, bucket = self.window, self.window.bucket(t)
        if self.newest is None or bucket > self.newest:
            self.newest = bucket
            self.values = [v for v in self.values if window.bucket(v[2]) > bucket - window.slots]
        elif bucket <= self.newest - window.slots:
            now_bucket = window.bucket(now)
            ahead = now_bucket <= self.newest - window.slots
            if not (ahead and bucket > now_bucket - window.slots):
                return  # older than everything kept
            self.values, self.newest = [], bucket  # everything kept is ahead: afresh
        self.values.append((domain, kind, t, value))

    def read(self, domain: str, kind: str, now: float) -> list[float]:
        """The values of a kind inside the window at ``now``."""
        return [
            value
            for d, k, t, value in self.values
            if d == domain and k == kind and self.window.holds(t, now)
        ]


@dataclass(frozen=True)
class ModelEvent:
    """One SES event, as the generator made it (addresses unique, lower case)."""

    kind: str  # delivery | delivery_delay | bounce | send | complaint
    message_id: str
    recipients: tuple[str, ...]
    time: float
    processing_ms: int = 0
    expires: float | None = None


@dataclass
class _Delay:
    domain: str
    since: float
    expires: float
    resolved: bool = False
    #: How far steps of the clock moved its first time (below none: a step back's).
    moved: float = 0.0

    @property
    def latest(self) -> float:
        """The latest it pends: 16 h after its first time, as far as steps ahead moved it."""
        return self.since + DEFAULT_EXPIRY + max(self.moved, 0.0)

    def move(self, moved: float) -> None:
        """Its first time moved ``moved`` in all, and the expiry its latest time set."""
        was, self.moved = self.latest, moved
        if self.expires == was or self.expires > self.latest:
            self.expires = self.latest


@dataclass
class Model:
    """Every event kept; every figure recomputed from them."""

    widest: Window
    windows: list[Window]
    kept: dict[tuple[str, int], _Kept] = field(default_factory=dict)  # (domain, window)
    delays: dict[tuple[str, str], _Delay] = field(default_factory=dict)
    resolutions: dict[tuple[str, str], float] = field(default_factory=dict)
    #: SES's time of those resolved from ahead of the clock, held to a day ahead.
    ses_resolutions: dict[tuple[str, str], float] = field(default_factory=dict)
    #: How far steps back since each was remembered put the clock behind it.
    credits: dict[tuple[str, str], float] = field(default_factory=dict)
    #: Recipients whose delay was timed: one value per delayed recipient.
    timed: set[tuple[str, str]] = field(default_factory=set)
    seen: set[tuple[str, str, float, frozenset[str]]] = field(default_factory=set)
    late: int = 0
    duplicates: int = 0

    def _keep(self, domain: str, kind: str, t: float, value: float, now: float) -> None:
        for index, window in enumerate(self.windows):
            kept = self.kept.setdefault((domain, index), _Kept(window))
            kept.keep(domain, kind, t, value, now)

    def _kept(self, domain: str, index: int) -> _Kept:
        return self.kept.get((domain, index)) or _Kept(self.windows[index])

    def apply(self, event: ModelEvent, now: float) -> None:
        """One event arriving at ``now``."""
        key = (event.message_id, event.kind, event.time, frozenset(event.recipients))
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        t = min(event.time, now)
        in_windows = self.widest.holds(t, now)
        if not in_windows:
            self.late += 1
        expires = event.expires
        if expires is not None:
            expires = min(expires, event.time + DEFAULT_EXPIRY)
        for address in event.recipients:
            domain = address.rpartition("@")[2]
            recipient = (event.message_id, address)
            found = self.delays.get(recipient)
            retry = event.kind == "delivery_delay" and found is not None and not found.resolved
            if in_windows:
                # (A retry's text is still noted: it moves the window on, counting none.)
                self._keep(domain, "retry" if retry else event.kind, t, 1.0, now)
                if event.kind == "delivery":
                    self._keep(domain, "processing", t, float(event.processing_ms), now)
            if event.kind == "delivery_delay":
                self._delayed(recipient, domain, t, event.time, expires, now)
            elif event.kind in ("delivery", "bounce"):
                if event.time > t:
                    ses = min(event.time, t + MOST_AHEAD)
                    self.ses_resolutions[recipient] = max(
                        ses, self.ses_resolutions.get(recipient, ses)
                    )
                self._resolved(recipient, domain, t, now, in_windows)

    def _delayed(
        self,
        recipient: tuple[str, str],
        domain: str,
        t: float,
        ses: float,
        expires: float | None,
        now: float,
    ) -> None:
        if expires is not None and expires <= now:
            return  # expired when it arrived: never pending
        ended = self.resolutions.get(recipient)
        by_ses = self.ses_resolutions.get(recipient)
        if ended is not None and by_ses is not None and ses <= by_ses <= ses + LONGEST_DELAY:
            # Its Delivery or Bounce, from ahead of the clock, came first as SES dated
            # the two (within the longest SES tries): timed so, a value at the clock's
            # time of its end.
            if recipient in self.timed:
                return
            self.timed.add(recipient)
            at = min(t + by_ses - ses, now)
            if self.widest.holds(at, now):
                self._keep(domain, "duration", at, (by_ses - ses) * 1000.0, now)
            return
        if ended is not None and ended >= t:
            # Its Delivery or Bounce came first: the delay lasted until then, a value
            # at that time (or at the clock's, if that is earlier: the clamp), unless
            # another delay of the recipient was timed by it already.
            if recipient in self.timed:
                return
            self.timed.add(recipient)
            at = min(ended, now)
            if self.widest.holds(at, now):
                self._keep(domain, "duration", at, (ended - t) * 1000.0, now)
            return
        found = self.delays.get(recipient)
        if found is None or found.resolved:
            expiry = t + DEFAULT_EXPIRY if expires is None else min(expires, t + DEFAULT_EXPIRY)
            self.delays[recipient] = _Delay(domain, t, expiry)
            return
        if t < found.since and not (found.moved < 0 and t >= found.since + found.moved):
            found.since, found.moved = t, 0.0
        # A retry's expirationTime is SES's own time: held to the latest the first delay
        # pends, not to 16 h after the retry's own time on a clock stepped back.
        expiry = t + DEFAULT_EXPIRY if expires is None else expires
        found.expires = min(max(found.expires, expiry), found.latest)

    def _resolved(
        self, recipient: tuple[str, str], domain: str, t: float, now: float, in_windows: bool
    ) -> None:
        self.resolutions[recipient] = max(t, self.resolutions.get(recipient, t))
        found = self.delays.get(recipient)
        if found is None or found.resolved or found.since + min(found.moved, 0.0) > t:
            return
        found.resolved = True
        self.timed.add(recipient)
        lasted = t - found.since
        if found.moved > 0 or t < found.since:
            lasted = max(0.0, lasted - found.moved)
        if in_windows:
            self._keep(domain, "duration", t, lasted * 1000.0, now)

    def stepped(self, step: float, now: float) -> None:
        """A step of the clock sesd measured: ``step`` seconds, to ``now``."""
        left = now - step
        for delay in self.delays.values():
            if not delay.resolved and (step < 0 or delay.since <= left or delay.moved):
                delay.move(min(delay.moved + step, now - delay.since))
        for recipient, at in self.resolutions.items():
            credit = self.credits.get(recipient, 0.0)
            if step < 0:
                self.credits[recipient] = credit - step
                continue
            if at <= left and step > credit:
                self.resolutions[recipient] = at + step - credit
            self.credits[recipient] = max(0.0, credit - step)

    def restarted(self, now: float, saved: float | None = None) -> None:
        """A restart from the state file at ``now``, saved at ``saved`` (``now`` if
        not given; a file saved ahead is stepped back after this, as a step measured).
        sesd saves how far each step back put the clock behind each Delivery or Bounce
        remembered (its credit, a day at most). A step it did not measure (the property
        test makes some) leaves one dated after its save with no step to explain it,
        as a damaged file would: the restart holds it to the clock, but for its credit,
        and SES's time of it to a day after that (sesd.core.pending_steps.held_to,
        sesd.core.pending_ses.held). Left out, a delay read after the restart, dated
        between the two on the clock, was over in the model and pending in sesd; one
        dated at the restart was timed from the Delivery, in sesd from the restart.
        A delay first seen more than a day after both the save and ``now`` is none the
        file could hold (sesd.core.pending_file), unless a step back's move puts it a
        day before that; and a first time that steps moved ahead of ``now`` is held to
        it."""
        latest = max(now, now if saved is None else saved) + MOST_AHEAD
        for recipient, delay in list(self.delays.items()):
            if delay.since > latest and delay.since + delay.moved > latest - MOST_AHEAD:
                del self.delays[recipient]  # first seen later than the file could hold
        for delay in self.delays.values():
            if not delay.resolved and delay.moved and delay.moved > now - delay.since:
                delay.move(max(0.0, min(delay.moved, now - delay.since)))
        for recipient, ended in self.resolutions.items():
            credit = self.credits[recipient] = min(self.credits.get(recipient, 0.0), MOST_AHEAD)
            if ended > now + credit:
                self.resolutions[recipient] = now + credit
        for recipient, ses in self.ses_resolutions.items():
            self.ses_resolutions[recipient] = min(ses, self.resolutions[recipient] + MOST_AHEAD)

    # --- figures ---------------------------------------------------------------

    def counts(self, domain: str, index: int, now: float) -> dict[str, int]:
        """Recipients per event type of ``domain`` in window ``index`` at ``now``."""
        out: dict[str, int] = {}
        for d, kind, t, _ in self._kept(domain, index).values:
            inside = self.windows[index].holds(t, now)
            if d == domain and kind not in ("processing", "duration", "retry") and inside:
                out[kind] = out.get(kind, 0) + 1
        return out

    def processing(self, domain: str, index: int, now: float) -> list[float]:
        """Processing times (ms) of ``domain``'s deliveries in window ``index``, sorted."""
        return sorted(self._kept(domain, index).read(domain, "processing", now))

    def delay_durations(self, domain: str, index: int, now: float) -> list[float]:
        """How long resolved delays of ``domain`` lasted (ms), resolved in the window."""
        return sorted(self._kept(domain, index).read(domain, "duration", now))

    def pending(self, domain: str, now: float) -> int:
        """Recipients of ``domain`` delayed at ``now``."""
        return sum(
            1
            for delay in self.delays.values()
            if delay.domain == domain and not delay.resolved and delay.expires > now
        )


def quantile(values: list[float], q: float) -> float | None:
    """The exact ``q`` quantile: the smallest value with at least ``q`` of them at or below."""
    if not values:
        return None
    return values[max(0, math.ceil(q * len(values)) - 1)]
