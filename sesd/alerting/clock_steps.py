"""What a step of the wall clock moves in the alerting: every time it holds.

The evaluator holds wall-clock times: when each alert began pending or fired, was last
sent and resolved (its state), when the alerts it last sent while firing were made
(what Alertmanager is posted again), when each firing alert fired under the rule a
reload changed since (sesd.alerting.rechecked), and when each group began its
group_wait, with its alerts. A step the daemon measures (sesd.runtime.clock: the wall
clock against the monotonic clock's reckoning) moves them all by the step, together.
An alert that had fired forty minutes has still fired forty minutes on the new clock:
its reminder says so, and Alertmanager's startsAt is when it began on that clock (a
start taken as the step's time told "firing for 1s", startsAt moved to the step). Its
reminders, its ``for`` and its group_wait run on as if no step came: a step back
holds nothing for the step's length, a step ahead sends nothing early. Moved apart,
a start no longer matched the rule it fired under, nor the alert posted again.

What waits to be delivered moves too (sesd.alerting.service.Alerting.stepped, with
:class:`Moves`): the notifications in each outbox and the resolves Alertmanager
members are owed. Left on the old clock, a resolve waiting out an outage across a
step back ended an hour ahead (Alertmanager kept the alert firing that long), and the
state file saved its old start and end.

A step while sesd was stopped is read from the state file: as far back as the file was
saved ahead of the clock, its times moved as far (sesd.runtime.state_alerts.stepped_back,
with :func:`fired_moved`). A step no process measures (under the clock's tolerance, a
time a file holds ahead of its own save) is met by sesd.alerting.rules.step: a time
ahead of now is taken as now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sesd.alerting.alert import Alert, Notification

if TYPE_CHECKING:
    from sesd.alerting.evaluator import Evaluator
    from sesd.config import RuleConfig

__all__ = ["Moves", "fired_moved", "moved"]


def moved(evaluator: Evaluator, moves: Moves) -> None:
    """Every time ``evaluator`` holds moved as far as the clock stepped (``moves``, the
    step's one memory of what it moved: an alert the evaluator holds that also waits in
    an outbox stays one object), after the evaluation under way was finished on the
    clock it began on."""
    step = moves.step
    for states in evaluator.states.values():
        for state in states.values():
            state.moved(step)
    evaluator.current = {key: moves.alert(alert) for key, alert in evaluator.current.items()}
    evaluator.rechecked.fired = fired_moved(evaluator.rechecked.fired, step)
    evaluator.groups.moved(moves)


def fired_moved(
    fired: dict[tuple[str, str], tuple[RuleConfig, float]], step: float
) -> dict[tuple[str, str], tuple[RuleConfig, float]]:
    """``fired`` (the rule each firing alert fired under, and when: Rechecked.fired) with
    each time moved ``step`` seconds, as its alert's start: still that incident's."""
    return {key: (rule, at + step) for key, (rule, at) in fired.items()}


class Moves:
    """One step's moves of what waits to be delivered (sesd.alerting.sink_outboxes: the
    notifications in the outboxes, the resolves Alertmanager members are owed), each
    made once: a notification queued for several sinks, an alert in several
    notifications or owed to several members, stays one object, as recall and the
    state file's resolves owed tell them by identity (moved apart, one resolve owed
    to two sinks was saved as two)."""

    def __init__(self, step: float) -> None:
        self.step = step
        #: id of each object moved -> (it, kept alive so that no other takes its id; moved).
        self._made: dict[int, tuple[Any, Any]] = {}

    def alert(self, alert: Alert) -> Alert:
        """``alert`` moved: its times as far as the clock stepped."""
        moved_alert: Alert = self._once(alert, lambda: alert.moved(self.step))
        return moved_alert

    def notification(self, notification: Notification) -> Notification:
        """``notification`` moved: its time and its alerts' (:meth:`alert`)."""

        def made() -> Notification:
            alerts = tuple(self.alert(alert) for alert in notification.alerts)
            return replace(notification, at=notification.at + self.step, alerts=alerts)

        moved_notification: Notification = self._once(notification, made)
        return moved_notification

    def _once(self, thing: Any, make: Callable[[], Any]) -> Any:
        """``thing`` moved, by ``make`` the first time it is asked for."""
        found = self._made.get(id(thing))
        if found is None:
            found = self._made[id(thing)] = (thing, make())
        return found[1]
