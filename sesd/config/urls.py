"""The config's URLs: which ones a request can be sent to, and how one is shown (a
password in it masked)."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit

from sesd.core.text import escaped, has_control

__all__ = [
    "NOT_HTTP",
    "check_http_url",
    "check_link",
    "is_http_url",
    "shown_url",
    "url_fault",
    "urls_shown",
]

#: What a URL without an http(s) scheme or a host is told.
NOT_HTTP = "not an http(s) URL with a host"


#: Characters said by name where a URL holds one.
_NAMED = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", " ": "a space"}


def url_fault(url: str) -> str | None:
    """What keeps ``url`` from being an http(s) URL a request is sent to as written, or
    None. Said without the URL: it may be a secret's value. A space, a newline or an
    invisible character is refused, not left to the HTTP client, which drops some
    (a pasted newline at the end) and percent-encodes others (a path that is not the
    one meant); a port no socket has fails every send."""
    odd = next((i for i, char in enumerate(url) if char.isspace() or has_control(char)), None)
    if odd is not None:
        # What and where: a secret's URL is not shown, to find the character in.
        char = url[odd]
        if char.isspace():
            kind = "a space"
        elif unicodedata.category(char) == "Cc":
            kind = "a control character"
        else:
            kind = "an invisible character"
        what = _NAMED.get(char) or f"U+{ord(char):04X}, {kind},"
        where = "at its end" if odd == len(url) - 1 else f"at character {odd + 1} of {len(url)}"
        return f"has {what} {where}: no URL holds one"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a bracket unclosed: '[::1'
        return NOT_HTTP
    if parts.scheme not in ("http", "https") or not host:
        return NOT_HTTP
    try:
        port = parts.port
    except ValueError:  # not a number, or over 65535
        port = -1
    if port is not None and not 0 < port <= 65535:
        return "its port is not a number from 1 to 65535"
    return None


def is_http_url(url: str) -> bool:
    """Whether a request can be sent to ``url`` (:func:`url_fault`)."""
    return url_fault(url) is None


def check_http_url(url: str, key: str = "") -> None:
    """Raise ValueError when a request cannot be sent to ``url`` (:func:`url_fault`),
    naming ``key`` (the key of its table that holds it) when given."""
    fault = url_fault(url)
    if fault is None:
        return
    named = f"{key}: " if key else ""
    if fault == NOT_HTTP:
        raise ValueError(f"{named}{shown_url(url)!r} is not an http(s) URL")
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


def shown_url(url: str) -> str:
    """A URL as a log line, an error or check-config may show it: a password in it
    (``https://user:PASSWORD@host``) is ``***``, the rest as written (a control
    character an error names stays in it, to be shown escaped: the URL parser would
    drop a line break)."""
    scheme, sep, rest = url.partition("://")
    # The authority ends where the URL parser ends it: at the first '/', '?' or '#'.
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}{rest[end:]}"


def urls_shown(data: Any) -> Any:
    """``data`` with every URL's password masked (:func:`shown_url`)."""
    if isinstance(data, dict):
        return {key: urls_shown(value) for key, value in data.items()}
    if isinstance(data, list):
        return [urls_shown(value) for value in data]
    if isinstance(data, str) and "@" in data and "://" in data:
        return shown_url(data)
    return data
