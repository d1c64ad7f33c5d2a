"""Stories that kill the mistakes a mutation run once found surviving (issue
"mutation testing"): each pins a boundary or a path the rest of the suite left loose."""

from __future__ import annotations

import json

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import pagerduty_events
from sesd.alerting.rules import Status, Transition
from sesd.config import core_settings, parse_config
from sesd.core.domains import OTHER, LabelTable
from sesd.core.pipeline import Pipeline
from sesd.core.sketch import bucket_of, bucket_value
from tests import factory as f
from tests.test_rules import CONFIG, feed_spike

# The widest default window: 1h in 30 buckets of 120 s. f.T0 starts a bucket.
WIDTH, SLOTS = 120.0, 30
NOW = f.T0 + 10


def test_every_event_counts_in_the_windows_or_as_late_never_neither() -> None:
    """Events from 3,400 to 3,700 s old, every 5 s: each counts in the 1h window or in
    sesd_late_events_total, exactly one of the two (events 3,480-3,600 s old used to
    count in neither)."""
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


def test_restoring_more_labels_than_the_cap_keeps_the_cap() -> None:
    """A state file with more domains than max_tracked (the cap was lowered): only
    max_tracked are admitted back, the rest count under ``other``."""
    table = LabelTable(max_tracked=2, idle_evict=3600)
    table.restore({"a.com": 10.0, "b.com": 11.0, "c.com": 12.0, "d.com": 13.0})
    assert sorted(table.labels()) == ["a.com", "b.com"]
    assert table.label("c.com", 20) == OTHER
    assert table.label("a.com", 20) == "a.com"


def test_idle_evict_boundary() -> None:
    """Seen at 100, idle_evict 50: still tracked at exactly 150, evicted just after."""
    table = LabelTable(max_tracked=5, idle_evict=50)
    table.label("a.com", 100)
    assert table.evict_idle(150) == []
    assert table.evict_idle(150.001) == ["a.com"]


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


def test_an_alert_on_an_evicted_domain_resolves() -> None:
    """A domain with a firing alert goes idle and is evicted with its windows: the
    alert still resolves at the next evaluation, and the resolve goes out."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"') + '[domains]\nidle_evict = "1h"\n'
    )
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    (fired,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert fired.kind is Transition.FIRING
    later = f.T0 + 2 * 3600
    assert pipeline.housekeep(later) == ["a.example"]
    (resolved,) = evaluator.evaluate(pipeline.ledger, later)
    assert (resolved.kind, resolved.domain) == (Transition.RESOLVED, "a.example")
    (notification,) = [n for n in evaluator.due(later) if n.kind is Transition.RESOLVED]
    assert [a.domain for a in notification.alerts] == ["a.example"]
    assert evaluator.evaluate(pipeline.ledger, later + 5) == []
    assert "a.example" not in evaluator.states["delays"]  # forgotten once inactive


def test_repeats_come_every_repeat_interval_and_none_before() -> None:
    """A firing alert is repeated every repeat_interval (10 min here), not at the
    group_wait (1 min) or any tick in between, over an hour of 5 s ticks."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "1m"\nrepeat_interval = "10m"').replace(
            'window = "5m"', 'window = "1h"'
        )
    )
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    sent: list[tuple[float, Transition]] = []
    for tick in range(0, 3000, 5):
        now = f.T0 + tick
        evaluator.evaluate(pipeline.ledger, now)
        sent += [(n.at - f.T0, n.kind) for n in evaluator.due(now)]
    assert sent == [(60.0, Transition.FIRING)] + [
        (60.0 + 600.0 * i, Transition.REPEAT) for i in range(1, 5)
    ]


