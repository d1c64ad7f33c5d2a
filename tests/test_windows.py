"""Sliding windows in event time: buckets, boundaries, ratios, quantiles, and the
horizon that decides which events are late."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core.causes import CAUSE_INDEX, CAUSES
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.pipeline import Pipeline
from sesd.core.sketch import MAX_BUCKET, bucket_of, bucket_value, summarise
from sesd.core.text import ADDRESS, _clean_cached
from sesd.core.windows import DomainWindows, Noted, delivery_pair, noted, window_specs
from sesd.core.windows.breakdown import (
    _COUNTED,
    _COUNTED_CHARS,
    _COUNTED_MAX,
    _NOTED,
    _NOTED_CHARS,
    _NOTED_MAX,
    DIAGNOSTIC,
    DOMAIN,
    detail_key,
)
from sesd.core.windows.ring import value_key
from sesd.core.windows.value_keys import unpair
from tests import factory as f
from tests.test_rules import CONFIG

DELIVERY = EVENT_TYPE_INDEX["delivery"]
DELAY = EVENT_TYPE_INDEX["delivery_delay"]
BOUNCE = EVENT_TYPE_INDEX["bounce"]
SPECS = window_specs([("5m", 300.0), ("15m", 900.0), ("1h", 3600.0)], 10.0, 30)
# The widest default window: 1h in 30 buckets of 120 s. f.T0 starts a bucket.
WIDTH, SLOTS = 120.0, 30
NOW = f.T0 + 10


def test_default_layout() -> None:
    """5m in 10 s buckets; longer windows widen their buckets to at most 30 of them."""
    assert [(s.name, s.width, s.slots) for s in SPECS] == [
        ("5m", 10, 30),
        ("15m", 30, 30),
        ("1h", 120, 30),
    ]
    literal = window_specs([("1h", 3600.0)], 10.0, 360)
    assert (literal[0].width, literal[0].slots) == (10, 360)
    assert [s.breakdown for s in SPECS] == [True, True, True]  # kept for every window
    read = window_specs([("5m", 300.0), ("15m", 900.0), ("1h", 3600.0)], 10.0, 30, ["15m"])
    assert [s.breakdown for s in read] == [False, True, False]  # only where rules read


def test_events_leave_the_window_at_the_bucket_boundary() -> None:
    """An event counts until its bucket falls out of the window, then not at all."""
    w = DomainWindows(SPECS)
    t = 1200.0  # the start of a bucket in every window
    w.count(t, t, DELIVERY)
    assert w.figures(0, t + 299).count("delivery") == 1
    assert w.figures(0, t + 300 - 0.001).count("delivery") == 1
    assert w.figures(0, t + 300).count("delivery") == 0  # its bucket left the window
    assert w.figures(1, t + 899).count("delivery") == 1
    assert w.figures(1, t + 900).count("delivery") == 0
    assert w.figures(2, t + 3599).count("delivery") == 1
    assert w.figures(2, t + 3600).count("delivery") == 0


#: Any time an ISO 8601 timestamp can write (up to the year 9999), to the millisecond.
_TIMES = st.integers(0, 253_402_300_799_999).map(lambda ms: ms / 1000)


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(_TIMES, _TIMES, st.integers(1, 86_400), st.integers(1, 100_000))
def test_a_window_holds_a_time_as_the_bucket_numbers_say(
    a: float, b: float, width: int, slots: int
) -> None:
    """Whether a window holds an event time (else the event is late) is the bucket
    numbers' answer at every time and layout a config allows (widths of whole seconds):
    the floats compared are exact."""
    t, now = min(a, b), max(a, b)
    spec = window_specs([("w", float(width * slots))], 1.0, slots)[0]
    assert (spec.width, spec.slots) == (width, slots)
    expected = int(t // spec.width) > int(now // spec.width) - spec.slots
    assert spec.holds(t, now) is expected


def test_an_event_leaves_with_its_bucket() -> None:
    """Mid-bucket events leave when their bucket does: up to one bucket width early."""
    w = DomainWindows(SPECS)
    t = 1000.0  # in the 1h window's bucket [960, 1080)
    w.count(t, t, DELIVERY)
    assert w.figures(2, 960 + 3600 - 0.001).count("delivery") == 1
    assert w.figures(2, 960 + 3600).count("delivery") == 0


def test_late_events_count_only_where_they_fit() -> None:
    """An event older than a window's span counts in the longer windows only."""
    w = DomainWindows(SPECS)
    now = 10_000.0
    w.count(now - 600, now, DELAY)  # 10 minutes old
    assert w.figures(0, now).count("delivery_delay") == 0
    assert w.figures(1, now).count("delivery_delay") == 1
    assert w.figures(2, now).count("delivery_delay") == 1


