"""The pending table at its bound (``[ingest] max_pending_delays``): a delay it cannot
hold is counted once however often SES retries it, and in the overflow once, across a
restart too; the table's room, once back, holds it from its first delay; one domain
leaves room to the others; and the table refusing is warned of."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.events import EVENT_TYPE_INDEX, LONGEST_DELAY
from sesd.core.housekeeping import evict_idle
from sesd.core.pending import PendingDelays
from sesd.core.pipeline import Pipeline
from sesd.core.refusals import BUCKET, RecentRefusals
from sesd.runtime import caps
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.test_sender_cap_warning import Rounds

NOW = f.T0 + 10
_DELAY = EVENT_TYPE_INDEX["delivery_delay"]


def _delayed_in_the_hour(pipeline: Pipeline, domain: str) -> int:
    """Delayed recipients of ``domain`` in the 1 h window."""
    names = [spec.name for spec in pipeline.ledger.specs]
    return pipeline.ledger.windows[domain].figures(names.index("1h"), NOW).count("delivery_delay")


def test_a_recipient_a_full_table_cannot_hold_counts_once_however_often_ses_retries() -> None:
    """A flood of delays at one domain fills the table (here of one). A recipient at
    another domain is delayed at 07:27 and SES retries at 07:37 and 07:47: one delayed
    recipient in its windows (its delay ratio, its min_events), as with room in the
    table, not three; the overflow counts one recipient not held. After a restart her
    retry is still a retry, and the pending figures still leave her out: the status
    page's note still counts her (not silent until the next refusal)."""
    config = parse_config("[ingest]\nmax_pending_delays = 1\n")
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.delay(["a@flood.example"], at=NOW - 3000, message_id="m0")), "q", NOW)
    for retry in range(3):
        at = NOW - 2000 + 600 * retry
        body = f.raw(f.delay(["u@quiet.example"], at=at, message_id="m1"))
        assert pipeline.feed(body, "q", NOW).outcome == "processed"
    assert _delayed_in_the_hour(pipeline, "quiet.example") == 1
    assert pipeline.ledger.pending.overflow == 1
    assert pipeline.ledger.by_domain.recipients["quiet.example"][_DELAY] == 3  # each report
    # Saved with the table full and restarted: its next retry is still a retry.
    names = [spec.name for spec in pipeline.ledger.specs]
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, names), NOW)
    fresh = Pipeline(core_settings(config))
    restore(blob, fresh.ledger, Evaluator(config.alerts, names), NOW)
    assert fresh.ledger.pending.refused.since(NOW) == 1
    retried = f.raw(f.delay(["u@quiet.example"], at=NOW - 200, message_id="m1"))
    fresh.feed(retried, "q", NOW)
    assert fresh.ledger.pending.overflow == 0
    assert fresh.ledger.windows["quiet.example"].figures(0, NOW).count("delivery_delay") == 0


def test_a_recipient_refused_by_a_full_table_is_held_from_its_first_delay_once_it_has_room() -> (
    None
):
    """Refused at a delay (t=100, the table full), and at an earlier one SQS brought
    after it (t=60), held at a retry (t=300) once a delivery freed room: pending, and
    its delay timed from t=60, its first, when it ends."""
    pending = PendingDelays(1)
    pending.delayed(1, ("a.com",), 0.0, None)
    assert pending.delayed(2, ("b.com",), 100.0, None) is None
    assert pending.delayed(2, ("b.com",), 60.0, None) is None
    assert pending.holds(2)
    assert pending.count("b.com", 100.0) == 0
    assert pending.resolved(1, 200.0) == (("a.com",), 200.0)
    pending.delayed(2, ("b.com",), 300.0, None)
    assert pending.count("b.com", 300.0) == 1
    assert pending.resolved(2, 500.0) == (("b.com",), 440.0)
    assert pending.overflow == 1


