"""What alert text tells the on-call to do, judged against what receivers and AWS
document: the reply SES quotes inside its soft bounce, SES's delay type against
its own generic status code, delays inside SES, and the advice of the table entry
that decided a window's dominant cause.

The replies are as published: Microsoft's NDR table and Outlook.com's
troubleshooting page, Gmail's SMTP error reference
(https://support.google.com/a/answer/3726730), Yahoo's SMTP error codes
(https://senders.yahooinc.com/smtp-error-codes/), and AWS's description of
DeliveryDelay types
(https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html).
"""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import describe
from sesd.config import core_settings, parse_config
from sesd.core.cause_table import advice_id
from sesd.core.causes import advice, advice_for, classify
from sesd.core.pipeline import Pipeline
from tests import factory as f

NOW = f.T0 + 10
RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
#: SES's soft bounce: it gave up after 14 hours, quoting the receiver's last reply.
EXPIRED = "smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes.<{}>"
BUSY = "451 4.7.500 Server busy. Please try again later from [192.0.2.10]. (S77714)"
SAME_ID = (
    "452-4.7.28 Our system has detected that this message exceeded the quota for "
    "sending messages that have the same Message-ID. To protect our users from spam, "
    "mail sent to your account has been temporarily rate limited."
)


@pytest.mark.parametrize(
    ("reply", "cause", "status"),
    [
        (BUSY, "ip_reputation", "4.7.500"),  # Microsoft's reputation restriction
        ("421 4.4.2 Connection timed out", "connection", "4.4.2"),
        ("452 4.2.2 The recipient's inbox is out of storage space.", "mailbox_full", "4.2.2"),
    ],
)
def test_a_soft_bounce_is_judged_by_the_reply_ses_quotes(
    reply: str, cause: str, status: str
) -> None:
    """Every soft bounce SES sends wraps the receiver's last reply in its own 4.4.7
    expiry text: the reply decides, with its own code, not SES's."""
    found = classify(None, "4.4.7", EXPIRED.format(reply))
    assert (found.cause, found.status) == (cause, status)
    assert found == classify(None, "4.4.7", reply)
    # Without a quoted reply, SES's expiry is all there is: the network.
    expired = classify(None, "4.4.7", "smtp; 554 4.4.7 Message expired")
    assert (expired.cause, expired.status) == ("connection", "4.4.7")


@pytest.mark.parametrize(
    ("delay_type", "cause"),
    [
        ("MailboxFull", "mailbox_full"),
        ("SpamDetected", "content"),
        ("IPFailure", "blocklisted"),
        ("RecipientServerError", "recipient_server"),
    ],
)
def test_ses_delay_type_says_more_than_its_generic_status_code(delay_type: str, cause: str) -> None:
    """SES's ``status`` 4.4.1 or 4.4.7 is its generic code: when the receiver's text
    carries no code of its own, SES's delay type decides, before that code and before
    words that only hint; a code in the text, or a particular one in ``status``, still
    speaks first."""
    for status in ("4.4.1", "4.4.7"):
        for text in ("smtp; 451 Temporary failure", "451 Please try again later", ""):
            assert classify(delay_type, status, text).cause == cause, (status, text)
    assert classify(delay_type, "4.4.1", "421 4.4.1 Connection timed out").cause == "connection"
    assert classify(delay_type, "4.2.2", "").cause == "mailbox_full"
    # Words that name a family still come first: only SES's code and hints yield.
    assert classify(delay_type, "4.4.7", "451 Greylisted, try again later").cause == "greylisted"
    # No delay type (a soft bounce): the generic code decides as before.
    assert classify(None, "4.4.7", "smtp; 451 Temporary failure").cause == "connection"


def _alert(*bodies: dict[str, object]) -> str:
    """The text of the one alert the rule fires on ``bodies`` at one domain."""
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    for body in bodies:
        pipeline.feed(f.raw(body), "q", NOW)
    (alert,) = Evaluator(config.alerts, ["5m", "15m", "1h"]).evaluate(pipeline.ledger, NOW)
    return describe(alert)


#: Where mail goes: a Microsoft 365 tenant, a company behind a Mimecast gateway, and a
#: domain whose MX lookup has not answered yet.
_RECEIVERS = {"corp.example": "microsoft", "bank.example": "mimecast", "new.example": None}


