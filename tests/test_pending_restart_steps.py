"""Pending delays, and the Deliveries remembered for a delay SQS brings after them,
across a restart on a clock that stepped while sesd was stopped, or a day or more
after the save: what sesd.runtime.state tells as a step (the boot clock's reckoning,
within a day) moves them as a step measured does; the rest is downtime."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.events import LONGEST_DELAY
from sesd.core.pending_keys import pending_key
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests import factory as f

#: SES's time at the save.
SAVE = f.T0 + 10
HOUR, DAY = 3600.0, 86_400.0
CONFIG = parse_config("")


def _restarted(
    behind: float, down: float, passed: float, boot: str
) -> tuple[Pipeline, dict[str, Any]]:
    """SES delays u1@a.example ten minutes before SAVE and delivers u2@a.example five
    minutes before it, each read at once on the host's clock, ``behind`` seconds behind
    SES's (dated on it); sesd saves at once, at boot-clock 500 s, and starts again
    ``down`` seconds after SAVE by SES's clock (the host's set right by then),
    ``passed`` seconds later by the boot clock of boot ``boot``."""
    pipeline = Pipeline(core_settings(CONFIG))
    pipeline.feed(f.raw(f.delay(["u1@a.example"], at=SAVE - 600, message_id="m1")), "q",
                  SAVE - 600 - behind)  # fmt: skip
    pipeline.feed(f.raw(f.delivery(["u2@a.example"], at=SAVE - 300, message_id="m2")), "q",
                  SAVE - 300 - behind)  # fmt: skip
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, SAVE - behind))
    data["boot"] = ["b1", 500.0]
    again = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in again.ledger.specs])
    restored = restore(msgspec.msgpack.encode(data), again.ledger, evaluator, SAVE + down,
                       [boot, 500.0 + passed])  # fmt: skip
    return again, restored


def _saved_empty() -> dict[str, Any]:
    """The state file a sesd holding nothing saves at SAVE, decoded for a test to edit
    (a hand's edit, a damaged file)."""
    pipeline = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    decoded: dict[str, Any] = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, SAVE))
    return decoded


def _read_back(data: dict[str, Any]) -> tuple[Pipeline, dict[str, Any]]:
    """The state file ``data`` read back by a new sesd a minute after SAVE: that sesd,
    and what its restore said."""
    again = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in again.ledger.specs])
    return again, restore(msgspec.msgpack.encode(data), again.ledger, evaluator, SAVE + 60)


def _late_delay_of_u2(pipeline: Pipeline, now: float) -> None:
    """SQS brings u2's DeliveryDelay, SES's fifteen minutes before SAVE (ten before its
    Delivery), at ``now``."""
    body = f.delay(["u2@a.example"], at=SAVE - 900, message_id="m2")
    pipeline.feed(f.raw(body), "q", now)


def test_a_step_ahead_while_stopped_moves_the_delays_and_the_deliveries_remembered() -> None:
    """The host's clock two hours behind SES's at the save; NTP steps it the two hours
    ahead while sesd is stopped ten minutes (by the boot clock, on the same boot): the
    step is told. u1 pends until 16 h after SES's delay of it, and u2's delay SQS
    brings after the restart is over (its Delivery, remembered, moved with the step),
    nothing more pending. Before: u2's delay was taken as after its Delivery (two
    hours before it as dated) and pended its 16 h."""
    pipeline, restored = _restarted(2 * HOUR, 600.0, 600.0, "b1")
    assert restored["clock_stepped_seconds"] == 2 * HOUR
    pending = pipeline.ledger.pending
    _late_delay_of_u2(pipeline, SAVE + 660)
    assert pending.count("a.example", SAVE + 660) == 1
    assert pending.count("a.example", SAVE - 600 + LONGEST_DELAY - 1) == 1
    assert pending.count("a.example", SAVE - 600 + LONGEST_DELAY) == 0


@pytest.mark.parametrize(
    ("behind", "down", "passed", "boot", "late_pends"),
    [
        (0.0, DAY + HOUR, DAY + HOUR, "b1", False),
        (0.0, DAY + HOUR, 600.0, "b2", False),
        (2 * DAY, 600.0, 600.0, "b1", True),
    ],
    ids=["down a day", "down a day, another boot", "a step of two days on the same boot"],
)
def test_a_file_saved_more_than_a_day_before_the_restart_is_read_as_downtime(
    behind: float, down: float, passed: float, boot: str, late_pends: bool
) -> None:
    """The restart is more than a day after the save by the host's clock, and by the
    boot clock too, or on another boot, or the clock stepped more than a day: no step
    is told, and the file's times are as old as that. Down a day and an hour, u1 is past
    the 16 h SES tries it: not pending; u2's delay SQS brings then is over (its
    Delivery remembered), nothing pending. The host's clock two days behind at the save
    and set by NTP while sesd was stopped ten minutes on the same boot reads the same
    (a step past a day is not told: a save time damaged is as likely): u1, dated on the
    clock behind, is read as two days old, not pending, though SES still tries it; and
    u2's Delivery stays dated two days before its delay, which pends its 16 h (README,
    "State across restarts")."""
    pipeline, restored = _restarted(behind, down, passed, boot)
    now = SAVE + down + 60
    assert "clock_stepped_seconds" not in restored
    pending = pipeline.ledger.pending
    assert pending.count("a.example", now) == 0
    _late_delay_of_u2(pipeline, now)
    assert pending.count("a.example", now) == (1 if late_pends else 0)


