"""Who receives a domain's mail: consumer domains by name, others by their MX hosts.

Pure data and pure functions; the DNS side is :mod:`sesd.providers.resolver`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from fnmatch import translate
from ipaddress import ip_address
from typing import Final

__all__ = [
    "GATEWAYS",
    "LABELS",
    "MX_LABEL",
    "MX_SUFFIXES",
    "NONE",
    "NOT_PROVIDERS",
    "OTHER",
    "PROVIDERS",
    "UNKNOWN",
    "by_labels",
    "by_mx",
    "consumer_domains",
    "consumer_provider",
    "mx_table",
    "wire_labels",
]

PROVIDERS: Final = (
    "google",
    "microsoft",
    "yahoo",
    "apple",
    "proton",
    "zoho",
    "fastmail",
    "yandex",
    "mailru",
)
GATEWAYS: Final = ("mimecast", "proofpoint", "barracuda", "cisco")
#: Has MX records, none of them known.
OTHER: Final = "other"
#: NXDOMAIN, a null MX (RFC 7505), or no MX and no address.
NONE: Final = "none"
#: Not resolved yet, or DNS failed.
UNKNOWN: Final = "unknown"
#: Every built-in label.
LABELS: Final = (*PROVIDERS, *GATEWAYS, OTHER, NONE, UNKNOWN)
#: The labels that name no provider, which a rule on providers watches by name only (a
#: glob leaves them out): domains not resolved yet, and domains without mail.
NOT_PROVIDERS: Final = (UNKNOWN, NONE)
#: A label ``[providers.mx]`` may give a provider.
MX_LABEL: Final = re.compile(r"[a-z][a-z0-9_-]{0,31}")

#: Consumer domains, known without DNS (names and globs over the whole domain).
_CONSUMER: Final = {
    "google": ("gmail.com", "googlemail.com"),
    "microsoft": ("outlook.com", "hotmail.*", "live.*", "msn.com", "outlook.*"),
    "yahoo": ("yahoo.*", "ymail.com", "aol.com", "aol.*", "rocketmail.com"),
    "apple": ("icloud.com", "me.com", "mac.com"),
    "proton": ("proton.me", "protonmail.com", "protonmail.ch", "pm.me"),
}
#: Names the globs above would claim but that are not that provider's: Yahoo! JAPAN
#: (yahoo.co.jp) is LY Corporation's own mail service (MX mx.mail.yahoo.co.jp), not
#: Yahoo Inc.'s, so it is found from its MX (``other``), as any company domain is.
_NOT_CONSUMER: Final = frozenset({"yahoo.co.jp"})

#: MX host suffixes per provider or gateway (a host matches a suffix when it ends
#: with it after a dot, or is it), each with the published MX form it covers. No
#: suffix claims a host that is not the provider's mail service: Yahoo! JAPAN's
#: mx.mail.yahoo.co.jp (LY Corporation) matches none, and every host under
#: outlook.com, yahoo.com or google.com is that company's.
MX_SUFFIXES: Final = {
    "google": (
        # smtp.google.com (the single MX of new Workspace domains), aspmx.l.google.com
        # and alt1-4.aspmx.l.google.com, gmail-smtp-in.l.google.com (gmail.com):
        # https://support.google.com/a/answer/174125
        "google.com",
        # aspmx2-5.googlemail.com, the older Workspace values (same page).
        "googlemail.com",
    ),
    "microsoft": (
        # TENANT.mail.protection.outlook.com (Microsoft 365):
        # https://learn.microsoft.com/en-us/microsoft-365/enterprise/external-domain-name-system-records
        # outlook-com.olc.protection.outlook.com (Outlook.com's own domains), and the
        # older TENANT.mail.eo.outlook.com (Exchange Online Protection).
        "outlook.com",
        # TENANT.RANDOM.mx.microsoft: tenants with inbound SMTP DANE and DNSSEC:
        # https://learn.microsoft.com/en-us/purview/how-smtp-dane-works
        "mx.microsoft",
        # TENANT.mail.protection.office365.us (GCC High and DoD), as learn.microsoft.com's
        # GCC High DNS records give it (tests/data/mx_hosts.jsonl).
        "mail.protection.office365.us",
        # TENANT.mail.protection.partner.outlook.cn (operated by 21Vianet), as
        # learn.microsoft.com's 21Vianet DNS pages give it (tests/data/mx_hosts.jsonl).
        "mail.protection.partner.outlook.cn",
        # TENANT.mail.protection.outlook.de (Microsoft Cloud Deutschland, closed 2021).
        "mail.protection.outlook.de",
        # pamx1.hotmail.com (Outlook.com personalised domains) and mx1-4.hotmail.com
        # (Hotmail before 2013): tests/data/mx_hosts.jsonl.
        "hotmail.com",
    ),
    "yahoo": (
        # mta5-7.am0.yahoodns.net (yahoo.com), mx-biz.mail.am0.yahoodns.net (Small
        # Business), mx-aol.mail.gm0.yahoodns.net (AOL): `dig MX yahoo.com aol.com`.
        "yahoodns.net",
        # mx1.mail.yahoo.com, a.mx.mail.yahoo.com... (before yahoodns.net).
        "yahoo.com",
        # mailin-01.mx.aol.com... (AOL before it moved to Yahoo's hosts).
        "aol.com",
    ),
    "apple": (
        # mx01.mail.icloud.com, mx02.mail.icloud.com (iCloud custom domains):
        # https://support.apple.com/en-us/102374
        "mail.icloud.com",
        # mx2.me.com.akadns.net (me.com's older MX, under Akamai's name).
        "me.com.akadns.net",
    ),
    # mail.protonmail.ch, mailsec.protonmail.ch: https://proton.me/support/custom-domain
    "proton": ("protonmail.ch",),
    "zoho": (
        # mx.zoho.com, mx2.zoho.com... per data centre (US, EU, India, Australia, Japan,
        # Canada, Saudi Arabia): https://www.zoho.com/mail/help/adminconsole/configure-email-delivery.html
        "zoho.com",
        "zoho.eu",
        "zoho.in",
        "zoho.com.au",
        "zoho.jp",
        "zohocloud.ca",
        "zoho.sa",
        # mx.zohomail.com, the older form.
        "zohomail.com",
    ),
    # in1-smtp.messagingengine.com, in2-smtp.messagingengine.com (Fastmail's custom
    # domain setup; tests/data/mx_hosts.jsonl).
    "fastmail": ("messagingengine.com",),
    # mx.yandex.net (Yandex 360 domains), mx.yandex.ru (yandex.ru).
    "yandex": ("yandex.net", "yandex.ru"),
    # emx.mail.ru (VK WorkSpace domains), mxs.mail.ru (mail.ru).
    "mailru": ("mail.ru",),
    # REGION-smtp-inbound-N.mimecast.com (US, EU, DE, AU, CA), za-smtp-inbound-N.
    # mimecast.co.za (South Africa), je-smtp-inbound-N.mimecast-offshore.com (Jersey):
    # Mimecast's regional grids, as public MX records show them (tests/data/mx_hosts.jsonl).
    "mimecast": ("mimecast.com", "mimecast.co.za", "mimecast-offshore.com"),
    # mx0a-ID.pphosted.com, mxa-ID.gslb.pphosted.com (Proofpoint Enterprise),
    # mx1-us1.ppe-hosted.com, mx1-eu1.ppe-hosted.com (Proofpoint Essentials).
    "proofpoint": ("pphosted.com", "ppe-hosted.com"),
    # dNNNa.ess.barracudanetworks.com and its regional forms (ess.de., ess.uk....),
    # Barracuda Email Gateway Defense.
    "barracuda": ("barracudanetworks.com",),
    # mx1.hcNNNN-NN.iphmx.com, .eu.iphmx.com, .ca.iphmx.com (Cisco Secure Email Cloud).
    "cisco": ("iphmx.com",),
}


#: Every consumer pattern in one expression, a named group per provider: one match
#: per new domain instead of a dozen.
_CONSUMER_RE: Final = re.compile(
    "|".join(
        f"(?P<{provider}>{'|'.join(translate(p) for p in patterns)})"
        for provider, patterns in _CONSUMER.items()
    )
)


def consumer_provider(domain: str) -> str | None:
    """The provider of a consumer domain (gmail.com, hotmail.fr...), or None."""
    found = _CONSUMER_RE.match(domain)
    if found is None or domain in _NOT_CONSUMER:
        return None
    return found.lastgroup


def consumer_domains(first: str) -> list[tuple[str, str]]:
    """The consumer domains (or globs over them) whose first label is ``first``, each
    with its provider: ``gmail`` is google's gmail.com. What a name typed without its
    dot most likely meant."""
    return [
        (pattern, provider)
        for provider, patterns in _CONSUMER.items()
        for pattern in patterns
        if pattern.partition(".")[0] == first
    ]


def mx_table(user: Mapping[str, Iterable[str]] | None = None) -> dict[str, str]:
    """MX host suffix -> provider: the built-in suffixes, then the user's
    (``[providers.mx]``). A label the user lists replaces its built-in suffixes; a
    suffix the user lists is the user's, over a built-in one."""
    user = user or {}
    table = {
        suffix: label
        for label, suffixes in MX_SUFFIXES.items()
        if label not in user
        for suffix in suffixes
    }
    for label, suffixes in user.items():
        for suffix in suffixes:
            table[suffix.rstrip(".").lower()] = label
    return table