def test_a_providers_own_code_gets_its_advice_as_that_providers() -> None:
    """Microsoft's 4.7.500 "Server busy" is, in Microsoft's documentation, its IP
    restriction for suspicious activity, and its advice names Microsoft's sender
    support. A Mimecast gateway's server, or a receiver sesd does not know, may mean
    something else by the same code: their alerts say the code is Microsoft's and
    whose mail it is before giving Microsoft's advice, where they told the on-call
    that Microsoft had restricted the IP. Mail that Microsoft receives, in a domain's
    alert or Microsoft's own, gets the advice as it is; the status page says what the
    alert text says."""
    from sesd.status.alerts import active, alert_rows

    config = parse_config(RULE + RULE.replace('"r"', '"p"') + 'providers = ["*"]\n')
    pipeline = Pipeline(core_settings(config))
    assert pipeline.ledger.providers is not None
    for domain, provider in _RECEIVERS.items():
        if provider is not None:
            pipeline.ledger.providers.remember(domain, provider, NOW + 86400)
        for i in range(4):
            body = f.delay([f"r{i}@{domain}"], at=NOW, status="", diagnostic=BUSY)
            pipeline.feed(f.raw(body), "q", NOW)
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    alerts = {a.domain: describe(a) for a in evaluator.evaluate(pipeline.ledger, NOW)}
    busy = classify(None, "", BUSY).advice
    assert busy.startswith("Microsoft has restricted your IP")
    noted = "cause: ip_reputation, or rate_limited (4 of 4 noted): "
    for label in ("corp.example", "microsoft"):
        assert f"{noted}{busy}" in alerts[label], label
    elsewhere = (
        "Microsoft documents this code, but this mail goes to provider mimecast, which may "
        f"mean something else by it: read the diagnostic. Microsoft's advice: {busy}"
    )
    unknown = (
        "Microsoft documents this code, and this mail's receiver is not known to be "
        "Microsoft's: another may mean something else by it; read the diagnostic. "
        f"Microsoft's advice: {busy}"
    )
    for label, said in (("bank.example", elsewhere), ("mimecast", elsewhere)):
        assert f"{noted}{said}" in alerts[label], label
    assert f"{noted}{unknown}" in alerts["new.example"]
    rows = alert_rows(pipeline.ledger, evaluator, active(evaluator), NOW)
    shown = {row.name: row.cause.advice for row in rows if row.cause is not None}
    assert shown["corp.example"] == shown["microsoft"] == busy
    assert shown["bank.example"] == shown["mimecast"] == elsewhere
    assert shown["new.example"] == unknown


#: Gmail's words with a code it does not own (4.7.0, RFC 3463's "other security"), as
#: its error reference gives them; the same words with 4.7.28, its own code.
GMAIL_WORDS = (
    "421-4.7.0 [192.0.2.10] Our system has detected an unusual rate of unsolicited mail "
    "originating from your IP address. To protect our users from spam, mail sent from "
    "your IP address has been temporarily rate limited."
)
GMAIL_CODE = GMAIL_WORDS.replace("4.7.0", "4.7.28")


def test_gmails_own_words_name_gmail_and_claim_no_code() -> None:
    """Gmail's "unusual rate of unsolicited mail" with 4.7.0 is decided by its words,
    not by a code Gmail documents: its alert on mail behind a Mimecast gateway, or to a
    receiver not known, said "Google documents this code" of a code that is RFC 3463's,
    anyone's. Its advice names Gmail, as a receiver's own words' advice does, and is
    given as it is; the same words with 4.7.28, Gmail's own code, still say whose code
    it is first."""
    words, code = classify(None, "", GMAIL_WORDS), classify(None, "", GMAIL_CODE)
    assert (words.cause, words.status, code.status) == ("ip_reputation", "4.7.0", "4.7.28")
    assert words.advice.startswith("Gmail ")
    assert "below 0.1%" in words.advice
    for provider in ("mimecast", None, "google"):
        said = advice_for(words.cause, 4, [(words.advised, 4)], provider)
        assert said == words.advice, provider
        assert "documents this code" not in said
    owned = advice_for(code.cause, 4, [(code.advised, 4)], "mimecast")
    assert owned.startswith("Google documents this code, but this mail goes to provider ")
    assert _alert(*[f.delay([f"r{i}@x.example"], at=NOW, status="", diagnostic=GMAIL_WORDS)
                    for i in range(4)]).count(f"noted): {words.advice}") == 1  # fmt: skip


