"""Delayed recipients pending until delivered, bounced or expired, on their own and
through the pipeline."""

from __future__ import annotations

import time

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.dedup import stable_key
from sesd.core.domains import recipient_key
from sesd.core.events import EVENT_TYPES, LONGEST_DELAY
from sesd.core.pending import DEFAULT_EXPIRY, PendingDelays
from sesd.core.pending_keys import legacy_pending_key, pending_key
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests import factory as f

NOW = f.T0 + 10
CONFIG = parse_config("")


def test_delay_then_delivery_gives_its_duration() -> None:
    """A delayed recipient is pending until its Delivery, which reports how long it waited."""
    pending = PendingDelays(100)
    key = pending_key("m1", "A@example.org")
    assert pending.delayed(key, ("example.org",), 100, 1000) is None
    pending.delayed(key, ("example.org",), 160, 1200)  # a second delay keeps the first time
    assert pending.count("example.org", 200) == 1
    assert pending.resolved(pending_key("m1", "a@example.org"), 400) == (("example.org",), 300)
    assert pending.count("example.org", 400) == 0
    assert pending.resolved(key, 500) is None


def test_a_delivery_processed_before_its_delay_still_resolves_it() -> None:
    """SQS keeps no order: the Delivery (event time 400) arrives before the DeliveryDelay
    (event time 100). The delay is over: nothing is pending, and its length is known.
    A delay after the last resolution it could belong to is pending as usual."""
    pending = PendingDelays(100)
    key = pending_key("m1", "a@example.org")
    assert pending.resolved(key, 400) is None  # nothing pending yet
    assert pending.delayed(key, ("example.org",), 100, 5000) == (("example.org",), 300)
    assert pending.count("example.org", 150) == 0
    assert len(pending) == 0
    other = pending_key("m2", "a@example.org")
    pending.resolved(other, 100)
    assert pending.delayed(other, ("example.org",), 160, 5000) is None
    assert pending.count("example.org", 200) == 1


def test_a_delivery_before_the_delay_in_event_time_does_not_resolve_it() -> None:
    """A Delivery stamped before the pending delay began leaves the delay pending."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.com",), 100, 1000)
    assert pending.resolved(1, 50) is None
    assert pending.count("a.com", 200) == 1


def test_counting_is_a_pure_function_of_time() -> None:
    """Past its expiry a delay stops counting at once; a read at an earlier time (the
    clock stepped ahead, then back) still counts it: nothing was forgotten."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.com",), 0, 50)
    pending.delayed(2, ("a.com",), 0, 500)
    assert pending.count("a.com", 49) == 2
    assert pending.count("a.com", 50) == 1  # expirationTime reached
    assert pending.count("a.com", 600) == 0  # a jump ahead...
    assert pending.count("a.com", 49) == 2  # ...and back
    assert pending.counts(100) == {"a.com": 1}


def test_expire_forgets_for_good_and_default_expiry() -> None:
    """expire(before) removes what expired at or before ``before``; without an
    expirationTime a delay expires DEFAULT_EXPIRY after it began."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.com",), 0, 50)
    pending.delayed(2, ("a.com",), 0, None)
    assert pending.expire(49) == 0
    assert pending.expire(50) == 1
    assert pending.count("a.com", 0) == 1
    assert pending.count("a.com", DEFAULT_EXPIRY - 1) == 1
    assert pending.count("a.com", DEFAULT_EXPIRY) == 0
    assert pending.expire(DEFAULT_EXPIRY) == 1
    assert len(pending) == 0


def test_capacity_and_eviction() -> None:
    """Beyond max_entries delays are counted as overflow; an evicted label's entries go."""
    pending = PendingDelays(2)
    pending.delayed(1, ("a.com",), 0, 100)
    pending.delayed(2, ("b.com",), 0, 100)
    pending.delayed(3, ("b.com",), 0, 100)
    assert pending.overflow == 1
    pending.drop_labels(["b.com"])
    assert pending.counts(0) == {"a.com": 1}
    assert len(pending) == 1


def test_resolutions_are_remembered_within_a_bound() -> None:
    """Resolutions are kept in two generations of max_entries / 2: an old one is
    forgotten once enough newer ones came."""
    pending = PendingDelays(10)
    pending.resolved(1, 100)
    for key in range(100, 110):
        pending.resolved(key, 100)
    assert pending.delayed(1, ("a.com",), 50, 1000) is None  # forgotten: pending
    assert pending.delayed(109, ("a.com",), 50, 1000) == (("a.com",), 50)


def test_snapshot_round_trip() -> None:
    """Pending entries and recent resolutions survive the state file."""
    before = PendingDelays(100)
    before.delayed(pending_key("m1", "a@a.com"), ("a.com",), 0, 100)
    before.resolved(pending_key("m2", "b@a.com"), 30)
    after = PendingDelays(100)
    after.restore(before.snapshot())
    assert after.count("a.com", 10) == 1
    assert after.resolved(pending_key("m1", "a@a.com"), 30) == (("a.com",), 30)
    assert after.delayed(pending_key("m2", "b@a.com"), ("a.com",), 10, 100) == (("a.com",), 20)


