"""A file the config names on a mount that hangs (an NFS share hard-mounted, a volume
gone): its stat never returns. The follower waits a bound for it, says it once (the
reload metric at 0), leaves that one thread where it is and goes on looking at the
other files; what changes meanwhile is read once the file answers, and a stop does not
wait for it.

The hang is real: the follower's stat of that path waits, in its own thread, until
the test lets the mount answer."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from structlog.testing import capture_logs

import sesd.runtime.follow
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from sesd.runtime.follow import Signature
from tests.conftest import running
from tests.test_follow_files import _key, _mounted, _reloaded, _swap, _version

pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]

#: How long the tests' follower waits for a stat: short, the hang is the test's own.
BOUND = 0.3
KEY = "alerts.sinks.pd.routing_key"


class Mount:
    """The follower's stats, one path of them on a mount that hangs until
    :meth:`answer`; counts what the follower looked at, for the test to wait on."""

    def __init__(self, hung: str, real: Callable[[str], Signature]) -> None:
        self._hung, self._real = hung, real
        self._answers = threading.Event()
        self._looked: Counter[str] = Counter()
        self._changed = threading.Condition()
        #: How many stats came to the hung path (each a thread held there).
        self.held = 0

    def signature(self, path: str) -> Signature:
        if threading.current_thread().name == "sesd-follow-stat":
            if path == self._hung and not self._answers.is_set():
                with self._changed:
                    self.held += 1
                self._answers.wait(60)  # the hang: until the test lets it answer
            with self._changed:
                self._looked[path] += 1
                self._changed.notify_all()
        return self._real(path)

    def answer(self) -> None:
        self._answers.set()

    async def looked(self, path: str, times: int) -> None:
        """Once the follower has looked at ``path`` ``times`` times in all."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: self._looked[path] >= times, 20)

        assert await anyio.to_thread.run_sync(wait)


def _held() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sesd-follow-stat"]


@pytest.fixture
def bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sesd.runtime.follow, "LOOK_BOUND", BOUND)


def _hang(monkeypatch: pytest.MonkeyPatch, path: Path) -> Mount:
    mount = Mount(str(path), sesd.runtime.follow.signature)
    monkeypatch.setattr(sesd.runtime.follow, "signature", mount.signature)
    return mount


@pytest.mark.usefixtures("bound")
async def test_a_secret_whose_stat_hangs_is_said_once_and_the_others_still_followed(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routing key's file stops answering, then the Secret is rotated (a new key and
    certificate): the hang is said once, naming the file and its key, the reload
    metric at 0; the certificate beside it is still looked at every interval, from one
    thread held on the key's file, not one more each time; the rotation waits, as a
    refresh would read the hung file too. Once the file answers, that is said, the
    files are read again by themselves and the reload metric is back at 1."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    routing_key = mount_dir / "current" / "routing_key"
    cert = str(mount_dir / "current" / "tls.crt")
    mount = _hang(monkeypatch, routing_key)
    with capture_logs() as logs:
        async with running(load_config(path), config_path=path) as daemon:
            _version(mount_dir, "v2", "key-two")
            _swap(mount_dir, "v2")
            await mount.looked(cert, 3)  # three intervals at least since the hang
            assert mount.held == 1  # one thread held there, not one more each interval
            assert _reloaded(daemon) == 0
            assert _key(daemon) == "key-one"

            mount.answer()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: _key(daemon) == "key-two")
            assert _reloaded(daemon) == 1
    (hung,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert hung["files"] == [KEY]
    assert hung["error"] == f"{routing_key} did not answer a look within {BOUND:g} s"
    assert hung["kept"] == "running config"
    (answered,) = [e for e in logs if e["event"] == "sesd.config.file_answered"]
    assert answered["path"] == str(routing_key)
    (reloaded,) = [e for e in logs if e["event"] == "sesd.config.reloaded"]
    assert KEY in reloaded["files"]
    assert [e for e in logs if e["event"] == "sesd.task.failed"] == []


@pytest.mark.usefixtures("bound")
async def test_a_stop_does_not_wait_for_a_stat_that_hangs(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop while the follower's stat of a file hangs ends at once: the thread held
    there is left to the mount (a daemon thread, which holds up no exit)."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    mount = _hang(monkeypatch, mount_dir / "current" / "routing_key")
    try:
        async with running(load_config(path), config_path=path) as daemon:
            await mount.looked(str(mount_dir / "current" / "tls.crt"), 1)  # after the hang
            assert _reloaded(daemon) == 0
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 10  # not the 30 s grace, nor for ever
        assert mount.held == 1
        held = _held()  # the one at the hung file, maybe one more ending
        assert held
        assert all(thread.daemon for thread in held)
    finally:
        mount.answer()
