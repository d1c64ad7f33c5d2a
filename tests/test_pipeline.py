"""The pure pipeline: what each message leaves in the ledger. Counters per queue and
per domain, windows, late and future events, duplicates, eviction, tags, pending
delays and histograms, read from ``pipeline.ledger`` (how the exposition shows them
is tests/test_metrics.py's)."""

from __future__ import annotations

import pytest

from sesd.config import core_settings, parse_config
from sesd.core.canary import CANARY_DOMAIN, CANARY_TAG
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.ledger import Ledger
from sesd.core.pipeline import Pipeline
from sesd.core.sketch import bucket_of, bucket_value
from tests import factory as f

NOW = f.T0 + 10
DELIVERY = EVENT_TYPE_INDEX["delivery"]
BOUNCE = EVENT_TYPE_INDEX["bounce"]
DELAY = EVENT_TYPE_INDEX["delivery_delay"]


def make(extra: str = "") -> Pipeline:
    return Pipeline(core_settings(parse_config(extra)))


def test_one_message_to_three_domains_counts_in_three() -> None:
    """Every recipient counts once, in its own domain: one message, one delivery event
    for its queue (in the default account and region), two recipients at one.com, one
    each at two.com and three.com, in the totals and in the windows."""
    pipeline = make()
    body = f.sns(f.delivery(["a@one.com", "b@one.com", "c@two.com", "d@three.com"]))
    assert pipeline.feed(body, "q", NOW).outcome == "processed"
    ledger = pipeline.ledger
    assert ledger.where("q") == ("default", "us-east-1")
    assert ledger.tallies.events["q"][DELIVERY] == 1
    assert sum(ledger.tallies.events["q"]) == 1
    assert ledger.by_domain.recipients["one.com"][DELIVERY] == 2
    assert ledger.by_domain.recipients["two.com"][DELIVERY] == 1
    assert ledger.windows["three.com"].figures(0, NOW).count("delivery") == 1
    assert ledger.tallies.messages == {("q", "processed"): 1}


def test_duplicates_change_nothing_but_the_duplicate_count() -> None:
    """The same event in two SQS messages (raw and SNS-wrapped) counts once: one delayed
    recipient, once by type and cause; the second message counts as a duplicate."""
    pipeline = make()
    event = f.delay(["a@one.com"], at=f.T0)
    assert pipeline.feed(f.raw(event), "q", NOW).outcome == "processed"
    assert pipeline.feed(f.sns(event), "q", NOW).outcome == "duplicate"
    ledger = pipeline.ledger
    assert ledger.by_domain.recipients["one.com"][DELAY] == 1
    assert ledger.by_domain.delays["one.com"] == {
        ("TransientCommunicationFailure", "connection"): 1
    }
    assert ledger.tallies.messages == {("q", "processed"): 1, ("q", "duplicate"): 1}


def test_late_events_count_in_totals_not_windows() -> None:
    """An event older than the largest window is counted in totals and as late; its
    domain has no windows at all."""
    pipeline = make()
    pipeline.feed(f.raw(f.delivery(["a@one.com"], at=NOW - 7200)), "q", NOW)
    assert pipeline.ledger.tallies.late_events == 1
    assert pipeline.ledger.by_domain.recipients["one.com"][DELIVERY] == 1
    assert "one.com" not in pipeline.ledger.windows


def test_of_the_other_types_only_a_complaint_is_noted_for_alert_text() -> None:
    """A send, an open or a click leaves no example in its domain's windows; a
    complaint in the windows does (for a complaint alert's text)."""
    pipeline = make()
    for kind in ("Send", "Open", "Click", "Reject"):
        assert pipeline.feed(f.raw(f.simple(kind, ["a@one.com"])), "q", NOW).outcome == "processed"
    window = pipeline.ledger.windows["one.com"]
    assert window.snapshot()["examples"] is None
    pipeline.feed(f.raw(f.complaint(["b@one.com"])), "q", NOW)
    assert window.snapshot()["examples"] is not None


