"""The state file on a share that stopped answering as sesd starts (an NFS mount
hard-mounted, a volume gone): its lock and read are waited for within their bound,
off the event loop. Past it the start fails, saying why in one line (``sesd run``
exits 2, and a supervisor starts it again), instead of hanging without a word, no
port, no metrics, until the supervisor's kill; a stop meanwhile ends sesd at once.

The hang is real: the lock's open, or the file's read, waits in the thread that makes
it until the test lets it answer."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import MutableMapping
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from structlog.testing import capture_logs

import sesd.io.hung
import sesd.runtime.state_reach
from sesd.config import Config, parse_config
from sesd.runtime.daemon import Daemon, StartError
from sesd.runtime.state_lock import hold, let_go
from tests.dns_server import hermetic
from tests.long_paths import long_path, named
from tests.test_state_files import _saver

pytestmark = pytest.mark.timeout(30)

BOUND = 0.5


class Hung:
    """The start's ``step`` of the state file (``hold``, its lock; ``read_state``, its
    read), held until :meth:`answer`; or ``step`` of ``where`` for ``only`` that path
    (``os.path.realpath``: following a link onto the share)."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, step: str, where: Any = None, only: str = ""
    ) -> None:
        where = sesd.runtime.state_reach if where is None else where
        self._real = getattr(where, step)
        self._only = only
        self._answers = threading.Event()
        #: Set once the step is held.
        self.entered = threading.Event()
        #: The threads held there.
        self.held: list[threading.Thread] = []
        #: When the step began to hang (monotonic).
        self.at = 0.0
        monkeypatch.setattr(where, step, self._step)

    def _step(self, *args: Any, **named: Any) -> Any:
        if self._only and args[0] != self._only:
            return self._real(*args, **named)
        self.held.append(threading.current_thread())
        self.at = time.monotonic()
        self.entered.set()
        # The hang: until the test lets it answer. Within the test's wait for the start
        # (10 * BOUND): a start that waits on the event loop goes on once it answers.
        self._answers.wait(8)
        return self._real(*args, **named)

    def answer(self) -> None:
        self._answers.set()

    async def ended(self) -> None:
        """Once the thread held has come back, and done what it does then."""
        for thread in self.held:
            await anyio.to_thread.run_sync(thread.join, 10)
            assert not thread.is_alive()


async def _saved(path: Path) -> None:
    saver = _saver(path)
    saver.load()
    await saver.save()
    saver.release()


def _config(path: Path) -> Config:
    return hermetic(
        parse_config(
            '[aws]\nregion = "us-east-1"\n'
            '[[queues]]\nurl = "http://127.0.0.1:9/123456789012/q"\nname = "q"\n'
            f'[state]\npath = "{path}"\n'
        )
    )


async def stopped_while_hung(hung: Hung, path: Path) -> list[MutableMapping[str, Any]]:
    """The log of a ``sesd run`` (in process, watching signals) on the state file
    ``path`` sent systemd's SIGTERM once ``hung`` holds the file's disk work: the stop
    heard within 5 s of the hang (work on the event loop would hold it with it). The
    share answers after, whatever the run did."""
    try:
        with capture_logs() as logs:
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(Daemon(_config(path)).run, handle_signals=True))
                assert await anyio.to_thread.run_sync(hung.entered.wait, 5)
                os.kill(os.getpid(), signal.SIGTERM)
        assert time.monotonic() - hung.at < 5
    finally:
        hung.answer()
    return logs


@pytest.mark.parametrize("step", ["realpath", "hold", "read_state"], ids=["link", "lock", "read"])
async def test_a_state_file_that_hangs_at_the_start_fails_it_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """The state file's lock, or its read, does not answer: the start fails within the
    bound, naming the file, the work left in a daemon thread (the exit does not wait
    for it). Not a start with the state empty: the file is as it was, and no restore
    was counted. Once the share answers, the thread lets the lock go: the next start
    (or another sesd) is not told the file is in use. So for a path that is a link
    onto the share: following it looks there too."""
    path = tmp_path / "state.bin"
    if step == "realpath":
        (tmp_path / "share").mkdir()
        path.symlink_to(tmp_path / "share" / "state.bin")
    await _saved(path)
    blob = path.read_bytes()
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    if step == "realpath":
        hung = Hung(monkeypatch, step, os.path, str(path))
    else:
        hung = Hung(monkeypatch, step)
    try:
        with pytest.raises(StartError) as caught, anyio.fail_after(10 * BOUND):
            await Daemon(_config(path)).run(handle_signals=False)
        # Named, for whoever dumps a hung sesd's threads (py-spy dump) to see what waits.
        assert [(thread.name, thread.daemon) for thread in hung.held] == [("sesd-state-read", True)]
    finally:
        hung.answer()
    assert str(caught.value) == (
        f"state.path: {path}: its lock and read did not answer within 0.5 s (a file on "
        "a hung mount?); not started with the state empty, which would page again what "
        "sesd paged and leave its resolves unsent"
    )
    await hung.ended()
    let_go(hold(str(path)))
    assert path.read_bytes() == blob
    assert not (tmp_path / "state.bin.restoring").exists()


