"""A reload that moves ``alerts.silences_path``, or removes it, while the end of an
``--until-resolved`` silence waits to be written (the file could not be written when
its alert resolved). The old file still holds the silence waiting: a reload back to
it, or a start with the old config, would mute the alert's next incident. The end
is written to the old file once it can be, and until then the on-call is told which
silences, in which file, at the reload and at a stop. A file moved or copied to the
new path holds the same silence: the end is written there too. The daemon's alerting on a console
sink whose outbox does not run, real files."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from sesd.alerting.service import Alerting
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.config import parse_config
from sesd.core.pipeline import Pipeline
from tests.test_routing import RULE, T, _queued
from tests.test_rules import feed_spike
from tests.test_silence_reload import _text
from tests.test_silence_unwritable import (
    _fired_under_a_silence,
    _given_an_end,
    _next_incident,
    _resolves,
    _unwritable,
)

pytestmark = pytest.mark.timeout(30)

#: The config with no silences file.
NO_FILE = '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.ops]\ntype = "console"\n' + RULE


async def _resolved_unwritten(
    tmp_path: Path,
) -> tuple[Alerting, Pipeline, list[float], SilenceFile, Path]:
    """a.example fired under ``--domain a.example --until-resolved``, then resolved at
    T + 10 while the file could not be written: the alerting, its pipeline, its clock,
    the file, and the directory in the way of its lock."""
    alerting, pipeline, now, silences, file = await _fired_under_a_silence(tmp_path)
    lock = _unwritable(silences)
    _resolves(pipeline, now)
    alerting.evaluate()
    assert [s.ends_at for s in file.read()] == [None]
    return alerting, pipeline, now, file, lock


@pytest.fixture(autouse=True, params=["in one call", "as the daemon reloads"])
def _reloads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test with the reload made in one call, and as the daemon makes it: the file
    read before the change of config, in the thread, and written after."""
    monkeypatch.setattr(sys.modules[__name__], "_AS_THE_DAEMON", request.param != "in one call")


_AS_THE_DAEMON = False


async def _moved(
    alerting: Alerting, now: list[float], silences: Path | None, at: float = T + 15
) -> None:
    """A reload at ``at`` whose config reads ``silences`` (None: no silences file)."""
    now[0] = at
    rules = RULE + 'sinks = ["ops"]\n'
    text = NO_FILE + 'sinks = ["ops"]\n' if silences is None else _text(silences, rules)
    config = parse_config(text)
    if not _AS_THE_DAEMON:
        alerting.reconfigure(config)
        return
    await alerting.read_silences(config)
    alerting.reconfigure(config, files_read=True)
    await alerting.write_silences()


def _unwritten(logs: list[MutableMapping[str, Any]]) -> list[tuple[Any, ...]]:
    """(level, path, ids) of each line naming ends not written."""
    return [
        (e["log_level"], e["path"], e["ids"])
        for e in logs
        if e["event"] == "sesd.silences.unwritten"
    ]


def _said_at_a_stop(alerting: Alerting) -> list[tuple[Any, ...]]:
    """(level, path, ids) of each line naming ends not written, logged at a stop."""
    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    return _unwritten(logs)


def _put_aside(old: SilenceFile) -> Path:
    """The old file moved aside (its share not mounted a moment): where it went."""
    aside = Path(old.path).with_name("aside.json")
    os.replace(old.path, aside)
    return aside


def _saved_as(file: SilenceFile, edit: Callable[[bytes], bytes]) -> bytes:
    """The file saved anew by hand (as an editor does: a new file over it) as ``edit``
    makes it of what it held: what it held."""
    path = Path(file.path)
    held = path.read_bytes()
    edited = path.with_name("edited.json")
    edited.write_bytes(edit(held))
    os.replace(edited, path)
    return held


def _written_once_it_can_be(alerting: Alerting, now: list[float], lock: Path, at: float) -> None:
    """The old file can be written again from ``at``, when the next evaluation runs."""
    lock.rmdir()
    now[0] = at
    alerting.evaluate()


