"""An alert ends while PagerDuty is down: Slack takes the resolve, PagerDuty refuses it
until sesd stops. After the restart the resolve goes to PagerDuty alone: Slack, which
had it, is not told again, and a sink the rule names since (a reload before the stop,
or the config edited while sesd was down) is told nothing of an alert it never had.
Should the alert fire again before PagerDuty takes its resolve, every sink the rule
names hears of the new firing (Slack too, which was told it ended), and PagerDuty
takes the resolve first, then the new trigger: one incident each, each resolved
once. A real ``Daemon`` on its config file, moto's SQS, local Slack and PagerDuty
receivers answering 500 through the outage, a restart being a new daemon on the same
state file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render_slack import slack_message
from sesd.alerting.rules import Transition
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import StateError
from sesd.runtime.state_refused import firing_in
from tests import factory as f
from tests.conftest import send_bodies
from tests.test_alerting_e2e import Clock, answered_until
from tests.test_reload_moved_resolves import (
    DOWN,
    World,
    _configured,
    _events,
    _messages,
    _sesd,
    _settled,
    _spike,
    _world,
)
from tests.test_routing import RULE as ROUTED_RULE
from tests.test_routing import T, _alerting, _queued
from tests.test_rules import feed_spike
from tests.test_state_removed import RULE


async def _ended_owing_pagerduty(
    world: World, sqs: Any, clock: Clock, sinks: str, later: str
) -> None:
    """A run on ``sinks``: a.example fires, PagerDuty goes down and the alert ends (its
    resolve refused, owed to PagerDuty); the rule is then on ``later`` (a reload, when
    it differs), and sesd stops."""
    _configured(world, sinks)
    async with _sesd(world, clock) as daemon:
        await send_bodies(sqs, world.url, _spike("a.example", f.T0))
        with anyio.fail_after(20):
            await world.pd.wait_for(1)
        world.pd.script(*DOWN)
        await answered_until(daemon, clock, f.T0 + 600)  # the spike leaves the window
        with anyio.fail_after(20):
            await world.pd.wait_arrived(2)  # the resolve, refused
            if "slack" in sinks:
                await world.slack.wait_for(2)  # the resolve, taken
        if later != sinks:
            _configured(world, later)
            assert await daemon.reload()


@pytest.mark.parametrize("added", ["by a reload", "while sesd was down"])
async def test_a_sink_named_after_the_alert_ended_is_told_nothing_of_it(
    added: str, local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a.example fires on PagerDuty and ends while PagerDuty is down. Slack is added to
    the rule (by a reload before the stop, or in the config while sesd is down). At
    the restart PagerDuty gets its resolve; Slack, which never had the alert, gets
    nothing: not a resolve, nor a firing and its resolve."""
    clock = Clock(f.T0)
    both = '["pagerduty", "slack"]'
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        reloaded = both if added == "by a reload" else '["pagerduty"]'
        await _ended_owing_pagerduty(world, sqs, clock, '["pagerduty"]', reloaded)
        _configured(world, both)
        world.pd._script.clear()  # back
        clock.now = f.T0 + 660
        async with _sesd(world, clock) as daemon:
            await _settled(daemon, "pagerduty")
            await _settled(daemon, "slack")
        assert _events(world.pd) == [("trigger", "a.example"), ("resolve", "a.example")]
        assert _messages(world.slack) == []


