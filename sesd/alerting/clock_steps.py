"""What a step of the wall clock moves in the alerting: every time it holds.

The evaluator holds wall-clock times: when each alert began pending or fired, was last
sent and resolved (its state), when the alerts it last sent while firing were made
(what Alertmanager is posted again), when each firing alert fired under the rule a
reload changed since (sesd.alerting.changes.Rechecked), and when each group began its
group_wait, with its alerts. A step the daemon measures (sesd.runtime.clock: the wall
clock against the monotonic clock's reckoning) moves them all by the step, together.
An alert that had fired forty minutes has still fired forty minutes on the new clock:
its reminder says so, and Alertmanager's startsAt is when it began on that clock (a
start taken as the step's time told "firing for 1s", startsAt moved to the step). Its
reminders, its ``for`` and its group_wait run on as if no step came: a step back
holds nothing for the step's length, a step ahead sends nothing early. Moved apart,
a start no longer matched the rule it fired under, nor the alert posted again.

A step while sesd was stopped is read from the state file: as far back as the file was
saved ahead of the clock, its times moved as far (sesd.runtime.state_alerts.stepped_back,
with :func:`fired_moved`). A step no process measures (under the clock's tolerance, a
time a file holds ahead of its own save) is met by sesd.alerting.rules.step: a time
ahead of now is taken as now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sesd.alerting.evaluator import Evaluator
    from sesd.config import RuleConfig

__all__ = ["fired_moved", "moved"]


def moved(evaluator: Evaluator, step: float) -> None:
    """Every time ``evaluator`` holds moved ``step`` seconds: the wall clock stepped so,
    after the evaluation under way was finished on the clock it began on."""
    for states in evaluator.states.values():
        for state in states.values():
            state.moved(step)
    evaluator.current = {key: alert.moved(step) for key, alert in evaluator.current.items()}
    evaluator.rechecked.fired = fired_moved(evaluator.rechecked.fired, step)
    evaluator.groups.moved(step)


def fired_moved(
    fired: dict[tuple[str, str], tuple[RuleConfig, float]], step: float
) -> dict[tuple[str, str], tuple[RuleConfig, float]]:
    """``fired`` (the rule each firing alert fired under, and when: Rechecked.fired) with
    each time moved ``step`` seconds, as its alert's start: still that incident's."""
    return {key: (rule, at + step) for key, (rule, at) in fired.items()}