def test_a_step_of_less_than_a_day_is_told_after_a_downtime_of_a_day() -> None:
    """The host's clock an hour behind SES's at the save; sesd stopped a day by the boot
    clock, NTP stepping the clock the hour ahead meanwhile: the file is more than a day
    behind the clock, and the hour is told all the same, not read as downtime. u1 is
    past the 16 h SES tries it; u2's delay SQS brings then is over (its Delivery
    remembered, moved with the step), not held."""
    pipeline, restored = _restarted(HOUR, DAY + 600, DAY + 600, "b1")
    assert restored["clock_stepped_seconds"] == HOUR
    now = SAVE + DAY + 660
    pending = pipeline.ledger.pending
    assert pending.count("a.example", now) == 0
    _late_delay_of_u2(pipeline, now)
    assert not pending.holds(pending_key("m2", "u2@a.example"))


@pytest.mark.parametrize("written", [float("inf"), SAVE + 365 * DAY, 1e308, float("nan")])
def test_a_delivery_remembered_ahead_of_the_restart_is_held_to_it(written: float) -> None:
    """A state file whose Deliveries remembered for u2 and u3 read ``written`` (a hand's
    edit, a damaged file: infinity, a year ahead, the largest time a float holds, not a
    number), read back a minute after its save. Their delays SQS brings then are over:
    u3's timed from the restart at most, u2's through the pipeline, nothing pending.
    Before: infinity and the largest raised OverflowError in the pipeline at u2's delay,
    a year ahead timed u3's a year, and not a number ended neither (each pended its 16
    h), nor was it ever replaced: a Delivery compares later than no such time."""
    data = _saved_empty()
    keys = [pending_key(f"m{n}", f"u{n}@a.example") for n in (2, 3)]
    data["pending"]["resolved"] = [[key, written] for key in keys]
    again, _ = _read_back(data)
    pending = again.ledger.pending
    assert pending.delayed(keys[1], ("a.example",), SAVE - 900, None) == (("a.example",), 960.0)
    _late_delay_of_u2(again, SAVE + 120)
    assert len(pending) == 0


@pytest.mark.parametrize(
    "written", [float("nan"), float("-inf"), -1e308, -5.0, float("inf"), 1e308]
)
def test_a_delay_saved_at_no_time_a_clock_tells_is_not_restored(written: float) -> None:
    """A state file whose pending delay of u2 was first seen at ``written`` (a hand's
    edit, a damaged file: not a number, before 1970, past year 9999), read back a minute
    after its save: the delay is not restored, said in ``pending_delays_refused``, and
    u2's Delivery SQS brings then ends nothing. Before: not a number, infinitely or
    far before 1970 raised in the pipeline at that Delivery (a length in milliseconds
    no integer holds), before 1970 timed it 57 years, and past year 9999 it pended for
    good, ended by nothing."""
    data = _saved_empty()
    key = pending_key("m2", "u2@a.example")
    data["pending"]["pending"] = [[key, ["a.example", "unknown"], written, written]]
    again, restored = _read_back(data)
    assert restored["pending_delays_refused"] == 1
    again.feed(f.raw(f.delivery(["u2@a.example"], at=SAVE + 50, message_id="m2")), "q",
               SAVE + 120)  # fmt: skip
    assert len(again.ledger.pending) == 0
    assert again.ledger.pending.count("a.example", SAVE + 120) == 0


def test_ntp_s_step_after_a_restart_behind_the_save_moves_no_delivery_as_far() -> None:
    """u2 delivered five minutes before SAVE on a clock set right; sesd stops at SAVE
    and starts ten minutes later on a host that booted an hour behind (the file 50
    minutes ahead of its clock: a step back, as sesd reads it). NTP steps the clock the
    hour ahead two hours on, and SQS then brings u2's DeliveryDelay, SES's ten minutes
    before its Delivery: over, timed no more than the downtime longer (the file tells
    how far the clock stepped back, not when). Before: NTP's step moved the Delivery
    the whole hour, and the delay was timed an hour and ten minutes."""
    pipeline = Pipeline(core_settings(CONFIG))
    pipeline.feed(f.raw(f.delivery(["u2@a.example"], at=SAVE - 300, message_id="m2")), "q",
                  SAVE - 300)  # fmt: skip
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    blob = snapshot(pipeline.ledger, evaluator, SAVE)
    again = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in again.ledger.specs])
    restore(blob, again.ledger, evaluator, SAVE + 600 - HOUR)
    again.ledger.stepped(HOUR, SAVE + 2 * HOUR)
    key = pending_key("m2", "u2@a.example")
    assert again.ledger.pending.delayed(key, ("a.example",), SAVE - 900, None) == (
        ("a.example",),
        1200.0,  # (its ten minutes, and the downtime's)
    )


