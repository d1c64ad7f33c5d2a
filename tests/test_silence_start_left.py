"""A reload that moves ``alerts.silences_path`` while the start of a silence, moved
back by a step of the wall clock, waits to be written (the file could not be written
at the step). The old file still holds the start ahead of the clock: a reload back to
it, or a start with the old config, would find the silence pending and page what it
mutes. The start is written to the old file once it can be, as a resolve's end is,
and until then it is counted and said at a stop. The daemon's alerting on a console
sink whose outbox does not run, real files."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.config import parse_config
from tests.test_routing import RULE, T
from tests.test_rules import feed_spike
from tests.test_silence_hung import (
    AtTheGate,
    Stuck,
    _at_gate,
    _evaluated_amid_a_step,
    _through,
    gate,
)
from tests.test_silence_reload import _text
from tests.test_silence_start_step import (
    STEP,
    _held,
    _moved_unwritten,
    _reloaded_to,
    _still_held,
)
from tests.test_silence_unwritable import _unwritable
from tests.test_silence_unwritten_moved import _saved_as

pytestmark = pytest.mark.timeout(30)


async def _moved_then_left(
    tmp_path: Path, as_the_daemon: bool
) -> tuple[Any, Any, list[float], Path, Path]:
    """As :func:`_moved_unwritten`; then a reload reads other.json (none there yet),
    and names s1 and the old file."""
    alerting, pipeline, now, silences, lock = await _moved_unwritten(tmp_path)
    with capture_logs() as logs:
        await _reloaded_to(alerting, tmp_path / "other.json", as_the_daemon)
    # s1 is the old file's: none is made at the new path (s1 copied there).
    assert not (tmp_path / "other.json").exists()
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritten"]
    assert (line["path"], line["count"], line["ids"]) == (str(silences), 1, ["s1"])
    assert line["hint"] == (
        "a step of the clock back moved their start, but this file, which sesd no longer "
        "reads, still holds it ahead of the clock: sesd writes their start to it once it "
        "can; a start with it before then finds them pending until the clock reaches it; "
        "add each again with sesd silence add --config CONFIG (a config whose "
        "alerts.silences_path is this file) once it can be written, to mute its alerts"
    )
    return alerting, pipeline, now, silences, lock


async def _reload_read_then_stepped(alerting: Any, now: list[float], path: Path) -> None:
    """A reload to the silences file at ``path``, as the daemon makes it: its read, then
    the wall clock stepping an hour back before its change (the web config is read
    between), then the change; its write is the caller's."""
    config = parse_config(_text(path, RULE + 'sinks = ["ops"]\n'))
    await alerting.read_silences(config)
    now[0] = T + 61 + STEP
    alerting.stepped(now[0], STEP)
    alerting.reconfigure(config, files_read=True)