def test_pending_keys_are_the_same_in_every_version() -> None:
    """Keys go into the state file: a recipient's key must not change between releases."""
    assert pending_key("m-1", " A@Example.org ") == stable_key("m-1", "a@example.org")
    assert pending_key("m-1", "a@example.org") == 0xBD7BD11A886508A4
    for address in ("Ann <Ann@Example.org>", "anna@bücher.de", "a@example.org.", "x"):
        assert pending_key("m-1", address) == stable_key("m-1", recipient_key(address))


def test_dropping_a_label_keeps_the_others() -> None:
    """An evicted label's pending entries go; another label's stay, held and counted."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.com",), 0, 100)
    pending.delayed(2, ("b.com",), 0, 100)
    pending.delayed(3, ("b.com",), 0, 100)
    pending.drop_labels(["a.com"])
    assert len(pending) == 2
    assert pending.counts(0) == {"b.com": 2}


def test_a_resolution_in_the_older_generation_and_at_the_same_instant() -> None:
    """A resolution remembered in the older generation still ends a later-processed
    delay; one at the delay's own instant ends it too, having lasted 0 s."""
    pending = PendingDelays(4)  # generations of 2 resolutions
    pending.resolved(1, 100)
    pending.resolved(2, 100)  # the current generation is full: it becomes the older one
    pending.resolved(3, 100)
    assert pending.delayed(1, ("a.com",), 50, 1000) == (("a.com",), 50)
    assert pending.delayed(3, ("a.com",), 100, 1000) == (("a.com",), 0)
    assert len(pending) == 0


def test_many_delays_for_one_recipient_keep_the_expiry_heap_small_and_right() -> None:
    """SES reports a long delay again and again: the expiry heap is rebuilt from the
    table when it outgrows it, and expiry still works."""
    pending = PendingDelays(10)
    for i in range(1200):
        pending.delayed(7, ("a.com",), float(i), 5000.0 + i)
    pending.delayed(8, ("a.com",), 0.0, 100.0)
    assert pending.expire(100.0) == 1
    assert pending.count("a.com", 6000.0) == 1
    assert pending.expire(6199.0) == 1
    assert len(pending) == 0


def test_restoring_more_than_the_table_holds() -> None:
    """A state file from a larger table: only max_entries are restored."""
    big = PendingDelays(5)
    for key in range(5):
        big.delayed(key, ("a.com",), 0, 100)
    small = PendingDelays(3)
    small.restore(big.snapshot())
    assert len(small) == 3
    assert small.count("a.com", 0) == 3


def test_restored_rows_of_one_label_share_it() -> None:
    """Rows read back from a state file, each its own decoded strings, keep one labels
    tuple among those equal (as rows made from events share their domain's strings):
    a full table restored held 200,000 tuples of 200,000 copies of a few hundred labels,
    a fifth of what a restore kept over what building it from events holds."""
    saved = PendingDelays(10, scopes=2)
    for key in range(4):
        saved.delayed(key, ("a.com", "gmail"), 0, 100)
    saved.delayed(9, ("b.com", "gmail"), 0, 100)
    read = msgspec.msgpack.decode(msgspec.msgpack.encode(saved.snapshot()))
    restored = PendingDelays(10, scopes=2)
    restored.restore(read)
    rows = [restored.resolved(key, 50) for key in (0, 1, 2, 3, 9)]
    labels = [row[0] for row in rows if row is not None]
    assert labels[0] == ("a.com", "gmail")
    assert all(found is labels[0] for found in labels[1:4])
    assert labels[4] == ("b.com", "gmail")


def test_resolutions_at_the_delays_instant_and_out_of_order_among_themselves() -> None:
    """A Delivery at the delay's own instant ends it (0 s). Of two resolutions of one
    recipient processed out of order, the later one counts."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.com",), 100, 1000)
    assert pending.resolved(1, 100) == (("a.com",), 0)
    pending.resolved(2, 200)
    pending.resolved(2, 100)  # stamped earlier, processed later
    assert pending.delayed(2, ("a.com",), 150, 1000) == (("a.com",), 50)


def test_the_smallest_table_remembers_one_resolution_a_generation() -> None:
    """max_entries 2: generations of one; after three resolutions the first is gone."""
    pending = PendingDelays(2)
    for key in (1, 2, 3):
        pending.resolved(key, 100)
    assert pending.delayed(1, ("a.com",), 50, 1000) is None
    assert pending.delayed(3, ("b.com",), 50, 1000) == (("b.com",), 50)


def test_expire_says_how_many_delays_it_forgot() -> None:
    """Two delays expiring together: expire() says two."""
    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), 0, 50)
    pending.delayed(2, ("a.com",), 0, 50)
    assert pending.expire(50) == 2


def test_retries_never_hold_a_delay_past_16_hours_after_its_first() -> None:
    """SES tries a recipient for 16 h at most. A retry without expirationTime every
    hour for 20 hours: pending until 16 h after the first delay, then not, whatever
    the retries after; a delay processed late but dated earlier (SQS keeps no order)
    moves that end earlier, as a restored state file's entry would end."""
    pending = PendingDelays(10)
    for hour in range(21):
        pending.delayed(1, ("a.com",), hour * 3600.0, None)
        if hour < 16:
            assert pending.count("a.com", hour * 3600.0) == 1, hour
    assert pending.count("a.com", LONGEST_DELAY - 1) == 1
    for now in (LONGEST_DELAY, 17 * 3600.0, 20 * 3600.0):
        assert pending.count("a.com", now) == 0, now
    assert pending.expire(LONGEST_DELAY) == 1
    pending.delayed(2, ("b.com",), 7200.0, 7200.0 + LONGEST_DELAY)
    pending.delayed(2, ("b.com",), 3600.0, None)
    assert pending.count("b.com", 3600.0 + LONGEST_DELAY - 1) == 1
    assert pending.count("b.com", 3600.0 + LONGEST_DELAY) == 0
    restored = PendingDelays(10)
    restored.restore(pending.snapshot())
    assert restored.count("b.com", 3600.0 + LONGEST_DELAY - 1) == 1
    assert restored.count("b.com", 3600.0 + LONGEST_DELAY) == 0


