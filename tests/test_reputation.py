"""sesd's estimate of AWS's reputation arithmetic against hand-computed figures, and
the rules on an (account, region)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sesd.alerting.accounts import measure_account
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import describe
from sesd.alerting.silences import Silence, SilenceSet
from sesd.config import ConfigError, core_settings, parse_config
from sesd.core.accounts import AccountStatus
from sesd.core.ledger import MAX_ARN_REGIONS
from sesd.core.pipeline import Pipeline
from sesd.core.reputation import MAX_CONFIG_SETS, Reputation
from sesd.metrics.exposition import render
from sesd.metrics.registry import Metrics
from tests import factory as f

NOW = f.T0


def test_the_estimate_matches_hand_computed_figures_on_a_replayed_stream() -> None:
    """Send events are published here. 40 sends (4 to the simulator, left out: 36
    eligible), 3 hard bounces, 2 transient bounces (not counted), 1 complaint, 1
    simulator bounce (left out): bounce 3/36, complaint 1/36. With a window of 20
    sends, 20 more sends push the first 36 out and what arrived before them."""
    config = parse_config("[reputation]\nwindow_sends = 100\n")
    pipeline = Pipeline(core_settings(config))
    bodies: list[str] = []
    for i in range(40):
        to = "success@simulator.amazonses.com" if i % 10 == 0 else f"u{i}@x.example"
        bodies.append(f.raw(f.simple("Send", [to])))
    bodies += [f.raw(f.bounce([f"h{i}@x.example"])) for i in range(3)]
    bodies += [f.raw(f.bounce([f"t{i}@x.example"], kind="Transient")) for i in range(2)]
    bodies.append(f.raw(f.complaint(["c@x.example"])))
    bodies.append(f.raw(f.bounce(["bounce@simulator.amazonses.com"])))
    for body in bodies:
        assert pipeline.feed(body, "replay", NOW).outcome == "processed"
    # The factory's identity is in eu-west-1: its mail is estimated there.
    key = ("default", "eu-west-1", "")
    estimate = pipeline.ledger.reputation.estimate(key)
    assert estimate is not None
    assert (estimate.sends, estimate.bounces, estimate.complaints) == (36, 3, 1)
    assert estimate.from_sends
    assert estimate.bounce_ratio == pytest.approx(3 / 36)
    assert estimate.complaint_ratio == pytest.approx(1 / 36)
    # The configuration set of the factory's mail ("ConfigSet") has its own figures.
    by_set = pipeline.ledger.reputation.estimate(("default", "eu-west-1", "ConfigSet"))
    assert by_set == estimate
    # 5% review level: 3 of 36 is past it already; 1 complaint of 36 is past 0.1%.
    assert estimate.to_review("bounce") == 0

    small = Reputation(20)
    for i in range(20):
        small.observe("a", "r", "", "send", [f"u{i}@x.example"])
    small.observe("a", "r", "", "bounce", ["u1@x.example"], hard=True)
    assert small.estimate(("a", "r", "")) == small.estimate(("a", "r", ""))
    first = small.estimate(("a", "r", ""))
    assert first is not None
    assert (first.sends, first.bounces) == (20, 1)
    for i in range(20):
        small.observe("a", "r", "", "send", [f"v{i}@x.example"])
    later = small.estimate(("a", "r", ""))
    assert later is not None
    assert (later.sends, later.bounces) == (20, 0)


def test_without_send_events_the_denominator_is_delivered_and_bounced() -> None:
    """No Send events: 95 deliveries and 5 hard bounces: 5/100; the alert text says so
    and how many more bounces would reach AWS's review level (5% of 100: none more,
    it is there; with 200 recipients, 5 more)."""
    reputation = Reputation(1000)
    for i in range(95):
        reputation.observe("a", "r", "", "delivery", [f"u{i}@x.example"])
    reputation.observe("a", "r", "", "bounce", [f"b{i}@x.example" for i in range(5)], hard=True)
    estimate = reputation.estimate(("a", "r", ""))
    assert estimate is not None
    assert (estimate.sends, estimate.bounces, estimate.from_sends) == (100, 5, False)
    value, volume, notes = measure_account("reputation_bounce_ratio", None, estimate)
    assert (value, volume) == (0.05, 100)
    assert "over the last 100 delivered + bounced recipients" in notes[0]
    for i in range(100):
        reputation.observe("a", "r", "", "delivery", [f"w{i}@x.example"])
    estimate = reputation.estimate(("a", "r", ""))
    assert estimate is not None
    assert estimate.to_review("bounce") == 5
    assert (
        "5 more hard bounces among these would reach AWS's review level (5.0%)"
        in (measure_account("reputation_bounce_ratio", None, estimate)[2][1])
    )


def test_a_reputation_rule_has_a_volume_floor_and_says_what_to_expect() -> None:
    """One hard bounce in 13 sends does not page below the floor; past it the alert
    names the account and region and what AWS does at which level."""
    rule = (
        '[[alerts.rules]]\nname = "bounce-estimate"\nmetric = "reputation_bounce_ratio"\n'
        'window = "1h"\nabove = 0.04\nmin_events = 100\nseverity = "critical"\n'
    )
    config = parse_config(rule)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    for i in range(12):
        pipeline.ledger.reputation.observe("default", "us-east-1", "", "send", [f"u{i}@x.example"])
    pipeline.ledger.reputation.observe("default", "us-east-1", "", "send", ["z@x.example"])
    pipeline.ledger.reputation.observe(
        "default", "us-east-1", "", "bounce", ["z@x.example"], hard=True
    )
    assert evaluator.evaluate(pipeline.ledger, NOW) == []
    for i in range(200):
        pipeline.ledger.reputation.observe("default", "us-east-1", "", "send", [f"v{i}@x.example"])
    pipeline.ledger.reputation.observe(
        "default", "us-east-1", "", "bounce", [f"v{i}@x.example" for i in range(10)], hard=True
    )
    (alert,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert (alert.scope, alert.domain, alert.regions, alert.accounts) == (
        "account",
        "default/us-east-1",
        ["us-east-1"],
        ["default"],
    )
    text = describe(alert)
    assert text.startswith("account default/us-east-1: reputation_bounce_ratio 5.2%")
    assert "11 hard bounces over the last 213 sends" in text
    assert "would reach AWS's review level (5.0%); AWS may pause sending at 10.0%" in text


def test_a_central_queue_estimates_each_sending_account_and_region_apart() -> None:
    """One queue carries the events of two accounts in two regions (SNS or EventBridge
    across accounts): each is estimated as AWS reviews it, under the [[accounts]] entry
    of the account that sent (a delegate's, through another account's identity), in
    the region the identity's ARN names; the queue's own account sends in us-east-1.
    Account B bounces at 8%, past AWS's review level, and reads so, not as the two
    accounts pooled."""
    config = parse_config(
        '[aws]\nregion = "us-east-1"\n'
        '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/r"\n'
        'region = "eu-west-1"\n'
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/central"\n'
    )
    pipeline = Pipeline(core_settings(config))

    def sent_by(event: dict[str, Any], account: str, region: str, identity_of: str = "") -> str:
        owner = identity_of or account
        event["mail"]["sourceArn"] = f"arn:aws:ses:{region}:{owner}:identity/x.example"
        event["mail"]["sendingAccountId"] = account
        return f.raw(event)

    own, theirs = ("123456789012", "us-east-1"), ("210987654321", "eu-west-1")
    bodies = [sent_by(f.simple("Send", [f"a{i}@x.example"]), *own) for i in range(100)]
    bodies += [sent_by(f.bounce([f"a{i}@x.example"]), *own) for i in range(1)]
    bodies += [sent_by(f.simple("Send", [f"b{i}@x.example"]), *theirs) for i in range(50)]
    bodies += [sent_by(f.bounce([f"b{i}@x.example"]), *theirs) for i in range(4)]
    # Sending authorization: the queue's account sends through prod-eu's identity in
    # us-east-1; AWS counts that mail against the sender, not the identity's owner.
    delegated = ("123456789012", "us-east-1", "210987654321")
    bodies += [sent_by(f.simple("Send", [f"c{i}@x.example"]), *delegated) for i in range(100)]
    bodies += [sent_by(f.bounce([f"c{i}@x.example"]), *delegated) for i in range(1)]
    for body in bodies:
        assert pipeline.feed(body, "central", NOW).outcome == "processed"
    reputation = pipeline.ledger.reputation
    a, b = (
        reputation.estimate(("default", "us-east-1", "")),
        reputation.estimate(("prod-eu", "eu-west-1", "")),
    )
    assert a is not None
    assert b is not None
    assert (a.sends, a.bounces, b.sends, b.bounces) == (200, 2, 50, 4)
    assert b.bounce_ratio == pytest.approx(0.08)


def test_an_event_that_names_no_usable_sender_counts_for_its_queue() -> None:
    """An event without an identity ARN, or whose ARN names no region, and whose
    sending account no [[accounts]] entry is: it counts for its queue's account and
    region."""
    config = parse_config(
        '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/r"\n'
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/210987654321/theirs"\n'
        'account = "prod-eu"\n'
    )
    pipeline = Pipeline(core_settings(config))
    for i, arn in enumerate(["", "arn:aws:ses:nowhere:999999999999:identity/x.example"]):
        event = f.simple("Send", [f"u{i}@x.example"])
        event["mail"]["sourceArn"] = arn
        event["mail"]["sendingAccountId"] = "999999999999"
        assert pipeline.feed(f.raw(event), "theirs", NOW).outcome == "processed"
    estimate = pipeline.ledger.reputation.estimate(("prod-eu", "eu-west-1", ""))
    assert estimate is not None
    assert estimate.sends == 2


def test_an_event_without_its_sending_account_counts_for_its_identitys() -> None:
    """An event that does not say which account sent it counts for the account its
    identity's ARN names (an [[accounts]] entry's), not its queue's."""
    config = parse_config(
        '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/r"\n'
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/central"\n'
    )
    pipeline = Pipeline(core_settings(config))
    event = f.simple("Send", ["u@x.example"])
    event["mail"]["sourceArn"] = "arn:aws:ses:eu-west-1:210987654321:identity/x.example"
    del event["mail"]["sendingAccountId"]
    assert pipeline.feed(f.raw(event), "central", NOW).outcome == "processed"
    estimate = pipeline.ledger.reputation.estimate(("prod-eu", "eu-west-1", ""))
    assert estimate is not None
    assert estimate.sends == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('domains = ["a.example"]', "sending_paused watches accounts"),
        ('providers = ["google"]', "sending_paused watches accounts"),
    ],
)
def test_account_rules_take_no_domains(text: str, error: str) -> None:
    rule = '[[alerts.rules]]\nname = "r"\nmetric = "sending_paused"\nwindow = "5m"\nabove = 0\n'
    with pytest.raises(ConfigError, match=error):
        parse_config(rule + text + "\n")