def _said_at_a_stop(alerting: Any) -> list[tuple[Any, ...]]:
    """(path, ids) of each line naming silences a file holds not as sesd has them."""
    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    return [(e["path"], e["ids"]) for e in logs if e["event"] == "sesd.silences.unwritten"]


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_reload_to_another_file_writes_the_moved_start_to_the_old_one_once_it_can(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """Until the old file can be written, ``sesd_silences_unwritten`` counts s1 there
    and a stop names it; once it can be, the next evaluation writes s1's start at the
    step (before: the reload dropped it, and the old file kept s1 an hour ahead,
    pending for a start with the old config)."""
    alerting, _, now, silences, lock = await _moved_then_left(tmp_path, as_the_daemon)
    other = str(tmp_path / "other.json")
    assert alerting.silences.unwritten() == {str(silences): 1, other: 0}
    assert _said_at_a_stop(alerting) == [(str(silences), ["s1"])]
    lock.rmdir()
    now[0] += 1
    await alerting.evaluate_in_slices()
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [T + 61 + STEP]
    assert alerting.silences.unwritten() == {other: 0}
    assert _said_at_a_stop(alerting) == []


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_reload_back_to_the_old_file_keeps_the_moved_start(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """A second reload reads the old file again, still not writable: s1 holds
    a.example's firing (before: read with its start an hour ahead, pending, a.example
    paged), and its start is written there once the file can be."""
    alerting, pipeline, now, silences, lock = await _moved_then_left(tmp_path, as_the_daemon)
    await _reloaded_to(alerting, silences, as_the_daemon)
    await _still_held(alerting, pipeline, now)
    assert alerting.silences.unwritten() == {str(silences): 1}
    lock.rmdir()
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [T + 61 + STEP]


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_reload_back_to_an_old_file_that_no_longer_holds_the_silence_forgets_its_start(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """A second reload reads the old file again, still not writable, once a hand edit
    took s1 out of it (another in its place): no start is left to write, so nothing
    waits for that file, nor is named at a stop (kept, the start was counted in
    ``sesd_silences_unwritten`` and named at each stop as long as it stayed locked)."""
    alerting, _, _, silences, _ = await _moved_then_left(tmp_path, as_the_daemon)
    file = SilenceFile(str(silences))
    _saved_as(file, lambda blob: blob.replace(b'"s1"', b'"s9"'))
    await _reloaded_to(alerting, silences, as_the_daemon)
    assert [s.id for s in file.read()] == ["s9"]
    assert alerting.silences.unwritten() == {str(silences): 0}
    assert _said_at_a_stop(alerting) == []


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_file_moved_to_the_new_path_takes_the_moved_start_there(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """The operator moves the file, which cannot be written yet, and the config with
    it: the new path holds s1 with its start as written. s1 holds a.example's firing,
    its start is written there, and nothing waits for, nor is said of, the old path
    (before, as the daemon reloads: the old path was counted and named at a stop, as
    if it still held s1's start ahead)."""
    alerting, pipeline, now, silences, lock = await _moved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    os.replace(silences, other)
    with capture_logs() as logs:
        await _reloaded_to(alerting, other, as_the_daemon)
    assert [e for e in logs if e["event"] == "sesd.silences.unwritten"] == []
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in SilenceFile(str(other)).read()] == [T + 61 + STEP]
    assert alerting.silences.unwritten() == {str(other): 0}
    assert _said_at_a_stop(alerting) == []
    assert not silences.exists()  # no file made there
    assert lock.is_dir()


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_start_left_to_the_old_file_moves_again_with_a_second_step_back(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """The reload left s1's start, moved to the first step, to the old file, which
    cannot be written yet; then the clock steps an hour back again, which puts that
    start an hour ahead. Once the old file can be written, s1 starts at the second
    step: a reload back to it finds s1 in force, holding a.example's firing (before:
    written at the first step, s1 was pending there for an hour, and a.example
    paged)."""
    alerting, pipeline, now, silences, lock = await _moved_then_left(tmp_path, as_the_daemon)
    now[0] += 1 + STEP
    second = now[0]
    alerting.stepped(second, STEP)
    lock.rmdir()
    now[0] += 1
    await alerting.evaluate_in_slices()
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [second]
    assert alerting.silences.unwritten() == {str(tmp_path / "other.json"): 0}
    await _reloaded_to(alerting, silences, as_the_daemon)
    await _still_held(alerting, pipeline, now)


async def test_a_second_step_back_while_the_old_file_is_written_moves_its_start_again(
    tmp_path: Path,
) -> None:
    """As the last, but the old file's write, once it can be, is slow, and the second
    step comes meanwhile: the write under way takes s1's start to the first step, an
    hour ahead of the clock now. The next write moves it from there to the second step
    (before: the next write looked for the start as first written, found it moved, and
    left it an hour ahead)."""
    alerting, pipeline, now, silences, lock = await _moved_then_left(tmp_path, False)
    lock.rmdir()
    left = alerting.silences._left._files
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(silences), fifo, stuck="write")
        _, was, ends, starts = left[str(silences)]
        left[str(silences)] = stuck, was, ends, starts
        second = now[0] + 1 + STEP
        await _evaluated_amid_a_step(alerting, stuck, fifo, now, second, STEP)
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [T + 61 + STEP]
    other = str(tmp_path / "other.json")
    assert alerting.silences.unwritten() == {str(silences): 1, other: 0}
    now[0] += 1
    await alerting.evaluate_in_slices()
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [second]
    assert alerting.silences.unwritten() == {other: 0}
    await _reloaded_to(alerting, silences, False)
    await _still_held(alerting, pipeline, now)


@asynccontextmanager
async def _old_file_hangs(
    tmp_path: Path, as_the_daemon: bool, what: str
) -> AsyncIterator[tuple[Any, Any, list[float], Path, Path, Stuck]]:
    """As :func:`_moved_then_left`; once the old file can be written, its ``what`` (a
    look, a write) does not answer (a share that hangs): given up at an evaluation, and
    said naming the file and the operation. The alerting, pipeline, clock, old file's
    path, its gate and the file held there, while the operation waits at the gate."""
    alerting, pipeline, now, silences, lock = await _moved_then_left(tmp_path, as_the_daemon)
    lock.rmdir()
    alerting.silences.thread = AtTheGate()
    left = alerting.silences._left._files
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(silences), fifo, stuck=what)
        _, was, ends, starts = left[str(silences)]
        left[str(silences)] = stuck, was, ends, starts
        now[0] += 1
        with capture_logs() as logs:
            await alerting.evaluate_in_slices()  # given up
        await _at_gate(stuck)
        (hung,) = [e for e in logs if e["event"] == "sesd.silences.hung"]
        assert (hung["path"], hung["what"]) == (str(silences), what)
        yield alerting, pipeline, now, silences, fifo, stuck


async def _written_after_a_second_step(
    tmp_path: Path, as_the_daemon: bool
) -> tuple[Any, Any, list[float], Path, float]:
    """As :func:`_moved_then_left`; once the old file can be written, its write does
    not answer (a share that hangs) and is given up; the clock steps an hour back
    again; then the write comes back, having taken: the old file holds s1's start at
    the first step, an hour ahead of the clock. The alerting, pipeline, clock, old
    file's path and the second step."""
    async with _old_file_hangs(tmp_path, as_the_daemon, "write") as given_up:
        alerting, pipeline, now, silences, fifo, stuck = given_up
        now[0] += 1 + STEP
        second = now[0]
        alerting.stepped(second, STEP)
        await _through(fifo, stuck)
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [T + 61 + STEP]
    return alerting, pipeline, now, silences, second


async def test_a_write_given_up_that_took_after_a_second_step_back_is_moved_again(
    tmp_path: Path,
) -> None:
    """The next write moves s1's start from where the write given up put it, to the
    second step: a reload back to the old file finds s1 in force (before: the next
    write looked for the start as first written, found the first step's, and left
    it an hour ahead; s1 pending, a.example paged)."""
    alerting, pipeline, now, silences, second = await _written_after_a_second_step(tmp_path, False)
    now[0] += 1
    await alerting.evaluate_in_slices()
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [second]
    assert alerting.silences.unwritten() == {str(tmp_path / "other.json"): 0}
    await _reloaded_to(alerting, silences, False)
    await _still_held(alerting, pipeline, now)


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_reload_back_after_a_write_given_up_took_moves_the_start_again(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """The old file's lock is held again, sesd looks at other.json (after the step:
    the next read is not one across it), and a reload goes back to the old file: its
    read finds s1 at the first step, where the write given up put it, and moves it to
    the second (before: the read looked for the start as first written, found the
    first step's and left it, s1 pending, a.example paged); the file is written so
    once it can be."""
    alerting, pipeline, now, silences, second = await _written_after_a_second_step(
        tmp_path, as_the_daemon
    )
    lock = _unwritable(silences)
    now[0] += 1
    await alerting.silences.alook(now[0])
    await _reloaded_to(alerting, silences, as_the_daemon)
    await _still_held(alerting, pipeline, now)
    assert alerting.silences.unwritten() == {str(silences): 1}
    lock.rmdir()
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [second]
    assert alerting.silences.unwritten() == {str(silences): 0}


async def test_a_step_back_amid_a_reload_to_the_file_moved_leaves_nothing_to_the_old_path(
    tmp_path: Path,
) -> None:
    """s1 holds a.example's firing; the operator moves the file, and the config with
    it. The wall clock steps an hour back after the reload read the new path, before
    its change (as the daemon reloads: the web config is read between): s1's start
    moves, and the change leaves it to the old path too, not looked at. The next write
    finds the old path gone and the file sesd reads the one that was there: nothing
    waits for, nor is said of, the old path (before: counted there until a restart,
    SesdSilencesUnwritten paging after 15 minutes, and named at a stop), and s1's
    start is written to the new one."""
    alerting, pipeline, now, silences, _ = await _held(tmp_path)
    other = tmp_path / "other.json"
    os.replace(silences, other)
    await _reload_read_then_stepped(alerting, now, other)
    await alerting.write_silences()
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in SilenceFile(str(other)).read()] == [T + 61 + STEP]
    assert alerting.silences.unwritten() == {str(other): 0}
    assert _said_at_a_stop(alerting) == []
    assert not silences.exists()  # no file made there


async def test_a_silence_added_amid_a_reload_to_the_file_moved_leaves_nothing_to_the_old_path(
    tmp_path: Path,
) -> None:
    """As the last, but someone runs ``sesd silence add`` on the new path after the
    reload read it, and an evaluation that waited for the reload's read reads it
    before the reload's write (which waits its turn behind it): the file sesd reads is
    a new one then (every write replaces the file), not the one the old path held.
    Nothing waits for, nor is said of, the old path all the same (before: counted
    there until a restart, SesdSilencesUnwritten paging after 15 minutes, and named at
    a stop), and s1's start is written to the new one, which keeps s2."""
    alerting, pipeline, now, silences, _ = await _held(tmp_path)
    other = tmp_path / "other.json"
    os.replace(silences, other)
    await _reload_read_then_stepped(alerting, now, other)
    s2 = Silence(id="s2", comment="later", starts_at=now[0], ends_at=now[0] + 3600,
                 rule="delays", domain="b.example")  # fmt: skip
    SilenceFile(str(other)).add(s2, now[0])
    await alerting.silences.alook(now[0])  # the evaluation's read
    with capture_logs() as logs:
        await alerting.write_silences()
    assert [e for e in logs if e["event"] == "sesd.silences.unwritten"] == []
    await _still_held(alerting, pipeline, now)
    assert {s.id: s.starts_at for s in SilenceFile(str(other)).read()} == {
        "s1": T + 61 + STEP,
        "s2": T + 61 + STEP,
    }
    assert alerting.silences.unwritten() == {str(other): 0}
    assert _said_at_a_stop(alerting) == []
    assert not silences.exists()  # no file made there


async def test_a_step_back_amid_a_reload_to_another_file_writes_the_old_one_unsaid(
    tmp_path: Path,
) -> None:
    """s1 holds a.example's firing; a reload moves to other.json (none there), and the
    wall clock steps an hour back after its read, before its change: s1's start moves,
    and the change leaves it to the old file, which it had not looked at (nothing
    waited for it then). The reload's write, after the change, writes it there: nothing
    is said of the old file, which can be written (before: it was named at the change
    as holding s1's start ahead, with advice to add s1 again, though the write a moment
    later took)."""
    alerting, _, now, silences, _ = await _held(tmp_path)
    other = tmp_path / "other.json"
    with capture_logs() as logs:
        await _reload_read_then_stepped(alerting, now, other)
        await alerting.write_silences()
    assert [e for e in logs if e["event"] == "sesd.silences.unwritten"] == []
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [T + 61 + STEP]
    assert alerting.silences.unwritten() == {str(other): 0}
    assert _said_at_a_stop(alerting) == []


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_start_left_at_the_very_time_the_clock_steps_back_again_moves_again(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """The file cannot be written; the wall clock steps an hour back, moving s1's start
    to the step, and at that very reading a reload moves the path off the file and the
    clock steps an hour back again. Once the old file can be written, s1 starts at the
    second step (before: at the first, an hour ahead of the clock, so a reload back to
    the file found s1 pending for that hour and a.example paged)."""
    alerting, _, now, silences, _ = await _held(tmp_path)
    lock = _unwritable(silences)
    now[0] = T + 61 + STEP
    alerting.stepped(now[0], STEP)
    await _reloaded_to(alerting, tmp_path / "other.json", as_the_daemon)
    now[0] += STEP
    second = now[0]
    alerting.stepped(second, STEP)
    lock.rmdir()
    now[0] += 1
    await alerting.evaluate_in_slices()
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [second]


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_reload_back_to_the_first_of_two_files_left_keeps_its_moved_start(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """s1's start, moved by a step back, waits for silences.json, which cannot be
    written; a reload moves to b.json, where s2 (``--until-resolved``, on b.example)
    ends while b.json cannot be written either; another to other.json; then one back
    to silences.json, still locked. s1 holds a.example's firing (before: the start
    moved was looked for in b.json alone, the last file left, and s1 was read with its
    start an hour ahead, pending, and a.example paged)."""
    alerting, pipeline, now, silences, _ = await _moved_unwritten(tmp_path)
    second = tmp_path / "b.json"
    SilenceFile(str(second)).add(
        Silence(id="s2", comment="watching", starts_at=now[0], ends_at=None,
                until_resolved=True, domain="b.example"), now[0])  # fmt: skip
    await _reloaded_to(alerting, second, as_the_daemon)
    feed_spike(pipeline, "b.example", now[0], 5, 5)
    await alerting.evaluate_in_slices()  # b.example fires, held back by s2
    _unwritable(second)
    now[0] += 10
    feed_spike(pipeline, "b.example", now[0], 0, 200)
    await alerting.evaluate_in_slices()  # s2 ends, not written
    await _reloaded_to(alerting, tmp_path / "other.json", as_the_daemon)
    assert alerting.silences.unwritten() == {
        str(silences): 1,
        str(second): 1,
        str(tmp_path / "other.json"): 0,
    }
    await _reloaded_to(alerting, silences, as_the_daemon)
    await _still_held(alerting, pipeline, now)


async def test_an_old_file_whose_look_hangs_is_said_and_written_once_it_answers(
    tmp_path: Path,
) -> None:
    """Once the old file holding s1's moved start can be written, the look at it does
    not answer (a share that hangs): said naming the file and the look, and the start
    is written once it answers."""
    async with _old_file_hangs(tmp_path, False, "look") as given_up:
        alerting, _, now, silences, fifo, stuck = given_up
        await _through(fifo, stuck)
    now[0] += 1
    await alerting.evaluate_in_slices()
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [T + 61 + STEP]


async def test_a_step_back_amid_a_reload_to_the_file_moved_and_damaged_leaves_the_old_path(
    tmp_path: Path,
) -> None:
    """As a step back amid a reload to the file moved, but the operator damaged the
    file in place as they moved it (an editor that keeps the file): sesd cannot read
    it, and s1's start waits for it, not for the old path, which is gone (before:
    counted there too until the file was mended and read, and named at a stop)."""
    alerting, _, now, silences, _ = await _held(tmp_path)
    other = tmp_path / "other.json"
    os.replace(silences, other)
    _damaged_in_place(other)
    await _reload_read_then_stepped(alerting, now, other)
    await alerting.write_silences()
    assert alerting.silences.unwritten() == {str(other): 1}
    assert [path for path, _ in _said_at_a_stop(alerting)] == [str(other)]
    assert not silences.exists()  # no file made there


def _damaged_in_place(path: Path) -> None:
    """``path`` written over in place (the same device and inode) with what is no
    silences file."""
    with path.open("r+", encoding="utf-8") as file:
        file.write("{ damaged")


async def _back_writable(
    alerting: Any, pipeline: Any, now: list[float], silences: Path, aside: Path, *locks: Path
) -> None:
    """The old file moved back from ``aside`` and made writable (``locks`` gone), s1
    holding a.example's firing at the evaluation that follows, which writes s1's start
    moved there."""
    os.replace(aside, silences)
    for lock in locks:
        lock.rmdir()
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [T + 61 + STEP]


async def _aside_and_back(
    alerting: Any,
    pipeline: Any,
    now: list[float],
    silences: Path,
    other: Path,
    *locks: Path,
    waiting_there: int = 0,
) -> None:
    """After a reload to ``other``, the new path linked to the old file: s1 holds
    a.example's firing at an evaluation, and at another while the old file is moved
    aside a while (aside.json beside it); meanwhile s1's start is counted for the old
    path, and ``waiting_there`` for ``other`` (1: it cannot be written either). Then
    :func:`_back_writable` (``locks``): nothing waits any more but for the file read."""
    await _still_held(alerting, pipeline, now)
    aside = silences.parent / "aside.json"
    os.replace(silences, aside)
    await _still_held(alerting, pipeline, now)
    assert alerting.silences.unwritten() == {str(silences): 1, str(other): waiting_there}
    await _back_writable(alerting, pipeline, now, silences, aside, *locks)
    assert alerting.silences.unwritten() == {str(other): 0}


async def test_the_old_path_linked_to_the_new_one_keeps_the_moved_start_while_moved_aside(
    tmp_path: Path,
) -> None:
    """The old file cannot be written; the operator links the new path to it (one file,
    two names) and reloads: sesd reads that file at the new path while the old path is
    still there, then writes the new one (which replaces it). Moved aside a while and
    back, the old path still gets s1's start (before: taken as moved to the new path
    once gone, it was forgotten, and kept s1 an hour ahead, pending for a start with the
    old config)."""
    alerting, pipeline, now, silences, lock = await _moved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    os.link(silences, other)
    await _reloaded_to(alerting, other, True)
    await _aside_and_back(alerting, pipeline, now, silences, other, lock)


async def test_the_old_path_linked_to_the_new_one_amid_a_step_keeps_the_moved_start(
    tmp_path: Path,
) -> None:
    """As the last, but nothing waits as the reload reads the new path, and the clock
    steps back before its change: the old path, not looked at then, is found there at
    the reload's write, so is not the file read moved there (before: taken as moved
    all the same, it was forgotten once moved aside, and kept s1 pending)."""
    alerting, pipeline, now, silences, _ = await _held(tmp_path)
    lock = _unwritable(silences)
    other = tmp_path / "other.json"
    os.link(silences, other)
    await _reload_read_then_stepped(alerting, now, other)
    await alerting.write_silences()
    await _aside_and_back(alerting, pipeline, now, silences, other, lock)


async def test_the_old_path_linked_to_the_new_one_both_unwritable_keeps_the_moved_start(
    tmp_path: Path,
) -> None:
    """As the old path linked to the new one, but the new path cannot be written either
    (both in a directory made read-only), so the file read keeps the old file's device
    and inode. Moved aside a while and back, the old path still gets s1's start
    (before: once gone, it was taken as moved to the file read, which was still the
    same file, though a write had found it there; forgotten, it kept s1 an hour ahead,
    pending for a start with the old config)."""
    alerting, pipeline, now, silences, lock = await _moved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    os.link(silences, other)
    other_lock = _unwritable(other)
    await _reloaded_to(alerting, other, True)
    await _aside_and_back(
        alerting, pipeline, now, silences, other, lock, other_lock, waiting_there=1
    )
    assert [s.starts_at for s in SilenceFile(str(other)).read()] == [T + 61 + STEP]


async def test_the_old_path_linked_found_there_by_a_read_before_the_reload_s_write_keeps_it(
    tmp_path: Path,
) -> None:
    """As the old path linked to the new one amid a step (the old path not looked at by
    the reload's read), but the operator saves the new path in an editor, which writes
    a file with two names in place, and an evaluation reads it before the reload's
    write, finding the old path there; the old path is then moved aside as that write
    looks at it. Moved back, it still gets s1's start (before: that read's look was not
    taken as the old path found there, so the write took it as moved to the file read:
    forgotten, neither counted nor said at a stop, it kept s1 an hour ahead, pending
    for a start with the old config)."""
    alerting, pipeline, now, silences, _ = await _held(tmp_path)
    lock = _unwritable(silences)
    other = tmp_path / "other.json"
    os.link(silences, other)
    await _reload_read_then_stepped(alerting, now, other)
    with other.open("a", encoding="utf-8") as saved:  # in place: one file, two names still
        saved.write("\n")
    await alerting.silences.alook(now[0])  # the evaluation's read
    aside = tmp_path / "aside.json"
    os.replace(silences, aside)
    await alerting.write_silences()
    assert alerting.silences.unwritten() == {str(silences): 1, str(other): 0}
    await _still_held(alerting, pipeline, now)
    assert alerting.silences.unwritten() == {str(silences): 1, str(other): 0}
    assert [path for path, _ in _said_at_a_stop(alerting)] == [str(silences)]
    await _back_writable(alerting, pipeline, now, silences, aside, lock)
    assert alerting.silences.unwritten() == {str(other): 0}


async def test_the_old_path_linked_both_unwritable_read_while_moved_aside_keeps_it(
    tmp_path: Path,
) -> None:
    """As the old path linked to the new one, both unwritable, but the operator saves
    the new path in an editor (in place: one file, two names still) while the old path
    is moved aside, and an evaluation reads it. Moved back, the old path still gets
    s1's start (before: that read took the old path as moved to the file read, though
    a write had found it there beside it; forgotten, it kept s1 an hour ahead)."""
    alerting, pipeline, now, silences, lock = await _moved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    os.link(silences, other)
    other_lock = _unwritable(other)
    await _reloaded_to(alerting, other, True)
    await _still_held(alerting, pipeline, now)
    aside = tmp_path / "aside.json"
    os.replace(silences, aside)
    with other.open("a", encoding="utf-8") as saved:
        saved.write("\n")
    await _still_held(alerting, pipeline, now)
    assert alerting.silences.unwritten() == {str(silences): 1, str(other): 1}
    await _back_writable(alerting, pipeline, now, silences, aside, lock, other_lock)
    assert [s.starts_at for s in SilenceFile(str(other)).read()] == [T + 61 + STEP]
