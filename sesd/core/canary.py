"""The canary's bookkeeping: what was sent, what came back, and which stage is slow.

Pure, like the pipeline: nothing here reads a clock. The sender reports each
``SendEmail`` call (:meth:`CanaryTracker.sent`, :meth:`CanaryTracker.failed`);
the pipeline hands over every event that belongs to a canary
(:meth:`CanaryTracker.observe`), which keeps canary mail out of the per-domain
windows of real traffic.

A canary's path has three stages, and each has its own figure:

* **API call**: the ``SendEmail`` round trip (``send_seconds``);
* **inside SES**: the Delivery event's ``processingTimeMillis``
  (``ses_seconds``);
* **event pipeline**: from the Delivery event's time to sesd receiving it
  through SNS and SQS (``pipeline_seconds``).

``end_to_end_seconds`` runs from the start of the call to the receipt of the
Delivery (or Bounce, for the simulator's bounce addresses) event. The words
that tell which stage looks at fault are sesd.core.canary_text's.
"""

from __future__ import annotations

import contextlib
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from sesd.core import canary_text
from sesd.core.decode import Event
from sesd.core.tallies import FixedHistogram
from sesd.core.timestamps import unix_seconds

__all__ = ["CANARY_DOMAIN", "CANARY_TAG", "Canary", "CanaryTracker", "names_read"]

#: The message tag every canary carries; its value names the sending instance.
CANARY_TAG: Final = "sesd-canary"
#: The ``domain`` of canary alerts (one alert per rule, not one per domain).
CANARY_DOMAIN: Final = "canary"
#: What a canary tag's value of another sesd must look like to be named (its host name).
_INSTANCE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: How many of a canary's fields its row in the state file holds (its first nine).
_SAVED: Final = 9
#: How far SES's clock and this host's may differ when telling this sesd's canaries
#: from another's of the same name (seconds): a message SES took within this of one
#: of this sesd's calls may be that call's.
_SKEW: Final = 60.0
#: How many names of this sesd's canaries of runs before the state file keeps (a pod
#: has a new host name each time it is made: a rollout, an eviction, a node drained).
_NAMES: Final = 16
#: How many canaries are remembered (a day at one a minute is 1,440).
_KEEP: Final = 2048
#: Failed calls that a retry a minute later usually gets through: they count as missing
#: once ``deadline`` old, as a canary whose events are late does (one throttled call
#: at a peak of sending is no outage). Others (refused credentials, a rejected
#: message, a paused account) count at once.
TRANSIENT: Final = frozenset({"throttled", "timeout", "server_error", "network"})
_SECONDS: Final = (
    0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 30, 60, 120, 300, 600, 1800, 3600
)  # fmt: skip


@dataclass(slots=True)
class Canary:
    """One ``SendEmail`` call and what became of it."""

    sent_at: float  # wall time the call began
    send_seconds: float
    message_id: str = ""  # empty when the call failed
    error: str = ""  # a ``sesd_canary_send_errors_total`` reason
    accepted_at: float | None = None  # its Send event arrived
    done_at: float | None = None  # its Delivery or Bounce event arrived
    outcome: str = ""  # delivery | bounce
    ses_seconds: float | None = None
    pipeline_seconds: float | None = None
    # Not in the state file: the error code SES gave (the ``error`` reason is), and
    # the canary's place in the order of sending.
    code: str = ""
    seq: int = 0
    #: The tracker's :attr:`~CanaryTracker.shifted` when the call was remembered: what
    #: it gained since is how far ``sent_at`` moved from what this host read at the call.
    shifted: float = 0.0

    @property
    def end_to_end_seconds(self) -> float | None:
        """From the call to sesd receiving the Delivery event."""
        return None if self.done_at is None else max(0.0, self.done_at - self.sent_at)


@dataclass(slots=True)
class _Figures:
    send: FixedHistogram = field(default_factory=lambda: FixedHistogram(_SECONDS))
    ses: FixedHistogram = field(default_factory=lambda: FixedHistogram(_SECONDS))
    pipeline: FixedHistogram = field(default_factory=lambda: FixedHistogram(_SECONDS))
    end_to_end: FixedHistogram = field(default_factory=lambda: FixedHistogram(_SECONDS))


