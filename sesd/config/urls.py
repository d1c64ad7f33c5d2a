"""The config's URLs: which ones a request can be sent to (how one is shown, a password
in it masked, is sesd.core.shown_urls's)."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sesd.config.values import toml_key
from sesd.core.shown_urls import shown_url, urls_shown
from sesd.core.text import escaped, has_space_or_control

if TYPE_CHECKING:
    from sesd.config.secrets import Secret

__all__ = [
    "NOT_HTTP",
    "URL_SECRETS",
    "as_sent",
    "check_http_url",
    "check_link",
    "is_http_url",
    "secret_url_warnings",
    "shown_url",
    "url_dropped",
    "url_fault",
    "url_warnings",
    "urls_shown",
]

#: The keys of the secrets that are URLs (a Slack or a webhook's URL).
URL_SECRETS = (".webhook_url", ".url")
#: An '@' percent-encoded once (``%40``) or more (``%2540``).
_ENCODED_AT = re.compile(r"%(?:25)*40", re.IGNORECASE)
#: What a URL without an http(s) scheme or a host is told.
NOT_HTTP = "not an http(s) URL with a host"
#: A host (a name with a dot, ``localhost`` or an address) and what may follow it,
#: written without a scheme: its port, a path.
_SCHEMELESS = re.compile(
    r"(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|\[[0-9A-Fa-f:.]+\])"
    r"(?::\d{1,5})?(?:[/?#][^\s]*)?"
)


def url_fault(url: str, *, drops: bool = True) -> str | None:
    """What keeps ``url`` from being an http(s) URL a request is sent to as meant, or
    None. Said without the URL: it may be a secret's value. A space or an invisible or
    control character the HTTP client keeps is refused, not left to it to
    percent-encode into a path that is not the one meant; one it drops is not
    (:func:`url_dropped`: a config that ran on it must load again), unless not sent
    as written (``drops`` false: an Alertmanager's, to which a path is added after a
    line break; an endpoint of the AWS SDK, another client). A port no socket has
    fails every send."""
    lead = len(url) - len(url.lstrip(_LEADING))
    odd = next(
        (
            i
            for i, char in enumerate(url)
            if has_space_or_control(char) and not (drops and _is_dropped(char, i, lead))
        ),
        None,
    )
    if odd is not None:
        return f"has {_said(url, odd)}: no URL holds one"
    url = as_sent(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a bracket unclosed: '[::1'
        return NOT_HTTP
    if parts.scheme not in ("http", "https") or not host:
        return NOT_HTTP
    authority = parts.netloc.rpartition("@")[2]
    before = authority.partition("[")[0]
    if "[" in authority and before:
        # The parser reads the address in the brackets, dropping what is before them
        # ('TOKEN%40[::1]', its '@' percent-encoded); the HTTP client refuses the URL.
        # What that text is told by what it holds: a token's '@' encoded, or a slip.
        fix = (
            "write the '@' after a user or token as '@'"
            if _ENCODED_AT.search(before)
            else "write the host alone, an IPv6 address in its brackets ('[::1]')"
        )
        return f"its host has text before its IPv6 address's '[': {fix}"
    if "%" in host and ":" not in host:
        # No host name holds one (an IPv6 address's zone aside): an '@' percent-encoded
        # leaves a token in the parser's host ('TOKEN%40host'), which a send looks up.
        return "its host holds a '%': write the '@' after a user or token as '@'"
    try:
        port = parts.port
    except ValueError:  # not a number, or over 65535
        port = -1
    if port is not None and not 0 < port <= 65535:
        return "its port is not a number from 1 to 65535"
    return None


def as_sent(url: str) -> str:
    """``url`` as the HTTP client (yarl, as urllib) sends it: without a tab or a line
    break anywhere, nor a control character or a space before it."""
    return url.translate(_DROPPED).lstrip(_LEADING)


def url_dropped(url: str) -> str | None:
    """What the HTTP client drops from ``url`` (:func:`as_sent`), said without the URL,
    or None: a slip to write without, which does not change where a request goes."""
    lead = len(url) - len(url.lstrip(_LEADING))
    dropped = next((i for i, char in enumerate(url) if _is_dropped(char, i, lead)), None)
    if dropped is None:
        return None
    return f"has {_said(url, dropped)}, which the HTTP client drops: write it without"


def url_warnings(data: Any, key: str = "") -> list[str]:
    """:func:`url_dropped` of every http(s) URL in ``data`` (the config as the file
    writes it), named by its key; the links a notification carries are not requested
    (sesd.config.rule_checks warns of theirs)."""
    if isinstance(data, dict):
        return [
            warning
            for name, value in data.items()
            if name not in ("runbook_url", "dashboard_url")
            for warning in url_warnings(value, f"{key}.{toml_key(name)}" if key else name)
        ]
    if isinstance(data, list):
        return [w for i, value in enumerate(data) for w in url_warnings(value, f"{key}[{i}]")]
    dropped = url_dropped(data) if isinstance(data, str) and "://" in data else None
    return [f"{key}: {dropped}"] if dropped else []


def secret_url_warnings(secrets: list[tuple[str, Secret]]) -> list[str]:
    """:func:`url_dropped` of each URL read from a file or a variable (a line break
    inside: its ends are left off when read), named by its key and reference, the value
    not shown; a literal's is warned of with the file's other URLs (:func:`url_warnings`)."""
    found = []
    for key, secret in secrets:
        if key.endswith(URL_SECRETS) and not secret.is_literal and secret.is_read:
            dropped = url_dropped(secret.get())
            if dropped is not None:
                ref = escaped(secret.reference, 200)
                found.append(f"{key}: the URL read from '{ref}' {dropped}")
    return found


#: What the HTTP client drops anywhere in a URL, and before it.
_DROPPED = str.maketrans("", "", "\t\r\n")
_LEADING = "".join(map(chr, range(33)))
#: Characters said by name where a URL holds one.
_NAMED = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", " ": "a space"}


def _is_dropped(char: str, i: int, lead: int) -> bool:
    """Whether the client drops ``char``, at ``i`` of a URL ``lead`` characters of
    which (control characters and spaces) come before it."""
    return char in "\t\r\n" or i < lead


def _said(url: str, i: int) -> str:
    """The character at ``i`` of ``url``, what it is and where."""
    char = url[i]
    if char.isspace():
        kind = "a space"
    elif unicodedata.category(char) == "Cc":
        kind = "a control character"
    else:
        kind = "an invisible character"
    what = _NAMED.get(char) or f"U+{ord(char):04X}, {kind},"
    where = "at its end" if i == len(url) - 1 else f"at character {i + 1} of {len(url)}"
    return f"{what} {where}"


def is_http_url(url: str) -> bool:
    """Whether a request can be sent to ``url`` (:func:`url_fault`)."""
    return url_fault(url) is None


def check_http_url(url: str, key: str = "", *, drops: bool = False) -> None:
    """Raise ValueError when a request cannot be sent to ``url`` (:func:`url_fault`,
    ``drops`` when the HTTP client sends it as written), naming ``key`` (the key of its
    table that holds it) when given."""
    fault = url_fault(url, drops=drops)
    if fault is None:
        return
    named = f"{key}: " if key else ""
    if fault == NOT_HTTP:
        shown = shown_url(url)
        # A host written without its scheme ('127.0.0.1:4566', 'localhost:9093/x') is
        # the commonest such slip: the URL meant said, as `sesd status --url` says it.
        bare = _SCHEMELESS.fullmatch(url)
        meant = f": it has no scheme; give it as http://{shown} or https://{shown}"
        raise ValueError(f"{named}{shown!r} is not an http(s) URL{meant if bare else ''}")
    # Escaped as the rest of the config's values are: the URL is the file's, of any text.
    raise ValueError(f"{named}'{escaped(shown_url(url), 200)}': {fault}")


def check_link(url: str, key: str) -> None:
    """Raise ValueError when ``url``, a link a notification carries (not one sesd
    requests), is no http(s) URL with a host: the old check, kept for links, which
    a config that ran may hold with a space a chat client reads."""
    try:
        parts = urlsplit(url)
        good = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        good = False
    if not good:
        raise ValueError(f"{key}: {shown_url(url)!r} is not an http(s) URL")