def _is_address(name: str) -> bool:
    """Whether an MX host is an IP address, bare or as SMTP writes one ([192.0.2.1],
    [IPv6:2001:db8::1])."""
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1].removeprefix("ipv6:")
    # An IPv4 address ends in a digit, an IPv6 one has a colon: a host name, nearly
    # every MX, is told at once, without the two errors ip_address() raises for it
    # (about 37,000 instructions a host, counted under cachegrind).
    if ":" not in name and not name[-1:].isdigit():
        return False
    try:
        ip_address(name)
    except ValueError:
        return False
    return True


#: Lower-cases ASCII letters only: DNS compares names so (RFC 4343), and a letter
#: that lower-cases into ASCII (the Kelvin sign into k) is not the letter.
_ASCII_LOWER: Final = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _labels(host: str) -> list[str]:
    """The labels of a host name in DNS text form, as dnspython writes it: ``\\.`` is a
    dot inside a label, ``\\DDD`` a byte by its decimal value (RFC 1035 5.1). The
    root's empty label is left out; ASCII letters are lower-cased."""
    labels: list[str] = []
    label: list[str] = []
    i = 0
    while i < len(host):
        char = host[i]
        if char == "\\":
            digits = host[i + 1 : i + 4]
            if len(digits) == 3 and digits.isascii() and digits.isdigit():
                label.append(chr(int(digits)))
                i += 4
                continue
            label.append(host[i + 1 : i + 2])  # the character escaped
            i += 1
        elif char == ".":
            labels.append("".join(label))
            label = []
        else:
            label.append(char)
        i += 1
    if label:
        labels.append("".join(label))
    return [part.translate(_ASCII_LOWER) for part in labels]


