"""An ``--until-resolved`` silence whose alert resolves while sesd cannot write the
silences file (a read-only mount, a full disk; here a directory where its lock file
goes). The resolve happened: the silence ends in force at once, so the alert's next
incident pages, and stays ended when the file is read again (an edit by hand, a
reload), though the file still holds it waiting. The failure is logged once, not at
each evaluation, and the end is written, at the resolve's time, once the file can be.
The daemon's alerting on a console sink whose outbox does not run, a real file."""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sesd.alerting.service import Alerting
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.silences import Silence
from sesd.config import parse_config
from sesd.core.pipeline import Pipeline
from sesd.io.files import open_lock
from sesd.status.alerts import silence_list
from tests.test_routing import RULE, T, _queued, _silenceable
from tests.test_rules import feed_spike
from tests.test_silence_reload import _text, _watching

pytestmark = pytest.mark.timeout(30)


def _unwritable(silences: Path) -> Path:
    """A directory where the file's lock goes: every write is refused, reads are not."""
    lock = silences.with_name(f"{silences.name}.lock")
    lock.unlink(missing_ok=True)
    lock.mkdir()
    return lock


async def _fired_under_a_silence(
    tmp_path: Path,
) -> tuple[Alerting, Pipeline, list[float], Path, SilenceFile]:
    """a.example fired at T under ``--domain a.example --until-resolved``, held back:
    the alerting, its pipeline, its clock, the silences path and the file."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    return alerting, pipeline, now, silences, file


def _resolves(
    pipeline: Pipeline, now: list[float], domain: str = "a.example", at: float = T + 10
) -> None:
    """The domain's delays clear at ``at``: its alert resolves at the next evaluation."""
    now[0] = at
    feed_spike(pipeline, domain, at, 0, 200)


def _next_incident(pipeline: Pipeline, now: list[float]) -> None:
    """a.example's mail is delayed again at T + 20: its alert fires at the next
    evaluation, unless a silence holds it back."""
    now[0] = T + 20
    feed_spike(pipeline, "a.example", T + 20, 400, 0)


def _end_unwritten(tmp_path: Path) -> tuple[Path, SilenceFile, SilenceWatcher, Path]:
    """A watcher read the silence s1 on a.example at T and ended it at T + 10 while the
    file could not be written: the silences path, the file, the watcher, and the
    directory in the way of the file's lock."""
    silences = tmp_path / "silences.json"
    file = _watching(silences, domain="a.example")
    watcher = SilenceWatcher(str(silences))
    assert watcher.refresh(T)
    lock = _unwritable(silences)
    watcher.end({"s1"}, T + 10)
    return silences, file, watcher, lock


def _hand_added(silences: Path) -> None:
    """A silence on b.example edited into the file by hand (the CLI cannot write it)."""
    document = json.loads(silences.read_text())
    added = {"id": "s2", "comment": "by hand", "starts_at": T, "ends_at": T + 3600}
    document["silences"].append({**added, "domain": "b.example"})
    silences.write_text(json.dumps(document))


async def test_a_resolve_the_file_cannot_be_told_of_still_ends_the_silence(
    tmp_path: Path,
) -> None:
    """a.example fires under ``--domain a.example --until-resolved``: held back. The
    file turns unwritable; the alert resolves. The silence no longer holds anything:
    the status page does not list it, and a.example's next incident pages. One error
    line says why the file was not told, not one each evaluation. An edit by hand and
    a reload read the file again, which still holds the silence waiting: it stays
    ended, and the silence added by hand holds. Once the file can be written, the
    next evaluation writes the end at the resolve's time."""
    alerting, pipeline, now, silences, file = await _fired_under_a_silence(tmp_path)
    assert _queued(alerting, "ops") == []
    lock = _unwritable(silences)

    _resolves(pipeline, now)
    with capture_logs() as logs:
        alerting.evaluate()
        now[0] = T + 15
        alerting.evaluate()
    assert not alerting.evaluator.silenced("delays", "a.example", T + 15)
    assert silence_list(alerting.evaluator, T + 15, 10).items == []
    assert [s.ends_at for s in file.read()] == [None]
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritable"]
    assert line["error"] == f"cannot lock {silences}: Is a directory"
    assert line["ids"] == ["s1"]

    _next_incident(pipeline, now)
    alerting.evaluate()
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]

    _hand_added(silences)
    now[0] = T + 25
    alerting.reconfigure(parse_config(_text(silences, RULE + 'sinks = ["ops"]\n')))
    alerting.evaluate()
    assert not alerting.evaluator.silenced("delays", "a.example", T + 25)
    assert [row.id for row in silence_list(alerting.evaluator, T + 25, 10).items] == ["s2"]

    lock.rmdir()
    now[0] = T + 30
    with capture_logs() as logs:
        alerting.evaluate()
    assert [(s.id, s.ends_at) for s in file.read()] == [("s1", T + 10), ("s2", T + 3600)]
    ended = [e for e in logs if e["event"] == "sesd.silences.ended_by_resolve"]
    assert [(e["count"], e["ids"]) for e in ended] == [(1, ["s1"])]
    written = file.identity()
    now[0] = T + 35
    alerting.evaluate()
    assert file.identity() == written  # nothing left to write


