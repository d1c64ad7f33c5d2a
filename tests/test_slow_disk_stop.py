"""A stop on a disk whose fsync hangs: the last save has what is left of the stop's
budget (the grace period and ``LAST_SAVE``), then sesd exits 1 and says why, inside
the shipped units' stop timeout rather than at their SIGKILL. The disk is slowed by
an event the test holds (no preloaded library: a fresh CI machine may lack a
compiler), in-process or in a real ``sesd run``."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config.sections import EXIT_ROOM, LAST_SAVE
from sesd.runtime import saver as saver_module
from sesd.runtime.state import _decoded
from tests import factory as f
from tests.conftest import make_queue
from tests.sesd_process import config_file, sesd_process
from tests.test_state_files import _saver, clocked_saver, slow_first_write

#: ``sesd run`` whose every fsync waits until the FIFO named first is opened for
#: writing and closed: a disk that hangs for as long as the test holds it.
SLOW_DISK = """
import os, sys
gate = sys.argv.pop(1)
synced = os.fsync
def fsync(fd):
    with open(gate, "rb") as held:
        held.read()
    synced(fd)
os.fsync = fsync
from sesd.commands.main import main
sys.exit(main())
"""


async def test_a_last_save_on_a_hung_disk_gives_up_in_its_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop's save is held by the disk past the time it is given: it returns then,
    its write left to its thread; the file on disk is the one saved before, whole, the
    save counts as failed (sesd run exits 1), an error names the file, and no save
    comes after it, not even once the disk answers."""
    path = tmp_path / "state.bin"
    saver = _saver(path)
    saver.load()
    await saver.save()
    before = path.read_bytes()
    hung, done = threading.Event(), threading.Event()
    writes: list[bytes] = []

    def disk(path: str, blob: bytes) -> None:
        writes.append(blob)
        hung.wait()
        done.set()

    monkeypatch.setattr(saver_module, "write_state", disk)
    results: list[bool] = []
    saver.on_result = lambda ok, now: results.append(ok)
    try:
        with capture_logs() as logs:
            started = time.monotonic()
            await saver.save_last(0.3)
            waited = time.monotonic() - started
        hung.set()
        await anyio.to_thread.run_sync(done.wait)
        await saver.save()  # a periodic save after the last: nothing more is written
    finally:
        hung.set()
        saver.release()
    assert waited < 2.0
    assert saver.failed
    assert saver.unfinished
    assert results == [False]
    assert len(writes) == 1
    (error,) = [r for r in logs if r["event"] == "sesd.state.save_unfinished"]
    assert error["log_level"] == "error"
    assert error["path"] == str(path)
    assert path.read_bytes() == before
    assert _decoded(before)["saved_at"] == f.T0


async def test_a_write_left_to_its_thread_never_lands_after_a_newer_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save cancelled while the disk holds its write (left to its thread), then a
    save of a newer snapshot: the newer write waits for the older one and lands after
    it, so the file ends holding the newer snapshot, not the older renamed last."""
    entered, held, newer_written = slow_first_write(monkeypatch)
    path = tmp_path / "state.bin"
    saver, now = clocked_saver(path)
    older = anyio.CancelScope()

    async def save_older() -> None:
        with older:
            await saver.save()

    async with anyio.create_task_group() as tg:
        tg.start_soon(save_older)
        await anyio.to_thread.run_sync(entered.wait)
        older.cancel()  # the older save returns; its write goes on in its thread
        now[0] = f.T0 + 10
        tg.start_soon(saver.save)
        # Written within a second if nothing holds it back (it must not be, here).
        early = await anyio.to_thread.run_sync(newer_written.wait, 1.0)
        held.set()
        await anyio.to_thread.run_sync(newer_written.wait)
    saver.release()
    assert not early
    assert _decoded(path.read_bytes())["saved_at"] == f.T0 + 10


@pytest.mark.timeout(90)
async def test_a_stop_on_a_hung_disk_ends_in_its_budget_and_exits_1(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """`sesd run` saved its state at an earlier stop; now every fsync hangs. SIGTERM:
    the stop ends within the grace period, LAST_SAVE and a moment (not at the
    supervisor's SIGKILL), exit 1, an error naming the state file and saying the last
    save did not finish; the file is the earlier one, whole, and the next start
    restores it (and removes what the cut-off save left beside it)."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "state.bin"
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        f'[shutdown]\ngrace_period = "0s"\n[state]\npath = "{state}"\n',
    )
    async with sesd_process(config) as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            assert await sesd.process.wait() == 0
    before = state.read_bytes()
    gate = tmp_path / "disk"
    os.mkfifo(gate)
    slow = [sys.executable, "-c", SLOW_DISK, str(gate)]
    async with sesd_process(config, command=slow) as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        with anyio.fail_after(LAST_SAVE + EXIT_ROOM + 10):
            unfinished = await sesd.wait_for_event("sesd.state.save_unfinished")
            code = await sesd.process.wait()
        took = time.monotonic() - started
    assert code == 1
    assert took < LAST_SAVE + EXIT_ROOM  # grace_period 0s
    assert unfinished["level"] == "error"
    assert unfinished["path"] == str(state)
    assert unfinished["waited_seconds"] > LAST_SAVE - 2
    assert state.read_bytes() == before
    async with sesd_process(config, until="sesd.state.restored") as sesd:
        removed = await sesd.logged("sesd.state.leftovers_removed")
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            assert await sesd.process.wait() == 0
    assert removed["count"] == 1
