"""A silence added while PagerDuty takes a notification's events one by one holds the
firings not sent yet; when it ends while they still fire, they page then, as a
firing the silence held from the start does. A real ``sesd run``, moto's SQS, the
PagerDuty-like receiver and ``sesd silence`` (its ``main()``, in a thread)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.receivers import Answer, Receiver
from tests.sesd_process import config_file, sesd_process
from tests.test_silences_e2e import _cli, _until


@pytest.mark.timeout(120)
async def test_a_firing_a_silence_held_back_mid_notification_pages_when_it_ends(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = await make_queue(sqs)
    async with Receiver("pagerduty") as pd:
        config = config_file(
            tmp_path,
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
            '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "1s"\n'
            f'silences_path = "{tmp_path / "silences.json"}"\n'
            f'[alerts.pagerduty]\nrouting_key = "R0UT1NGKEY"\nevents_url = "{pd.url}"\n'
            'timeout = "60s"\n'
            '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.5\nmin_events = 1\nsinks = ["pagerduty"]\n',
        )
        pd.script(Answer(hang=True))  # a.example's trigger is slow to be taken
        async with sesd_process(config) as sesd:
            now = time.time()
            await send_bodies(
                sqs, url, [f.raw(f.delay([f"d@{d}"], at=now)) for d in ("a.example", "b.example")]
            )
            with anyio.fail_after(30):
                await pd.wait_arrived(1)
            silence = await _cli(
                capsys, config, "add", "--rule", "delays", "--domain", "b.example", "--for", "1h",
                "--comment", "known",
            )  # fmt: skip
            await _until(sesd, "sesd.silences.loaded", silences=1)
            pd.close()  # a.example's trigger is taken; b.example's is held back
            await _until(sesd, "sesd.alert.recalled", domain="b.example")
            assert await _cli(capsys, config, "expire", silence) == f"expired {silence}"
            with anyio.fail_after(30):
                await pd.wait_for(2)
    assert [(e["event_action"], e["dedup_key"]) for e in pd.accepted] == [
        ("trigger", "sesd:delays:a.example"),
        ("trigger", "sesd:delays:b.example"),
    ]
