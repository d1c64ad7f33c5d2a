"""An operation on the silences file given up before a worker thread began it: every
thread busy, or the machine so loaded that none ran in time. The file was never asked,
so nothing holds it: the next operation is tried, and the file read. Given up untried,
the operation never came back, and sesd took the file as hung until a restart: the
silences written since were never in force, and the alerts they mute paged.

The threads are held as busy ones would: the worker threads' capacity taken whole for
as long as the test says, so the operation cannot begin before its bound has passed.
Or a thread takes the operation up and is held, by a profile function, just before it
begins it: the race of a thread that runs as the bound ends, which no timing makes.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import anyio.to_thread
import pytest
from structlog.testing import capture_logs

from sesd.alerting import silence_io
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silence_io import BOUND as SESD_BOUND
from sesd.alerting.silence_watcher import SilenceWatcher
from tests.test_routing import T
from tests.test_silence_hung import BOUND, _events, _silence

pytestmark = pytest.mark.timeout(30)


async def test_a_look_given_up_before_a_thread_began_it_leaves_the_file_to_the_next(
    tmp_path: Path,
) -> None:
    """No thread free for the look within its bound: the refresh goes on without it,
    the hang said once. The next refresh looks at the file and reads it: its silence is
    in force, and the file readable."""
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).add(_silence("s1", domain="a.example"), T)
    watcher = SilenceWatcher(str(path))
    threads = anyio.to_thread.current_default_thread_limiter()
    busy, total = object(), threads.total_tokens
    threads.total_tokens = 1
    try:
        await threads.acquire_on_behalf_of(busy)
        watcher.thread.bound = BOUND  # the look waits for a thread until it is given up
        with capture_logs() as logs:
            try:
                assert not await watcher.arefresh(T)
            finally:
                threads.release_on_behalf_of(busy)
        assert [line["what"] for line in _events(logs, "sesd.silences.hung")] == ["look"]
        assert watcher.silences.items == []
        watcher.thread.bound = SESD_BOUND  # a thread free: the disk answers
        with capture_logs() as logs:
            assert await watcher.arefresh(T + 1)
    finally:
        threads.total_tokens = total
    assert [s.id for s in watcher.silences.items] == ["s1"]
    assert watcher.unreadable.readable() == {str(path): 1}
    assert [line["what"] for line in _events(logs, "sesd.silences.answered")] == ["look"]


async def test_a_look_a_thread_takes_up_as_its_bound_ends_is_not_made_after(
    tmp_path: Path,
) -> None:
    """A thread takes up the look, and is held before it begins it until the bound has
    passed: the look is given up, and the thread does not make it after (the file is
    left to the next operation, which would run beside it). The next refresh looks at
    the file and reads it."""
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).add(_silence("s1", domain="a.example"), T)
    watcher = SilenceWatcher(str(path))
    looks: list[int] = []

    class Looked(SilenceFile):
        def identity(self) -> tuple[int, int, int, int] | None:
            looks.append(threading.get_ident())
            return super().identity()

    watcher.file = Looked(str(path))
    taken, go_on, done = threading.Event(), threading.Event(), threading.Event()
    held: list[FrameType] = []

    def hold(frame: FrameType, event: str, arg: Any) -> None:
        # The thread's call of the operation, held before its first line.
        if event == "call" and not held and frame.f_code.co_filename == silence_io.__file__:
            if frame.f_code.co_name == "call":
                held.append(frame)
                taken.set()
                go_on.wait(30)
        elif event == "return" and held and frame is held[0]:
            sys.setprofile(None)
            done.set()

    # Set in the worker thread that runs the look: the last one back is the next taken.
    await anyio.to_thread.run_sync(sys.setprofile, hold)
    watcher.thread.bound = BOUND  # the thread is held past it, however long it is
    try:
        with capture_logs() as logs:
            assert not await watcher.arefresh(T)
    finally:
        go_on.set()
    assert await anyio.to_thread.run_sync(taken.wait, 10)
    assert await anyio.to_thread.run_sync(done.wait, 10)
    assert [line["what"] for line in _events(logs, "sesd.silences.hung")] == ["look"]
    assert looks == []
    with capture_logs() as logs:
        assert await watcher.arefresh(T + 1)
    assert len(looks) == 1
    assert [s.id for s in watcher.silences.items] == ["s1"]
    assert [line["what"] for line in _events(logs, "sesd.silences.answered")] == ["look"]