def _back_and_written_once_it_can_be(
    alerting: Alerting, now: list[float], aside: Path, old: SilenceFile, lock: Path, at: float
) -> None:
    """The old file back from where it was put aside, and writable from ``at``."""
    os.replace(aside, old.path)
    _written_once_it_can_be(alerting, now, lock, at)


async def test_a_reload_to_another_file_writes_the_end_to_the_old_one_once_it_can(
    tmp_path: Path,
) -> None:
    """The reload says at once which silences the old file still holds waiting, and how
    to end them there should sesd stop first; so does a stop. Once the old file can be
    written, the next evaluation writes the end at the resolve's time, and a stop then
    has nothing to say."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    with capture_logs() as logs:
        await _moved(alerting, now, tmp_path / "other.json")
    assert _unwritten(logs) == [("warning", old.path, ["s1"])]
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritten"]
    assert "sesd silence expire ID --config" in line["hint"]
    assert _said_at_a_stop(alerting) == [("warning", old.path, ["s1"])]

    with capture_logs() as logs:
        _written_once_it_can_be(alerting, now, lock, T + 20)
    assert [s.ends_at for s in old.read()] == [T + 10]
    ended = [e for e in logs if e["event"] == "sesd.silences.ended_by_resolve"]
    assert [(e["path"], e["ids"]) for e in ended] == [(old.path, ["s1"])]
    assert _said_at_a_stop(alerting) == []


async def test_a_reload_off_an_old_file_writable_again_writes_the_end_unsaid(
    tmp_path: Path,
) -> None:
    """The old file can be written again by the reload that moves off it: the reload
    writes the end there at the resolve's time, and says nothing of ends not written."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    lock.rmdir()
    with capture_logs() as logs:
        await _moved(alerting, now, tmp_path / "other.json")
    assert [s.ends_at for s in old.read()] == [T + 10]
    assert _unwritten(logs) == []
    assert _said_at_a_stop(alerting) == []


async def test_a_reload_that_removes_the_path_still_writes_the_end(tmp_path: Path) -> None:
    """No silences file from the reload on: the old one is written all the same."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, None)
    _written_once_it_can_be(alerting, now, lock, T + 20)
    assert [s.ends_at for s in old.read()] == [T + 10]


async def test_a_reload_back_to_the_old_file_keeps_the_silence_ended(tmp_path: Path) -> None:
    """Away to a file that does not hold the silence and back, while the old file still
    cannot be written: the silence stays ended (a.example's next incident pages), and
    its end is written once it can be."""
    alerting, pipeline, now, old, lock = await _resolved_unwritten(tmp_path)
    other = SilenceFile(str(tmp_path / "other.json"))
    other.update(list, T)  # no silences
    await _moved(alerting, now, Path(other.path))
    await _moved(alerting, now, Path(old.path), T + 20)
    _next_incident(pipeline, now)
    alerting.evaluate()
    assert not alerting.evaluator.silenced("delays", "a.example", T + 20)
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]
    lock.rmdir()
    now[0] = T + 25
    alerting.evaluate()
    assert [s.ends_at for s in old.read()] == [T + 10]


async def test_a_file_moved_to_the_new_path_is_written_there(tmp_path: Path) -> None:
    """The operator moves the file and the config with it: the new path holds the same
    silence waiting. It stays ended, its end is written there, and nothing is said of
    the old path, where no file is made."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    os.replace(old.path, other)
    with capture_logs() as logs:
        await _moved(alerting, now, other)
        assert not alerting.evaluator.silenced("delays", "a.example", T + 15)
        now[0] = T + 20
        alerting.evaluate()
        alerting.log_unsent(kept=True)
    assert _unwritten(logs) == []
    assert [s.ends_at for s in SilenceFile(str(other)).read()] == [T + 10]
    assert old.identity() is None  # no file made there
    assert lock.is_dir()


async def test_a_file_moved_to_the_new_path_after_the_reload_is_written_there(
    tmp_path: Path,
) -> None:
    """The reload comes first, the file is moved to the new path after: what the new
    path holds then is the silence waiting. It stays ended (a.example's next incident
    pages) and its end is written there, as when the file is moved first."""
    alerting, pipeline, now, old, lock = await _resolved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    await _moved(alerting, now, other)
    os.replace(old.path, other)
    _next_incident(pipeline, now)
    with capture_logs() as logs:
        alerting.evaluate()
        alerting.log_unsent(kept=True)
    assert not alerting.evaluator.silenced("delays", "a.example", T + 20)
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]
    assert [s.ends_at for s in SilenceFile(str(other)).read()] == [T + 10]
    assert _unwritten(logs) == []
    assert lock.is_dir()


