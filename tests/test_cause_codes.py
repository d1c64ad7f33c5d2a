"""Each receiver's documented replies get the cause its documentation gives.

The rows are reply texts as providers' postmaster and error-code pages publish them
(codes and texts are facts; addresses and IPs replaced), each with the causes that
page supports. They check the table against what receivers say their codes mean,
beside the corpora of real mail (tests/test_cause_corpus.py), which measure how it
reads texts it was not written from.
"""

from __future__ import annotations

import pytest

from sesd.core.causes import CAUSES, classify

#: Where each group's meanings come from.
SOURCES = {
    "yahoo": "https://senders.yahooinc.com/smtp-error-codes/",
    "aol": "http://postmaster.info.aol.com/errors/",
    "microsoft": "https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online",
    "outlook": "https://sendersupport.olc.protection.outlook.com/pm/troubleshooting.aspx",
    "gmail": "https://support.google.com/a/answer/3726730",
    "apple": "https://support.apple.com/en-us/102322",
    "comcast": "http://postmaster.comcast.net/mail-error-codes.html",
    "cox": "https://www.cox.com/residential/support/email-error-codes.html",
    "spectrum": "https://www.spectrumbusiness.net/support/internet/understanding-email-error-codes",
    "att": "http://rbl.att.net/block_enduser.html",
    "godaddy": "https://www.godaddy.com/help/what-does-my-email-bounceback-mean-3568",
    "mimecast": "https://community.mimecast.com/s/article/email-security-cloud-gateway-mimecast-smtp-error-codes",
    "qq": "https://service.mail.qq.com/detail/122/172",
    "united_internet": "https://postmaster.web.de/error-messages",
    "t_online": "https://postmaster.t-online.de/index.en.html",
    "orange": "https://www.postmastery.com/orange-postmaster-smtp-error-codes-ofr/",
    "barracuda": "https://campus.barracuda.com/product/emailsecuritygateway/article/BSF/SMTPErrorCodes/",
    "symantec": "https://knowledge.broadcom.com/external/article/169652/email-error-and-bounce-codes-for-email-s.html",
    "rackspace": "https://docs.rackspace.com/docs/common-email-bounces",
    "socketlabs": "https://help.socketlabs.com/docs/421-451-too-many-errors-you-have-been-temporarily-blacklisted",
    "zoho": "https://www.zoho.com/mail/help/spam-reason.html",
    "trend_micro": "https://docs.trendmicro.com/en-us/documentation/article/deep-discovery-email-inspector-51-online-help-smtp-error-codes",
    "cisco": "https://www.cisco.com/c/en/us/support/security/email-security-appliance/products-user-guide-list.html",
    "netease": "https://biecuoliao.com/pa/MBRrwEM.html",
}

