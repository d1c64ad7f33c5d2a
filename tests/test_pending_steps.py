"""Pending delays across steps of the host's clock: what a delay dated on a clock
behind SES's is timed and bounded by once NTP sets it (sesd.core.pending_steps)."""

from __future__ import annotations

import gc
import tracemalloc

import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.events import LONGEST_DELAY
from sesd.core.pending import PendingDelays
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.alone import measured_alone

NOW = f.T0 + 10
HOUR = 3600.0
DAY = 86_400.0
BEHIND = NOW - 3 * HOUR  # the host's clock, three hours behind SES's
CONFIG = parse_config("")


def test_a_delay_across_ntp_s_step_is_timed_from_ses_s_time() -> None:
    """A recipient delayed at SES's NOW, read at once on a clock three hours behind
    (dated on it: it is from ahead of it); NTP steps the clock the three hours ahead,
    and its Delivery, SES's ten minutes after NOW, ends a delay of ten minutes.
    Another, delayed in a backlog SES dated four hours before NOW, is delivered five
    minutes after its delay, before where the step put its first time: not timed as
    less than none. Before: the first was timed 3 h 10 min, the step's three hours in
    the delay length histogram."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.example",), BEHIND, None)
    pending.delayed(2, ("a.example",), NOW - 4 * HOUR, None)
    pending.stepped(3 * HOUR, NOW)
    assert pending.resolved(1, NOW + 600) == (("a.example",), 600.0)
    assert pending.resolved(2, NOW - 4 * HOUR + 300) == (("a.example",), 0.0)
    pending.delayed(3, ("a.example",), NOW, None)  # none moved: as ever
    assert pending.resolved(3, NOW + 60) == (("a.example",), 60.0)
    assert LONGEST_DELAY > 4 * HOUR


def _given_up_on_a_clock_behind() -> PendingDelays:
    """A table of four on the clock three hours behind: recipients 1 to 4 delayed at
    SES's NOW (dated on the clock), 5 and 6 refused (the table full), 2 to 4 delivered
    a minute on; the clock reads 17 hours later (SES's 14 h after NOW) and
    housekeeping forgets 1, its 16 h run (by the clock): remembered after 5 and 6 (in
    the newer of the two generations kept). Then NTP steps the clock the three hours
    ahead."""
    pending = PendingDelays(4)
    for key in (1, 2, 3, 4, 5, 6):  # (4 at another domain: one holds three quarters)
        pending.delayed(key, ("b.example" if key == 4 else "a.example",), BEHIND, None)
    assert pending.overflow == 2
    for key in (2, 3, 4):
        pending.resolved(key, BEHIND + 60)
    pending.expire(BEHIND + LONGEST_DELAY)
    assert len(pending) == 0
    pending.stepped(3 * HOUR, NOW + 14 * HOUR)
    return pending


def test_a_retry_of_one_given_up_on_a_clock_behind_is_held_once_ntp_sets_it() -> None:
    """Once NTP set the clock, SES retries 1 and 5 at 14 h 30 min after SES's first
    delay of each: SES tries them another 1 h 30 min, so each is pending until 16 h
    after NOW, and 1's Delivery at 15 h ends a delay of 15 h. Before: each was taken
    as past its 16 h (counted from the clock's time, three hours early) and not held,
    the Delivery ending nothing."""
    pending = _given_up_on_a_clock_behind()
    for key in (1, 5):
        pending.delayed(key, ("a.example",), NOW + 14.5 * HOUR, None)
    assert pending.count("a.example", NOW + LONGEST_DELAY - 1) == 2
    assert pending.count("a.example", NOW + LONGEST_DELAY) == 0
    assert pending.resolved(1, NOW + 15 * HOUR) == (("a.example",), 15 * HOUR)
    assert pending.overflow == 2  # (5's retry is a retry)


def test_a_step_back_takes_back_what_a_step_moved_of_one_given_up_on() -> None:
    """Once NTP set the clock, it steps an hour ahead and back, a year ahead and back,
    then flaps an hour ahead and back every ten minutes for the next 30 minutes; a
    retry of 5 at 16 h after SES's first is still past it (not held), and one of 1 at
    15 h 30 min is held until 16 h. Saved and read back at the same clock, the file
    keeps the move (a retry of 5 after it held as well)."""
    pending = _given_up_on_a_clock_behind()
    at = NOW + 14 * HOUR
    for step in (HOUR, 365 * 86400.0, HOUR, HOUR, HOUR):
        at += 600.0
        pending.stepped(step, at + step)
        pending.stepped(-step, at)
    pending.delayed(5, ("a.example",), NOW + LONGEST_DELAY, None)
    assert len(pending) == 0
    pending.delayed(1, ("a.example",), NOW + 15.5 * HOUR, None)
    assert pending.count("a.example", NOW + LONGEST_DELAY - 1) == 1
    assert pending.next_expiry(NOW) == NOW + LONGEST_DELAY
    again = PendingDelays(4)
    again.restore(pending.snapshot())
    again.held_to(NOW + 15.5 * HOUR)
    again.delayed(5, ("a.example",), NOW + 15.5 * HOUR, None)
    assert again.count("a.example", NOW + LONGEST_DELAY - 1) == 2
    assert again.count("a.example", NOW + LONGEST_DELAY) == 0


def test_a_wrong_step_back_ntp_then_corrects_moves_no_delay_dated_before_it() -> None:
    """The clock is SES's: a recipient delayed two hours before NOW. At NOW the clock
    steps an hour back (wrongly); SES delays another five minutes on, read at once on
    the clock behind (dated on it, 55 minutes before NOW); ten minutes after the step
    NTP steps the clock the hour ahead again. The first pends until 16 h after its
    delay, as SES tries it; the second until 16 h after SES's time. Before: the first,
    dated before the step back, was moved by NTP's step too, and pended an hour past
    SES's 16 h."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.example",), NOW - 2 * HOUR, None)
    pending.stepped(-HOUR, NOW - HOUR)
    pending.delayed(2, ("b.example",), NOW - 55 * 60.0, None)
    pending.stepped(HOUR, NOW + 600)
    assert pending.count("a.example", NOW - 2 * HOUR + LONGEST_DELAY - 1) == 1
    assert pending.count("a.example", NOW - 2 * HOUR + LONGEST_DELAY) == 0
    assert pending.count("b.example", NOW + 300 + LONGEST_DELAY - 1) == 1
    assert pending.count("b.example", NOW + 300 + LONGEST_DELAY) == 0
    assert pending.resolved(1, NOW + HOUR) == (("a.example",), 3 * HOUR)


@pytest.mark.parametrize(
    ("delayed", "behind"), [(2 * HOUR, 0.0), (600.0, 3 * HOUR)], ids=["set right", "behind"]
)
def test_a_restart_behind_the_save_then_ntp_s_step_moves_no_delay_dated_before_it(
    delayed: float, behind: float
) -> None:
    """A recipient delayed ``delayed`` seconds before NOW by SES's clock, read at once
    on the host's, ``behind`` seconds behind it (dated on it); NTP steps the host's
    clock to SES's five minutes before NOW. sesd saves at NOW and starts again on a
    clock an hour behind the save (the host booted before NTP set it); ten minutes on
    NTP steps the clock the hour ahead. The delay pends until 16 h after SES's time, as
    SES tries it. Before: the restart held the moves alone, and NTP's step moved the
    delay dated on the clock set right the hour: it pended an hour past SES's 16 h;
    and the restart held the move of the one dated on the clock behind to its clock
    before it stepped it back the hour, taking the hour back twice over (less what
    NTP's first step was before the save): it expired 50 minutes before SES gives up."""
    pipeline = Pipeline(core_settings(parse_config("")))
    body = f.delay(["u@a.example"], at=NOW - delayed, message_id="m1")
    pipeline.feed(f.raw(body), "q", NOW - delayed - behind)
    if behind:
        pipeline.ledger.stepped(behind, NOW - 300)
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    blob = snapshot(pipeline.ledger, evaluator, NOW)
    pipeline = Pipeline(core_settings(parse_config("")))
    restore(blob, pipeline.ledger, evaluator, NOW - HOUR)
    pipeline.ledger.stepped(HOUR, NOW + 600)
    pending = pipeline.ledger.pending
    assert pending.count("a.example", NOW - delayed + LONGEST_DELAY - 1) == 1
    assert pending.count("a.example", NOW - delayed + LONGEST_DELAY) == 0


def test_a_delay_on_the_clock_set_right_moves_with_no_step_taken_back() -> None:
    """The clock is SES's: a recipient delayed at NOW. The clock flaps an hour ahead
    and back, and steps no clock can tell are measured (NaN, infinity either way, or
    a step measured at an unreadable clock): the delay pends until 16 h after it,
    as SES tries it."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.example",), NOW, None)
    pending.stepped(HOUR, NOW + 60 + HOUR)
    pending.stepped(-HOUR, NOW + 120)
    for step, at in [(float("nan"), NOW), (float("inf"), NOW), (-float("inf"), NOW),
                     (HOUR, float("nan")), (-HOUR, float("inf"))]:  # fmt: skip
        pending.stepped(step, at)
    assert pending.next_expiry(NOW) == NOW + LONGEST_DELAY
    assert pending.snapshot()["moved"] == []


def test_ntp_s_step_moves_a_delay_as_far_as_its_clock_was_behind() -> None:
    """SES delays a recipient at NOW, read at once on a clock two hours behind (dated
    on it); five minutes on the clock steps an hour further back, and ten minutes on
    NTP steps it the three hours ahead. The delay pends until 16 h after SES's time.
    Left, the step back would move nothing of it (nothing moved to take back), and
    NTP's step, taken as one SES dated it on, would move none of it (dated ahead of the
    clock that step left): it would expire two hours before SES gives up."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.example",), NOW - 2 * HOUR, None)
    pending.stepped(-HOUR, NOW - 3 * HOUR + 300)
    pending.stepped(3 * HOUR, NOW + 600)
    assert pending.next_expiry(NOW) == NOW + LONGEST_DELAY