def test_a_late_delay_still_pending_shows_its_domain() -> None:
    """A DeliveryDelay older than every window (an SQS backlog) but not expired is
    pending: its domain gets (empty) windows, so the pending gauge, the status page
    and a pending_delays rule see it."""
    from sesd.metrics.registry import Metrics

    pipeline = make()
    pipeline.feed(f.raw(f.delay(["a@stuck.example"], at=NOW - 7200, expires=NOW + 3600)), "q", NOW)
    assert pipeline.ledger.tallies.late_events == 1
    assert pipeline.ledger.pending.count("stuck.example", NOW) == 1
    windows = pipeline.ledger.windows["stuck.example"]
    assert windows.figures(0, NOW).count("delivery_delay") == 0
    registry = Metrics(pipeline.ledger, [], lambda: NOW).registry
    pending = {"domain": "stuck.example"}
    assert registry.get_sample_value("sesd_delayed_recipients_pending", pending) == 1


def test_future_events_are_clamped_to_now() -> None:
    """A timestamp ahead of our clock counts now, in the current bucket."""
    pipeline = make()
    pipeline.feed(f.raw(f.delivery(["a@one.com"], at=NOW + 3600)), "q", NOW)
    assert pipeline.ledger.windows["one.com"].figures(0, NOW).count("delivery") == 1


def test_skipped_and_invalid_outcomes() -> None:
    """Skipped and invalid messages are counted by outcome, invalid ones by reason too:
    one skipped, two invalid (one not JSON, one with no usable recipient domain)."""
    pipeline = make()
    assert pipeline.feed('{"Type": "SubscriptionConfirmation"}', "q", NOW).outcome == "skipped"
    result = pipeline.feed("not json", "q", NOW)
    assert (result.outcome, result.reason) == ("invalid", "not_json")
    result = pipeline.feed(f.raw(f.delivery(["nobody"])), "q", NOW)
    assert (result.outcome, result.reason) == ("invalid", "no_usable_domain")
    tallies = pipeline.ledger.tallies
    assert tallies.messages == {("q", "skipped"): 1, ("q", "invalid"): 2}
    assert tallies.invalid == {("q", "not_json"): 1, ("q", "no_usable_domain"): 1}
    another = '{"Type": "SubscriptionConfirmation", "MessageId": "m2"}'
    reason = pipeline.feed(another, "q", NOW).reason
    assert tallies.skipped == {("q", reason): 2}
    # The same body again is SQS delivering it again (its delete failed): counted once,
    # and the redelivery as a duplicate of its queue (sesd_messages_total's series).
    assert pipeline.feed(another, "q", NOW).outcome == "duplicate"
    assert tallies.skipped == {("q", reason): 2}
    assert tallies.messages == {("q", "skipped"): 2, ("q", "invalid"): 2, ("q", "duplicate"): 1}


def test_a_pipeline_writes_into_the_ledger_it_is_given() -> None:
    """A ledger handed in (restored from the state file) is the one written."""
    settings = core_settings(parse_config(""))
    ledger = Ledger(settings)
    pipeline = Pipeline(settings, ledger)
    pipeline.feed(f.raw(f.delivery(["a@one.com"])), "q", NOW)
    assert pipeline.ledger is ledger
    assert ledger.by_domain.recipients["one.com"][DELIVERY] == 1


def test_another_sesds_canary_is_dated_when_it_was_received() -> None:
    """A canary event's time is its receive's, not the time it was processed."""
    pipeline = make()
    event = f.delivery([f"a@{CANARY_DOMAIN}"], tags={CANARY_TAG: ["host-2"]})
    pipeline.feed(f.raw(event), "q", NOW + 60, received_at=NOW + 5)
    canary = pipeline.ledger.canary
    assert (canary.foreign_at, canary.foreign_from) == (NOW + 5, "host-2")


def test_a_domain_that_ends_another_is_not_taken_for_it() -> None:
    """``ne.com`` is known first; a recipient at ``one.com`` still counts under its own
    domain (the known domains are found by what follows the "@", all of it)."""
    pipeline = make()
    pipeline.feed(f.raw(f.delivery(["a@ne.com"])), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["b@one.com", "c@ne.com"], at=NOW - 1)), "q", NOW)
    recipients = pipeline.ledger.by_domain.recipients
    assert (recipients["one.com"][DELIVERY], recipients["ne.com"][DELIVERY]) == (1, 2)


