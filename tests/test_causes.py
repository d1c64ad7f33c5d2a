"""Causes of delays from published SMTP texts: each case is a receiver's own wording (IPs
and domains replaced by documentation ones), its source named above its group."""

from __future__ import annotations

import json

import pytest

from sesd.commands.main import main
from sesd.core.causes import CAUSES, classify
from sesd.core.causes import advice as _advice

IP = "192.0.2.10"

CASES: list[tuple[str | None, str, str]] = [
    # (SES delay type, diagnostic as published, expected cause)
    # Microsoft: learn.microsoft.com/exchange/mail-flow-best-practices/
    # non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online
    # and sendersupport.olc.protection.outlook.com/pm/troubleshooting.aspx
    (
        "RecipientServerError",
        f"451 4.7.650 The mail server [{IP}] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)",
        "ip_reputation",
    ),
    (
        "RecipientServerError",
        f"451 4.7.651 The mail server [{IP}] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S843)",
        "ip_reputation",
    ),
    (
        "RecipientServerError",
        f"451 4.7.652 The mail server [{IP}] has exceeded the maximum number of connections.",
        "ip_reputation",
    ),
    (
        "RecipientServerError",
        "451 4.7.500 Server busy. Please try again later from [192.0.2.10]. (S77714)",
        "rate_limited",
    ),
    (
        "RecipientServerError",
        f"550 5.7.1 Unfortunately, messages from [{IP}] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
        "blocklisted",
    ),
    (
        "RecipientServerError",
        f"550 5.7.1 Unfortunately, messages from [{IP}] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140).",
        "blocklisted",
    ),
    (
        "RecipientServerError",
        "451 4.4.4 Mail received as unauthenticated, incoming to a recipient domain configured in a hosted tenant which has no mail-enabled subscriptions.",
        "authentication",
    ),
    ("RecipientServerError", "452 4.3.1 Insufficient system resources", "recipient_server"),
    (
        "RecipientServerError",
        "451 4.4.0 DNS query failed. The error was: SMTPSEND.DNS.NonExistentDomain; nonexistent domain",
        "dns",
    ),
    ("RecipientServerError", "4.4.7 Message delayed", "connection"),
    (
        "RecipientServerError",
        "451 4.7.0 Temporary server error. Please try again later. PRX4",
        "rate_limited",
    ),
    # Yahoo and AOL: senders.yahooinc.com/smtp-error-codes/
    (
        "RecipientServerError",
        f"421 4.7.0 [TSS04] Messages from {IP} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        "ip_reputation",
    ),
    (
        "RecipientServerError",
        f"421 4.7.0 [TS01] Messages from {IP} temporarily deferred due to user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        "ip_reputation",
    ),
    (
        "RecipientServerError",
        f"421 4.7.0 [TS02] Messages from {IP} temporarily deferred due to user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        "ip_reputation",
    ),
    (
        "RecipientServerError",
        f"553 5.7.1 [TS03] All messages from {IP} will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
        "blocklisted",
    ),
    (
        "RecipientServerError",
        f"421 4.7.0 [TSS09] All messages from {IP} will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
        "blocklisted",
    ),
    (
        "RecipientServerError",
        "451 4.2.1 Too many messages from this sender, please try again later",
        "rate_limited",
    ),
    (
        "RecipientServerError",
        "553 5.7.2 [TSS11] All messages from 192.0.2.10 will be permanently deferred; Retrying will NOT succeed.",
        "blocklisted",
    ),
    # No pattern: SES's delay type says it was the receiving server.
    ("RecipientServerError", "421 Message temporarily deferred - [170]", "recipient_server"),
    # Gmail: support.google.com/a/answer/3726730 (Gmail SMTP errors and codes)
    (
        "RecipientServerError",
        f"421-4.7.28 [{IP}] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
        "ip_reputation",
    ),
    (
        "RecipientServerError",
        "421-4.7.0 [192.0.2.10] Our system has detected that this message is suspicious due to the very low reputation of the sending domain.",
        "ip_reputation",
    ),
    (
        "RecipientServerError",
        "421-4.7.0 [192.0.2.10] Our system has detected an unusual amount of unsolicited mail originating from your IP address.",
        "ip_reputation",
    ),
    (
        "RecipientServerError",
        "450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.",
        "rate_limited",
    ),
    (
        "RecipientServerError",
        "452-4.2.2 The email account that you tried to reach is over quota.",
        "mailbox_full",
    ),
    ("MailboxFull", "452-4.2.2 The recipient's inbox is out of storage space.", "mailbox_full"),
    (
        "RecipientServerError",
        "421-4.7.0 This message does not have authentication information or fails to pass authentication checks (SPF or DKIM).",
        "authentication",
    ),
    (
        "RecipientServerError",
        "421-4.7.26 This mail has been rate limited because it is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.",
        "authentication",
    ),
    (
        "RecipientServerError",
        "550-5.7.26 This mail has been blocked because the sender is unauthenticated.",
        "authentication",
    ),
    (
        "RecipientServerError",
        "421-4.7.27 This mail has been rate limited because SPF does not pass.",
        "authentication",
    ),
    (
        "RecipientServerError",
        "421-4.7.30 This mail has been rate limited because DKIM does not pass.",
        "authentication",
    ),
    (
        "RecipientServerError",
        "421-4.7.25 The sending IP does not have a PTR record.",
        "authentication",
    ),
    (
        "RecipientServerError",
        "451-4.3.0 Mail server temporarily rejected message.",
        "recipient_server",
    ),
    (
        "RecipientServerError",
        "421-4.3.0 Temporary System Problem. Try again later.",
        "recipient_server",
    ),
    (
        "RecipientServerError",
        "421-4.7.0 TLS required for RCPT domain, closing connection.",
        "connection",
    ),
    (
        "RecipientServerError",
        "454-4.7.0 Cannot authenticate due to temporary system problem. Try again later.",
        "recipient_server",
    ),
    ("RecipientServerError", "454 4.7.0 TLS not available due to local problem", "connection"),
    ("RecipientServerError", "421-4.4.5 Server busy, try again later.", "recipient_server"),
    (
        "RecipientServerError",
        "450-4.2.1 Peak SMTP relay limit exceeded for customer.",
        "rate_limited",
    ),
    # Greylisting: postgrey (postgrey.schweikert.ch), milter-greylist, Exim/cPanel, rspamd
    (
        "RecipientServerError",
        "450 4.2.0 <x@example.net>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html",
        "greylisted",
    ),
    (
        "RecipientServerError",
        "451 4.7.1 Greylisting in action, please come back later",
        "greylisted",
    ),
    ("RecipientServerError", "451 4.7.1 Please try again later", "greylisted"),
    (
        "RecipientServerError",
        "451 Temporary local problem - please try later (greylisting)",
        "greylisted",
    ),
    ("RecipientServerError", "451 4.7.1 Try again later (greylisted)", "greylisted"),
    ("RecipientServerError", "450 4.7.1 Greylisted for 5 minutes", "greylisted"),
    (
        "RecipientServerError",
        "451 4.7.1 Greylisting in progress, please retry in 300 seconds",
        "greylisted",
    ),
    # DNSBLs: spamhaus.org, spamcop.net/bl.shtml, barracudacentral.org, sorbs, uceprotect
    (
        "RecipientServerError",
        f"554 5.7.1 Service unavailable; Client host [{IP}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{IP}",
        "blocklisted",
    ),
    (
        "RecipientServerError",
        f"550 5.7.1 Blocked - see https://www.spamcop.net/bl.shtml?{IP}",
        "blocklisted",
    ),
    (
        "RecipientServerError",
        f"554 Service unavailable; Client host [{IP}] blocked using b.barracudacentral.org; http://www.barracudanetworks.com/reputation/?pr=1&ip={IP}",
        "blocklisted",
    ),
    (
        "RecipientServerError",
        f"550 5.7.1 Mail from {IP} refused - see http://www.sorbs.net/lookup.shtml?{IP}",
        "blocklisted",
    ),
    (
        "RecipientServerError",
        f"554 5.7.1 Service unavailable; Client host [{IP}] blocked using dnsbl-1.uceprotect.net",
        "blocklisted",
    ),
    ("RecipientServerError", f"550 {IP} is listed at bl.spamcop.net", "blocklisted"),
    # Content: SES SpamDetected, common gateway texts
    ("SpamDetected", "554 5.7.1 Message rejected as spam by Content Filtering.", "content"),
    ("RecipientServerError", "550 5.7.1 Message contains a virus", "content"),
    ("SpamDetected", "", "content"),
    # Rate and connection limits with no reputation wording
    (
        "RecipientServerError",
        "421 4.7.0 Too many connections from your IP, closing transmission channel",
        "rate_limited",
    ),
    ("RecipientServerError", "452 4.5.3 Too many recipients", "rate_limited"),
    ("RecipientServerError", "450 4.7.1 Rate limit exceeded, try again later", "rate_limited"),
    # Network and DNS
    ("TransientCommunicationFailure", "", "connection"),
    ("TransientCommunicationFailure", "smtp; 421 4.4.2 Connection dropped", "connection"),
    ("RecipientServerError", "451 4.4.1 Connection timed out", "connection"),
    ("BYOIPHostNameLookupUnavailable", "", "dns"),
    (
        "RecipientServerError",
        "450 4.1.8 <bounce@example.com>: Sender address rejected: Domain not found",
        "dns",
    ),
    # The receiving server itself
    (
        "RecipientServerError",
        "421 4.3.2 Service not available, closing transmission channel",
        "recipient_server",
    ),
    ("RecipientServerError", "451 4.3.5 Server configuration problem", "recipient_server"),
    ("RecipientServerError", "", "recipient_server"),
    # Inside SES
    ("InternalFailure", "", "ses_internal"),
    ("SendingDeferral", "anything the receiver said", "ses_internal"),
    ("Undetermined", "", "unknown"),
]