def test_a_file_two_days_ahead_of_the_clock_has_its_moves_held_to_it() -> None:
    """Recipient 1 delayed at SES's NOW on the clock three hours behind, and NTP's
    step; recipient 2 delayed a minute on, and NTP's step of a second after it;
    recipient 3 delayed after that (none moved). Read back on a clock two days
    behind the file (taken as damaged, as its alert times are: none moved back),
    neither move is kept (each first time is ahead of the clock): each pends 16 h
    after its first time as read; and NTP's step of the two days then moves none of
    them (dated ahead of the clock it left)."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.example",), BEHIND, None)
    pending.stepped(3 * HOUR, NOW)
    pending.delayed(2, ("b.example",), NOW + 60, None)
    pending.stepped(1.0, NOW + 121)
    pending.delayed(3, ("c.example",), NOW + 180, None)
    assert pending.next_expiry(NOW + 60 + LONGEST_DELAY) == NOW + 60 + LONGEST_DELAY + 1
    again = PendingDelays(100)
    again.restore(pending.snapshot())
    again.held_to(NOW - 2 * 86400.0)
    again.stepped(2 * 86400.0, NOW + 600)
    assert again.next_expiry(NOW) == BEHIND + LONGEST_DELAY
    assert again.next_expiry(BEHIND + LONGEST_DELAY) == NOW + 60 + LONGEST_DELAY
    assert again.next_expiry(NOW + 60 + LONGEST_DELAY) == NOW + 180 + LONGEST_DELAY


def test_a_step_back_before_a_save_is_kept_across_a_start_behind_it() -> None:
    """The clock is SES's: a recipient delayed at NOW; a minute on the clock steps ten
    minutes back (wrongly), sesd saves a minute later and starts again on a clock an
    hour behind the save (held to the save's clock, then stepped back the hour, as a
    start behind the save does: sesd.core.ledger_steps.restored_behind); two minutes
    after NOW by SES's clock NTP steps it the 70 minutes ahead. The delay pends until 16 h after
    it. Were the ten minutes' step back not kept through the start, NTP's step would
    move it two minutes past SES's 16 h."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.example",), NOW, None)
    pending.stepped(-600.0, NOW - 540)
    again = PendingDelays(100)
    again.restore(pending.snapshot())
    again.held_to(NOW - 480)
    again.stepped(-HOUR, NOW - 480 - HOUR)
    again.stepped(4200.0, NOW + 120)
    assert again.next_expiry(NOW) == NOW + LONGEST_DELAY


