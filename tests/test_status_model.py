"""The status document, built from a pipeline and an evaluator at a fixed time: what it
ranks first, the alerts it lists and why, the sparkline's points, its bounds, what it
hides (addresses), and that reading it changes nothing."""

from __future__ import annotations

import copy
from pathlib import Path

import msgspec
import pytest

from sesd.alerting.rules import Status as AlertStatus
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence, SilenceSet
from sesd.commands.status_table import table
from sesd.core.causes import classify
from sesd.core.decode import decode_body
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.metrics.exposition import render
from sesd.status.charts import moment
from sesd.status.document import Limits, Status
from sesd.status.model import build_status, read_counters, scope_page
from sesd.status.sources import Rates
from tests import factory as f
from tests.status_world import MICROSOFT, QUEUE, World, everything, feed, spike, world

NOW = f.T0 + 3600
DELAY = EVENT_TYPE_INDEX["delivery_delay"]
DELIVERY = EVENT_TYPE_INDEX["delivery"]


def status(w: World, now: float = NOW, limits: Limits | None = None) -> Status:
    """The document as a request builds it."""
    counters = read_counters(w.sources)
    return build_status(w.sources, now, counters, (w.sources.started, {}), limits or Limits())


def spiked(extra: str = "") -> World:
    w = world(extra, now=NOW)
    feed(w, spike(NOW), NOW)
    return w


def test_an_alert_whose_cause_the_texts_only_hinted_at_says_so() -> None:
    """outlook.com's delays say only "try again later": the alert's cause reads as
    alert text reads it, greylisting only hinted at by the text."""
    w = world(now=NOW)
    feed(w, spike(NOW, diagnostic="451 4.7.1 Please try again later"), NOW)
    first = status(w).alerts.items[0]
    assert first.cause is not None
    assert (first.cause.name, first.cause.recipients, first.cause.hinted) == ("greylisted", 15, 15)
    assert first.cause.noted == (
        "15 of 15 noted; 15 only hinted at by the text: read the diagnostics"
    )


def test_a_spike_ranks_its_domain_first_with_its_firing_alert_cause_and_advice() -> None:
    """outlook.com delays 15 of 25 recipients, throttled by Microsoft: the document lists
    microsoft's alert first (a provider's explains its domains'), then outlook.com's
    (firing, its value against the threshold, the cause named by the diagnostic with
    its advice, the stage), ranks it first among the domains and microsoft first among
    the providers, with the rules firing on each."""
    doc = status(spiked())
    provider, first = doc.alerts.items[:2]
    assert (provider.rule, provider.name) == ("provider-delay-ratio-high", "microsoft")
    assert (first.rule, first.scope, first.name, first.state) == (
        "delay-ratio-high",
        "domain",
        "outlook.com",
        "firing",
    )
    assert first.value == pytest.approx(15 / 25)
    assert (first.value_text, first.threshold_text, first.fires) == ("60.0%", "10.0%", "above")
    assert first.cause is not None
    assert (first.cause.name, first.cause.recipients, first.cause.of) == ("ip_reputation", 15, 15)
    assert (first.cause.hinted, first.cause.noted) == (0, "15 of 15 noted")
    # Microsoft's own code decided every one: its advice, as the alert text gives it.
    assert first.cause.advice == classify(None, "4.7.650", MICROSOFT).advice
    assert "Microsoft" in first.cause.advice
    assert first.stage == "SES -> recipient MTA"
    assert first.link == "/domain/outlook.com"
    # Where outlook.com's mail goes, as its alert's text says; a provider's alert names
    # none (it is the provider).
    assert (first.provider, provider.provider) == ("microsoft", None)
    assert first.silence is None
    assert doc.alerts.firing == 2  # and microsoft, by the provider rule
    domains, providers = doc.scopes[0], doc.scopes[1]
    assert [r.name for r in domains.items] == ["outlook.com", "yahoo.com", "gmail.com"]
    top = domains.items[0]
    assert (top.delivered, top.delayed, top.pending, top.top_cause) == (10, 15, 15, "ip_reputation")
    assert top.firing == ["delay-ratio-high"]
    assert providers.items[0].name == "microsoft"
    assert providers.items[0].firing == ["provider-delay-ratio-high"]


