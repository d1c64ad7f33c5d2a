"""A file the config names whose stat hangs as sesd starts (its share stopped answering
a moment after the start read it): the start is not held. sesd serves, the hang is
said at once as at any look (the reload metric at 0), the other files are followed,
and the files are read again once it answers.

The hang is real, as in test_follow_hung: the stat of that path waits, in the thread
that makes it (the start's own, or the follower's), until the test lets it answer."""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from structlog.testing import capture_logs

import sesd.io.hung
import sesd.runtime.follow
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import running
from tests.test_follow_files import _key, _mounted, _padded, _reloaded, _swap, _version
from tests.test_follow_hung import BOUND, KEY, Mount, _held
from tests.test_follow_off_for_long import _Wake

# Short: without a bound at the start, the start itself hangs, and the test ends here.
pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(30)]

CERT = "http.web_config: tls_server_config.cert_file"
TLS_KEY = "http.web_config: tls_server_config.key_file"


def _mount(monkeypatch: pytest.MonkeyPatch, *hung: Path) -> Mount:
    """The stats of ``hung`` held until the mount answers, in the thread that starts
    sesd as in the follower's."""
    monkeypatch.setattr(sesd.runtime.follow, "LOOK_BOUND", BOUND)
    threads = (threading.current_thread().name, "sesd-follow-stat")
    mount = Mount({str(path) for path in hung}, sesd.runtime.follow.signature, threads)
    monkeypatch.setattr(sesd.runtime.follow, "signature", mount.signature)
    return mount


async def _no_wait_left() -> None:
    """The thread that waited for the start's look, if it is not over, ends within the
    bound: only the stat that hangs holds one."""
    waits = [t for t in threading.enumerate() if t.name == "sesd-follow-wait"]
    for thread in waits:
        await anyio.to_thread.run_sync(thread.join, 10 * BOUND)
    assert not [t for t in waits if t.is_alive()]


def _hangs(logs: list[MutableMapping[str, Any]]) -> list[str]:
    """The keys of the files said not to answer a look, in the order said."""
    lines = [e for e in logs if "did not answer" in e.get("error", "")]
    return [key for e in lines for key in e["files"]]


async def test_a_file_that_hangs_at_the_start_is_said_at_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routing key's file hangs from the start: sesd starts and serves, says the
    hang before the first interval is out (5 s here: the follower's own look would say
    it only after one), the reload metric at 0, and the hang holds one thread."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="5s")
    mount = _mount(monkeypatch, mount_dir / "current" / "routing_key")
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                with anyio.fail_after(4):  # inside the interval: the start's own look
                    await daemon.changes.wait_for(lambda: _hangs(logs) == [KEY])
                assert _reloaded(daemon) == 0
                assert mount.held == 1
                held = _held()  # the one at the hung file, maybe one more ending
                assert held
                assert all(thread.daemon for thread in held)
                await _no_wait_left()
        finally:
            mount.answer()
    assert [e for e in logs if e["event"] == "sesd.task.failed"] == []