@pytest.mark.parametrize(
    ("written", "kept"),
    [(SAVE + 365 * DAY, False), (SAVE + 60 + DAY + 1, False), (SAVE + HOUR, True)],
    ids=["a year after the save", "a day after the restart", "an hour after the save"],
)
def test_a_delay_saved_further_ahead_than_sesd_dates_one_is_not_restored(
    written: float, kept: bool
) -> None:
    """A state file whose pending delay of u2 was first seen at ``written``, read back a
    minute after its save. A delay is dated no later than the clock that read it, and
    the save is later: one ahead of the save was read before a step of the clock back,
    and one more than a day ahead of the save and the restart, its move of an hour back
    leaving it there (a damaged file, a hand's edit), is not restored, said in
    ``pending_delays_refused``: u2's Delivery SQS brings then ends nothing, and nothing
    pends. Before: it was restored, and pended in its label's gauge and its
    ``pending_delays`` rule until a year on. One an hour ahead, kept with the step back
    of an hour before the save, is restored, and pends until its Delivery ends it."""
    data = _saved_empty()
    key = pending_key("m2", "u2@a.example")
    data["pending"]["pending"] = [[key, ["a.example", "unknown"], written, written + HOUR]]
    data["pending"]["moved"] = [[key, -HOUR]]
    again, restored = _read_back(data)
    pending = again.ledger.pending
    assert restored["pending_delays_refused"] == (0 if kept else 1)
    assert pending.count("a.example", SAVE + 120) == (1 if kept else 0)
    again.feed(f.raw(f.delivery(["u2@a.example"], at=SAVE + 120, message_id="m2")), "q",
               SAVE + 120)  # fmt: skip
    assert len(pending) == 0
    assert pending.count("a.example", SAVE + 120) == 0


@pytest.mark.parametrize(
    "saved",
    [SAVE - HOUR, SAVE + HOUR],
    ids=["saved before the clock behind reached the Delivery", "saved after it did"],
)
def test_a_step_back_before_the_save_is_kept_against_ntp_s_step_after_the_restart(
    saved: float,
) -> None:
    """u2 delivered five minutes before SAVE on a clock set right; a minute later the
    clock steps an hour back (wrongly), and sesd saves at ``saved`` on it and starts
    again ten minutes later on the same clock. Ten minutes on, NTP steps it the hour
    ahead, and SQS then brings u2's DeliveryDelay, SES's ten minutes before its
    Delivery: over, timed its ten minutes, as without the restart (the step back is
    kept against NTP's step). Before: the restart forgot the step back; NTP's step moved
    the Delivery the whole hour and the delay was timed 70 minutes, or (restarted
    before the clock behind reached it) the Delivery was held to the restart and
    moved an hour from there, and the delay was timed 25 minutes."""
    pipeline = Pipeline(core_settings(CONFIG))
    pipeline.feed(f.raw(f.delivery(["u2@a.example"], at=SAVE - 300, message_id="m2")), "q",
                  SAVE - 300)  # fmt: skip
    pipeline.ledger.stepped(-HOUR, SAVE - 240 - HOUR)
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    blob = snapshot(pipeline.ledger, evaluator, saved)
    again = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in again.ledger.specs])
    restore(blob, again.ledger, evaluator, saved + 600)
    again.ledger.stepped(HOUR, saved + 1200 + HOUR)
    key = pending_key("m2", "u2@a.example")
    assert again.ledger.pending.delayed(key, ("a.example",), SAVE - 900, None) == (
        ("a.example",),
        600.0,
    )


