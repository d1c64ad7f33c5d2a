"""A firing some of its rule's sinks took before a stop (Slack took the page,
PagerDuty was down) goes after the restart to the sinks that had not taken it. When
the alert's repeat fell due meanwhile (a stop longer than what was left of
``repeat_interval``), the sinks that took the firing are reminded as they would
have been without the stop: the restart's page to the others is not their repeat."""

from __future__ import annotations

import aiohttp

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_owed_firing_restart import HEAD, _saved_with_slack_having_the_firing
from tests.test_routing import RULE, T, _alerting, _queued
from tests.test_rules import feed_spike

#: The rule on Slack and PagerDuty, reminded each hour while it fires.
TEXT = (
    HEAD.replace('group_wait = "0s"\n', 'group_wait = "0s"\nrepeat_interval = "1h"\n')
    + RULE
    + 'sinks = ["slack", "pagerduty"]\n'
)


async def test_a_repeat_due_at_the_restart_reminds_the_sinks_that_took_the_firing() -> None:
    """Slack took a.example's page at T, PagerDuty had not when sesd stopped. sesd
    starts again an hour and more later, the alert firing: PagerDuty is paged, and
    Slack, due its hourly reminder, is reminded; an hour after, both are."""
    blob = await _saved_with_slack_having_the_firing(TEXT)
    later = T + 3700
    config = parse_config(TEXT)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, later)
    feed_spike(fresh, "a.example", later, 6, 4)  # the alert fires on
    after.evaluate(fresh.ledger, later + 1)
    sent = sorted((s, n.kind.value) for n in after.due(later + 1) for s in n.sinks)
    assert sent == [("pagerduty", "firing"), ("slack", "repeat")]
    assert after.evaluate(fresh.ledger, later + 2) == []
    feed_spike(fresh, "a.example", later + 3601, 6, 4)
    after.evaluate(fresh.ledger, later + 3601)
    sent = sorted((s, n.kind.value) for n in after.due(later + 3601) for s in n.sinks)
    assert sent == [("pagerduty", "repeat"), ("slack", "repeat")]


async def test_a_restart_before_the_repeat_is_due_pages_only_the_sinks_owed() -> None:
    """The same stop, sesd back before the hour: PagerDuty alone is paged; Slack's
    reminder comes at the hour, PagerDuty's with it."""
    blob = await _saved_with_slack_having_the_firing(TEXT)
    later = T + 600
    config = parse_config(TEXT)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, later)
    feed_spike(fresh, "a.example", later, 6, 4)  # the alert fires on
    after.evaluate(fresh.ledger, later + 1)
    sent = sorted((s, n.kind.value) for n in after.due(later + 1) for s in n.sinks)
    assert sent == [("pagerduty", "firing")]
    feed_spike(fresh, "a.example", T + 3601, 6, 4)
    after.evaluate(fresh.ledger, T + 3601)
    sent = sorted((s, n.kind.value) for n in after.due(T + 3601) for s in n.sinks)
    assert sent == [("pagerduty", "repeat"), ("slack", "repeat")]


async def test_the_reminder_sent_with_the_restarts_page_is_decided_as_a_repeat() -> None:
    """The reminder Slack is sent with PagerDuty's page after the restart is among the
    alerts the evaluation decides, as every other reminder is: the log says
    ``sesd.alert.repeat`` of it (sesd.alerting.alert_log), not the firing alone."""
    blob = await _saved_with_slack_having_the_firing(TEXT)
    later = T + 3700
    config = parse_config(TEXT)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, later)
    feed_spike(fresh, "a.example", later, 6, 4)
    decided = [(a.kind.value, a.domain) for a in after.evaluate(fresh.ledger, later + 1)]
    assert decided == [("firing", "a.example"), ("repeat", "a.example")]


async def test_a_reminder_not_taken_at_a_stop_is_not_paged_again_as_a_firing() -> None:
    """PagerDuty took a.example's page, and its reminder a minute later was still
    queued when sesd stopped. A reminder tells nothing new: the restart pages nothing,
    and the next reminder comes a ``repeat_interval`` on. Taken as a firing owed to
    PagerDuty, it was paged again as a new trigger."""
    text = (
        '[alerts]\ngroup_wait = "0s"\nrepeat_interval = "1m"\n'
        '[alerts.sinks.pagerduty]\ntype = "pagerduty"\nrouting_key = "k"\n'
        'events_url = "http://127.0.0.1:9/e"\n' + RULE + 'sinks = ["pagerduty"]\n'
    )
    config = parse_config(text)
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(text)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        now[0] = T + 61
        feed_spike(pipeline, "a.example", T + 61, 6, 4)
        assert [n.kind for n in alerting.evaluate()] == [Transition.REPEAT]  # queued
        unsent = alerting.undelivered()
        assert unsent.firing == {}
        blob = snapshot(
            pipeline.ledger,
            alerting.evaluator,
            T + 62,
            unsent.again,
            True,
            unsent.retired,
            unsent.firing,
        )
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 63)
    feed_spike(fresh, "a.example", T + 63, 6, 4)  # the alert fires on
    assert after.evaluate(fresh.ledger, T + 64) == []
    assert after.due(T + 64) == []
    feed_spike(fresh, "a.example", T + 122, 6, 4)
    assert [a.kind for a in after.evaluate(fresh.ledger, T + 122)] == [Transition.REPEAT]


async def test_the_reminder_beside_a_restarts_page_tells_the_thresholds_in_force() -> None:
    """Slack took a.example's page above 20%, PagerDuty had not; a reload moved the rule
    to 30% and sesd stopped, back an hour and more later. PagerDuty's page tells the 20%
    Slack was paged at; Slack's reminder, due with it, tells the 30% in force, as its
    reminder would have without the stop and as the next one does. It told the 20%,
    and the reminder an hour on the 30%: one incident's reminders flipping rules."""
    blob = await _saved_with_slack_having_the_firing(TEXT, TEXT.replace("0.2", "0.3"))
    later = T + 3700
    config = parse_config(TEXT.replace("0.2", "0.3"))
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, later)
    feed_spike(fresh, "a.example", later, 6, 4)  # the alert fires on, at 60%
    after.evaluate(fresh.ledger, later + 1)
    told = sorted(
        (s, n.kind.value, a.threshold) for n in after.due(later + 1) for s in n.sinks
        for a in n.alerts
    )  # fmt: skip
    assert told == [("pagerduty", "firing", 0.2), ("slack", "repeat", 0.3)]
    feed_spike(fresh, "a.example", later + 3601, 6, 4)
    after.evaluate(fresh.ledger, later + 3601)
    told = sorted(
        (s, n.kind.value, a.threshold) for n in after.due(later + 3601) for s in n.sinks
        for a in n.alerts
    )  # fmt: skip
    assert told == [("pagerduty", "repeat", 0.3), ("slack", "repeat", 0.3)]