async def test_an_old_file_replaced_then_moved_to_the_new_path_is_the_file_moved(
    tmp_path: Path,
) -> None:
    """After the reload, the old file is saved anew (an editor that writes a new file
    over it: another inode than the one sesd read), an evaluation looks at it, and then
    the operator moves it to the new path: the file moved, not a copy. Its end is
    written there, and nothing waits for, nor is said of, the old path (before: taken
    as a copy, the old path stayed counted in ``sesd_silences_unwritten`` until a
    restart, SesdSilencesUnwritten paged after 15 minutes, and a stop named it)."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    await _moved(alerting, now, other)
    saved = tmp_path / "saved.json"
    shutil.copyfile(old.path, saved)
    os.replace(saved, old.path)
    now[0] = T + 20
    alerting.evaluate()  # looks at the old file, still locked
    os.replace(old.path, other)
    now[0] = T + 25
    alerting.evaluate()
    _taken_as_moved(alerting, other, old, lock)


def _taken_as_moved(alerting: Alerting, other: Path, old: SilenceFile, lock: Path) -> None:
    """The old file taken as moved to ``other``: its end written there, nothing owed to
    the old path nor said of it at a stop, no file made there, its lock left as it was."""
    assert [s.ends_at for s in SilenceFile(str(other)).read()] == [T + 10]
    assert alerting.silences.unwritten() == {str(other): 0}
    assert _said_at_a_stop(alerting) == []
    assert old.identity() is None  # no file made there
    assert lock.is_dir()


async def test_an_old_file_moved_after_a_look_its_directory_refused_is_the_file_moved(
    tmp_path: Path,
) -> None:
    """After the reload, an evaluation's look cannot get through the old file's
    directory (its permissions changed a while: here a plain file stands in its place,
    the tests running as root), then the directory is back and the operator moves the
    old file to the new path: the file moved, as without that look. A refused look
    says nothing of the file there: taken for its device and inode, the file moved no
    longer matched them, and the old path stayed counted in ``sesd_silences_unwritten``
    until a restart, named at a stop."""
    share = tmp_path / "share"
    share.mkdir()
    alerting, _, now, old, lock = await _resolved_unwritten(share)
    other = tmp_path / "other.json"
    await _moved(alerting, now, other)
    aside = tmp_path / "share.aside"
    os.replace(share, aside)
    share.write_text("")
    now[0] = T + 20
    alerting.evaluate()  # the old path cannot be looked through
    share.unlink()
    os.replace(aside, share)
    os.replace(old.path, other)
    now[0] = T + 25
    alerting.evaluate()
    _taken_as_moved(alerting, other, old, lock)


async def test_an_old_file_moved_to_the_new_path_without_the_silence_leaves_nothing_waiting(
    tmp_path: Path,
) -> None:
    """After the reload, the operator takes the silence out of the old file by hand (an
    evaluation looks at it, still locked), then moves it to the new path: the file
    moved, with no silence left to end. Nothing waits for, nor is said of, either path,
    and evaluations go on."""
    alerting, _, now, old, _ = await _resolved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    await _moved(alerting, now, other)
    _saved_as(old, lambda blob: blob.replace(b'"s1"', b'"s9"'))
    now[0] = T + 20
    alerting.evaluate()  # looks at the old file, still locked
    os.replace(old.path, other)
    now[0] = T + 25
    alerting.evaluate()
    now[0] = T + 30
    alerting.evaluate()
    assert [s.id for s in SilenceFile(str(other)).read()] == ["s9"]
    assert alerting.silences.unwritten() == {str(other): 0}
    assert _said_at_a_stop(alerting) == []


async def test_an_old_file_moved_to_another_file_system_stays_counted_until_put_back(
    tmp_path: Path,
) -> None:
    """The operator moves the old file to the new path on another file system (a copy,
    then the old one deleted), with nothing in between to tell it from a copy while the
    old share is not mounted a while: the end is written to the new path, and the old
    path stays counted. As the runbook says, a copy of the new file put at the old path
    is written at the next evaluation, and nothing waits for the old path any more."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    await _moved(alerting, now, other)
    shutil.copyfile(old.path, other)
    os.remove(old.path)
    now[0] = T + 20
    alerting.evaluate()
    assert [s.ends_at for s in SilenceFile(str(other)).read()] == [T + 10]
    assert alerting.silences.unwritten() == {old.path: 1, str(other): 0}
    lock.rmdir()
    shutil.copyfile(other, old.path)
    now[0] = T + 25
    alerting.evaluate()
    assert alerting.silences.unwritten() == {str(other): 0}
    assert _said_at_a_stop(alerting) == []