async def test_a_sink_that_took_the_resolve_is_not_sent_it_again(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a.example fires on Slack and PagerDuty, and ends while PagerDuty is down: Slack
    takes the resolve. At the restart PagerDuty gets the resolve, and Slack no second."""
    clock = Clock(f.T0)
    both = '["slack", "pagerduty"]'
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        await _ended_owing_pagerduty(world, sqs, clock, both, both)
        world.pd._script.clear()
        clock.now = f.T0 + 660
        async with _sesd(world, clock) as daemon:
            await _settled(daemon, "pagerduty")
            await _settled(daemon, "slack")
        assert _events(world.pd) == [("trigger", "a.example"), ("resolve", "a.example")]
        assert _messages(world.slack) == ["firing", "resolved"]


async def test_an_alert_firing_again_before_its_owed_resolve_went_is_a_new_incident(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a.example fires on Slack and PagerDuty, and ends while PagerDuty is down (Slack
    takes the resolve). sesd restarts with PagerDuty still down, and a.example fires
    again: Slack, told it ended, is told it fires (it heard nothing, the alert restored
    as still firing). PagerDuty comes back and takes its resolve, then the new trigger,
    in that order: its open incident resolved once, the new one paged once."""
    clock = Clock(f.T0)
    both = '["slack", "pagerduty"]'
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        await _ended_owing_pagerduty(world, sqs, clock, both, both)
        clock.now = f.T0 + 660
        async with _sesd(world, clock) as daemon:
            await send_bodies(sqs, world.url, _spike("a.example", clock.now))
            with anyio.fail_after(20):
                await world.slack.wait_for(3)
            world.pd._script.clear()  # back
            with anyio.fail_after(30):
                await world.pd.wait_for(3)
            await _settled(daemon, "pagerduty")
            await _settled(daemon, "slack")
        assert _messages(world.slack) == ["firing", "resolved", "firing"]
        assert _events(world.pd) == [
            ("trigger", "a.example"),
            ("resolve", "a.example"),
            ("trigger", "a.example"),
        ]


def test_a_file_that_kept_an_owed_resolve_as_a_firing_alert_still_restores() -> None:
    """An earlier build saved a resolve no sink had taken as its alert still firing,
    with nothing apart for it (no ``retired`` key, in a file older still). Such a file
    restores, and the first evaluation resolves the alert on the rule's sinks, as
    that build did: the resolve is not lost."""
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    evaluator.evaluate(pipeline.ledger, f.T0)
    assert [n.kind for n in evaluator.due(f.T0)] == [Transition.FIRING]
    (resolve,) = evaluator.evaluate(pipeline.ledger, f.T0 + 600)
    assert resolve.kind is Transition.RESOLVED
    unsent = [("r", "hotmail.com", Transition.RESOLVED)]
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, f.T0 + 601, unsent))
    del data["retired"]

    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, ["5m"])
    restored = restore(msgspec.msgpack.encode(data), fresh.ledger, after, f.T0 + 602)
    assert restored["alerts"] == 1
    (resolved,) = after.evaluate(fresh.ledger, f.T0 + 603)
    assert (resolved.kind, resolved.domain) == (Transition.RESOLVED, "hotmail.com")
    (notification,) = after.due(f.T0 + 603)
    assert (notification.kind, notification.sinks) == (Transition.RESOLVED, ("console",))


async def test_a_resolve_two_sinks_are_owed_is_saved_once_for_both_and_no_other() -> None:
    """a.example fires, and Slack and PagerDuty take the firing; then neither takes
    anything, and the alert ends. The file keeps its resolve once, owed to both, and
    the alert's state as ended. Restored under a config that adds the console to the
    rule, the resolve is queued once, to Slack and PagerDuty, not to the console; its
    text, with no figure read since the start, says "where: -"."""
    head = (
        '[alerts]\ngroup_wait = "0s"\n'
        '[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "http://127.0.0.1:9/s"\n'
        '[alerts.sinks.pagerduty]\ntype = "pagerduty"\nrouting_key = "k"\n'
        'events_url = "http://127.0.0.1:9/e"\n'
    )
    both = head + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(both)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert (
            _queued(alerting, "slack")
            == _queued(alerting, "pagerduty")
            == [("firing", ["a.example"])]
        )  # taken
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired
        )
    data = msgspec.msgpack.decode(blob)
    assert data["alerts"] == {"delays": {}}
    ((rule, states, _),) = data["retired"]
    assert (rule["sinks"], list(states)) == (["slack", "pagerduty"], ["a.example"])

    more = parse_config(both.replace('"pagerduty"]', '"pagerduty", "console"]'))
    fresh = Pipeline(core_settings(more))
    after = Evaluator(more.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 3)
    (resolves,) = after.due(T + 3)
    assert (resolves.kind, resolves.sinks) == (Transition.RESOLVED, ("slack", "pagerduty"))
    assert [alert.domain for alert in resolves.alerts] == ["a.example"]
    # Told with no figure read since the start: its lines say so, none cut short.
    section = slack_message(resolves)["blocks"][1]["text"]["text"]
    assert "where: -" in section.split("\n"), section
    assert after.evaluate(fresh.ledger, T + 4) == []


def test_a_file_sesd_cannot_use_names_the_alerts_whose_resolve_it_owed() -> None:
    """A file sesd refuses (a later sesd's) is loaded in nothing, so no resolve it
    kept owed goes out: the alert is named among those left open, for a person to
    resolve by hand, as a firing alert in it is. Saved apart, it was not named."""
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    evaluator.evaluate(pipeline.ledger, f.T0)
    evaluator.due(f.T0)
    (resolve,) = evaluator.evaluate(pipeline.ledger, f.T0 + 600)
    rule = config.alerts.rules[0]
    blob = snapshot(pipeline.ledger, evaluator, f.T0 + 601, retired=[(rule, resolve)])
    data = msgspec.msgpack.decode(blob)
    data["version"] += 1
    later = msgspec.msgpack.encode(data)
    with pytest.raises(StateError, match="later sesd"):
        restore(later, Pipeline(core_settings(config)).ledger, Evaluator(config.alerts, ["5m"]), 0)
    assert firing_in(later) == {"r": ["hotmail.com"]}


