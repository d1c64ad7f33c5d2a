"""A restart on a wall clock stepped ahead while sesd was stopped (the host's clock
behind at the save, set by NTP before the start; or a hand's ``date``). The save time
against the clock reads the step as downtime; on the boot that saved the file, its
boot clock (``CLOCK_BOOTTIME``, kept with the boot's id) tells the time that passed,
and the file's times move by the rest, as at a step sesd measures: an alert that had
fired forty minutes has fired forty minutes and ten seconds, a tenant walk 23.5 hours
old resumes, a part-sent page ten seconds old goes on. On another boot, or a file
from an earlier build, the step is read as downtime, as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_walks import TenantWalk
from sesd.runtime.boot_clock import boot_mark, no_boot, stepped_while_stopped
from sesd.runtime.daemon import Daemon
from sesd.runtime.parts import Parts
from sesd.runtime.saver import StateSaver
from sesd.runtime.state import restore, snapshot
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike
from tests.test_state_parts import URL, _entry
from tests.test_webhook_parts_restart import SECRET

#: The step ahead while sesd was stopped, and the time that passed on the boot clock.
STEP, DOWN = 3600.0, 10.0
#: The sinks (a webhook whose notifications are given up after an hour), a rule, and
#: an account whose tenants are walked.
TEXT = (
    SINKS.replace('group_wait = "0s"', 'group_wait = "0s"\nnotification_max_age = "1h"')
    + f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{URL}"\nsecret = "{SECRET}"\n'
    + '[tenants]\nenabled = true\n[[accounts]]\nname = "prod-eu"\nregion = "eu-west-1"\n'
    + 'role_arn = "arn:aws:iam::123456789012:role/sesd-reader"\n'
    + rule()
)

BOOTS = pytest.mark.parametrize(
    ("saved", "moved"),
    [(["b1", 500.0], True), (["b0", 500.0], False), (None, False), (["b1", 900.0], False)],
    ids=["same boot", "another boot", "an earlier build's file", "a mark ahead of the boot's"],
)


def _sesd() -> tuple[Pipeline, Evaluator]:
    config = parse_config(TEXT)
    return Pipeline(core_settings(config)), Evaluator(config.alerts, WINDOWS)


def _file(saved: list[Any] | None) -> tuple[bytes, float]:
    """A state file saved at ``saved_at`` with boot mark ``saved``: a.example firing 40
    minutes, a walk of prod-eu's tenants begun 23.5 hours before, a page part-sent to
    the hook 10 s before (notification_max_age 1h)."""
    pipeline, evaluator = _sesd()
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    saved_at = T + 2400
    target = pipeline.ledger.settings.watched[0]
    walk = TenantWalk(saved_at - 23.5 * 3600, tenants=["acme"])
    pipeline.ledger.tenant_walks.walks[target] = walk
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, saved_at))
    data["boot"] = saved
    data["part_sent"] = [_entry(at=saved_at - 10.0, age=10.0)]
    return msgspec.msgpack.encode(data), saved_at


@BOOTS
def test_a_restart_after_a_step_ahead_on_the_same_boot_moves_the_file_s_times(
    saved: list[Any] | None, moved: bool
) -> None:
    """The file saved at boot-clock 500 s; sesd restarts an hour and ten seconds later
    by the wall clock, boot-clock 510 s. On the same boot the hour is a step: the alert
    has fired 40m10s (its start moved the hour), the walk resumes, the page goes on,
    and the start's line says the step (before: the alert read 1h40m10s, the walk
    24.5 hours old started over, the page was past its age and went whole). On another
    boot, without a mark, or with one ahead of the boot clock (damaged), the hour is
    downtime as before."""
    blob, saved_at = _file(saved)
    now = saved_at + STEP + DOWN
    pipeline, evaluator = _sesd()
    restored = restore(blob, pipeline.ledger, evaluator, now, ["b1", 510.0])
    since = evaluator.states["delays"]["a.example"].since
    walks = pipeline.ledger.tenant_walks.walks
    if moved:
        assert since == T + STEP
        assert [walk.started for walk in walks.values()] == [saved_at - 23.5 * 3600 + STEP]
        assert len(evaluator.resumed) == 1
        assert restored["clock_stepped_seconds"] == STEP
    else:
        assert since == T
        assert "clock_stepped_seconds" not in restored
        assert (walks, evaluator.resumed) == ({}, [])


def test_the_boot_mark_is_this_boot_s_and_tells_no_step_it_cannot_measure() -> None:
    """The mark a save writes is this boot's id and its boot clock; read back at once
    it tells no step. A step within a second (the clocks' tolerance), more than a day
    (a save time damaged), or a save ahead of the clock (a step back: read from the save
    time) moves nothing; a step back shorter than the downtime is told."""
    mark = boot_mark()
    assert mark is not None
    assert isinstance(mark[0], str)
    assert len(mark[0]) == 36
    assert stepped_while_stopped(mark, boot_mark(), 1000.0, 1000.0) == 0.0
    assert boot_mark("/nonexistent/boot_id") is None
    same = ["b1", 500.0]
    assert stepped_while_stopped(same, ["b1", 510.0], 1000.0, 1010.9) == 0.0
    assert stepped_while_stopped(same, ["b1", 510.0], 1000.0, 1012.0) == 2.0
    assert stepped_while_stopped(same, ["b1", 510.0], 1000.0, 1010.0 + 86_401.0) == 0.0
    assert stepped_while_stopped(same, ["b1", 510.0], 1000.0, 900.0) == 0.0
    assert stepped_while_stopped(same, ["b1", 4100.0], 1000.0, 4000.0) == -600.0
    assert stepped_while_stopped(["b1", True], ["b1", 510.0], 1000.0, 5000.0) == 0.0
    assert stepped_while_stopped(["b1", float("nan")], ["b1", 510.0], 1000.0, 5000.0) == 0.0


async def test_the_saver_keeps_the_boot_s_mark_and_its_start_reads_it(tmp_path: Path) -> None:
    """The file written by a saver given the boot clock (the daemon's, on the host's own
    clocks) keeps its mark; the next start on the same boot, ten seconds on by it and an
    hour and ten seconds by the wall clock, moves the alert's start the hour (before:
    its start stayed, "firing for" an hour longer). A saver given none (a daemon on a
    test's clocks) keeps no mark."""
    pipeline, evaluator = _sesd()
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    wall, booted = [T + 2400], [500.0]
    path = tmp_path / "state"
    saver = StateSaver(str(path), pipeline.ledger, evaluator, lambda: wall[0],
                       boot=lambda: ["b1", booted[0]])  # fmt: skip
    saver.load()
    await saver.save_last(5.0, after="signal")
    saver.release()
    assert msgspec.msgpack.decode(path.read_bytes())["boot"] == ["b1", 500.0]
    wall[0], booted[0] = T + 2400 + STEP + DOWN, 500.0 + DOWN
    pipeline, evaluator = _sesd()
    again = StateSaver(str(path), pipeline.ledger, evaluator, lambda: wall[0],
                       boot=lambda: ["b1", booted[0]])  # fmt: skip
    again.load()
    again.release()
    assert evaluator.states["delays"]["a.example"].since == T + STEP
    plain = StateSaver(str(tmp_path / "plain"), _sesd()[0].ledger, evaluator, lambda: wall[0])
    plain.load()
    await plain.save_last(5.0, after="signal")
    plain.release()
    assert msgspec.msgpack.decode((tmp_path / "plain").read_bytes())["boot"] is None


@pytest.mark.parametrize(
    ("wall", "booted", "boot", "ago"),
    [
        (STEP + DOWN, DOWN, "b1", DOWN),
        (3000.0, 3600.0, "b1", 3600.0),
        (-600.0, 3000.0, "b1", 3000.0),
        (STEP + DOWN, DOWN, "b2", STEP + DOWN),
    ],
    ids=["a step ahead", "a step back, shorter", "a step back, longer", "another boot"],
)
async def test_an_unclean_stop_is_said_as_long_ago_as_the_boot_clock_counted(
    tmp_path: Path, wall: float, booted: float, boot: str, ago: float
) -> None:
    """A periodic save at boot-clock 500 s, and no stop's save after it (the run was
    killed); the start after is ``booted`` seconds later by the boot clock and ``wall``
    by the wall clock, which stepped meanwhile (an hour ahead; ten minutes back within
    an hour; back further than 50 minutes passed). Its warning that the run did not stop
    cleanly says the save was as long ago as the boot clock counted (before: the wall
    clock's, the step counted as time: 3,610 s for 10, 3,000 for 3,600, 0 for 3,000).
    After a reboot (another boot's id) only the wall clock tells it."""
    pipeline, evaluator = _sesd()
    clock, marks = [T], [500.0]
    path = tmp_path / "state"
    saver = StateSaver(str(path), pipeline.ledger, evaluator, lambda: clock[0],
                       boot=lambda: ["b1", marks[0]])  # fmt: skip
    saver.load()
    await saver.save()
    saver.release()
    clock[0], marks[0] = T + wall, 500.0 + booted
    pipeline, evaluator = _sesd()
    again = StateSaver(str(path), pipeline.ledger, evaluator, lambda: clock[0],
                       boot=lambda: [boot, marks[0]])  # fmt: skip
    with capture_logs() as logs:
        again.load()
    again.release()
    (unclean,) = [r for r in logs if r["event"] == "sesd.state.unclean_stop"]
    assert unclean["saved_ago_seconds"] == ago


def test_a_daemon_keeps_the_boot_s_mark_on_the_host_s_own_clocks_alone() -> None:
    """A daemon on the host's clocks saves this boot's mark; one given a test's wall
    or monotonic clock saves none (the boot clock would read their time as a step)."""
    config = parse_config(TEXT)
    assert Daemon(config).saver._boot is boot_mark
    assert Daemon(config, clock=lambda: T).saver._boot is no_boot
    assert Daemon(config, monotonic=lambda: 0.0).saver._boot is no_boot


@pytest.mark.parametrize("made", [Daemon, Parts])
def test_a_misspelt_wiring_name_is_refused_not_ignored(made: type[Parts]) -> None:
    """``Daemon(config, monotonik=...)``: a name of the wiring misspelt was ignored, the
    test's clock left out and the host's read without a word (mypy names it, but not
    through a ``**kwargs``). It is refused, named; the names it has are taken."""
    config = parse_config(TEXT)
    wiring: dict[str, Any] = {"monotonik": lambda: 0.0, "clock": lambda: T}
    with pytest.raises(TypeError, match=r"unknown wiring: monotonik$"):
        made(config, **wiring)
    assert made(config, clock=lambda: T, monotonic=lambda: 0.0).saver._boot is no_boot


def test_a_save_time_damaged_earlier_moves_no_time_past_the_start() -> None:
    """The file of the same boot, saved ten seconds before the restart by the boot
    clock, its save time damaged ten hours earlier (a flipped bit: it reads as a step
    ahead of ten hours, within the day told). The times the file keeps of the clock
    move, but none past the restart's clock: a.example, seen at the save, is seen no
    later than the restart (before: nine hours ahead of it, not idle for as long)."""
    blob, saved_at = _file(["b1", 500.0])
    data = msgspec.msgpack.decode(blob)
    data["saved_at"] = saved_at - 36_000.0
    pipeline, evaluator = _sesd()
    now = saved_at + DOWN
    restored = restore(msgspec.msgpack.encode(data), pipeline.ledger, evaluator, now,
                       ["b1", 500.0 + DOWN])  # fmt: skip
    assert restored["clock_stepped_seconds"] == 36_000.0
    assert pipeline.ledger.domains.last_seen["a.example"] <= now
    assert all(walk.started <= now for walk in pipeline.ledger.tenant_walks.walks.values())


def test_a_step_back_while_stopped_longer_is_told_by_the_boot_clock() -> None:
    """Saved on a clock ten minutes ahead; sesd is down an hour by the boot clock, and
    NTP steps the clock the ten minutes back meanwhile: the restart is 50 minutes after
    the save by the wall clock. The page part-sent 10 s before the save is an hour and
    ten seconds old, past notification_max_age (1h): it goes whole, its receiver gave it
    up; the alert's start moves the ten minutes back, as at a step back measured
    (before: 50 minutes' downtime, the page went on in parts to a receiver that no
    longer held it, and the alert read as firing ten minutes short)."""
    blob, saved_at = _file(["b1", 500.0])
    now = saved_at + 3000.0
    pipeline, evaluator = _sesd()
    restored = restore(blob, pipeline.ledger, evaluator, now, ["b1", 500.0 + 3600.0])
    assert evaluator.resumed == []
    assert evaluator.states["delays"]["a.example"].since == T - 600.0
    assert restored["clock_stepped_seconds"] == -600.0