def test_a_grouped_notification_is_one_pagerduty_event_per_alert() -> None:
    """Three domains firing within group_wait are one notification; PagerDuty gets three
    events, each with its own dedup_key, none left out."""
    config = parse_config(CONFIG)
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    for domain in ("a.example", "b.example", "c.example"):
        feed_spike(pipeline, domain, f.T0, 6, 4)
    evaluator.evaluate(pipeline.ledger, f.T0)
    (notification,) = evaluator.due(f.T0 + 30)
    events = pagerduty_events(notification, "key", "sesd")
    keys = [json.loads(e)["dedup_key"] for e in events]
    assert keys == ["sesd:delays:a.example", "sesd:delays:b.example", "sesd:delays:c.example"]
    assert all(json.loads(e)["event_action"] == "trigger" for e in events)
    assert evaluator.states["delays"]["c.example"].status is Status.FIRING


@pytest.mark.parametrize("entries", [2, 100])
def test_dedup_max_entries_bounds_the_duplicate_filter(entries: int) -> None:
    """[ingest] dedup_max_entries bounds what the duplicate filter holds."""
    pipeline = Pipeline(core_settings(parse_config(f"[ingest]\ndedup_max_entries = {entries}\n")))
    for i in range(500):
        pipeline.feed(f.raw(f.delivery([f"u{i}@one.example"], at=NOW)), "q", NOW)
    assert len(pipeline.ledger.dedup) <= entries


def test_max_pending_delays_bounds_the_pending_table() -> None:
    """[ingest] max_pending_delays: delays past it are counted as overflow, not held."""
    pipeline = Pipeline(core_settings(parse_config("[ingest]\nmax_pending_delays = 3\n")))
    for i in range(5):
        pipeline.feed(f.raw(f.delay([f"u{i}@one.example"], at=NOW)), "q", NOW)
    assert len(pipeline.ledger.pending) == 3
    assert pipeline.ledger.pending.overflow == 2
    assert pipeline.ledger.pending.count("one.example", NOW) == 3


