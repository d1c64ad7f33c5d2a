"""A firing alert restored from the state file is posted to Alertmanager again at the
first evaluation after a restart, not a resend period after it: Alertmanager ends an
alert at its ``endsAt`` (four resend periods after the last post before the stop),
and a restart that took more than three would see it resolved, then fired again, while
the incident went on. So is one after a reload that changes the sink. The real
Alertmanager and real ``sesd run`` processes."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.receivers import WebhookReceiver
from tests.sesd_process import config_file, sesd_process
from tests.test_alertmanager import _posted, alertmanager


def _ends_at(am: str) -> datetime:
    """The endsAt Alertmanager holds for its one alert."""
    with urllib.request.urlopen(f"{am}/api/v2/alerts", timeout=10) as response:
        (alert,) = json.load(response)
    return datetime.fromisoformat(alert["endsAt"])


def _resent(record: dict[str, Any]) -> bool:
    """A firing alert posted to Alertmanager again (a resend, not its first post)."""
    return (
        record.get("event") == "sesd.notify.sent"
        and record.get("sink") == "am"
        and record.get("kind") == "repeat"
    )


@pytest.mark.timeout(120)
async def test_a_restart_posts_a_firing_alert_to_alertmanager_at_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    url, _ = await make_queue(sqs)
    async with WebhookReceiver() as receiver, alertmanager(tmp_path, receiver.url) as am:
        config = config_file(
            tmp_path,
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
            f'[state]\npath = "{tmp_path / "state.bin"}"\n'
            '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
            # A long period: a post after the restart is the restart's, not a resend's.
            f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["{am}"]\nresend_every = "1h"\n'
            '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\n'
            'window = "5m"\nabove = 0.5\nmin_events = 1\nsinks = ["am"]\n',
        )
        async with sesd_process(config) as first:
            await send_bodies(sqs, url, [f.raw(f.delay(["x@a.example"], at=time.time()))])
            await _posted(first, "a.example")
            first.process.terminate()
            with anyio.fail_after(30):
                await first.process.wait()
        before = await anyio.to_thread.run_sync(_ends_at, am)
        async with sesd_process(config) as second:
            with anyio.fail_after(30):
                await second.wait_for(_resent)
            after = await anyio.to_thread.run_sync(_ends_at, am)
    assert after > before


@pytest.mark.timeout(120)
async def test_a_reload_that_lengthens_resend_every_posts_firing_alerts_at_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """The last post before the reload ends four old periods later; the next resend
    would come one new period after it: a longer one saw Alertmanager end the alert
    meanwhile, and fire it again at that resend."""
    url, _ = await make_queue(sqs)
    async with WebhookReceiver() as receiver, alertmanager(tmp_path, receiver.url) as am:

        def config(resend_every: str) -> Path:
            return config_file(
                tmp_path,
                f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
                f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
                '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
                f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["{am}"]\n'
                f'resend_every = "{resend_every}"\n'
                '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\n'
                'window = "5m"\nabove = 0.5\nmin_events = 1\nsinks = ["am"]\n',
            )

        async with sesd_process(config("1s")) as sesd:
            await send_bodies(sqs, url, [f.raw(f.delay(["x@a.example"], at=time.time()))])
            await _posted(sesd, "a.example")
            config("1h")
            sesd.process.send_signal(signal.SIGHUP)
            with anyio.fail_after(30):
                await sesd.wait_for_event("sesd.config.reloaded")
            reloaded = time.time()
            with anyio.fail_after(30):
                while True:
                    await sesd.wait_for(_resent)
                    ends = await anyio.to_thread.run_sync(_ends_at, am)
                    if ends.timestamp() > reloaded + 3600:
                        break