#: (source, reply, the causes its documentation supports).
DOCUMENTED = [
    (
        "yahoo",
        "421 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred due to user complaints - 4.16.55.1",
        ("ip_reputation",),
    ),
    (
        "yahoo",
        "421 Max message per connection reached, closing transmission channel",
        ("rate_limited",),
    ),
    ("yahoo", "450 User is receiving mail too quickly", ("rate_limited",)),
    (
        "yahoo",
        "451 Message temporarily deferred due to unresolvable RFC.5321 from domain",
        ("authentication", "dns"),
    ),
    (
        "yahoo",
        "550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.",
        ("authentication",),
    ),
    (
        "yahoo",
        "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
        ("blocklisted",),
    ),
    (
        "yahoo",
        "421 4.7.0 [GL01] Message from (192.0.2.1) temporarily deferred - 4.16.50",
        ("ip_reputation", "greylisted"),
    ),
    (
        "yahoo",
        "554 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes",
        ("content",),
    ),
    ("yahoo", "554 5.7.9 Message not accepted for policy reasons.", ("content",)),
    (
        "aol",
        "421 4.7.1 : (DYN:T1) http://postmaster.info.aol.com/errors/421dynt1.html",
        ("rate_limited", "ip_reputation"),
    ),
    (
        "aol",
        "554 RLY:B1 http://postmaster.info.aol.com/errors/554rlyb1.html",
        ("ip_reputation", "blocklisted"),
    ),
    (
        "aol",
        "521 5.2.1 : (CON:B1) https://postmaster.aol.com/error-codes#554conb1",
        ("ip_reputation", "blocklisted"),
    ),
    ("aol", "554 HVU:B1 https://postmaster.aol.com/error-codes#554hvub1", ("content",)),
    ("microsoft", "432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded", ("rate_limited",)),
    (
        "microsoft",
        "451 4.4.316 Connection refused [Message=Socket error code 10061]",
        ("connection",),
    ),
    ("microsoft", "452 4.5.3 Too many recipients", ("rate_limited",)),
    (
        "microsoft",
        "451 4.7.500 Access denied, please try again later. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653. (AS730) [Hostname=...]",
        ("ip_reputation",),
    ),
    (
        "microsoft",
        "550 5.2.121 Recipient's per hour message receive limit from specific sender exceeded.",
        ("rate_limited",),
    ),
    (
        "microsoft",
        "550 5.2.122 Recipient's per hour message receive limit exceeded.",
        ("rate_limited",),
    ),
    ("microsoft", "550 5.4.1 Relay Access Denied", ("dns", "recipient_server")),
    (
        "microsoft",
        "550 5.7.23 The message was rejected because of Sender Policy Framework violation",
        ("authentication",),
    ),
    (
        "microsoft",
        "550 5.7.25 Access denied, the sending IPv6 address [2001:db8::1] must have a reverse DNS record",
        ("authentication",),
    ),
    (
        "microsoft",
        "451 5.7.321 starttls-not-supported: Destination mail server must support TLS to receive mail.",
        ("connection",),
    ),
    ("microsoft", "550 5.7.501 Access denied, spam abuse detected", ("ip_reputation",)),
    ("microsoft", "550 5.7.502 Access denied, banned sender", ("blocklisted",)),
    (
        "microsoft",
        "550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains",
        ("authentication",),
    ),
    (
        "outlook",
        "421 RP-001 (BAY004-MC1F1) Unfortunately, messages from 192.0.2.1 weren't sent. Please contact your Internet service provider. You can tell them that Hotmail does not relay dial-up mail servers.",
        ("rate_limited", "ip_reputation"),
    ),
    (
        "outlook",
        "550 SC-001 (SNT004-MC1F11) Unfortunately, messages from 192.0.2.1 weren't sent. Please contact your Internet service provider since part of their network is on our block list.",
        ("ip_reputation", "blocklisted"),
    ),
    (
        "outlook",
        "550 DY-001 (SNT004-MC4F4) Unfortunately, messages from 192.0.2.1 weren't sent. Please contact your Internet service provider. You can tell them that Hotmail does not relay dial-up mail servers.",
        ("blocklisted",),
    ),
    (
        "outlook",
        "550 OU-002 (BAY004-MC4F2) Unfortunately, messages from 192.0.2.1 weren't sent. Please contact your Internet service provider. You can tell them that Hotmail does not relay dial-up mail servers.",
        ("ip_reputation", "content"),
    ),
    (
        "outlook",
        "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714) [Name=Protocol Filter Agent]",
        ("ip_reputation",),
    ),
    (
        "gmail",
        "450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.",
        ("rate_limited",),
    ),
    (
        "gmail",
        "452 4.2.2 The email account that you tried to reach is over quota.",
        ("mailbox_full",),
    ),
    ("gmail", "451 4.3.0 Mail server temporarily rejected message.", ("recipient_server",)),
    ("gmail", "421 4.3.0 Temporary System Problem.  Try again later.", ("recipient_server",)),
    ("gmail", "451 4.4.2 Timeout - closing connection.", ("connection",)),
    ("gmail", "421 4.4.5 Server busy, try again later.", ("recipient_server",)),
    (
        "gmail",
        "421 4.7.0 IP not in whitelist for RCPT domain, closing connection.",
        ("blocklisted",),
    ),
    ("gmail", "421 4.7.0 TLS required for RCPT domain, closing connection.", ("connection",)),
    (
        "gmail",
        "421 4.7.0 This message is suspicious due to the nature of the content or the links within. To best protect our users from spam, the message has been blocked.",
        ("content",),
    ),
    (
        "gmail",
        "451 4.7.23 The sending IP address for this message doesn't have a PTR record, or the PTR record's forward DNS entry doesn't match the sending IP address.",
        ("authentication",),
    ),
    (
        "gmail",
        "451 4.7.24 The SPF record of the sending domain has one or more suspicious entries.",
        ("authentication",),
    ),
    (
        "gmail",
        "421 4.7.27 Your email has been rate limited because SPF authentication didn't pass for this message.",
        ("authentication",),
    ),
    (
        "gmail",
        "421 4.7.30 Your email has been rate limited because DKIM authentication didn't pass for this message.",
        ("authentication",),
    ),
    (
        "gmail",
        "421 4.7.32 Your email has been rate limited because the From: header (RFC5322) in this message isn't aligned with either the authenticated SPF or DKIM organizational domain.",
        ("authentication",),
    ),
    (
        "gmail",
        "421 4.7.40 Your email has been rate limited because your sending domain doesn't have a DMARC record or the DMARC record doesn't specify a DMARC policy.",
        ("authentication",),
    ),
    ("gmail", "550 5.7.1 This message is likely unsolicited email.", ("content",)),
    (
        "gmail",
        "550 5.7.1 The IP you're using to send email is not authorized to send email directly to our servers.",
        ("blocklisted",),
    ),
    ("gmail", "550 5.7.1 This email has been rate limited.", ("rate_limited",)),
    (
        "apple",
        "421 4.7.1 Messages to user@icloud.com deferred due to excessive volume. Try again later - https://support.apple.com/en-us/HT204137",
        ("rate_limited",),
    ),
    (
        "apple",
        "451 4.7.1 Service unavailable - try again later",
        ("recipient_server", "rate_limited", "greylisted"),
    ),
    (
        "apple",
        "554 5.7.1 [CS02] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137",
        ("ip_reputation", "content"),
    ),
    (
        "apple",
        "554 5.7.1 [HME1] This message was blocked for failing both SPF and DKIM authentication checks.",
        ("authentication",),
    ),
    (
        "apple",
        "550 5.7.1 Your email was rejected due to having a domain present in the Spamhaus DBL",
        ("blocklisted", "content"),
    ),
    (
        "apple",
        "450 4.1.8 <user@example.com>: Sender address rejected: Domain not found",
        ("authentication", "dns"),
    ),
    (
        "comcast",
        "554 resimta-ch2-18v.sys.comcast.net resimta-ch2-18v.sys.comcast.net 192.0.2.1 found on one or more DNSBLs, see http://postmaster.comcast.net/smtp-error-codes.php#BL000001",
        ("blocklisted",),
    ),
    (
        "comcast",
        "421 4.1.0 192.0.2.1 Throttled - try again later. Please see http://postmaster.comcast.net/smtp-error-codes.php#RL000003",
        ("rate_limited",),
    ),
    ("comcast", "421 - [Too many sessions opened]", ("rate_limited",)),
    ("comcast", "421 - [Reverse DNS failure : Try again later]", ("authentication",)),
    (
        "cox",
        "554 cox.net requires that you have a valid reverse DNS entry: AUP#CXDNS",
        ("authentication",),
    ),
    ("cox", "421 too many sessions from 192.0.2.1 AUP#CXCNCT", ("rate_limited",)),
    (
        "cox",
        "550 192.0.2.1 rejected - see https://www.cox.com/residential/support/email-error-codes.html AUP#IPBL0010",
        ("blocklisted",),
    ),
    (
        "cox",
        "554 Your message was rejected because it contains a URL on a blocklist AUP#URLBL011",
        ("content", "blocklisted"),
    ),
    (
        "spectrum",
        "554 5.7.1 Your message was blocked for suspected spam AUP#I-1550",
        ("rate_limited",),
    ),
    (
        "spectrum",
        "421 4.7.0 192.0.2.1 - connection refused, too many connections AUP#I-1310",
        ("rate_limited", "ip_reputation"),
    ),
    ("spectrum", "554 5.7.0 AUP#I-1100 Please check your full circle DNS", ("authentication",)),
    ("att", "421-failure in DNS look-up.", ("authentication",)),
    ("att", "450 busy--Please try again later", ("rate_limited", "recipient_server")),
    ("att", "521 192.0.2.1 is blocked", ("blocklisted",)),
    ("att", "550 Error. Blocked for abuse", ("blocklisted",)),
    (
        "godaddy",
        "421 Connection refused, too many sessions from This IP. Lower the number of concurrent sessions. IB007",
        ("rate_limited",),
    ),
    (
        "godaddy",
        "421 Server temporarily unavailable. Try again later. IB101",
        ("recipient_server", "rate_limited"),
    ),
    (
        "godaddy",
        "554 Connection refused. This IP has a poor reputation on Cloudmark Sender Intelligence (CSI). IB103",
        ("blocklisted", "ip_reputation"),
    ),
    (
        "godaddy",
        "421 Temporarily rejected. Reverse DNS for this IP failed. IB108",
        ("authentication",),
    ),
    (
        "godaddy",
        "554 This IP has been temporarily blocked for attempting to mail too many invalid recipients. IB112",
        ("ip_reputation",),
    ),
    (
        "godaddy",
        "552 This message has been rejected due to content judged to be spam by the internet community. IB212",
        ("content",),
    ),
    ("godaddy", "550 This IP has sent too many messages this hour. IB504", ("rate_limited",)),
    (
        "godaddy",
        "550 coolexample.com From: Domain is invalid. Provide a valid From: IB506",
        ("authentication",),
    ),
    (
        "godaddy",
        "550 This message has exceeded the max number of messages per session. IB510",
        ("rate_limited",),
    ),
    (
        "mimecast",
        "550 Local CT IP Reputation - (reject) https://community.mimecast.com/docs/DOC-1369#550",
        ("ip_reputation",),
    ),
    (
        "mimecast",
        "451 IP temporarily blacklisted - https://community.mimecast.com/docs/DOC-1369#451",
        ("rate_limited", "blocklisted"),
    ),
    (
        "mimecast",
        "451 Unable to process connection at this time - https://community.mimecast.com/docs/DOC-1369#451",
        ("recipient_server",),
    ),
    ("mimecast", "451 Message ended early", ("connection",)),
    ("mimecast", "550 SPF Sender Invalid - envelope rejected", ("authentication",)),
    ("mimecast", "550 Administrative prohibition envelope blocked", ("blocklisted",)),
    ("mimecast", "553 This route requires encryption (TLS)", ("connection",)),
    ("qq", "550 Ip frequency limited", ("rate_limited",)),
    ("qq", "550 Mailbox unavailable or access denied", ("rate_limited",)),
    ("qq", "550 Suspected spam sender", ("ip_reputation", "blocklisted")),
    ("qq", "550 Mail is rejected by recipients", ("blocklisted",)),
    (
        "united_internet",
        "554-gmx.net (mxgmx017) Nemesis ESMTP Service not available 554-No SMTP service 554-IP address is block listed.",
        ("blocklisted",),
    ),
    (
        "united_internet",
        "421 gmx.net (mxgmx114) Nemesis ESMTP Service not available. Too many messages have been received in a short period of time. Please try again in a few hours and reduce the sending rate.",
        ("rate_limited",),
    ),
    (
        "united_internet",
        "550 <user@web.de>: Reject due to SPF policy. The originating IP of the message is not permitted by the domain owner",
        ("authentication",),
    ),
    ("united_internet", "421 Reject due to policy violations", ("ip_reputation",)),
    ("united_internet", "421 Rate limit reached. Please try again later", ("rate_limited",)),
    (
        "united_internet",
        "451 Requested action aborted: local error in processing",
        ("recipient_server",),
    ),
    (
        "united_internet",
        "550 Requested mail action aborded: exceeded storage allocation, Quota exceeded",
        ("mailbox_full",),
    ),
    (
        "t_online",
        "554 IP=192.0.2.1 - None/bad reputation. Ask your postmaster for help or to contact <postmaster@rx.t-online.de> for reset. (NOWL)",
        ("ip_reputation",),
    ),
    (
        "t_online",
        "554: Dialup/transient IP not allowed. Use a mailgateway or contact toda@rx.t-online.de if obsolete. (DIAL)",
        ("blocklisted", "authentication"),
    ),
    (
        "orange",
        "421 mwinf5c10 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]",
        ("rate_limited",),
    ),
    (
        "orange",
        "550 5.7.1 Service unavailable; client [192.0.2.1] blocked using Spamhaus. Les emails envoyes vers la messagerie Laposte.net ont ete bloques par nos services. LPN007_101",
        ("blocklisted",),
    ),
    (
        "orange",
        "552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417",
        ("mailbox_full",),
    ),
    (
        "orange",
        "571 5.7.1 Message refused, DMARC verification Failed. Message refuse, verification DMARC en echec LPN007_517",
        ("authentication",),
    ),
    (
        "barracuda",
        "420 The message has been deferred due to suspect content. Try again later.",
        ("content",),
    ),
    ("symantec", "452 Too many recipients received this hour", ("rate_limited",)),
    (
        "symantec",
        "501 Connection rejected by policy [7.7] 20805, please visit www.messagelabs.com/support for more details about this error message.",
        ("ip_reputation", "blocklisted"),
    ),
    ("symantec", "553 - Message Filtered", ("content",)),
    ("symantec", "451 TLS/SSLv3 Connection required. (#4.7.1)", ("connection",)),
    ("symantec", "460 too many messages (#4.3.0)", ("rate_limited", "mailbox_full")),
    (
        "symantec",
        "421 Service Temporarily Unavailable",
        ("ip_reputation", "recipient_server", "dns"),
    ),
    ("rackspace", "421 Too many concurrent connections from this client (G2)", ("rate_limited",)),
    ("rackspace", "450 4.7.1 Client host 192.0.2.1 has no PTR record (G1F)", ("authentication",)),
    (
        "rackspace",
        "450 4.2.1 <user@example.com>: Mailbox received too much email in a short period of time (G30)",
        ("rate_limited",),
    ),
    (
        "rackspace",
        "451 4.7.1 Received too many messages from a new or untrusted IP (G28)",
        ("ip_reputation", "rate_limited"),
    ),
    (
        "rackspace",
        "451 4.3.0 <mx.example.com[192.0.2.1]>: Client host rejected: Throttled - Too much spam from your mail server.",
        ("ip_reputation",),
    ),
    (
        "socketlabs",
        "421 4.5.1 Too many errors, you have been temporarily blacklisted",
        ("rate_limited", "blocklisted"),
    ),
    ("zoho", "451 4.7.1 Greylisted, try again after some time", ("greylisted",)),
    ("zoho", "554 5.7.1 Email cannot be delivered. Reason: Email flagged as Spam.", ("content",)),
    ("zoho", "452 4.3.1 Temporary System Error", ("recipient_server",)),
    (
        "gmail",
        "421 4.7.0 Try again later, closing connection. (EHLO)",
        ("rate_limited", "ip_reputation"),
    ),
    (
        "outlook",
        "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140).",
        ("blocklisted",),
    ),
    (
        "microsoft",
        "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775)",
        ("ip_reputation",),
    ),
    (
        "trend_micro",
        "450 Temporary denial of connection (450) for Zombie matches (ERS)",
        ("blocklisted",),
    ),
    (
        "cisco",
        "554 Your access to submit messages to this e-mail system has been rejected.",
        ("blocklisted", "ip_reputation"),
    ),
    (
        "trend_micro",
        "Mail from 192.0.2.1 deferred using Trend Micro Email Reputation database. Please see https://www.mail-abuse.com/cgi-bin/lookup?192.0.2.1",
        ("blocklisted", "ip_reputation"),
    ),
    ("netease", "421 HL:ICC 该IP同时并发连接数过大", ("rate_limited",)),
    ("netease", "450 DT:RBL 发信IP位于一个或多个RBL里", ("blocklisted",)),
    ("netease", "451 MI:SFQ 发信人在15分钟内的发信数量超过限制", ("rate_limited",)),
    ("netease", "554 5.7.3 HL:ITC", ("rate_limited",)),
    # The recipient's account is inactive: the receiving side's state, with advice of its
    # own (nothing to do but suppress the address), as the corpora label account states.
    (
        "gmail",
        "550 5.2.1 The email account that you tried to reach is inactive.",
        ("recipient_server",),
    ),
    ("gmail", "553 5.1.2 We weren't able to find the recipient domain.", ("dns",)),
    (
        "gmail",
        "554 5.4.6 Message exceeded 50 hops, this may indicate an email loop.",
        ("recipient_server", "dns"),
    ),
    (
        "microsoft",
        "550 5.7.324 dnssec-invalid: Destination domain returned invalid DNSSEC records",
        ("dns",),
    ),
]


def test_every_row_names_its_source_and_known_causes() -> None:
    assert len(DOCUMENTED) >= 120
    for source, _, causes in DOCUMENTED:
        assert source in SOURCES
        assert set(causes) <= set(CAUSES)


@pytest.mark.parametrize(("source", "reply", "causes"), DOCUMENTED)
def test_a_documented_reply_gets_a_documented_cause(
    source: str, reply: str, causes: tuple[str, ...]
) -> None:
    found = classify(None, "", reply).cause
    assert found in causes, f"{reply} ({SOURCES[source]})"