async def test_a_long_state_path_that_hangs_is_named_within_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's line for a file whose read does not answer names a path of 501
    characters cut at 500, as the start's other lines name a path."""
    path = long_path(tmp_path, 501, ".bin")
    await _saved(path)
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    hung = Hung(monkeypatch, "read_state")
    try:
        with pytest.raises(StartError) as caught, anyio.fail_after(10 * BOUND):
            await Daemon(_config(path)).run(handle_signals=False)
    finally:
        hung.answer()
    assert str(caught.value).startswith(f"state.path: {named(path)}: its lock and read ")
    await hung.ended()


@pytest.mark.parametrize("length", [0, 501], ids=["path", "long-path"])
async def test_a_stop_while_the_state_file_hangs_ends_sesd_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    """systemd's SIGTERM while the state file's read hangs is heard at once, not once
    the bound is out (a failed start): the run ends as after any stop while starting,
    saying what it waited on (a path of 501 characters cut at 500). Nothing was loaded,
    so nothing is saved over the file; once the share answers, the lock taken is let
    go."""
    path = long_path(tmp_path, length, ".bin") if length else tmp_path / "state.bin"
    await _saved(path)
    blob = path.read_bytes()
    hung = Hung(monkeypatch, "read_state")  # the bound left at sesd's 30 s
    logs = await stopped_while_hung(hung, path)
    events = [line["event"] for line in logs]
    assert events[-4:] == [
        "sesd.daemon.signal",
        "sesd.daemon.stopping",
        "sesd.state.read_stopped",
        "sesd.daemon.stopped",
    ]
    (said,) = [line for line in logs if line["event"] == "sesd.state.read_stopped"]
    assert said == {
        "event": "sesd.state.read_stopped",
        "log_level": "info",
        "path": named(path),
        "hint": "a stop came while the state file's lock and read had not answered (a "
        "file on a hung mount?): it is as it was, and the next start reads it",
    }
    await hung.ended()
    let_go(hold(str(path)))
    assert path.read_bytes() == blob
    assert not path.with_name(f"{path.name}.restoring").exists()


async def test_a_save_while_the_state_file_hangs_at_the_start_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that comes while the start waits for the file's read (a second stop
    signal's, which saves at once) has nothing loaded to save: it writes nothing, or
    it would put an empty state over the file. Nor does one after the wait is given
    up."""
    path = tmp_path / "state.bin"
    await _saved(path)
    blob = path.read_bytes()
    hung = Hung(monkeypatch, "read_state")
    saver = _saver(path)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(saver.load_within, contextlib.AsyncExitStack(), watched=False))
            assert await anyio.to_thread.run_sync(hung.entered.wait, 5)
            await saver.save()
            tg.cancel_scope.cancel()
        await saver.save()
    finally:
        hung.answer()
    assert path.read_bytes() == blob
    await hung.ended()


async def test_locks_handed_over_as_the_start_gives_up_are_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The share answers at the moment the start gives up waiting (the bound, or a
    stop): the thread has handed the locks over, but the start that was to take them
    is cancelled before it reads the answer. It lets them go then: left held, the next
    start in this process, or another sesd, would be told the file is in use."""
    path = tmp_path / "state.bin"
    await _saved(path)
    hung = Hung(monkeypatch, "read_state")
    saver = _saver(path)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(saver.load_within, contextlib.AsyncExitStack(), watched=False))
            assert await anyio.to_thread.run_sync(hung.entered.wait, 5)
            hung.answer()
            # The event loop held until the thread has handed the locks over: its answer
            # waits for the loop, which cancels the start first.
            (thread,) = hung.held
            thread.join(5)
            assert not thread.is_alive()
            tg.cancel_scope.cancel()
    finally:
        hung.answer()
    let_go(hold(str(path)))
    assert not (tmp_path / "state.bin.restoring").exists()
