"""A stop on a disk whose fsync hangs: the last save has what is left of the stop's
budget (the grace period and ``LAST_SAVE``), then sesd exits 1 and says why, inside
the shipped units' stop timeout rather than at their SIGKILL. The disk is slowed by
an event the test holds (no preloaded library: a fresh CI machine may lack a
compiler), in-process or in a real ``sesd run``."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import pytest

from sesd.runtime import saver as saver_module
from sesd.runtime.state import _decoded, write_state
from tests import factory as f
from tests.test_state_files import _saver


async def test_a_write_left_to_its_thread_never_lands_after_a_newer_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save cancelled while the disk holds its write (left to its thread), then a
    save of a newer snapshot: the newer write waits for the older one and lands after
    it, so the file ends holding the newer snapshot, not the older renamed last."""
    held, entered, newer_written = threading.Event(), threading.Event(), threading.Event()

    def disk(path: str, blob: bytes) -> None:
        if not entered.is_set():
            entered.set()
            held.wait()
            write_state(path, blob)
        else:
            write_state(path, blob)
            newer_written.set()

    monkeypatch.setattr(saver_module, "write_state", disk)
    path = tmp_path / "state.bin"
    saver, now = _saver(path), [f.T0]
    saver._clock = lambda: now[0]
    saver.load()
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
