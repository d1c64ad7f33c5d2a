"""What of a notification goes to a sink that keeps each alert's state (Alertmanager),
given what waits behind it in the sink's outbox: not the alerts whose resolve waits
there, which says all there is of them.

Pure functions over an outbox's queue (sesd.alerting.outbox).
"""

from __future__ import annotations

from collections.abc import Iterable

from sesd.alerting.alert import Notification, told_by_labels, with_alerts
from sesd.alerting.rules import Transition

__all__ = ["resolved_behind", "still_told"]

#: What a sink telling alerts apart by their labels tells an alert by (told_by_labels).
Told = tuple[str, str, tuple[tuple[str, str], ...]]


def resolved_behind(queue: Iterable[Notification], rule: str) -> set[Told]:
    """:func:`told_by_labels` of each alert of ``rule`` whose resolve is in ``queue``."""
    return {
        told_by_labels(alert)
        for queued in queue
        if queued.kind is Transition.RESOLVED and queued.rule == rule
        for alert in queued.alerts
    }


def still_told(
    notification: Notification, queue: Iterable[Notification], keeps_state: bool
) -> Notification | None:
    """What of ``notification`` goes to a sink that keeps each alert's state
    (``keeps_state``: Alertmanager): not the alerts whose resolve waits behind it in
    ``queue`` (sent after an outage, a firing with its old startsAt pages at once, and
    its resolve ends it only a group interval later); None when none is left."""
    if notification.kind is Transition.RESOLVED or not keeps_state:
        return notification
    over = resolved_behind(queue, notification.rule)
    kept = tuple(alert for alert in notification.alerts if told_by_labels(alert) not in over)
    if len(kept) == len(notification.alerts):
        return notification
    return with_alerts(notification, kept) if kept else None
