"""A stop on a disk whose fsync hangs: the last save has what is left of the stop's
budget (the grace period and ``LAST_SAVE``), then sesd exits 1 and says why, inside
the shipped units' stop timeout rather than at their SIGKILL. The disk is slowed by
an event the test holds (no preloaded library: a fresh CI machine may lack a
compiler), in-process or in a real ``sesd run``."""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import parse_config
from sesd.config.sections import EXIT_ROOM, LAST_SAVE
from sesd.runtime import daemon as daemon_module
from sesd.runtime import saver as saver_module
from sesd.runtime.daemon import Daemon
from sesd.runtime.saver import StateSaver
from sesd.runtime.state_bytes import decoded, write_state
from tests import factory as f
from tests.conftest import make_queue, running
from tests.fifo_gates import open_for_writing
from tests.sesd_process import config_file, sesd_process
from tests.test_state_files import _saver, clocked_saver, slow_first_write

#: ``sesd run`` whose every fsync waits until the FIFO named first is opened for
#: writing and closed: a disk that hangs for as long as the test holds it.
SLOW_DISK = """
import os, sys
gate = sys.argv.pop(1)
synced = os.fsync
def fsync(fd):
    with open(gate, "rb") as held:
        held.read()
    synced(fd)
os.fsync = fsync
from sesd.commands.main import main
sys.exit(main())
"""

#: The last save's time in :data:`STOP_ON_SLOW_DISK`: a few seconds rather than
#: ``LAST_SAVE``'s ten, which the test only waited out (that the shipped units' stop
#: timeout holds ``LAST_SAVE`` is tests/test_artifacts.py's).
SHORT_SAVE = 4.0

#: ``sesd run`` on that disk, whose last save has :data:`SHORT_SAVE`.
STOP_ON_SLOW_DISK = SLOW_DISK.replace(
    "from sesd.commands.main import main",
    f"""from sesd.runtime import daemon
daemon.LAST_SAVE = {SHORT_SAVE}
from sesd.commands.main import main""",
)

#: ``sesd run`` on that disk, whose consumers fail (a fault nothing handles) as soon as
#: it has started, and whose last save has a second rather than ``LAST_SAVE``.
FAULT_ON_SLOW_DISK = SLOW_DISK.replace(
    "from sesd.commands.main import main",
    """from sesd.runtime import daemon
daemon.LAST_SAVE = 1.0
async def consume(self):
    raise RuntimeError("consumers bug")
daemon.Daemon.consume = consume
from sesd.commands.main import main""",
)


async def test_a_last_save_on_a_hung_disk_gives_up_in_its_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop's save is held by the disk past the time it is given: it returns then,
    its write left to its thread; the file on disk is the one saved before, whole, the
    save counts as failed (sesd run exits 1), an error names the file, and no save
    comes after it, not even once the disk answers."""
    path = tmp_path / "state.bin"
    saver = _saver(path)
    saver.load()
    await saver.save()
    before = path.read_bytes()
    hung, done = threading.Event(), threading.Event()
    writes: list[bytes] = []

    def disk(path: str, blob: bytes, *rest: Any) -> None:
        writes.append(blob)
        hung.wait()
        done.set()

    monkeypatch.setattr(saver_module, "write_state", disk)
    results: list[bool] = []
    saver.on_result = lambda ok, now: results.append(ok)
    try:
        with capture_logs() as logs:
            started = time.monotonic()
            await saver.save_last(0.3)
            waited = time.monotonic() - started
        hung.set()
        await anyio.to_thread.run_sync(done.wait)
        await saver.save()  # a periodic save after the last: nothing more is written
    finally:
        hung.set()
        saver.release()
    assert waited < 2.0
    assert saver.failed
    assert saver.unfinished
    assert results == [False]
    assert len(writes) == 1
    (error,) = [r for r in logs if r["event"] == "sesd.state.save_unfinished"]
    assert error["log_level"] == "error"
    assert error["path"] == str(path)
    assert path.read_bytes() == before
    assert decoded(before)["saved_at"] == f.T0


async def test_a_write_left_to_its_thread_never_lands_after_a_newer_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save cancelled while the disk holds its write (left to its thread), then a
    save of a newer snapshot: the newer write waits for the older one and lands after
    it, so the file ends holding the newer snapshot, not the older renamed last."""
    entered, held, newer_written = slow_first_write(monkeypatch)
    path = tmp_path / "state.bin"
    saver, now = clocked_saver(path)
    older = anyio.CancelScope()

    async def save_older() -> None:
        with older:
            await saver.save()

    async with anyio.create_task_group() as tg:
        tg.start_soon(save_older)
        await anyio.to_thread.run_sync(entered.wait)
        older.cancel()  # the older save returns; its write goes on in its thread
        now[0] = f.T0 + 10
        tg.start_soon(saver.save)
        # Written within a second if nothing holds it back (it must not be, here).
        early = await anyio.to_thread.run_sync(newer_written.wait, 1.0)
        held.set()
        await anyio.to_thread.run_sync(newer_written.wait)
    saver.release()
    assert not early
    assert decoded(path.read_bytes())["saved_at"] == f.T0 + 10


