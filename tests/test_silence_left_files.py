"""Silences files sesd no longer reads, each still holding an ``--until-resolved``
silence whose alert resolved while the file could not be written (sesd.alerting.
silence_left): the daemon never waits for such a file's lock, and one file that cannot
be written yet holds back no other. The daemon's alerting on a console sink whose
outbox does not run, real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sesd.alerting.service import Alerting
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.core.pipeline import Pipeline
from tests.test_routing import T
from tests.test_rules import feed_spike
from tests.test_silence_unwritable import _lock_held, _resolves, _unwritable
from tests.test_silence_unwritten_moved import (  # noqa: F401 (fixture: _reloads)
    _moved,
    _reloads,
    _resolved_unwritten,
    _said_at_a_stop,
)

pytestmark = pytest.mark.timeout(30)


@pytest.mark.timeout(10)
async def test_an_old_file_s_lock_another_process_holds_never_holds_the_evaluation(
    tmp_path: Path,
) -> None:
    """A reload moved the path off the file while an end waited; by the next evaluation
    the file could be written, but a ``sesd silence add`` stopped at its terminal
    holds its lock. The evaluation does not wait for it (which would stand the event
    loop still): the end is written at the first evaluation after the lock is let go."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    lock.rmdir()
    with _lock_held(Path(old.path)):
        now[0] = T + 20
        alerting.evaluate()
        assert [s.ends_at for s in old.read()] == [None]
    now[0] = T + 25
    alerting.evaluate()
    assert [s.ends_at for s in old.read()] == [T + 10]


async def _second_unwritten(
    tmp_path: Path, alerting: Alerting, pipeline: Pipeline, now: list[float]
) -> tuple[SilenceFile, Path]:
    """A reload at T + 15 moves the path to b.json, holding s2 (``--until-resolved``
    on b.example), which holds back b.example's firing; b.json cannot be written when
    b.example resolves at T + 20. The file, and the directory in the way of its lock."""
    second = SilenceFile(str(tmp_path / "b.json"))
    second.add(Silence(id="s2", comment="watching", starts_at=T, ends_at=None,
                       until_resolved=True, domain="b.example"), T)  # fmt: skip
    await _moved(alerting, now, Path(second.path), T + 15)
    feed_spike(pipeline, "b.example", T + 15, 5, 5)
    alerting.evaluate()  # b.example fires, held back by s2
    second_lock = _unwritable(Path(second.path))
    _resolves(pipeline, now, "b.example", T + 20)
    alerting.evaluate()
    return second, second_lock


async def _two_left(
    tmp_path: Path,
) -> tuple[Alerting, list[float], SilenceFile, Path, SilenceFile, Path]:
    """Two reloads each moved the path off a file holding a silence whose end waited:
    silences.json (s1 on a.example, resolved at T + 10) and b.json (s2 on b.example,
    resolved at T + 20), neither writable yet. The alerting, its clock, and each file
    with the directory in the way of its lock."""
    alerting, pipeline, now, old, lock = await _resolved_unwritten(tmp_path)
    second, second_lock = await _second_unwritten(tmp_path, alerting, pipeline, now)
    await _moved(alerting, now, tmp_path / "other.json", T + 25)
    assert [(path, ids) for _, path, ids in _said_at_a_stop(alerting)] == [
        (old.path, ["s1"]),
        (second.path, ["s2"]),
    ]
    return alerting, now, old, lock, second, second_lock


@pytest.mark.parametrize("first", ["locked", "missing"])
async def test_a_first_old_file_not_writable_yet_leaves_the_next_one_written(
    tmp_path: Path, first: str
) -> None:
    """Of the two files left, the first still cannot be written (its lock in the way,
    or the file moved aside a while) when the second can: the second is written, and
    a stop names only the first."""
    alerting, now, old, lock, second, second_lock = await _two_left(tmp_path)
    if first == "missing":
        lock.rmdir()
        os.replace(old.path, tmp_path / "aside.json")
    second_lock.rmdir()
    now[0] = T + 30
    alerting.evaluate()
    assert [s.ends_at for s in second.read()] == [T + 20]
    assert [(path, ids) for _, path, ids in _said_at_a_stop(alerting)] == [(old.path, ["s1"])]


@pytest.mark.parametrize("back_to", ["first", "second"])
async def test_a_reload_back_to_either_file_left_keeps_its_silence_ended(
    tmp_path: Path, back_to: str
) -> None:
    """Of the two files left, neither writable yet, a reload reads one again: the
    silence it holds waiting stays ended (its domain's next incident pages), and the
    other file's end still waits to be written there."""
    alerting, now, old, _, second, _ = await _two_left(tmp_path)
    back, domain, other = (old, "a.example", second)
    if back_to == "second":
        back, domain, other = (second, "b.example", old)
    await _moved(alerting, now, Path(back.path), T + 30)
    assert not alerting.evaluator.silenced("delays", domain, T + 30)
    assert [path for _, path, _ in _said_at_a_stop(alerting)] == [back.path, other.path]


