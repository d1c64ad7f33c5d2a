"""A silence added a moment before the wall clock steps back, which sesd reads only
after the step, its start an hour ahead: the read moves it to the step, as the step
would have moved it read before. Here that read, or the look before it, is in the
worker thread when the step is measured, or a reload moves the file to a new path
before it. Real files, a read or look held at a FIFO as on a share that stalls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from sesd.alerting.silence_entries import Entry
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.silences import Silence
from tests.fifo_gates import open_for_writing
from tests.test_routing import _silenceable
from tests.test_silence_hung import Stuck, _back, gate
from tests.test_silence_start_step import (
    ADDED,
    STEP,
    _reloaded_to,
    _silence,
    _still_held,
)

pytestmark = pytest.mark.timeout(30)


class LookedThenStuck(SilenceFile):
    """A silences file whose first look finds its identity, then waits (as on a share
    that stalls) until the test opens the FIFO ``gate`` for writing."""

    def __init__(self, path: str, gate: Path) -> None:
        super().__init__(path)
        self._gate, self.waits = gate, 0

    def identity(self) -> tuple[int, int, int, int] | None:
        found = super().identity()
        if not self.waits:
            self.waits += 1
            with open(self._gate, "rb") as gate:  # blocks until a writer comes
                gate.read()
        return found


class ReadThenStuck(SilenceFile):
    """A silences file whose first read takes what the file holds, then waits (as on a
    share that stalls) until the test opens the FIFO ``gate`` for writing."""

    def __init__(self, path: str, gate: Path) -> None:
        super().__init__(path)
        self._gate, self.waits = gate, 0

    def entries(self) -> list[Entry]:
        found = super().entries()
        if not self.waits:
            self.waits += 1
            with open(self._gate, "rb") as gate:  # blocks until a writer comes
                gate.read()
        return found


async def _read_with_no_silence(tmp_path: Path) -> tuple[Path, SilenceWatcher]:
    """A silences file with no silence yet, and a watcher that read it before ADDED."""
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).update(list, ADDED - 20)
    watcher = SilenceWatcher(str(path))
    assert await watcher.arefresh(ADDED - 10)
    return path, watcher


@asynccontextmanager
async def _held_at(fifo: Path) -> AsyncIterator[None]:
    """Within: the file operation waiting at ``fifo`` is there, and stays until the end
    (it cannot come back to the event loop before what is done within)."""
    async with open_for_writing(fifo):  # back once it is there
        yield


async def test_a_silence_read_while_the_step_is_measured_moves(tmp_path: Path) -> None:
    """s0 (from two hours before: behind the stepped clock too) was read a while ago;
    s1 is added at ADDED, and the evaluation's read of it is in the worker thread when
    the clock steps an hour back (the step measured on the event loop meanwhile). s1
    holds all the same (before: the read, asked with the time before the step, spent
    the step kept on no start, and s1 was pending for the step's length, its alerts
    paging), and its start is written at the step."""
    path = tmp_path / "silences.json"
    file = SilenceFile(str(path))
    file.add(Silence(id="s0", comment="c", starts_at=ADDED - 7200, ends_at=None,
                     rule="delays", domain="b.example"), ADDED - 7200)  # fmt: skip
    watcher = SilenceWatcher(str(path))
    assert await watcher.arefresh(ADDED - 10)
    _silence(path)
    stepped = ADDED + 2 + STEP
    with gate(tmp_path) as fifo:
        watcher.file = stuck = Stuck(str(path), fifo)
        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher.arefresh, ADDED + 1)  # the read waits at the gate
            async with _held_at(fifo):  # the step is measured as the read waits
                watcher.stepped(stepped, STEP)
        await _back(stuck)
    assert [s.id for s in watcher.silences.items] == ["s0", "s1"]
    assert watcher.silences.match("delays", "a.example", "critical", stepped + 1) is not None
    await watcher.aend(set(), stepped + 1)
    assert [(s.id, s.starts_at) for s in file.read()] == [("s0", ADDED - 7200), ("s1", stepped)]


async def test_a_look_under_way_when_the_step_is_measured_keeps_it(tmp_path: Path) -> None:
    """The evaluation's look finds the file unchanged; before it comes back, s1 is
    added and the clock steps an hour back. The look does not drop the step (it saw
    the file before s1): the next read moves s1's start to the step (before: pending
    for the step's length, its alerts paging)."""
    path, watcher = await _read_with_no_silence(tmp_path)
    stepped = ADDED + 2 + STEP
    with gate(tmp_path) as fifo:
        watcher.file = LookedThenStuck(str(path), fifo)
        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher.arefresh, ADDED + 1)  # its look waits at the gate
            async with _held_at(fifo):  # before the look comes back to the event loop
                _silence(path)
                watcher.stepped(stepped, STEP)
    assert watcher.silences.items == []
    assert await watcher.arefresh(stepped + 1)
    assert watcher.silences.match("delays", "a.example", "critical", stepped + 1) is not None


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_file_moved_before_its_first_read_after_the_step_moves_the_start(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """The on-call adds s1 a moment before the clock steps back, after sesd's last look;
    before the next evaluation, the file and the config are moved to a new path (a
    reload, in one call or as the daemon makes it). The new file's first read, after
    the step, moves s1's start as the old one's would have (before: no start waited,
    so the reload dropped the step, and s1 was pending there, a.example paging)."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    now[0] = ADDED - 10
    assert await alerting.evaluate_in_slices() == []  # no file yet: nothing read
    _silence(silences)
    now[0] = ADDED + 1 + STEP
    alerting.stepped(now[0], STEP)
    other = tmp_path / "other.json"
    silences.rename(other)
    await _reloaded_to(alerting, other, as_the_daemon)
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in SilenceFile(str(other)).read()] == [ADDED + 1 + STEP]


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_reload_to_no_file_and_back_after_the_step_moves_the_start(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """sesd read the file; the on-call adds s1 a moment before the clock steps back,
    after sesd's last look. Before the next evaluation a reload takes a config with
    no silences file, and a second one the file again (the edit undone). The file's
    first read, after the step, moves s1's start as the first reload's would have
    (before: the reload to no file dropped the step, and s1 was pending for the
    step's length, a.example paging)."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    SilenceFile(str(silences)).update(list, ADDED - 20)
    now[0] = ADDED - 10
    assert await alerting.evaluate_in_slices() == []  # the file read, no silence in it
    _silence(silences)
    now[0] = ADDED + 1 + STEP
    alerting.stepped(now[0], STEP)
    await _reloaded_to(alerting, None, as_the_daemon)
    assert alerting.silences.unwritten() == {}
    await _reloaded_to(alerting, silences, as_the_daemon)
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [ADDED + 1 + STEP]


async def test_a_step_long_past_kept_through_no_file_moves_no_start_written_ahead(
    tmp_path: Path,
) -> None:
    """A reload takes a config with no silences file; the clock steps an hour back,
    and two hours on (long past where it stepped from) a second back. Meanwhile the
    on-call writes s2 into the file by hand, to start half an hour ahead (planned
    work); a reload takes the file again. s2 stays as written, pending (before: the
    two steps summed, as if the clock had been two hours ahead, moved its start to
    the read, muting a.example half an hour early)."""
    alerting, _, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    SilenceFile(str(silences)).update(list, ADDED - 20)
    now[0] = ADDED - 10
    assert await alerting.evaluate_in_slices() == []  # the file read, no silence in it
    await _reloaded_to(alerting, None, False)
    now[0] = ADDED + STEP
    alerting.stepped(now[0], STEP)
    now[0] = ADDED + 2 * 3600 + STEP - 1
    alerting.stepped(now[0], -1.0)
    planned = now[0] + 1800
    s2 = Silence(id="s2", comment="planned work", starts_at=planned, ends_at=planned + 3600,
                 rule="delays", domain="a.example")  # fmt: skip
    SilenceFile(str(silences)).add(s2, now[0])
    await _reloaded_to(alerting, silences, False)
    assert [s.starts_at for s in alerting.silences.silences.items] == [planned]
    assert alerting.silences.unwritten() == {str(silences): 0}


async def test_a_reload_looking_when_the_step_is_measured_keeps_it(tmp_path: Path) -> None:
    """A reload's look, ahead of its change of config, finds the file unchanged; before
    it comes back, s1 is added and the clock steps an hour back. The change, which takes
    what the look found, does not drop the step (the look saw the file before s1): the
    next read moves s1's start to the step (before: pending for the step's length, its
    alerts paging)."""
    path, watcher = await _read_with_no_silence(tmp_path)
    stepped = ADDED + 2 + STEP
    with gate(tmp_path) as fifo:
        watcher.file = LookedThenStuck(str(path), fifo)
        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher.aread_ahead, str(path), lambda: False)  # waits at the gate
            async with _held_at(fifo):  # before the look comes back to the event loop
                _silence(path)
                watcher.stepped(stepped, STEP)
    with watcher.put_off():
        watcher.use(str(path), None, stepped + 1)
    assert watcher.silences.items == []
    assert await watcher.arefresh(stepped + 1)
    assert watcher.silences.match("delays", "a.example", "critical", stepped + 1) is not None


async def test_a_read_under_way_across_a_step_back_and_forward_keeps_the_start(
    tmp_path: Path,
) -> None:
    """The evaluation's read of s1 is in the worker thread when the clock steps an hour
    back, then as far forward again (NTP setting a wrong step right): the clock is
    past s1's start when the read comes back, so the start stays as written (before:
    moved to where the step back had put the clock, an hour before s1 was added, and
    written so to the file)."""
    path, watcher = await _read_with_no_silence(tmp_path)
    file = _silence(path)
    with gate(tmp_path) as fifo:
        watcher.file = stuck = Stuck(str(path), fifo)
        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher.arefresh, ADDED + 1)  # the read waits at the gate
            async with _held_at(fifo):
                watcher.stepped(ADDED + 2 + STEP, STEP)
                watcher.stepped(ADDED + 3, -STEP)
        await _back(stuck)
    assert watcher.silences.match("delays", "a.example", "critical", ADDED + 4) is not None
    await watcher.aend(set(), ADDED + 4)
    assert [(s.id, s.starts_at) for s in file.read()] == [("s1", ADDED)]
    assert watcher.unwritten() == {str(path): 0}