def test_a_chain_of_hourly_delays_through_the_pipeline_ends_16_hours_after_its_first() -> None:
    """A DeliveryDelay of one recipient every hour for 20 hours, none with an
    expirationTime, each processed as it comes, housekeeping run as the daemon runs
    it (which forgets an expired delay an hour later) and sesd restarted from its
    state at hour 18: the recipient, its domain's and its provider's pending counts
    hold it until 16 h after the first delay, then not, to the end; and the windows
    count it as one delayed recipient, not once more after it was forgotten."""
    pipeline = Pipeline(core_settings(parse_config("")))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    delays = EVENT_TYPES.index("delivery_delay")
    for hour in range(21):
        now = NOW + hour * 3600.0
        if hour == 18:
            blob = snapshot(pipeline.ledger, evaluator, now)
            pipeline = Pipeline(core_settings(parse_config("")))
            restore(blob, pipeline.ledger, evaluator, now)
        pipeline.housekeep(now)
        body = f.delay(["a@one.example"], at=now, message_id="m1")
        pipeline.feed(f.raw(body), "q", now)
        pending = pipeline.ledger.pending
        expected = 1 if hour < 16 else 0
        assert pending.count("one.example", now) == expected, hour
        assert sum(pending.counts(now, scope=1).values()) == expected, hour
        windows = pipeline.ledger.windows["one.example"]
        assert windows.figures(0, now).counts[delays] == (1 if hour == 0 else 0), hour


def _delayed_on_a_clock_3_hours_behind(restart: bool, stopped: bool = False) -> Pipeline:
    """A pipeline on a clock three hours behind SES's: a recipient of a.example delayed
    a minute before SES's NOW without an expirationTime, one of b.example with SES's
    expirationTime ten hours on, each dated on the clock, three hours early; then NTP
    steps the clock the three hours ahead (and sesd restarts from its state a minute
    on, with ``restart``; with ``stopped``, sesd saves a minute on and NTP steps the
    clock while it is down, 70 s on the boot clock, the start on the same boot)."""
    pipeline = Pipeline(core_settings(parse_config("")))
    behind = NOW - 3 * 3600.0
    for domain, expires in (("a.example", None), ("b.example", NOW + 10 * 3600.0)):
        body = f.delay([f"u@{domain}"], at=NOW - 60, expires=expires, message_id=domain)
        pipeline.feed(f.raw(body), "q", behind)
    if stopped:
        evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
        blob = snapshot(pipeline.ledger, evaluator, behind + 60, boot=["b1", 500.0])
        pipeline = Pipeline(core_settings(parse_config("")))
        restore(blob, pipeline.ledger, evaluator, NOW + 130, ["b1", 570.0])
        return pipeline
    pipeline.ledger.stepped(3 * 3600.0, NOW)
    if restart:
        evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
        blob = snapshot(pipeline.ledger, evaluator, NOW + 60)
        pipeline = Pipeline(core_settings(parse_config("")))
        restore(blob, pipeline.ledger, evaluator, NOW + 60)
    return pipeline


@pytest.mark.parametrize(
    ("restart", "stopped"),
    [(False, False), (True, False), (False, True)],
    ids=["step", "step then restart", "step while stopped"],
)
def test_delays_dated_on_a_clock_behind_pend_16_hours_once_ntp_sets_it(
    restart: bool, stopped: bool
) -> None:
    """The two delays dated three hours early on a clock behind, which NTP then sets
    (while sesd runs, or while it is down: the boot clock tells the step).
    Half an hour before 16 h after a.example's delay SES may still be trying it: it is
    pending, housekeeping keeps it, and its Delivery then ends it. b.example's expiry
    is SES's own time: it ends there, not moved.
    Before: a.example's delay expired three hours early (16 h after the clock's time),
    the gauge dropped it, housekeeping forgot it, and its Delivery ended nothing."""
    pipeline = _delayed_on_a_clock_3_hours_behind(restart, stopped)
    pending = pipeline.ledger.pending
    assert pending.count("b.example", NOW + 10 * 3600.0 - 1) == 1
    assert pending.count("b.example", NOW + 10 * 3600.0) == 0
    later = NOW + LONGEST_DELAY - 1800.0
    pipeline.housekeep(later)
    assert pending.count("a.example", later) == 1
    assert pending.count("a.example", NOW + LONGEST_DELAY) == 0  # (the clock's, moved)
    assert len(pending) == 1  # (b.example's, expired an hour before, forgotten)
    body = f.delivery(["u@a.example"], at=later, message_id="a.example")
    pipeline.feed(f.raw(body), "q", later)
    assert len(pending) == 0


