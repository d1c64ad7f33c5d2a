"""Stopping is bounded, with real signals to ``sesd run`` as a
process. (SIGHUP reloads: tests/test_reload.py.)"""

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
from tests.proxy import Proxy
from tests.sesd_process import config_file, sesd_process

#: Short: the stop waits it out on the stalled network, and must end within it and 5 s.
GRACE = 1.0


@pytest.mark.timeout(90)
async def test_sigterm_on_a_stalled_network_exits_within_the_grace_period(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """The SQS endpoint accepts connections and never answers (a proxy that stalls):
    after SIGTERM, sesd exits 0 within the grace period plus 5 s, having saved its state
    and given its outbox what time allowed, instead of waiting on botocore's read
    timeouts and retries until a SIGKILL."""
    url, _ = await make_queue(sqs)
    upstream = int(local_sqs.url.rsplit(":", 1)[1])
    state = tmp_path / "state.bin"
    async with Proxy(upstream) as proxy:
        config = config_file(
            tmp_path,
            f'[aws]\nendpoint_url = "{proxy.url}"\n'
            f'[[queues]]\nurl = "{url.replace(local_sqs.url, proxy.url)}"\nname = "q"\n'
            "wait_time_seconds = 20\n"
            f'[shutdown]\ngrace_period = "{GRACE}s"\n'
            f'[state]\npath = "{state}"\n'
            '[alerts]\nevaluate_every = "100ms"\n[[alerts.rules]]\nname = "any-delay"\n'
            'metric = "delayed_recipients"\nwindow = "5m"\nabove = 0\nsinks = ["console"]\n',
        )
        async with sesd_process(config) as sesd:
            await send_bodies(sqs, url, [f.raw(f.delay(["d@one.example"], at=time.time()))])
            with anyio.fail_after(30):
                await sesd.logged("sesd.alert.firing")
            # The alert fired: the batch was read, and the receive made beside its delete is
            # a long poll in flight. Its batch line comes only when that poll answers, 20 s
            # on an empty queue, which the test waited out for nothing. It waits on in
            # the stalled network.
            proxy.stall()
            sesd.process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            with anyio.fail_after(GRACE + 5):
                stopped = await sesd.wait_for_event("sesd.daemon.stopped")
                code = await sesd.process.wait()
            took = time.monotonic() - started
    assert code == 0
    assert took <= GRACE + 5
    events = [r["event"] for r in sesd.records]
    assert "sesd.state.saved" in events
    assert events.index("sesd.state.saved") < events.index("sesd.daemon.stopped")
    assert stopped["processed"] == 1
    assert state.stat().st_size > 0