@pytest.mark.parametrize("reload", [False, True])
async def test_a_silence_added_after_a_read_under_way_took_the_file_moves(
    tmp_path: Path, reload: bool
) -> None:
    """The evaluation's read (or a reload's read ahead) of the file, s0 added, took
    what it holds and is still in the worker thread when s1 is added and the clock
    steps an hour back. That read has no s1: the next one, which has, moves its start
    to the step (before: that read spent the step, and s1 was pending for the step's
    length, its alerts paging)."""
    path, watcher = await _read_with_no_silence(tmp_path)
    SilenceFile(str(path)).add(Silence(id="s0", comment="c", starts_at=ADDED - 5, ends_at=None,
                                       rule="delays", domain="b.example"), ADDED - 5)  # fmt: skip
    stepped = ADDED + 2 + STEP
    with gate(tmp_path) as fifo:
        watcher.file = ReadThenStuck(str(path), fifo)
        async with anyio.create_task_group() as tg:
            if reload:
                tg.start_soon(watcher.aread_ahead, str(path), lambda: False)
            else:
                tg.start_soon(watcher.arefresh, ADDED + 1)  # its read waits at the gate
            async with _held_at(fifo):  # the read took the file before s1
                _silence(path)
                watcher.stepped(stepped, STEP)
    if reload:
        with watcher.put_off():
            watcher.use(str(path), None, stepped + 1)
    assert [s.id for s in watcher.silences.items] == ["s0"]
    assert await watcher.arefresh(stepped + 1)
    assert watcher.silences.match("delays", "a.example", "critical", stepped + 1) is not None


