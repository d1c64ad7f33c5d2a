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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from structlog.testing import capture_logs

import sesd.io.hung
import sesd.runtime.follow
import sesd.runtime.reload
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import Config, load_config
from sesd.config.files import reread
from sesd.runtime.follow import Signature
from tests.conftest import running
from tests.test_follow_files import (
    _held_read,
    _key,
    _mounted,
    _padded,
    _reloaded,
    _swap,
    _version,
)

pytestmark = [pytest.mark.usefixtures("short_polls", "bound"), pytest.mark.timeout(60)]

#: How long the tests' follower waits for a stat: short, the hang is the test's own.
BOUND = 0.3
KEY = "alerts.sinks.pd.routing_key"


class Mount:
    """The follower's stats, one path of them on a mount that hangs until
    :meth:`answer`; counts what the follower looked at, for the test to wait on."""

    def __init__(
        self, hung: set[str], real: Callable[[str], Signature], threads: tuple[str, ...]
    ) -> None:
        self._hung, self._real, self._threads = hung, real, threads
        self._answers = threading.Event()
        self._looked: Counter[str] = Counter()
        self._changed = threading.Condition()
        #: How many stats came to the hung path (each a thread held there).
        self.held = 0

    def signature(self, path: str) -> Signature:
        if threading.current_thread().name in self._threads:
            if path in self._hung and not self._answers.is_set():
                with self._changed:
                    self.held += 1
                self._answers.wait(60)  # the hang: until the test lets it answer
            with self._changed:
                self._looked[path] += 1
                self._changed.notify_all()
        return self._real(path)

    def answer(self) -> None:
        self._answers.set()

    def count(self, path: str) -> int:
        """How many times the follower has looked at ``path`` so far."""
        with self._changed:
            return self._looked[path]

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


@pytest.fixture
def hang(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Mount]]:
    """``hang(*paths, threads=...)``: the stats of ``paths`` made in ``threads`` (the
    follower's) hang until the test lets the mount answer, or ends: a thread still held
    would wait out its 60 s past the test."""
    mounts: list[Mount] = []

    def hang(*paths: Path, threads: tuple[str, ...] = ("sesd-follow-stat",)) -> Mount:
        mount = Mount({str(path) for path in paths}, sesd.runtime.follow.signature, threads)
        monkeypatch.setattr(sesd.runtime.follow, "signature", mount.signature)
        mounts.append(mount)
        return mount

    yield hang
    for mount in mounts:
        mount.answer()


class HeldRead:
    """The follower's reads of the config's files, the first held (a share that answers
    the stat again, then holds the read begun at once) until it :meth:`returns`."""

    def __init__(self) -> None:
        self._flaps = threading.Event()
        #: How many reads the follower began.
        self.reads = 0

    def read(self, config: Config) -> Config:
        self.reads += 1
        if self.reads == 1:
            self._flaps.wait(30)  # the first read after the stat answered: held
        return reread(config)

    async def returns(self) -> None:
        """Let the held read return, and wait until its thread has ended."""
        reader = _held_read()
        self.let_go()
        await anyio.to_thread.run_sync(reader.join, 10)
        assert not reader.is_alive()

    def let_go(self) -> None:
        self._flaps.set()


def _first_read_held(monkeypatch: pytest.MonkeyPatch) -> HeldRead:
    """The follower's first read of the files held, given up after 1 s."""
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 1.0)
    held = HeldRead()
    monkeypatch.setattr(sesd.runtime.reload, "reread", held.read)
    return held


