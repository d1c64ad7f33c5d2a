"""A start killed while it restores the state file (the OOM killer on a file grown
past a lowered memory limit, a crash in the decoder): each start after it would be
killed the same way, a crash loop that pages no one. After two such starts in a
row the file is kept aside and sesd starts empty, saying why."""

from __future__ import annotations

import os
import signal
import traceback
import tracemalloc
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NoReturn

import anyio
import pytest
from structlog.testing import capture_logs

import sesd.runtime.state_start as start
from sesd.config import parse_config
from sesd.runtime import early
from sesd.runtime.daemon import Daemon
from sesd.runtime.state_reach import killed_restores
from sesd.runtime.state_start import RestoreStopped
from tests.dns_server import hermetic
from tests.test_state_files import _saver


def _ending(sig: int) -> Callable[..., NoReturn]:
    """A restore that ends its process with ``sig`` mid-way."""

    def restore(*args: object, **named: object) -> NoReturn:
        os.kill(os.getpid(), sig)
        raise AssertionError("the restore went on past its signal")

    return restore


#: A start whose restore is killed (SIGKILL, as the OOM killer sends) mid-way.
KILLED = _ending(signal.SIGKILL)
#: A start stopped with SIGTERM (systemctl stop, a rollout, the kubelet after a
#: failed liveness probe) mid-way through its restore, with SIGTERM's default action
#: (sesd embedded in another program).
STOPPED = _ending(signal.SIGTERM)
#: A start interrupted (SIGINT: Ctrl-C) mid-way through its restore, with SIGINT's
#: default action, a KeyboardInterrupt (sesd embedded in another program).
INTERRUPTED = _ending(signal.SIGINT)


def STOPPED_THEN_KILLED(*args: object, **named: object) -> NoReturn:
    """The same where the SIGTERM is held (sesd.runtime.early, as ``sesd run`` holds
    one until its signal watcher runs, or a restore whose stop is not watched): the
    restore goes on, too slow for the supervisor, whose SIGKILL after its grace period
    (TimeoutStopSec, terminationGracePeriodSeconds) comes mid-way still. (Watched, the
    SIGTERM gives the restore up: the tests at the end.)"""
    os.kill(os.getpid(), signal.SIGTERM)  # held
    os.kill(os.getpid(), signal.SIGKILL)  # the grace period is over
    raise AssertionError("the restore went on past its kill")


def _killed_start(
    path: Path, restore: Callable[..., NoReturn] = KILLED, sig: int = signal.SIGKILL
) -> None:
    """A start of ``path`` in a process of its own whose restore is ``restore``, which
    must end it by ``sig``. The process is this one forked (its modules loaded: a
    fresh interpreter's start cost half a second of CPU, for a restore's milliseconds),
    its stop signals at an interpreter's defaults (SIGTERM's action, SIGINT's
    KeyboardInterrupt) and SIGTERM held for STOPPED_THEN_KILLED as ``sesd run`` holds
    it; a KeyboardInterrupt it is left with ends it by SIGINT, as an interpreter's
    does. It never returns into the test: an error ends it with status 70."""
    with warnings.catch_warnings():
        # Python 3.12 warns of a fork with threads running (xdist's worker has one):
        # the child takes no lock they hold, and the test's timeout reaps a hung one.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if restore is STOPPED_THEN_KILLED:
                early.hold()
            vars(start)["restore"] = restore  # this process only: it never returns
            _saver(path).load()
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:  # noqa: BLE001 (told, then status 70)
            traceback.print_exc()
        finally:
            os._exit(70)
    status = None
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:  # not reaped (the test timed out)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == -sig


def _saved_file(path: Path) -> bytes:
    saver = _saver(path)
    saver.load()
    anyio.run(saver.save)
    saver.release()
    return path.read_bytes()