async def test_a_silence_added_after_the_step_a_reload_waited_through_keeps_its_start(
    tmp_path: Path,
) -> None:
    """A reload's read ahead waits its turn behind the evaluation's read (of s0, just
    added), held at the share, when the clock steps an hour back; a second after the
    step, s1 is added on the stepped clock. The read ahead, which began after the
    step, reads s1 as written: its start is the moment it was added (before: the read
    ahead was taken as under way at the step, and s1's start moved a second back, to
    the step, in force and in the file)."""
    path, watcher = await _read_with_no_silence(tmp_path)
    SilenceFile(str(path)).add(Silence(id="s0", comment="c", starts_at=ADDED - 5, ends_at=None,
                                       rule="delays", domain="b.example"), ADDED - 5)  # fmt: skip
    stepped = ADDED + 2 + STEP
    added = Silence(id="s1", comment="watching", starts_at=stepped + 1, ends_at=stepped + 4 * 3600,
                    rule="delays", domain="a.example")  # fmt: skip
    with gate(tmp_path) as fifo:
        watcher.file = ReadThenStuck(str(path), fifo)
        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher.arefresh, ADDED + 1)  # its read waits at the gate
            tg.start_soon(watcher.aread_ahead, str(path), lambda: False)  # waits its turn
            async with _held_at(fifo):
                watcher.stepped(stepped, STEP)
                SilenceFile(str(path)).add(added, stepped + 1)
    with watcher.put_off():
        watcher.use(str(path), None, stepped + 3)
    # s0's read was under way at the step: moved to it, as if added a moment before.
    starts = [("s0", stepped), ("s1", stepped + 1)]
    assert [(s.id, s.starts_at) for s in watcher.silences.items] == starts
    await watcher.aend(set(), stepped + 4)
    assert [(s.id, s.starts_at) for s in SilenceFile(str(path)).read()] == starts