def test_a_delivery_after_a_step_back_ends_a_delay_dated_before_it() -> None:
    """The clock is SES's: a recipient delayed a minute before NOW; at NOW the clock
    steps an hour back (wrongly), and SES's Delivery a minute after NOW is read on it
    (dated on it: it is from ahead of it, 59 minutes before the delay as dated). It
    ends the delay, timed two minutes as SES's times say. Before: the Delivery was
    taken as one before the delay, which pended on until its 16 h."""
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delay(["u@a.example"], at=NOW - 60, message_id="m1")), "q", NOW)
    pipeline.ledger.stepped(-HOUR, NOW - HOUR)
    pending = pipeline.ledger.pending
    assert pending.resolved(2, NOW - HOUR) is None  # (another recipient's: none)
    body = f.delivery(["u@a.example"], at=NOW + 60, message_id="m1")
    pipeline.feed(f.raw(body), "q", NOW - HOUR + 60)
    assert len(pending) == 0
    assert pending.count("a.example", NOW - HOUR + 60) == 0
    table = PendingDelays(100)  # the same, in the table alone: timed
    table.delayed(1, ("a.example",), NOW - 60, None)
    table.stepped(-HOUR, NOW - HOUR)
    assert table.resolved(1, NOW - HOUR + 60) == (("a.example",), 120.0)


def test_after_a_step_back_a_delivery_is_timed_across_it_and_its_move_goes() -> None:
    """The clock is SES's: recipients 1 and 2 delayed a minute before NOW; at NOW the
    clock steps an hour back (wrongly); 3 is delayed two minutes after the step, on the
    clock behind. A Delivery of 3 a minute before its delay ends nothing (none of the
    step's moves is its); 1's, an hour before its delay as dated, SES's instant of it,
    ends it timed none, and 2's at its delay's dated time ends it timed none as well
    (not the step: its clock may have been ahead, dated at SES's times). Neither's move
    is kept once it ended. A delay across a step of a second ahead is timed without
    that second."""
    table = PendingDelays(100)
    for key in (1, 2):
        table.delayed(key, ("a.example",), NOW - 60, None)
    table.stepped(-HOUR, NOW - HOUR)
    table.delayed(3, ("b.example",), NOW - HOUR + 120, None)
    assert table.resolved(3, NOW - HOUR + 60) is None
    assert table.resolved(1, NOW - 60 - HOUR) == (("a.example",), 0.0)
    assert table.resolved(2, NOW - 60) == (("a.example",), 0.0)
    assert table.snapshot()["moved"] == []
    assert len(table) == 1
    table.delayed(4, ("a.example",), NOW, None)
    table.stepped(1.0, NOW + 61)
    assert table.resolved(4, NOW + 121) == (("a.example",), 120.0)