def test_starts_killed_while_restoring_end_in_the_file_kept_aside(tmp_path: Path) -> None:
    """One start killed while restoring (a deploy's SIGKILL at the wrong moment): the
    next restores the file as usual. Two in a row: the next keeps the file aside as
    ``PATH.unusable``, says why, and starts empty; the one after that starts as
    after any refused file."""
    path = tmp_path / "state.bin"
    blob = _saved_file(path)
    _killed_start(path)
    assert "sesd.state.restored" in _restored(path)
    _killed_start(path)
    _killed_start(path)
    with capture_logs() as logs:
        saver = _saver(path)
        saver.load()
        saver.release()
    (ignored,) = [line for line in logs if line["event"] == "sesd.state.ignored"]
    assert "killed" in ignored["reason"]
    assert ignored["kept_as"] == f"{path}.unusable"
    assert (tmp_path / "state.bin.unusable").read_bytes() == blob
    assert not path.exists()
    assert _restored(path) == ["sesd.state.none_yet"]


def test_a_restore_marker_that_is_no_file_does_not_stop_the_start(tmp_path: Path) -> None:
    """Something not a file at ``PATH.restoring`` (a directory made by hand): the
    count cannot be kept, the start goes on and restores the file."""
    path = tmp_path / "state.bin"
    _saved_file(path)
    (tmp_path / "state.bin.restoring").mkdir()
    assert "sesd.state.restored" in _restored(path)


def test_starts_stopped_by_sigterm_while_restoring_keep_the_file(tmp_path: Path) -> None:
    """Three starts in a row stopped with SIGTERM while they restore (a rollout and
    a restart after it, a slow restore of a big file whose pod a liveness probe has
    the kubelet stop): each is a stop asked for, not a kill by what the restore
    itself does. Each still ends by SIGTERM, and the next start restores the file
    rather than keeping it aside (which would leave its firing alerts open)."""
    path = tmp_path / "state.bin"
    _saved_file(path)
    for _ in range(3):
        _killed_start(path, STOPPED, signal.SIGTERM)
    assert not (tmp_path / "state.bin.restoring").exists()
    assert "sesd.state.restored" in _restored(path)
    assert not (tmp_path / "state.bin.unusable").exists()


def test_a_start_interrupted_while_restoring_keeps_the_count_before_it(
    tmp_path: Path,
) -> None:
    """A start killed by its restore (an OOM), then one interrupted while it restores
    (Ctrl-C: a KeyboardInterrupt, sesd embedded in another program), as one stopped
    with SIGTERM: the interrupted start is not counted, and the count before it stays
    (it was dropped, so a restore that kills sesd took a start more to be kept
    aside)."""
    path = tmp_path / "state.bin"
    _saved_file(path)
    _killed_start(path)
    _killed_start(path, INTERRUPTED, signal.SIGINT)
    assert (tmp_path / "state.bin.restoring").read_bytes() == b"1"
    _killed_start(path, STOPPED, signal.SIGTERM)
    assert (tmp_path / "state.bin.restoring").read_bytes() == b"1"


def test_starts_stopped_then_killed_while_restoring_keep_the_file(tmp_path: Path) -> None:
    """Under ``sesd run``, a restore too slow for the supervisor (a big file on a busy
    node: the kubelet stops a pod its startup probe gave up on, systemd one past
    TimeoutStartSec) is asked to stop, then killed once the grace period is over,
    three starts in a row. Those kills are the supervisor's, not the restore's (no OOM,
    no crash): the next start restores the file, not keeps it aside."""
    path = tmp_path / "state.bin"
    _saved_file(path)
    _killed_start(path)  # one kill of the restore's own before: still counted
    for _ in range(3):
        _killed_start(path, STOPPED_THEN_KILLED)
    assert (tmp_path / "state.bin.restoring").read_bytes() == b"1"
    assert "sesd.state.restored" in _restored(path)
    assert not (tmp_path / "state.bin.unusable").exists()


