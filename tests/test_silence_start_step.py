"""A silence in force when the wall clock steps back. ``sesd silence add`` writes the
moment it ran as the start: read on the clock stepped back, that start lies ahead, and
the silence would be pending for the step's length, the alerts it muted paging again.
Its start moves back to the step, in force and in the file. The daemon's alerting on
a console sink whose outbox does not run, real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from sesd.alerting.rules import Transition
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence, started_back
from sesd.config import parse_config
from sesd.runtime.state import restore, snapshot
from sesd.status.alerts import silence_list
from tests.fifo_gates import let_through
from tests.test_routing import RULE, T, _queued, _silenceable
from tests.test_rules import feed_spike
from tests.test_silence_hung import BOUND, Stuck, _back, gate
from tests.test_silence_reload import _text
from tests.test_silence_unwritable import _unwritable

pytestmark = pytest.mark.timeout(30)

#: The wall clock's step back.
STEP = -3600.0
#: When the on-call added s1: T, the moment ``sesd silence add`` ran.
ADDED = T


def _silence(
    path: Path, *, ends_at: float | None = ADDED + 4 * 3600, until_resolved: bool = False
) -> SilenceFile:
    """The silences file with s1 on a.example's delays, added at ADDED (``--for 4h``
    unless told otherwise)."""
    file = SilenceFile(str(path))
    silence = Silence(id="s1", comment="watching", starts_at=ADDED, ends_at=ends_at,
                      until_resolved=until_resolved, rule="delays", domain="a.example")  # fmt: skip
    file.add(silence, ADDED)
    return file


async def _held(tmp_path: Path, **given: Any) -> tuple[Any, Any, list[float], Path, SilenceFile]:
    """s1 (:func:`_silence`, ``given``) holds a.example's firing at T + 60. The alerting,
    pipeline, clock, silences path and file."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _silence(silences, **given)
    now[0] = T + 60
    feed_spike(pipeline, "a.example", now[0], 5, 5)
    assert await alerting.evaluate_in_slices() == []  # held
    return alerting, pipeline, now, silences, file


async def _held_then_stepped(
    tmp_path: Path, **given: Any
) -> tuple[Any, Any, list[float], Path, SilenceFile]:
    """s1 holds a.example's firing at T + 60; a second on, the wall clock steps an hour
    back (measured, as the daemon does). The alerting, pipeline, clock, silences path
    and file."""
    alerting, pipeline, now, silences, file = await _held(tmp_path, **given)
    now[0] = T + 61 + STEP
    alerting.stepped(now[0], STEP)
    return alerting, pipeline, now, silences, file


async def _stepped_unwritable(
    tmp_path: Path,
) -> tuple[Any, Any, list[float], Path, SilenceFile, Path]:
    """s1 (:func:`_silence`) read at T + 60; the file then cannot be written (a directory
    where its lock goes) when, a second on, the wall clock steps an hour back (measured,
    as the daemon does). The alerting, pipeline, clock, silences path, file, and the
    directory in the way."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _silence(silences)
    now[0] = T + 60
    await alerting.evaluate_in_slices()
    lock = _unwritable(silences)
    now[0] = T + 61 + STEP
    alerting.stepped(now[0], STEP)
    return alerting, pipeline, now, silences, file, lock


async def _still_held(alerting: Any, pipeline: Any, now: list[float]) -> list[Any]:
    """a.example breaches on a second later: held, nothing queued (before: s1 pending
    until the clock reached ADDED again, its firing paged). The notifications."""
    feed_spike(pipeline, "a.example", now[0], 5, 5)
    now[0] += 1
    notified: list[Any] = await alerting.evaluate_in_slices()
    assert notified == []
    assert _queued(alerting, "ops") == []
    return notified


#: The config of :func:`_reloaded_to` without a silences file.
_NO_FILE = '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.ops]\ntype = "console"\n' + RULE
_NO_FILE += 'sinks = ["ops"]\n'


async def _reloaded_to(alerting: Any, silences: Path | None, as_the_daemon: bool) -> None:
    """A reload whose config reads ``silences`` (None: no silences file): in one call,
    or as the daemon makes it (the file read before the change of config, written
    after)."""
    text = _text(silences, RULE + 'sinks = ["ops"]\n') if silences else _NO_FILE
    config = parse_config(text)
    if as_the_daemon:
        await alerting.read_silences(config)
        alerting.reconfigure(config, files_read=True)
        await alerting.write_silences()
    else:
        alerting.reconfigure(config)


def _states(alerting: Any, file: SilenceFile, now: float) -> tuple[list[str], list[str]]:
    """s1's state as the status page shows it, and as ``sesd silence list`` does."""
    shown = [row.state for row in silence_list(alerting.evaluator, now, 10).items]
    return shown, [s.state(now) for s in file.read()]


