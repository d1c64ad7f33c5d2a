"""A firing a reload owed a sink the rule names anew, with new thresholds, still
undelivered at the stop (the sink down): the restart pages that sink alone, told the
thresholds the alert fired under, as the other sinks were and as it would have been
without the stop, not those in force."""

from __future__ import annotations

import aiohttp
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_routing import RULE, _alerting, _queued
from tests.test_rule_changes import WINDOWS, T
from tests.test_rules import feed_spike

pytestmark = pytest.mark.timeout(30)

HEAD = (
    '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pagerduty]\ntype = "pagerduty"\n'
    'routing_key = "k"\nevents_url = "http://127.0.0.1:9/e"\n'
)


@pytest.mark.parametrize(
    ("window", "told"),
    [
        ("5m", ("5m", 0.2)),
        # Another window read now: its value is against the thresholds in force.
        ("15m", ("15m", 0.3)),
    ],
)
async def test_a_new_sinks_firing_left_at_a_stop_is_told_the_thresholds_it_fired_at(
    window: str, told: tuple[str, float]
) -> None:
    first = HEAD + RULE + 'sinks = ["console"]\n'
    changed = RULE.replace("0.2", "0.3").replace('"5m"', f'"{window}"')
    later = parse_config(HEAD + changed + 'sinks = ["console", "pagerduty"]\n')
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(first)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "console") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(later)
        (owed,) = alerting.outboxes["pagerduty"].unsent()
        assert [(owed.kind, a.threshold) for a in owed.alerts] == [(Transition.FIRING, 0.2)]
        unsent = alerting.undelivered()
        assert unsent.firing == {("delays", "a.example"): ["pagerduty"]}
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    after, ledger = Evaluator(later.alerts, WINDOWS), Pipeline(core_settings(later))
    restore(blob, ledger.ledger, after, T + 3)
    feed_spike(ledger, "a.example", T + 3, 6, 4)
    after.evaluate(ledger.ledger, T + 3)
    (page,) = after.due(T + 3)
    assert (page.kind, page.sinks) == (Transition.FIRING, ("pagerduty",))
    assert [(a.domain, a.window, a.threshold) for a in page.alerts] == [("a.example", *told)]


async def test_a_firing_a_sink_missed_before_new_thresholds_is_told_those_it_fired_at() -> None:
    """The console takes a.example's page above 20%, PagerDuty (down) does not; a reload
    then moves the rule to 30%, and sesd stops. The restart pages PagerDuty alone, with
    the 20% the console was told."""
    both = HEAD + RULE + 'sinks = ["console", "pagerduty"]\n'
    later = parse_config(both.replace("0.2", "0.3"))
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(both)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "console") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(later)
        unsent = alerting.undelivered()
        assert unsent.firing == {("delays", "a.example"): ["pagerduty"]}
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    after, ledger = Evaluator(later.alerts, WINDOWS), Pipeline(core_settings(later))
    restore(blob, ledger.ledger, after, T + 3)
    feed_spike(ledger, "a.example", T + 3, 6, 4)
    after.evaluate(ledger.ledger, T + 3)
    (page,) = after.due(T + 3)
    assert (page.kind, page.sinks) == (Transition.FIRING, ("pagerduty",))
    assert [(a.domain, a.threshold) for a in page.alerts] == [("a.example", 0.2)]


async def test_a_firing_the_rule_as_it_fired_would_have_ended_is_told_the_rule_in_force() -> None:
    """The console takes a.example's page above 20%, PagerDuty (down) does not; a reload
    moves the rule to 30%, clearing below 10%, and sesd stops. After the restart the
    value is 15%: the rule in force holds the alert firing, the rule as it fired would
    have ended it (it cleared at 20%). PagerDuty's page read "15% (fires above 20%,
    clears at 20%)", thresholds under which the alert was over; it is told those in
    force, under which it fires."""
    both = HEAD + RULE + 'sinks = ["console", "pagerduty"]\n'
    retuned = both.replace("0.2", "0.3").replace("sinks =", "clear_below = 0.1\nsinks =")
    later = parse_config(retuned)
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(both)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "console") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(later)
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    after, ledger = Evaluator(later.alerts, WINDOWS), Pipeline(core_settings(later))
    restore(blob, ledger.ledger, after, T + 3)
    feed_spike(ledger, "a.example", T + 3, 0, 30)  # 6 delayed of 40: 15%
    after.evaluate(ledger.ledger, T + 3)
    (page,) = after.due(T + 3)
    assert (page.kind, page.sinks) == (Transition.FIRING, ("pagerduty",))
    assert [(a.value, a.threshold, a.clear_threshold) for a in page.alerts] == [(0.15, 0.3, 0.1)]