def test_targets_are_each_account_and_region_with_a_queue_or_an_account_entry() -> None:
    config = parse_config(
        '[aws]\nregion = "us-east-1"\n'
        '[[accounts]]\nname = "eu"\nrole_arn = "arn:aws:iam::210987654321:role/r"\n'
        'region = "eu-west-1"\n'
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/a"\n'
        '[[queues]]\nurl = "https://sqs.ap-south-1.amazonaws.com/1/b"\n'
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/c"\n'
    )
    assert config.health_targets() == [
        ("default", "ap-south-1"),
        ("default", "us-east-1"),
        ("eu", "eu-west-1"),
    ]
    assert AccountStatus().quota_used_ratio is None


def _status(**fields: object) -> AccountStatus:
    status = AccountStatus()
    for name, value in fields.items():
        setattr(status, name, value)
    return status


def test_each_account_metric_from_what_getaccount_said() -> None:
    healthy = _status(sending_enabled=True, enforcement="HEALTHY", production=True)
    paused = _status(sending_enabled=False, enforcement="SHUTDOWN", production=True)
    text = "sending enabled: False; enforcement status: SHUTDOWN; production access: True"
    assert measure_account("sending_paused", healthy, None)[:2] == (0.0, 1)
    assert measure_account("sending_paused", paused, None) == (1.0, 1, (text,))
    assert measure_account("sending_paused", None, None) == (None, 0, ())
    assert measure_account("sending_paused", AccountStatus(), None) == (None, 0, ())
    assert measure_account("enforcement_not_healthy", healthy, None)[:2] == (0.0, 1)
    probation = _status(sending_enabled=True, enforcement="PROBATION", production=False)
    assert measure_account("enforcement_not_healthy", probation, None) == (
        1.0,
        1,
        ("sending enabled: True; enforcement status: PROBATION; production access: False",),
    )
    assert measure_account("enforcement_not_healthy", AccountStatus(), None) == (None, 0, ())
    assert measure_account("enforcement_not_healthy", None, None) == (None, 0, ())
    quota = _status(max_24h=50000.0, sent_24h=12500.0)
    assert measure_account("quota_used_ratio", quota, None) == (
        0.25,
        1,
        ("sent 12500 of 50000 in the last 24 h",),
    )
    # A large sender's quota is in the millions: counts, not "1.23457e+06 of 2e+06".
    millions = _status(max_24h=2_000_000.0, sent_24h=1_234_567.0)
    assert measure_account("quota_used_ratio", millions, None)[2] == (
        "sent 1234567 of 2000000 in the last 24 h",
    )
    assert measure_account("quota_used_ratio", AccountStatus(), None) == (None, 0, ())
    assert measure_account("quota_used_ratio", None, None) == (None, 0, ())
    assert _status(max_24h=0.0, sent_24h=1.0).quota_used_ratio is None
    with pytest.raises(ValueError, match="unknown account metric 'nope'"):
        measure_account("nope", healthy, None)


