"""How urgent a notification is, and which one a full outbox drops first: the order
of a sink's outbox (:mod:`sesd.alerting.outbox`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sesd.alerting.alert import SEVERITY_RANK, Notification
from sesd.alerting.rules import Transition

__all__ = ["least_urgent_oldest", "placed", "rank"]

#: Which kind a full outbox drops first, of its least urgent notifications.
_DROP_ORDER = {Transition.REPEAT: 0, Transition.FIRING: 1, Transition.RESOLVED: 2}


def rank(notification: Notification) -> int:
    """How urgent a notification is: its rule's severity (0 the most)."""
    return SEVERITY_RANK.get(notification.severity, len(SEVERITY_RANK))


def least_urgent_oldest(queue: Collection[Notification]) -> Notification:
    """Of the least urgent in ``queue`` (oldest first), the one a full outbox drops:
    a repeat first, then a firing, a resolve last."""
    least = max(rank(notification) for notification in queue)
    return min(
        (notification for notification in queue if rank(notification) == least),
        key=lambda notification: _DROP_ORDER[notification.kind],
    )


def placed(queue: Sequence[Notification], at: int, was: Notification, now: Notification) -> int:
    """Where ``now`` goes in ``queue``, standing for ``was`` (taken out of place ``at``):
    there, or, less urgent than it (a recall left a critical page its warning alerts),
    behind the more urgent queued after it, as it would have been queued, but never
    behind its own rule's (a trigger after its resolve keeps an incident open). Left
    ahead, a warning page held a storm's critical pages behind it."""
    if rank(now) <= rank(was):
        return at
    while at < len(queue) and queue[at].rule != now.rule and rank(queue[at]) < rank(now):
        at += 1
    return at
