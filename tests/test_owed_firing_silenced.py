"""A firing some sinks took before a stop goes, after the restart, to the sinks that
had not taken it: a notification to part of the rule's sinks. A silence added while
it waits in such a sink's outbox recalls it there; the sinks that took the firing
before the stop still hear that the alert ended. A real ``Daemon`` on its config
file, moto's SQS, local Slack and PagerDuty receivers (PagerDuty answering 500
through the outage), the silences file written as ``sesd silence add`` writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.recall import held_back, recall
from sesd.alerting.rules import Transition
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence, SilenceSet
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f
from tests.conftest import send_bodies
from tests.test_alerting_e2e import Clock, answered_until
from tests.test_owed_firing_restart import HEAD
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
from tests.test_routing import RULE, T, _queued, _silenceable
from tests.test_rules import feed_spike


def _with_silences(world: World, sinks: str, group_wait: str) -> Path:
    """The config file of :func:`_configured`, with ``group_wait`` and a silences file;
    the silences file's path."""
    silences = world.path.parent / "silences.json"
    text = _configured(world, sinks).read_text()
    text = text.replace('group_wait = "0s"', f'group_wait = "{group_wait}"')
    world.path.write_text(text.replace("[alerts]\n", f'[alerts]\nsilences_path = "{silences}"\n'))
    return silences


def _fired(group_wait: str) -> tuple[str, Pipeline, Evaluator, list[str]]:
    """A rule of Slack and PagerDuty (``group_wait`` as given) evaluated at ``T`` over
    a.example's spike: its config's text, the pipeline, the evaluator and its windows."""
    text = HEAD.replace('group_wait = "0s"', f'group_wait = "{group_wait}"')
    text += RULE + 'sinks = ["slack", "pagerduty"]\n'
    config = parse_config(text)
    pipeline = Pipeline(core_settings(config))
    windows = [spec.name for spec in pipeline.ledger.specs]
    evaluator = Evaluator(config.alerts, windows)
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    return text, pipeline, evaluator, windows


