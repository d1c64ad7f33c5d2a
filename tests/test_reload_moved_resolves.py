"""A reload keeps a rule but moves it off a sink (removes the sink from its ``sinks``,
or moves it from Slack to PagerDuty) while that sink is down, and sesd stops before
the sink is back: the resolve it is owed is kept in the state file, and the restarted
sesd sends it there, and only there. Left out, PagerDuty's incident stayed open for
ever; saved among the rule's own states, it went to the sinks the rule names now,
one of which never had the trigger. A real ``Daemon``, moto's SQS, local Slack and
PagerDuty receivers answering 500 through the outage."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from sesd.runtime.daemon import Daemon
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.dns_server import hermetic_text
from tests.receivers import Answer, Receiver
from tests.test_alerting_e2e import ROUTING_KEY, Clock, answered_until

#: Through an outage: every post refused until the test says the sink is back.
DOWN = [Answer(500)] * 1000


class World(NamedTuple):
    """A queue, the Slack and PagerDuty receivers, and the config file's path."""

    local: LocalSqs
    url: str
    slack: Receiver
    pd: Receiver
    path: Path


@asynccontextmanager
async def _world(
    local: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    # Short polls, asked again soon: the clock moves through minutes (answered_until).
    monkeypatch.setattr("sesd.runtime.sqs.SHORT_POLL_PAUSE", 0.05)
    url, _ = await make_queue(sqs)
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        monkeypatch.setenv("SESD_TEST_PD_KEY", ROUTING_KEY)
        yield World(local, url, slack, pd, tmp_path / "sesd.toml")


def _configured(world: World, sinks: str) -> Path:
    """The config file, the rule on ``sinks`` (a TOML list); Slack and PagerDuty are
    configured whichever it names."""
    world.path.write_text(
        hermetic_text(
            f'[aws]\nendpoint_url = "{world.local.url}"\n'
            f'[[queues]]\nurl = "{world.url}"\nname = "q"\nwait_time_seconds = 0\n'
            '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "1s"\n'
            f'[state]\npath = "{world.path.parent / "state.bin"}"\n'
            '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
            '[alerts.slack]\nwebhook_url = "env:SESD_TEST_SLACK_URL"\n'
            '[alerts.pagerduty]\nrouting_key = "env:SESD_TEST_PD_KEY"\n'
            f'events_url = "{world.pd.url}"\n'
            '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.2\nclear_below = 0.1\nmin_events = 5\nseverity = "critical"\n'
            f"sinks = {sinks}\n"
        )
    )
    return world.path


@asynccontextmanager
async def _sesd(world: World, clock: Clock) -> AsyncIterator[Daemon]:
    """sesd on the config file as it is; its reloads read it again."""
    async with running(load_config(world.path), clock=clock, config_path=world.path) as daemon:
        yield daemon


def _spike(domain: str, at: float) -> list[str]:
    """Six delays and four deliveries to ``domain``: its delay ratio fires."""
    delays = [f.sns(f.delay([f"d{i}@{domain}"], at=at, expires=at + 7200)) for i in range(6)]
    return delays + [f.sns(f.delivery([f"ok{i}@{domain}"], at=at)) for i in range(4)]


def _events(pd: Receiver) -> list[tuple[str, str]]:
    """(action, domain) of each event PagerDuty took."""
    return [(e["event_action"], e["dedup_key"].rsplit(":", 1)[1]) for e in pd.accepted]


def _messages(slack: Receiver) -> list[str]:
    """Each message Slack took: ``resolved`` or ``firing``."""
    return ["resolved" if "white_check_mark" in json.dumps(m) else "firing" for m in slack.accepted]


async def _settled(daemon: Daemon, sink: str) -> None:
    """Three evaluations (a restart's owed resolves are queued by the first), then
    ``sink``'s outbox emptied."""
    start = daemon.alerting.evaluations
    with anyio.fail_after(20):
        await daemon.changes.wait_for(lambda: daemon.alerting.evaluations >= start + 3)
        await daemon.alerting.outboxes[sink].wait_empty()


async def test_a_sink_a_reload_takes_off_a_rule_gets_its_resolve_after_a_restart(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a.example fires on Slack and PagerDuty. PagerDuty goes down (500), and a reload
    takes it off the rule: it is owed a.example's resolve, which it refuses until sesd
    stops. b.example fires after the reload, on Slack alone. PagerDuty is back at the
    restart: it gets a.example's resolve, and nothing of b.example, whose trigger it
    never had; Slack hears nothing new (both alerts still fire)."""
    clock = Clock(f.T0)
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        _configured(world, '["slack", "pagerduty"]')
        async with _sesd(world, clock) as daemon:
            await send_bodies(sqs, world.url, _spike("a.example", f.T0))
            with anyio.fail_after(20):
                await world.pd.wait_for(1)
                await world.slack.wait_for(1)
            world.pd.script(*DOWN)
            _configured(world, '["slack"]')
            assert await daemon.reload()
            with anyio.fail_after(20):
                await world.pd.wait_arrived(2)  # the resolve, refused
            await send_bodies(sqs, world.url, _spike("b.example", f.T0))
            with anyio.fail_after(20):
                await world.slack.wait_for(2)
        assert _events(world.pd) == [("trigger", "a.example")]
        world.pd._script.clear()  # back
        clock.now = f.T0 + 30  # both spikes still in the window
        async with _sesd(world, clock) as daemon:
            await _settled(daemon, "pagerduty")
        assert _events(world.pd) == [("trigger", "a.example"), ("resolve", "a.example")]
        assert _messages(world.slack) == ["firing", "firing"]


async def test_a_rule_moved_off_slack_in_its_outage_resolves_there_after_a_restart(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a.example fires on Slack. Slack goes down, and a reload moves the rule to
    PagerDuty: PagerDuty gets the trigger, Slack is owed the resolve. The incident
    then ends: PagerDuty gets its resolve; Slack still refuses when sesd stops. At the
    restart Slack gets its resolve, and PagerDuty, which has had one, no second."""
    clock = Clock(f.T0)
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        _configured(world, '["slack"]')
        async with _sesd(world, clock) as daemon:
            await send_bodies(sqs, world.url, _spike("a.example", f.T0))
            with anyio.fail_after(20):
                await world.slack.wait_for(1)
            world.slack.script(*DOWN)
            _configured(world, '["pagerduty"]')
            assert await daemon.reload()
            with anyio.fail_after(20):
                await world.pd.wait_for(1)
                await world.slack.wait_arrived(2)
            await answered_until(daemon, clock, f.T0 + 600)  # the spike leaves the window
            with anyio.fail_after(20):
                await world.pd.wait_for(2)
        assert _messages(world.slack) == ["firing"]
        world.slack._script.clear()
        clock.now = f.T0 + 660
        async with _sesd(world, clock) as daemon:
            await _settled(daemon, "slack")
            await _settled(daemon, "pagerduty")
        assert _messages(world.slack) == ["firing", "resolved"]
        assert _events(world.pd) == [("trigger", "a.example"), ("resolve", "a.example")]


async def test_a_resolve_a_sink_missed_goes_to_it_not_to_the_sink_the_rule_moved_to(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a.example fires on PagerDuty, and ends while PagerDuty is down: it is owed the
    resolve. A reload then moves the rule to Slack (nothing fires: Slack is owed
    nothing), and sesd stops. At the restart PagerDuty gets the resolve; Slack, which
    never had the alert, is not told it ended."""
    clock = Clock(f.T0)
    async with _world(local_sqs, sqs, tmp_path, monkeypatch) as world:
        _configured(world, '["pagerduty"]')
        async with _sesd(world, clock) as daemon:
            await send_bodies(sqs, world.url, _spike("a.example", f.T0))
            with anyio.fail_after(20):
                await world.pd.wait_for(1)
            world.pd.script(*DOWN)
            await answered_until(daemon, clock, f.T0 + 600)
            with anyio.fail_after(20):
                await world.pd.wait_arrived(2)  # the resolve, refused
            _configured(world, '["slack"]')
            assert await daemon.reload()
        world.pd._script.clear()
        clock.now = f.T0 + 660
        async with _sesd(world, clock) as daemon:
            await _settled(daemon, "pagerduty")
            await _settled(daemon, "slack")
        assert _events(world.pd) == [("trigger", "a.example"), ("resolve", "a.example")]
        assert _messages(world.slack) == []