async def _given_up(
    saver: StateSaver, held: threading.Event, done: threading.Event
) -> list[MutableMapping[str, Any]]:
    """The last save, given up while the disk holds ``held``; then the disk answers and
    the write left to its thread ends (``done``). What was logged meanwhile."""
    try:
        with capture_logs() as logs:
            await saver.save_last(0.3)
    finally:
        held.set()
        await anyio.to_thread.run_sync(done.wait)
        saver.release()
    return logs


async def test_a_last_write_given_up_never_replaces_the_file_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk answers only after the stop's save gave up: the write left to its
    thread then does not replace the file, which holds what the error said (the state
    saved before), and what it wrote aside is removed."""
    path = tmp_path / "state.bin"
    saver, now = clocked_saver(path)
    await saver.save()
    before = path.read_bytes()
    held, done = threading.Event(), threading.Event()

    def disk(path: str, blob: bytes, *rest: Any) -> None:
        held.wait()
        try:
            write_state(path, blob, *rest)  # the real disk, once it answers
        finally:
            done.set()

    monkeypatch.setattr(saver_module, "write_state", disk)
    now[0] = f.T0 + 10
    logs = await _given_up(saver, held, done)
    assert decoded(path.read_bytes())["saved_at"] == f.T0
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["state.bin", "state.bin.lock"]  # nothing aside
    (error,) = [r for r in logs if r["event"] == "sesd.state.save_unfinished"]
    assert (error["file_holds"], error["synced"]) == ("an earlier save's state", True)
    assert error["hint"].endswith(
        "no write replaces it from now on: a restart restores it, losing what sesd counted "
        "since, and may send again what sesd notified since; check the disk under it"
    )


async def test_a_last_save_given_up_mid_rename_says_the_file_is_not_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk holds the directory's sync, after the rename: the error says the file
    holds this save's state, not yet synced to disk (not the state saved before)."""
    path = tmp_path / "state.bin"
    saver, now = clocked_saver(path)
    await saver.save()
    held, done = threading.Event(), threading.Event()
    synced = os.fsync

    def fsync(fd: int) -> None:
        directory = stat.S_ISDIR(os.fstat(fd).st_mode)  # synced once the file is renamed
        if directory:
            held.wait()
        synced(fd)
        if directory:
            done.set()

    monkeypatch.setattr(os, "fsync", fsync)
    now[0] = f.T0 + 10
    logs = await _given_up(saver, held, done)
    (error,) = [r for r in logs if r["event"] == "sesd.state.save_unfinished"]
    assert (error["file_holds"], error["synced"]) == ("this save's state", False)
    assert "not yet synced to disk" in error["hint"]
    assert "a restart restores it" not in error["hint"]  # this save's state: nothing lost
    assert decoded(path.read_bytes())["saved_at"] == f.T0 + 10


