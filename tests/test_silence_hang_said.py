"""What the on-call reads when the silences file does not answer: the hang's line says
what sesd does meanwhile, the line of an end it could not write says which file did
not answer which operation within how long, and the line once the file answers again
names the file as the hang's did (its path escaped). The hang is real, as in
tests/test_silence_hung.py: an operation that waits on a FIFO until the test opens it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.alerting.silence_file import SilenceFile
from sesd.config import parse_config
from tests.test_routing import RULE, T, _silenceable
from tests.test_silence_hung import (
    BOUND,
    AtTheGate,
    Stuck,
    _events,
    _read_bounded,
    _reloaded,
    _silence,
    _through,
    gate,
)
from tests.test_silence_reload import _text

pytestmark = pytest.mark.timeout(60)

#: The path as a line shows it: the escape character escaped.
SHOWN = "sil\\u001bences.json"


async def test_a_hang_says_what_alerting_does_meanwhile_and_the_answer_names_the_file(
    tmp_path: Path,
) -> None:
    """The file's read hangs: the line says so, and what the on-call can count on
    meanwhile (the silences read last, ends waiting, the file tried again). Once it
    answers, the line that says so names the file as the hang's line did."""
    path = tmp_path / "sil\x1bences.json"
    watcher = await _read_bounded(path, _silence("s1", domain="a.example"))
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(path), fifo)
        watcher.file = stuck
        SilenceFile(str(path)).add(_silence("s2", domain="b.example"), T)
        with capture_logs() as logs, anyio.fail_after(5 * BOUND):
            assert not await watcher.arefresh(T + 1)
        await _through(fifo, stuck)
    (hung,) = _events(logs, "sesd.silences.hung")
    assert hung["path"] == str(tmp_path / SHOWN)
    assert hung["hint"] == (
        "the silences file did not answer (a hung share or disk?): alerting goes on with "
        "the silences read last, and ends not written wait; sesd tries the file again "
        "once this operation comes back"
    )
    with capture_logs() as logs:
        assert await watcher.arefresh(T + 2)
    (answered,) = _events(logs, "sesd.silences.answered")
    assert (answered["path"], answered["what"]) == (str(tmp_path / SHOWN), "read")


async def test_an_end_not_written_for_a_hang_says_which_file_did_not_answer_within_what(
    tmp_path: Path,
) -> None:
    """An ``--until-resolved`` silence's end, and its write hangs: the line of the end
    not written says why, the file (escaped), the operation and the bound; the next
    evaluation's write, while the first still hangs, is not tried and says nothing new."""
    path = tmp_path / "sil\x1bences.json"
    watcher = await _read_bounded(path, _silence("s1", domain="a.example", until_resolved=True))
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(path), fifo, stuck="write")
        watcher.file = stuck
        with capture_logs() as logs, anyio.fail_after(5 * BOUND):
            await watcher.aend({"s1"}, T + 10)
            await watcher.aend(set(), T + 11)
        await _through(fifo, stuck)
    (unwritable,) = _events(logs, "sesd.silences.unwritable")
    assert unwritable["error"] == f"{tmp_path / SHOWN} did not answer a write within 0.3 s"
    assert stuck.waits == 1


async def _s1_read(tmp_path: Path) -> tuple[Any, Path]:
    """The alerting, its file thread giving up only what a gate holds, once it has read
    s1 from its silences file; and that file's path."""
    alerting, _, _, silences = await _silenceable(tmp_path, ("ops",), "0s")
    alerting.silences.thread = AtTheGate()
    SilenceFile(str(silences)).add(_silence("s1", domain="a.example"), T)
    await alerting.evaluate_in_slices()  # s1 read
    return alerting, silences


async def _reloaded_held(
    tmp_path: Path, alerting: Any, silences: Path, what: str
) -> tuple[list[tuple[str, str]], int]:
    """A reload that keeps the silences file, whose first ``what`` (a look, a read)
    hangs (a share that hangs): the silences read before hold while it does. The
    (path, operation) of each line saying a hang, and how many operations came to the
    gate (one said hung is let through before this returns)."""
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(silences), fifo, stuck=what)
        alerting.silences.file = stuck
        config = parse_config(_text(silences, RULE + 'sinks = ["ops"]\n'))
        with capture_logs() as logs, anyio.fail_after(5 * BOUND):
            await _reloaded(alerting, config)
        lines = [(e["path"], e["what"]) for e in _events(logs, "sesd.silences.hung")]
        assert [s.id for s in alerting.silences.silences.items] == ["s1"]
        if lines:  # given up at the bound: maybe not at the gate yet, waited for there
            await _through(fifo, stuck)
    return lines, stuck.waits


async def test_a_reload_whose_look_at_the_file_hangs_says_it_was_the_look(
    tmp_path: Path,
) -> None:
    """A reload that keeps the silences file finds its look hangs (a share that hangs):
    the line says which file did not answer a look, and the silences read before hold."""
    alerting, silences = await _s1_read(tmp_path)
    said = [(str(silences), "look")]
    assert await _reloaded_held(tmp_path, alerting, silences, "look") == (said, 1)


async def test_a_reload_keeping_the_file_unchanged_does_not_read_it(tmp_path: Path) -> None:
    """A reload that keeps the silences file, unchanged since it was read, does not
    read it again: a read that would hang (a share that hangs on reads) holds nothing
    and says nothing."""
    alerting, silences = await _s1_read(tmp_path)
    assert await _reloaded_held(tmp_path, alerting, silences, "read") == ([], 0)


async def test_a_reload_whose_read_of_the_changed_file_hangs_says_it_was_the_read(
    tmp_path: Path,
) -> None:
    """A reload that keeps the silences file, changed since it was read (s2 added),
    finds its read hangs: the line says which file did not answer a read, and the
    silences read before hold."""
    alerting, silences = await _s1_read(tmp_path)
    SilenceFile(str(silences)).add(_silence("s2", domain="b.example"), T)
    said = [(str(silences), "read")]
    assert await _reloaded_held(tmp_path, alerting, silences, "read") == (said, 1)
