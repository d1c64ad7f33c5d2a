"""Sinks that flap across two incidents of one alert: each sink is owed one resolve
of it after a restart, the one that ends the incident it has open.

a.example fires on Slack and PagerDuty and both take it; it ends, Slack takes the
resolve, PagerDuty is down. It fires again: Slack takes the page, PagerDuty (still
down) does not. It ends again while Slack is down too. At the stop PagerDuty holds
the first resolve, the second firing and the second resolve; Slack the second
resolve. After the restart the alert has ended: PagerDuty is owed the first resolve
(its open incident), not a second one of an incident it never had paged; Slack the
second. Saved once per set of sinks owed, PagerDuty was told twice."""

from __future__ import annotations

import aiohttp
import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_owed_firing_restart import HEAD
from tests.test_routing import RULE, T, _alerting, _queued
from tests.test_rules import feed_spike

TEXT = HEAD + RULE + 'sinks = ["slack", "pagerduty"]\n'


async def _saved_after_two_incidents() -> bytes:
    """The state file the stop saves after the two incidents (see the module's text)."""
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(TEXT)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert (
            _queued(alerting, "slack")
            == _queued(alerting, "pagerduty")
            == [("firing", ["a.example"])]
        )  # both took the first page
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        alerting.evaluate()
        assert _queued(alerting, "slack") == [("resolved", ["a.example"])]  # Slack took it
        now[0] = T + 400  # the first spike out of the window: a second one fires
        feed_spike(pipeline, "a.example", T + 400, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "slack") == [("firing", ["a.example"])]  # Slack took it
        now[0] = T + 401
        feed_spike(pipeline, "a.example", T + 401, 0, 400)
        assert [a.kind for a in alerting.evaluate()] == [Transition.RESOLVED]
        held = [n.kind.value for n in alerting.outboxes["pagerduty"]._queue]
        assert held == ["resolved", "firing", "resolved"]
        unsent = alerting.undelivered()
        return snapshot(
            pipeline.ledger, alerting.evaluator, T + 402, unsent.again, True, unsent.retired
        )


async def test_each_sink_is_sent_one_resolve_that_of_the_incident_it_had() -> None:
    blob = await _saved_after_two_incidents()
    config = parse_config(TEXT)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 403)
    sent = sorted(
        (sink, alert.since)
        for notification in after.due(T + 403)
        if notification.kind is Transition.RESOLVED
        for alert in notification.alerts
        for sink in notification.sinks
    )
    assert sent == [("pagerduty", T), ("slack", T + 400)]
    assert after.evaluate(fresh.ledger, T + 404) == []


async def test_the_file_keeps_one_resolve_of_the_alert_for_each_sink() -> None:
    """One row per sink owed: the rows the size bound counts for a label
    (sesd.runtime.state_size), whatever the sinks did."""
    data = msgspec.msgpack.decode(await _saved_after_two_incidents())
    owed = sorted(
        (sink, label)
        for rule, rows, _ in data["retired"]
        for label in rows
        for sink in rule["sinks"]
    )
    assert owed == [("pagerduty", "a.example"), ("slack", "a.example")]