def test_a_step_back_s_moves_go_with_the_delays_and_the_recipients_given_up_on() -> None:
    """A table of four (three at one domain): 1 to 3 delayed a minute before NOW, 4 and
    7 refused (the older generation of those given up on); the clock steps an hour
    back. The delays held pend their 16 h (a step back shortens none). 1 and 2 are
    delivered; 4 and 7 retried, held; 5 delayed on the clock behind with SES's expiry
    ten minutes on, housekeeping then forgets. 4 is delivered (timed from its first
    delay, across the step): its move is kept while it is remembered as given up on.
    Two more refusals forget 4 and 7 as given up on: 4's move goes, 7's stays while 7
    is held. The moves kept are those of 3 and 7."""
    table = PendingDelays(4)
    for key in (1, 2, 3, 4, 7):
        table.delayed(key, ("a.example",), NOW - 60, None)
    assert table.overflow == 2
    table.stepped(-HOUR, NOW - HOUR)
    assert table.count("a.example", NOW - 60 + LONGEST_DELAY - 1) == 3
    for key in (1, 2):
        assert table.resolved(key, NOW - HOUR + 60) == (("a.example",), 120.0)
    for key in (4, 7):
        table.delayed(key, ("a.example",), NOW - HOUR + 120, None)
    table.delayed(5, ("b.example",), NOW - HOUR + 60, NOW - HOUR + 600)
    assert table.expire(NOW - HOUR + 600) == 1
    assert table.resolved(4, NOW - HOUR + 180) == (("a.example",), 240.0)
    assert _moved(table) == {3, 4, 7}
    for key in (8, 9, 10):
        table.delayed(key, ("a.example",), NOW - HOUR + 240, None)
    assert table.overflow == 4
    assert _moved(table) == {3, 7}


def _moved(table: PendingDelays) -> set[int]:
    """The recipients whose moves the state file keeps."""
    rows = table.snapshot()["moved"]
    assert isinstance(rows, list)
    return {key for key, _ in rows}


def test_a_retry_dated_on_a_clock_stepped_back_keeps_the_first_delay_s_time() -> None:
    """The clock is SES's: recipients 1, 2 (a.example) and 3 delayed ten minutes before
    NOW fill a table of four with 5; 4 (d.example) is refused. At NOW the clock steps
    an hour back (wrongly); 5 is delivered; SES retries 1 and 4 five minutes after NOW,
    read on the clock behind (55 minutes before their first delay as dated); ten
    minutes after NOW NTP steps the clock the hour ahead. 1 and 4 pend until 16 h after
    their first delay, as SES tries them, and 1's Delivery 20 minutes after NOW is
    timed 30 minutes. Before: each retry became its first time, and NTP's step took
    the step back's move away: they expired 45 minutes early, 1 timed 75 minutes.
    2's retry dated where the step put its first delay keeps it too. And on a clock
    three hours behind, a delay NTP's step moved, then a delay of the same recipient
    SES dated four hours before NOW (a backlog): it pends until 16 h after that, not
    the step longer; one the full table refused, again at its first time, keeps the
    step's move."""
    first = NOW - 600
    table = PendingDelays(4)
    for key, domain in ((1, "a"), (2, "a"), (3, "b"), (5, "c"), (4, "d")):
        table.delayed(key, (f"{domain}.example",), first, None)
    assert table.overflow == 1
    table.stepped(-HOUR, NOW - HOUR)
    table.resolved(5, NOW - HOUR + 60)
    for key, domain in ((1, "a"), (4, "d")):
        table.delayed(key, (f"{domain}.example",), NOW + 300 - HOUR, None)
    table.delayed(2, ("a.example",), first - HOUR, None)  # (where the step put its first)
    assert table.count("a.example", first + LONGEST_DELAY - 1) == 2
    table.stepped(HOUR, NOW + 600)
    for domain, held in (("a.example", 2), ("d.example", 1)):
        assert table.count(domain, first + LONGEST_DELAY - 1) == held
        assert table.count(domain, first + LONGEST_DELAY) == 0
    assert table.resolved(1, NOW + 1200) == (("a.example",), 1800.0)
    backlog = PendingDelays(2)
    for key, domain in ((1, "a"), (3, "c"), (2, "b")):
        backlog.delayed(key, (f"{domain}.example",), BEHIND, None)
    backlog.stepped(3 * HOUR, NOW + 60)
    backlog.resolved(3, NOW + 120)
    backlog.delayed(1, ("a.example",), NOW - 4 * HOUR, None)
    backlog.delayed(2, ("b.example",), BEHIND, None)  # (at its first time: moved still)
    assert backlog.next_expiry(NOW) == NOW - 4 * HOUR + LONGEST_DELAY
    assert backlog.count("b.example", NOW + LONGEST_DELAY - 1) == 1


def test_a_delivery_read_before_ntp_s_step_ends_a_delay_sqs_brings_after_it() -> None:
    """SES delivers recipient 1 at its NOW, read at once on the host's clock three hours
    behind (dated on it: it is from ahead of it); NTP steps the clock the three hours
    ahead, and then SQS brings the recipient's DeliveryDelay, SES's ten minutes before
    the Delivery (held up). The delay is over, timed ten minutes: nothing pends. So
    through the pipeline: the pending gauge reads none. Before: the Delivery stayed at
    its time on the clock behind, three hours before the delay, and the delay pended
    until its 16 h, ended by nothing."""
    pending = PendingDelays(100)
    assert pending.resolved(1, BEHIND) is None
    pending.stepped(3 * HOUR, NOW + 60)
    assert pending.delayed(1, ("a.example",), NOW - 600, None) == (("a.example",), 600.0)
    assert len(pending) == 0
    at_once = PendingDelays(100)  # NTP's step from the very time the Delivery is dated
    assert at_once.resolved(1, BEHIND) is None
    at_once.stepped(3 * HOUR, NOW)
    assert at_once.delayed(1, ("a.example",), NOW - 600, None) == (("a.example",), 600.0)
    pipeline = Pipeline(core_settings(CONFIG))
    pipeline.feed(f.raw(f.delivery(["u@a.example"], at=NOW, message_id="m1")), "q", BEHIND)
    pipeline.ledger.stepped(3 * HOUR, NOW + 60)
    body = f.delay(["u@a.example"], at=NOW - 600, message_id="m1")
    pipeline.feed(f.raw(body), "q", NOW + 120)
    assert pipeline.ledger.pending.count("a.example", NOW + 120) == 0