@pytest.mark.parametrize("until_resolved", [False, True])
async def test_a_silence_in_force_stays_in_force_across_a_step_back(
    tmp_path: Path, until_resolved: bool
) -> None:
    """s1 (``--for 4h``, or ``--until-resolved`` and waiting) held a.example's firing
    when the clock stepped an hour back: it still holds it, and its start moves to
    the step, in force and in the file: the status page and ``sesd silence list``
    show it active."""
    ends_at = None if until_resolved else ADDED + 4 * 3600
    alerting, pipeline, now, _, file = await _held_then_stepped(
        tmp_path, ends_at=ends_at, until_resolved=until_resolved
    )
    await _still_held(alerting, pipeline, now)
    assert [(s.starts_at, s.ends_at) for s in file.read()] == [(T + 61 + STEP, ends_at)]
    assert _states(alerting, file, now[0]) == (["active"], ["active"])


async def test_a_silence_moved_back_and_ended_by_its_resolve_ends_there(tmp_path: Path) -> None:
    """s1, ``--until-resolved``, moved back by the step, ends when a.example resolves
    after it: the file has it from the step to the resolve, and a.example's next
    incident pages."""
    alerting, pipeline, now, _, file = await _held_then_stepped(
        tmp_path, ends_at=None, until_resolved=True
    )
    await _still_held(alerting, pipeline, now)
    feed_spike(pipeline, "a.example", now[0], 0, 200)
    now[0] += 1
    await alerting.evaluate_in_slices()
    assert [(s.starts_at, s.ends_at) for s in file.read()] == [(T + 61 + STEP, now[0])]
    feed_spike(pipeline, "a.example", now[0], 400, 0)
    now[0] += 1
    notified = await alerting.evaluate_in_slices()
    assert [n.kind for n in notified] == [Transition.FIRING]


async def test_a_silence_moved_back_and_ended_unwritten_stays_ended_when_read_again(
    tmp_path: Path,
) -> None:
    """As the last, but the file cannot be written from before the step, and is edited
    by hand after the resolve (its comment): read again, it holds s1 from ADDED and
    waiting. s1 stays ended (before its start moves back again, its end would be taken
    as ADDED, an hour ahead, and a.example's next incident held until then), and the
    start and the end are written once the file can be."""
    alerting, pipeline, now, silences, file = await _held(
        tmp_path, ends_at=None, until_resolved=True
    )
    lock = _unwritable(silences)
    now[0] = T + 61 + STEP
    alerting.stepped(now[0], STEP)
    await _still_held(alerting, pipeline, now)
    feed_spike(pipeline, "a.example", now[0], 0, 200)
    now[0] += 1
    await alerting.evaluate_in_slices()
    resolved = now[0]
    # Its end and its moved start wait: one silence the file holds as written.
    assert alerting.silences.unwritten() == {str(silences): 1}
    document = json.loads(silences.read_text())
    document["silences"][0]["comment"] = "watching a.example"
    silences.write_text(json.dumps(document))
    feed_spike(pipeline, "a.example", now[0], 400, 0)
    now[0] += 1
    notified = await alerting.evaluate_in_slices()
    assert [n.kind for n in notified] == [Transition.FIRING]
    lock.rmdir()
    now[0] += 1
    await alerting.evaluate_in_slices()
    assert [(s.starts_at, s.ends_at) for s in file.read()] == [(T + 61 + STEP, resolved)]


