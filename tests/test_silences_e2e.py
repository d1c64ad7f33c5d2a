"""Silences through the CLI against a running ``sesd run`` (moto's SQS, a Slack-like
receiver): silenced, expired, and ``--until-resolved``. No restart and no signal: the
daemon sees each change to the file at its next evaluation."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.main import main
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.receivers import Receiver
from tests.sesd_process import SesdProcess, config_file, sesd_process


async def _cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> str:
    """``sesd silence ...`` in a thread of its own, this loop serving (no interpreter
    starts: half a second of CPU each, for a file's edit); returns what it printed."""
    capsys.readouterr()
    command = ["silence", args[0], "--config", str(config), *args[1:]]
    code = await anyio.to_thread.run_sync(main, command)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.strip()


async def _until(sesd: SesdProcess, event: str, **fields: Any) -> dict[str, Any]:
    with anyio.fail_after(30):
        return await sesd.wait_for(
            lambda r: r.get("event") == event and all(r.get(k) == v for k, v in fields.items())
        )


def silences_config(tmp_path: Path, endpoint: str, queue_url: str) -> Path:
    """A config with a silences file and one delay rule paging Slack at
    ``SESD_TEST_SLACK_URL``, its queue read from the SQS at ``endpoint``."""
    return config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{endpoint}"\n'
        f'[[queues]]\nurl = "{queue_url}"\nname = "q"\nwait_time_seconds = 1\n'
        '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
        f'silences_path = "{tmp_path / "silences.json"}"\n'
        '[alerts.slack]\nwebhook_url = "env:SESD_TEST_SLACK_URL"\n'
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        'above = 0.5\nmin_events = 1\nsinks = ["slack"]\n',
    )


def _domains(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"].split("*")[1] for b in message["blocks"][1:-1]]


@pytest.mark.timeout(120)
async def test_silences_through_the_cli_against_a_running_daemon(
    local_sqs: LocalSqs,
    sqs: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _ = await make_queue(sqs)
    async with Receiver("slack") as slack:
        config = silences_config(tmp_path, local_sqs.url, url)

        async def delays(domain: str, delayed: int, delivered: int = 0) -> None:
            now = time.time()
            await send_bodies(
                sqs,
                url,
                [f.raw(f.delay([f"d{i}@{domain}"], at=now)) for i in range(delayed)]
                + [f.raw(f.delivery([f"v{i}@{domain}"], at=now)) for i in range(delivered)],
            )

        # `sesd` on its PATH is this sesd: the mute line names it so.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {"SESD_TEST_SLACK_URL": slack.url, "PATH": path}
        async with sesd_process(config, env=env) as sesd:
            # 1. b.example is silenced before it fires: it fires, shows as silenced,
            # sends nothing.
            silence_id = await _cli(
                capsys, config, "add", "--rule", "delays", "--domain", "b.example", "--for", "1h",
                "--comment", "known: b defers",
            )  # fmt: skip
            await _until(sesd, "sesd.silences.loaded", silences=1)
            await delays("b.example", 1)
            held = await _until(sesd, "sesd.alert.silenced", domain="b.example")
            assert (held["kind"], held["silence"]) == ("firing", silence_id)
            metrics = await sesd.metrics()
            labels = (("domain", "b.example"), ("rule", "delays"))
            assert metrics[("sesd_alerts_silenced", labels)] == 1
            assert metrics[("sesd_alerts_firing", labels)] == 1
            # a.example, not silenced, fires after it: the first message Slack gets.
            await delays("a.example", 1)
            with anyio.fail_after(30):
                await slack.wait_for(1)
            (first,) = slack.accepted
            assert _domains(first) == ["a.example"]
            mute = first["blocks"][-1]["elements"][-1]["text"]
            assert mute == (
                f"mute: sesd silence add --config {config} --rule delays --domain a.example "
                "--for 4h --comment REASON"
            )

            # 2. The silence expires while b still fires: b's firing is sent now.
            assert await _cli(capsys, config, "expire", silence_id) == f"expired {silence_id}"
            with anyio.fail_after(30):
                await slack.wait_for(2)
            assert _domains(slack.accepted[1]) == ["b.example"]
            assert (await sesd.metrics())[("sesd_alerts_silenced", labels)] == 0

            # 3. --until-resolved: c fires unsent, resolves unsent, and the silence ends.
            until_resolved = ["--until-resolved", "--comment", "watch"]
            await _cli(capsys, config, "add", "--domain", "c.example", *until_resolved)
            await _until(sesd, "sesd.silences.loaded", silences=2)
            await delays("c.example", 1)
            await _until(sesd, "sesd.alert.silenced", domain="c.example")
            await delays("c.example", 0, delivered=2)  # 1 of 3 delayed: resolves
            await _until(sesd, "sesd.silences.ended_by_resolve")
            listed = json.loads(await _cli(capsys, config, "list", "--json"))
            assert [s["state"] for s in listed] == ["expired", "expired"]
            await delays("c.example", 3)  # 4 of 6 delayed: fires again, and is sent
            with anyio.fail_after(30):
                await slack.wait_for(3)
    assert [_domains(m) for m in slack.accepted] == [["a.example"], ["b.example"], ["c.example"]]
