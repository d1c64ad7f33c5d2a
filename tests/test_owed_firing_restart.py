"""An alert fires while PagerDuty is down: Slack takes the trigger, PagerDuty refuses
it until sesd stops. After the restart the trigger goes to PagerDuty alone: Slack,
which had it, is not paged twice; a sink the rule names since hears of the alert (an
incident still going on), a sink taken off it is told the alert ended only if it
had the trigger; and when it ends each sink is told so once. A real
``Daemon`` on its config file, moto's SQS, local Slack and PagerDuty receivers
answering 500 through the outage, a restart being a new daemon on the same state
file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.silences import Silence, SilenceSet
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
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


async def _fired_owing_pagerduty(world: World, sqs: Any, clock: Clock) -> None:
    """A run on Slack and PagerDuty: a.example fires while PagerDuty is down; Slack
    takes the trigger, PagerDuty refuses it, and sesd stops."""
    _configured(world, '["slack", "pagerduty"]')
    world.pd.script(*DOWN)
    async with _sesd(world, clock):
        await send_bodies(sqs, world.url, _spike("a.example", f.T0))
        with anyio.fail_after(20):
            await world.slack.wait_for(1)
            await world.pd.wait_arrived(1)  # the trigger, refused
    assert _events(world.pd) == []


async def test_a_sink_that_took_the_trigger_is_not_paged_again_after_a_restart(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack took a.example's trigger, PagerDuty refused it until the stop. At the
    restart (the spike still in the window, PagerDuty back) PagerDuty is paged once,
    and Slack hears nothing more."""
    clock = Clock(f.T0)
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        await _fired_owing_pagerduty(world, sqs, clock)
        world.pd._script.clear()  # back
        clock.now = f.T0 + 30
        async with _sesd(world, clock) as daemon:
            with anyio.fail_after(20):
                await world.pd.wait_for(1)
            await _settled(daemon, "pagerduty")
            await _settled(daemon, "slack")
        assert _events(world.pd) == [("trigger", "a.example")]
        assert _messages(world.slack) == ["firing"]


async def test_the_incident_paged_after_a_restart_is_resolved_once_on_each_sink(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack took a.example's trigger, PagerDuty refused it until the stop. After the
    restart PagerDuty is paged, and when the spike leaves the window each sink is told
    the alert ended, once: one trigger and one resolve each."""
    clock = Clock(f.T0)
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        await _fired_owing_pagerduty(world, sqs, clock)
        world.pd._script.clear()  # back
        clock.now = f.T0 + 30
        async with _sesd(world, clock) as daemon:
            with anyio.fail_after(20):
                await world.pd.wait_for(1)
            await answered_until(daemon, clock, f.T0 + 660)  # the spike leaves the window
            with anyio.fail_after(20):
                await world.pd.wait_for(2)
            await _settled(daemon, "pagerduty")
            await _settled(daemon, "slack")
        assert _events(world.pd) == [("trigger", "a.example"), ("resolve", "a.example")]
        assert _messages(world.slack) == ["firing", "resolved"]


#: Slack, PagerDuty and the console, none of them reachable (nothing is posted here).
HEAD = (
    '[alerts]\ngroup_wait = "0s"\n'
    '[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "http://127.0.0.1:9/s"\n'
    '[alerts.sinks.pagerduty]\ntype = "pagerduty"\nrouting_key = "k"\n'
    'events_url = "http://127.0.0.1:9/e"\n'
)


async def _saved_with_slack_having_the_firing(text: str, reloaded: str = "") -> bytes:
    """The state a stop saves under the rule on Slack and PagerDuty (``text``):
    a.example's firing taken by Slack, still queued for PagerDuty (then the config
    ``reloaded`` to, when given)."""
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(text)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "slack") == [("firing", ["a.example"])]  # taken
        if reloaded:
            alerting.reconfigure(parse_config(reloaded))
        unsent = alerting.undelivered()
        return snapshot(
            pipeline.ledger, alerting.evaluator, T + 1, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip


async def test_a_sink_named_since_the_stop_hears_of_the_alert_still_firing() -> None:
    """The same stop; the config then adds the console to the rule. The restart's first
    evaluation pages PagerDuty (owed it) and the console (new on the rule, an incident
    still going on), and not Slack."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    blob = await _saved_with_slack_having_the_firing(text)
    more = parse_config(text.replace('"pagerduty"]', '"pagerduty", "console"]'))
    fresh = Pipeline(core_settings(more))
    feed_spike(fresh, "a.example", T, 6, 4)
    after = Evaluator(more.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 2)
    after.evaluate(fresh.ledger, T + 3)
    sent = sorted((s, n.kind.value) for n in after.due(T + 3) for s in n.sinks)
    assert sent == [("console", "firing"), ("pagerduty", "firing")]
    assert after.evaluate(fresh.ledger, T + 4) == []