async def test_a_silence_added_on_the_clock_stepped_back_keeps_its_start(tmp_path: Path) -> None:
    """After the step and before sesd writes s1's start, the on-call adds s2 on the
    clock stepped back: the CLI's write has s1's start as it was, ahead. s1 stays in
    force all the same and its start is written; s2's is the moment it was added."""
    alerting, pipeline, now, _, file = await _held_then_stepped(tmp_path)
    s2 = Silence(id="s2", comment="b too", starts_at=now[0], ends_at=now[0] + 600,
                 rule="delays", domain="b.example")  # fmt: skip
    file.add(s2, now[0])
    await _still_held(alerting, pipeline, now)
    assert [(s.id, s.starts_at) for s in file.read()] == [
        ("s1", T + 61 + STEP),
        ("s2", T + 61 + STEP),
    ]


async def test_a_start_moved_back_holds_while_the_file_cannot_be_written(tmp_path: Path) -> None:
    """The file cannot be written when the clock steps back: s1 holds a.example's
    firing all the same, which is said once and counted by ``sesd_silences_unwritten``
    (before: 0, ends only); the start is written once the file can be, and a stop
    before says which silence the file holds pending."""
    alerting, pipeline, now, silences, file, lock = await _stepped_unwritable(tmp_path)
    with capture_logs() as logs:
        await _still_held(alerting, pipeline, now)
        await _still_held(alerting, pipeline, now)
        alerting.log_unsent(kept=True)
    said = [(e["event"], e["ids"]) for e in logs if e["event"].startswith("sesd.silences.un")]
    assert said == [("sesd.silences.unwritable", ["s1"]), ("sesd.silences.unwritten", ["s1"])]
    assert [s.starts_at for s in file.read()] == [ADDED]
    # Counted as the ends are: the file, and so a restart, holds s1 pending.
    assert alerting.silences.unwritten() == {str(silences): 1}
    lock.rmdir()
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in file.read()] == [T + 61 + STEP]
    assert alerting.silences.unwritten() == {str(silences): 0}
    with capture_logs() as logs:
        alerting.log_unsent(kept=True)
    assert [e for e in logs if e["event"].startswith("sesd.silences.un")] == []


async def _moved_unwritten(tmp_path: Path) -> tuple[Any, Any, list[float], Path, Path]:
    """s1 (``--for 4h``) held a.example's firing; the file cannot be written when the
    clock steps an hour back, so s1's start, moved to the step, waits. The alerting,
    pipeline, clock, the file's path and the directory in the way of its lock."""
    alerting, pipeline, now, silences, _ = await _held(tmp_path)
    lock = _unwritable(silences)
    now[0] = T + 61 + STEP
    alerting.stepped(now[0], STEP)
    await _still_held(alerting, pipeline, now)
    return alerting, pipeline, now, silences, lock


async def test_a_write_given_up_that_took_after_a_second_step_back_moves_on(
    tmp_path: Path,
) -> None:
    """The file read cannot be written at the step; once it can, the write of s1's
    moved start does not answer (a share that hangs) and is given up; the clock steps
    an hour back again; then the write comes back, having taken: the file holds the
    first step's start, an hour ahead of the clock. The next read moves it on to the
    second step, as it moves the start as first written, and the next write puts it
    there (before: that read looked for the start as first written only, and moved the
    first step's as one added a moment before the second step, to the read's time)."""
    alerting, pipeline, now, silences, lock = await _moved_unwritten(tmp_path)
    lock.rmdir()
    alerting.silences.thread.bound = BOUND
    with gate(tmp_path) as fifo:
        stuck = alerting.silences.file = Stuck(str(silences), fifo, stuck="write")
        now[0] += 1
        await alerting.evaluate_in_slices()  # the write is given up
        assert stuck.waits == 1
        now[0] += 1 + STEP
        second = now[0]
        alerting.stepped(second, STEP)
        let_through(fifo)
        await _back(stuck)
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [T + 61 + STEP]
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in SilenceFile(str(silences)).read()] == [second]
    assert alerting.silences.unwritten() == {str(silences): 0}


