"""Who receives a domain's mail: consumer domains by name, others by their MX hosts.

Pure data and pure functions; the DNS side is :mod:`sesd.providers.resolver`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fnmatch import translate
from typing import Final

__all__ = [
    "GATEWAYS",
    "LABELS",
    "MX_SUFFIXES",
    "NONE",
    "OTHER",
    "PROVIDERS",
    "UNKNOWN",
    "by_mx",
    "consumer_provider",
    "mx_table",
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

#: Consumer domains, known without DNS (names and globs over the whole domain).
_CONSUMER: Final = {
    "google": ("gmail.com", "googlemail.com"),
    "microsoft": ("outlook.com", "hotmail.*", "live.*", "msn.com", "outlook.*"),
    "yahoo": ("yahoo.*", "ymail.com", "aol.com", "aol.*", "rocketmail.com"),
    "apple": ("icloud.com", "me.com", "mac.com"),
    "proton": ("proton.me", "protonmail.com", "pm.me"),
}

#: MX host suffixes per provider or gateway (a host matches a suffix when it ends
#: with it after a dot, or is it).
MX_SUFFIXES: Final = {
    "google": ("google.com", "googlemail.com"),
    "microsoft": ("protection.outlook.com", "outlook.com", "hotmail.com"),
    "yahoo": ("yahoodns.net", "yahoo.com", "aol.com"),
    "apple": ("mail.icloud.com",),
    "proton": ("protonmail.ch", "proton.me"),
    "zoho": ("zoho.com", "zoho.eu", "zohomail.com", "zoho.in"),
    "fastmail": ("messagingengine.com", "fastmail.com"),
    "yandex": ("yandex.net", "yandex.ru"),
    "mailru": ("mail.ru",),
    "mimecast": ("mimecast.com", "mimecast.co.za"),
    "proofpoint": ("pphosted.com", "ppe-hosted.com"),
    "barracuda": ("barracudanetworks.com",),
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
    return None if found is None else found.lastgroup


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


def by_mx(hosts: Iterable[str], table: Mapping[str, str]) -> str:
    """The provider of a domain from its MX hosts, lowest preference first: the first
    host that a suffix in ``table`` (from :func:`mx_table`) matches names it, by its
    most specific suffix (a host matches a suffix when it is it, or ends with it
    after a dot); ``other`` when none does."""
    for host in hosts:
        name = host.rstrip(".").lower()
        while name:
            found = table.get(name)
            if found is not None:
                return found
            name = name.partition(".")[2]
    return OTHER
