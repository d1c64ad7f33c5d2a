"""Each configured queue's SQS series (messages received, failed calls, the SDK's
retries), and the one way to count on them: :class:`QueueCounts`, for the place a
poller reads (``QueueConfig.place``: its URL, region and account).

The series are the place in force's. A poller a reload left running at a queue's old
place (it moved: another URL, region or account) or at a queue it removed ends its
calls under way after the reload; what they answer is the old place's word. Counted,
it would read as the place in force failing (a dashboard, an error-rate rule, the
status page's "lately"), or bring back a removed queue's series, exported, frozen,
for as long as sesd runs. So a count is taken only when the caller's place is the
one in force under its queue's name, here, whatever call site counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from sesd.config import QueueConfig

__all__ = ["SQS_OPERATIONS", "SQS_RETRIED", "Place", "QueueCounts", "SqsSeries"]

#: The ``operation`` label values of ``sesd_sqs_errors_total``.
SQS_OPERATIONS = ("receive", "delete", "release", "process")
#: The SQS calls the SDK itself tries again (a receive it does not: sesd.runtime.aws).
SQS_RETRIED = ("delete", "release")

#: Where a queue is read (``QueueConfig.place``).
Place = tuple[str, str | None, str]


class SqsSeries:
    """The SQS counters, each configured queue's series under its (account, region),
    and the place in force under each queue's name."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sqs_errors = Counter(
            "sesd_sqs_errors",
            "SQS calls that failed, by queue (its account and region) and operation.",
            ["queue", "account", "region", "operation"],
            registry=registry,
        )
        self.sqs_retries = Counter(
            "sesd_sqs_retries",
            "SQS calls the SDK tried again before they were answered (throttled, SQS's "
            "5xx), by queue and operation: a retry that then worked is counted here alone.",
            ["queue", "account", "region", "operation"],
            registry=registry,
        )
        self.sqs_received = Counter(
            "sesd_sqs_messages_received",
            "Messages received from SQS, by queue (its account and region).",
            ["queue", "account", "region"],
            registry=registry,
        )
        #: Each configured queue's (account, region) its series are under.
        self._where: dict[str, tuple[str, str]] = {}
        #: Each configured queue's place; None for a name read nowhere (a test's, a
        #: bench's): its series exist, nothing counts on them.
        self._places: dict[str, Place | None] = {}
        #: Each series counted on, by counter and label values: ``labels()`` checks and
        #: converts every value and takes a lock, about 10,500 instructions, on every
        #: batch's count. Emptied at each :meth:`configure`, which may remove series (a
        #: child kept past its removal would count on a series no longer exported).
        self._children: dict[tuple[Counter, tuple[str, ...]], Any] = {}

    def configure(
        self, queues: Iterable[QueueConfig | str], where: Callable[[str], tuple[str, str]]
    ) -> None:
        """The queues in force and their (account, region) (at start and after a
        reload): each one's series exist from then on at 0; those of a queue removed,
        or under the account or region it moved from, go."""
        places = dict(
            (q.label, q.place) if isinstance(q, QueueConfig) else (q, None) for q in queues
        )
        for queue in set(self._where) - set(places):
            # A dashboard or an absent()/rate rule would read a ghost queue, frozen at
            # its last values, for as long as sesd runs.
            self._drop(queue, self._where.pop(queue))
        for queue in places:
            now = where(queue)
            was = self._where.get(queue, now)
            if was != now:
                # A reload moved the queue to another account or region: its series
                # under the old ones would stay, frozen, as long as sesd runs.
                self._drop(queue, was)
            self._where[queue] = now
            self.sqs_received.labels(queue, *now)
            for operation in SQS_OPERATIONS:
                self.sqs_errors.labels(queue, *now, operation)
            for operation in SQS_RETRIED:
                self.sqs_retries.labels(queue, *now, operation)
        self._places = places
        self._children = {}

    def _drop(self, queue: str, where: tuple[str, str]) -> None:
        self.sqs_received.remove(queue, *where)
        for operation in SQS_OPERATIONS:
            self.sqs_errors.remove(queue, *where, operation)
            self.sqs_retries.remove(queue, *where, operation)

    def at(self, queue: QueueConfig) -> QueueCounts:
        """What a poller of ``queue`` (read where ``queue.place`` says) counts."""
        return QueueCounts(self, queue.label, queue.place)

    def _child(self, counter: Counter, labels: tuple[str, ...]) -> Any:
        """``counter``'s series of ``labels``, looked up once a configuration."""
        key = (counter, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        return child

    def _in_force(self, queue: str, place: Place) -> tuple[str, str] | None:
        """The gate: the (account, region) of ``queue``'s series when ``place`` is where
        the queue in force under that name is read, else None (moved or removed)."""
        if self._places.get(queue) != place:
            return None
        return self._where[queue]


class QueueCounts:
    """The counts of one place's calls on its queue's SQS series: taken while the
    place is the queue's in force, none once a reload moved or removed the queue
    (:meth:`SqsSeries._in_force`)."""

    __slots__ = ("_label", "_place", "_series")

    def __init__(self, series: SqsSeries, label: str, place: Place) -> None:
        self._series = series
        self._label = label
        self._place = place

    def received(self, n: int) -> None:
        """``n`` messages received."""
        self._count(self._series.sqs_received, n)

    def error(self, operation: str, n: int = 1) -> None:
        """``n`` failed calls of ``operation`` (one of :data:`SQS_OPERATIONS`)."""
        self._count(self._series.sqs_errors, n, operation)

    def retried(self, operation: str, n: int) -> None:
        """``n`` times the SDK tried a call of ``operation`` again."""
        if n:
            self._count(self._series.sqs_retries, n, operation)

    def in_force(self) -> bool:
        """Whether the place counted is where the queue in force under its name is read
        (not once a reload moved or removed it; a reload that changed only how it is
        read leaves it so): also whether a queue check's answer there counts for
        readiness (sesd.runtime.queue_check)."""
        return self._series._in_force(self._label, self._place) is not None

    def _count(self, counter: Counter, n: int, *labels: str) -> None:
        """Every count on the SQS series passes here, through the gate."""
        series = self._series
        where = series._in_force(self._label, self._place)
        if where is not None:
            series._child(counter, (self._label, *where, *labels)).inc(n)
