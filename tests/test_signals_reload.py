"""Signals while a reload hangs (its config on a hung network mount): a stop signal is
still read, stops sesd, and the process exits."""

from __future__ import annotations

import os
import signal
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.signals import watch_signals
from sesd.runtime.sqs_calls import InFlight
from tests.conftest import make_queue
from tests.sesd_process import config_file, sesd_process

pytestmark = pytest.mark.timeout(30)


async def test_a_reload_that_hangs_holds_no_stop_and_reloads_do_not_pile_up() -> None:
    """SIGHUP starts a reload that never ends; SIGTERM then stops sesd (it was not even
    read while the watch awaited the reload). SIGHUPs meanwhile wait as one reload."""
    stopped, hung = anyio.Event(), anyio.Event()
    started = []

    async def reload() -> None:
        started.append(1)
        hung.set()
        await anyio.sleep_forever()

    async def save(**_: object) -> None:
        raise AssertionError("a first stop signal saves nothing here")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            watch = partial(
                watch_signals, stopped.set, reload, anyio.Event(), save, in_flight=InFlight()
            )
            await tasks.start(watch)
            for _ in range(3):
                os.kill(os.getpid(), signal.SIGHUP)
            await hung.wait()
            os.kill(os.getpid(), signal.SIGTERM)
            await stopped.wait()
            tasks.cancel_scope.cancel()
    assert started == [1]


@pytest.mark.timeout(60)
async def test_sesd_exits_after_a_stop_while_its_reload_hangs_on_a_file(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """`sesd run`'s config becomes a FIFO nobody writes (a file on a hung network
    mount): SIGHUP's read hangs in its thread; SIGTERM stops sesd, and the process
    exits rather than wait for the read for ever (systemd would wait out its stop
    timeout, then kill it and mark the unit failed)."""
    url, _ = await make_queue(sqs)
    path = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n',
    )
    async with sesd_process(path) as sesd:
        path.unlink()
        os.mkfifo(path)
        sesd.process.send_signal(signal.SIGHUP)
        # Opening the FIFO to write returns once the reload has opened it to read; the
        # read then waits for bytes that never come.
        writer = await anyio.to_thread.run_sync(os.open, str(path), os.O_WRONLY)
        try:
            sesd.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                await sesd.wait_for_event("sesd.daemon.stopped")
                code = await sesd.process.wait()
        finally:
            os.close(writer)
    assert code == 0
