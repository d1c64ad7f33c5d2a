"""A reload that moves ``alerts.silences_path`` to a file on a share that hangs, while
the end of an ``--until-resolved`` silence waits to be written to the old file. The
new file may hold the same silence (a copy): the end waits for it too until it
answers, as it does for a file that answers. The daemon's alerting on a console sink
whose outbox does not run, real files; the hang is a real one at a FIFO (a
:class:`Stuck` file at the new path)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import sesd.alerting.silence_watcher
from sesd.alerting.silence_file import SilenceFile
from sesd.config import parse_config
from tests.test_routing import RULE, T, _queued
from tests.test_silence_hung import AtTheGate, Stuck, _at_gate, _reloaded, _through, gate
from tests.test_silence_reload import _text
from tests.test_silence_unwritable import _next_incident
from tests.test_silence_unwritten_moved import _resolved_unwritten

pytestmark = pytest.mark.timeout(30)


async def test_a_copy_on_a_share_that_hangs_at_the_reload_keeps_the_end_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s1's end waits for the old file, which cannot be written; the operator copies
    the file to a share and reloads to it, but the share does not answer the reload's
    look. Once the old file can be written it is, and nothing waits for it; once the
    share answers, s1 stays ended there (a.example's next incident pages) and its end
    is written to the copy. Taken as not there, the copy would have its end left to
    the old file alone: read once it answered, it would hold s1 waiting, and s1 would
    mute the next incident."""
    alerting, pipeline, now, old, lock = await _resolved_unwritten(tmp_path)
    copy = tmp_path / "share.json"
    shutil.copyfile(old.path, copy)
    alerting.silences.thread = AtTheGate()
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(copy), fifo, stuck="look")
        # The watcher's file at that path is the one whose look hangs.
        monkeypatch.setattr(
            sesd.alerting.silence_watcher,
            "SilenceFile",
            lambda path: stuck if path == str(copy) else SilenceFile(path),
        )
        now[0] = T + 15
        await _reloaded(alerting, parse_config(_text(copy, RULE + 'sinks = ["ops"]\n')))
        await _at_gate(stuck)  # given up
        assert alerting.silences.unwritten() == {old.path: 1, str(copy): 1}
        lock.rmdir()
        await alerting.evaluate_in_slices()
        assert [s.ends_at for s in old.read()] == [T + 10]
        assert alerting.silences.unwritten() == {str(copy): 1}
        await _through(fifo, stuck)
    _next_incident(pipeline, now)
    await alerting.evaluate_in_slices()
    assert _queued(alerting, "ops") == [("firing", ["a.example"])]
    assert [s.ends_at for s in SilenceFile(str(copy)).read()] == [T + 10]
    assert alerting.silences.unwritten() == {str(copy): 0}
