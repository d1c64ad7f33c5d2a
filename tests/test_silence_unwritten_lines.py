"""What the on-call reads of ``--until-resolved`` silences whose end the silences file
could not be told of (sesd.alerting.silence_left): at a stop, and at a reload that
moves ``alerts.silences_path`` off the file, the line names the file, how many, which,
and what to do; an old file writable by the reload gets the end at once. The daemon's
alerting on a console sink whose outbox does not run, real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tests.test_routing import T
from tests.test_silence_unwritable import _fired_under_a_silence, _resolves, _unwritable
from tests.test_silence_unwritten_moved import (  # noqa: F401 (fixture: _reloads)
    _moved,
    _reloads,
    _resolved_unwritten,
)

pytestmark = pytest.mark.timeout(30)

#: What a stop says of the file sesd reads.
READ = (
    "their alerts resolved, but the silences file still holds them waiting and so will "
    "the next start: once the file can be written, end each with sesd silence expire ID"
)


def _left(then: str) -> str:
    """What is said of a file sesd no longer reads, ``then`` being what comes of it."""
    return (
        "their alerts resolved, but this file, which sesd no longer reads, still holds "
        f"them waiting: {then}; end each with sesd silence expire ID --config CONFIG (a "
        "config whose alerts.silences_path is this file) once it can be written"
    )


async def test_a_stop_names_the_file_read_how_many_ends_and_what_to_do(tmp_path: Path) -> None:
    """a.example resolves while the file cannot be written, and sesd stops: the line
    names the file (an on-call may run several), the one silence, and how to end it."""
    alerting, pipeline, now, silences, _ = await _fired_under_a_silence(tmp_path)
    _unwritable(silences)
    _resolves(pipeline, now)
    alerting.evaluate()
    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritten"]
    assert (line["path"], line["count"], line["ids"]) == (str(silences), 1, ["s1"])
    assert line["hint"] == READ


async def test_a_file_left_is_named_at_the_reload_and_at_the_stop_with_what_comes_of_it(
    tmp_path: Path,
) -> None:
    """A reload moves the path off the file while the end waits: the reload says sesd
    writes the end once it can, and what a start before then does; a stop says what
    the next start with the file does. Each names the file, how many and which, and the
    command with the config that reads that file."""
    alerting, _, now, old, _ = await _resolved_unwritten(tmp_path)
    with capture_logs() as logs:
        await _moved(alerting, now, tmp_path / "other.json")
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritten"]
    assert (line["path"], line["count"], line["ids"]) == (old.path, 1, ["s1"])
    then = "sesd writes their end to it once it can; a start with it before then"
    assert line["hint"] == _left(f"{then} takes them as waiting")

    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritten"]
    assert (line["path"], line["count"], line["ids"]) == (old.path, 1, ["s1"])
    assert line["hint"] == _left("the next start with it takes them as waiting")


async def test_an_old_file_writable_again_by_the_reload_gets_the_end_at_the_reload(
    tmp_path: Path,
) -> None:
    """The file could not be written when a.example resolved, and can be by the reload
    that moves the path off it: the reload writes the end (at the resolve's time) and
    says so, naming the file; nothing is left to say, then or at a stop."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    lock.rmdir()
    with capture_logs() as logs:
        await _moved(alerting, now, tmp_path / "other.json")
    assert [s.ends_at for s in old.read()] == [T + 10]
    ended = [e for e in logs if e["event"] == "sesd.silences.ended_by_resolve"]
    assert [(e["path"], e["count"], e["ids"]) for e in ended] == [(old.path, 1, ["s1"])]
    assert [e for e in logs if e["event"] == "sesd.silences.unwritten"] == []
    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    assert [e for e in logs if e["event"] == "sesd.silences.unwritten"] == []


async def test_the_unwritable_line_says_the_silences_ended_all_the_same(tmp_path: Path) -> None:
    """a.example resolves while the file cannot be written: the error line says the
    silence ended all the same, its alert paging, and that the file gets the end once it
    can be written."""
    alerting, pipeline, now, silences, _ = await _fired_under_a_silence(tmp_path)
    _unwritable(silences)
    _resolves(pipeline, now)
    with capture_logs() as logs:
        alerting.evaluate()
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritable"]
    assert (line["count"], line["ids"]) == (1, ["s1"])
    assert line["hint"] == (
        "ended all the same (the alerts they held page); written to the file once it can be"
    )


async def test_a_reload_keeping_the_path_says_nothing_of_a_file_left(tmp_path: Path) -> None:
    """A reload that changes the config but keeps the silences file while an end waits:
    no line of a file sesd no longer reads, and a stop names the file once, as the one
    read."""
    alerting, _, now, old, _ = await _resolved_unwritten(tmp_path)
    with capture_logs() as logs:
        await _moved(alerting, now, Path(old.path))
    assert [e for e in logs if e["event"] == "sesd.silences.unwritten"] == []
    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritten"]
    assert (line["path"], line["hint"]) == (old.path, READ)


async def test_a_stop_after_a_reload_to_no_silences_file_names_the_old_one(
    tmp_path: Path,
) -> None:
    """A reload removes ``silences_path`` while an end waits, and sesd stops before the
    old file can be written: the stop names that file, with what the next start with it
    does."""
    alerting, _, now, old, _ = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, None)
    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    (line,) = [e for e in logs if e["event"] == "sesd.silences.unwritten"]
    assert (line["path"], line["ids"]) == (old.path, ["s1"])
    assert line["hint"] == _left("the next start with it takes them as waiting")