async def test_a_file_without_the_sinks_that_had_a_firing_sends_it_to_every_sink() -> None:
    """A file from an earlier build keeps an unsent firing as not notified, and says no
    more: the restart sends it to every sink the rule names, as that build did (Slack
    twice: not losing PagerDuty's page comes first)."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    data = msgspec.msgpack.decode(await _saved_with_slack_having_the_firing(text))
    del data["heard"]
    config = parse_config(text)
    fresh = Pipeline(core_settings(config))
    feed_spike(fresh, "a.example", T, 6, 4)
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(msgspec.msgpack.encode(data), fresh.ledger, after, T + 2)
    after.evaluate(fresh.ledger, T + 3)
    (page,) = after.due(T + 3)
    assert (page.kind.value, page.sinks) == ("firing", ("slack", "pagerduty"))


def _restarted(blob: bytes, text: str) -> list[tuple[str, str]]:
    """(sink, kind) of what the restart from ``blob`` under config ``text`` sends, the
    spike still in the window, by the first evaluation; nothing more by the next."""
    config = parse_config(text)
    fresh = Pipeline(core_settings(config))
    feed_spike(fresh, "a.example", T, 6, 4)
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 2)
    after.evaluate(fresh.ledger, T + 3)
    sent = sorted((s, n.kind.value) for n in after.due(T + 3) for s in n.sinks)
    assert after.evaluate(fresh.ledger, T + 4) == []
    return sent


async def test_a_sink_taken_off_the_rule_is_resolved_only_if_it_had_the_firing() -> None:
    """The same stop (Slack took the firing, PagerDuty had not). Restarted with Slack
    taken off the rule, Slack is told the alert ended (it had it) and PagerDuty is
    paged; with PagerDuty taken off, neither hears anything: Slack has the page, and
    PagerDuty never had the incident."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    blob = await _saved_with_slack_having_the_firing(text)
    off_slack = text.replace('["slack", "pagerduty"]', '["pagerduty"]')
    assert _restarted(blob, off_slack) == [("pagerduty", "firing"), ("slack", "resolved")]
    off_pagerduty = text.replace('["slack", "pagerduty"]', '["slack"]')
    assert _restarted(blob, off_pagerduty) == []