def test_a_week_long_window_counts_in_its_own_buckets() -> None:
    """A 7d window beside the 5m one has buckets of 20,160 s, each written in 2,016
    stages of 10 s: an event counts in it from its first stage until its bucket leaves
    the window, a week on."""
    specs = window_specs([("5m", 300.0), ("7d", 604_800.0)], 10.0, 30)
    assert [(s.width, s.slots) for s in specs] == [(10, 30), (20_160, 30)]
    w = DomainWindows(specs)
    t = 20_160.0 * 87_544  # the start of a 7d bucket
    w.count(t, t, DELIVERY)
    w.count(t + 10, t + 10, DELIVERY)  # the next stage writes the first out
    assert w.figures(1, t + 10).count("delivery") == 2
    assert w.figures(1, t + 604_800 - 0.001).count("delivery") == 2
    assert w.figures(1, t + 604_800).count("delivery") == 0


def test_ratios() -> None:
    """delay, bounce, complaint and delivery ratios follow their definitions: delayed /
    (delivered + delayed), bounced / (delivered + bounced), complained / (delivered +
    bounced), delivered / sent. An empty window has no delay ratio."""
    w = DomainWindows(SPECS)
    now = 5000.0
    w.count(now, now, DELIVERY, 90)
    w.count(now, now, DELAY, 10)
    w.count(now, now, BOUNCE, 10)
    w.count(now, now, EVENT_TYPE_INDEX["complaint"], 1)
    w.count(now, now, EVENT_TYPE_INDEX["send"], 120)
    figures = w.figures(0, now)
    assert figures.delay_ratio == pytest.approx(0.1)
    assert figures.bounce_ratio == pytest.approx(0.1)
    assert figures.complaint_ratio == pytest.approx(0.01)
    assert figures.delivery_ratio == pytest.approx(0.75)
    assert DomainWindows(SPECS).figures(0, now).delay_ratio is None


