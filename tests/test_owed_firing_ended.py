"""A firing some sink had not taken at a stop is saved as not sent, with the sinks that
took it, where its alert is still firing. One whose alert ended while the firing sat
in a down sink's outbox has no alert state left to save (an ended alert's is not
saved): the stop's save goes on without it, and the restart resolves the alert on
the sinks owed the resolve, paging none."""

from __future__ import annotations

import aiohttp
import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Status, Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_owed_firing_restart import HEAD
from tests.test_routing import RULE as ROUTED_RULE
from tests.test_routing import T, _alerting, _queued
from tests.test_rules import feed_spike

TEXT = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'


async def test_a_firing_owed_whose_alert_ended_before_the_stop_is_saved_without_it() -> None:
    """a.example fires; Slack takes the page, PagerDuty (down) still holds it, and the
    alert ends: its resolve is queued behind. The stop's save finds the firing owed
    to PagerDuty and no alert state of it: it saves the file, naming no sink that
    took a firing, the resolve kept owed to Slack alone. The restart pages no one and
    resolves the alert where Slack had the page, and only there."""
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(TEXT)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "slack") == [("firing", ["a.example"])]  # taken
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        assert alerting.evaluator.states["delays"]["a.example"].status is Status.INACTIVE
        unsent = alerting.undelivered()
        assert unsent.firing == {("delays", "a.example"): ["pagerduty"]}
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    data = msgspec.msgpack.decode(blob)
    assert (data["alerts"], data["heard"]) == ({"delays": {}}, {})
    ((_, states, _),) = data["retired"]
    assert list(states) == ["a.example"]

    config = parse_config(TEXT)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 3)
    (told,) = after.due(T + 3)
    assert (told.kind, [a.domain for a in told.alerts]) == (Transition.RESOLVED, ["a.example"])
    # Slack had the page; PagerDuty, whose outbox held the firing before the resolve,
    # never had it and is told nothing (a resolve alone opens nothing to close).
    assert list(told.sinks) == ["slack"]
    assert after.evaluate(fresh.ledger, T + 700) == []
    assert after.due(T + 700) == []


async def test_a_resolve_behind_a_firing_whose_delivery_began_is_kept_for_that_sink() -> None:
    """a.example fires; Slack takes the page, and PagerDuty's delivery of it has begun
    (a post timed out: PagerDuty may have opened the incident) when the alert ends and
    its resolve is queued behind. The stop's save keeps the resolve for PagerDuty too:
    a resolve of an incident it never had opens nothing, where the one it had, left
    without its resolve, stays open for ever."""
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(TEXT)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "slack") == [("firing", ["a.example"])]  # taken
        outbox = alerting.outboxes["pagerduty"]
        firing = outbox._queue.popleft()  # as the outbox's run takes it to deliver
        outbox._in_flight, outbox._delivering = True, firing
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        unsent = alerting.undelivered()
    ((rule, resolve),) = unsent.retired
    assert (resolve.domain, sorted(rule.sinks)) == ("a.example", ["pagerduty", "slack"])


async def test_a_sink_taken_off_and_named_again_is_owed_the_resolve_of_its_page() -> None:
    """PagerDuty takes a.example's page; a reload takes it off the rule (the resolve
    queued for it), a second names it again (the firing queued anew behind), and it
    is down through both; the alert ends. The page PagerDuty has open is closed by the
    resolve queued before the firing it has not taken: the save keeps that resolve
    for it. Taken for a page it never had, the incident stayed open for ever."""
    alone = TEXT.replace('sinks = ["slack", "pagerduty"]', 'sinks = ["slack"]')
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(TEXT)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        assert _queued(alerting, "slack") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(parse_config(alone))
        alerting.reconfigure(parse_config(TEXT))
        queued = alerting.outboxes["pagerduty"]._queue
        assert [n.kind for n in queued] == [Transition.RESOLVED, Transition.FIRING]
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        unsent = alerting.undelivered()
    owed = sorted((sink, resolve.domain) for rule, resolve in unsent.retired for sink in rule.sinks)
    assert owed == [("pagerduty", "a.example"), ("slack", "a.example")]


async def test_a_sink_named_again_behind_a_resolve_being_delivered_is_owed_it() -> None:
    """As above, but PagerDuty's outbox has begun delivering the resolve (a post that
    timed out, tried again: a down sink's queue is held at its head) when the firing is
    queued behind it. That resolve closes the page PagerDuty has open: the save keeps
    it for PagerDuty. Its delivery begun, it was read as no resolve at all, the firing
    behind it as an incident PagerDuty never had, and the page stayed open for ever."""
    alone = TEXT.replace('sinks = ["slack", "pagerduty"]', 'sinks = ["slack"]')
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(TEXT)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        assert _queued(alerting, "slack") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(parse_config(alone))
        outbox = alerting.outboxes["pagerduty"]
        resolve = outbox._queue.popleft()  # as the outbox's run takes it to deliver
        assert resolve.kind is Transition.RESOLVED
        outbox._in_flight, outbox._delivering = True, resolve
        alerting.reconfigure(parse_config(TEXT))
        assert [n.kind for n in outbox.unsent()] == [Transition.RESOLVED, Transition.FIRING]
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        unsent = alerting.undelivered()
    owed = sorted((sink, resolve.domain) for rule, resolve in unsent.retired for sink in rule.sinks)
    assert owed == [("pagerduty", "a.example"), ("slack", "a.example")]