async def test_the_resolves_of_two_rules_owed_at_a_stop_each_go_under_their_rule() -> None:
    """Two rules fire for a.example and PagerDuty takes both firings; then it takes
    nothing, and both alerts end. After the restart PagerDuty is sent each rule's
    resolve (an incident per rule there), not one of them twice or alone, each with
    the figure it ended at."""
    head = (
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pagerduty]\ntype = "pagerduty"\n'
        'routing_key = "k"\nevents_url = "http://127.0.0.1:9/e"\n'
    )
    rule = ROUTED_RULE + 'sinks = ["pagerduty"]\n'
    text = head + rule + rule.replace('"delays"', '"delays-high"').replace("0.2", "0.3")
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(text)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])] * 2  # taken
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        ended = alerting.evaluate()
        assert [n.kind for n in ended] == [Transition.RESOLVED] * 2
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired
        )
    config = parse_config(text)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 3)
    resolves = after.due(T + 3)
    assert sorted((n.rule, n.kind, n.sinks) for n in resolves) == [
        ("delays", Transition.RESOLVED, ("pagerduty",)),
        ("delays-high", Transition.RESOLVED, ("pagerduty",)),
    ]
    # Each says the figure it ended at, as it would have before the stop.
    told = sorted((a.rule, a.value) for n in resolves for a in n.alerts)
    assert told == sorted((a.rule, a.value) for n in ended for a in n.alerts)
    assert all(value is not None for _, value in told)


async def test_a_resolve_saved_for_a_dropped_sink_tells_the_threshold_it_fired_at() -> None:
    """PagerDuty takes a.example's firing above 20%; a reload moves the rule to the
    console and to 30%, which owes PagerDuty the resolve under the rule as it was, and
    PagerDuty takes nothing more before the stop. After the restart that resolve is
    still told under the rule it fired under (above 20%), not the one in force: the
    incident PagerDuty has open was paged at 20%."""
    head = (
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pagerduty]\ntype = "pagerduty"\n'
        'routing_key = "k"\nevents_url = "http://127.0.0.1:9/e"\n'
    )
    later = parse_config(head + ROUTED_RULE.replace("0.2", "0.3") + 'sinks = ["console"]\n')
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(head + ROUTED_RULE + 'sinks = ["pagerduty"]\n')
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(later)
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired
        )
    fresh = Pipeline(core_settings(later))
    after = Evaluator(later.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 3)
    (resolve,) = [n for n in after.due(T + 3) if n.kind is Transition.RESOLVED]
    assert resolve.sinks == ("pagerduty",)
    assert [(alert.domain, alert.threshold) for alert in resolve.alerts] == [("a.example", 0.2)]


@pytest.mark.parametrize("second", ["", 'severity = "critical"\n'], ids=["same", "moved"])
async def test_a_resolve_owed_to_a_dropped_sink_is_saved_across_a_second_reload(
    second: str,
) -> None:
    """PagerDuty and the console take a.example's firing above 20%; a reload moves the
    rule to the console alone and to 30% (owing PagerDuty the resolve), and a second
    reload leaves the rule as it is, or moves it again. The resolve is still saved, for
    PagerDuty alone, and after the restart tells the rule it fired under (above 20%),
    not the one in force nor the one the second reload left."""
    head = (
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pagerduty]\ntype = "pagerduty"\n'
        'routing_key = "k"\nevents_url = "http://127.0.0.1:9/e"\n'
    )
    text = head + ROUTED_RULE.replace("0.2", "0.3") + 'sinks = ["console"]\n'
    later = parse_config(text)
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(head + ROUTED_RULE + 'sinks = ["pagerduty", "console"]\n')
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(later)
        alerting.reconfigure(parse_config(text + second))
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired
        )
    ((rule, alert),) = unsent.retired
    assert (rule.sinks, alert.domain, alert.kind) == (
        ["pagerduty"],
        "a.example",
        Transition.RESOLVED,
    )
    fresh = Pipeline(core_settings(later))
    after = Evaluator(later.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 3)
    (resolve,) = [n for n in after.due(T + 3) if n.kind is Transition.RESOLVED]
    assert resolve.sinks == ("pagerduty",)
    assert [(alert.domain, alert.threshold) for alert in resolve.alerts] == [("a.example", 0.2)]
