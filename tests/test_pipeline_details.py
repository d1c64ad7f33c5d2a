"""The pipeline's smaller promises, each a story: what a result says, what alert text
keeps of bounces and complaints, tags that add up and go when idle, the lag
histogram, and a reload's changes to domains and breakdowns."""

from __future__ import annotations

import json

from sesd.config import core_settings, parse_config
from sesd.core.causes import CAUSE_INDEX, classify
from sesd.core.decode import VALIDATION_TEXT
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.pipeline import Pipeline, Result
from sesd.core.sketch import bucket_value
from sesd.core.tallies import Outcome
from tests import factory as f
from tests.test_rules import CONFIG

NOW = f.T0 + 10
ARN = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
RULE = '[[alerts.rules]]\nname = "r"\nmetric = "bounce_ratio"\nwindow = "5m"\nabove = 0.1\n'


def test_a_result_says_why_a_message_was_skipped_or_invalid() -> None:
    pipeline = Pipeline(core_settings(parse_config("")))
    skipped = pipeline.feed(json.dumps(VALIDATION_TEXT), "q", NOW)
    assert skipped == Result(Outcome.SKIPPED, "ses_topic_validation")
    invalid = pipeline.feed('{"Type": "Other", "Message": "{}"}', "q", NOW)
    assert invalid == Result(Outcome.INVALID, "unrecognised", "SNS message of Type 'Other'")


def test_an_event_with_no_usable_recipient_names_three_of_them_redacted() -> None:
    pipeline = Pipeline(core_settings(parse_config("")))
    bad = ["nodomain", "x@", "y@ ", "z@"]
    result = pipeline.feed(f.raw(f.delivery(bad)), "q", NOW)
    assert (result.outcome, result.reason) == ("invalid", "no_usable_domain")
    assert result.detail == "no usable recipient domain: ***, ***@, ***@ "


def test_invalid_recipients_add_up_across_events() -> None:
    pipeline = Pipeline(core_settings(parse_config("")))
    for _ in range(2):
        pipeline.feed(f.raw(f.delivery(["nodomain", "a@x.example"])), "q", NOW)
    assert pipeline.ledger.tallies.invalid_recipients == 2


def test_a_bounce_keeps_its_facts_for_every_usable_recipient() -> None:
    """An unusable address first does not hide the recipients after it: each domain's
    breakdown has the SMTP status, diagnostic, identity and configuration set."""
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    body = f.bounce(["nodomain", "a@x.example", "b@y.example"], at=NOW)
    pipeline.feed(f.raw(body), "q", NOW)
    for domain in ("x.example", "y.example"):
        breakdown = pipeline.ledger.windows[domain].breakdown(0, NOW, delays=False)
        assert breakdown.statuses == [("5.1.1", 1)], domain
        assert breakdown.diagnostics == [("smtp; 550 5.1.1 user unknown", 1)]
        assert breakdown.sources == [ARN]
        assert breakdown.config_sets == ["ConfigSet"]
        assert breakdown.mtas == [("mta.example.com", 1)]  # RFC 3464's "dsn; " dropped


def test_a_delay_keeps_its_facts_for_every_usable_recipient() -> None:
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    body = f.delay(["nodomain", "a@x.example"], at=NOW, expires=NOW + 3600)
    pipeline.feed(f.raw(body), "q", NOW)
    assert pipeline.ledger.pending.count("x.example", NOW) == 1
    assert pipeline.ledger.windows["x.example"].breakdown(0, NOW).sources == [ARN]


def test_a_delay_whose_reply_has_no_code_is_judged_by_its_status() -> None:
    """SES's status field says 4.2.2 and the receiver's reply carries no enhanced code:
    the delay's cause is mailbox_full (what cause_ratio counts and alert text names),
    not the delay type's recipient_server."""
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    body = f.delay(
        ["a@x.example"],
        at=NOW,
        delay_type="RecipientServerError",
        status="4.2.2",
        diagnostic="smtp; 452 Requested action not taken",
    )
    pipeline.feed(f.raw(body), "q", NOW)
    windows = pipeline.ledger.windows["x.example"]
    assert windows.causes(0, NOW) == {CAUSE_INDEX["mailbox_full"]: 1}
    assert windows.breakdown(0, NOW).causes == [("mailbox_full", 1)]


def test_a_complaint_is_noted_once_per_domain_with_its_identity() -> None:
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    body = f.complaint(["a@x.example", "b@x.example"], at=NOW)
    message_id = body["mail"]["messageId"]
    pipeline.feed(f.raw(body), "q", NOW)
    breakdown = pipeline.ledger.windows["x.example"].breakdown(0, NOW, delays=False)
    assert breakdown.message_ids == [message_id]
    assert (breakdown.sources, breakdown.config_sets) == ([ARN], ["ConfigSet"])