def test_a_step_back_moves_no_delivery_a_delay_sqs_brings_after_it_is_held_to() -> None:
    """The clock is SES's: recipients 1 and 2 delivered at NOW. The clock then steps an
    hour back (wrongly), and SQS brings their DeliveryDelays: 1's SES dated two hours
    before NOW, 2's five minutes before (from ahead of the clock behind: dated on it).
    Both are over, nothing pends: 1's is timed its two hours, 2's from where the clock
    behind dated it (no longer than the step: where SES dated it is lost). Moved back
    with the clock, the Deliveries would be dated before 2's delay (it would pend its
    16 h) and an hour after 1's."""
    pending = PendingDelays(100)
    for key in (1, 2):
        assert pending.resolved(key, NOW) is None
    pending.stepped(-HOUR, NOW - HOUR)
    assert pending.delayed(1, ("a.example",), NOW - 2 * HOUR, None) == (("a.example",), 2 * HOUR)
    assert pending.delayed(2, ("a.example",), NOW - HOUR + 120, None) == (
        ("a.example",),
        HOUR - 120,  # (from where the clock behind dated it: SES's time of it is lost)
    )
    assert len(pending) == 0


def test_a_clock_flapping_back_and_ahead_moves_no_delivery_read_before_it() -> None:
    """Recipient 1 delivered at SES's NOW on a clock set right. The clock then flaps an
    hour back and ahead four times, 70 minutes behind each time (past NOW before each
    step ahead); recipient 2 is delivered from ahead of it during the last (dated on
    it). SQS then brings their DeliveryDelays, SES's ten minutes before each Delivery:
    both are over, each timed its ten minutes. Before: each step ahead moved 1's
    Delivery its hour (the clock behind had passed it), and its delay was timed four
    hours and ten minutes."""
    pending = PendingDelays(100)
    assert pending.resolved(1, NOW) is None
    at = NOW
    for _ in range(4):
        pending.stepped(-HOUR, at + 600 - HOUR)
        if at == NOW + 3 * 4800:  # (the last time behind: 2 delivered at SES's at + 4000)
            assert pending.resolved(2, at + 4000 - HOUR) is None
        at += 4800
        pending.stepped(HOUR, at)
    assert pending.delayed(1, ("a.example",), NOW - 600, None) == (("a.example",), 600.0)
    ses = NOW + 3 * 4800 + 4000
    assert pending.delayed(2, ("a.example",), ses - 600, None) == (("a.example",), 600.0)
    assert len(pending) == 0


def test_a_step_of_a_full_table_holds_little_memory_beyond_the_moves_it_keeps() -> None:
    """A table of 20,000 delays (a domain and a provider each) and 10,000 Deliveries
    remembered; the clock steps an hour ahead, back, and ahead again. At its peak each
    step holds no more than 100 bytes a delay beyond what the table held before it (the
    move kept of each delay, about half of that, among them). Before: 185, the moves
    made as a list first and the heap and each label's expiries made beside the old
    ones: a million delays' step took 220 MB more for a moment."""
    most = measured_alone(_most_per_delay)
    assert most < 100, most


def _most_per_delay() -> float:
    """The most a step of the table holds at its peak beyond what the table held before
    it, per delay."""
    peaks = []
    tracemalloc.start()
    try:
        pending = PendingDelays(20_000, scopes=2)
        for key in range(20_000):
            pending.delayed(key, ("a.example", "p.example"), BEHIND + key / 100, None)
        for key in range(20_000, 30_000):
            pending.resolved(key, BEHIND + key / 100)
        for step, at in ((HOUR, NOW), (-HOUR, NOW - HOUR + 60), (HOUR, NOW + 120)):
            gc.collect()
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            pending.stepped(step, at)
            peaks.append((tracemalloc.get_traced_memory()[1] - held) / 20_000)
    finally:
        tracemalloc.stop()
    assert pending.next_expiry(NOW) == BEHIND + LONGEST_DELAY + HOUR  # (moved as ever)
    return max(peaks)