def test_running_totals_match_a_recount() -> None:
    """After many buckets rotate, the running totals equal a plain recount of the window."""
    w = DomainWindows(SPECS)
    events = [(t * 7.0, DELIVERY if t % 3 else DELAY) for t in range(2000)]
    for t, kind in events:
        w.count(t, t, kind)
    now = events[-1][0]
    for index, spec in enumerate(SPECS):
        head = int(now // spec.width)
        inside = [k for t, k in events if int(t // spec.width) > head - spec.slots]
        figures = w.figures(index, now)
        assert figures.count("delivery") == inside.count(DELIVERY)
        assert figures.count("delivery_delay") == inside.count(DELAY)


def test_quantiles_within_sketch_error() -> None:
    """p50/p95/p99 from log buckets are within 10% of the exact values; so is the sum."""
    counts: dict[int, int] = {}
    values = [float(v) for v in range(1, 10_001)]
    for v in values:
        counts[bucket_of(v)] = counts.get(bucket_of(v), 0) + 1
    total, estimate, quantiles = summarise(counts)
    assert total == 10_000
    assert abs(estimate - sum(values)) / sum(values) < 0.10
    for q, exact in zip(quantiles, (5000, 9500, 9900), strict=True):
        assert q is not None
        assert abs(q - exact) / exact < 0.10
    assert summarise({}) == (0, 0.0, (None, None, None))
    assert bucket_value(bucket_of(0.0)) == 1.0


def test_processing_quantiles_per_window() -> None:
    """Processing-time quantiles come per window and leave with the window's buckets."""
    w = DomainWindows(SPECS)
    now = 600.0
    for i in range(100):
        w.delivered(now, now, delivery_pair(1000.0 + i * 10, 2000.0))
    figures = w.figures(0, now)
    p50, p95, _ = figures.processing_ms
    assert p50 is not None
    assert 1400 < p50 < 1650
    assert p95 is not None
    assert 1800 < p95 < 2100
    assert figures.processing.count == 100
    assert figures.to_delivery.count == 100
    assert figures.to_delivery.p50 == bucket_value(bucket_of(2000.0))
    assert w.figures(0, now + 700).processing_ms == (None, None, None)
    assert w.figures(0, now + 700).processing.count == 0
    assert w.figures(2, now + 700).processing_ms[0] is not None


def test_a_quantile_covers_exactly_its_window() -> None:
    """One 120 s delivery: the 5m window has it, and 590 s later has neither the
    delivery nor its quantile (the window holds no delivery), while 1h still has both."""
    w = DomainWindows(SPECS)
    t = 1200.0
    w.delivered(t, t, delivery_pair(120_000.0, 120_000.0))
    assert w.figures(0, t).processing.p95 == bucket_value(bucket_of(120_000.0))
    later = w.figures(0, t + 590)
    assert later.count("delivery") == 0
    assert later.processing.p95 is None
    assert later.processing.count == 0
    assert w.figures(2, t + 590).processing.count == 1
    # Quantiles follow the counts bucket by bucket, like every window figure.
    for dt in range(0, 700, 10):
        figures = w.figures(0, t + dt)
        assert figures.processing.count == figures.count("delivery")


def test_reads_are_pure() -> None:
    """Reading at any time, even far ahead, changes nothing a later read returns: a
    clock that jumps ahead ten minutes and comes back finds every figure as it was."""
    w = DomainWindows(SPECS)
    now = 10_000.0
    for i in range(30):
        w.delivered(now - i * 10, now, delivery_pair(500.0 + i, 900.0))
        w.count(now - i * 10, now, DELAY)
        w.observe_delay_duration(now - i * 10, now, 30_000.0)
    before = [w.figures(index, now) for index in range(3)]
    for ahead in (now + 600, now + 10**6, now - 7200):
        for index in range(3):
            w.figures(index, ahead)
            w.breakdown(index, ahead)
    assert [w.figures(index, now) for index in range(3)] == before
    assert before[0].count("delivery") == 30
    assert before[0].delay_duration.count == 30


def test_every_write_gives_reads_a_stamp_they_never_had() -> None:
    """A rule passes over a label while its window's stamp is the one that left it
    inactive. Every write, of each kind and in any order, gives a stamp not seen before:
    one that brought the count of writes back to an earlier value would leave the rule
    blind to what it wrote (a delay whose Delivery came first is counted, then timed: a
    second such delay would go unseen until some other write)."""
    w = DomainWindows(SPECS)
    t, now = 30_000.0, 30_005.0

    writes: list[Callable[[], None]] = [
        lambda: w.count(t, now, DELAY),
        lambda: w.delivered(t, now, delivery_pair(900.0, 1200.0)),
        lambda: w.suppressed(t, now),
        lambda: w.observe_delay_duration(t, now, 5000.0),
        lambda: w.note(t, now, noted(message_id="m", source="", config_set="")),
    ]
    seen = {w.stamp(0, now)}
    for write in [*writes, *reversed(writes), *writes]:
        write()
        assert w.stamp(0, now) not in seen
        seen.add(w.stamp(0, now))


def test_a_series_adds_up_to_the_window_staged_or_not_and_reading_it_changes_nothing() -> None:
    """Per bucket, a window's counts (a sparkline's points) add up to its count at any
    time, with events still staged or written out, the clock ahead of the newest
    bucket or behind it; each event sits in its own bucket; reading changes nothing."""
    w = DomainWindows(SPECS)
    now = 30_000.0
    for i in range(40):
        w.count(now - i * 45, now, DELAY if i % 3 else DELIVERY)
    w.count(now, now, DELAY, 4)  # staged: its fine bucket is the newest
    for index, spec in enumerate(SPECS):
        for at in (now, now + 7, now + 200, now + 4000, now - 100, now - 2000):
            for type_index in (DELIVERY, DELAY):
                series = w.series(index, at, type_index)
                assert len(series) == spec.slots
                assert sum(series) == w.counts(index, at)[type_index]
    # The staged four and the newest written delay share the newest bucket of 5m.
    assert w.series(0, now, DELAY)[-1] == 4
    assert w.series(0, now, DELIVERY)[-1] == 1
    before = [w.series(2, now, DELAY), w.figures(2, now)]
    w.flush(now)
    assert [w.series(2, now, DELAY), w.figures(2, now)] == before


def test_a_series_adds_the_stage_to_what_its_bucket_already_holds() -> None:
    """A delay written out and two staged in the same 15m and 1h bucket: the newest
    point of those windows is three, not the stage alone."""
    w = DomainWindows(SPECS)
    t = 30_000.0  # starts a bucket in every window
    w.count(t, t, DELAY)
    w.count(t + 10, t + 10, DELAY, 2)  # the next fine bucket: the first is written out
    assert w.series(0, t + 10, DELAY)[-2:] == [1, 2]
    assert w.series(1, t + 10, DELAY)[-1] == 3
    assert w.series(2, t + 10, DELAY)[-1] == 3


def test_a_restored_windows_series_reads_before_any_write() -> None:
    """After a restart, the status page draws a domain's sparkline from its restored
    windows before the domain's next event: the series are the saved ones."""
    w = DomainWindows(SPECS)
    t = 30_000.0
    w.count(t, t, DELIVERY, 4)
    w.count(t + 10, t + 10, DELAY)
    w.flush(t + 10)
    restored = DomainWindows(SPECS)
    restored.restore(w.snapshot())
    for index in range(3):
        for type_index in (DELIVERY, DELAY):
            assert restored.series(index, t + 20, type_index) == w.series(index, t + 20, type_index)
    assert restored.series(0, t + 20, DELIVERY)[-3:] == [4, 0, 0]


def test_suppressed_recipients_count_from_the_first_write_and_leave_with_their_bucket() -> None:
    """A window with no suppressed recipient says 0; the first write into a fresh domain
    counts in every window at once, the next one in its own bucket."""
    w = DomainWindows(SPECS)
    t = 30_000.0
    assert [w.suppressed_count(i, t) for i in range(3)] == [0, 0, 0]
    w.suppressed(t + 5, t + 5)
    assert [w.suppressed_count(i, t + 5) for i in range(3)] == [1, 1, 1]
    w.suppressed(t + 15, t + 15)
    assert [w.suppressed_count(i, t + 15) for i in range(3)] == [2, 2, 2]
    assert w.suppressed_count(0, t + 305) == 1  # the first one's 5m bucket has left
    assert w.counts(0, t + 15) == (0,) * len(w.counts(0, t + 15))  # not a bounce


def test_only_a_delayed_recipient_counts_its_cause() -> None:
    """A soft bounce's cause is shown in alert text but is not a delayed recipient's
    cause: cause_ratio counts only what was noted with count_cause."""
    w = DomainWindows(SPECS)
    t = 30_000.0
    w.note(t, t, noted(message_id="m-1", source="", config_set="", cause="mailbox_full"))
    assert w.causes(0, t) == {}
    w.note(
        t,
        t,
        noted(message_id="m-2", source="", config_set="", cause="mailbox_full", count_cause=True),
    )
    assert w.causes(0, t) == {CAUSE_INDEX["mailbox_full"]: 1}
    assert w.breakdown(0, t).causes == [("mailbox_full", 2)]
    assert w.breakdown(0, t).second_causes == []  # none was named
    assert w.breakdown(0, t).hinted_causes == []  # nor said to be only hinted at
    assert w.breakdown(0, t).advised == []  # nor given advice of its own
    first = CAUSES[0]  # index 0 counts as any other
    w.note(t, t, noted(message_id="m-3", source="", config_set="", cause=first, count_cause=True))
    assert w.causes(0, t) == {CAUSE_INDEX["mailbox_full"]: 1, 0: 1}


def test_a_providers_windows_keep_the_domain_a_problem_came_from() -> None:
    """Noted with its domain, a recipient's domain is among the top domains; a note
    without one (a complaint) adds none; a domain's own windows keep none."""
    w = DomainWindows(SPECS)
    t = 30_000.0
    w.note(
        t,
        t,
        noted(message_id="m-1", source="", config_set="", domain="d.example"),
        with_domain=True,
    )
    w.note(t, t, noted(message_id="m-2", source="", config_set=""), with_domain=True)
    w.note(t, t, noted(message_id="m-3", source="", config_set="", domain="e.example"))
    assert w.breakdown(0, t).domains == [("d.example", 1)]


def test_delay_durations_in_one_bucket_all_count() -> None:
    w = DomainWindows(SPECS)
    t = 30_000.0
    w.observe_delay_duration(t, t, 5000)
    w.observe_delay_duration(t + 1, t + 1, 5000)
    assert w.summaries(0, t + 1)[2].count == 2


def test_events_during_a_forward_step_are_kept_for_after_it() -> None:
    """While the clock reads ten minutes ahead, events keep arriving at their real
    times: the 5m window read at the stepped clock is empty (as the events say for
    that time); once the clock is back, every one of them is in it."""
    w = DomainWindows(SPECS)
    real = 50_000.0
    for i in range(20):
        w.count(real + i, real + 600 + i, DELIVERY)  # now = real time + 10 minutes
    assert w.figures(0, real + 620).count("delivery") == 0
    assert w.figures(0, real + 20).count("delivery") == 20
    assert w.figures(2, real + 620).count("delivery") == 20


def test_a_backward_step_past_the_window_starts_the_ring_again() -> None:
    """The clock steps back two hours: everything held is ahead of it. Events now
    (clamped to the clock by the pipeline) count in every window at once."""
    w = DomainWindows(SPECS)
    t = 100_000.0
    w.count(t, t, DELIVERY, 5)
    back = t - 7200
    w.count(back, back, DELAY, 3)
    for index in range(3):
        figures = w.figures(index, back)
        assert figures.count("delivery_delay") == 3
        assert figures.count("delivery") == 0


def test_what_a_ring_that_starts_again_forgot_stays_out_of_its_breakdown() -> None:
    """The clock steps back two hours and a delay starts the ring again: the delay
    noted before the step is forgotten by the breakdown as by the counts, also once the
    clock is back at its time and a new delay falls in the same coarse bucket."""
    w = DomainWindows(SPECS)
    t = 100_000.0  # 5m bucket 10000, the first of coarse bucket 2000

    def delay(at: float, text: str) -> None:
        w.count(at, at, DELAY)
        w.note(at, at, noted(message_id=text, source="", config_set="", diagnostics=[text]))

    delay(t, "before")
    delay(t - 7200, "after the step")
    assert w.breakdown(0, t - 7200).diagnostics == [("after the step", 1)]
    delay(t + 20, "again")
    assert w.figures(0, t + 20).count("delivery_delay") == 1
    assert w.breakdown(0, t + 20).diagnostics == [("again", 1)]


def test_out_of_order_events_count_where_they_belong() -> None:
    """Events arriving in any order within the window count as a recount says."""
    w = DomainWindows(SPECS)
    now = 20_000.0
    times = [now - (i * 7919) % 3600 for i in range(500)]
    for t in times:
        w.count(t, now, DELIVERY)
    for index, spec in enumerate(SPECS):
        inside = [t for t in times if spec.holds(t, now)]
        assert w.figures(index, now).count("delivery") == len(inside)


def test_breakdown_for_alert_text() -> None:
    """Delay types, SMTP codes, MTAs and example message ids are kept, most common first."""
    w = DomainWindows(SPECS)
    now = 100.0
    for i in range(7):
        problem = noted(
            message_id=f"m{i}",
            source="arn:aws:ses:eu-west-1:1:identity/x",
            config_set="cs",
            delay_type="MailboxFull" if i < 5 else "SpamDetected",
            statuses=["4.2.2"],
            diagnostics=["smtp; 452 mailbox full"],
            mta="mx.a",
        )
        w.note(now, now, problem)
    top = w.breakdown(0, now)
    assert top.delay_types == [("MailboxFull", 5), ("SpamDetected", 2)]
    assert top.statuses == [("4.2.2", 7)]
    assert top.mtas == [("mx.a", 7)]
    assert len(top.message_ids) == 5
    assert top.sources == ["arn:aws:ses:eu-west-1:1:identity/x"]
    assert top.config_sets == ["cs"]
    assert (top.causes, top.second_causes, top.domains) == ([], [], [])  # none was named
    assert w.breakdown(0, now + 400).delay_types == []  # gone with the window


def test_a_problems_texts_that_repeat_are_cleaned_once() -> None:
    """The same diagnostic, status, MTA and domain for a second recipient are keyed as
    they were for the first, addresses hidden, without being cleaned again (nor the
    source and configuration set: remembered with the rest)."""
    _COUNTED.clear()
    _NOTED.clear()
    diagnostic = "smtp; 452 <victim@example.com>: mailbox\x1b[31m full"

    def note(message_id: str) -> Noted:
        return noted(
            message_id=message_id,
            source="s",
            config_set="c",
            delay_type="MailboxFull",
            statuses=["4.2.2"],
            diagnostics=[diagnostic],
            mta="dsn; mx.a",
            domain="d.example",
        )

    first = note("m-1")
    calls = _clean_cached.cache_info()
    again = note("m-2")
    after = _clean_cached.cache_info()
    assert (after.hits + after.misses) - (calls.hits + calls.misses) == 0
    assert again.keys == first.keys
    assert again.domain is first.domain
    said = f"smtp; 452 <{ADDRESS}>: mailbox\\u001b[31m full"
    assert detail_key(DIAGNOSTIC, said) in first.keys
    assert first.domain == detail_key(DOMAIN, "d.example")


def test_the_keys_of_problem_texts_keep_no_long_text_and_no_more_than_their_bound() -> None:
    """Thousands of distinct diagnostics, some long, leave the texts remembered for
    their keys (and what each recipient's texts made) bounded in number, each short."""
    _COUNTED.clear()
    _NOTED.clear()
    for i in range(3 * max(_COUNTED_MAX, _NOTED_MAX)):
        text = f"451 4.7.1 try again later {i}" + ("x" * 5000 if i % 2 else "")
        noted(message_id="m", source="", config_set="", diagnostics=[text])
        assert len(_COUNTED) <= _COUNTED_MAX
        assert len(_NOTED) <= _NOTED_MAX
    assert _COUNTED
    assert all(len(text) <= _COUNTED_CHARS for _, text in _COUNTED)
    assert _NOTED
    for texts in _NOTED:
        diagnostics = texts[4]
        assert isinstance(diagnostics, tuple)
        assert sum(len(text) for text in diagnostics) <= _NOTED_CHARS


def test_bucket_values() -> None:
    """Bucket 0 stands for 1 ms and below; bucket 1 for (1, 2**0.25] ms, at its middle."""
    assert bucket_value(0) == 1.0
    assert bucket_value(1) == 2 ** (0.5 / 4)
    assert bucket_of(1.0) == 0
    assert bucket_of(1.1) == 1
    # A year (2**35 ms) and longer share the last bucket: a bucket number fits a byte.
    assert bucket_of(2.0**35) == MAX_BUCKET
    assert bucket_of(2.0**35 * 1.1) == MAX_BUCKET
    assert bucket_of(1e15) == MAX_BUCKET


def test_a_deliverys_pair_holds_the_buckets_bucket_of_gives() -> None:
    """delivery_pair() finds its two buckets inline: the same as bucket_of()'s, from
    below 1 ms to past the last bucket, on each bucket's bound and either side of it,
    each value's bucket apart from the other's; the pair unpairs into those two keys,
    and a delivery with no processing time into none."""
    values = [-1.0, 0.0, 0.5, 1.0, 1.0001, 2.0**35, 2.0**35 * 1.1, 1e15]
    for bucket in range(MAX_BUCKET + 2):
        bound = 2.0 ** (bucket / 4)
        values += [bound, math.nextafter(bound, 0.0), math.nextafter(bound, math.inf)]
    values += [float(ms) for ms in range(0, 70_000, 7)]
    for processing, to_delivery in zip(values, [*values[7:], *values[:7]], strict=True):
        expected = {value_key(0, bucket_of(processing)): 3, value_key(1, bucket_of(to_delivery)): 3}
        found: dict[int, int] = {}
        assert unpair({delivery_pair(processing, to_delivery): 3}, found) == 3
        assert found == expected, (processing, to_delivery)
    found = {}
    assert unpair({delivery_pair(None, 5.0): 2}, found) == 2
    assert found == {}


def test_breakdowns_keep_the_coarse_bucket_of_the_oldest_held_bucket_and_survive_restore() -> None:
    """With 30 buckets and coarse buckets of 5, moving on to bucket 36 keeps ring buckets
    7-36: the coarse bucket of 5-9 stays (its 7-9 are still held), 0-4 goes. A snapshot
    and restore gives the same breakdown."""
    from sesd.core.windows.breakdown import Details

    details = Details(30)
    assert details.span == 5
    details.add(3, [detail_key(0, "gone")])
    details.add(8, [detail_key(0, "kept")])
    details.prune(36 - 30 + 1)
    assert details.top(6, 36, 5)[0] == [("kept", 1)]
    assert set(details.buckets) == {1}
    restored = Details(30)
    restored.restore(details.snapshot())
    assert restored.top(6, 36, 5) == details.top(6, 36, 5)


def test_a_breakdown_kind_from_a_later_sesd_is_left_out_on_restore() -> None:
    """A state file written by a later sesd, which counts a kind this one does not
    know, restores what this one knows (a rollback keeps its windows' breakdowns)."""
    from sesd.core.windows.breakdown import Details

    details = Details(30)
    details.add(8, [detail_key(0, "kept")])
    saved = details.snapshot()
    kinds = len(details.top(6, 36, 5))  # the next kind a later sesd would add
    saved[1] += [[kinds, "the next kind", 2], [99, "from later", 3], [-1, "nor this", 1]]
    restored = Details(30)
    restored.restore(saved)
    assert restored.top(6, 36, 5) == details.top(6, 36, 5)
    assert restored.snapshot() == details.snapshot()


def test_a_detail_stays_while_its_bucket_is_the_oldest_in_the_window() -> None:
    """A diagnostic noted in the last ring bucket of its coarse bucket is still shown
    when that bucket is the oldest the 5m window holds (29 buckets later), beside the
    newest one."""
    w = DomainWindows(SPECS)
    t = 30_040.0  # 5m bucket 3004: the last of coarse bucket 600
    w.note(t, t, noted(message_id="m-1", source="", config_set="", diagnostics=["old"]))
    later = t + 290  # bucket 3033: the window holds 3004-3033
    w.note(later, later, noted(message_id="m-2", source="", config_set="", diagnostics=["new"]))
    assert sorted(w.breakdown(0, later).diagnostics) == [("new", 1), ("old", 1)]
    assert w.breakdown(0, later + 10).diagnostics == [("new", 1)]


def test_a_late_problem_a_window_no_longer_holds_is_left_out_of_its_breakdown() -> None:
    """A delay one bucket older than everything the 5m window holds is counted only in
    the longer windows, and its diagnostic too: the 5m breakdown does not name a delay
    its counts leave out, though the coarse bucket it falls in is still read (ring
    buckets 2970-2974; the window holds 2974-3003)."""
    w = DomainWindows(SPECS)
    now = 30_030.0  # 5m bucket 3003
    w.count(now, now, DELAY)
    w.note(now, now, noted(message_id="m-1", source="", config_set="", diagnostics=["new"]))
    late = 29_735.0  # 5m bucket 2973: head - slots
    w.count(late, now, DELAY)
    w.note(late, now, noted(message_id="m-2", source="", config_set="", diagnostics=["late"]))
    assert w.figures(0, now).count("delivery_delay") == 1
    assert w.breakdown(0, now).diagnostics == [("new", 1)]
    assert w.figures(1, now).count("delivery_delay") == 2
    assert sorted(w.breakdown(1, now).diagnostics) == [("late", 1), ("new", 1)]


def test_a_snapshot_of_another_layout_is_refused() -> None:
    """Rings or breakdowns of another number of windows, or a window kept from one the
    file does not hold: the state is not this domain's (said so, as the reason the file
    is refused)."""
    w = DomainWindows(SPECS)
    w.count(30_000.0, 30_000.0, DELAY)
    for part in ("rings", "details"):
        data = w.snapshot()
        data[part] = data[part][:-1]
        with pytest.raises(ValueError, match=r"^window layout changed$"):
            DomainWindows(SPECS).restore(data)
    # A window taken from a saved one past the last the file holds.
    with pytest.raises(ValueError, match=r"^window layout changed$"):
        DomainWindows(SPECS).restore(w.snapshot(), [0, 1, 3])


def test_details_count_exactly_64_values_a_kind_and_share_their_keys() -> None:
    """The 64th distinct value is counted as itself, the 65th and those after as
    OVERFLOW, together; a value counted already still counts as itself; the same
    (kind, value) in two buckets is one shared key object."""
    from sesd.core.windows.breakdown import OVERFLOW, Details

    details = Details(30)
    for i in range(67):
        details.add(0, [detail_key(2, f"v{i:02d}")])
    details.add(0, [detail_key(2, "v10")])
    (diagnostics,) = [found for found in details.top(-1, 0, 100) if found][:1]
    assert len(diagnostics) == 65
    assert ("v63", 1) in diagnostics
    assert (OVERFLOW, 3) in diagnostics
    assert ("v10", 2) in diagnostics
    assert ("v64", 1) not in diagnostics
    details.add(10, [detail_key(3, "mx.example")])
    details.add(20, [detail_key(3, "mx.example")])
    keys = [next(iter(details.buckets[c])) for c in (2, 4)]
    assert keys[0] is keys[1]


def test_details_span_and_the_coarse_buckets_a_window_reads() -> None:
    """Six slots make coarse buckets of one ring bucket; a read over ring buckets (lo,
    hi] takes the coarse buckets from the one holding lo+1 to the one holding hi, most
    frequent value first, ties by value."""
    from sesd.core.windows.breakdown import Details

    assert Details(6).span == 1
    assert Details(5).span == 1
    details = Details(30)  # coarse buckets of 5 ring buckets
    for bucket, value in ((4, "before"), (5, "b"), (5, "a"), (9, "a"), (14, "last"), (15, "after")):
        details.add(bucket, [detail_key(0, value)])
    assert details.top(4, 14, 5)[0] == [("a", 2), ("b", 1), ("last", 1)]


def test_examples_are_the_newest_five_inside_the_window() -> None:
    """An example seen exactly at the window's start is outside it; a state file with
    more than five keeps the newest five."""
    from sesd.core.windows.breakdown import Examples

    examples = Examples()
    for i in range(3):
        examples.add(100.0 + i, [(0, f"m{i}")])
    assert examples.since(0, 100.0, 200.0) == ["m2", "m1"]
    restored = Examples()
    restored.restore([[[float(i), f"m{i}"] for i in range(8)], [], []])
    assert restored.since(0, -1.0, 10.0) == ["m7", "m6", "m5", "m4", "m3"]


def test_a_value_seen_all_through_an_incident_stays_in_the_newest_window() -> None:
    """One sending identity on every delay for ten minutes: a 5m window at the end
    names it (it was kept at its first sighting, and fell out of every window once
    that was older than the window); an older sighting moves nothing, and it is still
    one example, not two."""
    from sesd.core.windows.breakdown import Examples

    examples = Examples()
    for i in range(60):
        examples.add(1000.0 + 10 * i, [(0, "arn:aws:ses:eu-west-1:123456789012:identity/x")])
    examples.add(1000.0, [(0, "arn:aws:ses:eu-west-1:123456789012:identity/x")])
    examples.add(1200.0, [(0, "other")])
    assert examples.since(0, 1290.0, 1590.0) == ["arn:aws:ses:eu-west-1:123456789012:identity/x"]
    assert examples.since(0, 1100.0, 1590.0) == [
        "arn:aws:ses:eu-west-1:123456789012:identity/x",
        "other",
    ]


def test_a_delay_resolved_out_of_order_counts_where_it_ended() -> None:
    """The Delivery (T0+60) is processed before its DeliveryDelay (T0). How long the
    delay lasted is a value at T0+60: at T0+305 the 5m window no longer holds T0's
    bucket but holds that value. A Bounce that ends a delay, with no other value staged,
    records it too; and values staged before it in the same bucket stay."""
    from sesd.config import parse_config
    from sesd.core.pipeline import Pipeline
    from tests import factory as f

    pipeline = Pipeline(core_settings(parse_config("")))
    t0 = f.T0
    delivery = f.delivery(["a@one.example"], at=t0 + 60, message_id="m-1", processing_ms=900)
    pipeline.feed(f.raw(delivery), "q", t0 + 61)
    delay = f.delay(["a@one.example"], at=t0, message_id="m-1", expires=t0 + 3600)
    pipeline.feed(f.raw(delay), "q", t0 + 62)
    figures = pipeline.ledger.windows["one.example"].figures(0, t0 + 305)
    assert figures.delay_duration.count == 1
    assert figures.processing.count == 1
    assert figures.count("delivery_delay") == 0

    bounced = Pipeline(core_settings(parse_config("")))
    bounced.feed(f.raw(f.delay(["b@two.example"], at=t0, message_id="m-2")), "q", t0)
    bounced.feed(f.raw(f.delivery(["c@two.example"], at=t0 + 30)), "q", t0 + 30)
    bounced.feed(f.raw(f.bounce(["b@two.example"], at=t0 + 31, message_id="m-2")), "q", t0 + 31)
    later = bounced.ledger.windows["two.example"].figures(0, t0 + 40)
    assert later.delay_duration.count == 1
    assert later.processing.count == 1


def test_a_processing_time_of_a_millisecond_is_recorded() -> None:
    """Sketch bucket 0 (1 ms and below) is a value like any other."""
    w = DomainWindows(SPECS)
    w.delivered(100.0, 100.0, delivery_pair(1.0, 0.5))
    figures = w.figures(0, 100.0)
    assert (figures.processing.count, figures.to_delivery.count) == (1, 1)
    assert figures.processing.p50 == 1.0


# --- the horizon: the window reaching furthest back decides what is late ---------


def test_every_event_counts_in_the_windows_or_as_late_never_neither() -> None:
    """Events from 3,400 to 3,700 s old, every 5 s: each counts in the 1h window or as
    late (the tally behind sesd_late_events_total), exactly one of the two (events
    3,480-3,600 s old once counted in neither)."""
    pipeline = Pipeline(core_settings(parse_config("")))
    ages = range(3400, 3705, 5)
    for age in ages:
        body = f.raw(f.delivery([f"u{age}@one.example"], at=NOW - age))
        pipeline.feed(body, "q", NOW)
    in_window = pipeline.ledger.windows["one.example"].figures(2, NOW).count("delivery")
    assert in_window + pipeline.ledger.tallies.late_events == len(ages)
    assert in_window > 0
    assert pipeline.ledger.tallies.late_events > 0


def test_late_at_the_edge_of_an_aligned_bucket() -> None:
    """The oldest bucket the 1h window holds at NOW starts 29 buckets back: an event at
    its first instant counts in the window; one a millisecond earlier is late."""
    oldest = f.T0 - (SLOTS - 1) * WIDTH
    inside = Pipeline(core_settings(parse_config("")))
    inside.feed(f.raw(f.delivery(["a@one.example"], at=oldest)), "q", NOW)
    assert inside.ledger.tallies.late_events == 0
    assert inside.ledger.windows["one.example"].figures(2, NOW).count("delivery") == 1
    outside = Pipeline(core_settings(parse_config("")))
    outside.feed(f.raw(f.delivery(["a@one.example"], at=oldest - 0.001)), "q", NOW)
    assert outside.ledger.tallies.late_events == 1
    assert "one.example" not in outside.ledger.windows


def test_late_just_inside_and_just_outside_the_horizon() -> None:
    """At the end of a bucket the widest window reaches back a full hour: an event
    3,599 s old is inside, one 3,601 s old is late."""
    now = f.T0 + WIDTH - 1
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delivery(["a@one.example"], at=now - 3599)), "q", now)
    assert pipeline.ledger.tallies.late_events == 0
    pipeline.feed(f.raw(f.delivery(["b@one.example"], at=now - 3601)), "q", now)
    assert pipeline.ledger.tallies.late_events == 1


def test_the_widest_window_is_the_one_reaching_furthest_back() -> None:
    """10m and 1h in 10 s buckets (max_buckets = 360): an event 30 minutes old is in the
    1h window, not late; one 61 minutes old is late."""
    config = parse_config('[windows]\nsizes = ["10m", "1h"]\nmax_buckets = 360\n')
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.delivery(["a@one.example"], at=NOW - 1800)), "q", NOW)
    assert pipeline.ledger.tallies.late_events == 0
    assert pipeline.ledger.windows["one.example"].figures(1, NOW).count("delivery") == 1
    pipeline.feed(f.raw(f.delivery(["b@one.example"], at=NOW - 3660)), "q", NOW)
    assert pipeline.ledger.tallies.late_events == 1


