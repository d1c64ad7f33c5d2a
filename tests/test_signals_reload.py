"""Signals while a reload hangs (its config on a hung network mount): a stop signal is
still read, and stops sesd."""

from __future__ import annotations

import os
import signal
from functools import partial

import anyio
import pytest

from sesd.runtime.signals import watch_signals

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
            watch = partial(watch_signals, stopped.set, reload, anyio.Event(), save)
            await tasks.start(watch)
            for _ in range(3):
                os.kill(os.getpid(), signal.SIGHUP)
            await hung.wait()
            os.kill(os.getpid(), signal.SIGTERM)
            await stopped.wait()
            tasks.cancel_scope.cancel()
    assert started == [1]