def names_read(names: Any) -> tuple[list[str], int]:
    """Of a state file's :meth:`CanaryTracker.names` (None: a file without them), the
    names that read as host names, and how many did not (a value that is no list: one,
    skipped whole, as any entry beside the alert states that does not read)."""
    if names is None:
        return [], 0
    if not isinstance(names, list):
        return [], 1
    kept = [name for name in names if isinstance(name, str) and _INSTANCE.fullmatch(name)]
    return kept, len(names) - len(kept)


class CanaryTracker:
    """Canaries in flight and done, the stage histograms, and the rule metrics' values."""

    def __init__(self, deadline: float, queue: str) -> None:
        self.deadline = deadline
        self.queue = queue
        self.canaries: deque[Canary] = deque(maxlen=_KEEP)
        self.by_id: dict[str, Canary] = {}
        self.figures = _Figures()
        self.sent_total = 0
        self.errors: dict[str, int] = {}
        self.events: dict[str, int] = {}  # matched | unmatched
        self.last_event_at: float | None = None  # anything received on the canary's queue
        self.last_done: Canary | None = None
        # When canaries came from the state file, and the last of them (by seq).
        self.restored_at: float | None = None
        self._restored_through = 0
        # The last canary event on the queue that no canary of ours made, and the
        # instance its tag names (another sesd sending canaries to this queue).
        self.foreign_at: float | None = None
        self.foreign_from = ""
        #: The tag value of this sesd's own canaries, and how many calls of theirs are
        #: under way (sesd.canary.sender keeps both; a reload's sender may overlap).
        self.instance = ""
        self.calling = 0
        #: The tag values of this sesd's canaries in the runs before, newest last (the
        #: state file's): one of them is this sesd's own, sent under a former host name.
        self.former: tuple[str, ...] = ()
        self._seq = 0
        #: The wall clock's steps so far, added up (:meth:`stepped`).
        self.shifted = 0.0
        #: How far SES's clock ran ahead of this host's (as read at the call) when the
        #: last canary of ours came back: SES's time of a message is told in SES's.
        self._ses_ahead = 0.0

    # --- the sender's side ---------------------------------------------------------

    def sent(self, message_id: str, at: float, seconds: float) -> Canary:
        """A call that SES accepted, with its message id."""
        canary = Canary(sent_at=at, send_seconds=seconds, message_id=message_id)
        self._remember(canary)
        self.by_id[message_id] = canary
        self.sent_total += 1
        self.figures.send.observe(seconds)
        return canary

    def failed(self, reason: str, at: float, seconds: float, code: str = "") -> Canary:
        """A call that failed (``code``: SES's error code, if it gave one): it counts as
        a missing canary at once, or once ``deadline`` old when :data:`TRANSIENT`."""
        canary = Canary(sent_at=at, send_seconds=seconds, error=reason, code=code[:64])
        self._remember(canary)
        self.errors[reason] = self.errors.get(reason, 0) + 1
        return canary

    def _remember(self, canary: Canary) -> None:
        if len(self.canaries) == self.canaries.maxlen:
            self.by_id.pop(self.canaries[0].message_id, None)
        self._seq += 1
        canary.seq, canary.shifted = self._seq, self.shifted
        self.canaries.append(canary)

    def stepped(self, step: float) -> None:
        """The wall clock stepped by ``step`` seconds: every time kept here (read on that
        clock) moves with it, so a deadline, a window and the end-to-end figure measure
        the time that passed, not the step (ten minutes ahead would make every canary
        in flight missing at once). A caller whose call began before the step adds
        what :attr:`shifted` gained meanwhile to the time it began."""
        self.shifted += step
        for c in self.canaries:
            c.sent_at += step
            c.accepted_at = None if c.accepted_at is None else c.accepted_at + step
            c.done_at = None if c.done_at is None else c.done_at + step
        for name in ("restored_at", "last_event_at", "foreign_at"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value + step)

    # --- the pipeline's side -------------------------------------------------------

    def arrived(self, event: Event, queue: str, now: float) -> bool:
        """``event`` arrived on ``queue`` at ``now`` (on the canary's queue: the event
        pipeline into sesd is alive). Returns whether it is a canary's: tagged by any
        sesd, or one of ours by id. One call for both, as every event asks both."""
        if queue == self.queue:
            self.last_event_at = now
        return CANARY_TAG in event.mail.tags or (
            bool(self.by_id) and event.message_id in self.by_id
        )

    def observe(self, event: Event, received_at: float) -> None:
        """A canary's event: its Send, Delivery or Bounce completes a stage."""
        canary = self.by_id.get(event.message_id)
        if canary is None:
            # Another replica's canary, or one sent before a restart.
            self.events["unmatched"] = self.events.get("unmatched", 0) + 1
            values = event.mail.tags.get(CANARY_TAG)
            tag = values[0] if values else None
            if tag is not None and tag != self.instance and tag not in self.former:
                # A stranger's text (anyone may tag mail so): named only when it is
                # the kind of name a sesd sends, for the alert text of every sink.
                name = tag if _INSTANCE.fullmatch(tag) else "unnamed"
                self.foreign_at, self.foreign_from = received_at, name
            elif tag is not None and not self._could_be_ours(event.mail.timestamp):
                # Another sesd with this one's host name (two on one host, pods on the
                # host's network), or one it had before a restart, sends to this queue:
                # it takes this one's events too.
                whose = "own name" if tag == self.instance else "name before a restart"
                self.foreign_at, self.foreign_from = received_at, f"{tag}, this one's {whose}"
            return
        self.events["matched"] = self.events.get("matched", 0) + 1
        with contextlib.suppress(ValueError):  # not a time: what was learnt stays
            self._ses_ahead = unix_seconds(event.mail.timestamp) - self._called(canary)[1]
        if event.type == "send":
            canary.accepted_at = received_at
        elif event.type in ("delivery", "bounce") and canary.done_at is None:
            canary.done_at = received_at
            canary.outcome = event.type
            canary.accepted_at = canary.accepted_at or received_at
            delivery = event.ses.delivery
            if delivery is not None and delivery.processing_time_millis is not None:
                canary.ses_seconds = delivery.processing_time_millis / 1000.0
                self.figures.ses.observe(canary.ses_seconds)
            # The event's time is SES's clock, its receipt ours: a skew between the two
            # would read as pipeline time. The pipeline took no longer than what the
            # whole path (our clock at both ends) leaves after the call and SES.
            rest = received_at - canary.sent_at - canary.send_seconds - (canary.ses_seconds or 0.0)
            canary.pipeline_seconds = max(0.0, min(received_at - event.time, rest))
            self.figures.pipeline.observe(canary.pipeline_seconds)
            self.figures.end_to_end.observe(canary.end_to_end_seconds or 0.0)
            if self.last_done is None or canary.seq > self.last_done.seq:
                self.last_done = canary

    def _could_be_ours(self, sent: str) -> bool:
        """Whether a message of this sesd's own tag (or one of its :attr:`former`) that
        SES took at ``sent`` (its ``mail.timestamp``), whose id no canary remembered has,
        may be this sesd's: SES took it before the first canary this process sent (one
        sent before a restart: the state file's save may have missed it, as a stop may
        have cut its call off; or forgotten at the bound), while a call is under way, or
        about when a call of this sesd's failed at this end though SES sent it (a
        timeout). Any other is another sesd's that has the name. A call's time is read
        both as kept (moved with each step of the clock) and as read at the call (SES's
        clock took no step), each also in SES's clock as the canaries that came back
        tell it."""
        if self.calling:
            return True  # SES may have taken it, its events beating its answer here
        try:
            at = unix_seconds(sent)
        except ValueError:
            return True
        first = next((c for c in self.canaries if c.seq > self._restored_through), None)
        if first is None or at < max(self._ses_times(first)) + _SKEW:
            return True
        return any(
            t - _SKEW <= at <= t + c.send_seconds + _SKEW
            for c in self.canaries
            if not c.message_id
            for t in self._ses_times(c)
        )

    def _called(self, canary: Canary) -> tuple[float, float]:
        """When ``canary``'s call began: as kept, and as this host read it then."""
        return canary.sent_at, canary.sent_at - (self.shifted - canary.shifted)

    def _ses_times(self, canary: Canary) -> tuple[float, ...]:
        """When SES may have taken ``canary``'s message, by SES's clock: its call's
        times (:meth:`_called`), each as it is and as far ahead as SES's clock ran of
        this host's at the last canary back (a host off by minutes, and no step)."""
        return tuple(t + ahead for t in self._called(canary) for ahead in (0.0, self._ses_ahead))

    # --- the state file ---------------------------------------------------------------

    def snapshot(self) -> list[list[object]]:
        """The canaries as rows, so a restart still matches the ones in flight."""
        return [
            [
                c.sent_at,
                c.send_seconds,
                c.message_id,
                c.error,
                c.accepted_at,
                c.done_at,
                c.outcome,
                c.ses_seconds,
                c.pipeline_seconds,
            ]
            for c in self.canaries
        ]

    def names(self) -> list[str]:
        """The tag values of this sesd's canaries, this run's last, for the state file:
        a restart under another host name (a pod's) still knows its own canaries, those
        whose events come after it and whose ids no file kept (a call that timed out
        though SES sent it, one sent after the last save), from another sesd's."""
        former = [name for name in self.former if name != self.instance]
        return [*former, self.instance][-_NAMES:] if self.instance else former

    def restore(self, rows: list[list[Any]], now: float, names: list[Any] | None = None) -> None:
        """Load :meth:`snapshot` rows and :meth:`names` at ``now`` (the histograms and
        counters start again at zero). A canary in flight gets ``deadline`` from
        ``now``: its events may be waiting on the queue, which sesd has not read yet."""
        self.former = tuple(names_read(names)[0][-_NAMES:])
        for row in rows:
            canary = Canary(*row[:_SAVED])  # items a later build added: not ours
            self._remember(canary)
            if canary.message_id:
                self.by_id[canary.message_id] = canary
            if canary.done_at is not None:
                self.last_done = canary  # rows are in the order of sending
        if rows:
            self.restored_at, self._restored_through = now, self._seq

    # --- the rules' side -----------------------------------------------------------

    def missing(self, now: float, since: float = float("-inf")) -> list[Canary]:
        """Canaries sent after ``since`` and after the newest one that came back (in the
        order of sending: a clock stepped back does not make later ones older), whose
        call failed or whose event is past the deadline."""
        newest_done = self.last_done.seq if self.last_done is not None else 0
        return [
            c
            for c in self.canaries
            if c.seq > newest_done
            and c.sent_at > since
            and c.done_at is None
            and ((c.error and c.error not in TRANSIENT) or now - self._start(c) > self.deadline)
        ]

    def _start(self, canary: Canary) -> float:
        """When a canary's deadline starts: its call, or the restore that brought it."""
        if self.restored_at is not None and canary.seq <= self._restored_through:
            return max(canary.sent_at, self.restored_at)
        return canary.sent_at

    def overdue_count(self, now: float) -> int:
        """How many canaries are missing right now (the ``sesd_canary_missing`` gauge)."""
        return len(self.missing(now))

    def measure(self, metric: str, window: float, now: float) -> tuple[float | None, int]:
        """A canary rule metric over the last ``window`` seconds, and its volume."""
        recent = [c for c in self.canaries if c.sent_at > now - window]
        if metric == "canary_missing":
            return float(len(self.missing(now, now - window))), len(recent)
        if metric == "canary_send_latency_seconds":
            # A call cut off by send_timeout took at least that long: left out, calls
            # that all time out would resolve the alert as the API got worse.
            timed = [c for c in recent if not c.error or c.error == "timeout"]
            return (timed[-1].send_seconds if timed else None), len(timed)
        raise ValueError(f"unknown canary metric {metric!r}")

    def counts(self, window: float, now: float) -> dict[str, int]:
        """Sent, failed, back and missing canaries in the window, for alert text."""
        recent = [c for c in self.canaries if c.sent_at > now - window]
        return {
            "sent": sum(1 for c in recent if not c.error),
            "send_failed": sum(1 for c in recent if c.error),
            "back": sum(1 for c in recent if c.done_at is not None),
            "missing": len(self.missing(now, now - window)),
        }

    def stage(self, metric: str, now: float, window: float) -> str:
        """Which stage of the path looks slow, in words the on-call person can act on."""
        return canary_text.stage(self, metric, now, window)

    def notes(self) -> list[str]:
        """The last returned canary's stage figures, for alert text."""
        return canary_text.notes(self)
