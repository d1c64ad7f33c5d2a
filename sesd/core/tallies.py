"""Plain counters the pipeline keeps and the metrics collector exports.

Counting into dicts and lists costs a fraction of a Prometheus client call
and needs no lock: the event loop is the only writer and scrapes read on the
same loop. Per-label counters sit in one dict per label so an evicted domain's
series go with one ``pop``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, TypeVar

from sesd.core.events import EVENT_TYPES

__all__ = [
    "BOUNCE_SUBTYPES",
    "BOUNCE_TYPES",
    "DELAY_TYPES",
    "IN_A_ROW",
    "SUPPRESSED_SUBTYPES",
    "FixedHistogram",
    "Outcome",
    "Tallies",
]

#: Two receives of a queue further apart than this are not read as one run (a poller
#: waits 20 s at most on an empty queue, then receives again).
IN_A_ROW: Final = 60.0

#: Values SES documents; anything else is counted as ``other`` to keep labels bounded.
DELAY_TYPES: Final = frozenset(
    {
        "InternalFailure",
        "General",
        "MailboxFull",
        "SpamDetected",
        "RecipientServerError",
        "IPFailure",
        "TransientCommunicationFailure",
        "BYOIPHostNameLookupUnavailable",
        "Undetermined",
        "SendingDeferral",
    }
)
BOUNCE_TYPES: Final = frozenset({"Undetermined", "Permanent", "Transient"})
BOUNCE_SUBTYPES: Final = frozenset(
    {
        "Undetermined",
        "General",
        "NoEmail",
        "Suppressed",
        "OnAccountSuppressionList",
        "OnTenantSuppressionList",
        "MailboxFull",
        "MessageTooLarge",
        "CustomTimeoutExceeded",
        "ContentRejected",
        "AttachmentRejected",
    }
)
#: Bounces of recipients SES never sent to, because a suppression list (the global
#: one, the account's, the tenant's) holds the address: counted apart from bounces.
SUPPRESSED_SUBTYPES: Final = frozenset(
    {"Suppressed", "OnAccountSuppressionList", "OnTenantSuppressionList"}
)


class FixedHistogram:
    """A Prometheus-style histogram: cumulative counts are computed at export."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        # Held as floats: a value (a float) compared with an int bound takes the slow
        # mixed-type path, and bisect compares four or five times (two histograms an
        # event: about 700 instructions, counted under cachegrind).
        self.bounds = tuple(float(bound) for bound in bounds)
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Record one value (in the first bucket whose bound is not below it)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as the exposition format wants them."""
        out, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        return out


_K = TypeVar("_K")
_N_TYPES: Final = len(EVENT_TYPES)


def _per_type(table: dict[_K, list[int]], key: _K) -> list[int]:
    """``table[key]``, a counter per event type, created on first use."""
    counts = table.get(key)
    if counts is None:
        counts = table[key] = [0] * _N_TYPES
    return counts


class Outcome(StrEnum):
    """What became of an SQS message (``sesd_messages_total{outcome}``)."""

    PROCESSED = "processed"
    SKIPPED = "skipped"
    INVALID = "invalid"
    DUPLICATE = "duplicate"


#: The processing-time histogram's bounds, close together where SES's times are
#: (0.5-5 s): a quantile interpolated inside a 1-2.5 s bucket read 1.75 s for 1.2 s.
_PROCESSING: Final = (
    0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 30, 60, 120, 300, 900, 1800, 3600
)  # fmt: skip


@dataclass(slots=True)
class Tallies:
    """Every counter behind the ``_total`` metrics and global histograms."""

    events: dict[str, list[int]] = field(default_factory=dict)  # queue -> per type
    #: (queue, outcome) for outcomes other than ``processed``: a processed message is
    #: one event, so its count is the queue's events (see :attr:`messages`).
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    invalid: dict[tuple[str, str], int] = field(default_factory=dict)  # (queue, reason)
    skipped: dict[tuple[str, str], int] = field(default_factory=dict)  # (queue, reason)
    #: Delayed and soft-bounced recipients by cause (replay's summary). Counters per
    #: domain and per provider are kept by their scope (sesd.core.scopes).
    causes: dict[str, int] = field(default_factory=dict)
    tag_recipients: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    #: SES's tenant events (status changes, findings) handled, by queue.
    notices: dict[str, int] = field(default_factory=dict)
    late_events: int = 0
    invalid_recipients: int = 0
    processing: FixedHistogram = field(default_factory=lambda: FixedHistogram(_PROCESSING))
    lag: FixedHistogram = field(
        default_factory=lambda: FixedHistogram(
            (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
        )
    )

    #: Per queue, the time of its latest receive and how far behind that queue is
    #: read then (see :meth:`received`).
    latest: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Per queue, the time and the lag of its latest receive and of the one before.
    receives: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    def received(self, queue: str, at: float, lag: float) -> None:
        """An event of the receive made at ``at`` read ``lag`` seconds after it was made
        (the events of one receive share its time). A receive is as far behind as its
        freshest event: SQS keeps no order, so one late message may come last in a
        batch of current mail. A queue is as far behind as its latest two receives
        (one within :data:`IN_A_ROW` of the other): at a trickle a late message may
        come alone, while in a backlog every receive brings old events only. An empty
        receive says nothing here: a short poll or a FIFO queue's held-back group comes
        back empty while a backlog waits (but see :meth:`caught_up`)."""
        last = self.receives.get(queue)
        if last is None:
            last = (at, lag, at - IN_A_ROW, 0.0)
        elif last[0] != at:  # a new receive
            last = (at, lag, last[0], last[1])
        elif lag < last[1]:
            last = (at, lag, last[2], last[3])
        else:
            return
        self.receives[queue] = last
        if at - last[2] < IN_A_ROW and last[3] < lag:
            lag = last[3]
        self.latest[queue] = (at, lag)

    def caught_up(self, queue: str, at: float) -> None:
        """The receive made at ``at`` found nothing on ``queue`` where an empty answer
        means that no message was visible: a long poll of a standard queue, which asks
        every one of SQS's servers and waits for a message. Nothing waits there, so the
        queue is read 0 s behind, as a receive of current mail: a late event alone in
        the next receive (within :data:`IN_A_ROW`) is a straggler then, not a backlog."""
        self.received(queue, at, 0.0)

    def behind(self, now: float, within: float = 300.0) -> float:
        """How far behind sesd reads: the largest lag of the latest receive on each
        queue read in the last ``within`` seconds (five minutes unless told; 0 when none
        was)."""
        return self.furthest(now, within)[1]

    def furthest(self, now: float, within: float = 300.0) -> tuple[str, float]:
        """The queue read furthest behind among those read in the last ``within``
        seconds, and its lag (``("", 0.0)`` when none was)."""
        lags = [(lag, queue) for queue, (at, lag) in self.latest.items() if now - at < within]
        lag, queue = max(lags, default=(0.0, ""))
        return queue, lag

    def queue_counts(self, queue: str) -> list[int]:
        """The per-type event counter list of a queue."""
        return _per_type(self.events, queue)

    def tag_counts(self, tag: str, value: str) -> list[int]:
        """The per-type recipient counter list of a tag value."""
        return _per_type(self.tag_recipients, (tag, value))

    def message(self, queue: str, outcome: str) -> None:
        """Count one SQS message that was not processed (skipped, invalid, duplicate);
        processed ones are counted by event type in :meth:`queue_counts`."""
        key = (queue, outcome)
        self.outcomes[key] = self.outcomes.get(key, 0) + 1

    @property
    def messages(self) -> dict[tuple[str, str], int]:
        """SQS messages by (queue, outcome), ``processed`` included (email events and
        SES's tenant events)."""
        out = dict(self.outcomes)
        for queue, counts in self.events.items():
            out[(queue, Outcome.PROCESSED)] = sum(counts)
        for queue, n in self.notices.items():
            key = (queue, Outcome.PROCESSED)
            out[key] = out.get(key, 0) + n
        return out

    def by_outcome(self) -> dict[str, int]:
        """SQS messages by outcome, every queue together (what sesd logs at a stop)."""
        totals: dict[str, int] = {}
        for (_, outcome), n in self.messages.items():
            totals[outcome] = totals.get(outcome, 0) + n
        return totals