async def test_a_file_that_hangs_at_the_start_is_read_once_it_answers(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routing key's file hangs from the start (said at once, the test above): the
    certificate beside it is still looked at, at each interval (a second here). The
    Secret rotated meanwhile is read once the file answers, the reload metric back
    at 1."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="1s")
    routing_key = mount_dir / "current" / "routing_key"
    mount = _mount(monkeypatch, routing_key)
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                with anyio.fail_after(10):
                    await daemon.changes.wait_for(lambda: _hangs(logs) == [KEY])
                assert _reloaded(daemon) == 0
                assert mount.held == 1
                await _no_wait_left()
                _version(mount_dir, "v2", "key-two")
                _swap(mount_dir, "v2")
                await mount.looked(str(mount_dir / "current" / "tls.crt"), 2)
                assert _key(daemon) == "key-one"  # read once the file answers

                mount.answer()
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(lambda: _key(daemon) == "key-two")
                assert _reloaded(daemon) == 1
        finally:
            mount.answer()
    (answered,) = [e for e in logs if e["event"] == "sesd.config.file_answered"]
    assert answered["path"] == str(routing_key)
    assert [e for e in logs if e["event"] == "sesd.task.failed"] == []


async def test_files_side_by_side_that_hang_at_the_start_are_each_said_at_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificate and its key, one after the other in the files looked at, hang
    from the start: each is said before the first interval is out (an hour), not the
    second an interval after the first. Each holds one thread."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="1h")
    current = mount_dir / "current"
    mount = _mount(monkeypatch, current / "tls.crt", current / "tls.key")
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                with anyio.fail_after(10):
                    await daemon.changes.wait_for(lambda: len(_hangs(logs)) == 2)
                assert _hangs(logs) == [CERT, TLS_KEY]
                assert mount.held == 2
                assert _reloaded(daemon) == 0
        finally:
            mount.answer()


async def test_with_following_off_a_file_that_hangs_at_the_start_is_not_looked_at(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Following off (``"0s"``: only a SIGHUP reads the files): the start does not look
    at the files either, so a share that hangs then is neither waited on nor said, and
    the reload metric stays at 1, until the follower's own look has come and gone
    (a few milliseconds here, a minute in sesd)."""
    monkeypatch.setattr(sesd.runtime.follow, "_OFF_LOOK", 0.05)
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="0s")
    mount = _mount(monkeypatch, mount_dir / "current" / "routing_key")
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                wake = _Wake()
                daemon._reloader.follower._woken = wake  # type: ignore[assignment]
                with anyio.fail_after(20):
                    await wake.thrice.wait()
                assert _reloaded(daemon) == 1
                assert mount.held == 0
        finally:
            mount.answer()
    assert _hangs(logs) == []


async def test_a_reload_at_the_start_that_moves_a_file_off_the_hung_mount_is_read(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routing key's file hangs from the start, and a SIGHUP comes at once (the fix
    made before the start, or a reload run as it starts) with the key moved to a disk
    that answers: the reload waits for the start's look to say the hang, and does not
    stat that file, as at any time after. It is read, not given up after its 30 s
    and every reload refused behind that stat."""
    monkeypatch.setattr(sesd.runtime.follow, "LOOK_BOUND", 1.0)
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 3.0)  # without the wait
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="1h")
    routing_key = mount_dir / "current" / "routing_key"
    threads = ("sesd-follow-stat", "sesd-reload-read")
    mount = Mount({str(routing_key)}, sesd.runtime.follow.signature, threads)
    monkeypatch.setattr(sesd.runtime.follow, "signature", mount.signature)
    healthy = tmp_path / "routing_key"
    healthy.write_text(_padded("key-two"))
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                path.write_text(path.read_text().replace(str(routing_key), str(healthy)))
                with anyio.fail_after(2.5):  # the start's look's bound, not the read's
                    assert await daemon.reload()
                assert _key(daemon) == "key-two"
                assert _reloaded(daemon) == 1
                assert mount.held == 1  # the start's look's: the reload's never began
        finally:
            mount.answer()
    assert _hangs(logs) == [KEY]


async def test_a_reload_at_the_start_waits_for_the_look_at_every_file_that_hangs(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole share hangs from the start (every file the config names on it), and a
    SIGHUP comes at once with the routing key moved off it: the start's look takes a
    bound for each file, one after another, and the reload waits for the last of them
    to be said, not a moment less. It stats none of them, and is read."""
    monkeypatch.setattr(sesd.runtime.follow, "LOOK_BOUND", 1.0)
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 8.0)  # without the wait
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="1h")
    current = mount_dir / "current"
    routing_key = current / "routing_key"
    share = {routing_key, current / "tls.crt", current / "tls.key", tmp_path / "web.yml"}
    threads = ("sesd-follow-stat", "sesd-reload-read")
    mount = Mount({str(p) for p in share}, sesd.runtime.follow.signature, threads)
    monkeypatch.setattr(sesd.runtime.follow, "signature", mount.signature)
    healthy = tmp_path / "routing_key"
    healthy.write_text(_padded("key-two"))
    config = load_config(path)
    # Moved before the start is done: the reload's wait begins as the look's does.
    path.write_text(path.read_text().replace(str(routing_key), str(healthy)))
    with capture_logs() as logs:
        try:
            async with running(config, config_path=path) as daemon:
                with anyio.fail_after(7):  # the start's look's bounds, not the read's
                    assert await daemon.reload()
                assert _key(daemon) == "key-two"
                assert mount.held == 4  # the start's look's: the reload's never began
        finally:
            mount.answer()
    assert sorted(_hangs(logs)) == sorted([KEY, CERT, TLS_KEY, "http.web_config"])
