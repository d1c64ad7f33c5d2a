"""A resolve an Alertmanager member missed (it was down while the other took it) is
owed to it; sesd stops before it is back. The state file carries what it is owed, so
the restarted sesd posts the resolve: the member does not keep the alert firing until
its ``endsAt`` (four resend periods after the last post: four hours here). Two real
Alertmanagers, one behind a proxy the test cuts, and real ``sesd run`` processes
sharing a real state file."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.proxy import Proxy
from tests.receivers import WebhookReceiver
from tests.sesd_process import SesdProcess, config_file, sesd_process
from tests.test_alertmanager import _posted, alertmanager


def _firing(am: str, rule: str = "delays") -> list[str]:
    """The domains of rule ``rule``'s alerts that ``am`` holds as firing (a resolved one
    is not listed). Another rule's may be there too: a reload that puts a rule in the
    place of ``delays`` fires it for a.example, whose delay is still in its window."""
    with urllib.request.urlopen(f"{am}/api/v2/alerts", timeout=10) as response:
        alerts = json.load(response)
    return [alert["labels"]["domain"] for alert in alerts if alert["labels"]["alertname"] == rule]


def _resolve_sent(record: dict[str, Any]) -> bool:
    return (
        record.get("event") == "sesd.notify.sent"
        and record.get("sink") == "am"
        and record.get("kind") == "resolved"
    )


def _firing_sent(record: dict[str, Any]) -> bool:
    return record.get("kind") == "firing" and _resolve_sent({**record, "kind": "resolved"})


async def _stop(sesd: SesdProcess) -> None:
    sesd.process.terminate()
    with anyio.fail_after(30):
        assert await sesd.process.wait() == 0


@asynccontextmanager
async def _members(tmp_path: Path) -> AsyncIterator[tuple[str, str, Proxy]]:
    """Two real Alertmanagers, a and b, b reached through a proxy the test cuts: a's
    URL, b's own, and the proxy."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        WebhookReceiver() as receiver,
        alertmanager(tmp_path / "a", receiver.url) as am_a,
        alertmanager(tmp_path / "b", receiver.url) as am_b,
        Proxy(int(am_b.rsplit(":", 1)[1])) as b,
    ):
        yield am_a, am_b, b


def _config(
    tmp_path: Path,
    local_sqs: LocalSqs,
    url: str,
    members: list[str],
    rule: str = "delays",
    more: str = "",
) -> Path:
    """sesd reading queue ``url``, its state in ``tmp_path``, and alerting the
    Alertmanager ``members`` when more than half of a.example's mail is delayed;
    ``more`` of the rule after its keys."""
    listed = ", ".join(f'"{member}"' for member in members)
    return config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        f'[state]\npath = "{tmp_path / "state.bin"}"\n'
        '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
        f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = [{listed}]\n'
        'resend_every = "1h"\ntimeout = "2s"\n'
        f'[[alerts.rules]]\nname = "{rule}"\nmetric = "delay_ratio"\n'
        'window = "5m"\nabove = 0.5\nmin_events = 1\nsinks = ["am"]\n' + more,
    )


async def _fired_at_both(sesd: SesdProcess, sqs: Any, url: str, am_b: str) -> None:
    """A delay to a.example sent: its alert posted, and firing at member b too."""
    await send_bodies(sqs, url, [f.raw(f.delay(["x@a.example"], at=time.time()))])
    await _posted(sesd, "a.example")
    assert await anyio.to_thread.run_sync(_firing, am_b) == ["a.example"]


async def _restarted_owing(config: Path, am_b: str, b: Proxy) -> None:
    """b, which still shows the alert firing, comes back; sesd starts from ``config``
    and its state file and posts b the resolve: b no longer shows the alert."""
    assert await anyio.to_thread.run_sync(_firing, am_b) == ["a.example"]
    b.restore()
    async with sesd_process(config) as second:
        with anyio.fail_after(30):
            await second.wait_for(_resolve_sent)
        assert await anyio.to_thread.run_sync(_firing, am_b) == []
        await _stop(second)


