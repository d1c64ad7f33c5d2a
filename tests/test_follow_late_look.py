"""A look whose thread has not come to its first file within the bound (a machine so
loaded the thread did not run for seconds) says no file hung: none was looked at. The
follower does not fail on it, and a Secret rotated meanwhile is still read, the files
the look did not come to read again at the next."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

import sesd.runtime.follow
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import running
from tests.test_follow_files import _key, _mounted, _reloaded, _swap, _version
from tests.test_follow_hung import BOUND, KEY

pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]


def _first_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """The follower's first look (the start's) comes to its files only once the follower
    has given it up; the looks after it run as any."""
    monkeypatch.setattr(sesd.runtime.follow, "LOOK_BOUND", BOUND)
    first = [True]

    class Late(sesd.runtime.follow._Look):
        def __init__(self, paths: list[str]) -> None:
            super().__init__(paths)
            self._late, first[0] = first[0], False
            self._gone = threading.Event()

        def run(self) -> None:
            if self._late:
                self._gone.wait(20)
            super().run()

        def give_up(self) -> tuple[dict[str, sesd.runtime.follow.Signature], str | None]:
            try:
                return super().give_up()
            finally:
                self._gone.set()

    monkeypatch.setattr(sesd.runtime.follow, "_Look", Late)


async def test_a_look_whose_thread_came_late_fails_nothing_and_misses_no_change(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's look is given up before its thread came to a file, and the Secret is
    rotated then, before any later look: nothing is said to hang, the follower goes on,
    and the rotation is read by itself."""
    _first_late(monkeypatch)
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    with capture_logs() as logs:
        async with running(load_config(path), config_path=path) as daemon:
            _version(mount_dir, "v2", "key-two")
            _swap(mount_dir, "v2")
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: _key(daemon) == "key-two")
            assert _reloaded(daemon) == 1
    assert [e for e in logs if e["event"] == "sesd.config.reload_failed"] == []
    assert [e for e in logs if e["event"] == "sesd.task.failed"] == []


async def test_a_file_removed_before_a_late_look_came_to_it_is_said_unreadable(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's look is given up before its thread came to a file, and the routing
    key's file is removed then: the next look reads the files, and says that one cannot
    be read (not taken as missing all along), the key read before kept."""
    _first_late(monkeypatch)
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    with capture_logs() as logs:
        async with running(load_config(path), config_path=path) as daemon:
            (mount_dir / "v1" / "routing_key").unlink()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: _reloaded(daemon) == 0)
            assert _key(daemon) == "key-one"
    (failed,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert KEY in failed["files"]  # with the others: none had been looked at
    routing_key = mount_dir / "current" / "routing_key"
    assert (
        failed["error"]
        == f"{KEY}: cannot read secret file {routing_key}: No such file or directory"
    )