async def _restarted_behind_the_save(tmp_path: Path) -> tuple[Any, Any, list[float], Path]:
    """s1 held a.example's firing; the state saved at T + 120 is restored by a new
    sesd at T + 120 + STEP (the clock stepped back while it was stopped). Its alerting,
    pipeline, clock and silences path."""
    alerting, pipeline, now, silences, _ = await _held(tmp_path)
    blob = snapshot(pipeline.ledger, alerting.evaluator, T + 120, stopped=True)
    alerting, pipeline, now, _ = await _silenceable(tmp_path, ("ops",), "0s")
    now[0] = T + 120 + STEP
    restore(blob, pipeline.ledger, alerting.evaluator, now[0])
    return alerting, pipeline, now, silences


@pytest.mark.parametrize("at_start", ["read", "missing"])
async def test_a_silence_in_force_stays_in_force_after_a_restart_behind_the_save(
    tmp_path: Path, at_start: str
) -> None:
    """As the first, but the clock stepped back while sesd was stopped: the restart
    moves s1's start back as it moves the alert times, at the start or at the file's
    first read should it not read then (its share mounted a moment later): a.example
    breaching on is held (before: s1 pending until the clock reached ADDED again)."""
    alerting, pipeline, now, silences = await _restarted_behind_the_save(tmp_path)
    restored = now[0]
    if at_start == "missing":
        silences.rename(tmp_path / "aside.json")
    await alerting.aend_silences_resolved()  # as the daemon's start does
    if at_start == "missing":
        (tmp_path / "aside.json").rename(silences)  # read at the first evaluation
    await _still_held(alerting, pipeline, now)
    moved = restored if at_start == "read" else restored + 1
    file = SilenceFile(str(silences))
    assert [s.starts_at for s in file.read()] == [moved]
    assert _states(alerting, file, now[0]) == (["active"], ["active"])


def _one(
    starts_at: float, ends_at: float | None, until_resolved: bool = False, silence_id: str = "s1"
) -> Silence:
    """A silence on the rule delays from ``starts_at`` to ``ends_at``."""
    return Silence(id=silence_id, comment="c", starts_at=starts_at, ends_at=ends_at,
                   until_resolved=until_resolved, rule="delays")  # fmt: skip


@pytest.mark.parametrize(
    ("silence", "moved"),
    [
        (_one(T, None, until_resolved=True), True),  # waiting on its alert
        (_one(T, T + 4 * 3600), True),  # --for 4h
        (_one(T, T + 61), True),  # ends a moment after the step: in force until then
        (_one(T + 7200, None), False),  # written by hand ahead of the clock
        (_one(T + 61, T + 4 * 3600), False),  # starts at the step: not yet in force before it
        (_one(T, T + 30), False),  # started and ended before the step
        (_one(T - 7200, None), False),  # starts behind the new clock too
    ],
)
def test_a_start_moves_back_when_the_step_put_a_silence_in_force_ahead(
    silence: Silence, moved: bool
) -> None:
    """The clock steps an hour back at T + 60 (to T + 60 + STEP): a start moves to the
    step when the silence was in force then and the step put the start ahead."""
    silence = msgspec.structs.replace(silence)  # moved in place: the case's own stays as written
    was = silence.starts_at
    found = started_back([silence], T + 60 + STEP, STEP, T + 60 + STEP)
    assert found == ({"s1": was} if moved else {})
    assert silence.starts_at == (T + 60 + STEP if moved else was)


def test_a_start_read_after_the_step_moves_to_when_it_is_read() -> None:
    """A restore's step applied at the file's first read, later: a start the step put
    ahead of that read moves to it; one the CLI wrote since, on the new clock, stays."""
    crossed, since = _one(T, None), _one(T + 30 + STEP, None, silence_id="s2")
    found = started_back([crossed, since], T + STEP, STEP, T + 60 + STEP)
    assert found == {"s1": T}
    assert (crossed.starts_at, since.starts_at) == (T + 60 + STEP, T + 30 + STEP)