def test_the_sparkline_is_the_delay_ratio_of_each_bucket_of_the_widest_window() -> None:
    """The sparkline has a point per bucket of the widest window (1h, 2-minute buckets),
    oldest first: None where a bucket holds no delivered or delayed recipient, else
    that bucket's delay ratio, as the bucket's own events make it."""
    w = spiked()
    row = status(w).scopes[0].items[0]
    spec = w.pipeline.ledger.specs[-1]
    assert (status(w).scopes[0].sparkline_window, spec.width) == ("1h", 120.0)
    assert len(row.sparkline) == spec.slots
    windows = w.pipeline.ledger.windows["outlook.com"]
    delayed = windows.series(2, NOW, DELAY)
    delivered = windows.series(2, NOW, DELIVERY)
    assert sum(delayed) == 15
    assert sum(delivered) == 10
    expected = [d / (d + n) if d + n else None for d, n in zip(delayed, delivered, strict=True)]
    assert row.sparkline == expected
    assert [v for v in row.sparkline if v is not None]  # it has points
    assert row.sparkline[:-2] == [None] * (spec.slots - 2)  # the spike is the last minute


def test_reading_the_status_changes_nothing() -> None:
    """Two documents at the same time are equal, and the windows, the alert states, the
    silences and the metrics read after them are what they were before."""
    w = spiked()
    ledger = w.pipeline.ledger

    def figures() -> list[object]:
        return [
            (scope.axis, label, i, windows.figures(i, NOW), windows.breakdown(i, NOW))
            for scope in ledger.scopes
            for label, windows in sorted(scope.windows.items())
            for i in range(len(ledger.specs))
        ]

    before = (figures(), copy.deepcopy(w.evaluator.states), render(w.metrics._pipeline.collect()))
    first = status(w)
    for axis, name in (("domain", "outlook.com"), ("provider", "microsoft")):
        scope_page(w.sources, axis, name, NOW)
    assert status(w) == first
    after = (figures(), w.evaluator.states, render(w.metrics._pipeline.collect()))
    assert after == before


def test_no_recipient_address_appears_anywhere() -> None:
    """Diagnostics and MTAs that name the recipient are shown with ``[address]``, in the
    status document and on the domain's page; no recipient address is in either."""
    text = "smtp; 452 4.2.2 Mailbox of late3@outlook.com is full <late3@outlook.com>"
    w = world(now=NOW)
    feed(w, spike(NOW, diagnostic=text), NOW)
    shown = msgspec.json.encode(status(w)).decode()
    shown += msgspec.json.encode(scope_page(w.sources, "domain", "outlook.com", NOW)).decode()
    assert "@outlook.com" not in shown
    assert "@gmail.com" not in shown
    assert "Mailbox of [address] is full" in shown


def test_sizes_are_bounded_and_the_totals_kept() -> None:
    """Sixty domains, ranked: the document lists the top five of each axis with the total
    count, and at most the number of alerts asked for, with the total and firing; as
    many tenants as alerts, those SES paused first."""
    w = world(now=NOW)
    events = [
        event
        for i in range(60)
        for k in range(6)  # twelve recipients each: over the ranking's floor
        for event in (
            f.delay([f"x{k}@d{i}.example"], at=NOW - 30, expires=NOW + 600),
            f.delivery([f"y{k}@d{i}.example"], at=NOW - 30),
        )
    ]
    feed(w, events, NOW)
    doc = status(w, limits=Limits(top=5, alerts=3))
    assert (len(doc.scopes[0].items), doc.scopes[0].total) == (5, 60)
    assert (len(doc.alerts.items), doc.alerts.total, doc.alerts.firing) == (3, 60, 60)
    statuses = w.pipeline.ledger.tenant_status
    for i in range(10):
        statuses.record(("prod", "eu-west-1", f"t{i}"))
    statuses.record(("prod", "eu-west-1", "z-paused")).sending = "DISABLED"
    doc = status(w, limits=Limits(top=5, alerts=3))
    assert [t.tenant for t in doc.tenants] == ["z-paused", "t0", "t1"]  # paused first