def test_a_delay_alert_names_the_delays_and_a_bounce_alert_the_bounces() -> None:
    """Delays, routine hard bounces and complaints in one window, the complaints last:
    the delays' view has the delays' codes, MTA and message ids only; the bounces'
    view the bounces' and the complaints'."""
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    delays = [f.delay([f"d{i}@x.example"], at=NOW, expires=NOW + 3600) for i in range(3)]
    bounces = [f.bounce([f"b{i}@x.example"], at=NOW) for i in range(2)]
    complaints = [f.complaint([f"c{i}@x.example"], at=NOW) for i in range(2)]
    for body in (*delays, *bounces, *complaints):
        pipeline.feed(f.raw(body), "q", NOW)
    windows = pipeline.ledger.windows["x.example"]
    of_delays, of_bounces = windows.breakdown(0, NOW), windows.breakdown(0, NOW, delays=False)
    assert of_delays.statuses == [("4.4.1", 3)]
    assert [m for m, _ in of_delays.mtas] == ["a8-70.smtp-out.amazonses.com"]
    assert sorted(of_delays.message_ids) == sorted(b["mail"]["messageId"] for b in delays)
    assert of_bounces.statuses == [("5.1.1", 2)]
    assert [m for m, _ in of_bounces.mtas] == ["mta.example.com"]
    others = [b["mail"]["messageId"] for b in (*bounces, *complaints)]
    assert sorted(of_bounces.message_ids) == sorted(others[-5:])


def test_event_lag_is_receive_time_less_event_time() -> None:
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delivery(["a@x.example"], at=NOW - 0.25)), "q", NOW, NOW)
    assert pipeline.ledger.tallies.lag.sum == 0.25


def test_time_to_delivery_is_from_the_send_to_the_delivery() -> None:
    """1,023 ms from send to delivery is in the sketch bucket ending at 1,024 ms (a
    thousandth more would be in the next); a delivery dated before its send counts in
    the lowest bucket."""
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delivery(["a@x.example"], at=NOW, sent=NOW - 1.023)), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["b@y.example"], at=NOW, sent=NOW + 5.0)), "q", NOW)
    windows = pipeline.ledger.windows
    assert windows["x.example"].figures(0, NOW).to_delivery.p50 == bucket_value(40)
    assert windows["y.example"].figures(0, NOW).to_delivery.p50 == bucket_value(0)


def test_a_delays_length_is_measured_to_the_millisecond() -> None:
    """A delay whose Delivery came 1,023 ms after it lasted 1,023 ms: its length is in
    the sketch bucket ending at 1,024 ms, as a time to delivery of 1,023 ms is (a
    thousandth more would be in the next, and the quantile shown a fifth higher)."""
    pipeline = Pipeline(core_settings(parse_config("")))
    delay = f.delay(["a@x.example"], at=NOW - 1.023, message_id="m-1", expires=NOW + 3600)
    pipeline.feed(f.raw(delay), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["a@x.example"], at=NOW, message_id="m-1")), "q", NOW)
    figures = pipeline.ledger.windows["x.example"].figures(0, NOW)
    assert (figures.delay_duration.count, figures.delay_duration.p50) == (1, bucket_value(40))


def test_a_soft_bounce_names_its_cause_but_is_not_counted_as_a_delays() -> None:
    """A transient bounce's cause is in the alert text's causes; cause_ratio counts
    delayed recipients only."""
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    pipeline.feed(f.raw(f.bounce(["a@x.example"], at=NOW, kind="Transient")), "q", NOW)
    windows = pipeline.ledger.windows["x.example"]
    assert [n for _, n in windows.breakdown(0, NOW).causes] == [1]
    assert windows.causes(0, NOW) == {}


def test_a_soft_bounce_is_judged_by_its_status_too_and_each_counts_in_the_causes() -> None:
    """A transient bounce whose reply carries no enhanced code is judged by SES's status
    field, as a delay is (4.2.2: the mailbox is full, not unknown); two such bounces
    count twice among the causes replay reports."""
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    for address in ("a@x.example", "b@x.example"):
        body = f.bounce([address], at=NOW, kind="Transient")
        body["bounce"]["bouncedRecipients"][0].update(
            status="4.2.2", diagnosticCode="smtp; 452 Requested action not taken"
        )
        pipeline.feed(f.raw(body), "q", NOW)
    windows = pipeline.ledger.windows["x.example"]
    assert windows.breakdown(0, NOW, delays=False).causes == [("mailbox_full", 2)]
    assert pipeline.ledger.tallies.causes == {"mailbox_full": 2}