@pytest.mark.timeout(120)
async def test_a_resolve_a_member_missed_is_posted_to_it_after_a_restart(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """delays/a.example fires at both members. Member b is cut off; a.example recovers
    and the resolve goes to a only (b failed: owed). sesd stops while b is still down,
    and b still shows the alert firing. b comes back; sesd starts from its state file
    and posts the resolve: b no longer shows the alert."""
    url, _ = await make_queue(sqs)
    async with _members(tmp_path) as (am_a, am_b, b):
        config = _config(tmp_path, local_sqs, url, [am_a, b.url])
        async with sesd_process(config) as first:
            await _fired_at_both(first, sqs, url, am_b)
            b.cut()
            now = time.time()
            deliveries = [f.raw(f.delivery([f"v{i}@a.example"], at=now)) for i in range(3)]
            await send_bodies(sqs, url, deliveries)
            with anyio.fail_after(30):
                await first.wait_for_event("sesd.notify.member_failed")
                await first.wait_for(_resolve_sent)
            assert await anyio.to_thread.run_sync(_firing, am_a) == []
            await _stop(first)
        await _restarted_owing(config, am_b, b)


@pytest.mark.timeout(120)
async def test_a_removed_rules_resolve_a_member_missed_is_posted_after_a_restart(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """delays/a.example fires at both members. Member b is cut off; a reload removes
    the rule, whose alert resolves: a takes the resolve (then the firing of the rule put
    in its place), b is owed it. sesd stops while b is still down: the rule is in no
    config any more, yet the state file keeps what the resolve needs. b comes back;
    sesd starts from the file and posts the resolve: b no longer shows the alert
    (rather than until its endsAt, four hours on)."""
    url, _ = await make_queue(sqs)
    async with _members(tmp_path) as (am_a, am_b, b):
        async with sesd_process(_config(tmp_path, local_sqs, url, [am_a, b.url])) as first:
            await _fired_at_both(first, sqs, url, am_b)
            b.cut()
            # The rule delays removed, another in its place.
            config = _config(tmp_path, local_sqs, url, [am_a, b.url], rule="other-delays")
            first.process.send_signal(signal.SIGHUP)
            with anyio.fail_after(30):
                await first.wait_for_event("sesd.config.reloaded")
                await first.wait_for_event("sesd.notify.member_failed")
                await first.wait_for(_resolve_sent)
                await first.wait_for(_firing_sent)  # the rule in its place, behind it
            assert await anyio.to_thread.run_sync(_firing, am_a) == []
            assert await anyio.to_thread.run_sync(_firing, am_a, "other-delays") == ["a.example"]
            await _stop(first)
        await _restarted_owing(config, am_b, b)


def _teams(am: str) -> list[tuple[str, str]]:
    """(domain, team label) of each alert ``am`` holds as firing."""
    with urllib.request.urlopen(f"{am}/api/v2/alerts", timeout=10) as response:
        return [(a["labels"]["domain"], a["labels"]["team"]) for a in json.load(response)]


@pytest.mark.timeout(120)
async def test_a_resolve_owed_under_labels_a_reload_changed_is_posted_after_a_restart(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """delays/a.example fires at both members under ``team = "mail"``. Member b is cut
    off; a reload relabels the rule ``team = "ops"``: the alert goes on under the new
    labels, and the old labels' alert resolves (a takes it, b is owed it). sesd stops
    while b is still down. The rule is kept, but the restart resolves it under its
    labels as configured: b's old alert was left firing until its endsAt, four hours
    on. b comes back; sesd starts from the file and posts b the old labels' resolve."""
    url, _ = await make_queue(sqs)
    async with _members(tmp_path) as (am_a, am_b, b):

        def config(team: str) -> Path:
            team_is = f'labels = {{ team = "{team}" }}\n'
            return _config(tmp_path, local_sqs, url, [am_a, b.url], more=team_is)

        async with sesd_process(config("mail")) as first:
            await send_bodies(sqs, url, [f.raw(f.delay(["x@a.example"], at=time.time()))])
            await _posted(first, "a.example")
            assert await anyio.to_thread.run_sync(_teams, am_b) == [("a.example", "mail")]
            b.cut()
            config("ops")
            first.process.send_signal(signal.SIGHUP)
            with anyio.fail_after(30):
                await first.wait_for_event("sesd.config.reloaded")
                await first.wait_for_event("sesd.notify.member_failed")
                await first.wait_for(_resolve_sent)
                await first.wait_for(_firing_sent)  # under the new labels, behind it
            assert await anyio.to_thread.run_sync(_teams, am_a) == [("a.example", "ops")]
            await _stop(first)
        assert ("a.example", "mail") in await anyio.to_thread.run_sync(_teams, am_b)
        b.restore()
        async with sesd_process(config("ops")) as second:
            with anyio.fail_after(30):
                await second.wait_for(_resolve_sent)
            assert ("a.example", "mail") not in await anyio.to_thread.run_sync(_teams, am_b)
            await _stop(second)