async def test_a_silence_on_a_firing_owed_since_a_restart_keeps_the_resolve_of_the_others(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a.example fires; Slack takes the trigger, PagerDuty refuses it until the stop, and
    after the restart its trigger waits its ``group_wait``. A silence on a.example is added
    (the trigger held back), and the alert then ends: Slack, which has the trigger, is
    told it ended. Taking the page owed to PagerDuty alone for a page no sink had
    taken, the alert was left unsent: no resolve went anywhere, and Slack's incident
    stayed open."""
    clock = Clock(f.T0)
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        silences = _with_silences(world, '["slack", "pagerduty"]', "0s")
        world.pd.script(*DOWN)
        async with _sesd(world, clock):
            await send_bodies(sqs, world.url, _spike("a.example", f.T0))
            with anyio.fail_after(20):
                await world.slack.wait_for(1)
                await world.pd.wait_arrived(1)  # the trigger, refused
        _with_silences(world, '["slack", "pagerduty"]', "1m")
        clock.now = f.T0 + 30
        async with _sesd(world, clock) as daemon:
            groups = daemon.alerting.evaluator.groups
            with anyio.fail_after(20):  # the trigger owed to PagerDuty waits its group
                await daemon.changes.wait_for(lambda: bool(groups.waiting()))
            silence = Silence(
                id="s1", comment="known", starts_at=clock.now, ends_at=clock.now + 7200,
                rule="delays", domain="a.example",
            )  # fmt: skip
            SilenceFile(str(silences)).add(silence, clock.now)
            await answered_until(daemon, clock, f.T0 + 660)  # the spike leaves the window
            world.pd._script.clear()  # back
            await _settled(daemon, "slack")
            await _settled(daemon, "pagerduty")
        assert _messages(world.slack) == ["firing", "resolved"]
        # PagerDuty had no trigger: told it ended, or nothing (no incident either way).
        assert ("trigger", "a.example") not in _events(world.pd)


async def test_a_silence_recalling_an_owed_firing_from_a_queue_keeps_the_others_resolve(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same from PagerDuty's queue: b.example fires and ends while PagerDuty is down
    (its resolve owed), and a.example fires (Slack takes the trigger). After the
    restart PagerDuty, still down, is sent b.example's resolve, and a.example's
    trigger queues behind it. A silence on a.example takes it out of the queue; the
    alert then ends, and Slack is told so."""
    clock = Clock(f.T0)
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        silences = _with_silences(world, '["slack", "pagerduty"]', "0s")
        async with _sesd(world, clock) as daemon:
            await send_bodies(sqs, world.url, _spike("b.example", f.T0))
            with anyio.fail_after(20):
                await world.pd.wait_for(1)
            world.pd.script(*DOWN)
            await answered_until(daemon, clock, f.T0 + 400)
            await send_bodies(sqs, world.url, _spike("a.example", clock.now))
            await answered_until(daemon, clock, f.T0 + 660)  # b.example's spike is gone
            with anyio.fail_after(20):
                await world.slack.wait_for(3)  # b fired and ended, a fired
        assert sorted(_messages(world.slack)) == ["firing", "firing", "resolved"]
        clock.now = f.T0 + 670
        async with _sesd(world, clock) as daemon:
            outbox = daemon.alerting.outboxes["pagerduty"]
            with anyio.fail_after(20):  # a.example's trigger, behind b.example's resolve
                await daemon.changes.wait_for(lambda: bool(outbox.waiting()))
            silence = Silence(
                id="s1", comment="known", starts_at=clock.now, ends_at=clock.now + 7200,
                rule="delays", domain="a.example",
            )  # fmt: skip
            SilenceFile(str(silences)).add(silence, clock.now)
            await answered_until(daemon, clock, f.T0 + 1060)  # a.example's spike is gone
            world.pd._script.clear()  # back
            await _settled(daemon, "slack")
            await _settled(daemon, "pagerduty")
        assert _messages(world.slack)[3:] == ["resolved"]
        events = _events(world.pd)
        assert events[:2] == [("trigger", "b.example"), ("resolve", "b.example")]
        assert ("trigger", "a.example") not in events  # told it ended, or nothing


def test_a_firing_withdrawn_from_every_sink_pages_them_all_when_the_silence_ends() -> None:
    """A firing still waits its group for Slack and PagerDuty when a reload names the
    console on the rule (sent it, in a group of its own). A silence then withdraws
    both groups: no sink has the firing, which is held as never sent, and pages all
    three when the silence ends while it still fires. (A group for part of the rule's
    sinks is not enough to say a sink took it: the others' group says they did not.)"""
    text, pipeline, evaluator, windows = _fired("1m")
    more = parse_config(text.replace('"pagerduty"]', '"pagerduty", "console"]'))
    evaluator.configure(more.alerts, windows, T + 1)
    assert sorted(sinks for sinks, _ in evaluator.groups.alerts()) == [
        ("console",),
        ("slack", "pagerduty"),
    ]
    silence = Silence(id="s", comment="", starts_at=T + 2, ends_at=T + 60, domain="a.example")
    evaluator.silences = SilenceSet([silence])
    assert recall([], evaluator, T + 2) == [("delays", "a.example")] * 2
    evaluator.silences = SilenceSet()
    feed_spike(pipeline, "a.example", T + 61, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 61)
    sent = [(n.kind.value, n.sinks) for n in evaluator.due(T + 61, flush=True)]
    assert sent == [("firing", ("slack", "pagerduty", "console"))]


def test_a_firing_withdrawn_from_a_sink_named_anew_pages_it_when_the_silence_ends() -> None:
    """Slack and PagerDuty took a.example's firing; a reload names the console on the
    rule, which is sent it in a group of its own, and a silence withdraws that group
    before it goes. The alert stays sent (Slack and PagerDuty have it), but the console
    never had it: when the silence ends while the alert still fires, the console is
    paged, and no other sink again. Left as sent everywhere, the console heard of the
    alert only at its reminder, a ``repeat_interval`` (4 h) on, and of its end first."""
    text, pipeline, evaluator, windows = _fired("1m")
    taken = [(n.kind.value, n.sinks) for n in evaluator.due(T, flush=True)]
    assert taken == [("firing", ("slack", "pagerduty"))]
    more = parse_config(text.replace('"pagerduty"]', '"pagerduty", "console"]'))
    evaluator.configure(more.alerts, windows, T + 1)
    assert [sinks for sinks, _ in evaluator.groups.alerts()] == [("console",)]
    silence = Silence(id="s", comment="", starts_at=T + 2, ends_at=T + 60, domain="a.example")
    evaluator.silences = SilenceSet([silence])
    assert recall([], evaluator, T + 2) == [("delays", "a.example")]
    evaluator.evaluate(pipeline.ledger, T + 30)
    assert evaluator.due(T + 30, flush=True) == []  # held while the silence holds
    evaluator.silences = SilenceSet()
    feed_spike(pipeline, "a.example", T + 61, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 61)
    sent = [(n.kind.value, n.sinks) for n in evaluator.due(T + 61, flush=True)]
    assert sent == [("firing", ("console",))]


def test_a_firing_pagerduty_held_back_mid_notification_pages_it_alone_when_the_silence_ends() -> (
    None
):
    """Slack took a.example's firing; PagerDuty, sending its notification event by event,
    asks the silences before the trigger and a new one holds it back. When the silence
    ends while the alert still fires, PagerDuty alone is paged: it never had the page,
    Slack did. Left as sent everywhere, PagerDuty heard of it only at its reminder."""
    _, pipeline, evaluator, _ = _fired("0s")
    taken = [(n.kind.value, n.sinks) for n in evaluator.due(T, flush=True)]
    assert taken == [("firing", ("slack", "pagerduty"))]
    silence = Silence(id="s", comment="", starts_at=T + 2, ends_at=T + 60, domain="a.example")
    evaluator.silences = SilenceSet([silence])
    assert held_back(evaluator, "pagerduty", "delays", "a.example", Transition.FIRING, T + 2)
    evaluator.silences = SilenceSet()
    feed_spike(pipeline, "a.example", T + 61, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 61)
    sent = [(n.kind.value, n.sinks) for n in evaluator.due(T + 61, flush=True)]
    assert sent == [("firing", ("pagerduty",))]


def test_a_firing_held_back_after_its_alert_ended_owes_the_next_incident_nothing() -> None:
    """Slack took a.example's firing, PagerDuty was still sending it when the alert
    ended; a silence then holds PagerDuty's trigger back. That page is of an incident
    over: nothing is owed of it. Kept owed, the next time a.example fired (a new
    incident, after the silence) went to PagerDuty alone, and Slack was never paged."""
    _, pipeline, evaluator, _ = _fired("0s")
    assert [(n.kind.value, n.sinks) for n in evaluator.due(T, flush=True)] == [
        ("firing", ("slack", "pagerduty"))
    ]
    evaluator.evaluate(pipeline.ledger, T + 400)  # the spike left the window: ended
    assert [n.kind.value for n in evaluator.due(T + 400, flush=True)] == ["resolved"]
    silence = Silence(id="s", comment="", starts_at=T + 401, ends_at=T + 460, domain="a.example")
    evaluator.silences = SilenceSet([silence])
    assert held_back(evaluator, "pagerduty", "delays", "a.example", Transition.FIRING, T + 401)
    evaluator.silences = SilenceSet()
    feed_spike(pipeline, "a.example", T + 900, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 900)
    sent = [(n.kind.value, n.sinks) for n in evaluator.due(T + 900, flush=True)]
    assert sent == [("firing", ("slack", "pagerduty"))]


async def test_a_resolve_queued_behind_a_firing_a_silence_recalls_goes_with_it(
    tmp_path: Path,
) -> None:
    """ops took a.example's page; the pager, down, still holds it when the alert ends,
    its resolve queued behind. A silence on a.example then recalls the pager's page,
    and the resolve behind it with it: the pager never had the incident. ops still
    gets its resolve. Left queued, the pager was told of the end of an incident it
    was never shown (Slack posted a resolve out of nowhere)."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops", "pager"), "0s")
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    alerting.outboxes["ops"]._queue.clear()  # ops took it
    now[0] = T + 400
    alerting.evaluate()  # the spike left the window: ended
    assert [n.kind.value for n in alerting.outboxes["pager"].waiting()] == ["firing", "resolved"]
    silence = Silence(
        id="s1", comment="c", starts_at=T + 400, ends_at=T + 3600, rule="delays",
        domain="a.example",
    )  # fmt: skip
    SilenceFile(str(silences)).add(silence, T + 400)
    now[0] = T + 401
    alerting.evaluate()
    assert _queued(alerting, "pager") == []
    assert _queued(alerting, "ops") == [("resolved", ["a.example"])]


def test_a_resolve_waiting_beside_a_firing_a_silence_withdraws_goes_with_it() -> None:
    """a.example fires and ends within its ``group_wait``: its firing and its resolve
    both wait their groups when a silence on it withdraws the firing. No sink is paged,
    so none is told it ended. Left waiting, the resolve went to Slack and PagerDuty
    alone: Slack posted the end of an incident it never showed."""
    head = HEAD.replace('group_wait = "0s"', 'group_wait = "1m"')
    config = parse_config(head + RULE + 'sinks = ["slack", "pagerduty"]\n')
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    feed_spike(pipeline, "a.example", T + 20, 0, 100)  # delivered since: it ended
    evaluator.evaluate(pipeline.ledger, T + 20)
    assert [kind.value for _, _, kind in evaluator.waiting()] == ["firing", "resolved"]
    silence = Silence(id="s", comment="", starts_at=T + 30, ends_at=T + 90, domain="a.example")
    evaluator.silences = SilenceSet([silence])
    assert recall([], evaluator, T + 30) == [("delays", "a.example")]
    assert evaluator.due(T + 90, flush=True) == []


async def test_a_resolve_waiting_its_group_behind_a_firing_a_silence_recalls_goes_with_it(
    tmp_path: Path,
) -> None:
    """ops took a.example's page; the pager, down, still holds it queued when the alert
    ends, and the resolve waits its ``group_wait``. A silence on a.example then recalls
    the pager's page: the resolve, once its group is due, goes to ops alone. Sent to
    both, the pager was told of the end of an incident it was never shown (Slack
    posted a resolve out of nowhere), as a resolve already queued behind is not."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops", "pager"), "1m")
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    now[0] = T + 60
    alerting.evaluate()  # its group is due
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]  # ops took it
    assert [n.kind.value for n in alerting.outboxes["pager"].waiting()] == ["firing"]
    now[0] = T + 400
    alerting.evaluate()  # the spike left the window: ended, its resolve waits its group
    assert alerting.evaluator.waiting() == [("delays", "a.example", Transition.RESOLVED)]
    silence = Silence(
        id="s1", comment="c", starts_at=T + 400, ends_at=T + 3600, rule="delays",
        domain="a.example",
    )  # fmt: skip
    SilenceFile(str(silences)).add(silence, T + 400)
    now[0] = T + 401
    alerting.evaluate()
    now[0] = T + 470
    alerting.evaluate()  # the resolve's group is due
    assert _queued(alerting, "pager") == []
    assert _queued(alerting, "ops") == [("resolved", ["a.example"])]


