"""A reload that leaves ``[canary]`` as it was but changes the queue it reads from (its
first queue, when it names none), and so the region it sends in: the sender moves
there, as the events of the canaries it sends arrive through that queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import make_queue, running
from tests.fake_ses import FakeSes
from tests.test_aws_clients_retired import _far_queue


def _config(local: LocalSqs, queues: str, ses: str) -> str:
    return (
        f'[aws]\nendpoint_url = "{local.url}"\n{queues}'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "10s"\n'
        '[canary]\nfrom = "canary@example.com"\nconfiguration_set = "sesd"\n'
        f'interval = "1s"\ndeadline = "2m"\nendpoint_url = "{ses}"\n'
    )


async def test_a_reload_that_moves_the_canarys_queue_moves_its_sender(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """The canary names no queue: it reads the first, ``far`` (eu-west-1), and sends
    there. A reload removes ``far``: its queue is now ``q`` (us-east-1), and its next
    SendEmail is signed for us-east-1. The sender went on in eu-west-1, as the one
    ``[canary]`` section had not changed: its configuration set there sends its events
    to a queue sesd no longer reads, and each canary went missing (a page)."""
    url, _ = await make_queue(sqs)
    far = await _far_queue(local_sqs)
    near = f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
    away = f'[[queues]]\nurl = "{far}"\nname = "far"\nregion = "eu-west-1"\nwait_time_seconds = 1\n'
    path = tmp_path / "sesd.toml"
    async with FakeSes() as ses:
        path.write_text(_config(local_sqs, away + near, ses.url))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(10):
                await ses.wait_for(lambda fake: len(fake.signed) >= 1)
            assert ses.signed[0] == "eu-west-1"
            path.write_text(_config(local_sqs, near, ses.url))
            assert await daemon.reload()
            assert daemon.config.canary_sender() == ("", "us-east-1")
            sent = len(ses.signed)
            with anyio.fail_after(10):
                await ses.wait_for(lambda fake: len(fake.signed) >= sent + 2)
            # The one under way at the reload may have gone as before; the next, not.
            assert ses.signed[-1] == "us-east-1"