async def test_a_save_before_the_first_evaluation_keeps_the_firing_owed() -> None:
    """Restored, the firing PagerDuty is owed is sent by the first evaluation. A save
    before it (sesd stopped again at once) keeps it owed to PagerDuty alone, so the
    next restart pages PagerDuty, and not Slack."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    blob = await _saved_with_slack_having_the_firing(text)
    config = parse_config(text)
    fresh = Pipeline(core_settings(config))
    feed_spike(fresh, "a.example", T, 6, 4)
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 2)
    again = snapshot(fresh.ledger, after, T + 2, stopped=True)
    assert msgspec.msgpack.decode(again)["heard"] == {"delays": {"a.example": ["slack"]}}
    assert _restarted(again, text) == [("pagerduty", "firing")]


async def test_a_silence_at_the_restart_holds_the_owed_page_until_it_ends() -> None:
    """The same stop. A silence on a.example holds PagerDuty's page after the restart,
    as it holds any page; when it ends PagerDuty is paged, and Slack is not."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    blob = await _saved_with_slack_having_the_firing(text)
    config = parse_config(text)
    fresh = Pipeline(core_settings(config))
    feed_spike(fresh, "a.example", T, 6, 4)
    silence = Silence(id="s1", comment="known", starts_at=T, ends_at=T + 10, domain="a.example")
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    after.silences = SilenceSet([silence])
    restore(blob, fresh.ledger, after, T + 2)
    after.evaluate(fresh.ledger, T + 3)
    assert after.due(T + 3) == []
    after.evaluate(fresh.ledger, T + 11)
    (page,) = after.due(T + 11)
    assert (page.kind.value, page.sinks) == ("firing", ("pagerduty",))


async def test_an_alert_ending_before_the_owed_page_went_resolves_where_it_was_heard() -> None:
    """The same stop; the restart's first evaluation comes after the spike left the
    window (and the start's hold): the alert resolves before PagerDuty was paged.
    Slack, which had the page, is told it ended; PagerDuty, which never had it,
    nothing."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    blob = await _saved_with_slack_having_the_firing(text)
    config = parse_config(text)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 2)
    (resolve,) = after.evaluate(fresh.ledger, T + 700)
    assert resolve.kind.value == "resolved"
    (told,) = after.due(T + 700)
    assert (told.kind.value, told.sinks) == ("resolved", ("slack",))


async def test_firings_owed_past_the_restored_ceiling_leave_the_rest_owed() -> None:
    """Slack took 300 firings PagerDuty had not when sesd stopped; the restart tracks
    fewer domains (``max_tracked`` lowered), so fewer alert states restore than were
    saved, the oldest dropped. The file is still read (not refused as damaged, which
    would start sesd with no alert state: every incident paged again), and PagerDuty is
    paged for the firings restored, Slack for none."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    domains = [f"d{i:03}.example" for i in range(300)]
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(f"[domains]\nmax_tracked = 400\n{text}")
        alerting.open(session)
        for first, batch in enumerate((domains[:100], domains[100:])):
            now[0] = T + first  # the first hundred fire first: the oldest, the dropped
            for domain in batch:
                feed_spike(pipeline, domain, T, 6, 4)
            alerting.evaluate()
        taken = [domain for _, labels in _queued(alerting, "slack") for domain in labels]
        assert sorted(taken) == domains
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    config = parse_config(f"[domains]\nmax_tracked = 1\n{text}")
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restored = restore(blob, fresh.ledger, after, T + 3)
    assert restored["alert_states_refused"] > 0
    after.evaluate(fresh.ledger, T + 4)
    sent = {(s, n.kind.value) for n in after.due(T + 4) for s in n.sinks}
    assert sent == {("pagerduty", "firing")}