def test_a_bad_address_among_good_ones() -> None:
    """Usable recipients count; the unusable one is counted apart, the message is processed."""
    pipeline = make()
    assert pipeline.feed(f.raw(f.delivery(["a@one.com", "broken"])), "q", NOW).outcome == (
        "processed"
    )
    assert pipeline.ledger.tallies.invalid_recipients == 1
    assert pipeline.ledger.by_domain.recipients["one.com"][DELIVERY] == 1


def test_unknown_event_type_counts_as_unknown() -> None:
    """A type SES adds later is counted for its queue under event_type "unknown"."""
    pipeline = make()
    pipeline.feed(f.sns(f.simple("Teleport", ["a@one.com"])), "q", NOW)
    assert pipeline.ledger.tallies.events["q"][EVENT_TYPE_INDEX["unknown"]] == 1


def test_bounces_and_delay_types_keep_labels_bounded() -> None:
    """Bounce and delay types are SES's documented values; anything else is ``other``,
    where two unknown kinds count together."""
    pipeline = make()
    pipeline.feed(f.raw(f.bounce(["a@one.com"], kind="Transient", subkind="MailboxFull")), "q", NOW)
    pipeline.feed(f.raw(f.bounce(["b@one.com"], kind="Weird", subkind="Odd")), "q", NOW)
    pipeline.feed(f.raw(f.bounce(["d@one.com"], kind="Strange", subkind="Odder")), "q", NOW)
    pipeline.feed(f.raw(f.delay(["c@one.com"], delay_type="Novel")), "q", NOW)
    scope = pipeline.ledger.by_domain
    assert scope.bounces["one.com"] == {("Transient", "MailboxFull"): 1, ("other", "other"): 2}
    assert scope.delays["one.com"] == {("other", "connection"): 1}


def test_pending_delays_resolve_on_delivery() -> None:
    """A delayed recipient is pending until its Delivery; then the delay's length is known."""
    pipeline = make()
    pipeline.feed(
        f.raw(f.delay(["a@one.com", "b@one.com"], at=f.T0, message_id="m1", expires=f.T0 + 3600)),
        "q",
        NOW,
    )
    assert pipeline.ledger.pending.counts(NOW) == {"one.com": 2}
    pipeline.feed(f.raw(f.delivery(["a@one.com"], at=f.T0 + 5, message_id="m1")), "q", NOW)
    assert pipeline.ledger.pending.counts(NOW) == {"one.com": 1}
    figures = pipeline.ledger.windows["one.com"].figures(0, NOW)
    assert figures.delay_duration.p50 == pytest.approx(5000, rel=0.1)
    # b@ expires at T0+3600: from then on it no longer counts, and an hour later it is
    # forgotten for good.
    assert pipeline.ledger.pending.count("one.com", f.T0 + 3599) == 1
    assert pipeline.ledger.pending.count("one.com", f.T0 + 3600) == 0
    pipeline.housekeep(f.T0 + 3600 + 3600)
    assert len(pipeline.ledger.pending) == 0


@pytest.mark.parametrize("address", ["a@bücher.example", "a@one.com."])
def test_a_delay_to_a_domain_not_written_in_normal_form_is_timed_at_its_delivery(
    address: str,
) -> None:
    """A recipient whose domain is written in Unicode, or with a trailing dot, pends
    under its domain in normal form; its Delivery ends the delay and times it (5 s),
    as for any other recipient."""
    pipeline = make()
    delay = f.delay([address], at=f.T0, message_id="m1", expires=f.T0 + 3600)
    pipeline.feed(f.raw(delay), "q", NOW)
    assert sum(pipeline.ledger.pending.counts(NOW).values()) == 1
    pipeline.feed(f.raw(f.delivery([address], at=f.T0 + 5, message_id="m1")), "q", NOW)
    assert sum(pipeline.ledger.pending.counts(NOW).values()) == 0
    (windows,) = pipeline.ledger.windows.values()
    figures = windows.figures(0, NOW)
    assert figures.delay_duration.count == 1
    assert figures.delay_duration.p50 == pytest.approx(5000, rel=0.1)