def _restored(path: Path) -> list[str]:
    """The events a start's load of ``path`` logs (then the lock let go)."""
    with capture_logs() as logs:
        saver = _saver(path)
        saver.load()
        saver.release()
    return [line["event"] for line in logs]


def test_an_empty_restore_marker_counts_one_killed_start(tmp_path: Path) -> None:
    """An empty ``PATH.restoring`` is a start killed between making the marker and
    writing its count: one killed start. The next start restores the file; killed too,
    it makes two, and the start after keeps the file aside."""
    path = tmp_path / "state.bin"
    blob = _saved_file(path)
    (tmp_path / "state.bin.restoring").write_bytes(b"")
    assert "sesd.state.restored" in _restored(path)
    (tmp_path / "state.bin.restoring").write_bytes(b"")
    _killed_start(path)
    assert "sesd.state.ignored" in _restored(path)
    assert (tmp_path / "state.bin.unusable").read_bytes() == blob


def test_a_garbage_restore_marker_counts_one_killed_start(tmp_path: Path) -> None:
    """A marker holding no count (garbage, a negative number written by hand, a digit
    other than 0-9, which read as text would count: U+0662 as 2): one killed start,
    never fewer than none, so a start killed after it makes two and the file is kept
    aside at the next, not after a crash loop of many."""
    path = tmp_path / "state.bin"
    _saved_file(path)
    for garbage in (b"x\xff", b"-5", b"   ", "\u0662".encode()):
        (tmp_path / "state.bin.restoring").write_bytes(garbage)
        assert "sesd.state.restored" in _restored(path), garbage
    (tmp_path / "state.bin.restoring").write_bytes(b"-5")
    _killed_start(path)
    assert (tmp_path / "state.bin.restoring").read_bytes() == b"2"
    assert "sesd.state.ignored" in _restored(path)


def test_a_huge_restore_marker_is_not_read_whole(tmp_path: Path) -> None:
    """A marker grown huge (a file copied over it by mistake; here 64 MiB, sparse): the
    start reads no more of it than a count takes, not the whole into memory, and counts
    it as garbage, one killed start."""
    marker = tmp_path / "state.bin.restoring"
    with marker.open("wb") as handle:
        handle.truncate(64 << 20)
    tracemalloc.start()
    try:
        killed = killed_restores(str(marker))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert killed == 1
    assert peak < 1 << 20, peak


def test_a_file_that_cannot_be_kept_aside_is_never_saved_over(tmp_path: Path) -> None:
    """Two starts killed while restoring, and the file cannot be moved aside (each of
    ``PATH.unusable``, ``.1`` and ``.2`` taken by a directory made by hand): the next
    start does not restore it, and says at error level that it is neither restored
    nor saved over. Its saves this run fail, saying why, and leave the file as it was
    (the only copy of the alert states a person may still need); the marker stays,
    so the start after does not restore it either. Once the places are free, a start
    keeps it aside and saves again."""
    path = tmp_path / "state.bin"
    blob = _saved_file(path)
    for place in ("state.bin.unusable", "state.bin.unusable.1", "state.bin.unusable.2"):
        (tmp_path / place).mkdir()
    _killed_start(path)
    _killed_start(path)
    for _ in range(2):
        with capture_logs() as logs:
            saver = _saver(path)
            saver.load()
            anyio.run(saver.save)
            saver.release()
        (ignored,) = [line for line in logs if line["event"] == "sesd.state.ignored"]
        assert ignored["log_level"] == "error"
        assert ignored["kept_aside"] == "no"
        assert "sesd.state.restored" not in [line["event"] for line in logs]
        (refused,) = [line for line in logs if line["event"] == "sesd.state.save_refused"]
        assert refused["log_level"] == "error"
        assert "move" in refused["hint"]
        assert saver.failed
        assert path.read_bytes() == blob
        assert (tmp_path / "state.bin.restoring").exists()
    (tmp_path / "state.bin.unusable").rmdir()
    assert "sesd.state.saved" in _saved_events(path)
    assert (tmp_path / "state.bin.unusable").read_bytes() == blob