async def test_a_rule_gone_at_the_restart_resolves_only_where_its_firing_was_heard() -> None:
    """The same stop (Slack took the firing, PagerDuty had not). Restarted with the
    rule gone (another in its place, quiet), the alert ends: Slack, which had the
    page, is told so; PagerDuty, which never had it, hears nothing."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    blob = await _saved_with_slack_having_the_firing(text)
    other = text.replace('name = "delays"', 'name = "delays-hourly"').replace("0.2", "0.99")
    assert _restarted(blob, other) == [("slack", "resolved")]


async def test_a_firing_waiting_out_group_wait_at_a_save_is_sent_after_a_restart() -> None:
    """A save while a firing waits out ``group_wait`` (sesd killed after it, before
    the wait ended): the file keeps it as not sent, so the restart pages every sink."""
    text = HEAD.replace('"0s"', '"30s"') + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(text)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "slack") == []  # waiting in its group
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 1, unsent.again, False, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    config = parse_config(text)
    fresh = Pipeline(core_settings(config))
    feed_spike(fresh, "a.example", T, 6, 4)
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 2)
    after.evaluate(fresh.ledger, T + 3)
    sent = sorted((s, n.kind.value) for n in after.due(T + 3, flush=True) for s in n.sinks)
    assert sent == [("pagerduty", "firing"), ("slack", "firing")]


async def test_a_resolve_waiting_out_group_wait_at_a_save_goes_where_the_firing_went() -> None:
    """The firing went to Slack and PagerDuty; its resolve waits out ``group_wait`` at
    a save, and the restart's config adds the console to the rule. The restart tells
    Slack and PagerDuty the alert ended, and not the console, which never had it."""
    text = HEAD.replace('"0s"', '"30s"') + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(text)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        now[0] = T + 31
        alerting.evaluate()
        assert _queued(alerting, "slack") == [("firing", ["a.example"])]
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        now[0] = T + 700  # the spike left the window: resolved, waiting in its group
        alerting.evaluate()
        assert _queued(alerting, "slack") == []
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 701, unsent.again, False, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    config = parse_config(text.replace('"pagerduty"]', '"pagerduty", "console"]'))
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 702)
    after.evaluate(fresh.ledger, T + 703)
    sent = sorted((s, n.kind.value) for n in after.due(T + 800, flush=True) for s in n.sinks)
    assert sent == [("pagerduty", "resolved"), ("slack", "resolved")]


async def test_a_firing_in_a_file_from_before_silences_counts_as_sent() -> None:
    """A file from a build before silences keeps no "sent" flag: every firing alert in
    it had been sent. Restored, it pages no sink again."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(text)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        blob = snapshot(pipeline.ledger, alerting.evaluator, T + 1, stopped=True)
    data = msgspec.msgpack.decode(blob)
    data["alerts"]["delays"]["a.example"] = data["alerts"]["delays"]["a.example"][:5]
    assert _restarted(msgspec.msgpack.encode(data), text) == []


async def test_a_firing_queued_for_a_rule_a_reload_removed_is_saved() -> None:
    """Two rules fire for a.example; Slack took both firings, PagerDuty's are still
    queued, and a reload removes the first rule (another, quiet, in its place),
    queueing its resolve behind. A save then writes the file, that firing dropped (its
    rule is gone) and its resolve kept for Slack alone, the other firing still owed to
    PagerDuty: the restart tells Slack the first alert ended, and pages PagerDuty the
    second; PagerDuty, never paged the first, is not told it ended."""
    rule = ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    text = HEAD + rule + rule.replace('"delays"', '"delays-high"').replace("0.2", "0.3")
    other = text.replace('name = "delays"', 'name = "delays-hourly"').replace("0.2", "0.99")
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(text)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert len(_queued(alerting, "slack")) == 2  # taken; PagerDuty's still queued
        alerting.reconfigure(parse_config(other))
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 1, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    assert _restarted(blob, other) == [("pagerduty", "firing"), ("slack", "resolved")]


async def test_a_removed_rule_s_resolve_slack_took_goes_to_pagerduty_alone() -> None:
    """Both sinks took a.example's firing; a reload removes the rule, and of its
    resolve Slack takes its copy and PagerDuty's is still queued at the stop. The
    restart sends the resolve to PagerDuty alone: Slack is not told twice."""
    text = HEAD + ROUTED_RULE + 'sinks = ["slack", "pagerduty"]\n'
    other = text.replace('name = "delays"', 'name = "delays-hourly"').replace("0.2", "0.99")
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(text)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        _queued(alerting, "pagerduty")  # both took the firing
        _queued(alerting, "slack")
        alerting.reconfigure(parse_config(other))
        assert _queued(alerting, "slack") == [("resolved", ["a.example"])]  # taken
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 1, unsent.again, True, unsent.retired,
            unsent.firing,
        )  # fmt: skip
    assert _restarted(blob, other) == [("pagerduty", "resolved")]