def test_the_published_texts_are_at_least_fifty() -> None:
    assert len(CASES) >= 50
    assert {expected for _, _, expected in CASES} == set(CAUSES)


@pytest.mark.parametrize(("delay_type", "diagnostic", "expected"), CASES)
def test_each_published_text_has_its_cause(
    delay_type: str | None, diagnostic: str, expected: str
) -> None:
    found = classify(delay_type, "", diagnostic)
    assert found.cause == expected, diagnostic
    assert found.advice


def test_the_status_field_counts_as_much_as_the_text() -> None:
    """SES gives the enhanced code apart: 4.2.2 in ``status`` is a full mailbox even
    when the text says nothing; and the code is reported."""
    assert classify("RecipientServerError", "4.2.2", "").cause == "mailbox_full"
    assert classify(None, "4.4.1", "no answer").status == "4.4.1"
    assert classify(None, "", "smtp; 451 4.3.0 later").status == "4.3.0"


def test_rfc_3463_classes_are_the_fallback() -> None:
    assert classify(None, "4.2.2", "x").cause == "mailbox_full"
    assert classify(None, "4.4.9", "x").cause == "connection"
    assert classify(None, "4.3.9", "x").cause == "recipient_server"
    assert classify(None, "4.7.9", "x").cause == "unknown"
    assert classify(None, "", "").cause == "unknown"