def test_a_damaged_file_that_cannot_be_kept_aside_is_never_saved_over(tmp_path: Path) -> None:
    """A damaged file that cannot be moved aside (its places taken by directories):
    sesd starts empty and its saves leave the file as it was."""
    path = tmp_path / "state.bin"
    path.write_bytes(b"\xffdamaged")
    for place in ("state.bin.unusable", "state.bin.unusable.1", "state.bin.unusable.2"):
        (tmp_path / place).mkdir()
    events = _saved_events(path)
    assert "sesd.state.save_refused" in events
    assert path.read_bytes() == b"\xffdamaged"


def _saved_events(path: Path) -> list[str]:
    with capture_logs() as logs:
        saver = _saver(path)
        saver.load()
        anyio.run(saver.save)
        saver.release()
    return [line["event"] for line in logs]


def _stopping_restore(*args: object, stop: int = signal.SIGTERM, **named: object) -> None:
    """A restore a stop signal (SIGTERM unless ``stop``) comes in, as a stop asked for
    while a large file is restored: its handler gives the restore up at once, before
    the next line."""
    os.kill(os.getpid(), stop)
    raise AssertionError("the restore went on past the stop")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_a_stop_while_restoring_leaves_the_file_as_it_was_and_saves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: signal.Signals
) -> None:
    """Where stop signals are watched (``sesd run``'s watcher, which a handler of the
    test's stands for), a SIGTERM or a SIGINT while the file is restored gives the
    restore up:
    RestoreStopped (the restore would take an Exception for a damaged file, and keep
    the file aside), the signal passed on to the watcher. What was loaded is never
    saved, so a save after it (a second signal's) leaves the file as it was; the count
    of a start killed before it stays, this one having proved nothing."""
    path = tmp_path / "state.bin"
    blob = _saved_file(path)
    _killed_start(path)
    monkeypatch.setattr(start, "restore", partial(_stopping_restore, stop=stop))
    heard: list[int] = []
    watcher = signal.signal(stop, lambda signum, frame: heard.append(signum))
    try:
        saver = _saver(path)
        with capture_logs() as logs, pytest.raises(RestoreStopped):
            saver.load(watched=True)
        anyio.run(saver.save)
        saver.release()
    finally:
        signal.signal(stop, watcher)
    assert heard == [stop]
    assert [line["event"] for line in logs] == ["sesd.state.restore_stopped"]
    assert path.read_bytes() == blob
    assert (tmp_path / "state.bin.restoring").read_bytes() == b"1"
    assert not (tmp_path / "state.bin.unusable").exists()


async def test_a_daemon_stopped_while_it_restores_stops_without_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon watching signals (as ``sesd run``'s does) and SIGTERM as it restores
    its file: the restore is given up, the start with it, and the daemon's run returns
    as after any stop while starting, the file untouched."""
    path = tmp_path / "state.bin"
    saver = _saver(path)
    saver.load()
    await saver.save()
    saver.release()
    blob = path.read_bytes()
    monkeypatch.setattr(start, "restore", _stopping_restore)
    config = parse_config(
        '[aws]\nregion = "us-east-1"\n'
        '[[queues]]\nurl = "http://127.0.0.1:9/123456789012/q"\nname = "q"\n'
        f'[state]\npath = "{path}"\n'
    )
    with capture_logs() as logs, anyio.fail_after(10):
        await Daemon(hermetic(config)).run(handle_signals=True)
    events = [line["event"] for line in logs]
    assert events[-4:] == [
        "sesd.state.restore_stopped",
        "sesd.daemon.signal",
        "sesd.daemon.stopping",
        "sesd.daemon.stopped",
    ]
    assert path.read_bytes() == blob
    assert not (tmp_path / "state.bin.restoring").exists()