def test_a_soft_bounce_names_a_second_cause_and_its_entrys_advice() -> None:
    """Microsoft's "4.7.500 Server busy" in a transient bounce: alert text names the
    cause with its second one (ip_reputation, or rate_limited), and gives the advice of
    the entry that decided it (Microsoft's restriction, not ip_reputation's own), as for
    a delay."""
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    reply = "451 4.7.500 Server busy. Please try again later from [192.0.2.10]."
    body = f.bounce(["a@x.example"], at=NOW, kind="Transient")
    body["bounce"]["bouncedRecipients"][0].update(status="4.7.500", diagnosticCode=reply)
    pipeline.feed(f.raw(body), "q", NOW)
    breakdown = pipeline.ledger.windows["x.example"].breakdown(0, NOW, delays=False)
    assert breakdown.causes == [("ip_reputation", 1)]
    assert breakdown.second_causes == [("ip_reputation, or rate_limited", 1)]
    own = classify(None, "4.7.500", reply).advised
    assert own
    assert breakdown.advised == [(own, 1)]


def test_an_event_dated_after_its_receipt_has_no_lag() -> None:
    """A sender's clock ahead of ours: the event arrives "before" it happened. Its lag
    counts as none, in the first bucket and in how far behind sesd reads
    (sesd_event_lag_latest_seconds), not as a negative time."""
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delivery(["a@x.example"], at=NOW + 120.0)), "q", NOW, NOW)
    lag = pipeline.ledger.tallies.lag
    assert (lag.sum, lag.counts[0], sum(lag.counts)) == (0.0, 1, 1)
    assert pipeline.ledger.tallies.latest["q"] == (NOW, 0.0)


def test_tag_counts_add_up_and_an_idle_tag_value_goes() -> None:
    pipeline = Pipeline(core_settings(parse_config('[dimensions]\ntags = ["campaign"]\n')))
    for _ in range(2):
        body = f.delivery(["a@x.example"], at=NOW)
        body["mail"]["tags"] = {"campaign": ["spring"]}
        pipeline.feed(f.raw(body), "q", NOW)
    counts = pipeline.ledger.tallies.tag_recipients[("campaign", "spring")]
    assert sum(counts) == 2
    later = NOW + 2 * 86400
    pipeline.housekeep(later)
    assert ("campaign", "spring") not in pipeline.ledger.tag_windows
    assert ("campaign", "spring") not in pipeline.ledger.tallies.tag_recipients


def test_a_tag_value_other_is_told_from_the_values_past_the_cap() -> None:
    """``other`` is sesd's label for a tag's values past ``max_tracked`` and for values SES
    could not have carried. A sender who tags mail ``campaign=other`` has that traffic
    under ``'other'`` (a quote is in no value SES carries), so it is told apart from
    the overflow in every family, and keeps its label across a restart."""
    config = parse_config('[dimensions]\ntags = ["campaign"]\nmax_tracked = 2\n')
    pipeline = Pipeline(core_settings(config))
    for value, recipients in (("spring", 1), ("other", 2), ("summer", 4), ("a b", 8)):
        body = f.delivery([f"u{i}@x.example" for i in range(recipients)], at=NOW)
        body["mail"]["tags"] = {"campaign": [value]}
        pipeline.feed(f.raw(body), "q", NOW)
    delivered = EVENT_TYPE_INDEX["delivery"]
    tallies = pipeline.ledger.tallies.tag_recipients
    counted = {value: counts[delivered] for (_, value), counts in tallies.items()}
    assert counted == {"spring": 1, "'other'": 2, "other": 4 + 8}
    restarted = Pipeline(core_settings(config))
    restarted.ledger.restore(pipeline.ledger.snapshot(NOW), NOW)
    assert set(restarted.ledger.tag_windows) == set(pipeline.ledger.tag_windows)
    assert ("campaign", "'other'") in restarted.ledger.tag_windows


def test_a_reload_moves_a_domain_into_a_group_from_then_on() -> None:
    """Events after a reload count under the group's label; the domain's windows so far
    stay where they were until idle."""
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delivery(["a@gmail.com"], at=NOW)), "q", NOW)
    assert list(pipeline.ledger.windows) == ["gmail.com"]
    pipeline.reconfigure(
        core_settings(parse_config('[domains]\ngroups = {google = ["gmail.com"]}\n'))
    )
    pipeline.feed(f.raw(f.delivery(["b@gmail.com"], at=NOW)), "q", NOW)
    assert sorted(pipeline.ledger.windows) == ["gmail.com", "google"]
    pipeline.reconfigure(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delivery(["c@gmail.com"], at=NOW)), "q", NOW)
    assert pipeline.ledger.by_domain.recipients["gmail.com"][EVENT_TYPE_INDEX["delivery"]] == 2