def test_a_silenced_alert_shows_its_silence_and_the_silence_is_listed() -> None:
    """A silence on outlook.com holds its alert back: the alert shows it (id, comment,
    end), the list of silences shows its matchers; an expired one is not listed."""
    w = spiked()
    held = Silence(id="abc123", comment="Microsoft knows", starts_at=NOW - 60,
                   ends_at=NOW + 3600, rule="delay-ratio-*", domain="outlook.com")  # fmt: skip
    gone = Silence(id="old", comment="done", starts_at=NOW - 600, ends_at=NOW - 60)
    w.evaluator.silences = SilenceSet([gone, held])
    doc = status(w)
    silence = doc.alerts.items[1].silence
    assert silence is not None
    assert (silence.id, silence.comment, silence.ends_at) == (
        "abc123",
        "Microsoft knows",
        NOW + 3600,
    )
    assert doc.alerts.items[0].silence is None  # the provider's alert
    assert doc.silences.total == 1
    row = doc.silences.items[0]
    assert (row.rule, row.domain, row.severity, row.state) == (
        "delay-ratio-*",
        "outlook.com",
        None,
        "active",
    )


def test_a_pending_alert_comes_after_the_firing_ones() -> None:
    """A rule whose ``for`` has not passed lists its alert as pending, after the firing."""
    extra = (
        '[[alerts.rules]]\nname = "slow-burn"\nmetric = "delayed_recipients"\nwindow = "5m"\n'
        'above = 0\nfor = "10m"\n'
    )
    doc = status(spiked(extra))
    states = [(a.state, a.rule) for a in doc.alerts.items]
    assert states[:2] == [("firing", "provider-delay-ratio-high"), ("firing", "delay-ratio-high")]
    assert {s for s, _ in states[2:]} == {"pending"}
    assert ("pending", "slow-burn") in states


def test_firing_alerts_come_first_the_most_urgent_first_then_the_pending() -> None:
    """A pending alert that is critical and on a provider still comes after every
    firing one (what fires now is read first); of two firing on one domain at the same
    time, the critical comes before the warning, whatever their names."""
    extra = (
        '[[alerts.rules]]\nname = "any-delay"\nmetric = "delayed_recipients"\nwindow = "5m"\n'
        'above = 0\nseverity = "warning"\n'
        '[[alerts.rules]]\nname = "provider-slow"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        'above = 0.1\nmin_events = 10\nproviders = ["*"]\nseverity = "critical"\nfor = "10m"\n'
    )
    doc = status(spiked(extra))
    assert [(a.state, a.rule, a.name) for a in doc.alerts.items] == [
        ("firing", "provider-delay-ratio-high", "microsoft"),
        ("firing", "delay-ratio-high", "outlook.com"),
        ("firing", "any-delay", "outlook.com"),
        ("firing", "any-delay", "yahoo.com"),
        ("pending", "provider-slow", "microsoft"),
    ]