def test_the_complaint_estimate_and_awss_own_figure_in_the_text() -> None:
    reputation = Reputation(1000)
    reputation.observe("a", "r", "", "send", [f"u{i}@x.example" for i in range(2000)])
    reputation.observe("a", "r", "", "complaint", ["u1@x.example", "u2@x.example"])
    estimate = reputation.estimate(("a", "r", ""))
    assert estimate is not None
    assert (estimate.sends, estimate.complaints, estimate.from_sends) == (1000, 2, True)
    status = _status(aws={"complaint": 0.0012})
    value, volume, notes = measure_account("reputation_complaint_ratio", status, estimate)
    assert (value, volume) == (0.002, 1000)
    assert notes == (
        "2 complaints over the last 1000 sends (sesd's estimate of AWS's arithmetic; the "
        "mailbox simulator left out)",
        "0 more complaints among these would reach AWS's review level (0.1%); AWS may pause "
        "sending at 0.5%",
        "AWS's own figure (CloudWatch): 0.12%",
    )
    assert measure_account("reputation_bounce_ratio", None, None) == (None, 0, ())
    assert reputation.estimate(("a", "r", "nothing")) is None
    assert reputation.seen() == [("a", "r", "")]


def test_awss_own_figure_of_zero_is_shown_beside_the_estimate() -> None:
    """CloudWatch says AWS counts no complaint yet (0.0) while sesd's estimate is high:
    that contrast is what the on-call engineer needs (AWS has not seen it yet), so the
    alert shows AWS's 0.00% as it shows any other figure, not as though CloudWatch
    had said nothing."""
    reputation = Reputation(1000)
    reputation.observe("a", "r", "", "send", [f"u{i}@x.example" for i in range(1000)])
    reputation.observe("a", "r", "", "complaint", ["u1@x.example", "u2@x.example"])
    estimate = reputation.estimate(("a", "r", ""))
    _, _, notes = measure_account(
        "reputation_complaint_ratio", _status(aws={"complaint": 0.0}), estimate
    )
    assert notes[-1] == "AWS's own figure (CloudWatch): 0.0%"
    _, _, notes = measure_account("reputation_complaint_ratio", _status(), estimate)
    assert not any("CloudWatch" in line for line in notes)