def test_a_reload_keeps_breakdowns_for_the_windows_new_rules_read() -> None:
    pipeline = Pipeline(core_settings(parse_config("")))
    assert [spec.breakdown for spec in pipeline.ledger.specs] == [False, False, False]
    pipeline.reconfigure(core_settings(parse_config(RULE.replace('"5m"', '"1h"'))))
    assert [spec.breakdown for spec in pipeline.ledger.specs] == [False, False, True]
    pipeline.feed(f.raw(f.bounce(["a@x.example"], at=NOW)), "q", NOW)
    windows = pipeline.ledger.windows["x.example"]
    assert windows.breakdown(2, NOW, delays=False).statuses == [("5.1.1", 1)]
    assert windows.breakdown(0, NOW, delays=False).statuses == []


def test_a_reload_sets_the_canarys_deadline_and_queue() -> None:
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.reconfigure(
        core_settings(
            parse_config(
                '[[queues]]\nurl = "https://sqs.example/1/q"\nname = "events"\n'
                '[canary]\nfrom = "c@example.com"\nconfiguration_set = "sesd"\ndeadline = "2m"\n'
            )
        )
    )
    assert (pipeline.ledger.canary.deadline, pipeline.ledger.canary.queue) == (120.0, "events")


def test_a_bounce_counts_every_usable_recipient_and_its_breakdown() -> None:
    """A bounce to an address without a usable domain and to a good one counts the good
    one, with its SMTP status, diagnostic and MTA for alert text."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["nodomain@", "b@one.example"], at=NOW)), "q", NOW)
    windows = pipeline.ledger.windows["one.example"]
    assert windows.figures(0, NOW).count("bounce") == 1
    breakdown = windows.breakdown(0, NOW, delays=False)
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
    breakdown = pipeline.ledger.windows["one.example"].breakdown(0, NOW, delays=False)
    assert breakdown.message_ids == ["m-c"]
    assert (breakdown.statuses, breakdown.mtas, breakdown.delay_types) == ([], [], [])


def test_a_complaint_with_nothing_to_break_down_leaves_no_empty_bucket() -> None:
    """A complaint's message id is an example, not a breakdown value: the state file
    keeps no empty bucket for it; a bounce's status and diagnostic are values."""
    pipeline = Pipeline(core_settings(parse_config(RULE)))
    pipeline.feed(f.raw(f.complaint(["c@one.example"], at=NOW)), "q", NOW)
    saved = pipeline.ledger.snapshot(NOW)["windows"]["one.example"]["details"]
    assert saved[0] == {}
    assert pipeline.ledger.windows["one.example"].breakdown(0, NOW, delays=False).message_ids
    pipeline.feed(f.raw(f.bounce(["b@one.example"], at=NOW)), "q", NOW)
    saved = pipeline.ledger.snapshot(NOW)["windows"]["one.example"]["details"]
    assert [len(values) > 0 for values in saved[0].values()] == [True]


def test_a_reload_mid_bucket_counts_each_problem_in_the_breakdowns_kept_when_it_came() -> None:
    """A reload that changes which windows rules read, with the fine bucket open: each
    problem counts in the breakdowns kept when it came, before the reload or after it,
    and reads say so before the bucket is written out and after."""
    one_hour = RULE.replace('"5m"', '"1h"')
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.bounce(["a@x.example"], at=NOW)), "q", NOW)
    pipeline.reconfigure(core_settings(parse_config(one_hour)))
    pipeline.feed(f.raw(f.bounce(["b@x.example"], at=NOW)), "q", NOW)
    windows = pipeline.ledger.windows["x.example"]
    assert windows.breakdown(2, NOW, delays=False).statuses == [("5.1.1", 1)]  # b's
    pipeline.reconfigure(core_settings(parse_config(RULE)))
    pipeline.feed(f.raw(f.bounce(["c@y.example"], at=NOW)), "q", NOW)
    pipeline.reconfigure(core_settings(parse_config(one_hour)))
    pipeline.feed(f.raw(f.bounce(["d@y.example"], at=NOW)), "q", NOW)
    pipeline.reconfigure(core_settings(parse_config(RULE)))
    pipeline.feed(f.raw(f.bounce(["e@y.example"], at=NOW)), "q", NOW)
    windows = pipeline.ledger.windows["y.example"]
    read = [windows.breakdown(i, NOW, delays=False).statuses for i in (0, 2)]
    assert read == [[("5.1.1", 2)], [("5.1.1", 1)]]  # c's and e's; d's
    windows.flush(NOW)
    assert [windows.breakdown(i, NOW, delays=False).statuses for i in (0, 2)] == read