#: The advice Gmail's words (with 4.7.0) and its 4.7.28 shared in an earlier build: a
#: state file of that build notes the words' recipients under its id.
GMAIL_SHARED = (
    "Gmail is limiting you for reputation or an unusual rate of unsolicited mail (4.7.28, "
    "4.7.0): slow down to Gmail, check Postmaster Tools, and keep the spam rate it "
    "reports below 0.1% (Google's guidelines: never reach 0.3%)."
)


def test_gmails_words_restored_from_an_earlier_state_file_claim_no_code() -> None:
    """An advice's id is its words: Gmail's words with 4.7.0, noted in the state file of
    an earlier build under the advice they shared with 4.7.28, found that advice again
    after a restart, and their alert on mail to another provider, or to a receiver not
    known, said "Google documents this code" until they left the window. 4.7.28's
    advice names its own code alone (the words with 4.7.0 no longer reach it), so that
    id is no advice this table knows, and the cause's own is given."""
    before = advice_id("ip_reputation", GMAIL_SHARED)
    code = classify(None, "", GMAIL_CODE)
    assert "4.7.0" not in code.advice
    assert code.advised != before
    own = advice("ip_reputation")
    for provider in ("mimecast", None, "google"):
        assert advice_for("ip_reputation", 4, [(before, 4)], provider) == own, provider


def test_a_consumer_domain_is_its_providers_with_the_lookups_off() -> None:
    """``[providers]`` off: no MX is looked up, but gmail.com and outlook.com are
    Google's and Microsoft's by name, as sesd's table of consumer domains says with
    the lookups on. Their alerts give the owner's advice as it is, as they do with the
    lookups on; they said the receiver was not known to be Google's and might mean
    something else by Gmail's own code. A company domain, whose receiver only its MX
    tells, still gets the lead-in; the status page says what the alert text says."""
    from sesd.status.alerts import active, alert_rows

    config = parse_config("[providers]\nenabled = false\n" + RULE)
    pipeline = Pipeline(core_settings(config))
    assert pipeline.ledger.providers is None
    replies = {"gmail.com": SAME_ID, "outlook.com": BUSY, "corp.example": BUSY}
    for domain, reply in replies.items():
        for i in range(4):
            body = f.delay([f"r{i}@{domain}"], at=NOW, status="", diagnostic=reply)
            pipeline.feed(f.raw(body), "q", NOW)
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    alerts = {a.domain: describe(a) for a in evaluator.evaluate(pipeline.ledger, NOW)}
    same_id, busy = classify(None, "", SAME_ID).advice, classify(None, "", BUSY).advice
    assert f"noted): {same_id}" in alerts["gmail.com"]
    assert f"noted): {busy}" in alerts["outlook.com"]
    assert "receiver is not known to be Microsoft's" in alerts["corp.example"]
    rows = alert_rows(pipeline.ledger, evaluator, active(evaluator), NOW)
    shown = {row.name: row.cause.advice for row in rows if row.cause is not None}
    assert (shown["gmail.com"], shown["outlook.com"]) == (same_id, busy)
    assert shown["corp.example"].startswith("Microsoft documents this code, and ")


def test_a_byoip_lookup_delay_is_inside_ses_with_advice_on_your_own_ptr_records() -> None:
    """BYOIPHostNameLookupUnavailable: SES could not look up the names of the sender's
    own BYOIP addresses, before any recipient's server was reached. The alert places
    it inside SES and points at the BYOIP range's PTR records, not at the recipient's
    DNS ("nothing to do on your side")."""
    delays = [
        f.delay(
            [f"r{i}@x.example"],
            at=NOW,
            delay_type="BYOIPHostNameLookupUnavailable",
            status="4.4.0",
            diagnostic="",
        )
        for i in range(4)
    ]
    text = _alert(*delays)
    assert "where: inside SES" in text
    cause = classify("BYOIPHostNameLookupUnavailable", "4.4.0", "")
    assert cause.cause == "ses_internal"
    assert cause.advised  # its own advice, found again in a breakdown
    assert classify("InternalFailure", "", "").advised == ""  # the cause's own
    assert "PTR records of your BYOIP range" in cause.advice
    assert f"cause: ses_internal (4 of 4 noted): {cause.advice}" in text
    assert "nothing to do on your side" not in text