def test_a_rules_explicit_domains_are_the_only_ones_evaluated() -> None:
    """domains = ["b.example", "microsoft"]: a spike on a.example fires nothing; one on
    b.example and on a microsoft member fires, the latter under the group's name."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"')
        + 'domains = ["b.example", "microsoft"]\n'
        + '[domains]\ngroups = {microsoft = ["outlook.com", "hotmail.com"]}\n'
    )
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    assert evaluator.evaluate(pipeline.ledger, f.T0) == []
    feed_spike(pipeline, "b.example", f.T0, 6, 4)
    feed_spike(pipeline, "hotmail.com", f.T0, 6, 4)
    fired = evaluator.evaluate(pipeline.ledger, f.T0)
    assert sorted(a.domain for a in fired) == ["b.example", "microsoft"]


def test_explicit_domains_are_matched_in_normal_form() -> None:
    """domains = ["Example.COM."] watches example.com."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"') + 'domains = ["Example.COM."]\n'
    )
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    feed_spike(pipeline, "example.com", f.T0, 6, 4)
    (alert,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert alert.domain == "example.com"


def test_a_resolve_for_an_evicted_domain_counts_nothing() -> None:
    """The domain's windows are gone: its resolve carries zero counts, not made-up ones."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"') + '[domains]\nidle_evict = "1h"\n'
    )
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    evaluator.evaluate(pipeline.ledger, f.T0)
    later = f.T0 + 2 * 3600
    pipeline.housekeep(later)
    (resolved,) = evaluator.evaluate(pipeline.ledger, later)
    assert set(resolved.counts.values()) == {0}


@pytest.mark.parametrize(
    ("status", "diagnostic", "mta", "internal"),
    [
        ("4.4.1", "", "", False),
        ("", "smtp; 421 try later", "", False),
        ("", "", "dsn; mx.example", False),
        ("", "", "", True),
    ],
)
def test_any_sign_from_the_recipients_side_places_the_delay_there(
    status: str, diagnostic: str, mta: str, internal: bool
) -> None:
    """An SMTP status, a diagnostic or a reporting MTA alone is enough to place the delay
    between SES and the recipient's MTA; none of them points inside SES."""
    config = parse_config(CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"'))
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    for i in range(6):
        body = f.delay([f"d{i}@a.example"], at=f.T0, status=status, diagnostic=diagnostic, mta=mta)
        pipeline.feed(f.raw(body), "q", f.T0)
    (alert,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert alert.internal is internal
    assert alert.stage == ("inside SES" if internal else "SES -> recipient MTA")


def test_a_processing_time_alert_points_inside_ses() -> None:
    """processing_p95_seconds measures SES's own time: the alert says so."""
    config = parse_config(
        '[alerts]\ngroup_wait = "0s"\n[[alerts.rules]]\nname = "slow"\n'
        'metric = "processing_p95_seconds"\nwindow = "5m"\nabove = 60\n'
    )
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    pipeline.feed(f.raw(f.delivery(["a@a.example"], at=f.T0, processing_ms=120_000)), "q", f.T0)
    (alert,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert alert.stage == "inside SES (processing time)"
    assert not alert.internal


def test_histogram_buckets_as_the_exposition_wants_them() -> None:
    """Cumulative counts per bound, the last one labelled +Inf."""
    from sesd.core.tallies import FixedHistogram

    histogram = FixedHistogram((1.0, 5.0))
    for value in (0.5, 1.0, 3.0, 9.0):
        histogram.observe(value)
    assert histogram.cumulative() == [("1.0", 2), ("5.0", 3), ("+Inf", 4)]
    assert histogram.sum == 13.5


def test_an_evicted_domain_takes_all_its_series_with_it() -> None:
    """Recipients, delays by type and bounces by type of an evicted domain go; another
    domain's stay."""
    pipeline = Pipeline(core_settings(parse_config('[domains]\nidle_evict = "1h"\n')))
    for domain, at in (("old.example", NOW), ("new.example", NOW + 3000)):
        pipeline.feed(f.raw(f.delay([f"a@{domain}"], at=at)), "q", at)
        pipeline.feed(f.raw(f.bounce([f"b@{domain}"], at=at)), "q", at)
    assert pipeline.housekeep(NOW + 3700) == ["old.example"]
    scope = pipeline.ledger.by_domain
    for table in (scope.recipients, scope.delays, scope.bounces, scope.windows):
        assert list(table) == ["new.example"]


def test_expiring_reports_how_many() -> None:
    """Two delays expiring together: expire() says two."""
    from sesd.core.pending import PendingDelays

    pending = PendingDelays(10)
    pending.delayed(1, ("a.com",), 0, 50)
    pending.delayed(2, ("a.com",), 0, 50)
    assert pending.expire(50) == 2


def test_a_quantile_at_an_exact_rank() -> None:
    """Two values: the median is the lower one (half of them are at or below it)."""
    from sesd.core.sketch import bucket_value, summarise

    _, _, (p50, _, _) = summarise({10: 1, 20: 1})
    assert p50 == bucket_value(10)


def test_invalid_messages_count_per_reason() -> None:
    """Two bodies that are not JSON and one without mail: 2 and 1."""
    pipeline = Pipeline(core_settings(parse_config("")))
    for body in ("nope", "nope either", '{"eventType": "Delivery"}'):
        pipeline.feed(body, "q", NOW)
    assert pipeline.ledger.tallies.invalid == {("q", "not_json"): 2, ("q", "missing_mail"): 1}


def test_a_bounce_counts_every_usable_recipient_and_its_breakdown() -> None:
    """A bounce to an address without a usable domain and to a good one counts the good
    one, with its SMTP status, diagnostic and MTA for alert text."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["nodomain@", "b@one.example"], at=NOW)), "q", NOW)
    windows = pipeline.ledger.windows["one.example"]
    assert windows.figures(0, NOW).count("bounce") == 1
    breakdown = windows.breakdown(0, NOW)
    assert breakdown.statuses == [("5.1.1", 1)]
    assert breakdown.mtas == [("mta.example.com", 1)]  # RFC 3464's "dsn; " dropped
    assert breakdown.delay_types == []  # a bounce has none
    assert pipeline.ledger.by_domain.bounces["one.example"] == {("Permanent", "General"): 1}


def test_a_complaint_notes_its_message_and_nothing_of_smtp() -> None:
    """A complaint is an example message id for alert text, with no status, MTA or type."""
    pipeline = Pipeline(core_settings(parse_config(CONFIG)))
    body = f.complaint(["c@one.example"], at=NOW)
    body["mail"]["messageId"] = "m-c"
    pipeline.feed(f.raw(body), "q", NOW)
    breakdown = pipeline.ledger.windows["one.example"].breakdown(0, NOW)
    assert breakdown.message_ids == ["m-c"]
    assert (breakdown.statuses, breakdown.mtas, breakdown.delay_types) == ([], [], [])


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


def test_breakdowns_and_examples_survive_the_state_file() -> None:
    """After a restart from the state file, alert text says what it said before."""
    from sesd.alerting.evaluator import Evaluator as _Evaluator
    from sesd.runtime.state import restore, snapshot

    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", NOW, 6, 4)
    blob = snapshot(pipeline.ledger, _Evaluator(config.alerts, ["5m", "15m", "1h"]), NOW)
    fresh = Pipeline(core_settings(config))
    restore(blob, fresh.ledger, _Evaluator(config.alerts, ["5m", "15m", "1h"]))
    before = pipeline.ledger.windows["a.example"].breakdown(0, NOW)
    after = fresh.ledger.windows["a.example"].breakdown(0, NOW)
    assert after == before
    assert after.message_ids
    assert after.delay_types == [("TransientCommunicationFailure", 6)]


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


def test_a_delivery_without_a_processing_time_records_no_quantile() -> None:
    """A Delivery whose processingTimeMillis is missing counts, and adds no value to
    either quantile; one with it adds its time to delivery as the send-to-delivery span."""
    pipeline = Pipeline(core_settings(parse_config("")))
    body = f.delivery(["a@one.example"], at=NOW)
    del body["delivery"]["processingTimeMillis"]
    pipeline.feed(f.raw(body), "q", NOW)
    figures = pipeline.ledger.windows["one.example"].figures(0, NOW)
    assert figures.count("delivery") == 1
    assert (figures.processing.count, figures.to_delivery.count) == (0, 0)
    timed = f.delivery(["b@one.example"], at=NOW, processing_ms=900, sent=NOW - 5.0)
    pipeline.feed(f.raw(timed), "q", NOW)
    figures = pipeline.ledger.windows["one.example"].figures(0, NOW)
    assert figures.to_delivery.p50 == bucket_value(bucket_of(5000.0))
    assert figures.processing.p50 == bucket_value(bucket_of(900.0))


@pytest.mark.parametrize("kind", ["delivery", "delay"])
def test_a_recipient_without_a_domain_does_not_stop_the_next(kind: str) -> None:
    """The first recipient has no usable domain; the second still counts."""
    pipeline = Pipeline(core_settings(parse_config("")))
    build = f.delivery if kind == "delivery" else f.delay
    pipeline.feed(f.raw(build(["nodomain@", "b@one.example"], at=NOW)), "q", NOW)
    assert sum(pipeline.ledger.windows["one.example"].figures(0, NOW).counts) == 1
    assert pipeline.ledger.tallies.invalid_recipients == 1


def test_a_delay_expiring_at_the_instant_it_arrives_is_not_pending() -> None:
    """expirationTime == the clock: SES has given up; nothing is pending."""
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delay(["a@one.example"], at=NOW - 60, expires=NOW)), "q", NOW)
    assert len(pipeline.ledger.pending) == 0


def test_a_pending_delays_rule_reads_the_domains_pending_count() -> None:
    """pending_delays above 2: three recipients delayed and not delivered fire it, at 3."""
    config = parse_config(
        '[alerts]\ngroup_wait = "0s"\n[[alerts.rules]]\nname = "stuck"\n'
        'metric = "pending_delays"\nwindow = "5m"\nabove = 2\n'
    )
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    for i in range(3):
        pipeline.feed(f.raw(f.delay([f"d{i}@a.example"], at=NOW)), "q", NOW)
    pipeline.feed(f.raw(f.delay(["e@b.example"], at=NOW)), "q", NOW)
    (alert,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert (alert.domain, alert.value) == ("a.example", 3.0)