@pytest.mark.parametrize(
    ("step", "times"), [(365 * 86400.0, 1), (3600.0, 90)], ids=["a year", "flapping"]
)
def test_steps_ahead_taken_back_move_no_delay_past_where_ntp_set_it(
    step: float, times: int
) -> None:
    """The two delays once NTP set the clock, then the clock stepped ``step`` ahead and
    back five minutes later, ``times`` times ten minutes apart (a year's once; an
    hour's for 15 hours, a host's time sync fighting NTP). a.example's delay pends
    until 16 h after SES's time, as NTP's step left it; b.example's expiry, SES's own,
    stays. Before: each step back held it to 16 h after the clock, so it pended the
    year's step back's minute longer, and the flapping clock's 15 hours longer (each
    step ahead added its hour to a bound that grew with the clock)."""
    pipeline = _delayed_on_a_clock_3_hours_behind(False)
    for n in range(times):
        at = NOW + 60 + n * 600.0
        pipeline.ledger.stepped(step, at + step)
        pipeline.ledger.stepped(-step, at + 300)
    pending = pipeline.ledger.pending
    assert pending.count("a.example", NOW + LONGEST_DELAY - 1) == 1
    assert pending.count("a.example", NOW + LONGEST_DELAY) == 0
    assert pending.count("b.example", NOW + 10 * 3600.0 - 1) == 1
    assert pending.next_expiry(NOW + 60) == NOW + 10 * 3600.0


def test_a_state_file_s_moves_are_held_to_the_clock_and_its_damaged_rows_left() -> None:
    """The two delays once NTP set the clock, saved a minute on in a file damaged or
    made by hand: a.example's delay moved a billion seconds (its row's expiry too), and
    rows that are no move (a key that is text, a move of NaN, true, a row too short,
    one not a row, one of a recipient not pending) and b.example's step back (below
    none, moving nothing). Read back on the same clock, a.example's delay pends no
    longer than 16 h after it, b.example's expiry is SES's, and neither takes a
    damaged row. Before the hold, a.example's pended 31 years."""
    pipeline = _delayed_on_a_clock_3_hours_behind(False)
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, NOW + 60))
    rows = data["pending"]["pending"]
    ((a, *_),) = [row for row in rows if "a.example" in row[1]]
    ((b, *_),) = [row for row in rows if "b.example" in row[1]]
    for row in rows:
        if row[0] == a:
            row[3] = row[2] + LONGEST_DELAY + 1e9
    data["pending"]["moved"] = [
        [a, 1e9], [str(b), 5.0], [b, float("nan")], [b, -5.0], [b, True], [b],
        "b", [b + 1, 3600.0],
    ]  # fmt: skip
    pipeline = Pipeline(core_settings(parse_config("")))
    restore(msgspec.msgpack.encode(data), pipeline.ledger, evaluator, NOW + 60)
    pending = pipeline.ledger.pending
    assert pending.count("a.example", NOW + 60 + LONGEST_DELAY - 1) == 1
    assert pending.count("a.example", NOW + 60 + LONGEST_DELAY) == 0
    assert pending.count("b.example", NOW + 10 * 3600.0 - 1) == 1
    assert pending.next_expiry(NOW + 60) == NOW + 10 * 3600.0


def test_a_step_moving_100_000_delays_of_one_domain_takes_less_than_holding_them() -> None:
    """100,000 delays at one domain (none with an expirationTime), then three steps
    of the clock an hour ahead, each moving every delay's expiry, and one an hour back
    taking the last back: the quickest step ahead, and the step back, each take less
    than twice as long as the delays took to hold (each about as long here). Timed in
    this process's CPU time, which a machine busy elsewhere moves far less than the
    clock. Before: each expiry was moved in the domain's sorted list, a search and a
    shift of those after it, seven times as long as holding them (2.3 s here),
    quadratic: 5 s a step for a full table, the event loop stopped."""
    pending = PendingDelays(200_000)
    started = time.thread_time()
    for key in range(100_000):
        pending.delayed(key, ("a.example",), NOW + key * 0.1, None)
    holding = time.thread_time() - started
    taken = []
    for hours in (1, 2, 3):
        started = time.thread_time()
        pending.stepped(3600.0, NOW + 20_000 + hours * 3600.0)
        taken.append(time.thread_time() - started)
    assert min(taken) < 2 * holding, (taken, holding)
    assert pending.count("a.example", NOW + LONGEST_DELAY + 3 * 3600.0 - 1) == 100_000
    assert pending.next_expiry(NOW) == NOW + LONGEST_DELAY + 3 * 3600.0
    started = time.thread_time()
    pending.stepped(-3600.0, NOW + 20_000 + 2 * 3600.0)
    back = time.thread_time() - started
    assert back < 2 * holding, (back, holding)
    assert pending.next_expiry(NOW) == NOW + LONGEST_DELAY + 2 * 3600.0