async def test_a_secret_whose_stat_hangs_is_said_once_and_the_others_still_followed(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, hang: Callable[..., Mount]
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
    mount = hang(routing_key)
    with capture_logs() as logs:
        async with running(load_config(path), config_path=path) as daemon:
            _version(mount_dir, "v2", "key-two")
            _swap(mount_dir, "v2")
            await mount.looked(cert, 3)  # three looks at least since the hang
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


async def test_a_stop_does_not_wait_for_a_stat_that_hangs(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, hang: Callable[..., Mount]
) -> None:
    """A stop while the follower's stat of a file hangs ends at once: the thread held
    there is left to the mount (a daemon thread, which holds up no exit)."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    mount = hang(mount_dir / "current" / "routing_key")
    async with running(load_config(path), config_path=path) as daemon:
        await mount.looked(str(mount_dir / "current" / "tls.crt"), 1)  # after the hang
        assert _reloaded(daemon) == 0
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10  # not the 30 s grace, nor for ever
    assert mount.held == 1
    held = _held()  # the one at the hung file, maybe one more ending
    assert held
    assert all(thread.daemon for thread in held)


async def test_two_files_that_hang_are_each_said_once_and_held_by_one_thread_each(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, hang: Callable[..., Mount]
) -> None:
    """The routing key and the TLS key on the share that stops answering, the Secret
    rotated meanwhile: each is said once, each holds one thread, the certificate is
    still looked at; once the share answers, the rotation is read."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    current = mount_dir / "current"
    mount = hang(current / "routing_key", current / "tls.key")
    with capture_logs() as logs:
        async with running(load_config(path), config_path=path) as daemon:
            _version(mount_dir, "v2", "key-two")
            _swap(mount_dir, "v2")
            await mount.looked(str(current / "tls.crt"), 3)
            assert mount.held == 2
            assert _key(daemon) == "key-one"
            mount.answer()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: _key(daemon) == "key-two")
            assert _reloaded(daemon) == 1
    hung = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert sorted(key for e in hung for key in e["files"]) == [
        KEY,
        "http.web_config: tls_server_config.key_file",
    ]
    answered = [e["path"] for e in logs if e["event"] == "sesd.config.file_answered"]
    assert sorted(answered) == [str(current / "routing_key"), str(current / "tls.key")]


async def test_a_reload_that_moves_a_file_off_the_hung_mount_is_read_at_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, hang: Callable[..., Mount]
) -> None:
    """The fix an on-call engineer reaches for: the routing key moved to a file on a
    disk that answers, then a SIGHUP. The reload does not stat the file the follower
    knows hangs (every stat of it hangs, the reload's too): it is read at once, the
    reload metric back at 1, and the follower, no longer held by a file the config
    does not name, reads the next change to the new file by itself."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    routing_key = mount_dir / "current" / "routing_key"
    mount = hang(routing_key, threads=("sesd-follow-stat", "sesd-reload-read"))
    healthy = tmp_path / "routing_key"
    healthy.write_text(_padded("key-two"))
    async with running(load_config(path), config_path=path) as daemon:
        await mount.looked(str(mount_dir / "current" / "tls.crt"), 1)  # after the hang
        assert _reloaded(daemon) == 0
        path.write_text(path.read_text().replace(str(routing_key), str(healthy)))
        with anyio.fail_after(5):  # not the reload's 30 s, nor refused after them
            assert await daemon.reload()
        assert _key(daemon) == "key-two"
        assert _reloaded(daemon) == 1
        assert mount.held == 1

        healthy.write_text(_padded("key-three"))  # rotated by hand: a new size too
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: _key(daemon) == "key-three")


async def test_a_file_that_answers_its_stat_but_not_the_read_after_is_read_again(
    local_sqs: LocalSqs,
    sqs: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hang: Callable[..., Mount],
) -> None:
    """A mount that answers the stat again, then holds the read the follower begins at
    once past its bound (a share that flaps): the refresh is given up. Nothing has
    changed since the files were last read, yet the reload metric must not stay at 0:
    once that read returns, the follower reads the files again by itself."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    mount = hang(mount_dir / "current" / "routing_key")
    held = _first_read_held(monkeypatch)
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                await mount.looked(str(mount_dir / "current" / "tls.crt"), 1)  # hung
                assert _reloaded(daemon) == 0
                mount.answer()
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(
                        lambda: any("took over" in e.get("error", "") for e in logs)
                    )
                await held.returns()
                with anyio.fail_after(10):
                    await daemon.changes.wait_for(lambda: _reloaded(daemon) == 1)
                assert _key(daemon) == "key-one"
        finally:
            held.let_go()


async def test_a_config_file_refused_during_a_hang_still_reads_0_once_the_file_answers(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, hang: Callable[..., Mount]
) -> None:
    """A SIGHUP during the hang whose config file does not parse is refused at once,
    not after the stat it would have waited on; once the file answers and the files
    are read well, the reload metric stays at 0: the config file is still refused."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    routing_key = mount_dir / "current" / "routing_key"
    mount = hang(routing_key, threads=("sesd-follow-stat", "sesd-reload-read"))
    with capture_logs() as logs:
        async with running(load_config(path), config_path=path) as daemon:
            await mount.looked(str(mount_dir / "current" / "tls.crt"), 1)  # after the hang
            path.write_text(path.read_text() + "[reload\n")
            with anyio.fail_after(5):
                assert not await daemon.reload()
            mount.answer()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(
                    lambda: any(e["event"] == "sesd.config.reloaded" for e in logs)
                )
            assert _reloaded(daemon) == 0
