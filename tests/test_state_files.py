"""The state file on a real filesystem: what a host does to it (a backup restored as
root, a link onto another volume, a save cut off, a lock file left by root, a link
planted as a lock, a path that is a directory, a save that fails) and what sesd says
and keeps."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import SilenceError
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_walks import (
    MAX_RESOURCE_ARN,
    MAX_TOKEN,
    MAX_WALK_TENANTS,
    TenantWalk,
    TenantWalks,
)
from sesd.io.replica import replica_name
from sesd.metrics.registry import Metrics
from sesd.runtime import saver as saver_module
from sesd.runtime.http import StartError
from sesd.runtime.saver import StateSaver
from sesd.runtime.state_bytes import StateError, read_state, write_state
from sesd.runtime.state_size import state_limit
from tests import factory as f
from tests.alone import measured_alone

RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.2\n'
#: A user other than root, to own what root must hand over or must not read.
NOBODY = 65534


def _saver(path: Path | str) -> StateSaver:
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.delivery(["a@a.example"])), "q", f.T0)
    return StateSaver(str(path), pipeline.ledger, Evaluator(config.alerts, ["5m"]), lambda: f.T0)


def clocked_saver(path: Path) -> tuple[StateSaver, list[float]]:
    """A loaded saver whose clock reads ``now[0]`` (at first T0), and ``now``."""
    saver, now = _saver(path), [f.T0]
    saver._clock = lambda: now[0]
    saver.load()
    return saver, now


def slow_first_write(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[threading.Event, threading.Event, threading.Event]:
    """A disk whose first write waits, once it has begun (``entered``), until
    ``released`` is set, and whose later writes go through (``later_written``)."""
    entered, released, later_written = threading.Event(), threading.Event(), threading.Event()

    def disk(path: str, blob: bytes, *rest: Any) -> None:
        if not entered.is_set():
            entered.set()
            released.wait()
            write_state(path, blob, *rest)
        else:
            write_state(path, blob, *rest)
            later_written.set()

    monkeypatch.setattr(saver_module, "write_state", disk)
    return entered, released, later_written


def test_a_state_path_that_is_a_directory_is_refused_at_start(tmp_path: Path) -> None:
    """Every save would fail for as long as sesd runs: said at start instead."""
    (tmp_path / "state").mkdir()
    with pytest.raises(StartError, match=r"state is a directory; name a file in it"):
        _saver(tmp_path / "state").load()


def test_a_state_directory_this_user_cannot_write_names_whose_it_is() -> None:
    """A host directory mounted into the container (`-v /srv/sesd:/var/lib/sesd`), root's:
    the start is refused, and the line says whose the directory is and which user sesd
    runs as (the image's 10001, or the uid systemd's DynamicUser picked), which
    "not writable by this user" left to guess."""
    with tempfile.TemporaryDirectory() as where:  # under /tmp, which any user may reach
        Path(where).chmod(0o755)
        directory = Path(where) / "sesd"
        directory.mkdir(mode=0o755)
        directory.chmod(0o755)
        root = os.geteuid() == 0
        if root:  # root writes anywhere: start as another user
            os.seteuid(NOBODY)
        else:
            directory.chmod(0o555)
        try:
            with pytest.raises(StartError) as refused:
                _saver(directory / "state.bin").load()
        finally:
            if root:
                os.seteuid(0)
    owner, mode, user = (0, "0755", NOBODY) if root else (os.geteuid(), "0555", os.geteuid())
    assert str(refused.value) == (
        f"state.path: directory {directory} is not writable by this user (owned by uid "
        f"{owner}, mode {mode}; sesd runs as uid {user}: make it that user's)"
    )


async def test_a_link_to_the_state_file_keeps_pointing_at_the_file_saved(tmp_path: Path) -> None:
    """The file linked onto a persistent volume: saves replace the file the link names,
    not the link (which would leave the volume's file stale)."""
    volume = tmp_path / "volume"
    volume.mkdir()
    link = tmp_path / "state.bin"
    link.symlink_to(volume / "state.bin")
    saver = _saver(link)
    saver.load()
    await saver.save()
    saver.release()
    assert link.is_symlink()
    assert (volume / "state.bin").stat().st_size > 0


def test_what_a_save_cut_off_left_is_removed_at_start(tmp_path: Path) -> None:
    """A kill or an OOM during a save leaves a copy of the file's size beside it; the
    next start removes such copies (and only those)."""
    left = [tmp_path / ".state.bin.k2x9.tmp", tmp_path / ".state.bin.a1b2.tmp"]
    for leftover in left:
        leftover.write_bytes(b"x" * 100)
    (tmp_path / ".other.bin.k2x9.tmp").write_bytes(b"kept")
    with capture_logs() as logs:
        saver = _saver(tmp_path / "state.bin")
        saver.load()
    saver.release()
    assert not any(leftover.exists() for leftover in left)
    assert (tmp_path / ".other.bin.k2x9.tmp").exists()
    (removed, *_) = logs
    assert (removed["event"], removed["count"]) == ("sesd.state.leftovers_removed", 2)


def test_leftovers_of_a_file_named_with_glob_characters_are_removed_and_no_others(
    tmp_path: Path,
) -> None:
    """A file named ``state[eu].bin`` (a region in its name): what a save cut off beside
    it is removed at the next start, as any name's, and a file its name read as a
    pattern would match (``.statee.bin...``) is not."""
    left = tmp_path / ".state[eu].bin.k2x9.tmp"
    left.write_bytes(b"x" * 100)
    (tmp_path / ".statee.bin.k2x9.tmp").write_bytes(b"kept")
    saver = _saver(tmp_path / "state[eu].bin")
    saver.load()
    saver.release()
    assert not left.exists()
    assert (tmp_path / ".statee.bin.k2x9.tmp").exists()


def test_a_leftover_that_cannot_be_removed_fails_the_start_and_lets_the_lock_go(
    tmp_path: Path,
) -> None:
    """Something where a save's leftover would be that the start cannot remove (a
    directory of that name): the start fails, and lets the file's lock go as it does,
    not left to the process's exit (a start in the same process, or a test's, would be
    told the file is in use)."""
    from sesd.runtime.state_lock import hold, let_go

    path = tmp_path / "state.bin"
    (tmp_path / ".state.bin.k2x9.tmp").mkdir()
    saver = _saver(path)
    with pytest.raises(StartError, match=r"cannot remove .*\.state\.bin\.k2x9\.tmp, .*: Is a dir"):
        saver.load()
    let_go(hold(str(path)))


def test_the_lock_file_goes_to_the_owner_of_the_directory(tmp_path: Path) -> None:
    """Made by root (a `sesd run` by hand), the lock would keep the daemon's own user
    from starting: it is handed to the directory's owner, as the file itself is."""
    if os.geteuid() == 0:
        os.chown(tmp_path, NOBODY, NOBODY)
    saver = _saver(tmp_path / "state.bin")
    saver.load()
    saver.release()
    assert (tmp_path / "state.bin.lock").stat().st_uid == tmp_path.stat().st_uid


def test_a_lock_file_sesd_may_not_open_is_one_line_at_start(tmp_path: Path) -> None:
    """Not a traceback: what is wrong and what to do, as for the other start problems;
    the advice on the lock's owner only where the lock is in the way."""
    (tmp_path / "state.bin.lock").mkdir()  # no user opens a directory for writing
    with pytest.raises(StartError, match=r"cannot open .*state.bin.lock: Is a directory \(remove"):
        _saver(tmp_path / "state.bin").load()
    long = tmp_path / ("s" * 251)  # a name the file may have, but not its lock's
    with pytest.raises(StartError, match=r"lock: File name too long$"):
        _saver(long).load()


def test_a_lock_the_file_system_refuses_is_one_line_and_leaves_nothing_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state file on an NFS mount without its lock service: flock fails with
    ENOLCK. The start says so in one line naming the file, the lock, the cause and what
    to do, not a traceback, and keeps no descriptor open (a program embedding sesd
    that retries its start would leak one each time): the lock taken before it (the
    link's, for a path that is a link) is let go too. flock is replaced for the file
    the link names: a file system that refuses locks cannot be mounted by a test, and
    no other way reaches that refusal."""
    from sesd.runtime.state_lock import hold, let_go

    (tmp_path / "volume").mkdir()
    path = tmp_path / "state.bin"
    path.symlink_to(tmp_path / "volume" / "state.bin")
    refused = str(tmp_path / "volume" / "state.bin.lock")
    locked = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") == refused:
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))
        locked(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    opened = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(StartError) as raised:
        hold(str(path))
    said = str(raised.value)
    assert said.startswith(f"state.path: {path}: cannot lock {refused}: No locks available (")
    assert "a local disk" in said
    assert "\n" not in said
    assert sorted(os.listdir("/proc/self/fd")) == opened
    monkeypatch.undo()  # the file system grants locks again: none is still held
    let_go(hold(str(path)))


def test_a_state_file_this_user_cannot_read_is_kept_aside() -> None:
    """A backup restored as root, 0600: the daemon's user cannot read it. It is moved
    aside as a damaged file is, not replaced by the first save."""
    with tempfile.TemporaryDirectory() as where:  # under /tmp, which any user may reach
        _kept_aside(Path(where))


def _kept_aside(tmp_path: Path) -> None:
    state = tmp_path / "state.bin"
    state.write_bytes(b"a good file, for all sesd knows")
    state.chmod(0o600)
    root = os.geteuid() == 0
    if root:  # root reads any file: read it as another user
        os.chown(tmp_path, NOBODY, NOBODY)
        os.seteuid(NOBODY)
    else:
        state.chmod(0)
    try:
        with capture_logs() as logs:
            saver = _saver(state)
            saver.load()
        saver.release()
    finally:
        if root:
            os.seteuid(0)
    (ignored,) = logs
    assert ignored["event"] == "sesd.state.ignored"
    # Whose it is and whose it must be: "Permission denied" alone names neither.
    owner, mode, user = (0, "0600", NOBODY) if root else (os.geteuid(), "0000", os.geteuid())
    assert ignored["reason"] == (
        f"cannot read {state}: Permission denied (owned by uid {owner}, mode {mode}; sesd "
        f"runs as uid {user}: make it that user's)"
    )
    assert ignored["kept_as"] == f"{state}.unusable"
    # And how to have it back, once it is that user's: no start reads it where it is.
    assert ignored["hint"] == (
        f"sesd starts empty; the file it could not use is kept as {state}.unusable. To use "
        "it once what kept it out is mended (a build that reads it, an owner sesd's user "
        f"may read, more memory), stop sesd, move it back to {state} (over what this run "
        "saved) and start sesd"
    )
    assert not state.exists()
    assert (tmp_path / "state.bin.unusable").read_bytes() == b"a good file, for all sesd knows"


async def test_a_failing_save_is_a_metric_with_a_hint_that_fits(tmp_path: Path) -> None:
    """A save that fails (here: the path became a directory) sets
    sesd_state_last_save_successful to 0 and names what to do about this error, not
    the disk's; the next save that works sets it back and stamps its time."""
    path = tmp_path / "state.bin"
    saver = _saver(path)
    metrics = Metrics(Pipeline(core_settings(parse_config(RULE))).ledger, [], lambda: f.T0)
    saver.on_result = metrics.saved
    saver.load()
    (path / "in-the-way").mkdir(parents=True)
    with capture_logs() as logs:
        await saver.save()
    (failed,) = logs
    assert failed["event"] == "sesd.state.save_failed"
    assert "names a directory" in failed["hint"]

    def sample(name: str) -> float | None:
        return metrics.registry.get_sample_value(name)

    assert sample("sesd_state_last_save_successful") == 0
    assert sample("sesd_state_last_save_success_timestamp_seconds") == 0
    (path / "in-the-way").rmdir()
    path.rmdir()
    await saver.save()
    saver.release()
    assert sample("sesd_state_last_save_successful") == 1
    assert sample("sesd_state_last_save_success_timestamp_seconds") == f.T0


async def test_a_save_that_comes_during_a_slow_one_writes_last_and_newer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A periodic save waits on a slow disk (its fsync) when the stop's last save comes:
    the file ends holding the last save's snapshot, not the older one renamed after."""
    import anyio

    from sesd.runtime.state_bytes import decoded

    entered, slow, second_written = slow_first_write(monkeypatch)
    path = tmp_path / "state.bin"
    saver, now = clocked_saver(path)
    async with anyio.create_task_group() as tg:
        tg.start_soon(saver.save)  # the periodic save, stuck in its fsync
        await anyio.to_thread.run_sync(entered.wait)
        now[0] = f.T0 + 10
        tg.start_soon(saver.save)  # the stop's last one
        # Written within a second if nothing holds it back (it must not be, here).
        written = await anyio.to_thread.run_sync(second_written.wait, 1.0)
        slow.set()
    saver.release()
    assert not written
    assert decoded(path.read_bytes())["saved_at"] == f.T0 + 10


async def test_the_save_before_a_forced_exit_leaves_a_hung_disk_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second signal saves, within a moment, then exits: on a disk that hangs, the
    save returns when its moment is over, its write left to its thread (the exit ends
    it), rather than holding the exit for as long as the disk hangs."""
    import time

    import anyio

    hung = threading.Event()
    monkeypatch.setattr(saver_module, "write_state", lambda path, blob, *rest: hung.wait())
    saver = _saver(tmp_path / "state.bin")
    saver.load()
    release = threading.Timer(5.0, hung.set)  # the disk answers at last, in 5 s
    release.start()
    started = time.monotonic()
    with anyio.move_on_after(0.2):
        await saver.save()
    waited = time.monotonic() - started
    hung.set()
    release.cancel()
    saver.release()
    assert waited < 2.0


def test_the_daemon_reports_its_saves_in_its_metrics_and_status(tmp_path: Path) -> None:
    """What the saver says of a save reaches sesd_state_last_save_successful and the
    status document, which the page and `sesd status` read."""
    from sesd.runtime.daemon import Daemon
    from sesd.status.model import _daemon

    config = parse_config(f'[state]\npath = "{tmp_path / "state.bin"}"\n' + RULE)
    daemon = Daemon(config, clock=lambda: f.T0, monotonic=lambda: f.T0)
    assert _daemon(daemon.status, f.T0).state.ok
    daemon.saver.on_result(False, f.T0)
    assert daemon.metrics.registry.get_sample_value("sesd_state_last_save_successful") == 0
    assert not _daemon(daemon.status, f.T0).state.ok


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_a_link_planted_as_a_lock_file_is_refused_and_its_target_untouched(
    tmp_path: Path, kind: str
) -> None:
    """The state directory is the daemon user's: a link it plants as a lock file must
    not make root (`sesd run` or `sesd silence add` by hand) hand the file it names
    (/etc/shadow) to that user, nor write to it. Both locks refuse it, saying why."""
    state = tmp_path / "state"
    state.mkdir()
    victim = tmp_path / "shadow"
    victim.write_text("root:secret\n")
    victim.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(state, NOBODY, NOBODY)
    for lock in (state / "state.bin.lock", state / "silences.json.lock"):
        if kind == "symlink":
            lock.symlink_to(victim)
        else:
            os.link(victim, lock)
    before = victim.stat()
    why = "symbolic link" if kind == "symlink" else "not a plain file of its own"
    with pytest.raises(StartError, match=f"state.bin.lock: .*{why}"):
        _saver(state / "state.bin").load()
    silences = SilenceFile(str(state / "silences.json"))
    with pytest.raises(SilenceError, match=f"silences.json: .*{why}"):
        silences.update(lambda found: found, f.T0)
    after = victim.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (
        before.st_uid,
        before.st_gid,
        before.st_mode,
    )
    assert victim.read_text() == "root:secret\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="what root does with another user's link")
def test_root_follows_no_state_file_link_another_user_made(tmp_path: Path) -> None:
    """A link the daemon's user planted as the state file would have `sesd run` by hand
    (root) write its saves over the file it names: refused at start, naming the link's
    maker; a link root made is followed as before."""
    state = tmp_path / "state"
    state.mkdir()
    victim = tmp_path / "ld.so.preload"
    victim.write_text("kept\n")
    planted = state / "state.bin"
    planted.symlink_to(victim)
    os.lchown(planted, NOBODY, NOBODY)
    with pytest.raises(StartError, match=f"is a link made by uid {NOBODY}: root follows no"):
        _saver(planted).load()
    assert victim.read_text() == "kept\n"
    os.lchown(planted, 0, 0)
    saver = _saver(planted)
    saver.load()
    saver.release()
    assert saver.path == str(victim)


@pytest.mark.timeout(10)
def test_a_fifo_as_the_silences_or_state_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    """A FIFO where the silences or the state file should be (planted, or named by
    mistake): opened to read, it would wait for a writer for ever, and `sesd silence
    list` or the daemon's next look at its silences with it. Each is refused, saying
    why."""
    state = tmp_path / "state"
    state.mkdir()
    os.mkfifo(state / "silences.json")
    os.mkfifo(state / "state.bin")
    with pytest.raises(SilenceError, match=r"silences\.json: not a plain file"):
        SilenceFile(str(state / "silences.json")).read()
    with pytest.raises(StateError, match=r"state\.bin: not a plain file"):
        read_state(str(state / "state.bin"))


def test_a_device_named_as_the_state_or_silences_file_is_refused_before_any_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`[state] path = "/dev/null"` ("no state, please"): check-config said nothing,
    and a start as root read it, refused it as not a plain file "(remove it)", moved
    /dev/null aside as a file it could not use and saved over the path. A device is
    refused before anything is read or written: the start's refusal, said by
    check-config too; a silences path on one is warned of; and a read of one says the
    path names the wrong file, never to remove it."""
    from sesd.commands.main import main
    from sesd.runtime.state_path import silences_unwritable, unsavable

    assert unsavable("/dev/null") == (
        "state.path: /dev/null is a device, not a file: name a file for the state (each "
        "save replaces it), or leave state.path out for none"
    )
    assert silences_unwritable("/dev/zero") == (
        "alerts.silences_path: /dev/zero is a device, not a file: `sesd silence` cannot "
        "read or write silences there (give another path)"
    )
    config = tmp_path / "sesd.toml"
    config.write_text(
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/q"\n'
        '[state]\npath = "/dev/null"\n[alerts]\nsilences_path = "/dev/zero"\n'
    )
    assert main(["check-config", "--quiet", str(config)]) == 0
    err = capsys.readouterr().err
    assert "state.path: /dev/null is a device, not a file" in err
    assert "(sesd run would not start on this host)" in err
    assert "alerts.silences_path: /dev/zero is a device, not a file" in err
    with pytest.raises(StateError, match="a device, not a plain file: the path names") as no:
        read_state("/dev/null")
    assert "remove it" not in str(no.value)
    with pytest.raises(SilenceError, match="a device, not a plain file"):
        SilenceFile("/dev/zero").read()


async def test_a_failing_save_is_said_on_readyz_and_in_systemd_s_status(tmp_path: Path) -> None:
    """The disk under the state file fills (here: a directory in the way of the file):
    sesd goes on reading and alerting, so /readyz stays 200, but its answer and the
    line systemd shows (``STATUS=``) say the save fails, where the one on call looks
    first; the next save that works clears it."""
    import aiohttp

    from sesd.config import HttpConfig
    from sesd.runtime.daemon import Daemon
    from sesd.runtime.http import http_server

    path = tmp_path / "state.bin"
    config = parse_config(f'[state]\npath = "{path}"\n' + RULE)
    daemon = Daemon(config, clock=lambda: f.T0, monotonic=lambda: f.T0)
    daemon.saver.load()
    (path / "in-the-way").mkdir(parents=True)
    await daemon.saver.save()

    async def readyz() -> tuple[int, str]:
        served = http_server(HttpConfig("127.0.0.1:0"), daemon.metrics.registry,
                             daemon.health, lambda: f.T0)  # fmt: skip
        async with (
            served as port,
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/readyz") as answer,
        ):
            return answer.status, await answer.text()

    status, text = await readyz()  # no queue configured: ready but for the file
    assert (status, text.splitlines()[0]) == (200, "ready")
    assert "state file save FAILED" in text
    assert "state file save FAILED" in daemon.health.summary(lambda: f.T0)
    (path / "in-the-way").rmdir()
    path.rmdir()
    await daemon.saver.save()
    daemon.saver.release()
    assert await readyz() == (200, "ready\n")
    assert "FAILED" not in daemon.health.summary(lambda: f.T0)


def test_a_held_state_file_names_who_holds_it_and_a_killed_holder_lets_go(
    tmp_path: Path,
) -> None:
    """Two replicas pointed at one file by mistake: the second does not start, and its
    error names the process and host holding the file (a pod's name is its host
    name), so the one on call knows which to fix. The holder killed (-9, an OOM
    kill), the file is free at once: no lock is left behind."""
    import signal
    import subprocess
    import sys

    from sesd.runtime.state_lock import hold, let_go

    path = str(tmp_path / "state.bin")
    code = (
        "import sys\nfrom sesd.runtime.state_lock import hold\n"
        f"hold({path!r})\nprint('held', flush=True)\nsys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "held\n"
            with pytest.raises(StartError) as refused:
                hold(path)
            assert f"pid {holder.pid} on {replica_name()}" in str(refused.value)
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=30)
    let_go(hold(path))


def test_a_file_held_by_a_build_that_names_nobody_is_not_said_held_by_the_last(
    tmp_path: Path,
) -> None:
    """A sesd stops and lets go of its file; an earlier build, which writes no name in
    the lock file, takes it (a rollback, replicas of two versions on one volume). The
    next sesd refused is not told that the one that stopped holds it (a pid and a
    host to chase that hold nothing): its error names nobody."""
    import fcntl

    path = tmp_path / "state.bin"
    saver = _saver(path)
    saver.load()
    saver.release()
    fd = os.open(f"{path}.lock", os.O_RDWR)  # the earlier build: a lock, no name
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(StartError) as refused:
            _saver(path).load()
    finally:
        os.close(fd)
    assert f"pid {os.getpid()}" not in str(refused.value)
    assert replica_name() not in str(refused.value)
    assert "is held)" in str(refused.value)


def test_a_state_file_larger_than_this_config_could_save_is_kept_aside_unread(
    tmp_path: Path,
) -> None:
    """A file at the state path far larger than the largest state this config saves (a
    damaged file, a disk image named by mistake; here one byte past the limit, sparse)
    is not read: sesd starts empty, keeps it aside as ``PATH.unusable``, and says its
    size and the limit. Nothing near its size is allocated meanwhile."""
    path = tmp_path / "state.bin"
    config = parse_config(RULE)
    sinks = config.alerts.named_sinks()
    limit = state_limit(Pipeline(core_settings(config)).ledger, config.alerts.rules, sinks)
    with path.open("wb") as handle:
        handle.truncate(limit + 1)
    peak = measured_alone(_load_peak, str(path), str(limit))
    assert peak < 4 << 20, peak
    assert not path.exists()
    assert (tmp_path / "state.bin.unusable").stat().st_size == limit + 1


async def test_a_state_file_larger_than_the_limit_is_kept_aside_unread_by_the_daemon(
    tmp_path: Path,
) -> None:
    """So at the daemon's start, which reads the file in a thread of its own: the limit
    goes with it, and the file one byte past it is kept aside unread, its size and the
    limit said."""
    path = tmp_path / "state.bin"
    config = parse_config(RULE)
    sinks = config.alerts.named_sinks()
    limit = state_limit(Pipeline(core_settings(config)).ledger, config.alerts.rules, sinks)
    with path.open("wb") as handle:
        handle.truncate(limit + 1)
    saver = _saver(path)
    with capture_logs() as logs:
        async with contextlib.AsyncExitStack() as stack:
            await saver.load_within(stack, watched=False)
    (ignored,) = [log for log in logs if log["event"] == "sesd.state.ignored"]
    assert f"is {limit + 1:,} bytes, more than the {limit:,}" in ignored["reason"]
    assert (tmp_path / "state.bin.unusable").stat().st_size == limit + 1


def _load_peak(path: str, limit: str) -> int:
    """The peak of a start's load of the file at ``path``, one byte past ``limit``: set
    aside, its size and the limit said."""
    import tracemalloc

    saver = _saver(path)
    tracemalloc.start()
    try:
        with capture_logs() as logs:
            saver.load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        saver.release()
    (ignored,) = [log for log in logs if log["event"] == "sesd.state.ignored"]
    assert f"{int(limit) + 1:,} bytes" in ignored["reason"]
    assert f"{int(limit):,}" in ignored["reason"]
    return peak


def test_a_full_tenants_map_fits_under_the_limit_of_a_config_with_small_caps() -> None:
    """The tenants' map holds up to a million ARNs whatever the caps say (and a file
    saved with tenants on holds it after a start that turned them off): a config with
    every cap small must not set such a file aside, its windows and alerts with it."""
    config = parse_config(
        RULE
        + "[domains]\nmax_tracked = 10\n[providers]\nenabled = false\n"
        + "[ingest]\ndedup_max_entries = 1000\nmax_pending_delays = 1000\n"
    )
    ledger = Pipeline(core_settings(config)).ledger
    rows = [
        [f"arn:aws:ses:eu-central-1:123456789012:identity/mail-{i:07d}.example.com", "t-1"]
        for i in range(10_000)
    ]
    per_row = len(msgspec.msgpack.encode({"tenant_map": rows})) / len(rows)
    assert per_row > 60
    assert state_limit(ledger, config.alerts.rules, ()) > per_row * ledger.tenant_map.max_entries


def test_a_tenants_map_full_of_the_longest_arns_it_keeps_fits_under_the_limit() -> None:
    """An event's ``sourceArn`` is written by whoever can send to its queue, and a poll's
    answer by an endpoint: the map keeps an ARN up to the longest SES writes (an
    identity's of the longest address, 7-bit ASCII as SES's addresses are) and no
    other, whichever way it comes (an event naming its tenant, a poll, a state file).
    A map full of the longest, each with a 64-character tenant, fits under the limit
    of a config with every cap small (it did not: a row was counted as 256 bytes, and
    one ARN of 2,048 characters was kept)."""
    config = parse_config(
        RULE
        + "[domains]\nmax_tracked = 10\n[providers]\nenabled = false\n"
        + "[ingest]\ndedup_max_entries = 1000\nmax_pending_delays = 1000\n"
    )
    ledger = Pipeline(core_settings(config)).ledger
    head = "arn:aws:ses:eu-west-1:123456789012:identity/"
    rows = [[f"{head}{i:07d}".ljust(MAX_RESOURCE_ARN, "x"), "t" * 64] for i in range(10_000)]
    tenant_map = ledger.tenant_map
    tenant_map.restore(rows[:2])
    tenant_map.learn(rows[2][0], "", "t", by_ses=True)
    assert list(tenant_map.arns) == [row[0] for row in rows[:3]]  # the longest is kept
    per_row = len(msgspec.msgpack.encode({"tenant_map": rows})) / len(rows)
    assert per_row > 450
    assert state_limit(ledger, config.alerts.rules, ()) > per_row * tenant_map.max_entries
    longer = (head + "x" * 2048)[: MAX_RESOURCE_ARN + 1]
    wide = (head + "\N{EMOJI MODIFIER FITZPATRICK TYPE-6}" * 400)[:MAX_RESOURCE_ARN]  # 4 bytes
    for arn in (longer, wide, (head + "x" * 2048)[:2048]):
        tenant_map.learn(arn, "", "t", by_ses=True)
        tenant_map.learn(f"{head}x", "s" * MAX_RESOURCE_ARN, "t", by_ses=True)
        tenant_map.replace("eu-west-1", "123456789012", {arn: {"t"}})
        tenant_map.restore([[arn, "t"]])
        assert tenant_map.arns == {}, arn[-8:]


def _walk_bytes(resources: int, tenants: int) -> int:
    """The bytes in the file of one (account, region)'s walk under way at its caps: the
    longest names, resources of the longest ARN kept, each shared by two tenants, and
    the longest token kept, of 4-byte characters."""
    walk = TenantWalk(f.T0, listing=False, where=("eu-west-1", "123456789012"))
    walk.token = "\N{EMOJI MODIFIER FITZPATRICK TYPE-6}" * MAX_TOKEN
    for i in range(tenants):
        walk.listed(f"{i:064d}")
    head = "arn:aws:ses:eu-west-1:123456789012:identity/"
    for i in range(resources):
        arn = f"{head}{i:07d}".ljust(MAX_RESOURCE_ARN, "x")
        for tenant in ("a" * 64, "b" * 64):
            walk.add(tenant, arn, resources)
    walks = TenantWalks()
    walks.walks[("a" * 64, "eu-west-1")] = walk
    return len(msgspec.msgpack.encode({"tenant_walks": walks.snapshot()}))


def test_a_walk_under_way_of_each_account_beside_a_full_map_fits_under_the_limit() -> None:
    """Each (account, region) watched may have a walk of its tenants' resources under way
    in the file, beside a full map: each keeps MAX_WALK_TENANTS tenants and as many
    resources as the map holds, a resource with two tenants. A config with every cap
    small and three regions watched must not set such a file aside: the limit had no
    room for walks (three at their caps are 1.56 GB; the limit was 392 MB)."""
    queues = "".join(
        f'[[queues]]\nurl = "https://sqs.{region}.amazonaws.com/123456789012/q"\n'
        f'name = "{region}"\n'
        for region in ("eu-west-1", "us-east-1", "ap-southeast-2")
    )
    config = parse_config(
        RULE + queues + "[tenants]\nenabled = true\n"
        "[domains]\nmax_tracked = 10\n[providers]\nenabled = false\n"
        "[ingest]\ndedup_max_entries = 1000\nmax_pending_delays = 1000\n"
    )
    ledger = Pipeline(core_settings(config)).ledger
    assert len(ledger.settings.watched) == 3
    head = "arn:aws:ses:eu-west-1:123456789012:identity/"
    rows = [[f"{head}{i:07d}".ljust(MAX_RESOURCE_ARN, "x"), "t" * 64] for i in range(10_000)]
    per_row = len(msgspec.msgpack.encode({"tenant_map": rows})) / len(rows)
    per_resource = (_walk_bytes(4_000, 0) - _walk_bytes(2_000, 0)) / 2_000
    per_tenant = (_walk_bytes(0, 4_000) - _walk_bytes(0, 2_000)) / 2_000
    assert per_resource > 500
    most = ledger.tenant_map.max_entries
    walk = _walk_bytes(0, 0) + per_tenant * MAX_WALK_TENANTS + per_resource * most
    assert state_limit(ledger, config.alerts.rules, ()) > per_row * most + 3 * walk


@pytest.mark.parametrize("first", ["link", "file"])
def test_two_sesd_on_one_file_through_a_link_do_not_both_start(tmp_path: Path, first: str) -> None:
    """Two sesd on one host: one's ``[state] path`` is a link to a file on a bigger
    volume (saved through: the file it names is replaced), the other's names that file
    itself (a config copied from the first host's). Each would overwrite the other's
    saves and restore the other's windows: whichever starts second does not start,
    naming who holds the file; so two links to one file. Each lets go at its stop."""

    from sesd.runtime.state_lock import hold, let_go

    (tmp_path / "volume").mkdir()
    target = tmp_path / "volume" / "state.bin"
    links = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        link = tmp_path / name / "state.bin"
        link.symlink_to(target)
        links.append(str(link))
    pairs = {"link": (links[0], str(target)), "file": (str(target), links[0])}
    for held_path, second in (pairs[first], (links[0], links[1])):
        held = hold(held_path)
        try:
            with pytest.raises(StartError) as refused:
                hold(second)
            assert "another sesd is using it" in str(refused.value)
            assert f"pid {os.getpid()} on {replica_name()}" in str(refused.value)
        finally:
            let_go(held)
        let_go(hold(second))


def test_a_daemon_on_a_link_locks_the_file_it_names_and_writes_nothing_beside_the_link(
    tmp_path: Path,
) -> None:
    """The daemon's saver follows a link before it takes the lock, so a sesd on the
    link and one on the file it names (or on another link to it) hold one lock: the
    second does not start. Nothing is made beside the link: a link kept in a directory
    the daemon may not write (a mounted ConfigMap) starts as it always did."""
    (tmp_path / "volume").mkdir()
    (tmp_path / "config").mkdir()
    target = tmp_path / "volume" / "state.bin"
    link = tmp_path / "config" / "state.bin"
    link.symlink_to(os.path.relpath(target, link.parent))  # relative, as ln -s writes it
    first = _saver(link)
    first.load()
    try:
        assert os.listdir(tmp_path / "config") == ["state.bin"]
        with pytest.raises(StartError, match="another sesd is using it"):
            _saver(target).load()
    finally:
        first.release()
    second = _saver(target)
    second.load()
    second.release()
    assert sorted(os.listdir(tmp_path / "volume")) == ["state.bin.lock"]