def test_a_retry_held_before_ntp_s_step_moves_once() -> None:
    """A table of four on the clock three hours behind: recipients 1 to 4 delayed at
    SES's NOW (dated on the clock), 5 refused (its domain's share full); 1 is
    delivered a minute on, and SES's retry of 5 ten minutes on is held, from its first
    delay. NTP then steps the clock the three hours ahead: 5 pends until 16 h after
    SES's first delay, and its Delivery 15 h after it is timed 15 h. Moved once as a
    delay held and again as a recipient given up on, it would pend the step past SES's
    16 h less the ten minutes, timed that much less."""
    pending = PendingDelays(4)
    for key in (1, 2, 3, 4, 5):  # (4 at another domain: one holds three quarters)
        pending.delayed(key, ("b.example" if key == 4 else "a.example",), BEHIND, None)
    assert pending.overflow == 1
    pending.resolved(1, BEHIND + 60)
    pending.delayed(5, ("a.example",), BEHIND + 600, None)
    assert len(pending) == 4
    pending.stepped(3 * HOUR, NOW + 700)
    assert pending.count("a.example", NOW + LONGEST_DELAY - 1) == 3
    assert pending.count("a.example", NOW + LONGEST_DELAY) == 0
    assert pending.resolved(5, NOW + 15 * HOUR) == (("a.example",), 15 * HOUR)


@pytest.mark.parametrize("size", [100, 4], ids=["one generation", "two generations"])
def test_two_steps_back_then_ntp_s_step_move_each_delivery_as_its_clock_was_behind(
    size: int,
) -> None:
    """The clock is SES's: recipients 1 and 3 delivered at NOW. A minute on the clock
    steps an hour back (wrongly); 2 is delivered at SES's NOW + 2 min, read at once on
    the clock behind (dated on it: from ahead of it); a minute later the clock steps
    ten minutes further back, runs past NOW, and NTP steps it the 70 minutes ahead. SQS
    then brings the recipients' DeliveryDelays, SES's ten minutes before each
    Delivery: each is over, timed its ten minutes. 2's Delivery is moved the hour its
    clock was behind, 1's and 3's none. In a table of four, 1's and 3's Deliveries
    are the older of the two generations remembered when the clock steps back. Left,
    a step back crediting the newer generation alone moved 1 and 3 the 70 minutes, a
    second step back taking credit from what the first kept moved them 20 minutes, and
    one crediting nothing to those remembered since the first moved 2 the 70 minutes:
    each delay timed that much longer."""
    pending = PendingDelays(size)
    for key in (1, 3):
        assert pending.resolved(key, NOW) is None
    pending.stepped(-HOUR, NOW + 60 - HOUR)
    assert pending.resolved(2, NOW + 120 - HOUR) is None
    pending.stepped(-600.0, NOW + 180 - HOUR - 600)
    pending.stepped(4200.0, NOW + 60 + 4200)
    for key, delivered in ((1, NOW), (3, NOW), (2, NOW + 120)):
        assert pending.delayed(key, ("a.example",), delivered - 600, None) == (
            ("a.example",),
            600.0,
        )
    assert len(pending) == 0


def test_a_step_ahead_past_the_one_back_moves_no_delivery_read_before_them() -> None:
    """The clock is SES's: recipient 1 delivered at NOW. A minute on the clock steps an
    hour back, and ten minutes later two hours ahead (an hour past SES's). SQS then
    brings the recipient's DeliveryDelay, SES's ten minutes before the Delivery: over,
    timed ten minutes. The Delivery is ahead of the clock the step ahead left: it was
    not read on a clock behind. Moved as far as the step ahead outdid the one back, the
    delay was timed an hour longer."""
    pending = PendingDelays(100)
    assert pending.resolved(1, NOW) is None
    pending.stepped(-HOUR, NOW + 60 - HOUR)
    pending.stepped(2 * HOUR, NOW + 660 + HOUR)
    assert pending.delayed(1, ("a.example",), NOW - 600, None) == (("a.example",), 600.0)


def test_a_clock_partly_set_keeps_the_rest_of_a_step_back_against_ntp_s_step() -> None:
    """The host's clock is an hour behind SES's: recipient 1 is delivered at SES's NOW,
    read at once on it (dated on it). A minute on the clock steps ten minutes further
    back (wrongly), five minutes later five minutes ahead; it runs past the Delivery as
    dated, and NTP steps it the 65 minutes ahead. SQS then brings the recipient's
    DeliveryDelay, SES's five minutes before the Delivery: over, timed five minutes.
    The Delivery moved the hour its clock was behind SES's. Had the partial step added
    its five minutes to the ten kept against the next step ahead, NTP's step would have
    moved it 50 minutes, left before its delay: that would have pended its 16 h."""
    pending = PendingDelays(100)
    assert pending.resolved(1, NOW - HOUR) is None
    pending.stepped(-600.0, NOW + 60 - HOUR - 600)
    pending.stepped(300.0, NOW + 360 - HOUR - 300)
    pending.stepped(3900.0, NOW + 100 - HOUR + 3900)
    assert pending.delayed(1, ("a.example",), NOW - 300, None) == (("a.example",), 300.0)
    assert len(pending) == 0


def test_a_restart_moves_no_delay_no_step_moved() -> None:
    """Recipient 3 delayed ten minutes before NOW by SES's clock, read at once on the
    host's three hours behind (dated on it), and NTP's step a minute before NOW; then 1
    delayed at NOW, 2 half a second before sesd saves at NOW. Read back and held to the
    save's clock, 3 keeps the step's move, and 1 and 2 pend until 16 h after their
    delays, no longer."""
    pending = PendingDelays(100)
    pending.delayed(3, ("c.example",), BEHIND - 600, None)
    pending.stepped(3 * HOUR, NOW - 60)
    pending.delayed(1, ("a.example",), NOW, None)
    pending.delayed(2, ("b.example",), NOW - 0.5, None)
    again = PendingDelays(100)
    again.restore(pending.snapshot())
    again.held_to(NOW)
    assert _moved(again) == {3}
    assert again.next_expiry(NOW) == NOW - 600 + LONGEST_DELAY
    assert again.count("b.example", NOW - 0.5 + LONGEST_DELAY - 0.25) == 1
    assert again.count("b.example", NOW - 0.5 + LONGEST_DELAY) == 0
    assert again.count("a.example", NOW + LONGEST_DELAY) == 0