async def test_an_old_file_missing_a_while_gets_the_end_once_back(tmp_path: Path) -> None:
    """The old file is missing for an evaluation (its share not mounted a moment, or
    moved aside and back): it still holds the silence waiting, so its end is kept, said
    at a stop meanwhile, and written once the file is back and can be written."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    aside = _put_aside(old)
    now[0] = T + 20
    alerting.evaluate()
    assert _said_at_a_stop(alerting) == [("warning", old.path, ["s1"])]
    _back_and_written_once_it_can_be(alerting, now, aside, old, lock, T + 25)
    assert [s.ends_at for s in old.read()] == [T + 10]


async def test_a_reload_back_to_an_old_file_missing_keeps_the_end_for_when_it_is_back(
    tmp_path: Path,
) -> None:
    """Away to another file, and back while the old one is missing (its share not
    mounted): the gauge counts its end for it all along; once it is back, the silence
    it holds waiting stays ended (a.example's next incident pages) and its end is
    written once the file can be."""
    alerting, pipeline, now, old, lock = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    aside = _put_aside(old)
    await _moved(alerting, now, Path(old.path))
    assert alerting.silences.unwritten() == {old.path: 1}
    os.replace(aside, old.path)
    _next_incident(pipeline, now)
    alerting.evaluate()
    assert not alerting.evaluator.silenced("delays", "a.example", T + 20)
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]
    _written_once_it_can_be(alerting, now, lock, T + 25)
    assert [s.ends_at for s in old.read()] == [T + 10]


@pytest.mark.parametrize("first", ["missing", "still locked"])
async def test_an_old_file_not_written_holds_back_no_write_of_another(
    tmp_path: Path, first: str
) -> None:
    """s1's end waits for silences.json, s2's for b.json, both left by reloads; the first
    is missing a while (its share not mounted), or still cannot be written, as b.json
    can be again: s2's end is written to b.json at the next evaluation, s1's still
    waits (not so, the first file held back every file after it for as long)."""
    alerting, pipeline, now, old, _ = await _resolved_unwritten(tmp_path)
    second, _, lock = await _second_unwritten(alerting, pipeline, now, tmp_path)
    await _moved(alerting, now, tmp_path / "other.json", T + 18)
    if first == "missing":
        _put_aside(old)
    _written_once_it_can_be(alerting, now, lock, T + 20)
    assert [s.ends_at for s in second.read()] == [T + 17]
    assert alerting.silences.unwritten() == {old.path: 1, str(tmp_path / "other.json"): 0}


async def test_a_reload_back_to_an_old_file_edited_unreadable_keeps_the_end_for_its_mending(
    tmp_path: Path,
) -> None:
    """Away to another file, and back once a hand edit left the old file's silence
    unreadable (no silence read from it): its end still waits for that file. Once the
    edit is mended, the silence it holds waiting stays ended (a.example's next incident
    pages), and its end is written once the file can be. Forgotten at the read that
    found none, the mended silence held the next incident back."""
    alerting, pipeline, now, old, lock = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    written = _saved_as(old, lambda blob: blob.replace(b'"a.example"', b"7"))
    await _moved(alerting, now, Path(old.path))
    assert old.read() == []
    _saved_as(old, lambda _: written)
    _next_incident(pipeline, now)
    alerting.evaluate()
    assert not alerting.evaluator.silenced("delays", "a.example", T + 20)
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]
    _written_once_it_can_be(alerting, now, lock, T + 25)
    assert [s.ends_at for s in old.read()] == [T + 10]


async def _second_unwritten(
    alerting: Alerting, pipeline: Pipeline, now: list[float], tmp_path: Path
) -> tuple[SilenceFile, Silence, Path]:
    """A reload at T + 15 to b.json, where s2 (``--until-resolved``, on b.example) held
    b.example's firing, then ended at T + 17 while b.json could not be written: the
    file, s2, and the directory in the way of its lock."""
    second = SilenceFile(str(tmp_path / "b.json"))
    s2 = Silence(id="s2", comment="watching", starts_at=T + 15, ends_at=None,
                 until_resolved=True, domain="b.example")  # fmt: skip
    second.add(s2, T + 15)
    await _moved(alerting, now, Path(second.path))
    feed_spike(pipeline, "b.example", T + 15, 5, 5)
    alerting.evaluate()  # b.example fires, held back by s2
    lock = _unwritable(Path(second.path))
    _resolves(pipeline, now, "b.example", T + 17)
    alerting.evaluate()  # s2 ends, not written
    return second, s2, lock


async def test_ends_left_to_two_old_files_are_both_kept_by_a_file_holding_both(
    tmp_path: Path,
) -> None:
    """s1's end waits for silences.json, which cannot be written; a reload moves to
    b.json, where s2 (``--until-resolved``, on b.example) ends while b.json cannot be
    written either; another to other.json, then one to c.json, which holds both
    silences (copied in): the two stay ended, a.example's next incident pages, and both
    ends are written there. Taken from the last file left alone, or from none past the
    first file left that is not c.json, s1 or s2 read from c.json held its incident."""
    alerting, pipeline, now, old, _ = await _resolved_unwritten(tmp_path)
    (s1,) = old.read()
    _, s2, _ = await _second_unwritten(alerting, pipeline, now, tmp_path)
    await _moved(alerting, now, tmp_path / "other.json", T + 18)
    both = SilenceFile(str(tmp_path / "c.json"))
    both.add(s1, T + 19)
    both.add(s2, T + 19)
    await _moved(alerting, now, Path(both.path), T + 19)
    _next_incident(pipeline, now)
    alerting.evaluate()
    assert not alerting.evaluator.silenced("delays", "a.example", T + 20)
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]
    assert {s.id: s.ends_at for s in both.read()} == {"s1": T + 10, "s2": T + 17}


async def test_a_reload_back_to_an_old_file_that_no_longer_holds_the_silence_forgets_its_end(
    tmp_path: Path,
) -> None:
    """Away to another file, and back once a hand edit took the silence out of the old
    file (another in its place, still locked): nothing is left to end, so nothing waits
    for that file, nor is named at a stop (kept, the end was counted in
    ``sesd_silences_unwritten`` and named at each stop as long as the file could not
    be written)."""
    alerting, _, now, old, _ = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    _saved_as(old, lambda blob: blob.replace(b'"s1"', b'"s9"'))
    await _moved(alerting, now, Path(old.path), T + 20)
    assert [s.id for s in old.read()] == ["s9"]
    assert alerting.silences.unwritten() == {old.path: 0}
    assert _said_at_a_stop(alerting) == []


async def test_a_copy_at_the_new_path_leaves_the_end_of_an_old_file_missing_a_while(
    tmp_path: Path,
) -> None:
    """The new path holds a copy of the old file, which is then missing a while (its
    share not mounted) when the copy is read again. Both hold the silence waiting: the
    copy is written, and the old file keeps its end, said at a stop meanwhile and
    written once it is back (else a start with the old config mutes the next
    incident)."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    shutil.copyfile(old.path, other)
    await _moved(alerting, now, other)
    aside = _put_aside(old)
    now[0] = T + 20
    alerting.evaluate()  # writes the end to the copy
    now[0] = T + 25
    alerting.evaluate()  # reads the copy written
    assert [s.ends_at for s in SilenceFile(str(other)).read()] == [T + 10]
    assert _said_at_a_stop(alerting) == [("warning", old.path, ["s1"])]
    _back_and_written_once_it_can_be(alerting, now, aside, old, lock, T + 30)
    assert [s.ends_at for s in old.read()] == [T + 10]


async def test_a_copy_made_at_the_new_path_after_the_reload_is_written_there(
    tmp_path: Path,
) -> None:
    """The reload comes first, the old file is copied to the new path after: the copy
    holds the silence waiting too. It stays ended (a.example's next incident pages) and
    its end is written there, as it is to the old file once that can be."""
    alerting, pipeline, now, old, lock = await _resolved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    await _moved(alerting, now, other)
    shutil.copyfile(old.path, other)
    _next_incident(pipeline, now)
    alerting.evaluate()
    assert not alerting.evaluator.silenced("delays", "a.example", T + 20)
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]
    assert [s.ends_at for s in SilenceFile(str(other)).read()] == [T + 10]
    _written_once_it_can_be(alerting, now, lock, T + 25)
    assert [s.ends_at for s in old.read()] == [T + 10]