def test_cap_and_eviction_remove_series() -> None:
    """Beyond max_tracked domains count as ``other``; an idle domain's counters and
    windows disappear, an active one's stay."""
    pipeline = make('[domains]\nmax_tracked = 2\nidle_evict = "1h"\n')
    for domain in ("one.com", "two.com", "three.com"):
        pipeline.feed(f.raw(f.delivery([f"a@{domain}"])), "q", NOW)
    scope = pipeline.ledger.by_domain
    assert scope.recipients["other"][DELIVERY] == 1
    assert "three.com" not in scope.recipients
    pipeline.feed(f.raw(f.delivery(["b@two.com"], at=NOW + 3000)), "q", NOW + 3000)
    assert pipeline.housekeep(NOW + 3700) == ["one.com"]
    assert "one.com" not in scope.recipients
    assert "one.com" not in scope.windows
    assert scope.recipients["two.com"][DELIVERY] == 2


def test_a_domain_with_recipients_still_pending_is_not_evicted() -> None:
    """Idle for idle_evict but with delays not expired, a domain stays (its pending
    count, its provider's and its pending_delays alert go on); once they expire, it
    goes."""
    pipeline = make('[domains]\nidle_evict = "1h"\n')
    delayed = f.delay(["a@stuck.example"], at=NOW, expires=NOW + 7200)
    pipeline.feed(f.raw(delayed), "q", NOW)
    assert pipeline.housekeep(NOW + 3700) == []
    assert pipeline.ledger.pending.count("stuck.example", NOW + 3700) == 1
    assert pipeline.ledger.pending.counts(NOW + 3700, 1) == {"unknown": 1}
    assert pipeline.housekeep(NOW + 7300) == ["stuck.example"]
    # Its expired delay, not yet forgotten for good, goes with it: no count of 0 stays.
    assert pipeline.ledger.pending.counts(NOW + 7300) == {}
    assert len(pipeline.ledger.pending) == 0


def test_a_delay_said_to_expire_in_years_ends_when_ses_stops_trying() -> None:
    """A DeliveryDelay whose expirationTime is years away (9999-12-31: none of SES's,
    which tries a message for 14 hours at most) is pending 16 hours from its own time,
    not for ever: then its recipient is no longer counted, the table forgets it, and its
    domain, idle, is evicted (before, it held the label and a place in the table until
    the year 9999). One expiring sooner keeps its own expiry."""
    pipeline = make('[domains]\nidle_evict = "1h"\n')
    forged = f.delay(["a@stuck.example"], at=NOW)
    forged["deliveryDelay"]["expirationTime"] = "9999-12-31T23:59:59.999Z"
    pipeline.feed(f.raw(forged), "q", NOW)
    soon = f.delay(["b@soon.example"], at=NOW, expires=NOW + 600)
    pipeline.feed(f.raw(soon), "q", NOW)
    pending = pipeline.ledger.pending
    assert pending.counts(NOW + 599) == {"stuck.example": 1, "soon.example": 1}
    assert pending.counts(NOW + 600) == {"stuck.example": 1, "soon.example": 0}
    assert pending.count("stuck.example", NOW + 16 * 3600 - 1) == 1
    assert pending.count("stuck.example", NOW + 16 * 3600) == 0
    assert pipeline.housekeep(NOW + 18 * 3600) == ["stuck.example", "soon.example"]
    assert len(pending) == 0


def test_an_evicted_domain_starts_again_from_zero() -> None:
    """A domain admitted, evicted while idle and seen again counts afresh, and the room
    it left goes to the next new domain (nothing of it stays cached)."""
    pipeline = make('[domains]\nmax_tracked = 1\nidle_evict = "1h"\n')
    pipeline.feed(f.raw(f.delivery(["a@one.com"])), "q", NOW)
    assert pipeline.housekeep(NOW + 3700) == ["one.com"]
    later = NOW + 3800
    pipeline.feed(f.raw(f.delivery(["a@two.com"], at=later)), "q", later)
    pipeline.feed(f.raw(f.delivery(["b@one.com"], at=later + 1)), "q", later + 1)
    recipients = pipeline.ledger.by_domain.recipients
    assert recipients["two.com"][DELIVERY] == 1
    assert recipients["other"][DELIVERY] == 1
    assert "one.com" not in recipients