# --- pending delays through the pipeline ------------------------------------------


def test_a_delay_already_expired_is_not_registered() -> None:
    """A DeliveryDelay whose expirationTime has passed when it arrives is never pending:
    not counted, and not held either."""
    pipeline = Pipeline(core_settings(parse_config("")))
    body = f.delay(["a@one.example"], at=NOW - 600, expires=NOW - 1)
    pipeline.feed(f.raw(body), "q", NOW)
    assert len(pipeline.ledger.pending) == 0
    assert pipeline.ledger.pending.count("one.example", NOW - 300) == 0
    live = f.delay(["b@one.example"], at=NOW - 600, expires=NOW + 1)
    pipeline.feed(f.raw(live), "q", NOW)
    assert len(pipeline.ledger.pending) == 1


def test_a_delay_expiring_at_the_instant_it_arrives_is_not_pending() -> None:
    """expirationTime == the clock: SES has given up; nothing is pending."""
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delay(["a@one.example"], at=NOW - 60, expires=NOW)), "q", NOW)
    assert len(pipeline.ledger.pending) == 0


def test_max_pending_delays_bounds_the_pending_table() -> None:
    """[ingest] max_pending_delays: delays past it are counted as overflow, not held."""
    pipeline = Pipeline(core_settings(parse_config("[ingest]\nmax_pending_delays = 3\n")))
    for i in range(5):
        pipeline.feed(f.raw(f.delay([f"u{i}@one.example"], at=NOW)), "q", NOW)
    assert len(pipeline.ledger.pending) == 3
    assert pipeline.ledger.pending.overflow == 2
    assert pipeline.ledger.pending.count("one.example", NOW) == 3


def test_expired_delays_are_forgotten_a_horizon_later_with_a_long_window() -> None:
    """With a 2h window, an expired delay is held (not counted) for two hours, then
    forgotten; with the default windows, for an hour."""
    for sizes, held_for in (('["5m", "2h"]', 7200.0), ('["5m", "1h"]', 3600.0)):
        pipeline = Pipeline(core_settings(parse_config(f"[windows]\nsizes = {sizes}\n")))
        body = f.delay(["a@one.example"], at=NOW, expires=NOW + 60)
        pipeline.feed(f.raw(body), "q", NOW)
        pipeline.housekeep(NOW + 60 + held_for - 1)
        assert len(pipeline.ledger.pending) == 1, sizes
        assert pipeline.ledger.pending.count("one.example", NOW + 61) == 0
        pipeline.housekeep(NOW + 60 + held_for)
        assert len(pipeline.ledger.pending) == 0, sizes


def test_a_recipient_delayed_twice_is_timed_once_whatever_the_order() -> None:
    """SES sends a DeliveryDelay at each retry; SQS keeps no order. Delays at -1000 and
    -500, the Delivery at -200, in each of the six arrival orders: one duration, from
    the earliest delay seen before the Delivery's arrival (800 s when it was), never two."""
    from itertools import permutations

    for order in permutations(["d1", "d2", "delivered"]):
        pending = PendingDelays(max_entries=100)
        timed = []
        for step in order:
            if step == "delivered":
                found = pending.resolved(1, NOW - 200)
            else:
                t = NOW - (1000 if step == "d1" else 500)
                found = pending.delayed(1, ("x.example",), t, NOW + 3600)
            if found is not None:
                timed.append(found[1])
        assert len(timed) == 1, order
        assert timed[0] in (800.0, 300.0), order
        assert pending.count("x.example", NOW) == 0, order


@pytest.mark.parametrize("restart_after", [0, 1])
def test_a_recipient_delayed_twice_is_timed_once_across_a_restart(restart_after: int) -> None:
    """The same six arrival orders, sesd restarted from its state file after the first
    or the second of them: one duration still, never two. Before, the file did not
    say which Delivery had timed a delay, and a retry SQS brought after the restart was
    timed again from it (a second value, 300 s, beside the 800 s)."""
    from itertools import permutations

    for order in permutations(["d1", "d2", "delivered"]):
        pending = PendingDelays(max_entries=100)
        timed = []
        for index, step in enumerate(order):
            if step == "delivered":
                found = pending.resolved(1, NOW - 200)
            else:
                t = NOW - (1000 if step == "d1" else 500)
                found = pending.delayed(1, ("x.example",), t, NOW + 3600)
            if found is not None:
                timed.append(found[1])
            if index == restart_after:
                saved = msgspec.msgpack.decode(msgspec.msgpack.encode(pending.snapshot()))
                pending = PendingDelays(max_entries=100)
                pending.restore(saved)
        assert len(timed) == 1, order
        assert pending.count("x.example", NOW) == 0, order