# --- quantiles and breakdowns, through the pipeline -------------------------------


def test_a_quantile_at_an_exact_rank() -> None:
    """Two values: the median is the lower one (half of them are at or below it)."""
    _, _, (p50, _, _) = summarise({10: 1, 20: 1})
    assert p50 == bucket_value(10)


def test_a_breakdown_keeps_the_top_five_and_empties_with_its_window() -> None:
    """Seven delay types: the five most frequent are shown. At the instant the last bucket
    leaves the 5m window, the breakdown is empty."""
    pipeline = Pipeline(core_settings(parse_config(CONFIG)))
    t = f.T0 + 3  # inside the 10 s bucket starting at f.T0
    for i in range(7):
        for _ in range(i + 1):
            pipeline.feed(f.raw(f.delay(["x@one.example"], at=t, delay_type=f"T{i}")), "q", t)
    windows = pipeline.ledger.windows["one.example"]
    assert [name for name, _ in windows.breakdown(0, t).delay_types] == [
        "T6",
        "T5",
        "T4",
        "T3",
        "T2",
    ]
    assert windows.breakdown(0, f.T0 + 299.9).delay_types != []
    assert windows.breakdown(0, f.T0 + 300).delay_types == []


def test_a_window_of_fewer_ring_buckets_than_twelve_counts_details_per_ring_bucket() -> None:
    """A ring of 9 buckets has fewer than two per coarse detail bucket (6 of them): each
    ring bucket is its own, so a breakdown over the last bucket alone counts only what
    that bucket saw, not its neighbour's."""
    from sesd.core.windows.breakdown import Details, detail_key

    details = Details(9)
    key = detail_key(0, "4.4.7")
    details.add(3, [key])
    details.add(4, [key])
    assert details.top(3, 4, 5)[0] == [("4.4.7", 1)]
    assert details.top(2, 4, 5)[0] == [("4.4.7", 2)]


def test_a_value_seen_again_at_the_same_time_keeps_its_place() -> None:
    """Two examples seen at one time are shown the last kept first; the first seen again
    at that same time is no later, so it does not move ahead of the other."""
    from sesd.core.windows.breakdown import Examples

    examples = Examples()
    examples.add(100.0, [(0, "m0")])
    examples.add(100.0, [(0, "m1")])
    examples.add(100.0, [(0, "m0")])
    assert examples.since(0, 99.0, 100.0) == ["m1", "m0"]


def test_a_sixth_example_pushes_out_the_oldest() -> None:
    """Six message ids seen one after another: the five newest are kept, the first
    goes."""
    from sesd.core.windows.breakdown import Examples

    examples = Examples()
    for i in range(6):
        examples.add(100.0 + i, [(0, f"m{i}")])
    assert examples.since(0, 0.0, 200.0) == ["m5", "m4", "m3", "m2", "m1"]