def test_a_resolve_waiting_beside_a_firing_withdrawn_from_one_sink_goes_to_the_others() -> None:
    """Slack and PagerDuty took a.example's firing; a reload names the console on the
    rule, its firing waiting its group, and the alert ends within it. A silence then
    withdraws the console's firing: the resolve goes to Slack and PagerDuty alone. Left
    for all three, the console was told of the end of an incident it never showed."""
    text, pipeline, evaluator, windows = _fired("1m")
    assert [n.sinks for n in evaluator.due(T, flush=True)] == [("slack", "pagerduty")]
    more = parse_config(text.replace('"pagerduty"]', '"pagerduty", "console"]'))
    evaluator.configure(more.alerts, windows, T + 1)
    feed_spike(pipeline, "a.example", T + 20, 0, 100)  # delivered since: it ended
    evaluator.evaluate(pipeline.ledger, T + 20)
    assert [kind.value for _, _, kind in evaluator.waiting()] == ["firing", "resolved"]
    silence = Silence(id="s", comment="", starts_at=T + 30, ends_at=T + 90, domain="a.example")
    evaluator.silences = SilenceSet([silence])
    assert recall([], evaluator, T + 30) == [("delays", "a.example")]
    sent = [(n.kind.value, n.sinks) for n in evaluator.due(T + 90, flush=True)]
    assert sent == [("resolved", ("slack", "pagerduty"))]