def test_a_silence_ended_in_the_file_meanwhile_is_not_written_again(tmp_path: Path) -> None:
    """The resolve could not be written; meanwhile the silence was ended in the file
    (``sesd silence expire`` from a host that can write it, another sesd). The next
    read takes the file's end, and nothing is left to write once the file can be."""
    _, file, watcher, lock = _end_unwritten(tmp_path)
    lock.rmdir()
    assert file.expire({"s1"}, T + 12) == ["s1"]
    assert watcher.refresh(T + 15)
    assert [s.ends_at for s in watcher.silences.items] == [T + 12]
    read = file.identity()
    with capture_logs() as logs:
        watcher.end(set(), T + 20)
    assert logs == []
    assert file.identity() == read  # not written again


def _given_an_end(silences: Path, ends_at: float, *, until_resolved: bool = True) -> None:
    """The silence given an end by hand, still ``until_resolved`` or no longer."""
    document = json.loads(silences.read_text())
    document["silences"][0] |= {"ends_at": ends_at, "until_resolved": until_resolved}
    silences.write_text(json.dumps(document))


async def test_an_end_given_by_hand_meanwhile_brings_no_silence_back_into_force(
    tmp_path: Path,
) -> None:
    """a.example resolves while the file cannot be written; meanwhile an edit by hand
    gives the silence an end an hour on (still marked ``--until-resolved``). The next
    read keeps it ended: the resolve happened, and a.example's next incident pages.
    Once the file can be written the end is written at the resolve's time, by the
    first evaluation, and not again at each one after."""
    alerting, pipeline, now, silences, file = await _fired_under_a_silence(tmp_path)
    lock = _unwritable(silences)
    _resolves(pipeline, now)
    alerting.evaluate()
    _given_an_end(silences, T + 3600)
    now[0] = T + 15
    alerting.evaluate()
    assert not alerting.evaluator.silenced("delays", "a.example", T + 15)
    _next_incident(pipeline, now)
    alerting.evaluate()
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]

    lock.rmdir()
    written = []
    for at in (T + 25, T + 30, T + 35):
        now[0] = at
        alerting.evaluate()
        written.append(file.identity())
    assert [(s.ends_at, s.until_resolved) for s in file.read()] == [(T + 10, True)]
    assert len(set(written)) == 1  # written once


def test_a_silence_made_to_end_at_a_time_by_hand_is_as_the_file_says(tmp_path: Path) -> None:
    """The resolve could not be written; meanwhile an edit by hand makes the silence
    one that ends an hour on, no longer ``--until-resolved``: whoever edited it chose
    the hour, and the resolve has no say in it. It holds, and nothing is written."""
    silences, file, watcher, lock = _end_unwritten(tmp_path)
    _given_an_end(silences, T + 3600, until_resolved=False)
    assert watcher.refresh(T + 15)
    assert [s.active(T + 15) for s in watcher.silences.items] == [True]
    lock.rmdir()
    read = file.identity()
    watcher.end(set(), T + 20)
    assert file.identity() == read


@contextmanager
def _lock_held(silences: Path) -> Iterator[None]:
    """The file's lock, held as ``sesd silence add`` holds it while it writes."""
    held = open_lock(f"{silences}.lock")
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield
    finally:
        os.close(held)


def _errors_as_it_resolves(
    alerting: Alerting, pipeline: Pipeline, now: list[float], domain: str, at: float
) -> list[str]:
    """The error lines of the evaluation at which the domain's alert resolves at ``at``."""
    _resolves(pipeline, now, domain, at)
    with capture_logs() as logs:
        alerting.evaluate()
    return [e["event"] for e in logs if e["log_level"] == "error"]


