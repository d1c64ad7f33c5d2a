"""The AWS clients a reload in force no longer needs: closed once nothing uses them,
so that reloads, however many, leave no connection pools (and their sockets) open
until exit."""

from __future__ import annotations

import io
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from sesd.io.logs import configure_logging
from tests.conftest import make_queue, running
from tests.test_aws_clients import _config, _open_clients, _pool_open


async def test_reloads_that_change_concurrency_leave_no_clients_open(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Five reloads alternate the queue's concurrency between 2 and 3: each makes the
    queue's clients anew (their pool sized for its pollers) and stops its old pollers.
    Once those have stopped, the old clients are closed: as many clients are open as
    at the start (they stayed open until exit, one pair more for each pool size)."""
    logs = io.StringIO()
    configure_logging("info", "json", stream=logs)
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    path.write_text(_config(local_sqs, url))
    async with running(load_config(str(path)), config_path=path) as daemon:
        before = len(_open_clients())
        for reloads, concurrency in enumerate([2, 3, 2, 3, 2], start=1):
            path.write_text(_config(local_sqs, url, concurrency=concurrency))
            assert await daemon.reload()
            # The old pollers end their long poll in flight and stop.
            with anyio.fail_after(20):
                await daemon.changes.wait_for(partial(_stopped, logs, reloads))
        assert len(_open_clients()) == before
    assert "receive_failed" not in logs.getvalue()


def _stopped(logs: io.StringIO, times: int) -> bool:
    return logs.getvalue().count("sesd.queue.stopped") == times


async def test_a_removed_queues_clients_close_after_its_receive_in_flight(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload removes queue ``far`` (another region: clients of its own) while its
    poller waits in a long poll. Its clients stay open until that receive has come
    back (closed under it, the receive would fail), then are closed; the kept
    queue's clients stay open."""
    logs = io.StringIO()
    configure_logging("info", "json", stream=logs)
    url, _ = await make_queue(sqs)
    far, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    kept = _config(local_sqs, url)
    removed = f'[[queues]]\nurl = "{far}"\nname = "far"\nregion = "eu-west-1"\n'
    path.write_text(kept + removed + "wait_time_seconds = 2\n")
    async with running(load_config(str(path)), config_path=path) as daemon:
        queues = daemon.config.queues
        old = [daemon.sqs(queues[1]), daemon.sqs(queues[1], "receive")]
        staying = [daemon.sqs(queues[0]), daemon.sqs(queues[0], "receive")]
        path.write_text(kept)
        assert await daemon.reload()
        assert all(_pool_open(client) for client in old + staying)
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: "sesd.queue.stopped" in logs.getvalue())
        assert not any(_pool_open(client) for client in old)
        assert all(_pool_open(client) for client in staying)
    assert "receive_failed" not in logs.getvalue()


async def test_the_exit_stack_holds_one_callback_however_many_clients() -> None:
    """Every client made pushed its closing onto the daemon's exit stack, kept there
    after the client was closed: the stack grew with each client a reload made. It
    holds one callback, which closes every client still open at exit."""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import AwsClients

    config = parse_config("")
    async with AsyncExitStack() as stack:
        clients = AwsClients(config, stack)
        made = [
            await clients.client("sqs", "", "us-east-1", AioConfig(), use=f":{n}") for n in range(3)
        ]
        # The stack's own list: what it will call at exit.
        assert len(stack._exit_callbacks) == 1  # type: ignore[attr-defined]
    assert not any(_pool_open(client) for client in made)