def test_microsoft_reputation_advice_says_what_to_do() -> None:
    advice = classify("RecipientServerError", "", CASES[0][1]).advice
    assert "4.7.650" in advice
    assert "SNDS" in advice


def test_sesd_cause_explains_a_pasted_diagnostic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cause", CASES[0][1]]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ip_reputation (4.7.650): Microsoft is rate-limiting")
    assert main(["cause", "--delay-type", "InternalFailure", "--json", "whatever"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "cause": "ses_internal",
        "advice": classify("InternalFailure", "", "").advice,
        "status": "",
    }


def test_sesd_cause_reads_one_diagnostic_a_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    lines = "\n".join(text for _, text, _ in CASES[:3]) + "\n\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["cause", "--json", "-"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["cause"] for o in out] == ["ip_reputation"] * 3
    assert [o["status"] for o in out] == ["4.7.650", "4.7.651", "4.7.652"]


def test_a_delay_counts_under_its_cause_and_the_window_keeps_it() -> None:
    """Microsoft's 4.7.650 on a delayed recipient: counted with cause="ip_reputation",
    in the window's breakdown, and in replay's summary; a soft bounce has a cause too,
    a hard one does not."""
    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline
    from sesd.metrics.registry import Metrics
    from tests import factory as f

    now = f.T0 + 10
    rule = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    pipeline = Pipeline(core_settings(parse_config(rule)))
    metrics = Metrics(pipeline.ledger, ["q"], lambda: now)
    text = CASES[0][1]
    delay = f.delay(["a@x.example"], at=now, status="4.7.650", diagnostic=text)
    pipeline.feed(f.raw(delay), "q", now)
    soft = f.bounce(["b@x.example"], at=now, kind="Transient", subkind="General")
    soft["bounce"]["bouncedRecipients"][0]["diagnosticCode"] = "452-4.2.2 over quota"
    pipeline.feed(f.raw(soft), "q", now)
    pipeline.feed(f.raw(f.bounce(["c@x.example"], at=now)), "q", now)  # hard
    labels = {"domain": "x.example", "delay_type": "TransientCommunicationFailure"}
    sample = metrics.registry.get_sample_value(
        "sesd_delivery_delays_total", labels | {"cause": "ip_reputation"}
    )
    assert sample == 1
    assert pipeline.ledger.windows["x.example"].breakdown(0, now).causes == [
        ("ip_reputation", 1),
        ("mailbox_full", 1),
    ]
    assert pipeline.ledger.tallies.causes == {"ip_reputation": 1, "mailbox_full": 1}


def test_replay_counts_causes(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from tests import factory as f

    directory = Path(str(tmp_path))
    events = directory / "events.jsonl"
    bodies = [
        f.delay(["a@x.example"], status="4.7.650", diagnostic=CASES[0][1]),
        f.delay(["b@x.example"], status="", diagnostic="451 4.7.1 Greylisted, try again"),
        f.delay(["c@x.example"], status="", diagnostic="451 4.7.1 Greylisted, try again"),
    ]
    events.write_text("\n".join(json.dumps(b) for b in bodies) + "\n")
    config = directory / "sesd.toml"
    config.write_text("")
    assert main(["replay", "--config", str(config), "--json", str(events)]) == 0
    assert json.loads(capsys.readouterr().out)["causes"] == {"greylisted": 2, "ip_reputation": 1}


def test_a_cause_ratio_rule_fires_on_its_cause_only() -> None:
    """cause_ratio with cause = "ip_reputation": Microsoft's throttling on 4 of 11
    recipients fires at above 0.2; three greylisted delays do not move it; the
    alert leads with the dominant cause and its advice."""
    from sesd.alerting.evaluator import Evaluator
    from sesd.alerting.render import describe
    from sesd.config import ConfigError, core_settings, parse_config
    from sesd.core.pipeline import Pipeline
    from tests import factory as f

    now = f.T0 + 10
    rule = (
        '[[alerts.rules]]\nname = "ms-reputation"\nmetric = "cause_ratio"\n'
        'cause = "ip_reputation"\nwindow = "5m"\nabove = 0.2\nmin_events = 5\n'
    )
    config = parse_config(rule)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    for i in range(3):
        body = f.delay([f"g{i}@x.example"], at=now, status="4.7.1", diagnostic="451 Greylisted")
        pipeline.feed(f.raw(body), "q", now)
    for i in range(4):
        pipeline.feed(f.raw(f.delivery([f"d{i}@x.example"], at=now)), "q", now)
    assert evaluator.evaluate(pipeline.ledger, now) == []  # 0 of 7 for this cause
    for i in range(4):
        body = f.delay([f"m{i}@x.example"], at=now, status="4.7.650", diagnostic=CASES[0][1])
        pipeline.feed(f.raw(body), "q", now)
    (alert,) = evaluator.evaluate(pipeline.ledger, now)
    assert alert.value == 4 / 11
    assert describe(alert).splitlines()[1] == (
        "cause: ip_reputation (4 of 7 noted): " + _advice("ip_reputation")
    )
    for bad, message in (
        ('metric = "delay_ratio"\ncause = "dns"', "`cause` goes with metric cause_ratio"),
        ('metric = "cause_ratio"', "cause_ratio needs it"),
        ('metric = "cause_ratio"\ncause = "gremlins"', "unknown cause 'gremlins'"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_config(f'[[alerts.rules]]\nname = "r"\n{bad}\nwindow = "5m"\nabove = 0.1\n')


def test_an_unknown_cause_gets_the_unknown_advice() -> None:
    assert _advice("gremlins") == _advice("unknown")
    assert _advice("dns") != _advice("unknown")


def test_a_windows_causes_add_what_was_written_out_and_what_is_staged() -> None:
    """A cause counted in an earlier fine bucket (written to the rings) and one in the
    bucket being staged add up; past the window, neither counts."""
    from sesd.config import core_settings, parse_config
    from sesd.core.causes import CAUSE_INDEX
    from sesd.core.pipeline import Pipeline
    from tests import factory as f

    now = f.T0 + 60
    pipeline = Pipeline(core_settings(parse_config("")))
    for at in (f.T0, f.T0 + 30):  # two fine buckets: the first is written out
        body = f.delay([f"a{at}@x.example"], at=at, status="4.7.650", diagnostic=CASES[0][1])
        pipeline.feed(f.raw(body), "q", now)
    windows = pipeline.ledger.windows["x.example"]
    assert windows.causes(0, now) == {CAUSE_INDEX["ip_reputation"]: 2}
    assert windows.causes(0, now + 3600) == {}
