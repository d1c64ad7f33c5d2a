"""What a sink's outbox holds, in the order it delivers, and which notification goes
when it holds more than its size.

The most urgent first (by the rule's severity), in order within a severity, never one
ahead of its own rule's (a firing and its resolve keep their order); one that stepped
aside for a more urgent one goes first of its severity again (sesd.alerting.urgency
says how urgent and what goes first). Over its size, the oldest of the least urgent
goes: a repeat before a firing before a resolve, one a delivery has begun on (it may
be part-sent) only after every one not begun. The delivery loop
(sesd.alerting.outbox) takes from the head of :attr:`Queued.line`, and logs and counts
what goes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sesd.alerting.alert import Notification
from sesd.alerting.behind import resolved_behind
from sesd.alerting.urgency import least_urgent_oldest, placed, rank

__all__ = ["Queued"]


class Queued:
    """A sink's queued notifications, and when each one stepped aside was first tried."""

    def __init__(self, size: int) -> None:
        #: The most it holds once :meth:`over` has run.
        self.size = size
        #: The notifications, the next to deliver first: the delivery loop takes its head.
        self.line: deque[Notification] = deque()
        #: When each notification stepped aside was first tried (its max_age runs on).
        self._first_tried: dict[int, float] = {}

    def add(self, notification: Notification, *, ahead: bool = False) -> None:
        """Queue ``notification`` ahead of the less urgent (``ahead``: of the as urgent
        too, for one that was being delivered), never ahead of its own rule's (a firing
        and its resolve keep their order, whatever a reload did to the severity)."""
        queue, at, rule = self.line, rank(notification), notification.rule
        # Its own rule's came after one that was being delivered, before a new one.
        own = [i + 1 for i, queued in enumerate(queue) if queued.rule == rule]
        after = 0 if ahead or not own else own[-1]
        for i in range(after, len(queue)):
            queued = queue[i]
            if rank(queued) > at or (ahead and (rank(queued) == at or queued.rule == rule)):
                queue.insert(i, notification)
                return
        queue.append(notification)

    def over(self) -> list[Notification]:
        """Take out what is over :attr:`size`, and return it: each time the oldest of the
        least urgent, a repeat first (the firing went, and another repeat comes), then a
        firing (its next repeat pages), a resolve last (nothing sends it again: its
        incident would stay open for ever). Of those no delivery has begun on first: one
        that stepped aside may be part-sent (a webhook's parts, PagerDuty's events), and
        dropped, the receiver had the first parts and never the rest (one gathering
        parts by ``id`` never completes it, an incident's pages missed some domains).
        So a notification coming to a full outbox drops one not begun, never one begun;
        only a smaller size (a reload) can drop those, once none not begun is left."""
        dropped = []
        while len(self.line) > self.size:
            dropped.append(least_urgent_oldest(self.waiting() or self.line))
            self.line.remove(dropped[-1])
            self._first_tried.pop(id(dropped[-1]), None)
        return dropped

    def step_aside(self, notification: Notification, first: float) -> None:
        """Queue ``notification``, first tried at ``first``, again: it stepped aside for
        a more urgent one, and goes first of its own severity."""
        self._first_tried[id(notification)] = first
        self.add(notification, ahead=True)

    def first_tried(self, notification: Notification, now: float) -> float:
        """When ``notification`` was first tried: ``now`` if it never stepped aside."""
        return self._first_tried.get(id(notification), now)

    def forget(self, notification: Notification) -> None:
        """``notification``'s delivery ended: it is not queued again."""
        self._first_tried.pop(id(notification), None)

    def waiting(self) -> list[Notification]:
        """The queued notifications no delivery has begun on."""
        return [n for n in self.line if id(n) not in self._first_tried]

    def swap(self, queued: Notification, other: Notification | None) -> None:
        """Put ``other`` where ``queued`` waits (None: take it out), or behind the more
        urgent after it where it is less urgent (:func:`~sesd.alerting.urgency.placed`)."""
        i = self.line.index(queued)
        del self.line[i]
        if other is not None:
            self.line.insert(placed(self.line, i, queued, other), other)

    def resolve_waits(self, rule: str, label: str) -> bool:
        """Whether a resolve of ``rule``'s alert on ``label`` is queued."""
        return any(told[0] == label for told in resolved_behind(self.line, rule))

    def remade(self, made: Callable[[Notification], Notification]) -> None:
        """Each notification no delivery has begun on is ``made``'s, in its place; one
        begun (stepped aside) is left as it is, as a sink may have part of it."""
        for i, queued in enumerate(self.line):
            if id(queued) not in self._first_tried:
                self.line[i] = made(queued)

    def moved(self, new: dict[int, Notification]) -> None:
        """Each queued notification is ``new``'s, by its id (a clock step moved it),
        keeping its place and its first try."""
        self._first_tried = {id(new[k]): t for k, t in self._first_tried.items() if k in new}
        for i, queued in enumerate(self.line):
            self.line[i] = new[id(queued)]
