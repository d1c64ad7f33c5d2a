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

A step no process measured, one while sesd was stopped (a state file's times are the
clock's that saved it), is met by sesd.alerting.rules.step instead: a time ahead of
now is taken as now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sesd.alerting.evaluator import Evaluator

__all__ = ["moved"]


def moved(evaluator: Evaluator, step: float) -> None:
    """Every time ``evaluator`` holds moved ``step`` seconds: the wall clock stepped so,
    after the evaluation under way was finished on the clock it began on."""
    for states in evaluator.states.values():
        for state in states.values():
            state.moved(step)
    evaluator.current = {key: alert.moved(step) for key, alert in evaluator.current.items()}
    fired = evaluator.rechecked.fired
    evaluator.rechecked.fired = {key: (rule, at + step) for key, (rule, at) in fired.items()}
    evaluator.groups.moved(step)