def by_mx(hosts: Iterable[str], table: Mapping[str, str]) -> str:
    """The provider of a domain from its MX hosts (in DNS text form), lowest
    preference first: the first host that a suffix in ``table`` (from
    :func:`mx_table`) matches names it, by its most specific suffix; ``other`` when
    none does. A host matches a suffix label by label: when its last labels are the
    suffix's. A dot inside a label (``x\\.google.com``: the labels ``x.google`` and
    ``com``, which anyone may give their MX, as no registry is asked) is no suffix's
    dot, so such a host matches only below that label; a host that is an IP address
    matches nothing."""
    return by_labels(map(_labels, hosts), table)


def by_labels(hosts: Iterable[list[str]], table: Mapping[str, str]) -> str:
    """:func:`by_mx` of hosts given by their labels (each host's :func:`_labels`, or
    :func:`wire_labels` of the name DNS sent), lowest preference first."""
    for labels in hosts:
        if _is_address(".".join(labels)):
            # An MX at an address (RFC 5321 5.1 forbids it) names no operator, whatever
            # suffix its last numbers spell.
            continue
        below = max((i + 1 for i, label in enumerate(labels) if "." in label), default=0)
        for i in range(below, len(labels)):
            found = table.get(".".join(labels[i:]))
            if found is not None:
                return found
    return OTHER


def wire_labels(labels: tuple[bytes, ...]) -> list[str]:
    """An absolute host name's labels as DNS sends them (bytes, the root's empty label
    last), as :func:`_labels` reads the name's text form: each byte the character of
    its value, ASCII letters lower-cased. The resolver reads an MX host so, not by
    writing it as text and reading that back, character by character twice (about
    55,000 instructions a host, counted under cachegrind). The root alone is one empty
    label, as its text form (``.``) reads."""
    named = labels[:-1] if labels[-1:] == (b"",) else labels
    return [label.decode("latin-1").translate(_ASCII_LOWER) for label in named] or [""]