@pytest.mark.parametrize(
    ("bound", "forgotten"),
    [(8, 0), (4, 8)],
    ids=["within-the-memory", "past-the-memory"],
)
def test_a_restart_with_a_smaller_table_remembers_the_delays_it_cannot_hold(
    bound: int, forgotten: int
) -> None:
    """Twelve recipients pending in a table of twenty; the bound lowered to eight and
    sesd restarted: eight are held, and the four the file held past them are counted
    in the overflow and remembered, so SES's next retry of each of the twelve is no new
    delayed recipient in the windows. Lowered to four, below half the delays the file
    holds, the eight past it are more than the memory of refused recipients holds (its
    bound is the table's, as README says): it keeps the newest two, which the retries of
    the six before it, refused again, then push out: the eight count again."""
    small = parse_config(f"[ingest]\nmax_pending_delays = {bound}\n")
    names = ["5m", "15m", "1h"]
    pipeline = Pipeline(core_settings(parse_config("[ingest]\nmax_pending_delays = 20\n")))
    for i in range(12):
        body = f.raw(f.delay([f"u{i}@slow.example"], at=NOW - 2000, message_id=f"m{i}"))
        pipeline.feed(body, "q", NOW)
    blob = snapshot(pipeline.ledger, Evaluator(small.alerts, names), NOW)
    fresh = Pipeline(core_settings(small))
    restored = restore(blob, fresh.ledger, Evaluator(small.alerts, names), NOW)
    over = 12 - bound
    assert (restored["pending_delays"], restored["pending_delays_over_bound"]) == (bound, over)
    assert fresh.ledger.pending.overflow == over
    for i in range(12):
        body = f.raw(f.delay([f"u{i}@slow.example"], at=NOW - 1000, message_id=f"m{i}"))
        fresh.feed(body, "q", NOW)
    assert _delayed_in_the_hour(fresh, "slow.example") == 12 + forgotten
    assert fresh.ledger.pending.overflow == over + forgotten


def test_a_flood_of_delays_at_one_domain_leaves_room_for_the_others() -> None:
    """Gmail defers a mailing: its delayed recipients fill a table of eight up to the
    three quarters one domain may hold (six; the other two counted in the overflow).
    A recipient delayed at another domain then is still pending there, and its
    ``pending_delays`` rule can see it."""
    config = parse_config("[ingest]\nmax_pending_delays = 8\n")
    pipeline = Pipeline(core_settings(config))
    for i in range(8):
        body = f.raw(f.delay([f"u{i}@gmail.com"], at=NOW - 600, message_id=f"m{i}"))
        pipeline.feed(body, "q", NOW)
    pending = pipeline.ledger.pending
    assert (pending.count("gmail.com", NOW), pending.overflow) == (6, 2)
    pipeline.feed(f.raw(f.delay(["ann@corp.example"], at=NOW - 60, message_id="m9")), "q", NOW)
    assert pending.count("corp.example", NOW) == 1


async def test_the_table_refusing_delays_is_warned_of_once_a_spell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A table of one holding its one delay says nothing. Delays it refuses are warned of
    at the next round, and not again while refusals go on (a minute later), nor by the
    janitor started again after a fault (which warned of all refused since the start);
    after an hour without one, the next refusal is warned of again."""
    pipeline = Pipeline(core_settings(parse_config("[ingest]\nmax_pending_delays = 1\n")))
    rounds, monotonic = Rounds(pipeline, monkeypatch), [0.0]

    def delay(*ids: int) -> None:
        for i in ids:
            body = f.raw(f.delay([f"u{i}@slow.example"], at=NOW - 60, message_id=f"m{i}"))
            pipeline.feed(body, "q", NOW)

    async def rounds_after(change: Callable[[], None]) -> None:
        change()
        await rounds.after(2)

    def full(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
        return [log for log in logs if log["event"] == "sesd.pending.full"]

    with capture_logs() as logs, anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(rounds.janitor(lambda: NOW, lambda: monotonic[0]))
            await rounds_after(lambda: delay(0))
            assert full(logs) == []
            await rounds_after(lambda: delay(1, 2))
            assert [(log["held"], log["not_held"]) for log in full(logs)] == [(1, 2)]
            monotonic[0] += 60.0
            await rounds_after(lambda: delay(3))
            assert len(full(logs)) == 1
            await rounds.fault()
            assert len(full(logs)) == 1
            monotonic[0] += caps.QUIET
            await rounds_after(lambda: delay(4))
            tg.cancel_scope.cancel()
    assert [log["not_held"] for log in full(logs)] == [2, 1]
    assert full(logs)[0]["log_level"] == "warning"


class _CountedPasses(dict):  # type: ignore[type-arg]
    """The pending table's dict, counting the walks over all its entries."""

    passes = 0

    def items(self):  # type: ignore[no-untyped-def]
        self.passes += 1
        return super().items()

    def values(self):  # type: ignore[no-untyped-def]
        self.passes += 1
        return super().values()