def test_queue_rates_and_lag_are_read_against_the_sample_a_request_kept() -> None:
    """The first request compares with the start (every counter 0); one more than five
    minutes later with the first: messages received per second, errors lately, the
    lag quantiles (the bounds of the histogram's buckets)."""
    w = world(now=NOW)
    rates = Rates(w.sources.started)
    w.metrics.sqs_counts(QUEUE).received(300)
    w.metrics.sqs_counts(QUEUE).error("receive", 2)
    for lag in (0.3, 0.4, 4.0):
        w.pipeline.ledger.tallies.lag.observe(lag)
    counters = read_counters(w.sources)
    doc = build_status(w.sources, NOW, counters, rates.sample(NOW, counters))
    queue = doc.queues[0]
    assert queue.received_per_second == pytest.approx(300 / 600)
    assert (queue.received, queue.errors["receive"], queue.recent_errors) == (300, 2, 2)
    assert (doc.lag.events, doc.lag.p50_seconds, doc.lag.p95_seconds) == (3, 0.5, 5.0)
    assert doc.lag.text == "event lag p50 <= 0.5s, p95 <= 5s (3 events over the last 10m00s)"
    w.metrics.sqs_counts(QUEUE).received(60)
    counters = read_counters(w.sources)
    later = build_status(w.sources, NOW + 400, counters, rates.sample(NOW + 400, counters))
    assert later.queues[0].received_per_second == pytest.approx(60 / 400)
    assert later.queues[0].rate_seconds == 400
    assert later.queues[0].recent_errors == 0
    assert (later.lag.events, later.lag.p95_seconds) == (0, None)
    assert later.lag.text == "no events over the last 6m40s"


def test_a_lag_past_the_histograms_last_bound_reads_as_more_than_it() -> None:
    """A two-hour backlog: the p95 is in the bucket past 3600 s, "more than" it, not
    "at most" it."""
    w = world(now=NOW)
    for lag in (0.3, 7200.0, 7200.0):
        w.pipeline.ledger.tallies.lag.observe(lag)
    counters = read_counters(w.sources)
    doc = build_status(w.sources, NOW, counters, Rates(w.sources.started).sample(NOW, counters))
    assert (doc.lag.p50_seconds, doc.lag.p95_seconds) == (3600.0, 3600.0)
    assert doc.lag.text.startswith("event lag p50 > 3600s, p95 > 3600s (3 events")


def test_a_replica_reading_behind_its_windows_says_so() -> None:
    """The events read now are seven minutes old (a backlog, a starved CPU): the lag
    line says how far behind sesd reads, and that windows shorter than that may be
    missing recent events (the 5m one here). Caught up, it says so."""
    w = world(now=NOW)
    tallies = w.pipeline.ledger.tallies
    tallies.lag.observe(420.0)
    tallies.latest["q"] = (NOW - 1, 420.0)
    counters = read_counters(w.sources)
    doc = build_status(w.sources, NOW, counters, Rates(w.sources.started).sample(NOW, counters))
    assert doc.lag.latest_seconds == 420.0
    assert doc.lag.text.endswith(
        "; reading 7m00s behind: BEHIND, windows under 7m00s may be missing recent events "
        "until sesd catches up"
    )
    # The same lag, this host's clock seven minutes ahead of AWS's: that is the cause.
    w.health.clock_offset = 421.0
    doc = build_status(w.sources, NOW, counters, Rates(w.sources.started).sample(NOW, counters))
    assert doc.lag.text.endswith(
        " (or rather: this host's clock is 7m01s ahead of AWS's, so every event reads "
        "late: fix its time sync)"
    )
    w.health.clock_offset = 2.0
    tallies.latest["q"] = (NOW, 0.8)
    doc = build_status(w.sources, NOW, counters, Rates(w.sources.started).sample(NOW, counters))
    assert doc.lag.text.endswith("; reading 0s behind")


def test_rates_keep_a_sample_per_gap_and_compare_with_one_a_horizon_old() -> None:
    """Samples a second apart are kept once per gap; the rate's base is the newest sample
    at least a horizon old, so the span stays about the horizon."""
    rates = Rates(0.0, horizon=10.0, gap=2.0)
    for t in range(1, 30):
        base = rates.sample(float(t), {"n": float(t)})
    assert base[0] == 18.0
    assert len(rates) <= 7