async def test_a_silence_expired_while_its_start_waits_stays_expired(tmp_path: Path) -> None:
    """The clock stepped back and, before sesd writes s1's start, the on-call ends s1
    with ``sesd silence expire`` on the stepped clock: the file has it end at its
    start, as written, expired. It stays so (before: its start moved again at the
    read, it was in force from the step to ADDED, and a.example stayed held), and
    a.example's firing pages. The write of the start leaves it so too."""
    alerting, pipeline, now, _, file = await _held_then_stepped(tmp_path)
    assert file.expire({"s1"}, now[0]) == ["s1"]  # as the command does
    feed_spike(pipeline, "a.example", now[0], 5, 5)
    now[0] += 1
    notified = await alerting.evaluate_in_slices()
    assert [n.kind for n in notified] == [Transition.FIRING]
    assert [(s.starts_at, s.ends_at) for s in file.read()] == [(ADDED, ADDED)]
    assert _states(alerting, file, now[0]) == ([], ["expired"])  # the page lists none


def test_the_write_of_a_start_leaves_a_silence_expired_since(tmp_path: Path) -> None:
    """sesd read s1 with its start ahead, moved it, and writes the move; meanwhile
    ``sesd silence expire`` ended s1 at the start it read. The write leaves s1 expired
    (moved, it would be in force until ADDED); s2's start, as read, moves."""
    file = _silence(tmp_path / "silences.json")
    file.add(_one(ADDED, None, silence_id="s2"), ADDED)
    now = T + 61 + STEP
    file.expire({"s1"}, now)
    file.expire(set(), now, starts={"s1": (ADDED, now), "s2": (ADDED, now)})
    assert [(s.id, s.starts_at, s.state(now)) for s in file.read()] == [
        ("s1", ADDED, "expired"),
        ("s2", now, "active"),
    ]


@pytest.mark.parametrize("as_the_daemon", [False, True])
async def test_a_file_moved_to_a_new_path_while_a_start_waits_keeps_it_moved(
    tmp_path: Path, as_the_daemon: bool
) -> None:
    """The file cannot be written when the clock steps back, and the operator moves it
    to a path sesd can write, the config with it (a reload in one call, or as the
    daemon makes it: the file read before the change, written after): the new file
    holds s1 with its start ahead. s1 stays in force (before: pending there, a.example
    paged for the step's length) and its start is written there."""
    alerting, pipeline, now, silences, _ = await _held(tmp_path)
    _unwritable(silences)
    now[0] = T + 61 + STEP
    alerting.stepped(now[0], STEP)
    await _still_held(alerting, pipeline, now)
    other = tmp_path / "other.json"
    silences.rename(other)
    await _reloaded_to(alerting, other, as_the_daemon)
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in SilenceFile(str(other)).read()] == [T + 61 + STEP]


async def test_a_silence_added_just_before_the_step_stays_in_force(tmp_path: Path) -> None:
    """The on-call adds s1 a moment before the clock steps back, after sesd's last read
    of the file: sesd reads it only after the step, its start an hour ahead. s1 holds
    a.example's firing all the same (before: pending for the step's length, a.example
    paged), and its start moves to that read, in force and in the file."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    now[0] = T - 10
    assert await alerting.evaluate_in_slices() == []  # no file yet: nothing read
    file = _silence(silences)
    now[0] = T + 1 + STEP
    alerting.stepped(now[0], STEP)
    await _still_held(alerting, pipeline, now)
    assert [s.starts_at for s in file.read()] == [T + 2 + STEP]  # the evaluation's read
    assert _states(alerting, file, now[0]) == (["active"], ["active"])


async def test_a_start_written_ahead_after_the_step_was_looked_at_stays(tmp_path: Path) -> None:
    """After the step, sesd looks at the file unchanged; then s2 is added by hand to
    start ten minutes ahead (its start lies where the step crossed): it stays pending
    until then, as written, while s1, moved at the step, holds a.example."""
    alerting, pipeline, now, _, file = await _held_then_stepped(tmp_path)
    await _still_held(alerting, pipeline, now)
    ahead = now[0] + 600
    file.add(_one(ahead, None, silence_id="s2"), now[0])
    await _still_held(alerting, pipeline, now)
    assert [(s.id, s.starts_at) for s in file.read()] == [("s1", T + 61 + STEP), ("s2", ahead)]
    assert _states(alerting, file, now[0])[0] == ["active", "pending"]
