"""What a sink that posts a notification in several requests keeps of one it sent part of.

PagerDuty takes one event per alert; a wide webhook notification goes as several
documents. A post that fails part-way (a 429, a 5xx, a timeout) leaves the outbox to
try the notification again: the sink goes on from the first request not taken, not
from the start (PagerDuty's rate limit would be spent on the same first events, a
webhook's receiver would take the first parts twice). What it keeps is told by the
object the outbox holds, kept alive so that no other takes its id; a clock step moves
that object (sesd.alerting.clock_steps), and this memory with it, during a post too.
A sink a reload makes anew to the same place shares its memory with the one it
replaces (copied, a post under way at the reload that then failed was kept by the old
sink alone, and the new one began again from the start). Where each goes on from, a
post under way included (:meth:`PartSent.posting`), is what a stop saves of it
(:meth:`PartSent.progress`), and what a restart begins it from
(:meth:`PartSent.resume`; sesd.alerting.part_saved).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from sesd.alerting.alert import Notification
from sesd.alerting.clock_steps import Moves

if TYPE_CHECKING:
    from sesd.alerting.sinks import Permanent

__all__ = ["PartSent"]

#: Where a sink goes on from: PagerDuty's first event not taken, a webhook's part.
Progress = TypeVar("Progress")


class PartSent(Generic[Progress]):
    """Notifications part-sent, by the object: where each goes on from, and the
    refusals for good (a post the receiver will never take) met so far."""

    #: Notifications kept at most (the oldest forgotten: an outbox retries one at a
    #: time, with a few stepped aside for more urgent ones).
    MOST = 64

    def __init__(self) -> None:
        self._kept: dict[int, tuple[Notification, Progress, list[Permanent]]] = {}
        #: The notification last taken, as the sink was given it and as a clock step
        #: during its posts moved it: the one its outbox tries again.
        self._sending: tuple[Notification, Notification] | None = None
        #: Where the notification last taken stands while its post is under way: the
        #: request being made (its answer not in yet), and the refusals before it.
        self._posting: tuple[Progress, list[Permanent]] | None = None

    def take(self, notification: Notification, start: Progress) -> tuple[Progress, list[Permanent]]:
        """Where ``notification`` goes on from (``start`` when none of it was sent) and
        its refusals so far; forgotten until :meth:`keep` (a post failed again)."""
        self._sending, self._posting = (notification, notification), None
        _, progress, refused = self._kept.pop(id(notification), (notification, start, []))
        return progress, refused

    def keep(
        self, notification: Notification, progress: Progress, refused: list[Permanent]
    ) -> None:
        """Remember that ``notification`` goes on from ``progress`` at its next try: told
        by the object a clock step during its posts moved it to, the one its outbox
        holds now (by the one the sink was given, the retry began again from the start)."""
        if self._sending is not None and self._sending[0] is notification:
            notification = self._sending[1]
        self._sending, self._posting = None, None
        self.resume(notification, progress, refused)

    def resume(
        self, notification: Notification, progress: Progress, refused: list[Permanent]
    ) -> None:
        """Remember that ``notification``, the object its outbox holds, goes on from
        ``progress`` (a restart's, as the stop left it)."""
        while len(self._kept) >= self.MOST:
            del self._kept[next(iter(self._kept))]
        self._kept[id(notification)] = (notification, progress, refused)

    def posting(self, progress: Progress, refused: list[Permanent]) -> None:
        """The notification last taken is being posted from ``progress`` (a request
        under way: its answer lost, it is made again), ``refused`` so far."""
        self._posting = (progress, list(refused))

    def progress(self, notification: Notification) -> tuple[Progress, list[Permanent]] | None:
        """Where ``notification`` (the object its outbox holds) goes on from at its next
        try, and its refusals so far: kept, or of its post under way; None when none of
        it was posted."""
        kept = self._kept.get(id(notification))
        if kept is not None:
            return kept[1], list(kept[2])
        if self._sending is not None and self._sending[1] is notification:
            return None if self._posting is None else (self._posting[0], list(self._posting[1]))
        return None

    def moved(self, moves: Moves) -> None:
        """The wall clock stepped (measured): each notification is told by the object
        its outbox holds now, moved, the one under way too. By the one it replaced, the
        moved one began again from the start."""
        kept = [(moves.notification(n), at, refused) for n, at, refused in self._kept.values()]
        self._kept = {id(n): (n, at, refused) for n, at, refused in kept}
        if self._sending is not None:
            self._sending = (self._sending[0], moves.notification(self._sending[1]))