def test_the_window_forgets_what_arrived_before_its_oldest_send() -> None:
    """Sends 0-9 (window 10), a complaint after the 5th, then 5 more sends: the first
    five leave, and the complaint (which came before sends 5-9... after the 5th send)
    stays while a send from before it is in the window."""
    reputation = Reputation(10)
    key = ("a", "r", "")
    reputation.observe("a", "r", "", "send", [f"u{i}@x.example" for i in range(5)])
    reputation.observe("a", "r", "", "complaint", ["u0@x.example"])
    reputation.observe("a", "r", "", "send", [f"v{i}@x.example" for i in range(5)])
    first = reputation.estimate(key)
    assert first is not None
    assert (first.sends, first.complaints) == (10, 1)
    reputation.observe("a", "r", "", "send", [f"w{i}@x.example" for i in range(4)])
    kept = reputation.estimate(key)
    assert kept is not None
    assert (kept.sends, kept.complaints) == (10, 1)  # sends 4.. still in: the 5th is
    reputation.observe("a", "r", "", "send", ["z@x.example"])
    gone = reputation.estimate(key)
    assert gone is not None
    assert (gone.sends, gone.complaints) == (10, 0)
    # Simulator recipients change nothing; a transient bounce is not a hard one.
    reputation.observe("a", "r", "", "send", ["bounce@simulator.amazonses.com"])
    reputation.observe("a", "r", "", "bounce", ["z@x.example"], hard=False)
    assert reputation.estimate(key) == gone


