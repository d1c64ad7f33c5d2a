"""The rule an alert fired under, kept where a reload changed it since (its resolve
says the rule changed; a sink named anew is told the thresholds it fired under), is
kept for the incident after the wall clock steps back past when the alert fired: the
alert's start moves to the new clock (moved by the step where sesd measured it, taken
as now where no process did: sinks refuse a start after its end), and the incident is
still the one that fired under that rule. (A restart on a clock behind the state
file's save: tests/test_state_stepped_back.py.)"""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike

CHANGED = "the rule was changed in the config (above 0.2 to 0.3)"


@pytest.mark.parametrize("told", [True, False], ids=["measured", "not measured"])
def test_a_resolve_after_a_clock_step_back_says_the_rule_changed(told: bool) -> None:
    """a.example fires at 60% above 20%; a reload moves the rule to 30%. The clock steps
    back an hour; once the window has filled again (60%), the alert's start is the new
    clock's: moved back by the step where sesd measured it (a running daemon), the
    first step's time where no process did. It then resolves at 25%: the resolve says
    the rule changed, as without the step."""
    first = parse_config(SINKS + rule())
    later = parse_config(SINKS + rule().replace("0.2", "0.3"))
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    evaluator.configure(later.alerts, WINDOWS, T + 1, pipeline.ledger)
    back = T - 3600
    if told:
        evaluator.stepped(back, -3601)
    feed_spike(pipeline, "a.example", back + 400, 6, 4)
    assert evaluator.evaluate(pipeline.ledger, back + 400) == []
    assert evaluator.states["delays"]["a.example"].since == (T - 3601 if told else back + 400)
    feed_spike(pipeline, "a.example", back + 410, 0, 14)
    (resolved,) = evaluator.evaluate(pipeline.ledger, back + 410)
    assert (resolved.kind, resolved.value, resolved.notes) == (
        Transition.RESOLVED,
        0.25,
        (CHANGED,),
    )


def test_a_sink_named_anew_after_a_clock_step_back_is_told_the_rule_it_fired_under() -> None:
    """a.example fires at 60% above 20% on the pager; a reload moves the rule to 30%,
    and the reminder tells those in force. The clock steps back an hour, then a reload
    also names the chat: it is paged the reminder, told the 20% it fired under, as it
    would have been without the step."""
    sinks = SINKS.replace('group_wait = "0s"', 'group_wait = "0s"\nrepeat_interval = "10m"')
    first = parse_config(sinks + rule())
    later = parse_config(sinks + rule().replace("0.2", "0.3"))
    named = parse_config(sinks + rule(extra='sinks = ["pager", "chat"]\n').replace("0.2", "0.3"))
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    evaluator.configure(later.alerts, WINDOWS, T + 1, pipeline.ledger)
    feed_spike(pipeline, "a.example", T + 600, 6, 4)
    (reminder,) = evaluator.evaluate(pipeline.ledger, T + 600)
    assert (reminder.kind, reminder.threshold) == (Transition.REPEAT, 0.3)
    evaluator.due(T + 600)
    back = T - 3600
    evaluator.stepped(back, -4201)
    feed_spike(pipeline, "a.example", back + 400, 6, 4)
    assert evaluator.evaluate(pipeline.ledger, back + 400) == []
    evaluator.due(back + 400)
    (page,) = evaluator.configure(named.alerts, WINDOWS, back + 401, pipeline.ledger)
    assert (page.kind, page.value, page.threshold) == (Transition.FIRING, 0.6, 0.2)


def test_an_alert_firing_anew_after_a_clock_step_back_is_told_the_rule_in_force() -> None:
    """a.example fires at 60% above 20%; a reload moves the rule to 30%, and the alert
    resolves at 25% (saying the rule changed). The clock steps back an hour and the
    alert fires again at 60%: a new incident, fired under 30%, is told 30%; its start
    is before the resolved one's, yet it is not that incident."""
    first = parse_config(SINKS + rule())
    later = parse_config(SINKS + rule().replace("0.2", "0.3"))
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    evaluator.configure(later.alerts, WINDOWS, T + 1, pipeline.ledger)
    feed_spike(pipeline, "a.example", T + 2, 0, 14)
    (resolved,) = evaluator.evaluate(pipeline.ledger, T + 2)
    assert (resolved.kind, resolved.notes) == (Transition.RESOLVED, (CHANGED,))
    evaluator.due(T + 2)
    back = T - 3600
    evaluator.stepped(back, -3603)
    feed_spike(pipeline, "a.example", back + 400, 6, 4)
    (fired,) = evaluator.evaluate(pipeline.ledger, back + 400)
    assert (fired.kind, fired.value, fired.threshold) == (Transition.FIRING, 0.6, 0.3)
