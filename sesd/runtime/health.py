"""What /healthz and /readyz answer, kept by the tasks that know."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import anyio

__all__ = ["Changes", "Health"]

#: A queue counts as ready while it answered a receive within this many seconds.
READY_WITHIN = 60.0
#: What /readyz and ``STATUS=`` say while the state file's saves fail (the status
#: page's words).
STATE_FAILING = (
    "state file save FAILED: a restart would lose what sesd did since the last one that worked"
)
#: What /readyz says once a stop has begun.
STOPPING = "stopping (draining what was received)"


@dataclass(slots=True)
class Health:
    """Per-queue receive successes, on the monotonic clock. (The daemon only runs
    with a loaded config, so readiness is the queues' alone.)"""

    queues: list[str]
    last_receive: dict[str, float] = field(default_factory=dict)
    ready_within: float = READY_WITHIN
    #: Queues whose receives fail for good (denied, deleted, a KMS key disabled) or
    #: again and again, until one succeeds: what would fill the windows waits there.
    failing: set[str] = field(default_factory=set)
    #: The host's clock minus AWS's, from the latest SQS answer's Date header (to the
    #: second); None before one.
    clock_offset: float | None = None
    #: When each queue's pollers began (a start, a reload that added it): a queue that
    #: has answered no receive since counts as hung from ``ready_within`` after.
    polled_since: dict[str, float] = field(default_factory=dict)
    #: The last save of the state file failed (a full or read-only disk): sesd still
    #: reads and alerts, but a restart would lose what it did since the last one.
    state_failing: bool = False
    #: When each queue's place last answered another call than a receive (its check,
    #: :meth:`answered`): it counts for readiness as a receive does.
    last_answer: dict[str, float] = field(default_factory=dict)
    #: A stop has begun: the pollers receive no more, what they brought is drained, and
    #: sesd exits. Not ready whatever the queues say, so that a load balancer that asks
    #: /readyz sends no more to a daemon going away, nor does anyone read "ready" on it.
    stopping: bool = False
    #: Told when a queue's place answers a call other than a receive (a receive's
    #: poller tells its own batches), for what waits on readiness.
    changed: Callable[[], None] = lambda: None

    def follow(self, queues: list[str], moved: Iterable[str] = ()) -> None:
        """The queues a reload left: one removed is no longer failing, so its alerts'
        resolves are not held for it (what waits there is no longer sesd's to read); nor
        is it hung, and one added again later is judged from its new pollers' start.
        One ``moved`` (read at another URL, region or account) is judged from its new
        pollers' start as well, by its new place alone: a receive its old place
        answered a moment ago would keep it ready for ``ready_within`` while the new
        one hangs, sesd reading nothing of it; one its old place refused would hold
        its alerts' resolves while the new one reads."""
        self.queues = queues
        judged = set(queues) - set(moved)
        self.failing &= judged
        known = self.last_receive.keys() | self.polled_since.keys() | self.last_answer.keys()
        for gone in known - judged:
            self.last_receive.pop(gone, None)
            self.polled_since.pop(gone, None)
            self.last_answer.pop(gone, None)

    def polling(self, queue: str, now: float) -> None:
        """A poller of ``queue`` begins (each of its pollers says so; the first counts).
        An answer known from before is not this queue's: that of a queue a reload
        removed, which came while its pollers ended, before a reload added it again."""
        if queue not in self.polled_since:
            self.polled_since[queue] = now
            self.last_receive.pop(queue, None)
            self.last_answer.pop(queue, None)

    def received(self, queue: str, now: float) -> None:
        """A receive on ``queue`` succeeded (with or without messages)."""
        self.last_receive[queue] = now
        self.failing.discard(queue)

    def answered(self, queue: str, now: float) -> None:
        """Another call to ``queue``'s place in force answered (the check of its redrive
        policy, at start and after a reload that adds or moves it): it is known to answer
        there, a long poll (up to 20 s) before its first receive returns empty, and
        counts as a receive would. Not as a recovery: a failing receive is a receive's
        to clear. Its pollers are counted from now if they have not begun yet (their
        start would take the answer for one from before them)."""
        self.polled_since.setdefault(queue, now)
        self.last_answer[queue] = now
        self.changed()

    def _silent(self, queue: str, now: float, before: float) -> bool:
        """Whether ``queue`` answered no receive (nor its check) within ``ready_within``
        of ``now``; ``before``: when that is counted from if it answered none yet."""
        last = max(self.last_receive.get(queue, before), self.last_answer.get(queue, before))
        return now - last > self.ready_within

    def unread(self, now: float) -> list[str]:
        """The queues whose events sesd is not reading, so that an empty window may be
        one whose events wait there: those failing, and those hung (polled, and no
        receive answered for ``ready_within``: a receive taken and never answered, a
        poller stuck; nothing fails). The alerting holds resolves alike for both."""
        return [
            q
            for q in self.queues
            if q in self.failing
            or (q in self.polled_since and self._silent(q, now, self.polled_since[q]))
        ]

    def ready(self, now: float) -> tuple[bool, list[str]]:
        """Ready when every queue answered recently and none is failing, and no stop has
        begun; returns the queues that are not. The one answer /readyz,
        ``sesd_queue_ready`` and the status page give: a queue found unusable is not
        ready from that receive on, not a minute later when its last good one grows
        old."""
        stale = [q for q in self.queues if q in self.failing or self._silent(q, now, float("-inf"))]
        return not stale and not self.stopping, stale

    def summary(self, monotonic: Callable[[], float]) -> str:
        """What the queues are doing, in a line (systemd's ``STATUS=``), and a failing
        state file save."""
        ready, stale = self.ready(monotonic())
        if self.stopping:
            said = "draining"  # what the stop's own STATUS= said
        elif ready:
            said = f"consuming {', '.join(self.queues)}"
        else:
            said = f"running; no receive lately, or failing: {', '.join(stale)} (see /readyz)"
        return f"{said}; {STATE_FAILING}" if self.state_failing else said

    def notes(self) -> str:
        """What /readyz adds to its answer, a line each: a failing state file save.
        Not a reason to be unready: sesd still reads and alerts, and a Service or a
        rollout that dropped it for its disk would stop that too."""
        if not self.state_failing:
            return ""
        return f"{STATE_FAILING} (sesd.state.save_failed says why)\n"


class Changes:
    """A broadcast "something changed" signal: waiters re-check their condition.

    The pollers notify after each batch, so a test or the demo can wait for a
    condition on the pipeline's state without sleeping.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        #: What the waiters wait on; made by the first of them, so a change nobody waits
        #: for (the daemon's, a batch at a time) makes none: an event costs as much as
        #: a fifth of a turn of the event loop.
        self._event: anyio.Event | None = None

    def notify(self) -> None:
        """Wake every waiter."""
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, re-checking after each change."""
        while not predicate():
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()