@pytest.mark.parametrize(
    "address",
    ["B@One.COM", "b@one.com.", "Bee <b@one.com>", "b@ONE.com", "b@xn--bcher-kva.example"],
)
def test_every_written_form_of_a_domain_counts_under_one_label(address: str) -> None:
    """Case, a trailing dot, a display name or IDNA: the same domain, once known."""
    pipeline = make()
    domain = "xn--bcher-kva.example" if "xn--" in address else "one.com"
    first = "a@bücher.example" if "xn--" in address else "a@one.com"
    pipeline.feed(f.raw(f.delivery([first])), "q", NOW)
    pipeline.feed(f.raw(f.delivery([address])), "q", NOW)
    assert list(pipeline.ledger.by_domain.recipients) == [domain]
    assert pipeline.ledger.by_domain.recipients[domain][DELIVERY] == 2
    assert pipeline.ledger.windows[domain].figures(0, NOW).count("delivery") == 2


def test_a_known_domain_without_an_at_is_not_a_recipient() -> None:
    """An address that is only a (known) domain name has no recipient domain."""
    pipeline = make()
    pipeline.feed(f.raw(f.delivery(["a@one.com"])), "q", NOW)
    result = pipeline.feed(f.raw(f.delivery(["one.com"], message_id="m2")), "q", NOW)
    assert (result.outcome, result.reason) == ("invalid", "no_usable_domain")
    assert pipeline.ledger.by_domain.recipients["one.com"][DELIVERY] == 1


def test_message_tag_breakdown() -> None:
    """Configured tags are broken down like domains, with their own cap: two delivered
    recipients under spring, one under other (past the cap), and spring's window has
    one delayed recipient in three."""
    pipeline = make('[dimensions]\ntags = ["campaign"]\nmax_tracked = 1\n')
    pipeline.feed(
        f.raw(f.delivery(["a@one.com", "b@two.com"], tags={"campaign": ["spring"]})), "q", NOW
    )
    pipeline.feed(f.raw(f.delay(["c@one.com"], tags={"campaign": ["spring"]})), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["d@one.com"], tags={"campaign": ["autumn"]})), "q", NOW)
    ledger = pipeline.ledger
    assert ledger.tallies.tag_recipients[("campaign", "spring")][DELIVERY] == 2
    assert ledger.tallies.tag_recipients[("campaign", "other")][DELIVERY] == 1
    assert ("campaign", "autumn") not in ledger.tallies.tag_recipients
    spring = ledger.tag_windows[("campaign", "spring")].figures(0, NOW)
    assert spring.delay_ratio == pytest.approx(1 / 3)


def test_a_tag_given_many_values_counts_its_recipient_once_under_the_first() -> None:
    """SES gives a tag one value. An event whose ``campaign`` lists a thousand counts its
    recipient once, under the first value, and takes one label: the next campaign still
    gets a label of its own, not ``other`` (before, the recipient counted a thousand
    times and the first 200 values took every label)."""
    pipeline = make('[dimensions]\ntags = ["campaign"]\n')
    values = [f"c{i}" for i in range(1000)]
    pipeline.feed(f.raw(f.delivery(["a@one.com"], tags={"campaign": values})), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["b@one.com"], tags={"campaign": ["spring"]})), "q", NOW)
    counted = pipeline.ledger.tallies.tag_recipients
    assert {value: counts[DELIVERY] for (_, value), counts in counted.items()} == {
        "c0": 1,
        "spring": 1,
    }
    assert len(pipeline.ledger.tag_tables["campaign"]) == 2
    assert list(pipeline.ledger.tag_windows) == [("campaign", "c0"), ("campaign", "spring")]


def test_an_event_without_the_first_tag_named_counts_under_the_next() -> None:
    """Of two tags counted, an event carries only the second: it counts under that."""
    pipeline = make('[dimensions]\ntags = ["campaign", "team"]\n')
    pipeline.feed(f.raw(f.delivery(["a@one.com"], tags={"team": ["billing"]})), "q", NOW)
    counted = pipeline.ledger.tallies.tag_recipients
    assert {key: counts[DELIVERY] for key, counts in counted.items()} == {("team", "billing"): 1}
    assert list(pipeline.ledger.tag_windows) == [("team", "billing")]


