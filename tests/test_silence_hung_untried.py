"""An operation on the silences file given up before a worker thread began it: every
thread busy, or the machine so loaded that none ran in time. The file was never asked,
so nothing holds it: the next operation is tried, and the file read. Given up untried,
the operation never came back, and sesd took the file as hung until a restart: the
silences written since were never in force, and the alerts they mute paged.

The threads are held as busy ones would: the worker threads' capacity taken whole for
as long as the test says, so the operation cannot begin before its bound has passed.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import pytest
from structlog.testing import capture_logs

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