def test_many_idle_domains_evicted_beside_a_big_table_take_one_pass_over_it() -> None:
    """A deferred mailing's 1,500 domains (``idle_evict = 1h``) go idle, their delays
    expired together and not yet forgotten, beside 60,000 recipients pending at a
    domain still busy: one janitor round evicts the 1,500 in one pass over the table,
    and keeps the busy domain's delays (a pass a domain held the event loop 1.8 s here,
    one pass for all of them 4 ms). Passes are counted, not timed: a busy machine
    stretches a time."""
    config = parse_config(
        '[domains]\nmax_tracked = 2000\nidle_evict = "1h"\n[ingest]\nmax_pending_delays = 80000\n'
    )
    pipeline = Pipeline(core_settings(config))
    start = NOW - 5 * 3600
    for i in range(1500):
        at, ends = start + i * 0.001, NOW - 60
        body = f.delay([f"u@d{i}.example"], at=at, expires=ends, message_id=f"m{i}")
        pipeline.feed(f.raw(body), "q", start + 1)
    pending = pipeline.ledger.pending
    for key in range(60_000):
        pending.delayed(key, ("busy.example",), NOW - 10, NOW + 3600)
    passes = _CountedPasses(pending._entries)
    pending._entries = passes
    evicted, _ = evict_idle(pipeline.ledger, NOW)
    assert len(evicted) == 1500
    assert (len(pending), pending.counts(NOW)) == (60_000, {"busy.example": 60_000})
    assert passes.passes == 1


def test_a_refused_recipients_retry_processed_after_its_delivery_is_not_timed() -> None:
    """The table full, a recipient is delayed at 07:27 and not held; it is delivered at
    07:52. SQS keeps no order: SES's retry of 07:37 reaches sesd after the Delivery.
    Its delay is not timed (it was never pending), neither at the Delivery nor at that
    retry: not 15 minutes from the retry, a quarter of the 25 it lasted."""
    pipeline = Pipeline(core_settings(parse_config("[ingest]\nmax_pending_delays = 1\n")))
    pipeline.feed(f.raw(f.delay(["a@flood.example"], at=NOW - 3000, message_id="m0")), "q", NOW)
    pipeline.feed(f.raw(f.delay(["u@quiet.example"], at=NOW - 2000, message_id="m1")), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["u@quiet.example"], at=NOW - 500, message_id="m1")), "q", NOW)
    retry = f.raw(f.delay(["u@quiet.example"], at=NOW - 1400, message_id="m1"))
    assert pipeline.feed(retry, "q", NOW).outcome == "processed"
    figures = pipeline.ledger.windows["quiet.example"].figures(2, NOW)
    assert figures.delay_duration.count == 0
    assert figures.count("delivery_delay") == 1


