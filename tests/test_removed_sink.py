"""A reload that moves a firing rule from one PagerDuty sink to another, the old one
removed from the config: the old service gets the resolve before its outbox closes,
and the new one the firing. A real ``sesd run``, moto's SQS, two PagerDuty-like
receivers."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.receivers import Receiver
from tests.sesd_process import config_file, sesd_process


@pytest.mark.timeout(120)
async def test_a_removed_sink_gets_the_resolves_of_a_rule_moved_off_it(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    url, _ = await make_queue(sqs)
    async with Receiver("pagerduty") as old, Receiver("pagerduty") as new:

        def config(sink: str, receiver: Receiver) -> Path:
            return config_file(
                tmp_path,
                f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
                f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
                '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
                f'[alerts.sinks.{sink}]\ntype = "pagerduty"\nrouting_key = "R0UT1NGKEY"\n'
                f'events_url = "{receiver.url}"\n'
                '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
                f'above = 0.5\nmin_events = 1\nsinks = ["{sink}"]\n',
            )

        async with sesd_process(config("old", old)) as sesd:
            await send_bodies(sqs, url, [f.raw(f.delay(["d@a.example"], at=time.time()))])
            with anyio.fail_after(30):
                await old.wait_for(1)
            config("new", new)
            sesd.process.send_signal(signal.SIGHUP)
            with anyio.fail_after(30):
                await sesd.wait_for_event("sesd.config.reloaded")
            # The log says what each sink is owed: the old one a resolve, the new a firing.
            said = [r["event"] for r in sesd.records if r.get("reason")]
            assert sorted(said) == ["sesd.alert.firing", "sesd.alert.resolved"]
            with anyio.fail_after(30):
                await new.wait_for(1)
                await old.wait_for(2)
    assert [e["event_action"] for e in old.accepted] == ["trigger", "resolve"]
    assert [e["event_action"] for e in new.accepted] == ["trigger"]