def test_a_tag_value_counted_only_late_is_evicted_when_idle() -> None:
    """A tag value whose only event was late has counts but no windows; idle, it goes."""
    pipeline = make('[domains]\nidle_evict = "1h"\n[dimensions]\ntags = ["campaign"]\n')
    late = f.delivery(["a@one.com"], at=NOW - 7200, tags={"campaign": ["spring"]})
    pipeline.feed(f.raw(late), "q", NOW)
    ledger = pipeline.ledger
    assert (list(ledger.tallies.tag_recipients), ledger.tag_windows) == (
        [("campaign", "spring")],
        {},
    )
    pipeline.housekeep(NOW + 3700)
    assert (ledger.tag_tables["campaign"].labels(), ledger.tallies.tag_recipients) == ([], {})


def test_a_tag_value_restored_and_not_seen_again_is_evicted_when_idle() -> None:
    """A tag value the state file brings back has its windows but no counts (counters
    start again at a restart); no event of it comes, and idle, it goes as one this
    process counted does, windows and all (the housekeeping goes on)."""
    config = '[domains]\nidle_evict = "1h"\n[dimensions]\ntags = ["campaign"]\n'
    before = make(config)
    before.feed(f.raw(f.delivery(["a@one.com"], tags={"campaign": ["spring"]})), "q", NOW)
    after = make(config)
    after.ledger.restore(before.ledger.snapshot(NOW), NOW)
    ledger = after.ledger
    assert (list(ledger.tag_windows), ledger.tallies.tag_recipients) == (
        [("campaign", "spring")],
        {},
    )
    assert after.housekeep(NOW + 3700) == ["one.com"]
    assert (ledger.tag_tables["campaign"].labels(), ledger.tag_windows) == ([], {})


def test_a_bounce_ses_never_attempted_is_no_bounce_under_a_tag_either() -> None:
    """A suppression list's bounce counts apart in every scope, never as a bounce: a
    configuration set's bounces add up to its domains' bounces."""
    pipeline = make('[dimensions]\ntags = ["campaign"]\n')
    spring = {"campaign": ["spring"]}
    pipeline.feed(f.raw(f.bounce(["a@one.com"], tags=spring)), "q", NOW)
    kept = f.bounce(["b@one.com"], subkind="OnAccountSuppressionList", tags=spring)
    pipeline.feed(f.raw(kept), "q", NOW)
    ledger = pipeline.ledger
    assert ledger.by_domain.recipients["one.com"][BOUNCE] == 1
    assert ledger.tallies.tag_recipients[("campaign", "spring")][BOUNCE] == 1
    assert ledger.tag_windows[("campaign", "spring")].figures(0, NOW).count("bounce") == 1


def test_a_tag_value_ses_could_not_have_written_counts_as_other() -> None:
    """A sender's values and SES's own (a domain, an IP address, an identity) keep
    their labels; a value with a space, a control character or an address, or longer
    than SES allows, never becomes a label (nor a series, nor a key in the state file):
    it counts as other."""
    pipeline = make('[dimensions]\ntags = ["campaign"]\nmax_tracked = 100\n')
    good = ["spring-2026", "mail.example.com", "192.0.2.1", "arn:aws:iam::1:user/ses+x=y,z"]
    bad = ["a b", "x\x1b[31m", "victim@example.com", "x" * 257, "\u202eevil"]
    for i, value in enumerate(good + bad):
        body = f.delivery([f"u{i}@one.com"], tags={"campaign": [value]})
        pipeline.feed(f.raw(body), "q", NOW)
    counted = pipeline.ledger.tallies.tag_recipients
    assert sorted(value for _, value in counted) == sorted([*good, "other"])
    assert counted[("campaign", "other")][DELIVERY] == len(bad)


def test_histograms_and_processing_quantiles() -> None:
    """processingTimeMillis feeds the global histogram (in seconds) and the per-window
    quantiles; each message's receive time feeds the lag histogram."""
    pipeline = make()
    for ms in (500, 1500, 2500):
        pipeline.feed(f.raw(f.delivery(["a@one.com"], processing_ms=ms)), "q", NOW, NOW + 2)
    tallies = pipeline.ledger.tallies
    processing = dict(tallies.processing.cumulative())
    assert processing["+Inf"] == 3
    assert tallies.processing.sum == pytest.approx(4.5)
    assert processing["1.0"] == 1
    assert dict(tallies.lag.cumulative())["+Inf"] == 3
    p50 = pipeline.ledger.windows["one.com"].figures(0, NOW).processing.p50
    assert p50 is not None
    assert 1300 < p50 < 1700