def test_the_alert_gives_the_advice_of_the_entry_that_decided_most_recipients() -> None:
    """Gmail's limit on copies of one Message-ID is a retry loop, not a volume burst:
    when it decided at least half of the dominant cause's recipients, the alert gives
    its advice; when it decided fewer, the cause's own (the window mixes replies)."""
    same_id = classify(None, "", SAME_ID)
    assert same_id.cause == "rate_limited"
    assert same_id.advice != advice("rate_limited")

    def delays(text: str, n: int, first: int) -> list[dict[str, object]]:
        return [
            f.delay([f"r{first + i}@gmail.com"], at=NOW, status="", diagnostic=text)
            for i in range(n)
        ]

    limited = "421 Too many concurrent connections from your IP"
    assert classify(None, "", limited).advice == advice("rate_limited")
    mostly = _alert(*delays(SAME_ID, 3, 0), *delays(limited, 3, 3))
    assert f"cause: rate_limited, or content (6 of 6 noted): {same_id.advice}" in mostly
    fewer = _alert(*delays(SAME_ID, 2, 0), *delays(limited, 3, 2))
    assert f"(5 of 5 noted): {advice('rate_limited')}" in fewer


def test_an_advice_id_for_another_cause_or_from_another_table_is_passed_over() -> None:
    """A breakdown's advice ids come from the state file too: one this table does not
    know (another build's), or one of another cause, gives the cause's own advice."""
    busy = classify(None, "", BUSY)
    assert busy.advised
    ms = "microsoft"  # (Microsoft's code in mail Microsoft receives: its advice as it is)
    assert advice_for("ip_reputation", 4, [(busy.advised, 2)], ms) == busy.advice
    assert advice_for("ip_reputation", 4, [(busy.advised, 1)], ms) == advice("ip_reputation")
    assert advice_for("rate_limited", 4, [(busy.advised, 4)], ms) == advice("rate_limited")
    assert advice_for("ip_reputation", 4, [("0123456789", 4)], ms) == advice("ip_reputation")


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        # Outlook.com: RP-001 to RP-003 are limits "related to IP/domain reputation".
        (
            "421 RP-001 (BAY004-MC1F1) Unfortunately, some messages from 192.0.2.1 weren't "
            "sent. Please try again. We have limits for how many messages can be sent per "
            "hour and per day.",
            "ip_reputation",
        ),
        # Microsoft 4.7.652: a limit on connections (S3115), not reputation.
        (
            "451 4.7.652 The mail server [192.0.2.17] has exceeded the maximum number of "
            "connections. (S3115)",
            "rate_limited",
        ),
        # Yahoo checks the MAIL FROM and the From: header domain with an SOA query.
        (
            "451 Message temporarily deferred due to unresolvable RFC.5322 from domain",
            "authentication",
        ),
    ],
)
def test_documented_replies_get_the_cause_their_documentation_gives(reply: str, cause: str) -> None:
    assert classify("RecipientServerError", "", reply).cause == cause


def test_advice_does_not_send_the_on_call_the_wrong_way() -> None:
    """Gmail's spam-rate target is 0.1% (0.3% is the line never to reach); a TLS policy
    of Require does not make Gmail's connection encrypted; Microsoft's tools and
    delisting are AWS's on SES's shared IPs."""
    rate = classify(None, "", "421 4.7.28 unusual rate of unsolicited mail").advice
    assert "below 0.1%" in rate
    tls = classify(
        None,
        "",
        "421 4.7.29 Your email has been rate limited because this message was not "
        "sent over a TLS connection.",
    ).advice
    assert "would not fix it" in tls
    for reply in (BUSY, "550 5.7.606 Access denied, banned sending IP [192.0.2.1]."):
        assert "SES's shared IPs" in classify(None, "", reply).advice