def test_the_memory_of_refused_recipients_reaches_half_the_table_of_later_refusals() -> None:
    """A table of eight, full (six at one domain, two at another). A recipient refused
    is still known at its retry after three more were refused (half the table, less
    one): a retry, not counted again. After eight more (the whole memory), a flood
    past what sesd remembers, its retry is a new recipient in the overflow, as README
    says."""
    pending = PendingDelays(8)
    for key in range(8):
        pending.delayed(key, ("flood.example" if key < 6 else "b.example",), 0.0, None)
    assert pending.delayed(100, ("c.example",), 10.0, None) is None
    for key in range(101, 104):
        pending.delayed(key, ("c.example",), 20.0, None)
    assert (pending.holds(100), pending.overflow) == (True, 4)
    pending.delayed(100, ("c.example",), 30.0, None)
    assert pending.overflow == 4
    for key in range(104, 112):
        pending.delayed(key, ("c.example",), 40.0, None)
    assert not pending.holds(100)


def test_a_refused_delay_sqs_brings_again_takes_no_other_recipients_memory() -> None:
    """A table of eight, full. Three recipients are refused, then ann (the memory's
    first generation, of four, closes on her). SQS brings the three first delays again,
    at their own times (a redelivery past the duplicate filter's memory): nothing new is
    learnt of them, so nothing is written; one more recipient refused after ann leaves
    her known, her retry a retry (not counted again in the overflow, nor in her windows),
    as README promises while fewer than half the table were refused after her. Written
    again, the three filled the next generation with the fourth after her, and she was
    forgotten one refusal after her own."""
    pending = PendingDelays(8)
    for key in range(8):
        pending.delayed(key, ("flood.example" if key < 6 else "b.example",), 0.0, None)
    ann = 100
    for key, at in ((101, 10.0), (102, 11.0), (103, 12.0), (ann, 13.0)):
        assert pending.delayed(key, ("c.example",), at, None) is None
    for key, at in ((101, 10.0), (102, 11.0), (103, 12.0)):
        assert pending.delayed(key, ("c.example",), at, None) is None
    pending.delayed(104, ("c.example",), 20.0, None)
    assert (pending.holds(ann), pending.overflow) == (True, 5)
    pending.delayed(ann, ("c.example",), 30.0, None)  # SES's retry: no new recipient
    assert pending.overflow == 5


def test_delays_past_their_expiry_make_room_in_a_full_table() -> None:
    """A table of four fills with delays SES gave up on at 100 s (their expirationTime);
    they are forgotten for good only an hour or more later (housekeeping). A recipient
    delayed at 200 s, at another domain, finds the table full of delays that no longer
    pend: it is held (pending, counted), not refused into the overflow for that hour."""
    pending = PendingDelays(4)
    for key in range(4):
        pending.delayed(key, (f"d{key}.example",), 0.0, 100.0)
    assert pending.count("d0.example", 150.0) == 0
    assert pending.delayed(10, ("fresh.example",), 200.0, None) is None
    assert (pending.count("fresh.example", 200.0), pending.overflow) == (1, 0)


def test_a_domains_delays_past_their_expiry_leave_its_share_to_new_ones() -> None:
    """A table of eight: gmail.com's six delays (its three quarters) expired at 100 s;
    one of its recipients delayed again at 200 s is pending: a share of delays that no
    longer pend does not refuse a new one."""
    pending = PendingDelays(8)
    for key in range(6):
        pending.delayed(key, ("gmail.com",), 0.0, 100.0)
    assert pending.delayed(10, ("gmail.com",), 200.0, None) is None
    assert (pending.count("gmail.com", 200.0), pending.overflow) == (1, 0)


def test_a_domains_share_of_delays_expiring_at_a_new_one_s_instant_leaves_it_room() -> None:
    """A table of eight: gmail.com's six delays (its three quarters) expire at 200 s,
    the very time of a new delay of it: none of them pends then (a delay pends until
    its expiry, not at it), and the new one is held, none refused."""
    pending = PendingDelays(8)
    for key in range(6):
        pending.delayed(key, ("gmail.com",), 0.0, 200.0)
    assert pending.count("gmail.com", 200.0) == 0
    assert pending.delayed(10, ("gmail.com",), 200.0, None) is None
    assert (pending.count("gmail.com", 200.0), pending.overflow) == (1, 0)