def test_addresses_are_redacted_unless_allowed() -> None:
    """What an invalid result says of an address hides its local part by default."""
    pipeline = make()
    result = pipeline.feed(f.raw(f.delivery(["jane.doe@bad domain"])), "q", NOW)
    assert result.reason == "no_usable_domain"
    assert "jane.doe" not in result.detail
    assert "***@bad domain" in result.detail
    pipeline = make("[logging]\nlog_recipients = true\n")
    assert (
        "jane.doe@bad domain"
        in pipeline.feed(f.raw(f.delivery(["jane.doe@bad domain"])), "q", NOW).detail
    )


def test_breakdowns_only_for_windows_rules_read() -> None:
    """Breakdowns feed alert text alone, so only windows named by a rule keep them."""
    pipeline = make(
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "15m"\nabove = 0.1\n'
    )
    pipeline.feed(f.raw(f.delay(["a@one.com"], delay_type="MailboxFull")), "q", NOW)
    windows = pipeline.ledger.windows["one.com"]
    assert windows.breakdown(1, NOW).delay_types == [("MailboxFull", 1)]
    assert windows.breakdown(0, NOW).delay_types == []
    assert windows.figures(0, NOW).count("delivery_delay") == 1


def test_a_recipient_listed_twice_is_one_recipient() -> None:
    """One Delivery naming a@one.com twice counts one delivered recipient, and a repeat
    of it with the recipients in another order is a duplicate."""
    pipeline = make()
    body = f.delivery(["a@one.com", "b@one.com", "a@one.com"], at=NOW, message_id="m-1")
    assert pipeline.feed(f.raw(body), "q", NOW).outcome == "processed"
    body["delivery"]["recipients"] = ["b@one.com", "a@one.com"]
    assert pipeline.feed(f.raw(body), "q", NOW).outcome == "duplicate"
    assert pipeline.ledger.by_domain.recipients["one.com"][DELIVERY] == 2


def test_invalid_messages_count_per_reason() -> None:
    """Two bodies that are not JSON and one without mail: 2 and 1."""
    pipeline = Pipeline(core_settings(parse_config("")))
    for body in ("nope", "nope either", '{"eventType": "Delivery"}'):
        pipeline.feed(body, "q", NOW)
    assert pipeline.ledger.tallies.invalid == {("q", "not_json"): 2, ("q", "missing_mail"): 1}


@pytest.mark.parametrize("kind", ["delivery", "delay"])
def test_a_recipient_without_a_domain_does_not_stop_the_next(kind: str) -> None:
    """The first recipient has no usable domain; the second still counts."""
    pipeline = Pipeline(core_settings(parse_config("")))
    build = f.delivery if kind == "delivery" else f.delay
    pipeline.feed(f.raw(build(["nodomain@", "b@one.example"], at=NOW)), "q", NOW)
    assert sum(pipeline.ledger.windows["one.example"].figures(0, NOW).counts) == 1
    assert pipeline.ledger.tallies.invalid_recipients == 1


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


@pytest.mark.parametrize(
    "ms", [1e308, 16 * 3600 * 1000 + 1, -5], ids=["huge", "over-16h", "negative"]
)
def test_a_processing_time_ses_cannot_give_is_invalid_and_skews_no_quantile(ms: float) -> None:
    """SES stops trying a message within 16 hours, so a Delivery whose
    processingTimeMillis is beyond that, or below 0, is none of SES's: invalid (schema,
    its detail naming the field), counted by reason, and neither the domain's quantiles
    nor the histogram take it (taken, one such event was a domain's p99 for an hour).
    Sixteen hours itself is taken."""
    pipeline = make()
    pipeline.feed(f.raw(f.delivery(["a@one.com"], at=NOW, processing_ms=900)), "q", NOW)
    body = f.delivery(["b@one.com"], at=NOW)
    body["delivery"]["processingTimeMillis"] = ms
    for wrap in (f.raw, f.sns):
        result = pipeline.feed(wrap(body), "q", NOW)
        assert (result.outcome, result.reason) == ("invalid", "schema")
        assert result.detail.endswith("at `$.delivery.processingTimeMillis`")
    tallies = pipeline.ledger.tallies
    assert tallies.invalid == {("q", "schema"): 2}
    assert dict(tallies.processing.cumulative())["+Inf"] == 1
    figures = pipeline.ledger.windows["one.com"].figures(0, NOW)
    assert figures.count("delivery") == 1
    assert figures.processing.count == 1
    assert figures.processing.p99 == bucket_value(bucket_of(900.0))
    body["delivery"]["processingTimeMillis"] = 16 * 3600 * 1000
    assert pipeline.feed(f.raw(body), "q", NOW).outcome == "processed"