async def _last_save_behind_a_periodic_one(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[StateSaver, list[bool], MutableMapping[str, Any]]:
    """A periodic save holds the disk, and the stop's save gives up waiting behind it
    (its snapshot never taken): the saver, what its saves counted, its error."""
    entered, released, _ = slow_first_write(monkeypatch)
    saver, _ = clocked_saver(path)
    results: list[bool] = []
    saver.on_result = lambda ok, now: results.append(ok)
    try:
        with capture_logs() as logs:
            async with anyio.create_task_group() as tg:
                tg.start_soon(saver.save)
                await anyio.to_thread.run_sync(entered.wait)
                await saver.save_last(0.3)
                released.set()  # the periodic save's write ends, and so its save
    finally:
        released.set()
        saver.release()
    (error,) = [r for r in logs if r["event"] == "sesd.state.save_unfinished"]
    return saver, results, error


async def test_a_save_the_last_one_waited_behind_is_dropped_once_it_gave_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop's save gives up waiting behind a periodic one, on a file sesd restored
    at start: the error says the file is as sesd found it, and so it stays when the
    disk answers (a restart restores it, losing what was counted since); the save
    counts as failed, not saved."""
    path = tmp_path / "state.bin"
    first = _saver(path)
    first.load()
    await first.save()
    first.release()
    before = path.read_bytes()
    saver, results, error = await _last_save_behind_a_periodic_one(path, monkeypatch)
    assert (error["file_holds"], error["synced"]) == ("what it held when sesd started", True)
    assert "a restart restores it, losing what sesd counted since" in error["hint"]
    assert path.read_bytes() == before
    assert saver.failed
    assert results == [False]


async def test_a_last_save_given_up_with_no_file_says_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same on a first run, no file at start: the error says there is no file
    (none at start, no save finished) and a restart starts empty, not that the file
    holds what it held when sesd started; none appears when the disk answers."""
    path = tmp_path / "state.bin"
    saver, results, error = await _last_save_behind_a_periodic_one(path, monkeypatch)
    holds = "no file (none when sesd started, and no save finished)"
    assert (error["file_holds"], error["synced"]) == (holds, True)
    assert f"(a slow or hung disk): there is {holds}; no write makes one" in error["hint"]
    assert "a restart starts empty" in error["hint"]
    assert "held when sesd started" not in error["hint"]
    assert not path.exists()
    assert saver.failed
    assert results == [False]


async def test_a_last_save_given_up_after_an_unusable_file_says_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file found at start could not be used and was kept aside: the error says
    there is no file, and where the one found at start is kept."""
    path = tmp_path / "state.bin"
    path.write_bytes(b"not a state file")
    _, _, error = await _last_save_behind_a_periodic_one(path, monkeypatch)
    assert error["file_holds"] == (
        f"no file (the one found at start is kept as {path}.unusable, and no save finished)"
    )
    assert not path.exists()


@pytest.mark.timeout(90)
async def test_a_stop_on_a_hung_disk_ends_in_its_budget_and_exits_1(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """`sesd run` saved its state at an earlier stop; now every fsync hangs. SIGTERM:
    the stop ends within the grace period, the last save's time (shortened here) and a
    moment (not at the supervisor's SIGKILL), exit 1, an error naming the state file
    and saying the last save did not finish; the file is the earlier one, whole, and
    the next start restores it (and removes what the cut-off save left beside it)."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "state.bin"
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        f'[shutdown]\ngrace_period = "0s"\n[state]\npath = "{state}"\n',
    )
    async with sesd_process(config) as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            assert await sesd.process.wait() == 0
    before = state.read_bytes()
    gate = tmp_path / "disk"
    os.mkfifo(gate)
    slow = [sys.executable, "-c", STOP_ON_SLOW_DISK, str(gate)]
    async with sesd_process(config, command=slow) as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        with anyio.fail_after(SHORT_SAVE + EXIT_ROOM + 10):
            unfinished = await sesd.wait_for_event("sesd.state.save_unfinished")
            code = await sesd.process.wait()
        took = time.monotonic() - started
    assert code == 1
    assert took < SHORT_SAVE + EXIT_ROOM  # grace_period 0s
    assert unfinished["level"] == "error"
    assert unfinished["path"] == str(state)
    assert unfinished["waited_seconds"] > SHORT_SAVE - 2
    assert state.read_bytes() == before
    async with sesd_process(config, until="sesd.state.restored") as sesd:
        removed = await sesd.logged("sesd.state.leftovers_removed")
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            assert await sesd.process.wait() == 0
    assert removed["count"] == 1


async def test_a_fault_on_a_hung_disk_ends_sesd_within_its_last_save(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault nothing handles ends sesd while the disk holds the save it makes then:
    sesd ends with the fault after ``LAST_SAVE`` (shortened here), not when the disk
    answers (a supervisor's SIGKILL, on a hung one), the fault logged, an error saying
    the save did not finish, the save counted as failed and unfinished."""
    url, _ = await make_queue(sqs)
    text = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        f'[http]\nlisten = "127.0.0.1:0"\n[state]\npath = "{tmp_path / "state.bin"}"\n'
    )
    held, answered = threading.Event(), threading.Event()

    def disk(path: str, blob: bytes, *rest: Any) -> None:
        # Held for a while, not forever: a save with no limit ends the test then.
        held.wait(5.0)
        answered.set()

    async def fail(self: Daemon) -> float:
        raise RuntimeError("consumers bug")

    monkeypatch.setattr(saver_module, "write_state", disk)
    monkeypatch.setattr(daemon_module, "LAST_SAVE", 0.3)
    monkeypatch.setattr(Daemon, "consume", fail)
    try:
        with capture_logs() as logs, pytest.raises(BaseExceptionGroup) as raised:
            async with running(parse_config(text)) as daemon:
                await anyio.sleep_forever()  # until the fault ends the daemon
        ended_while_held = not answered.is_set()
    finally:
        held.set()
        await anyio.to_thread.run_sync(answered.wait)
    assert raised.group_contains(RuntimeError, match="consumers bug")
    assert ended_while_held
    assert daemon.saver.unfinished
    assert daemon.saver.failed
    events = [r["event"] for r in logs]
    assert events.index("sesd.daemon.failed") < events.index("sesd.state.save_unfinished")
    (error,) = [r for r in logs if r["event"] == "sesd.state.save_unfinished"]
    assert (error["log_level"], error["after"]) == ("error", "fault")


async def _on_a_slow_disk(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, script: str
) -> tuple[Path, Path, Path, list[str]]:
    """A config reading a new queue, its state file under ``tmp_path``, and ``sesd run``
    through ``script``, whose disk waits on a FIFO: (config, state file, FIFO, command)."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "state.bin"
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\n[state]\npath = "{state}"\n',
    )
    gate = tmp_path / "disk"
    os.mkfifo(gate)
    return config, state, gate, [sys.executable, "-c", script, str(gate)]


@pytest.mark.timeout(60)
async def test_a_fault_with_its_save_unfinished_exits_1_at_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """`sesd run` fails on a disk whose fsync hangs: once its last save gave up, it
    exits 1 with the fault printed, rather than wait at the interpreter's exit for the
    write left to its thread (for as long as the disk hangs); the fault logged."""
    config, state, _gate, slow = await _on_a_slow_disk(local_sqs, sqs, tmp_path, FAULT_ON_SLOW_DISK)
    async with sesd_process(config, command=slow) as sesd:
        failed = await sesd.wait_for_event("sesd.daemon.failed")
        unfinished = await sesd.wait_for_event("sesd.state.save_unfinished")
        with anyio.fail_after(EXIT_ROOM + 5):
            code = await sesd.process.wait()
    assert code == 1
    assert "RuntimeError: consumers bug" in failed["exception"]
    assert unfinished["after"] == "fault"
    assert not state.exists()
    # A first run: no file at start, none saved.
    assert unfinished["file_holds"] == "no file (none when sesd started, and no save finished)"


#: ``sesd run`` whose consumers fail as soon as it has started (a fault nothing handles),
#: on a disk whose first fsync (the fault's last save's) waits until the FIFO named first
#: is opened for writing and closed.
FAULT_ON_ONE_SLOW_FSYNC = """
import os, sys
gate = [sys.argv.pop(1)]
synced = os.fsync
def fsync(fd):
    if gate:
        with open(gate.pop(), "rb") as held:
            held.read()
    synced(fd)
os.fsync = fsync
from sesd.runtime import daemon
async def consume(self):
    raise RuntimeError("consumers bug")
daemon.Daemon.consume = consume
from sesd.commands.main import main
sys.exit(main())
"""


@pytest.mark.timeout(60)
async def test_a_stop_signal_during_a_fault_s_last_save_lets_it_finish(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A fault ends sesd and its last save waits on the disk when SIGTERM comes (the
    supervisor stopping a unit that is failing): the signal is heard and said
    (`sesd.daemon.signal`, `during: last_save`), the save goes on, and once the disk
    answers the state is saved and sesd exits 1 as after any fault. Taken as a signal
    during the exit, it ended sesd at once (130) and the save with it: the restart
    restored an older file."""
    config, state, gate, slow = await _on_a_slow_disk(
        local_sqs, sqs, tmp_path, FAULT_ON_ONE_SLOW_FSYNC
    )
    async with sesd_process(config, command=slow) as sesd:
        await sesd.wait_for_event("sesd.daemon.failed")
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(LAST_SAVE):
            heard = await sesd.wait_for_event("sesd.daemon.signal")
            async with open_for_writing(gate):  # it answers
                pass
            code = await sesd.process.wait()
    assert (heard["signal"], heard["during"]) == ("SIGTERM", "last_save")
    assert code == 1
    assert decoded(state.read_bytes())  # the fault's save, whole