async def test_a_sink_named_at_the_restart_is_not_told_thresholds_the_value_clears() -> None:
    """The console takes a.example's page above 20%; a reload moves the rule to 30%,
    clearing below 10%, and the value falls to 15% (still firing under it); sesd stops,
    and starts with PagerDuty added to the rule. PagerDuty's page read "15% (fires
    above 20%, clears at 20%)", thresholds under which the incident was over; it is
    told those in force, under which the alert fires."""
    first = HEAD + RULE + 'sinks = ["console"]\n'
    retuned = first.replace("0.2", "0.3").replace("sinks =", "clear_below = 0.1\nsinks =")
    later = parse_config(retuned.replace('["console"]', '["console", "pagerduty"]'))
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(first)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "console") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(parse_config(retuned))
        feed_spike(pipeline, "a.example", T + 1, 0, 30)  # 6 delayed of 40: 15%
        now[0] = T + 1
        assert alerting.evaluate() == []  # fires on under the rule in force
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    after, ledger = Evaluator(later.alerts, WINDOWS), Pipeline(core_settings(later))
    restore(blob, ledger.ledger, after, T + 3)
    (page,) = after.due(T + 3)
    assert (page.kind, page.sinks) == (Transition.FIRING, ("pagerduty",))
    assert [(a.value, a.threshold, a.clear_threshold) for a in page.alerts] == [(0.15, 0.3, 0.1)]


async def test_a_sink_named_at_the_restart_is_told_the_window_the_value_was_read_in() -> None:
    """The console takes a.example's page on the 5m window; a reload moves the rule to
    the 15m one (and 30%), whose value the next evaluation reads; sesd stops, and starts
    with PagerDuty added. PagerDuty's page told that value against the 5m window's
    rule; it is told the 15m one's, which read it."""
    first = HEAD + RULE + 'sinks = ["console"]\n'
    retuned = first.replace('"5m"', '"15m"').replace("0.2", "0.3")
    later = parse_config(retuned.replace('["console"]', '["console", "pagerduty"]'))
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(first)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "console") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(parse_config(retuned))
        now[0] = T + 1
        assert alerting.evaluate() == []  # fires on under the rule in force
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    after, ledger = Evaluator(later.alerts, WINDOWS), Pipeline(core_settings(later))
    restore(blob, ledger.ledger, after, T + 3)
    (page,) = after.due(T + 3)
    assert (page.kind, page.sinks) == (Transition.FIRING, ("pagerduty",))
    assert [(a.window, a.threshold) for a in page.alerts] == [("15m", 0.3)]


