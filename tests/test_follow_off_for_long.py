"""Following off (``check_files_every = "0s"``) for longer than the follower's own
look (a minute: whether a reload turned it on) is still turned on by a reload: the
follower waits, it does not end. Ended, a rotated Secret would go unread until a
restart, though the config says to follow it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

import sesd.runtime.follow
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import running
from tests.test_follow_files import _key, _mounted, _swap, _version

pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]


class _Wake:
    """The follower's wake-up, counting its waits: three waits are two off looks
    passed without a reload."""

    def __init__(self) -> None:
        self._inner = anyio.Event()
        self.waits = 0
        self.thrice = anyio.Event()

    async def wait(self) -> None:
        self.waits += 1
        if self.waits >= 3:
            self.thrice.set()
        await self._inner.wait()

    def set(self) -> None:
        self._inner.set()

    def is_set(self) -> bool:
        return self._inner.is_set()


async def test_following_off_past_its_look_is_turned_on_by_a_reload(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off, the follower's look comes and goes twice (a few milliseconds here, a minute
    in sesd); a reload then turns following on, and the next rotation is read within
    the new interval, without a SIGHUP."""
    monkeypatch.setattr(sesd.runtime.follow, "_OFF_LOOK", 0.05)
    mount, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="0s")
    async with running(load_config(path), config_path=path) as daemon:
        wake = _Wake()
        daemon._reloader.follower._woken = wake  # type: ignore[assignment]
        with anyio.fail_after(20):
            await wake.thrice.wait()
        path.write_text(path.read_text().replace('"0s"', '"1s"'))
        assert await daemon.reload()
        _version(mount, "v2", "key-two")
        _swap(mount, "v2")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: _key(daemon) == "key-two")