def test_a_label_page_has_its_windows_breakdown_and_examples() -> None:
    """The page of outlook.com: every window side by side, the causes and SMTP codes its
    delays came with, the reporting MTA, example message ids, and its alert; a domain
    is found however it is written; an unknown one has no page."""
    w = spiked()
    detail = scope_page(w.sources, "domain", "OUTLOOK.COM.", NOW)
    assert detail is not None
    assert detail.name == "outlook.com"
    assert [v.window for v in detail.windows] == ["5m", "15m", "1h"]
    assert (detail.windows[0].delayed, detail.windows[0].delay_ratio) == (15, 0.6)
    assert [(c.name, c.count) for c in detail.windows[0].causes] == [("ip_reputation", 15)]
    b = detail.breakdown
    assert b.window == "5m"  # the only window a rule reads
    assert [(c.name, c.count) for c in b.statuses] == [("4.7.650", 15)]
    assert b.diagnostics[0].name == MICROSOFT
    assert b.mtas[0].name == "a8-70.smtp-out.amazonses.com"
    assert len(b.message_ids) == 5
    assert [a.rule for a in detail.alerts] == ["delay-ratio-high"]
    assert scope_page(w.sources, "domain", "nowhere.example", NOW) is None
    assert scope_page(w.sources, "tenant", "acme", NOW) is None  # tenants are off


def test_a_provider_page_is_found_however_its_label_is_cased() -> None:
    """``/provider/Microsoft`` opens microsoft's page, as ``/domain/OUTLOOK.COM`` opens
    outlook.com's: provider labels are lower-case by construction (built-in, or
    ``[providers.mx]`` refuses any other), so a capital is how a person wrote it, not
    another provider. One sesd does not know still has no page."""
    w = spiked()
    for name in ("Microsoft", "MICROSOFT"):
        detail = scope_page(w.sources, "provider", name, NOW)
        assert detail is not None
        assert detail.name == "microsoft"
        assert [v.window for v in detail.windows] == ["5m", "15m", "1h"]
    assert scope_page(w.sources, "provider", "Nowhere", NOW) is None


def test_the_canary_accounts_and_tenants_as_the_ledger_has_them() -> None:
    """Canaries that came back give their stage timings; an account's poll and estimate
    are shown side by side; what SES says of a tenant is listed."""
    w = spiked()
    ledger = w.pipeline.ledger
    assert status(w).canary is None
    ledger.canary.sent("m-1", NOW - 100, 0.2)
    ledger.canary.failed("auth", NOW - 50, 0.1)
    event = decode_body(f.raw(f.delivery(["c@simulator.example"], at=NOW - 98, message_id="m-1")))
    ledger.canary.observe(event, NOW - 97)  # type: ignore[arg-type]
    status_of = ledger.accounts.record(("prod", "eu-west-1"))
    status_of.sending_enabled, status_of.enforcement = False, "PROBATION"
    status_of.aws["bounce"] = 0.02
    ledger.tenant_status.record(("prod", "eu-west-1", "acme")).findings.append(
        ("BOUNCE", "HIGH", "too many bounces")
    )
    doc = status(w)
    assert doc.canary is not None
    assert (doc.canary.sent, doc.canary.back, doc.canary.send_failed) == (1, 1, 1)
    run = doc.canary.recent[0]
    assert (run.send_seconds, run.ses_seconds, run.pipeline_seconds) == (0.2, 1.2, 1.0)
    account = next(a for a in doc.accounts if a.account == "prod")
    assert (account.sending_enabled, account.enforcement, account.aws_bounce_ratio) == (
        False,
        "PROBATION",
        0.02,
    )
    assert doc.tenants[0].findings == ["BOUNCE (HIGH): too many bounces"]


def test_a_domain_with_nothing_in_the_window_ranks_below_one_reading_zero() -> None:
    """At a small sender most domains have nothing in 5 minutes: they come after the
    domains whose ratio the window can tell (0.0% included), not before them."""
    w = world(now=NOW)
    events = [f.delivery(["a@quiet.example"], at=NOW - 3000)]  # in the 1h window only
    events += [f.delivery([f"u{i}@zero.example"], at=NOW - 30 + i) for i in range(2)]
    feed(w, events, NOW)
    rows = status(w).scopes[0].items
    assert [row.name for row in rows] == ["zero.example", "quiet.example"]
    assert (rows[0].delay_ratio, rows[1].delay_ratio) == (0.0, None)


