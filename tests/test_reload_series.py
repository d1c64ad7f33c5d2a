"""What a reload that removes a queue leaves on /metrics: none of its series."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import anyio

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from sesd.runtime.daemon import Daemon
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies


def _queues_with_series(daemon: Daemon) -> set[tuple[str, str]]:
    """Each (family, queue) the registry exports a sample for, of the queue families."""
    return {
        (family.name, sample.labels["queue"])
        for family in daemon.metrics.registry.collect()
        if family.name.startswith(("sesd_sqs_", "sesd_queue_ready"))
        for sample in family.samples
        if "queue" in sample.labels
    }


async def test_a_queue_a_reload_removes_leaves_no_series_on_metrics(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, json_logs: io.StringIO
) -> None:
    """Queue ``q`` has received two messages when a reload removes it: afterwards no
    SQS family (messages received, errors, retries) nor ``sesd_queue_ready`` has a
    series of ``q``, so a dashboard or an ``absent()``/rate rule does not read a ghost
    queue frozen at its last value; the kept queue's series stay."""
    url, _ = await make_queue(sqs)
    kept, _ = await make_queue(sqs)
    text = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{kept}"\nname = "kept"\nwait_time_seconds = 1\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
    )
    path = tmp_path / "sesd.toml"
    path.write_text(text + f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n')
    await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.com"])) for i in range(2)])
    async with running(load_config(str(path)), config_path=path) as daemon:
        with anyio.fail_after(20):
            await daemon.changes.wait_for(
                lambda: daemon.ledger.tallies.messages.get(("q", "processed"), 0) == 2
            )
        families = {"sesd_sqs_messages_received", "sesd_sqs_errors", "sesd_queue_ready"}
        for queue in ("q", "kept"):
            assert {(name, queue) for name in families} <= _queues_with_series(daemon)
        path.write_text(text)
        assert await daemon.reload()
        # Its poller ends its long poll in flight (which brings nothing) and stops.
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: "sesd.queue.stopped" in json_logs.getvalue())
        series = _queues_with_series(daemon)
    assert {queue for _, queue in series} == {"kept"}
    assert {(name, "kept") for name in families} <= series
