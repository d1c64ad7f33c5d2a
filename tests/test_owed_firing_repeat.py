"""A firing some of its rule's sinks took before a stop (Slack took the page,
PagerDuty was down) goes after the restart to the sinks that had not taken it. When
the alert's repeat fell due meanwhile (a stop longer than what was left of
``repeat_interval``), the sinks that took the firing are reminded as they would
have been without the stop: the restart's page to the others is not their repeat."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore
from tests.test_owed_firing_restart import HEAD, _saved_with_slack_having_the_firing
from tests.test_routing import RULE, T
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