def test_a_recipient_written_another_way_by_its_delivery_or_bounce_ends_its_delay() -> None:
    """A bounce may write in punycode, or with a trailing dot, the address its delay
    wrote in Unicode (a DSN without SMTPUTF8 carries A-labels only): it is one
    recipient, so the delay ends, its duration is known and nothing stays pending."""
    spellings = [
        ("anna@Bücher.de", "anna@xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("jo@XN--MNCHEN-3YA.de", "jo@münchen.de.", "xn--mnchen-3ya.de"),
        ("bob@trailing.example.", "Bob <BOB@trailing.example>", "trailing.example"),
    ]
    for delayed, ended, domain in spellings:
        pipeline = Pipeline(core_settings(parse_config("")))
        pipeline.feed(f.sns(f.delay([delayed], at=NOW - 300, message_id="m1")), "q", NOW)
        assert pipeline.ledger.pending.count(domain, NOW) == 1
        pipeline.feed(f.sns(f.bounce([ended], at=NOW - 100, message_id="m1")), "q", NOW)
        assert pipeline.ledger.pending.count(domain, NOW) == 0, (delayed, ended)
    assert pending_key("m1", "anna@Bücher.de") == pending_key("m1", "ANNA@xn--bcher-kva.de.")
    assert pending_key("m1", "x@not a domain.") != pending_key("m1", "x@not a domain")


def test_a_delay_an_earlier_build_recorded_still_ends_after_an_upgrade() -> None:
    """Earlier builds keyed a recipient by its address lower-cased only: a delay of
    anna@bücher.de, or of bo@one.example. (a trailing dot), pending in their state file
    ends when its Bounce comes after the upgrade, though the key is now the domain's
    normal form; so do two such delays when one Delivery names both recipients."""
    pipeline = Pipeline(core_settings(parse_config("[providers]\nenabled = false\n")))
    pending = pipeline.ledger.pending
    earlier = stable_key("m1", "anna@bücher.de")  # as an earlier build keyed it
    assert earlier != pending_key("m1", "anna@bücher.de")
    pending.delayed(earlier, ("xn--bcher-kva.de",), NOW - 300, NOW + 3600)
    assert pending.count("xn--bcher-kva.de", NOW) == 1
    pipeline.feed(f.sns(f.bounce(["anna@Bücher.de"], at=NOW - 100, message_id="m1")), "q", NOW)
    assert pending.count("xn--bcher-kva.de", NOW) == 0
    dotted = stable_key("m2", "bo@one.example.")
    assert dotted != pending_key("m2", "bo@one.example.")
    pending.delayed(dotted, ("one.example",), NOW - 300, NOW + 3600)
    pipeline.feed(f.sns(f.bounce(["bo@one.example."], at=NOW - 100, message_id="m2")), "q", NOW)
    assert pending.count("one.example", NOW) == 0
    earlier_keyed = [("cy@bücher.de", "xn--bcher-kva.de"), ("di@one.example.", "one.example")]
    for address, domain in earlier_keyed:
        pending.delayed(stable_key("m3", address), (domain,), NOW - 300, NOW + 3600)
    both = f.delivery(["cy@Bücher.de", "di@one.example."], at=NOW - 100, message_id="m3")
    pipeline.feed(f.sns(both), "q", NOW)
    assert (pending.count("xn--bcher-kva.de", NOW), pending.count("one.example", NOW)) == (0, 0)
    assert legacy_pending_key("m1", "ann@plain.example") is None  # keyed alike then and now


def test_recipients_given_up_on_are_remembered_in_two_generations() -> None:
    """Recipients whose delay ran its 16 h are remembered as the resolutions are, in two
    generations of max_entries / 2: a retry of one in the older generation is still
    no new delay, and the oldest are forgotten once enough newer ones came."""
    pending = PendingDelays(4)
    for key in range(1, 6):
        pending.delayed(key, ("a.com",), key * 10.0, None)
        assert pending.expire(key * 10.0 + LONGEST_DELAY) == 1
    assert [pending.holds(key) for key in range(1, 7)] == [False, False, True, True, True, False]
    retried = 100.0 + LONGEST_DELAY
    for key in (3, 5):  # the older generation and the newer one
        assert pending.delayed(key, ("a.com",), retried, None) is None
    assert pending.count("a.com", retried) == 0
    pending.delayed(1, ("a.com",), retried, None)  # forgotten: a delay again
    assert pending.count("a.com", retried) == 1


def test_a_restore_keeps_the_resolutions_a_running_table_would() -> None:
    """Restored resolutions fill the two generations as the running table fills them:
    of five in a table of four, the two oldest are forgotten."""
    restored = PendingDelays(4)
    restored.restore({"pending": [], "resolved": [(key, 100.0) for key in range(1, 6)]})
    assert restored.delayed(1, ("a.com",), 50, None) is None  # forgotten: pending
    assert restored.delayed(3, ("a.com",), 50, None) == (("a.com",), 50)


def test_the_next_expiry_is_the_first_strictly_after_the_time_given() -> None:
    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), 0, 100)
    pending.delayed(2, ("b.com",), 0, 200)
    assert [pending.next_expiry(t) for t in (99, 100, 200)] == [100, 200, float("inf")]