async def test_an_old_file_given_an_end_by_hand_after_the_reload_is_as_it_says(
    tmp_path: Path,
) -> None:
    """After the reload, an edit by hand makes the silence in the old file one that
    ends an hour on, no longer ``--until-resolved``: whoever edited it chose the hour,
    and the resolve has no say in it. Once the file can be written, the hour holds."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    _given_an_end(Path(old.path), T + 3600, until_resolved=False)
    _written_once_it_can_be(alerting, now, lock, T + 20)
    assert [(s.ends_at, s.until_resolved) for s in old.read()] == [(T + 3600, False)]


async def test_a_copy_on_another_file_system_with_the_old_files_inode_number_is_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy at the new path is on another file system, where its inode number
    happens to be the one the old file had (each file system numbers its own, a tmpfs
    from 1), while the old file's share is not mounted. It is a copy all the same: the
    old file keeps its end, written once it is back."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    other = tmp_path / "other.json"
    shutil.copyfile(old.path, other)
    was, look = os.stat(old.path), os.stat

    def elsewhere(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        found = look(path, *args, **kwargs)
        if os.fspath(path) != str(other):
            return found
        fields = {name: getattr(found, name) for name in dir(found) if name.startswith("st_")}
        numbered = [*found]
        numbered[1:3] = was.st_ino, was.st_dev + 1  # st_ino, st_dev
        return os.stat_result(numbered, fields)

    monkeypatch.setattr(os, "stat", elsewhere)
    aside = _put_aside(old)
    await _moved(alerting, now, other)
    now[0] = T + 20
    alerting.evaluate()
    assert _said_at_a_stop(alerting) == [("warning", old.path, ["s1"])]
    _back_and_written_once_it_can_be(alerting, now, aside, old, lock, T + 25)
    assert [s.ends_at for s in old.read()] == [T + 10]


async def test_an_end_left_to_the_old_file_moves_back_with_a_clock_step_back(
    tmp_path: Path,
) -> None:
    """The reload left s1's end (T + 10) to the old file, which cannot be written yet;
    then the wall clock steps an hour back. Once the old file can be written, its end
    is moved back as far (to the silence's start, an hour back): a reload back to it
    finds s1 ended, and the alert's next incident pages (before: written at T + 10, an
    hour ahead of the clock, s1 was in force again there and held it)."""
    alerting, pipeline, now, old, lock = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    step = -3600.0
    now[0] = T + 16 + step
    alerting.stepped(now[0], step)  # as the daemon does
    _written_once_it_can_be(alerting, now, lock, T + 17 + step)
    assert [s.ends_at for s in old.read()] == [T]
    await _moved(alerting, now, Path(old.path), at=T + 18 + step)
    now[0] = T + 20 + step
    feed_spike(pipeline, "a.example", now[0], 400, 0)
    alerting.evaluate()
    assert _queued(alerting, "ops")[-1] == ("firing", ["a.example"])