@pytest.mark.parametrize(
    "saved_at",
    [1e8, 1e300, float("inf")],
    ids=["a date decades before", "past year 9999", "infinite"],
)
def test_a_save_time_damaged_bounds_the_delays_by_the_restart_s_clock(saved_at: float) -> None:
    """A state file whose save time is damaged (a flipped bit: a date decades before
    its delays, or none a clock tells), holding u1's delay, SES's ten minutes before
    SAVE, and u2's dated a year ahead, read back a minute after SAVE. The restart's
    clock bounds them alone: u1 is restored and pends, and u2 is not (said in
    ``pending_delays_refused``). Bounded by the save time as written alone, u1
    (decades after such a save) was dropped with u2, and a save time past year 9999
    let u2 pend a year."""
    data = _saved_empty()
    data["saved_at"] = saved_at
    data["pending"]["pending"] = [
        [pending_key("m1", "u1@a.example"), ["a.example", "unknown"], SAVE - 600, SAVE + HOUR],
        [pending_key("m2", "u2@a.example"), ["a.example", "unknown"], SAVE + 365 * DAY,
         SAVE + 365 * DAY + HOUR],
    ]  # fmt: skip
    again, restored = _read_back(data)
    assert restored["pending_delays_refused"] == 1
    assert again.ledger.pending.count("a.example", SAVE + 120) == 1
    assert again.ledger.pending.count("a.example", SAVE + 2 * HOUR) == 0


def test_a_delay_read_before_a_step_back_of_days_is_restored_on_the_clock_still_behind() -> None:
    """SES delays u1 ten minutes before SAVE, read at once on the host's clock, set
    right; a minute later the clock steps two days back (a hand's mistyped date), and
    sesd saves on it and starts again two minutes later on the same clock. NTP then
    steps it the two days ahead, and u1's Delivery, SES's five minutes after SAVE, ends
    its delay: timed its fifteen minutes. The delay is dated two days after the save
    and the restart, as a damaged file's is, but its move below none (kept against
    NTP's step) says the clock stepped back past it. Left out as a damaged file's, it
    pended in no gauge across the restart, and its Delivery ended nothing."""
    pipeline = Pipeline(core_settings(CONFIG))
    pipeline.feed(f.raw(f.delay(["u1@a.example"], at=SAVE - 600, message_id="m1")), "q",
                  SAVE - 600)  # fmt: skip
    pipeline.ledger.stepped(-2 * DAY, SAVE - 540 - 2 * DAY)
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    blob = snapshot(pipeline.ledger, evaluator, SAVE - 480 - 2 * DAY)
    again = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in again.ledger.specs])
    restored = restore(blob, again.ledger, evaluator, SAVE - 360 - 2 * DAY)
    pending = again.ledger.pending
    assert restored["pending_delays_refused"] == 0
    assert pending.count("a.example", SAVE - 360 - 2 * DAY) == 1
    again.ledger.stepped(2 * DAY, SAVE - 300)
    assert pending.count("a.example", SAVE - 300) == 1
    ended = pending.resolved(pending_key("m1", "u1@a.example"), SAVE + 300)
    assert ended is not None
    assert ended[1] == 900.0


@pytest.mark.parametrize(
    ("past", "kept"),
    [(0.0, True), (1.0, False)],
    ids=["put on the restart's clock", "a second after it"],
)
def test_a_delay_its_step_back_puts_no_later_than_the_restart_is_restored(
    past: float, kept: bool
) -> None:
    """A state file saved at SAVE whose delay of u1 was first seen two days after the
    restart (a minute after SAVE), with a move below none that puts it ``past``
    seconds after the restart's clock: read before a step of the clock back, it is
    restored on the restart's clock itself, as any clock that read it must have been
    no later, and its Delivery read a minute after the restart on that clock ends it,
    timed the minute; a second past it, the move says nothing of the kind (a damaged
    file's), and it is not restored, said in ``pending_delays_refused``."""
    data = _saved_empty()
    key = pending_key("m1", "u1@a.example")
    since = SAVE + 60 + 2 * DAY
    data["pending"]["pending"] = [[key, ["a.example", "unknown"], since, since + HOUR]]
    data["pending"]["moved"] = [[key, -2 * DAY + past]]
    again, restored = _read_back(data)
    assert restored["pending_delays_refused"] == (0 if kept else 1)
    pending = again.ledger.pending
    assert pending.count("a.example", SAVE + 120) == (1 if kept else 0)
    ended = pending.resolved(key, SAVE + 120)
    assert ended == ((("a.example", "unknown"), 60.0) if kept else None)


@pytest.mark.parametrize("since", [-1.0, float("nan"), float("inf"), 1e300])
def test_a_delay_at_no_time_a_clock_tells_is_not_restored_for_its_step_back(
    since: float,
) -> None:
    """A state file whose delay of u1 was first seen at ``since`` (a damaged file:
    before 1970, not a number, past year 9999), with a move below none of a day, as a
    step back before the save keeps of a delay read before it: not restored, said in
    ``pending_delays_refused``, as without the move. Restored, it pended for good, or
    its Delivery timed it decades."""
    data = _saved_empty()
    key = pending_key("m1", "u1@a.example")
    data["pending"]["pending"] = [[key, ["a.example", "unknown"], since, SAVE + HOUR]]
    data["pending"]["moved"] = [[key, -DAY]]
    again, restored = _read_back(data)
    assert restored["pending_delays_refused"] == 1
    assert len(again.ledger.pending) == 0
