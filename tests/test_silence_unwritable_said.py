"""What sesd says while the silences file it reads cannot be written
(sesd.alerting.silence_ends): each silence ended since the last line is named once
the write fails, though the error is the one said before; and the starts a step of
the clock back moved are said with the write's error, not while a command holds the
file's lock a moment. The daemon's alerting on a console sink whose outbox does not
run, real files."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.config import parse_config
from tests.test_routing import RULE, T, _silenceable
from tests.test_rules import feed_spike
from tests.test_silence_left_files import _written_over
from tests.test_silence_reload import _text, _watching
from tests.test_silence_start_step import (
    ADDED,
    STEP,
    _silence,
    _stepped_unwritable,
    _still_held,
)
from tests.test_silence_unwritable import _end_unwritten, _lock_held, _resolves, _unwritable

pytestmark = pytest.mark.timeout(30)


def _unwritable_lines(logs: list[MutableMapping[str, Any]]) -> list[tuple[Any, ...]]:
    """(error, count, ids) of each ``sesd.silences.unwritable`` line."""
    return [
        (e["error"], e["count"], e["ids"]) for e in logs if e["event"] == "sesd.silences.unwritable"
    ]


@pytest.mark.parametrize("by", ["a resolve", "a reload removing its rule"])
async def test_a_silence_ended_after_a_write_failed_is_named_when_the_next_fails(
    tmp_path: Path, by: str
) -> None:
    """s1 (a.example) and s2 (b.example, under its own rule) are ``--until-resolved``;
    the file cannot be written. a.example resolves: the write fails, said naming s1.
    Then s2 ends (its alert resolves, or a reload removes its rule, as the daemon
    reloads: the change's write put off, then made), and the write fails with the same
    error: said again, naming both (before: not said, the on-call told of s1 alone,
    and a stop the first word of s2 waiting)."""
    rules = RULE + 'sinks = ["ops"]\n' + RULE.replace('"delays"', '"other"')
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, domain="a.example")
    s2 = Silence(id="s2", comment="watching", starts_at=T, ends_at=None,
                 until_resolved=True, rule="other", domain="b.example")  # fmt: skip
    file.add(s2, T)
    config = parse_config(_text(silences, rules + 'sinks = ["ops"]\n'))
    await alerting.read_silences(config)
    alerting.reconfigure(config, files_read=True)
    await alerting.write_silences()
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    await alerting.evaluate_in_slices()
    lock = _unwritable(silences)
    with capture_logs() as logs:
        _resolves(pipeline, now)
        await alerting.evaluate_in_slices()
    ((error, count, ids),) = _unwritable_lines(logs)
    assert (count, ids) == (1, ["s1"])
    with capture_logs() as logs:
        now[0] = T + 20
        if by == "a resolve":
            feed_spike(pipeline, "b.example", now[0], 0, 200)
            await alerting.evaluate_in_slices()
        else:
            config = parse_config(_text(silences, RULE + 'sinks = ["ops"]\n'))
            await alerting.read_silences(config)
            alerting.reconfigure(config, files_read=True)
            await alerting.write_silences()
    assert _unwritable_lines(logs) == [(error, 2, ["s1", "s2"])]
    lock.rmdir()
    now[0] = T + 25
    await alerting.evaluate_in_slices()
    assert [(s.id, s.ends_at) for s in file.read()] == [("s1", T + 10), ("s2", T + 20)]


async def test_a_start_moved_that_cannot_be_written_is_said_with_the_error(
    tmp_path: Path,
) -> None:
    """The file cannot be written when the clock steps back: the line naming s1's
    start moved says why the write failed (before: no error, or "None")."""
    alerting, pipeline, now, silences, _, lock = await _stepped_unwritable(tmp_path)
    with capture_logs() as logs:
        await _still_held(alerting, pipeline, now)
    ((error, count, ids),) = _unwritable_lines(logs)
    assert error == f"cannot lock {silences}: Is a directory"  # the lock's path
    lock.rmdir()
    assert (count, ids) == (1, ["s1"])


async def test_a_start_moved_is_not_said_while_a_command_holds_the_lock_a_moment(
    tmp_path: Path,
) -> None:
    """``sesd silence add`` holds the file's lock as the evaluation after a step back
    writes s1's start moved: nothing said (a command holds it a moment, as for an
    end); held over a second evaluation, said once. Written once the lock is let go."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _silence(silences)
    now[0] = T + 60
    await alerting.evaluate_in_slices()
    now[0] = T + 61 + STEP
    alerting.stepped(now[0], STEP)
    with _lock_held(silences):
        with capture_logs() as logs:
            await _still_held(alerting, pipeline, now)
        assert _unwritable_lines(logs) == []
        with capture_logs() as logs:
            await _still_held(alerting, pipeline, now)
        ((error, count, ids),) = _unwritable_lines(logs)
        assert error.startswith(f"cannot lock {silences}: another process holds")
        assert (count, ids) == (1, ["s1"])
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in file.read()] == [T + 61 + STEP]
    # Once a write took, a lock held a moment is none the less: the next step back's
    # start moved is not said while a command holds it for one evaluation.
    now[0] += 1 + STEP
    second = now[0]
    alerting.stepped(second, STEP)
    with _lock_held(silences), capture_logs() as logs:
        await _still_held(alerting, pipeline, now)
    assert _unwritable_lines(logs) == []
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in file.read()] == [second]


