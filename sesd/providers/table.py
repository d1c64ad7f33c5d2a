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


def _matches(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def by_mx(hosts: Iterable[str], table: Mapping[str, tuple[str, ...]]) -> str:
    """The provider of a domain from its MX hosts, lowest preference first: the first
    host in the table names it; ``other`` when none is."""
    for host in hosts:
        name = host.rstrip(".").lower()
        for provider, suffixes in table.items():
            if any(_matches(name, suffix) for suffix in suffixes):
                return provider
    return OTHER