def test_the_key_an_earlier_build_gave_differs_only_where_the_domain_was_not_normal() -> None:
    """A trailing dot was kept then (and capitals lowered); a non-ASCII local part at an
    ASCII domain was keyed as now."""
    assert legacy_pending_key("m1", "Bob@Trailing.Example.") == stable_key(
        "m1", "bob@trailing.example."
    )
    assert legacy_pending_key("m1", "jürgen@plain.example") is None


def test_a_delay_that_expired_early_is_not_given_up_on() -> None:
    """SES's expirationTime an hour after the delay: once it passed and was forgotten,
    the recipient is not held (SES did not try it 16 h), and a delay of it later is
    a new one, timed from itself."""
    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), 0.0, 3600.0)
    assert pending.expire(3600.0) == 1
    assert not pending.holds(1)
    pending.delayed(1, ("a.com",), 7200.0, 9000.0)
    assert pending.resolved(1, 8000.0) == (("a.com",), 800.0)


def test_a_retry_without_expiration_time_extends_the_delay_to_16_hours_after_the_first() -> None:
    """The first delay said SES gives up in an hour; a retry saying nothing is taken as
    trying for as long as SES ever tries: 16 h after the first, no longer."""
    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), 0.0, 3600.0)
    pending.delayed(1, ("a.com",), 1800.0, None)
    assert pending.count("a.com", 7200.0) == 1
    assert pending.count("a.com", LONGEST_DELAY) == 0


def test_a_delivery_seen_before_its_delay_times_it_beside_a_recipient_given_up_on() -> None:
    """Recipient 1's delay ran its 16 h and was forgotten (remembered as given up on);
    recipient 2's Delivery is processed before its DeliveryDelay, SES's a minute
    earlier: that delay is over, timed the minute. Only a retry of one given up on
    goes untimed."""
    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), 0.0, None)
    assert pending.expire(LONGEST_DELAY) == 1
    assert pending.holds(1)
    assert pending.resolved(2, LONGEST_DELAY + 100.0) is None
    assert pending.delayed(2, ("a.com",), LONGEST_DELAY + 40.0, None) == (("a.com",), 60.0)


def test_a_retry_after_ntp_s_step_pends_until_16_hours_after_ses_s_first_delay() -> None:
    """A recipient delayed at SES's NOW, read on a clock three hours behind (dated on
    it); NTP steps the clock the three hours ahead, and SES's retry an hour later says
    nothing of when it gives up: the recipient pends until 16 h after SES's first
    delay, as without the retry, not three hours less (16 h after the first delay as
    the clock behind dated it)."""
    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), NOW - 3 * 3600.0, None)
    pending.stepped(3 * 3600.0, NOW)
    pending.delayed(1, ("a.com",), NOW + 3600.0, None)
    assert pending.count("a.com", NOW + LONGEST_DELAY - 1) == 1
    assert pending.count("a.com", NOW + LONGEST_DELAY) == 0


def test_a_delay_ses_gave_up_on_early_after_ntp_s_step_is_not_given_up_on() -> None:
    """A recipient delayed at SES's NOW, read on a clock three hours behind (dated on
    it), SES giving up in five hours; NTP steps the clock the three hours ahead, and
    SES's retry an hour later says it gives up 14 h after NOW. Once that passed and
    was forgotten, the recipient is not held (SES did not try it 16 h), though 14 h
    after NOW is 17 h after the first delay as the clock behind dated it."""
    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), NOW - 3 * 3600.0, NOW + 2 * 3600.0)
    pending.stepped(3 * 3600.0, NOW)
    pending.delayed(1, ("a.com",), NOW + 3600.0, NOW + 14 * 3600.0)
    assert pending.expire(NOW + 14 * 3600.0) == 1
    assert not pending.holds(1)


@pytest.mark.parametrize("how", ["its domain evicted", "expired early"])
def test_a_delay_forgotten_leaves_no_step_s_move_to_the_next_of_its_recipient(how: str) -> None:
    """A recipient delayed on a clock three hours behind (dated on it), SES giving up in
    an hour; NTP steps the clock the three hours ahead, and the delay is forgotten: its
    domain evicted, idle, or its hour past and expired. A delay of it ten minutes after
    NOW is a new one, and its Delivery ten minutes later times it ten minutes, not
    none (the step's three hours taken off its length)."""
    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), NOW - 3 * 3600.0, NOW - 2 * 3600.0)
    pending.stepped(3 * 3600.0, NOW)
    if how == "its domain evicted":
        pending.drop_labels(["a.com"])
    else:
        assert pending.expire(NOW) == 1
    assert not pending.holds(1)
    pending.delayed(1, ("a.com",), NOW + 600.0, None)
    assert pending.resolved(1, NOW + 1200.0) == (("a.com",), 600.0)