def test_a_step_back_kept_across_a_start_days_behind_the_save_moves_no_delay() -> None:
    """The clock is SES's: a recipient delayed at NOW; a minute on the clock steps ten
    minutes back (wrongly), sesd saves a minute later and starts again on a clock two
    days behind the save (a file more than a day ahead is taken as damaged: nothing
    moved back); 30 minutes after NOW by SES's clock NTP steps it the two days and ten
    minutes ahead. The delay pends until 16 h after it, as SES tries it. Before: the
    step back's move was kept against NTP's step, which moved the delay, first seen
    ahead of the clock it left, as far as it was old: 30 minutes past SES's 16 h."""
    pipeline = Pipeline(core_settings(CONFIG))
    pipeline.feed(f.raw(f.delay(["u@a.example"], at=NOW, message_id="m1")), "q", NOW)
    pipeline.ledger.stepped(-600.0, NOW - 540)
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    blob = snapshot(pipeline.ledger, evaluator, NOW - 480)
    pipeline = Pipeline(core_settings(CONFIG))
    restore(blob, pipeline.ledger, evaluator, NOW - 480 - 2 * 86400.0)
    pipeline.ledger.stepped(2 * 86400.0 + 600, NOW + 1800)
    assert pipeline.ledger.pending.next_expiry(NOW) == NOW + LONGEST_DELAY


def test_a_table_read_back_moves_each_delivery_at_ntp_s_step_as_the_saved_one() -> None:
    """The clock is SES's: recipients 1 to 4 delivered at NOW, the older generation of
    a table of eight once they are. A minute on the clock steps an hour back
    (wrongly); 5 is delivered two minutes after NOW and 1 again five seconds later,
    each read at once on the clock behind (dated on it); a minute on it steps ten
    minutes further back, and 6 is delivered after that. sesd saves, and reads the
    file back. NTP then steps the clock the 70 minutes ahead, and SQS brings each
    recipient's DeliveryDelay, SES's ten minutes before NOW: over, each timed as far as
    its Delivery was from it (its clock as far behind as the step set right, each read
    before a step back moved none of what that step back took), as in the table saved.
    Before: the file kept no step back, and NTP's step moved each Delivery the 70
    minutes: 2 to 4 were timed 80 minutes, 1 and 5 ten minutes longer than they were."""
    tables = [PendingDelays(8)]
    saved = tables[0]
    for key in (1, 2, 3, 4):
        assert saved.resolved(key, NOW) is None
    saved.stepped(-HOUR, NOW + 60 - HOUR)
    assert saved.resolved(5, NOW + 120 - HOUR) is None
    assert saved.resolved(1, NOW + 125 - HOUR) is None
    saved.stepped(-600.0, NOW + 180 - HOUR - 600)
    assert saved.resolved(6, NOW + 200 - HOUR - 600) is None
    tables.append(PendingDelays(8))
    tables[1].restore(msgspec.msgpack.decode(msgspec.msgpack.encode(saved.snapshot())))
    timed = {1: 725.0, 2: 600.0, 3: 600.0, 4: 600.0, 5: 720.0, 6: 800.0}
    for table in tables:
        table.stepped(4200.0, NOW + 2 * HOUR)
        for key, seconds in timed.items():
            assert table.delayed(key, ("a.example",), NOW - 600, None) == (
                ("a.example",),
                seconds,
            )


def test_a_table_read_back_keeps_each_step_back_past_one_remembered_again_after_it() -> None:
    """The clock is SES's: recipients 1 to 4 delivered at NOW, the older generation of
    a table of eight once they are. A minute on the clock steps an hour back
    (wrongly), and SES's Bounce of 1 (after its Delivery) is read a minute later on
    the clock behind: the newer generation's, the first row of the file, with no step
    back since. sesd saves, and reads the file back. Two hours on, NTP sets the clock
    in two steps, ten minutes then 50, and SQS brings each recipient's DeliveryDelay,
    SES's ten minutes before NOW: over, 2 to 4 timed ten minutes and 1 to its Bounce,
    as in the table saved. Read back in the file's order, the Bounce of 1 without a
    step back came before those with one, and 2 to 4 lost theirs: NTP's steps moved
    each the hour, and each delay was timed 70 minutes."""
    tables = [PendingDelays(8)]
    saved = tables[0]
    for key in (1, 2, 3, 4):
        assert saved.resolved(key, NOW) is None
    saved.stepped(-HOUR, NOW + 60 - HOUR)
    assert saved.resolved(1, NOW + 120 - HOUR) is None
    tables.append(PendingDelays(8))
    tables[1].restore(msgspec.msgpack.decode(msgspec.msgpack.encode(saved.snapshot())))
    timed = {1: 720.0, 2: 600.0, 3: 600.0, 4: 600.0}
    for table in tables:
        table.stepped(600.0, NOW + 2 * HOUR)
        table.stepped(3000.0, NOW + 2 * HOUR + 3060)
        for key, seconds in timed.items():
            assert table.delayed(key, ("a.example",), NOW - 600, None) == (
                ("a.example",),
                seconds,
            )