def test_a_new_delay_takes_the_room_of_the_one_expired_longest_only() -> None:
    """A table of four full of delays SES gave up on at 100 s to 130 s (their
    expirationTime); a recipient delayed at 200 s takes the room of the one that expired
    first. The others stay until housekeeping forgets them: SES's Bounce at the expiry
    of one, read after, ends a delay that lasted until then (timed, not lost), and a
    retry of one SQS brings late is a retry, not one more delayed recipient."""
    pending = PendingDelays(4)
    for key in range(4):
        pending.delayed(key, (f"d{key}.example",), 0.0, 100.0 + 10 * key)
    assert pending.delayed(10, ("fresh.example",), 200.0, None) is None
    assert (pending.count("fresh.example", 200.0), pending.overflow) == (1, 0)
    assert (pending.holds(0), pending.holds(2)) == (False, True)
    assert pending.resolved(3, 130.0) == (("d3.example",), 130.0)


def test_a_share_full_of_delays_still_pending_forgets_no_other_domain_s() -> None:
    """A table of eight: gmail.com's six delays (its share) pend until 1,000 s, one at
    other.example expired at 100 s. A new gmail.com recipient at 200 s is refused (no
    delay of its share expired), and other.example's stays for SES's Bounce: forgetting
    it would make no room for gmail.com."""
    pending = PendingDelays(8)
    for key in range(6):
        pending.delayed(key, ("gmail.com",), 0.0, 1000.0)
    pending.delayed(6, ("other.example",), 0.0, 100.0)
    assert pending.delayed(10, ("gmail.com",), 200.0, None) is None
    assert (pending.count("gmail.com", 200.0), pending.overflow) == (6, 1)
    assert pending.resolved(6, 100.0) == (("other.example",), 100.0)