async def test_a_sink_named_after_a_reminder_is_told_the_thresholds_it_fired_at() -> None:
    """The console takes a.example's page above 20%; a reload moves the rule to 30%, and
    the hourly reminder tells the 30% in force. A reload then adds PagerDuty: its page
    tells the 20% the console was paged at, as it does added without the reminder or
    across a restart. It was made from the reminder, and told the 30%."""
    hourly = HEAD.replace('"0s"\n', '"0s"\nrepeat_interval = "1h"\n', 1) + RULE
    first = parse_config(hourly + 'sinks = ["console"]\n')
    retuned = hourly.replace("0.2", "0.3") + 'sinks = ["console"]\n'
    pipeline = Pipeline(core_settings(first))
    evaluator = Evaluator(first.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    assert [n.kind for n in evaluator.due(T)] == [Transition.FIRING]
    evaluator.configure(parse_config(retuned).alerts, WINDOWS, T + 1)
    feed_spike(pipeline, "a.example", T + 3600, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 3601)
    (reminder,) = evaluator.due(T + 3601)
    assert [(reminder.kind, a.threshold) for a in reminder.alerts] == [(Transition.REPEAT, 0.3)]
    added = retuned.replace('["console"]', '["console", "pagerduty"]')
    evaluator.configure(parse_config(added).alerts, WINDOWS, T + 3602)
    (page,) = evaluator.due(T + 3602, flush=True)
    assert (page.kind, page.sinks) == (Transition.FIRING, ("pagerduty",))
    assert [(a.value, a.threshold) for a in page.alerts] == [(0.6, 0.2)]


async def test_a_sink_named_after_a_reminder_the_first_rule_clears_is_told_it_in_force() -> None:
    """The same, the rule moved to 30% clearing below 10%, and the reminder telling 15%
    (still firing under it) before the value rose again: the page, made from the
    reminder, tells its 15% against the rule in force, not "fires above 20%, clears at
    20%", thresholds under which that figure ended the incident."""
    hourly = HEAD.replace('"0s"\n', '"0s"\nrepeat_interval = "1h"\n', 1) + RULE
    first = parse_config(hourly + 'sinks = ["console"]\n')
    retuned = hourly.replace("0.2", "0.3") + 'clear_below = 0.1\nsinks = ["console"]\n'
    pipeline = Pipeline(core_settings(first))
    evaluator = Evaluator(first.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    assert [n.kind for n in evaluator.due(T)] == [Transition.FIRING]
    evaluator.configure(parse_config(retuned).alerts, WINDOWS, T + 1)
    feed_spike(pipeline, "a.example", T + 3400, 6, 34)  # 6 delayed of 40: 15%
    evaluator.evaluate(pipeline.ledger, T + 3601)
    (reminder,) = evaluator.due(T + 3601)
    assert [(a.value, a.threshold) for a in reminder.alerts] == [(0.15, 0.3)]
    feed_spike(pipeline, "a.example", T + 3602, 40, 0)  # 46 delayed of 80
    assert evaluator.evaluate(pipeline.ledger, T + 3602) == []
    added = retuned.replace('["console"]', '["console", "pagerduty"]')
    evaluator.configure(parse_config(added).alerts, WINDOWS, T + 3603)
    (page,) = evaluator.due(T + 3603, flush=True)
    assert (page.kind, page.sinks) == (Transition.FIRING, ("pagerduty",))
    assert [(a.value, a.threshold, a.clear_threshold) for a in page.alerts] == [(0.15, 0.3, 0.1)]


async def test_a_sink_named_after_a_reminder_as_the_value_falls_is_told_it_fired_at() -> None:
    """The console takes a.example's page above 20%; a reload moves the rule to 30%,
    clearing below 10%, and the hourly reminder tells 60% under it. The value then falls
    to 15% (firing on under the rule in force) and a reload adds PagerDuty: its page,
    made from the reminder, tells that 60%, which the rule as it fired holds, so it is
    told the 20% the console was paged at, as added before the reminder. Judged by the
    15% read since, which the page does not tell, it was told the 30% in force."""
    hourly = HEAD.replace('"0s"\n', '"0s"\nrepeat_interval = "1h"\n', 1) + RULE
    first = parse_config(hourly + 'sinks = ["console"]\n')
    retuned = hourly.replace("0.2", "0.3") + 'clear_below = 0.1\nsinks = ["console"]\n'
    pipeline = Pipeline(core_settings(first))
    evaluator = Evaluator(first.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    assert [n.kind for n in evaluator.due(T)] == [Transition.FIRING]
    evaluator.configure(parse_config(retuned).alerts, WINDOWS, T + 1)
    feed_spike(pipeline, "a.example", T + 3600, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 3601)
    (reminder,) = evaluator.due(T + 3601)
    assert [(a.value, a.threshold) for a in reminder.alerts] == [(0.6, 0.3)]
    feed_spike(pipeline, "a.example", T + 3602, 0, 30)  # 6 delayed of 40: 15%
    assert evaluator.evaluate(pipeline.ledger, T + 3602) == []
    added = retuned.replace('["console"]', '["console", "pagerduty"]')
    evaluator.configure(parse_config(added).alerts, WINDOWS, T + 3603)
    (page,) = evaluator.due(T + 3603, flush=True)
    assert (page.kind, page.sinks) == (Transition.FIRING, ("pagerduty",))
    assert [(a.value, a.threshold, a.clear_threshold) for a in page.alerts] == [(0.6, 0.2, 0.2)]


async def test_a_sink_dropped_after_a_new_window_is_told_the_window_the_value_was_read_in() -> None:
    """The console and PagerDuty are paged for a.example on the 5m window, above 20%; a
    reload moves the rule to the 15m one (and 30%), whose value the next evaluation
    reads; a second reload drops PagerDuty. Its resolve told that 15m figure against the
    5m window's rule; it is told the 15m one's, which read it, as a page would be."""
    both = HEAD + RULE + 'sinks = ["console", "pagerduty"]\n'
    first = parse_config(both)
    retuned = both.replace('"5m"', '"15m"').replace("0.2", "0.3")
    pipeline = Pipeline(core_settings(first))
    evaluator = Evaluator(first.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    assert [n.kind for n in evaluator.due(T)] == [Transition.FIRING]
    evaluator.configure(parse_config(retuned).alerts, WINDOWS, T + 1)
    assert evaluator.evaluate(pipeline.ledger, T + 2) == []  # fires on under the rule in force
    dropped = retuned.replace('["console", "pagerduty"]', '["console"]')
    evaluator.configure(parse_config(dropped).alerts, WINDOWS, T + 3)
    (resolve,) = evaluator.due(T + 3, flush=True)
    assert (resolve.kind, resolve.sinks) == (Transition.RESOLVED, ("pagerduty",))
    assert [(a.window, a.threshold) for a in resolve.alerts] == [("15m", 0.3)]