@pytest.mark.timeout(10)
async def test_a_lock_another_process_holds_never_holds_the_evaluation(tmp_path: Path) -> None:
    """A ``sesd silence add`` stopped (Ctrl-Z at its terminal, a hung disk) while it
    holds the file's lock. a.example's alert resolves: the evaluation does not wait
    for the lock, which would stand the event loop still (no poll, no scrape, no
    health check) for as long as the command is stopped. The silence ends in force;
    a lock held a moment is no error, one held over a whole evaluation is said once;
    the end is written at the first evaluation after the lock is let go."""
    alerting, pipeline, now, silences, file = await _fired_under_a_silence(tmp_path)
    with _lock_held(silences):
        assert _errors_as_it_resolves(alerting, pipeline, now, "a.example", T + 10) == []
        assert not alerting.evaluator.silenced("delays", "a.example", T + 10)
        with capture_logs() as logs:
            for at in (T + 15, T + 20):
                now[0] = at
                alerting.evaluate()
        (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritable"]
        assert line["error"].startswith(f"cannot lock {silences}: another process holds")
        assert (line["count"], line["ids"]) == (1, ["s1"])
        assert [s.ends_at for s in file.read()] == [None]
    now[0] = T + 25
    alerting.evaluate()
    assert [s.ends_at for s in file.read()] == [T + 10]


async def test_a_lock_the_file_system_refuses_is_retried_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The silences file on an NFS mount without its lock service: flock fails with
    ENOLCK. The evaluation that ends the silence, and each after it that tries the
    write again, goes on to send what is due: the error is logged once. flock is
    replaced: a file system that refuses locks cannot be mounted by a test."""
    alerting, pipeline, now, silences, _ = await _fired_under_a_silence(tmp_path)

    def flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", flock)
    _resolves(pipeline, now)
    with capture_logs() as logs:
        alerting.evaluate()
        _next_incident(pipeline, now)
        alerting.evaluate()
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritable"]
    assert line["error"] == f"cannot lock {silences}: No locks available"


async def test_a_stop_before_the_end_is_written_says_which_silences_a_start_takes_as_waiting(
    tmp_path: Path,
) -> None:
    """a.example resolves while the file cannot be written; sesd stops before it can.
    The next start reads the file alone, which holds the silence waiting (it would mute
    a.example's next incident until that resolves): the stop names it, and says what
    to do. A stop once the end is written says nothing of it."""
    alerting, pipeline, now, silences, _ = await _fired_under_a_silence(tmp_path)
    lock = _unwritable(silences)
    _resolves(pipeline, now)
    alerting.evaluate()
    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritten"]
    assert (line["log_level"], line["count"], line["ids"]) == ("warning", 1, ["s1"])
    assert "sesd silence expire" in line["hint"]
    lock.rmdir()
    now[0] = T + 15
    alerting.evaluate()
    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    assert [e for e in logs if e["event"] == "sesd.silences.unwritten"] == []


async def test_a_lock_held_a_moment_after_the_file_ended_what_waited_is_no_error(
    tmp_path: Path,
) -> None:
    """a.example resolves while ``sesd silence expire s1`` holds the file's lock: the
    command ends s1 itself, so nothing is left to write. b.example resolves later, while
    another command holds the lock a moment: no error (the lock found held at the
    earlier resolve was not held over a whole evaluation). Its end is written next."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, domain="a.example")
    waiting = Silence(id="s2", comment="watching", starts_at=T, ends_at=None,
                      until_resolved=True, domain="b.example")  # fmt: skip
    file.add(waiting, T)
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    alerting.evaluate()
    with _lock_held(silences):
        _resolves(pipeline, now)
        alerting.evaluate()
    assert file.expire({"s1"}, T + 12) == ["s1"]
    now[0] = T + 15
    alerting.evaluate()

    with _lock_held(silences):
        assert _errors_as_it_resolves(alerting, pipeline, now, "b.example", T + 20) == []
        assert not alerting.evaluator.silenced("delays", "b.example", T + 20)
    now[0] = T + 25
    alerting.evaluate()
    assert [(s.id, s.ends_at) for s in file.read()] == [("s1", T + 12), ("s2", T + 20)]


def test_an_edit_by_hand_not_read_yet_when_the_end_is_written_keeps_its_time(
    tmp_path: Path,
) -> None:
    """The resolve could not be written; an edit by hand then makes the silence one
    that ends an hour on, no longer ``--until-resolved``, between an evaluation's read
    of the file and its write. The write leaves that silence as the edit says: the
    resolve has no say in it."""
    silences, file, watcher, lock = _end_unwritten(tmp_path)
    _given_an_end(silences, T + 3600, until_resolved=False)
    lock.rmdir()
    watcher.end(set(), T + 20)  # the edit not read yet
    assert [(s.ends_at, s.until_resolved) for s in file.read()] == [(T + 3600, False)]