def test_an_evicted_domain_takes_all_its_series_with_it() -> None:
    """Recipients, delays by type, bounces by type and suppressed recipients by subtype
    of an evicted domain go (its delay expired: none of its recipients is pending);
    another domain's stay."""
    pipeline = Pipeline(core_settings(parse_config('[domains]\nidle_evict = "1h"\n')))
    for domain, at in (("old.example", NOW), ("new.example", NOW + 3000)):
        pipeline.feed(f.raw(f.delay([f"a@{domain}"], at=at, expires=at + 600)), "q", at)
        pipeline.feed(f.raw(f.bounce([f"b@{domain}"], at=at)), "q", at)
        pipeline.feed(f.raw(f.bounce([f"c@{domain}"], at=at, subkind="Suppressed")), "q", at)
    assert pipeline.housekeep(NOW + 3700) == ["old.example"]
    scope = pipeline.ledger.by_domain
    tables = (scope.recipients, scope.delays, scope.bounces, scope.suppressed, scope.windows)
    for table in tables:
        assert list(table) == ["new.example"]


def test_a_recipient_ses_retries_is_one_delayed_recipient_in_the_windows() -> None:
    """SES sends a DeliveryDelay at its retries: one full mailbox retried eleven times
    beside two delivered recipients is one delayed recipient of three in the windows
    (the ratio, min_events, the cause's count), not eleven of thirteen; the events
    counter counts every event; the breakdown alert text reads counts the recipient
    once too."""
    pipeline = make(
        '[[alerts.rules]]\nname = "d"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.5\n'
    )
    ledger = pipeline.ledger
    for i in range(2):
        pipeline.feed(f.raw(f.delivery([f"ok{i}@corp.example"], at=f.T0)), "q", NOW)
    for i in range(11):
        retry = f.delay(
            ["full@corp.example"],
            at=f.T0 + i * 0.5,
            delay_type="MailboxFull",
            status="4.2.2",
            diagnostic=f"smtp; 452 4.2.2 Mailbox full (try {i})",
            message_id="m1",
            expires=f.T0 + 3600,
        )
        assert pipeline.feed(f.raw(retry), "q", NOW).outcome == "processed"
    windows = ledger.windows["corp.example"]
    figures = windows.figures(0, NOW)
    assert (figures.count("delivery"), figures.count("delivery_delay")) == (2, 1)
    assert sum(windows.causes(0, NOW).values()) == 1
    assert ledger.by_domain.recipients["corp.example"][DELAY] == 11  # events, each
    assert ledger.pending.count("corp.example", NOW) == 1
    assert windows.breakdown(0, NOW, delays=True).delay_types == [("MailboxFull", 1)]


def test_a_domain_restored_from_the_state_file_and_idle_since_is_evicted() -> None:
    """A restart restores a domain's windows, not its counters (they start from zero):
    idle since, it is evicted all the same, windows and all."""
    from sesd.alerting.evaluator import Evaluator
    from sesd.runtime.state import restore, snapshot

    config = parse_config('[domains]\nidle_evict = "1h"\n')
    before = Pipeline(core_settings(config))
    before.feed(f.raw(f.delivery(["a@old.example"], at=NOW)), "q", NOW)
    names = [s.name for s in before.ledger.specs]
    blob = snapshot(before.ledger, Evaluator(config.alerts, names), NOW + 1)
    after = Pipeline(core_settings(config))
    restore(blob, after.ledger, Evaluator(config.alerts, names), NOW + 2)
    scope = after.ledger.by_domain
    assert (list(scope.windows), list(scope.recipients)) == (["old.example"], [])
    assert after.housekeep(NOW + 3700) == ["old.example"]
    assert scope.windows == {}