def test_the_recent_refusals_are_those_of_the_last_16_hours_and_bounded() -> None:
    """A refusal every five minutes for three days: 192 of them (or a bucket's worth
    more) were first delayed in the last 16 h, what a table's pending column may leave
    out; the older ones are forgotten, the buckets bounded by that span. A time no
    clock tells (a damaged file) counts in none."""
    refusals = RecentRefusals()
    for minute in range(0, 3 * 24 * 60, 5):
        refusals.add(NOW + minute * 60.0)
    refusals.add(float("nan"))
    end = NOW + 3 * 86400.0
    assert 16 * 12 <= refusals.since(end) <= 16 * 12 + BUCKET // 300
    assert refusals.since(end + 16 * 3600.0 + BUCKET) == 0
    assert len(refusals._counts) <= 16 * 3600 // BUCKET + 2
    # Read back from the state file as saved; a pair that does not read (a hand-edited
    # or an odd file) is left out alone, and a file without them holds none.
    again = RecentRefusals()
    again.restore([*refusals.snapshot(), [1, True], ["x", 1], [int(end // BUCKET), 0], [1]])
    assert again._counts == refusals._counts
    again.restore(None)
    assert again._counts == refusals._counts


def test_a_refusal_dated_before_1970_counts_in_the_bucket_before_it() -> None:
    """An event dated a second before 1970 (a stranger's timestamp: SES's form reads
    it) is refused: its bucket is the ten minutes before 0, not those after, so five
    minutes past 16 h it is no longer among the refusals SES may still be trying,
    where one dated a second after 0 still is."""
    before, after = RecentRefusals(), RecentRefusals()
    before.add(-1.0)
    after.add(1.0)
    now = LONGEST_DELAY + BUCKET / 2
    assert (before.since(now), after.since(now)) == (0, 1)
    assert before.since(LONGEST_DELAY - 2.0) == 1


_FULL = "[ingest]\nmax_pending_delays = 1\n"


def _refused_96_in_16_hours() -> Pipeline:
    """A pipeline whose one-row pending table is full, and 96 recipients refused by it,
    one every ten minutes over the 16 hours before NOW."""
    pipeline = Pipeline(core_settings(parse_config(_FULL)))
    pipeline.feed(f.raw(f.delay(["a@flood.example"], at=NOW - 3000, message_id="m0")), "q", NOW)
    for i in range(96):
        at = NOW - 60 - i * BUCKET
        body = f.raw(f.delay([f"u{i}@quiet.example"], at=at, message_id=f"u{i}"))
        pipeline.feed(body, "q", NOW)
    return pipeline


def _restarted(pipeline: Pipeline, at: float) -> Pipeline:
    """A fresh pipeline restored at ``at`` from ``pipeline``'s state saved at NOW."""
    config = parse_config(_FULL)
    names = [spec.name for spec in pipeline.ledger.specs]
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, names), NOW)
    fresh = Pipeline(core_settings(config))
    restore(blob, fresh.ledger, Evaluator(config.alerts, names), at)
    return fresh


def _20_hours_back_then_3_refused(pipeline: Pipeline, how: str) -> Pipeline:
    """``pipeline``'s clock 20 hours back (a restart there, or a step measured), then
    three more recipients refused, ten minutes apart."""
    back = NOW - 20 * 3600.0
    if how == "restart":
        pipeline = _restarted(pipeline, back)
    else:
        pipeline.ledger.stepped(-20 * 3600.0, back)
    for i in range(3):
        at = back - 60 - i * BUCKET
        body = f.raw(f.delay([f"v{i}@quiet.example"], at=at, message_id=f"v{i}"))
        pipeline.feed(body, "q", back)
    return pipeline


@pytest.mark.parametrize("how", ["restart", "step"])
def test_refusals_after_the_clock_goes_20_hours_back_are_counted(how: str) -> None:
    """A recipient refused by the full table every ten minutes for 16 hours; the
    host's clock then reads 20 hours earlier (a restart on a clock that far behind the
    save, or a step back measured), and three more are refused, ten minutes apart.
    Each is one the pending figures leave out: the status page's note counts them all.
    Before, the buckets ahead of the clock were the newest, and each refusal after
    them, more than 16 h older, was forgotten as it came (the note said 96), until the
    clock caught up."""
    pipeline = _refused_96_in_16_hours()
    assert pipeline.ledger.pending.refused.since(NOW) == 96
    pipeline = _20_hours_back_then_3_refused(pipeline, how)
    assert pipeline.ledger.pending.refused.since(NOW - 20 * 3600.0) == 99


@pytest.mark.parametrize("how", ["restart", "step"])
def test_refusals_before_the_clock_went_20_hours_back_count_again_once_ntp_sets_it(
    how: str,
) -> None:
    """The same 96 refusals over 16 hours; the host's clock then reads 20 hours earlier
    (a restart on a host booted that far behind the save before NTP set its clock, or a
    step back measured), three more are refused, and NTP steps the clock the 20 hours
    ahead again. The 96, first delayed in the last 16 h by SES's clock, are still ones
    the pending figures leave out: the note counts them, and the three, dated on the
    clock behind, moved with its step: 99. Before, the step back counted the 96 as of
    the clock behind, and NTP's step left them 20 hours old: the note said 0; then the
    three were left 20 hours old: 96."""
    pipeline = _20_hours_back_then_3_refused(_refused_96_in_16_hours(), how)
    pipeline.ledger.stepped(20 * 3600.0, NOW + 60)
    assert pipeline.ledger.pending.refused.since(NOW + 60) == 99


def test_refusals_dated_on_a_clock_an_hour_behind_count_16_hours_once_ntp_sets_it() -> None:
    """The host's clock an hour behind SES's; three recipients are refused by the full
    table, first delayed 1, 11 and 21 minutes before SES's now: each event ahead of the
    clock is dated on it, an hour early. NTP steps the clock the hour ahead: half an
    hour before 16 h after the last delay, SES may still be trying all three, and the
    note counts them (before: forgotten an hour early, 0). A step ahead of a year then
    taken back counts them no longer than a day past the clock."""
    behind = NOW - 3600.0
    pipeline = Pipeline(core_settings(parse_config(_FULL)))
    pipeline.feed(f.raw(f.delay(["a@flood.example"], at=behind - 60, message_id="m0")), "q", behind)
    for i in range(3):
        body = f.raw(f.delay([f"u{i}@quiet.example"], at=NOW - 60 - i * BUCKET, message_id=f"u{i}"))
        pipeline.feed(body, "q", behind)
    refused = pipeline.ledger.pending.refused
    pipeline.ledger.stepped(3600.0, NOW)
    assert refused.since(NOW + LONGEST_DELAY - 1800.0) == 3
    pipeline.ledger.stepped(365 * 86400.0, NOW + 365 * 86400.0)
    pipeline.ledger.stepped(-365 * 86400.0, NOW + 60)
    assert (refused.since(NOW + 60), refused.since(NOW + 86400.0 + LONGEST_DELAY)) == (3, 0)


def test_refusals_a_restart_reads_two_days_ahead_count_as_of_the_restart() -> None:
    """The 96 refusals over 16 hours in a state file saved two days ahead of the
    restart's clock (a save time damaged, or the clock that far off: past a day, as
    its alert times, taken as the restart's). They count as of the restart, and 16 h
    on are not counted any more (left two days ahead, the note counted them for two
    days and 16 h)."""
    back = NOW - 2 * 86400.0
    refused = _restarted(_refused_96_in_16_hours(), back).ledger.pending.refused
    assert (refused.since(back), refused.since(back + 17 * 3600.0)) == (96, 0)


@pytest.mark.parametrize("step", [BUCKET, 3600.0], ids=["ten minutes", "an hour"])
def test_refusals_a_step_ahead_moves_stay_apart_as_they_came(step: float) -> None:
    """A recipient refused every ten minutes for 16 hours, on a clock ``step`` behind
    SES's (the oldest first, as they come); NTP steps the clock ahead. Each moves as far
    as the step, no further: eight hours on, those first delayed in the last eight
    hours (by SES's clock) are counted, not the older (before: each bucket moved onto
    the next one to move and was moved again with it, and all 96 piled up on the clock
    of the step: counted 16 hours more, 96)."""
    refusals = RecentRefusals()
    behind = NOW - step
    for i in range(96):
        refusals.add(behind - 16 * 3600.0 + i * BUCKET + 1)  # dated on the clock behind
    refusals.stepped(step, NOW)
    later = NOW + 8 * 3600.0
    assert 47 <= refusals.since(later) <= 49


@pytest.mark.parametrize("back", [False, True], ids=["ahead", "back and ahead"])
def test_refusals_outlast_small_steps_ahead_by_a_bucket_at_most(back: bool) -> None:
    """A recipient refused a minute before NOW; the clock then steps two seconds ahead
    ten times (a time sync that steps a drifting clock), or back and ahead ten times (one
    flapping between two sources). The note counts it up to the steps past 16 h after
    its first delay, never less, and forgets it a bucket after that at most (before:
    each step of two seconds moved it a whole bucket, ten minutes: counted 100 minutes
    more, or as long as the flapping went on, though the steps came to 0)."""
    refusals, at = RecentRefusals(), NOW - 60
    refusals.add(at)
    now = NOW
    for _ in range(10):
        now += 60
        if back:
            refusals.stepped(-2.0, now - 2.0)
        refusals.stepped(2.0, now)
    ahead = 0.0 if back else 20.0
    assert refusals.since(at + LONGEST_DELAY + ahead - 1) == 1
    assert refusals.since(at + LONGEST_DELAY + ahead + 2 * BUCKET) == 0