def test_deliveries_remembered_ahead_of_the_restart_are_held_to_it_in_both_generations() -> None:
    """A state file read back into a table of six (three resolutions a generation): the
    Deliveries of recipients 1 to 3 remembered a day ahead of the restart's clock (a
    damaged file, a hand's edit), and recipient 4's two hours ahead with a step back of
    an hour since (saved on a clock stepped an hour back; read on one a further hour
    behind, a step while sesd was stopped that nothing told). The restart holds 1 to 3
    to its clock, those of the older generation too, and 4 to an hour past it, as far
    as its step back explains. A DeliveryDelay of each that SQS brings then, SES's half
    an hour after the restart's clock, is of a delay not over for 1 to 3 (it pends),
    and over for 4, timed the half hour to its Delivery. Left a day ahead, a Delivery
    ended a delay begun nearly a day after it; held to the clock, or behind it by the
    step back, 4's Delivery ended nothing."""
    table = PendingDelays(6)
    rows: list[list[float]] = [[key, NOW + DAY] for key in (1, 2, 3)]
    table.restore({"pending": [], "resolved": [*rows, [4, NOW + 2 * HOUR, HOUR]]})
    table.held_to(NOW)
    for key in (1, 2, 3):
        assert table.delayed(key, ("a.example",), NOW + 1800, None) is None
    assert table.delayed(4, ("a.example",), NOW + 1800, None) == (("a.example",), 1800.0)
    assert len(table) == 3


def test_deliveries_of_two_steps_back_and_of_one_are_each_held_as_far_as_theirs() -> None:
    """A state file read back on a clock behind its Deliveries: recipient 1's two hours
    ahead of the restart's clock with two steps back of an hour since, 2's with one, 3's
    with none (saved on a clock stepped back, read on one further behind). The restart
    holds each as far as its own steps back explain: 1 two hours past the clock, 2 one
    hour, 3 to the clock. A DeliveryDelay of each that SQS brings then, SES's half an
    hour after the restart's clock: over for 1 and 2, timed to their Deliveries (90 and
    30 minutes), pending for 3, whose Delivery held to the clock came before it."""
    table = PendingDelays(100)
    ahead = NOW + 2 * HOUR
    table.restore({"pending": [], "resolved": [[1, ahead, 2 * HOUR], [2, ahead, HOUR], [3, ahead]]})
    table.held_to(NOW)
    assert table.delayed(1, ("a.example",), NOW + 1800, None) == (("a.example",), 5400.0)
    assert table.delayed(2, ("a.example",), NOW + 1800, None) == (("a.example",), 1800.0)
    assert table.delayed(3, ("a.example",), NOW + 1800, None) is None
    assert len(table) == 1


def test_what_a_step_ahead_left_of_a_step_back_is_read_back_beside_deliveries_with_none() -> None:
    """A state file whose Delivery remembered for recipient 1 at NOW carries half a
    second of a step back (a clock stepped ten minutes back, then NTP's step of 599.5 s
    ahead: what it did not take back), after recipient 2's, remembered since with none.
    NTP then steps the clock two days ahead, and SQS brings each recipient's
    DeliveryDelay, SES's ten minutes before NOW: 1's Delivery is moved the half second
    less than 2's, as in the table saved. A credit under a second is a step back's as
    any is (what a step measured leaves of one), and read after a row with none it is
    still its row's."""
    table = PendingDelays(100)
    table.restore({"pending": [], "resolved": [[2, NOW], [1, NOW, 0.5]]})
    table.stepped(2 * DAY, NOW + 2 * DAY + 60)
    assert table.delayed(1, ("a.example",), NOW - 600, None) == (
        ("a.example",),
        600.0 + 2 * DAY - 0.5,
    )
    assert table.delayed(2, ("a.example",), NOW - 600, None) == (
        ("a.example",),
        600.0 + 2 * DAY,
    )


@pytest.mark.parametrize(
    ("credit", "kept"),
    [
        (1e300, DAY),
        (DAY + 1, DAY),
        (float("nan"), 0.0),
        (float("inf"), 0.0),
        (-5.0, 0.0),
        ("an hour", 0.0),
        (True, 0.0),
    ],
)
def test_a_credit_saved_past_a_day_is_a_day_and_one_not_read_is_none(
    credit: object, kept: float
) -> None:
    """A state file whose Delivery remembered for recipient 1 at NOW carries ``credit``
    (a damaged file, a hand's edit). NTP then steps the clock two days ahead, and SQS
    brings the recipient's DeliveryDelay, SES's ten minutes before NOW: timed as far as
    the step moved the Delivery past NOW. A credit past a day (a step back that long is
    read as a damaged file's, as a save time that far ahead is) moves it the step less
    a day; one that is not a number of seconds above none, the step."""
    table = PendingDelays(100)
    table.restore({"pending": [], "resolved": [[1, NOW, credit]]})
    table.stepped(2 * DAY, NOW + 2 * DAY + 60)
    assert table.delayed(1, ("a.example",), NOW - 600, None) == (
        ("a.example",),
        600.0 + 2 * DAY - kept,
    )