async def test_a_reload_back_to_the_old_path_while_another_file_stands_there_keeps_the_end(
    tmp_path: Path,
) -> None:
    """A reload moved the path off the file while an end waited. The file is then away a
    while (its share not mounted), an empty silences file standing at its path, and a
    reload reads that path again: the end is kept for the file. Once the file is back,
    its silence stays ended (a.example's next incident pages) though the file still
    holds it waiting."""
    alerting, _, now, old, _ = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    aside = tmp_path / "aside.json"
    os.replace(old.path, aside)
    _empty_file_at(old.path)
    await _moved(alerting, now, Path(old.path), T + 20)
    os.replace(aside, old.path)
    now[0] = T + 25
    alerting.evaluate()
    assert [s.ends_at for s in old.read()] == [None]
    assert not alerting.evaluator.silenced("delays", "a.example", T + 25)


def _empty_file_at(path: str) -> None:
    """A silences file holding none at ``path`` (the mount point's own, say)."""
    Path(path).write_text('{"version": 1, "silences": []}')


async def _end_left_across_a_step(
    tmp_path: Path, *, left_at: float, stepped_to: float
) -> list[float | None]:
    """s1 ended at T + 10, the file locked; a reload at ``left_at`` moves the path off
    it, and the wall clock steps back to ``stepped_to``. The old file's ends once it
    can be written (at the evaluation a second after the step)."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json", at=left_at)
    now[0] = stepped_to
    alerting.stepped(now[0], stepped_to - left_at)
    lock.rmdir()
    now[0] += 1
    alerting.evaluate()
    return [s.ends_at for s in old.read()]


async def test_an_end_left_at_the_very_time_the_clock_steps_back_from_moves_back(
    tmp_path: Path,
) -> None:
    """s1 ended at T + 10, the file locked; a reload at T + 10 moves the path off it,
    and the wall clock steps 5 s back from that very reading. Once the old file can be
    written, s1 ends 5 s back, at the step (before: at T + 10, ahead of the clock, so a
    reload back to the file, or a start with the old config, read s1 in force until
    the clock reached T + 10 again and muted a.example's next incident meanwhile)."""
    assert await _end_left_across_a_step(tmp_path, left_at=T + 10, stepped_to=T + 5) == [T + 5]


def _written_over(path: Path, text: str | SilenceFile) -> None:
    """``path`` written over in place with ``text`` (or that file's): the same file
    (device and inode), as an editor that keeps the file writes it."""
    if isinstance(text, SilenceFile):
        text = Path(text.path).read_text(encoding="utf-8")
    with path.open("r+", encoding="utf-8") as file:
        file.truncate()
        file.write(text)


async def test_a_file_left_twice_keeps_the_ends_it_was_left_with_first(tmp_path: Path) -> None:
    """silences.json was left holding s1's end (T + 10), then b.json holding s2's (T +
    20), neither writable. A reload back to silences.json finds it damaged (not read,
    so s2's end waits for it too: it may be b.json's copy), and another moves the path
    off it again: it still holds s1's end waiting, counted and named with s2 (before:
    the second leave took s2 in place of s1, whose end was then never written there,
    and a start with that file took s1 as waiting and muted a.example's next
    incident)."""
    alerting, pipeline, now, old, _ = await _resolved_unwritten(tmp_path)
    second, _ = await _second_unwritten(tmp_path, alerting, pipeline, now)
    _written_over(Path(old.path), "{ damaged")
    await _moved(alerting, now, Path(old.path), T + 25)
    await _moved(alerting, now, tmp_path / "other.json", T + 30)
    assert [(path, ids) for _, path, ids in _said_at_a_stop(alerting)] == [
        (old.path, ["s1", "s2"]),
        (second.path, ["s2"]),
    ]
    assert alerting.silences.unwritten() == {
        old.path: 2,
        second.path: 1,
        str(tmp_path / "other.json"): 0,
    }


async def test_a_file_moved_and_edited_in_place_leaves_nothing_to_the_old_path(
    tmp_path: Path,
) -> None:
    """s1's end waits for silences.json, which cannot be written; the operator moves
    it to other.json, with the config, and writes over it in place (an editor that
    keeps the file) with s3 alone. The reload reads other.json, the old file moved
    there: s1, gone from it, waits for nothing, nor does the old path, and the
    evaluations go on (before: the reload's write failed on what it kept for the old
    path)."""
    alerting, _, now, old, _ = await _resolved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    os.replace(old.path, other)
    edited = SilenceFile(str(tmp_path / "edited.json"))
    edited.add(Silence(id="s3", comment="watching", starts_at=T, ends_at=T + 3600,
                       domain="c.example"), T)  # fmt: skip
    _written_over(other, edited)
    await _moved(alerting, now, other, T + 15)
    now[0] = T + 20
    alerting.evaluate()
    assert alerting.silences.unwritten() == {str(other): 0}
    assert _said_at_a_stop(alerting) == []
    assert [s.id for s in alerting.silences.silences.items] == ["s3"]


async def test_an_end_left_at_the_time_the_clock_steps_back_to_stays_as_it_is(
    tmp_path: Path,
) -> None:
    """s1 ended at T + 10, the file locked; a reload at T + 15 moves the path off it,
    and the wall clock steps 5 s back, to T + 10: the end is not ahead of the clock,
    and is written as the resolve gave it (before: moved back 5 s all the same)."""
    assert await _end_left_across_a_step(tmp_path, left_at=T + 15, stepped_to=T + 10) == [T + 10]
