"""An ``--until-resolved`` silence a resolve ended, and the wall clock stepped back
after: the end is a moment, not a time of day someone chose. Read on the clock
stepped back, the end written at the resolve lies ahead, and the silence would be
in force again for the step's length, muting the alert's next incident. The daemon's
alerting on a console sink whose outbox does not run, real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sesd.alerting.rules import Transition
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.runtime.state import restore, snapshot
from tests.test_routing import T, _queued, _silenceable
from tests.test_rules import feed_spike
from tests.test_silence_hung import AtTheGate, Stuck, _through, gate

pytestmark = pytest.mark.timeout(30)

#: The wall clock's step back.
STEP = -3600.0


def _silence(path: Path, *, ends_at: float | None, until_resolved: bool) -> SilenceFile:
    """The silences file with s1 on a.example's delays, made two hours before T."""
    file = SilenceFile(str(path))
    silence = Silence(id="s1", comment="watching", starts_at=T - 7200, ends_at=ends_at,
                      until_resolved=until_resolved, rule="delays", domain="a.example")  # fmt: skip
    file.add(silence, T - 7200)
    return file


async def _restarted_behind_the_save(
    tmp_path: Path,
) -> tuple[Any, Any, list[float], Path, SilenceFile]:
    """s1 (``--until-resolved``) held a.example's firing and its resolve at T + 600
    ended it; the state saved at T + 660 is restored by a new sesd at T + 660 + STEP
    (the clock stepped back while it was stopped). Its alerting, pipeline, clock and
    silences file (path and file)."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _silence(silences, ends_at=None, until_resolved=True)
    feed_spike(pipeline, "a.example", T, 5, 5)
    assert await alerting.evaluate_in_slices() == []  # held
    now[0] = T + 600
    feed_spike(pipeline, "a.example", T + 600, 0, 200)
    await alerting.evaluate_in_slices()
    assert [s.ends_at for s in file.read()] == [T + 600]
    blob = snapshot(pipeline.ledger, alerting.evaluator, T + 660, stopped=True)
    alerting, pipeline, now, _ = await _silenceable(tmp_path, ("ops",), "0s")
    now[0] = T + 660 + STEP
    restore(blob, pipeline.ledger, alerting.evaluator, now[0])
    return alerting, pipeline, now, silences, file


async def _paged_again(
    alerting: Any, pipeline: Any, now: list[float], file: SilenceFile, silences: Path
) -> None:
    """a.example breaches again a second on: paged, not held by s1, whose end in the
    file moved back the step (and is written)."""
    feed_spike(pipeline, "a.example", now[0], 5, 5)
    now[0] += 1
    notified = await alerting.evaluate_in_slices()
    assert [(n.kind, [a.domain for a in n.alerts]) for n in notified] == [
        (Transition.FIRING, ["a.example"])
    ]
    assert [s.ends_at for s in file.read()] == [T + 600 + STEP]
    assert alerting.silences.unwritten() == {str(silences): 0}


async def test_a_silence_a_resolve_ended_stays_ended_across_a_step_back(tmp_path: Path) -> None:
    """s1 (``--until-resolved``, made two hours before) held a.example's firing; its
    delays clear at T + 600, which ends s1 there. A second later the wall clock steps
    an hour back, and a.example breaches again: paged (before: held by s1, in force
    again until the clock reached T + 600, an hour on). The file's end moves back as
    far, for a start or another replica reading it on the new clock."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _silence(silences, ends_at=None, until_resolved=True)
    feed_spike(pipeline, "a.example", T, 5, 5)
    now[0] = T
    assert await alerting.evaluate_in_slices() == []  # held
    now[0] = T + 600
    feed_spike(pipeline, "a.example", T + 600, 0, 200)
    await alerting.evaluate_in_slices()
    assert [s.ends_at for s in file.read()] == [T + 600]
    now[0] = T + 601 + STEP
    alerting.stepped(now[0], STEP)  # as the daemon does
    await _paged_again(alerting, pipeline, now, file, silences)
    assert alerting.silences.silences.match("delays", "a.example", "critical", now[0]) is None


async def test_a_silence_given_a_time_stays_until_its_time_across_a_step_back(
    tmp_path: Path,
) -> None:
    """s1 was given a time (``--for``), which passed at T + 600. The clock steps an hour
    back: s1 is in force again until the clock reads T + 600, as the time someone chose
    says, and the file keeps it."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _silence(silences, ends_at=T + 600, until_resolved=False)
    now[0] = T + 601
    await alerting.evaluate_in_slices()
    now[0] = T + 602 + STEP
    alerting.stepped(now[0], STEP)
    feed_spike(pipeline, "a.example", now[0], 5, 5)
    now[0] += 1
    assert await alerting.evaluate_in_slices() == []  # held
    assert _queued(alerting, "ops") == []
    assert [s.ends_at for s in file.read()] == [T + 600]


async def test_a_silence_a_resolve_ended_stays_ended_after_a_restart_behind_the_save(
    tmp_path: Path,
) -> None:
    """As the first, but the wall clock stepped an hour back while sesd was stopped (no
    process measured it; the state file, saved a minute after the resolve, is an hour
    ahead at the start). The restart moves the alert times back the hour, and so s1's
    end: a.example breaching again is paged (before: s1 read as in force until the
    clock reached T + 600, an hour on, and held it). The file's end moves back too."""
    alerting, pipeline, now, silences, file = await _restarted_behind_the_save(tmp_path)
    await alerting.aend_silences_resolved()  # as the daemon's start does
    await _paged_again(alerting, pipeline, now, file, silences)


@pytest.mark.parametrize("at_start", ["missing", "damaged", "hung"])
async def test_a_restart_behind_the_save_moves_the_end_back_once_the_file_is_read(
    tmp_path: Path, at_start: str
) -> None:
    """As the last, but the silences file does not read at the start (its share mounted
    a moment later, a copy half written, or its read hangs a while). Once it reads,
    s1's end moves back the hour all the same, and a.example breaching again is paged
    (before: the start's step was spent on no silences; read later, s1 was in force
    until the clock reached T + 600)."""
    alerting, pipeline, now, silences, file = await _restarted_behind_the_save(tmp_path)
    with gate(tmp_path) as fifo:
        if at_start == "hung":
            alerting.silences.thread = AtTheGate()
            alerting.silences.file = stuck = Stuck(str(silences), fifo)
        else:
            silences.rename(tmp_path / "aside.json")
            if at_start == "damaged":
                silences.write_text("{")
        await alerting.aend_silences_resolved()  # as the daemon's start does
        await alerting.evaluate_in_slices()
        if at_start == "hung":
            await _through(fifo, stuck)
        else:
            (tmp_path / "aside.json").rename(silences)
    await _paged_again(alerting, pipeline, now, file, silences)
