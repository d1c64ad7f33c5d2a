"""A wall-clock step while sesd runs (an NTP step, a VM resumed, a hand's ``date``),
told to the evaluator as the daemon tells it (the step measured on the monotonic
clock): every time the alerting holds moves with the clock. An alert that has fired
forty minutes is still forty minutes old on the new clock: its reminder says "firing
for" what it has, its start (Alertmanager's startsAt) is when it began on the new
clock, and its reminders, its ``for`` and its group_wait run on as if no step came:
a step back holds nothing for the step's length, a step ahead sends nothing early."""

from __future__ import annotations

import pytest

from sesd.alerting.documents import alertmanager_documents
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import firing_span
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.timestamps import iso
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike

STEPS = pytest.mark.parametrize("step", [-3600.0, 3600.0], ids=["an hour back", "an hour ahead"])
REMINDED = SINKS.replace('group_wait = "0s"', 'group_wait = "0s"\nrepeat_interval = "10m"')


def _firing_forty_minutes() -> tuple[Pipeline, Evaluator]:
    """a.example fired at 60% at T and was reminded at T + 40m."""
    config = parse_config(REMINDED + rule())
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    for at, kind in ((T, Transition.FIRING), (T + 2400, Transition.REPEAT)):
        feed_spike(pipeline, "a.example", at, 6, 4)
        (alert,) = evaluator.evaluate(pipeline.ledger, at)
        assert alert.kind is kind
        evaluator.due(at)
    return pipeline, evaluator


@STEPS
def test_a_reminder_after_a_clock_step_says_how_long_the_alert_has_fired(step: float) -> None:
    """Five seconds after the reminder at T + 40m, the wall clock steps an hour: what
    Alertmanager is posted again starts when the alert fired, on the new clock (not at
    the step: "firing for 1s"), and the next reminder comes ten minutes after the last,
    on the new clock (not at once, nor an hour on), saying "firing for 50m00s" since
    then, its startsAt that start, no later than its endsAt."""
    pipeline, evaluator = _firing_forty_minutes()
    now = T + 2405 + step
    evaluator.stepped(now, step)
    assert evaluator.current["delays", "a.example"].since == T + step
    assert evaluator.states["delays"]["a.example"].since == T + step
    feed_spike(pipeline, "a.example", T + 2999 + step, 6, 4)
    assert evaluator.evaluate(pipeline.ledger, T + 2999 + step) == []
    feed_spike(pipeline, "a.example", T + 3000 + step, 6, 4)
    (reminder,) = evaluator.evaluate(pipeline.ledger, T + 3000 + step)
    assert reminder.kind is Transition.REPEAT
    assert firing_span(reminder).startswith("firing for 50m00s, since ")
    (notification,) = evaluator.due(T + 3000 + step)
    (doc,) = alertmanager_documents(notification, 60.0)
    assert doc["startsAt"] == iso(T + step) < doc["endsAt"]


@STEPS
def test_a_pending_alert_fires_after_its_for_whatever_the_clock_steps(step: float) -> None:
    """a.example breaches under a ``for`` of ten minutes; a minute on, the wall clock
    steps an hour: it fires ten minutes after it began breaching, on the new clock (a
    step ahead does not cut the ``for`` short, a step back does not begin it again),
    and its start is when it fired."""
    config = parse_config(SINKS + rule(extra='for = "10m"\nsinks = ["pager"]\n'))
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    assert evaluator.evaluate(pipeline.ledger, T) == []
    evaluator.stepped(T + 60 + step, step)
    for at in (T + 60 + step, T + 599 + step):
        feed_spike(pipeline, "a.example", at, 6, 4)
        assert evaluator.evaluate(pipeline.ledger, at) == [], at
    feed_spike(pipeline, "a.example", T + 600 + step, 6, 4)
    (fired,) = evaluator.evaluate(pipeline.ledger, T + 600 + step)
    assert (fired.kind, fired.since) == (Transition.FIRING, T + 600 + step)


@STEPS
def test_a_clock_step_between_slices_ends_the_evaluation_on_its_own_clock(step: float) -> None:
    """An evaluation begun in slices at T + 40m when the wall clock steps (told from
    another task, between two slices): it is finished on the clock it began on first,
    its reminder "firing for 40m00s", then its times move with the clock."""
    config = parse_config(REMINDED + rule())
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    feed_spike(pipeline, "a.example", T + 2400, 6, 4)
    evaluation = evaluator.slices(pipeline.ledger, T + 2400)
    evaluator.stepped(T + 2400 + step, step)
    for _ in evaluation:
        pass
    (reminder,) = evaluator.evaluate(pipeline.ledger, T + 2400)
    assert reminder.kind is Transition.REPEAT
    assert firing_span(reminder).startswith("firing for 40m00s, since ")
    assert evaluator.current["delays", "a.example"].since == T + step


@STEPS
def test_a_firing_waiting_its_group_wait_goes_when_it_is_over_whatever_the_clock_steps(
    step: float,
) -> None:
    """a.example fires at T and waits a group_wait of 30 s; ten seconds on, the wall
    clock steps an hour: the page goes 30 s after it fired, on the new clock (a step
    ahead sends it no sooner, a step back neither at once nor an hour on), telling when
    it fired on that clock."""
    config = parse_config(SINKS.replace('"0s"', '"30s"') + rule())
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    (fired,) = evaluator.evaluate(pipeline.ledger, T)
    assert fired.kind is Transition.FIRING
    assert evaluator.due(T + 10) == []
    evaluator.stepped(T + 10 + step, step)
    assert evaluator.due(T + 29 + step) == []
    (page,) = evaluator.due(T + 30 + step)
    (alert,) = page.alerts
    assert (alert.kind, alert.since, alert.at) == (Transition.FIRING, T + step, T + step)