def test_a_retry_exactly_16_hours_after_a_given_up_delay_is_not_timed() -> None:
    """SES gave up on the recipient at 16 h after its first delay: a retry stamped at
    that very instant is not pending again, and its Delivery times no delay."""
    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), 0.0, None)
    assert pending.expire(LONGEST_DELAY) == 1
    assert pending.delayed(1, ("a.com",), LONGEST_DELAY, None) is None
    assert len(pending) == 0
    assert pending.resolved(1, LONGEST_DELAY + 10) is None


def test_an_odd_table_keeps_generations_of_half_rounded_down() -> None:
    """A table of three keeps generations of one resolution: of two, the first is
    forgotten once the second comes."""
    pending = PendingDelays(3)
    pending.resolved(1, 100)
    pending.resolved(2, 100)
    assert pending.delayed(1, ("a.com",), 50, 1000) is None  # forgotten: pending
    assert pending.delayed(2, ("a.com",), 50, 1000) == (("a.com",), 50)


@settings(max_examples=300, deadline=None)
@given(address=st.text(alphabet="aBxn-. <>@\tçÉⅨ", max_size=20))
def test_a_recipients_key_is_its_normal_forms_whatever_it_looks_like(address: str) -> None:
    """The pending key of any address, plain or not (display names, trailing dots,
    Unicode, empty), is the digest of its message id and its ``recipient_key``: the
    plain addresses' shortcut keys them as the normal form does."""
    assert pending_key("m1", address) == stable_key("m1", recipient_key(address))


def test_a_restore_counts_each_delay_its_labels_are_refused_for_and_reads_on() -> None:
    """Two saved delays of a label no event makes now (a rule's scope gone from the
    config) and one of a label admitted after them: the two are refused, counted one
    each, and the third is read and held."""
    before = PendingDelays(100)
    for key, domain in ((1, "gone.example"), (2, "gone.example"), (3, "a.com")):
        before.delayed(key, (domain,), 0, 100)
    after = PendingDelays(100)
    saved = before.snapshot()
    saved["pending"] = sorted(saved["pending"], key=lambda row: row[0])  # type: ignore[call-overload]
    assert after.restore(saved, admits=[lambda label: label != "gone.example"]) == 2
    assert (len(after), after.count("a.com", 10)) == (1, 1)


def test_a_restore_bounds_each_expiry_from_its_first_delay_and_keeps_each_move() -> None:
    """A file from a build that took expirationTime at its word: a.com's delay first
    seen at 1,000 s expiring ten years on; b.com's delay moved by NTP's step of one
    second. Read back, a.com's pends until 16 h after its first delay, not a second
    longer, and b.com's until 16 h and the second after its own."""
    before = PendingDelays(100)
    before.delayed(2, ("b.com",), 2000.0, None)
    before.stepped(1.0, 2061.0)
    saved = before.snapshot()
    rows = saved["pending"]
    assert isinstance(rows, list)
    saved["pending"] = [(1, ("a.com",), 1000.0, 1000.0 + 10 * 365 * 86400.0), *rows]
    after = PendingDelays(100)
    assert after.restore(saved) == 0
    assert after.count("a.com", 1000.0 + LONGEST_DELAY - 1) == 1
    assert after.count("a.com", 1000.0 + LONGEST_DELAY) == 0
    assert after.next_expiry(1000.0 + LONGEST_DELAY) == 2000.0 + LONGEST_DELAY + 1


def test_a_restore_counts_each_delay_saved_at_no_time_a_clock_tells_and_reads_on() -> None:
    """Rows of a file damaged or edited by hand, first seen at no number, before 1970
    and past year 9999, then two a clock tells (the last second of 9999 among them):
    the three are refused, counted one each, and the two after them are held."""
    latest = 253402300799.0  # 9999-12-31T23:59:59Z
    rows = [(1, ("a.com",), float("nan"), 100.0), (2, ("a.com",), -5.0, 100.0),
            (3, ("a.com",), latest + 1, latest + 100), (4, ("a.com",), 0.0, 100.0),
            (5, ("b.com",), latest, latest + 100)]  # fmt: skip
    after = PendingDelays(100)
    assert after.restore({"pending": rows, "resolved": []}) == 3
    assert (len(after), after.count("a.com", 10), after.count("b.com", latest)) == (2, 1, 1)


def test_a_restore_reads_each_scope_s_label_from_where_the_file_put_it() -> None:
    """A file saved with a domain's, a provider's and a tenant's label per delay, read
    by a sesd that counts domains and tenants alone (providers turned off): the tenant
    scope reads the tenant's label; one reading a scope the file has not, ``unknown``."""
    before = PendingDelays(100, scopes=3)
    before.delayed(1, ("a.com", "google", "acme"), 0.0, 100.0)
    after = PendingDelays(100, scopes=2)
    after.restore(before.snapshot(), where=[0, 2])
    assert (after.count("a.com", 10), after.counts(10, scope=1)) == (1, {"acme": 1})
    unread = PendingDelays(100, scopes=2)
    unread.restore(before.snapshot(), where=[2, -1])
    assert (unread.counts(10), unread.counts(10, scope=1)) == ({"acme": 1}, {"unknown": 1})