def test_deliveries_move_the_window_on_as_sends_do() -> None:
    """Without Send events, delivered recipients are the sends: a hard bounce leaves a
    window of three once three deliveries came after it, not one later."""
    reputation = Reputation(3)
    key = ("a", "r", "")
    reputation.observe("a", "r", "", "bounce", ["b@x.example"], hard=True)
    for address in ("u0@x.example", "u1@x.example"):
        reputation.observe("a", "r", "", "delivery", [address])
    kept = reputation.estimate(key)
    assert kept is not None
    assert (kept.sends, kept.bounces) == (3, 1)
    reputation.observe("a", "r", "", "delivery", ["u2@x.example"])
    gone = reputation.estimate(key)
    assert gone is not None
    assert (gone.sends, gone.bounces) == (3, 0)


def test_a_window_holds_as_many_bounces_and_complaints_as_sends_and_no_more() -> None:
    """A window of 10 Send events, all sent, then 10 complaints and 12 hard bounces
    (mail bounced and complained of again and again): the window keeps as many of
    each as it holds sends, 10, so it reads 100%: not 90% (nine, one short of the
    bound) nor 120%."""
    reputation = Reputation(10)
    reputation.observe("a", "r", "", "send", [f"u{i}@x.example" for i in range(10)])
    reputation.observe("a", "r", "", "complaint", [f"u{i}@x.example" for i in range(10)])
    reputation.observe("a", "r", "", "bounce", [f"b{i}@x.example" for i in range(12)], hard=True)
    estimate = reputation.estimate(("a", "r", ""))
    assert estimate is not None
    assert (estimate.sends, estimate.bounces, estimate.complaints) == (10, 10, 10)
    assert (estimate.bounce_ratio, estimate.complaint_ratio) == (1.0, 1.0)


def test_configuration_sets_are_ses_names_and_bounded_in_number() -> None:
    """A configuration set SES could not have named (a space, an address, a control
    character, over 64 characters) has no estimate of its own, and past MAX_CONFIG_SETS
    names a new one has none either: their events count for the account only, so a flood
    of made-up names grows neither memory nor series."""
    reputation = Reputation(10_000)
    for name in ("a b", "victim@example.com", "x\n", "x" * 65):
        reputation.observe("a", "r", name, "delivery", ["u@x.example"])
    assert reputation.seen() == [("a", "r", "")]
    for i in range(MAX_CONFIG_SETS + 50):
        reputation.observe("a", "r", f"set-{i}", "delivery", ["u@x.example"])
    seen = reputation.seen()
    assert len(seen) == 1 + MAX_CONFIG_SETS
    assert ("a", "r", f"set-{MAX_CONFIG_SETS}") not in seen
    account = reputation.estimate(("a", "r", ""))
    assert account is not None
    assert account.sends == 4 + MAX_CONFIG_SETS + 50  # every event, in the account's
    reputation.observe("a", "r", "set-0", "delivery", ["u@x.example"])  # known: still counted
    first = reputation.estimate(("a", "r", "set-0"))
    assert first is not None
    assert first.sends == 2


def test_each_account_counts_its_own_events_of_a_configuration_set_ses_never_names() -> None:
    """Two accounts (and two regions of one) send with configuration sets SES could not
    have named: each event counts in its own account and region's estimate, not in the
    one whose refused name came first."""
    reputation = Reputation(10_000)
    sent = {("a", "r"): 1, ("b", "r"): 2, ("a", "s"): 3}
    for (account, region), n in sent.items():
        for name in ("a b", "x\n"):
            recipients = [f"u{i}@x.example" for i in range(n)]
            reputation.observe(account, region, name, "send", recipients)
    assert reputation.seen() == [("a", "r", ""), ("a", "s", ""), ("b", "r", "")]
    for (account, region), n in sent.items():
        estimate = reputation.estimate((account, region, ""))
        assert estimate is not None
        assert estimate.sends == 2 * n