def test_a_hand_edited_silence_id_is_shown_cut_short_and_escaped_on_its_alert() -> None:
    """A silence edited into the file by hand may carry an id of any length and any
    characters: the alert it holds shows the id as the list of silences does, escaped
    and cut short, not a megabyte of it (the page, the JSON and the CLI all read it)."""
    w = spiked()
    long_id = "\x1b[2J" + "x" * 1_000_000
    held = Silence(id=long_id, comment="edited by hand", starts_at=NOW - 60,
                   ends_at=NOW + 3600, domain="outlook.com")  # fmt: skip
    w.evaluator.silences = SilenceSet([held])
    doc = status(w)
    shown = doc.alerts.items[1].silence
    assert shown is not None
    assert shown.id == doc.silences.items[0].id
    assert len(shown.id) <= 200
    assert "\x1b" not in shown.id
    assert shown.id.startswith("\\u001b[2Jx")


def test_a_planned_silence_expired_before_it_starts_is_not_listed(tmp_path: Path) -> None:
    """A silence planned for tonight's maintenance (starting in 6 hours), expired now
    with ``sesd silence expire`` (the work was called off): the file ends it at its
    start, as it cannot end before it. The page still listed it as pending (it starts
    later) though it will never mute anything; it is expired, and not listed."""
    w = spiked()
    file = SilenceFile(str(tmp_path / "silences.json"))
    file.add(Silence(id="tonight", comment="maintenance", starts_at=NOW + 6 * 3600,
                     ends_at=NOW + 8 * 3600), NOW)  # fmt: skip
    w.evaluator.silences = SilenceSet(file.read())
    assert [(s.id, s.state) for s in status(w).silences.items] == [("tonight", "pending")]
    assert file.expire({"tonight"}, NOW) == ["tonight"]
    w.evaluator.silences = SilenceSet(file.read())
    doc = status(w)
    assert (doc.silences.total, doc.silences.items) == (0, [])
    assert file.read()[0].state(NOW) == "expired"
    assert file.expire({"tonight"}, NOW + 60) == []  # not "ended" a second time


def test_a_queue_moved_by_a_reload_reads_no_negative_rate() -> None:
    """A reload moved queue ``q`` to another region: its counters start again from 0
    under the new region's labels (the old series are removed). The page compared
    them with the sample a request kept before, and said -2.2 messages a second and
    "-2 lately" for five minutes; it reads a counter that fell as one that started
    again (as Prometheus's rate() does): what it counted since."""
    w = world(now=NOW)
    rates = Rates(w.sources.started)
    w.metrics.sqs_counts(QUEUE).received(900)
    w.metrics.sqs_counts(QUEUE).error("receive", 2)
    counters = read_counters(w.sources)
    rates.sample(NOW, counters)
    w.pipeline.ledger.queues["q"] = ("123456789012", "us-east-1")
    w.metrics.set_queues([QUEUE])
    w.metrics.sqs_counts(QUEUE).received(30)
    counters = read_counters(w.sources)
    queue = build_status(w.sources, NOW + 400, counters, rates.sample(NOW + 400, counters)).queues[
        0
    ]
    assert (queue.received, queue.region) == (30, "us-east-1")
    assert queue.received_per_second == pytest.approx(30 / 400)
    assert queue.recent_errors == 0


