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
* A recipient (message id, address) is pending at ``now`` from its first
  DeliveryDelay, unless a Delivery or Bounce of it at or after the delay's time
  was processed (or one SES dated at or after it and no more than 16 h after, when
  that one was from ahead of the clock, its time held to a day after the clock's),
  and while ``now`` is before the delay's expiry (its ``expirationTime``, or 16 h;
  and never more than 16 h after the first delay's time, however many follow: SES
  tries no longer). A delay already expired when it arrives is not pending. When a
  pending delay is resolved, how long it lasted is a value at the resolution's time
  (by SES's times, when it ended as SES dated them).
* A restart holds each Delivery or Bounce remembered later than its clock to it, and
  SES's time of one to a day after that: the clock's steps are not told to the
  pipeline, so one dated after the save reads as a damaged file's.
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
            if in_windows:
                self._keep(domain, event.kind, t, 1.0, now)
                if event.kind == "delivery":
                    self._keep(domain, "processing", t, float(event.processing_ms), now)
            recipient = (event.message_id, address)
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
        expiry = t + DEFAULT_EXPIRY if expires is None else min(expires, t + DEFAULT_EXPIRY)
        found = self.delays.get(recipient)
        if found is None or found.resolved:
            self.delays[recipient] = _Delay(domain, t, expiry)
        else:
            found.since = min(found.since, t)
            found.expires = min(max(found.expires, expiry), found.since + DEFAULT_EXPIRY)

    def _resolved(
        self, recipient: tuple[str, str], domain: str, t: float, now: float, in_windows: bool
    ) -> None:
        self.resolutions[recipient] = max(t, self.resolutions.get(recipient, t))
        found = self.delays.get(recipient)
        if found is None or found.resolved or found.since > t:
            return
        found.resolved = True
        self.timed.add(recipient)
        if in_windows:
            self._keep(domain, "duration", t, (t - found.since) * 1000.0, now)

    def restarted(self, now: float) -> None:
        """A restart from the state file at ``now``. The property test tells the
        pipeline no step of the clock (the daemon measures them and saves how far a
        step back put the clock behind each Delivery or Bounce remembered). So a file
        saved after the clock stepped back holds one dated after its save with no step
        to explain it, as a damaged file would: the restart holds it to the clock, and
        SES's time of it to a day after that (sesd.core.pending_steps.held_to,
        sesd.core.pending_ses.held). Left out, a delay read after the restart, dated
        between the two on the clock, was over in the model and pending in sesd; one
        dated at the restart was timed from the Delivery, in sesd from the restart."""
        for recipient, ended in self.resolutions.items():
            if ended > now:
                self.resolutions[recipient] = now
        for recipient, ses in self.ses_resolutions.items():
            self.ses_resolutions[recipient] = min(ses, self.resolutions[recipient] + MOST_AHEAD)

    # --- figures ---------------------------------------------------------------

    def counts(self, domain: str, index: int, now: float) -> dict[str, int]:
        """Recipients per event type of ``domain`` in window ``index`` at ``now``."""
        out: dict[str, int] = {}
        for d, kind, t, _ in self._kept(domain, index).values:
            inside = self.windows[index].holds(t, now)
            if d == domain and kind not in ("processing", "duration") and inside:
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
