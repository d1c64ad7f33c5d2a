"""Alerting end to end: SQS (moto) -> windows -> rules -> Slack and PagerDuty receivers."""

from __future__ import annotations

import io
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import anyio
import msgspec
import pytest

from sesd.commands.demo.localsqs import LocalSqs, free_port
from sesd.config import Config, parse_config, read_secrets
from sesd.runtime.daemon import Daemon
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.receivers import Answer, Receiver

ROUTING_KEY = "planted-routing-key-9f2c"


class Clock:
    """Wall time under the test's control: windows move when the test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def answered_until(daemon: Daemon, clock: Clock, until: float) -> None:
    """Move ``clock`` (a running daemon's wall and monotonic time alike) on to ``until``
    as time passes for a daemon that keeps reading: its queues answer their receives
    all along, as real ones do (an empty long poll every 20 s at most). One jump would
    be minutes without an answer, a hung queue whose resolves are held; so the clock
    moves no further at a time than a queue may go unanswered and stay ready
    (``Health.ready_within``), and each queue answers at each new time."""
    health = daemon.health

    def answered() -> bool:
        return all(health.last_receive.get(q, -math.inf) >= clock.now for q in health.queues)

    while clock.now < until:
        clock.now = min(clock.now + health.ready_within, until)
        with anyio.fail_after(20):
            await daemon.changes.wait_for(answered)


def short_polled(config: Config, monkeypatch: pytest.MonkeyPatch) -> Config:
    """``config`` with its queues short-polled (``wait_time_seconds = 0``), each asked
    again 50 ms after an empty answer: for tests that move the clock through minutes
    with :func:`answered_until`, whose every step waits for a receive answered after
    it. A 1 s long poll made each step wait up to a second (ten steps in ten minutes);
    what the queue answers, and when sesd counts it as read, are the same."""
    monkeypatch.setattr("sesd.runtime.sqs.SHORT_POLL_PAUSE", 0.05)
    queues = [msgspec.structs.replace(q, wait_time_seconds=0) for q in config.queues]
    return msgspec.structs.replace(config, queues=queues)


def alerting_config(
    local: LocalSqs,
    url: str,
    slack: Receiver,
    pd: Receiver,
    group_wait: str = "0s",
    extra: str = "",
    slack_timeout: str = "10s",
    max_age: str = "1h",
    slack_url: str = "env:SESD_TEST_SLACK_URL",
    grace: str = "10s",
    min_events: int = 5,
) -> Config:
    """Slack, PagerDuty and the console on one delay-ratio rule; ``extra`` TOML appended
    (its secrets read, as loading the file reads them)."""
    return read_secrets(
        parse_config(
            f'[aws]\nendpoint_url = "{local.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
            f'[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "{grace}"\n'
            f'[alerts]\nevaluate_every = "100ms"\ngroup_wait = "{group_wait}"\n'
            f'notification_max_age = "{max_age}"\n'
            f'[alerts.slack]\nwebhook_url = "{slack_url}"\ntimeout = "{slack_timeout}"\n'
            f'[alerts.pagerduty]\nrouting_key = "env:SESD_TEST_PD_KEY"\nevents_url = "{pd.url}"\n'
            '[[alerts.rules]]\nname = "delay-ratio-high"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            f'above = 0.2\nclear_below = 0.1\nmin_events = {min_events}\nseverity = "critical"\n'
            'sinks = ["slack", "pagerduty", "console"]\n'
            f"{extra}"
        )
    )


class Stateful(NamedTuple):
    """What :func:`stateful` gives: the config, its queue, the two receivers, the state
    file's path."""

    config: Config
    url: str
    slack: Receiver
    pd: Receiver
    state: Path


@asynccontextmanager
async def stateful(
    local: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grace: str = "10s"
) -> AsyncIterator[Stateful]:
    """A fresh queue, Slack and PagerDuty receivers, and :func:`alerting_config` on them
    with a state file in ``tmp_path``: for tests that stop and start sesd again."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "state.bin"
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        monkeypatch.setenv("SESD_TEST_PD_KEY", ROUTING_KEY)
        extra = f'[state]\npath = "{state}"\n'
        config = alerting_config(local, url, slack, pd, grace=grace, extra=extra)
        yield Stateful(config, url, slack, pd, state)


#: A recipient's MTA may write anything: a mention, a link, the recipient's address.
HOSTILE = "smtp; 451 4.7.1 <{address}> greylisted <!channel> see <http://evil.example|here>"


def spike(t: float) -> list[str]:
    delays = [
        f.sns(
            f.delay(
                [f"d{i}@outlook.example"],
                at=t,
                expires=t + 7200,
                diagnostic=HOSTILE.format(address=f"d{i}@outlook.example"),
            )
        )
        for i in range(6)
    ]
    return delays + [f.sns(f.delivery([f"ok{i}@outlook.example"], at=t)) for i in range(4)]


async def test_spike_alerts_and_recovery_resolves(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """A delay spike reaches Slack and PagerDuty once; when it clears, both get the resolve.
    The webhook URL and routing key appear in no log, no console line and no metric."""
    console = io.StringIO()
    clock = Clock(f.T0)
    url, _ = await make_queue(sqs)
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        monkeypatch.setenv("SESD_TEST_PD_KEY", ROUTING_KEY)
        # The rule wants all ten of the spike's events (a receive may take fewer), so the
        # page counts all six of its delays, however SQS splits them.
        config = alerting_config(local_sqs, url, slack, pd, min_events=10)
        config = short_polled(config, monkeypatch)
        async with running(config, clock=clock, console=console) as daemon:
            await send_bodies(sqs, url, spike(f.T0))
            with anyio.fail_after(20):
                await slack.wait_for(1)
                await pd.wait_for(1)
            metrics_url = f"http://127.0.0.1:{daemon.http_port}/metrics"
            async with aiohttp.ClientSession() as http, http.get(metrics_url) as response:
                metrics = await response.text()
            assert 'sesd_alerts_firing{domain="outlook.example",rule="delay-ratio-high"} 1.0' in (
                metrics
            )
            # Six minutes on, the spike has left the 5m window; deliveries flow again.
            clock.now = f.T0 + 360
            later = [f.sns(f.delivery([f"n{i}@outlook.example"], at=clock.now)) for i in range(10)]
            await send_bodies(sqs, url, later)
            with anyio.fail_after(20):
                await slack.wait_for(2)
                await pd.wait_for(2)
    firing, resolved = slack.accepted
    assert firing["text"].startswith(":rotating_light: FIRING delay-ratio-high")
    assert "outlook.example" in firing["text"]
    assert "TransientCommunicationFailure" in json.dumps(firing["blocks"])
    assert resolved["text"].startswith(":white_check_mark: RESOLVED")
    trigger, resolve = pd.accepted
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"]
    assert trigger["payload"]["custom_details"]["delay_types"] == {
        "TransientCommunicationFailure": 6
    }
    # Six diagnostics that differ by address only are one, with no address, and Slack
    # gets them escaped: nobody is mentioned, nothing is linked.
    assert list(trigger["payload"]["custom_details"]["diagnostic_codes"].values()) == [6]
    sent = json.dumps(slack.accepted) + json.dumps(pd.accepted) + console.getvalue()
    assert "@outlook.example" not in sent
    assert "<!channel>" not in json.dumps(slack.accepted)
    assert "&lt;!channel&gt;" in json.dumps(firing["blocks"])
    assert "[FIRING] delay-ratio-high: outlook.example" in console.getvalue()
    assert "[RESOLVED] delay-ratio-high: outlook.example" in console.getvalue()
    everything = json_logs.getvalue() + console.getvalue() + metrics
    assert "planted-secret-slack" not in everything
    assert ROUTING_KEY not in everything


async def test_stop_flushes_grouped_and_retried_alerts_within_the_grace_period(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alert still waiting in its group, for a Slack that first answers 500, is delivered
    during the graceful stop, before the daemon returns."""
    clock = Clock(f.T0)
    url, _ = await make_queue(sqs)
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        monkeypatch.setenv("SESD_TEST_PD_KEY", ROUTING_KEY)
        slack.script(Answer(500))
        config = alerting_config(local_sqs, url, slack, pd, group_wait="1h")
        async with running(config, clock=clock) as daemon:
            await send_bodies(sqs, url, spike(f.T0))
            with anyio.fail_after(20):
                await daemon.changes.wait_for(
                    lambda: sum(daemon.ledger.tallies.messages.values()) >= 10
                )
            assert slack.accepted == []
        # The daemon has returned: the stop flushed the group and retried past the 500.
    assert slack.answers == [500, 200]
    assert len(pd.accepted) == 1


async def test_a_sink_that_never_answers_expires_and_another_is_not_held_up(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack's URL points at a port nobody listens on: each of its notifications is
    retried, then given up past notification_max_age (counted as expired), while
    PagerDuty gets the trigger and the resolve as usual."""
    clock = Clock(f.T0)
    url, _ = await make_queue(sqs)
    async with Receiver("pagerduty") as pd:
        monkeypatch.setenv("SESD_TEST_PD_KEY", ROUTING_KEY)
        dead = f"http://127.0.0.1:{free_port()}/services/T/B/X"
        config = alerting_config(local_sqs, url, pd, pd, max_age="1s", slack_url=dead)
        config = short_polled(config, monkeypatch)
        async with running(config, clock=clock) as daemon:

            def outcome(name: str) -> float:
                found = daemon.metrics.registry.get_sample_value(
                    "sesd_notifications_total", {"sink": "slack", "outcome": name}
                )
                return found or 0.0

            await send_bodies(sqs, url, spike(f.T0))
            with anyio.fail_after(20):
                await pd.wait_for(1)
            clock.now = f.T0 + 360
            await send_bodies(sqs, url, [f.sns(f.delivery(["n@outlook.example"], at=clock.now))])
            with anyio.fail_after(20):
                await pd.wait_for(2)
                await daemon.changes.wait_for(lambda: outcome("expired") == 2)
            assert outcome("retried") >= 2
            assert outcome("sent") == 0
    assert [e["event_action"] for e in pd.accepted] == ["trigger", "resolve"]


async def test_a_running_daemon_repeats_exactly_every_repeat_interval(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alert kept firing: Slack gets the first message at once, nothing more over
    several evaluation ticks until repeat_interval (1m) has passed, then one repeat,
    then nothing until the next minute."""
    clock = Clock(f.T0)
    url, _ = await make_queue(sqs)
    async with Receiver("slack") as slack:
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        config = read_secrets(
            parse_config(
                f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
                f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
                '[http]\nlisten = "127.0.0.1:0"\n'
                '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\nrepeat_interval = "1m"\n'
                '[alerts.slack]\nwebhook_url = "env:SESD_TEST_SLACK_URL"\n'
                '[[alerts.rules]]\nname = "delay-ratio-high"\nmetric = "delay_ratio"\n'
                'window = "5m"\nabove = 0.2\nsinks = ["slack"]\n'
            )
        )
        async with running(short_polled(config, monkeypatch), clock=clock) as daemon:

            async def ticks(n: int) -> None:
                target = daemon.alerting.evaluations + n
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(lambda: daemon.alerting.evaluations >= target)

            await send_bodies(sqs, url, spike(f.T0))
            with anyio.fail_after(20):
                await slack.wait_for(1)
            for at in (f.T0 + 30, f.T0 + 59.9):
                clock.now = at
                await ticks(3)
                assert len(slack.accepted) == 1, at
            clock.now = f.T0 + 60
            with anyio.fail_after(20):
                await slack.wait_for(2)
            clock.now = f.T0 + 119.9
            await ticks(3)
            assert len(slack.accepted) == 2
            clock.now = f.T0 + 120
            with anyio.fail_after(20):
                await slack.wait_for(3)
    first, *repeats = slack.accepted
    assert first["text"].startswith(":rotating_light: FIRING")
    assert all(r["text"].startswith(":repeat: STILL FIRING") for r in repeats)