def test_a_sink_whose_posts_fail_is_named_in_the_header() -> None:
    """PagerDuty is down: its posts are retried and one given up, while Slack's go out.
    Alerts fired, but whether anyone was told was only in /metrics
    (``sesd_notifications_total``): the page's header names the sink whose posts
    did not go out lately, and how; a sink whose posts went out is not named."""
    from sesd.status.page import status_html

    w = world(now=NOW)
    rates = Rates(w.sources.started)
    notifications = w.metrics.notifications
    notifications.labels("slack", "sent").inc(2)
    notifications.labels("pagerduty", "retried").inc(4)
    notifications.labels("pagerduty", "failed").inc(1)
    counters = read_counters(w.sources)
    doc = build_status(w.sources, NOW, counters, rates.sample(NOW, counters))
    assert doc.sesd.sinks_failing == {"pagerduty": {"retried": 4, "failed": 1}}
    assert (
        '<span class="bad">notifications not sent lately: pagerduty 4 retried, 1 failed</span>'
        in status_html(doc, 5.0)
    )
    # Five minutes on, nothing new failed: the header no longer names it.
    notifications.labels("pagerduty", "sent").inc(5)
    counters = read_counters(w.sources)
    later = build_status(w.sources, NOW + 400, counters, rates.sample(NOW + 400, counters))
    assert later.sesd.sinks_failing == {}
    assert "notifications not sent" not in status_html(later, 5.0)
    # sesd status says it as loudly as a failed reload.
    from sesd.commands.status_table import table

    assert "NOTIFICATIONS NOT SENT LATELY: pagerduty 4 retried, 1 failed" in table(doc)
    assert "NOTIFICATIONS NOT SENT" not in table(later)


def test_resolves_owed_are_listed_last_oldest_resolve_first_since_they_resolved() -> None:
    """After a restart, slow-burn's alerts on outlook.com (fired an hour ago, resolved a
    minute ago) and yahoo.com (fired later, resolved twenty minutes ago) have their
    resolves owed, and so has globex's pause, resolved "ahead" of a clock set back
    since; microsoft's breach is pending: the document, its JSON and ``sesd status``
    list the resolved after the pending, the oldest resolve first (as the rows' since
    reads, not when they fired), each since it resolved, globex's since the page's time
    (never after it); a list cut to 4 keeps the firing and the pending one."""
    w = everything()
    states = w.evaluator.states
    for rule, label, fired, resolved in (
        ("slow-burn", "outlook.com", NOW - 3600, NOW - 60),
        ("slow-burn", "yahoo.com", NOW - 1800, NOW - 1200),
        ("tenant-paused", "globex", NOW - 600, NOW + 3000),
    ):
        owed = states[rule][label]
        owed.status, owed.since, owed.resolved_at = AlertStatus.FIRING, fired, resolved
    states["provider-delay-ratio-high"]["microsoft"].status = AlertStatus.PENDING
    doc = status(w)
    rows = [(a.state, a.rule, a.name, a.since) for a in doc.alerts.items]
    assert [r[0] for r in rows] == ["firing"] * 3 + ["pending"] + ["resolved"] * 3
    assert rows[4:] == [
        ("resolved", "tenant-paused", "globex", NOW),
        ("resolved", "slow-burn", "yahoo.com", NOW - 1200),
        ("resolved", "slow-burn", "outlook.com", NOW - 60),
    ]
    assert (doc.alerts.total, doc.alerts.firing, doc.alerts.resolved) == (7, 3, 3)
    sent = msgspec.json.decode(msgspec.json.encode(doc))["alerts"]["items"]
    assert [(a["state"], a["rule"], a["name"], a["since"]) for a in sent] == rows
    lines = [line for line in table(doc).splitlines() if line.startswith("  RESOLVED")]
    assert [line.rsplit(" since ", 1)[1] for line in lines] == [
        moment(NOW, NOW),
        moment(NOW - 1200, NOW),
        moment(NOW - 60, NOW),
    ]
    assert ["globex" in lines[0], "yahoo.com" in lines[1], "outlook.com" in lines[2]] == [True] * 3
    cut = status(w, limits=Limits(alerts=4)).alerts
    assert [a.state for a in cut.items] == ["firing"] * 3 + ["pending"]
    assert (cut.total, cut.firing, cut.resolved) == (7, 3, 3)
