"""What the status page reads, and the little it remembers between requests.

:class:`Sources` names the live state the page reads: the same objects the
metrics read (the ledger, the evaluator's states and silences, the health of
the queues, the counters the I/O edges increment). Nothing here runs between
requests: no task, no hook on the write path.

:class:`Rates` is the page's own memory: the cumulative counters (messages
received, SQS errors, the lag histogram) as the last requests found them, so
a request can say how fast they moved since. A request records one sample
(at most one every ``gap`` seconds) and reads its rate against the newest
sample at least ``horizon`` old, else the oldest kept: the first request
after a start compares with the start itself, when every counter was 0.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sesd.alerting.evaluator import Evaluator
from sesd.core.ledger import Ledger
from sesd.io.build import revision
from sesd.io.replica import replica_name
from sesd.metrics.registry import Metrics

__all__ = ["Rates", "Readiness", "Sample", "Sources"]

#: (when, counter -> cumulative value)
Sample = tuple[float, dict[str, float]]


class Readiness(Protocol):
    """What the page reads of the queues' health (sesd.runtime.health.Health)."""

    @property
    def queues(self) -> list[str]:
        """The configured queues."""
        ...

    @property
    def last_receive(self) -> dict[str, float]:
        """Each queue's last successful receive, on the monotonic clock."""
        ...

    @property
    def clock_offset(self) -> float | None:
        """The host's clock minus AWS's (an SQS answer's Date header), or None."""
        ...

    @property
    def stopping(self) -> bool:
        """A stop has begun: not ready, whatever the queues say."""
        ...

    def ready(self, now: float) -> tuple[bool, list[str]]:
        """Whether every queue answered lately and no stop has begun; the queues that
        did not."""
        ...


@dataclass(slots=True)
class Sources:
    """The live state a status document is read from."""

    ledger: Ledger
    evaluator: Evaluator
    metrics: Metrics
    health: Readiness
    #: Wall time as a read that changes nothing (sesd.runtime.clock.AnchoredClock.peek).
    clock: Callable[[], float]
    #: The clock health is kept on.
    monotonic: Callable[[], float]
    #: When the daemon started (wall time).
    started: float
    version: str
    #: The commit this build was made from ("" unknown).
    revision: str = field(default_factory=revision)
    #: Why the silences file in force could not be read at the last look ("" when it
    #: could: sesd.alerting.silence_unread.Unreadable.why).
    silences_unread: Callable[[], str] = str
    #: This replica's name (sesd.io.replica: the machine's, a pod's in Kubernetes):
    #: which replica answered, when a Service in front of several hands each request
    #: to any of them; its messages name it alike.
    host: str = field(default_factory=replica_name)


class Rates:
    """Samples of cumulative counters taken by requests (see the module docstring)."""

    __slots__ = ("_samples", "gap", "horizon")

    def __init__(self, started: float, *, horizon: float = 300.0, gap: float = 2.0) -> None:
        self.horizon = horizon
        self.gap = gap
        # At most one sample per gap within the horizon, and the one before it.
        self._samples: deque[Sample] = deque([(started, {})], maxlen=int(horizon / gap) + 2)

    def __len__(self) -> int:
        return len(self._samples)

    def sample(self, now: float, values: dict[str, float]) -> Sample:
        """Record ``values`` at ``now``; returns the sample to compare them with."""
        samples = self._samples
        while len(samples) >= 2 and samples[1][0] <= now - self.horizon:
            samples.popleft()
        base = samples[0]
        if now - samples[-1][0] >= self.gap:
            samples.append((now, dict(values)))
        return base