def test_account_alerts_from_the_last_poll_one_per_account_each_whole() -> None:
    """Two accounts polled, the first healthy, the second paused: one alert, for the
    second, with the account's stage and who acts (the sender, not AWS's insides); it
    goes out in a group; it resolves once the account is no longer watched."""
    rule = (
        '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\nabove = 0\n'
    )
    config = parse_config(rule)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    accounts = pipeline.ledger.accounts
    accounts.record(("111", "us-east-1")).sending_enabled = True
    accounts.record(("222", "eu-west-1")).sending_enabled = False
    (alert,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert (alert.kind.value, alert.rule, alert.domain, alert.since) == (
        "firing",
        "paused",
        "222/eu-west-1",
        NOW,
    )
    assert (alert.scope, alert.accounts, alert.regions, alert.value) == (
        "account",
        ["222"],
        ["eu-west-1"],
        1.0,
    )
    assert alert.stage == "the SES account (sending status and reputation)"
    assert alert.internal is False
    assert alert.counts == {}
    (notification,) = evaluator.due(NOW, flush=True)
    assert [a.domain for a in notification.alerts] == ["222/eu-west-1"]
    assert (notification.rule, notification.kind.value) == ("paused", "firing")
    accounts.status.clear()  # the account is no longer polled
    (resolved,) = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert (resolved.kind.value, resolved.domain) == ("resolved", "222/eu-west-1")
    assert evaluator.current == {}


def test_an_account_a_reload_stops_watching_is_forgotten_and_its_alert_resolves() -> None:
    """Queues in two regions; SES paused sending in us-east-1 (firing). A reload drops
    that region's queue: no poll will speak of it again, so what SES last said of it
    is forgotten, as a restart forgets it, and its alert resolves, rather than repeat
    every repeat_interval until the next restart with a stale pause. eu-west-1, still
    watched, keeps what SES said of it."""
    rule = (
        '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\nabove = 0\n'
    )
    eu = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/eu"\n'
    us = '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/us"\n'
    config = parse_config(rule + eu + us)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    accounts = pipeline.ledger.accounts
    accounts.record(("default", "eu-west-1")).sending_enabled = True
    accounts.record(("default", "us-east-1")).sending_enabled = False
    accounts.failed(("default", "us-east-1"), "get_account", "TooManyRequestsException")
    (fired,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert (fired.kind.value, fired.domain) == ("firing", "default/us-east-1")
    pipeline.reconfigure(core_settings(parse_config(rule + eu)))
    (resolved,) = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert (resolved.kind.value, resolved.domain) == ("resolved", "default/us-east-1")
    assert list(accounts.status) == [("default", "eu-west-1")]
    assert accounts.errors == {}
    assert accounts.asked == set()  # nor its failed polls' series at 0


def test_a_silence_on_an_account_holds_its_alert_then_it_waits_its_group() -> None:
    """A silence on ``ACCOUNT/REGION`` (what the alert's mute line names) holds the
    firing back; once it ends the firing is sent, dated then, and its notification
    waits the group_wait (10 s by default) from then."""
    rule = (
        '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\nabove = 0\n'
    )
    config = parse_config(rule)
    pipeline = Pipeline(core_settings(config))
    silence = Silence(
        id="s1", comment="known", starts_at=NOW, ends_at=NOW + 60, domain="222/eu-west-1"
    )
    names = [s.name for s in pipeline.ledger.specs]
    evaluator = Evaluator(config.alerts, names, SilenceSet([silence]))
    pipeline.ledger.accounts.record(("222", "eu-west-1")).sending_enabled = False
    assert evaluator.evaluate(pipeline.ledger, NOW) == []
    assert evaluator.held == [("paused", "222/eu-west-1", "firing", "s1")]
    (alert,) = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert (alert.kind.value, alert.domain, alert.since, alert.at) == (
        "firing",
        "222/eu-west-1",
        NOW,
        NOW + 60,
    )
    assert evaluator.due(NOW + 69) == []
    (notification,) = evaluator.due(NOW + 70)
    assert [a.domain for a in notification.alerts] == ["222/eu-west-1"]


def test_failed_polls_count_per_api_and_error_and_a_target_has_one_status() -> None:
    from sesd.core.accounts import Accounts

    accounts = Accounts()
    target = ("prod", "eu-west-1")
    accounts.failed(target, "GetAccount", "Throttling")
    accounts.failed(target, "GetAccount", "Throttling")
    accounts.failed(target, "GetMetricData", "AccessDenied")
    assert accounts.errors == {
        ("prod", "eu-west-1", "GetAccount", "Throttling"): 2,
        ("prod", "eu-west-1", "GetMetricData", "AccessDenied"): 1,
    }
    status = accounts.record(target)
    status.sending_enabled = False
    assert accounts.record(target) is status
    assert accounts.status == {target: status}


def test_a_reload_keeps_the_failed_polls_of_a_target_still_configured() -> None:
    """A reload forgets what SES said of a target it removed, and its failed polls; a
    target still configured keeps its status, its failed polls (the counters must not
    step back: a rate over them would read as a reset) and the APIs it calls (their
    series stay exported at 0 until a first failure)."""
    from sesd.core.accounts import Accounts

    accounts = Accounts()
    kept, dropped = ("prod", "eu-west-1"), ("prod", "us-east-1")
    for target in (kept, dropped):
        accounts.record(target).sending_enabled = True
        accounts.calling(target, "GetAccount")
        accounts.calling(target, "GetMetricData")
        accounts.failed(target, "GetAccount", "Throttling")
    accounts.watch({kept, ("other", "eu-west-1")})
    assert list(accounts.status) == [kept]
    assert accounts.errors == {("prod", "eu-west-1", "GetAccount", "Throttling"): 1}
    assert accounts.asked == {
        ("prod", "eu-west-1", "GetAccount"),
        ("prod", "eu-west-1", "GetMetricData"),
    }


def test_regions_identity_arns_name_are_bounded_in_length_and_number() -> None:
    """An identity ARN's region is a stranger's text as far as sesd knows (whoever may
    write to the queue; a replay of strangers' files): a name no AWS region has the
    shape of (1,000 letters long: an ARN may hold 2,048) counts for the queue's
    region, and past MAX_ARN_REGIONS region-shaped names a new one does too, so the
    sesd_ses_reputation_* series grow neither in length nor in number. A region
    admitted before still counts apart."""
    config = parse_config('[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n')
    pipeline = Pipeline(core_settings(config))
    queue = config.queues[0].label

    def send_from(region: str) -> None:
        event = f.simple("Send", ["u@x.example"])
        event["mail"]["sourceArn"] = f"arn:aws:ses:{region}:123456789012:identity/x.example"
        assert pipeline.feed(f.raw(event), queue, NOW).outcome == "processed"

    send_from("eu-west-1")
    send_from("aa-" + "x" * 1_000 + "-1")
    for i in range(MAX_ARN_REGIONS + 50):
        send_from("zz-" + "".join(chr(ord("a") + int(d)) for d in str(i)) + "-1")
    send_from("eu-west-1")
    metrics = Metrics(pipeline.ledger, [queue], lambda: NOW)
    text = render(metrics.registry.collect()).decode()
    regions = {
        sample.labels["region"]
        for family in text_string_to_metric_families(text)
        if family.name == "sesd_ses_reputation_sends"
        for sample in family.samples
    }
    assert len(regions) == MAX_ARN_REGIONS + 1  # and the queue's own
    assert "us-east-1" in regions
    assert max(len(region) for region in regions) < 32
    europe = pipeline.ledger.reputation.estimate(("default", "eu-west-1", ""))
    assert europe is not None
    assert europe.sends == 2  # admitted before the flood: still apart
    queues = pipeline.ledger.reputation.estimate(("default", "us-east-1", ""))
    assert queues is not None
    # The long name, and the made-up names past the first 63 (eu-west-1 is the 64th).
    assert queues.sends == 1 + (MAX_ARN_REGIONS + 50 - (MAX_ARN_REGIONS - 1))


def test_a_restored_account_status_is_cleaned_and_starts_its_tenant_walk_over() -> None:
    """A state file (an older build's, or edited by hand) whose enforcement word holds
    a terminal escape and runs past 64 characters: restored, the word is escaped and cut
    as GetAccount's own is; an empty one is no word at all. How far a tenant walk had
    come is not restored (the walk says it if it resumes)."""
    from sesd.core.accounts import Accounts

    word = "PROBATION\x1b[2J" + "x" * 100
    rows: list[list[Any]] = [
        ["prod", "eu-west-1", {"enforcement": word, "tenants_listed": 5, "tenants_mapped": 7}],
        ["prod", "us-east-1", {"enforcement": ""}],
    ]
    accounts = Accounts()
    accounts.restore(rows, {("prod", "eu-west-1"), ("prod", "us-east-1")})
    restored = accounts.status[("prod", "eu-west-1")]
    assert restored.enforcement == ("PROBATION\\u001b[2J" + "x" * 100)[:63] + "…"
    assert (restored.tenants_listed, restored.tenants_mapped) == (None, 0)
    assert accounts.status[("prod", "us-east-1")].enforcement is None
