"""A notification a sink has not taken when sesd stops is not lost: the state file
keeps its alert as not sent, and the first evaluation after the restart sends it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from sesd.alerting.alert_log import log_unsent
from sesd.alerting.rules import Transition
from sesd.config import Config
from sesd.io.logs import get_logger
from sesd.runtime.daemon import Daemon
from tests import factory as f
from tests.conftest import log_records, running, send_bodies, sesd_logs
from tests.receivers import Answer, Receiver
from tests.test_alerting_e2e import Clock, answered_until, short_polled, spike, stateful


async def _evaluations(daemon: Daemon, n: int) -> None:
    start = daemon.alerting.evaluations
    with anyio.fail_after(20):
        await daemon.changes.wait_for(lambda: daemon.alerting.evaluations >= start + n)


def _actions(pd: Receiver) -> list[str]:
    return [event["event_action"] for event in pd.accepted]


async def _stopped_owing_pagerduty_a_resolve(
    config: Any, sqs: Any, url: str, slack: Receiver, pd: Receiver, clock: Clock
) -> None:
    """A run in which PagerDuty takes a spike's trigger, then refuses (500) its resolve
    until sesd stops: Slack has both, and the resolve is owed to PagerDuty. The ten
    minutes pass while this run reads its queue, which answers all along
    (answered_until): one that answered nothing for that long would be hung, and hold
    the resolve for a window more."""
    async with running(config, clock=clock) as daemon:
        await send_bodies(sqs, url, spike(f.T0))
        with anyio.fail_after(20):
            await pd.wait_for(1)
        pd.script(*[Answer(500)] * 1000)
        # The spike leaves the 5m window: resolved.
        await answered_until(daemon, clock, f.T0 + 600)
        with anyio.fail_after(20):
            await slack.wait_for(2)  # Slack took the resolve; PagerDuty refuses it


async def test_a_resolve_pagerduty_refused_until_the_stop_is_sent_after_the_restart(
    local_sqs: Any, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PagerDuty took the trigger, then answers 500 while the spike ages out and sesd
    stops: the resolve is still queued. The stop says so, and after the restart (the
    spike still over) PagerDuty gets the resolve, so its incident does not stay open."""
    logs = sesd_logs("info")
    clock = Clock(f.T0)
    async with stateful(local_sqs, sqs, tmp_path, monkeypatch, grace="1s") as world:
        config, url, slack, pd, _ = world
        config = short_polled(config, monkeypatch)
        await _stopped_owing_pagerduty_a_resolve(config, sqs, url, slack, pd, clock)
        assert _actions(pd) == ["trigger"]
        pd._script.clear()  # healthy again
        clock.now = f.T0 + 660
        async with running(config, clock=clock) as daemon:
            await _evaluations(daemon, 3)
            with anyio.fail_after(20):
                await pd.wait_for(2)
    assert _actions(pd) == ["trigger", "resolve"]
    records = log_records(logs)
    (unsent,) = [r for r in records if r["event"] == "sesd.notify.unsent_at_exit"]
    assert unsent["alerts"] == ["resolved delay-ratio-high outlook.example"]
    assert unsent["count"] == 1
    assert "restart" in unsent["hint"]


async def test_a_page_pagerduty_refused_until_the_stop_is_sent_after_the_restart(
    local_sqs: Any, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PagerDuty answers 500 to the first page and sesd stops: after the restart, the
    spike still in the window, the page goes out (once), not only at the next repeat
    interval; Slack, which took it before the stop, is not sent it again."""
    clock = Clock(f.T0)
    async with stateful(local_sqs, sqs, tmp_path, monkeypatch, grace="1s") as world:
        config, url, slack, pd, _ = world
        config = short_polled(config, monkeypatch)
        pd.script(*[Answer(500)] * 1000)
        async with running(config, clock=clock):
            await send_bodies(sqs, url, spike(f.T0))
            with anyio.fail_after(20):
                await slack.wait_for(1)
        pd._script.clear()  # healthy again
        clock.now = f.T0 + 30
        async with running(config, clock=clock) as daemon:
            with anyio.fail_after(20):
                await pd.wait_for(1)
            await _evaluations(daemon, 5)
    assert _actions(pd) == ["trigger"]
    assert len(slack.accepted) == 1


def _without_pagerduty(config: Config) -> Config:
    """``config`` as edited before a restart: PagerDuty's section and its name in the
    rule's sinks removed."""
    rules = [
        msgspec.structs.replace(rule, sinks=[s for s in rule.sinks if s != "pagerduty"])
        for rule in config.alerts.rules
    ]
    alerts = msgspec.structs.replace(config.alerts, pagerduty=None, rules=rules)
    return msgspec.structs.replace(config, alerts=alerts)


async def test_a_resolve_owed_to_a_sink_the_restart_dropped_is_a_warning(
    local_sqs: Any, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PagerDuty took the trigger, then refused the resolve until sesd stopped; the
    config it restarts with no longer has PagerDuty. The resolve the state file owes
    PagerDuty has nowhere to go: a warning names the sink, the rule, the kind and the
    domain, so the operator can resolve the incident in PagerDuty by hand."""
    logs = sesd_logs("info")
    clock = Clock(f.T0)
    async with stateful(local_sqs, sqs, tmp_path, monkeypatch, grace="1s") as world:
        config, url, slack, pd, _ = world
        config = short_polled(config, monkeypatch)
        await _stopped_owing_pagerduty_a_resolve(config, sqs, url, slack, pd, clock)
        pd._script.clear()
        clock.now = f.T0 + 660
        async with running(_without_pagerduty(config), clock=clock) as daemon:
            await _evaluations(daemon, 3)
    assert _actions(pd) == ["trigger"]
    records = log_records(logs)
    (gone,) = [r for r in records if r["event"] == "sesd.notify.sink_gone"]
    assert gone["level"] == "warning"
    assert (gone["sink"], gone["rule"], gone["kind"]) == (
        "pagerduty",
        "delay-ratio-high",
        "resolved",
    )
    assert gone["domains"] == ["outlook.example"]
    assert gone["count"] == 1
    assert "by hand" in gone["hint"]


def test_a_stop_without_a_state_file_says_the_key_that_would_keep_the_unsent() -> None:
    """Without a state file what a stop leaves unsent is lost; the line says so, naming
    the key as every message of the config names it (``state.path``)."""
    logs = sesd_logs("info")
    unsent = [("delay-ratio-high", "outlook.example", Transition.FIRING)]
    log_unsent(get_logger(), unsent, kept=False)
    (line,) = log_records(logs)
    assert line["event"] == "sesd.notify.unsent_at_exit"
    assert line["hint"] == "lost: without state.path nothing is kept across a restart"