async def test_a_start_changed_by_hand_then_moved_again_is_said_again(tmp_path: Path) -> None:
    """The file cannot be written when the clock steps back: s1's start moved is said.
    The operator then gives s1 a start by hand (an editor that keeps the file), so
    nothing waits; the clock steps back again, and s1's start, ahead of it, moves
    again: the write fails, and s1 is said again (before: not said, as if the first
    line still told of it, though the on-call had dealt with that one)."""
    alerting, pipeline, now, silences, file, lock = await _stepped_unwritable(tmp_path)
    with capture_logs() as logs:
        await _still_held(alerting, pipeline, now)
    assert [ids for _, _, ids in _unwritable_lines(logs)] == [["s1"]]
    chosen = SilenceFile(str(tmp_path / "chosen.json"))
    start = now[0] - 60  # on the stepped clock, before where sesd moved it
    chosen.add(Silence(id="s1", comment="watching", starts_at=start, ends_at=ADDED + 4 * 3600,
                       rule="delays", domain="a.example"), start)  # fmt: skip
    _written_over(silences, chosen)  # in place: the lock is in the way of a command
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in file.read()] == [start]
    assert alerting.silences.unwritten() == {str(silences): 0}
    now[0] += 1 + STEP
    second = now[0]
    alerting.stepped(second, STEP)
    with capture_logs() as logs:
        await _still_held(alerting, pipeline, now)
    assert [ids for _, _, ids in _unwritable_lines(logs)] == [["s1"]]
    assert alerting.silences.unwritten() == {str(silences): 1}
    lock.rmdir()
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in file.read()] == [second]


async def test_a_start_moved_is_said_again_when_the_write_fails_for_another_reason(
    tmp_path: Path,
) -> None:
    """The file cannot be written when the clock steps back (a directory where its
    lock goes): s1's start moved is said with that error, once over two evaluations.
    The operator removes the directory, but a link is put there: the next write fails
    for that, said naming s1 again (before: not said, the log naming the directory
    the on-call had removed), and not at the evaluation after. Written once it goes."""
    alerting, pipeline, now, silences, file, lock = await _stepped_unwritable(tmp_path)
    moved = now[0]
    with capture_logs() as logs:
        await _still_held(alerting, pipeline, now)
        await _still_held(alerting, pipeline, now)
    assert _unwritable_lines(logs) == [(f"cannot lock {silences}: Is a directory", 1, ["s1"])]
    lock.rmdir()
    lock.symlink_to(tmp_path / "elsewhere")
    with capture_logs() as logs:
        await _still_held(alerting, pipeline, now)
        await _still_held(alerting, pipeline, now)
    link = f"cannot lock {silences}: it is a symbolic link (remove it)"
    assert _unwritable_lines(logs) == [(link, 1, ["s1"])]
    lock.unlink()
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in file.read()] == [moved]


def _swapped(lock: Path, elsewhere: Path) -> None:
    """What is in the way of the lock changes: a directory becomes a link, or back."""
    if lock.is_symlink():
        lock.unlink()
        lock.mkdir()
    else:
        lock.rmdir()
        lock.symlink_to(elsewhere)


async def test_reasons_that_alternate_are_each_said_once_not_at_each_evaluation(
    tmp_path: Path,
) -> None:
    """The file cannot be written when the clock steps back, and why alternates at
    each evaluation (a directory where its lock goes, then a link, then the directory
    again: a share failing one way, then another): s1's start moved is said once for
    each reason, two lines over six evaluations (before: a line at each, a flood at 3
    a.m. for as long as the share is sick). Written once the way is clear."""
    alerting, pipeline, now, _, file, lock = await _stepped_unwritable(tmp_path)
    moved = now[0]
    with capture_logs() as logs:
        for _ in range(6):
            await _still_held(alerting, pipeline, now)
            _swapped(lock, tmp_path / "elsewhere")
    assert [ids for _, _, ids in _unwritable_lines(logs)] == [["s1"], ["s1"]]
    lock.rmdir()
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in file.read()] == [moved]


async def test_an_end_waiting_is_said_once_for_each_reason_that_alternates(
    tmp_path: Path,
) -> None:
    """s1 ended while the file could not be written (a directory where its lock
    goes), said then. Why alternates at each write after (a link, the directory
    again, ...): the link said once, and nothing more over four writes (before: a
    line at each). Written once the way is clear."""
    silences, file, watcher, lock = _end_unwritten(tmp_path)
    with capture_logs() as logs:
        for n in range(4):
            _swapped(lock, tmp_path / "elsewhere")
            watcher.end(set(), T + 11 + n)
    link = f"cannot lock {silences}: it is a symbolic link (remove it)"
    assert _unwritable_lines(logs) == [(link, 1, ["s1"])]
    lock.rmdir()
    watcher.end(set(), T + 20)
    assert [s.ends_at for s in file.read()] == [T + 10]
