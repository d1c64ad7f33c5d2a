"""How ``sesd status`` reads the daemon's address: the mistakes of one given (no
scheme or one mistyped, no host, a host no resolver can look up, a port that is none)
said in one line before any request, and which port was asked of one naming none."""

from __future__ import annotations

import os
import re
from typing import Final
from urllib.parse import urlsplit

from sesd.commands.status_fetch import base_url
from sesd.core.shown_urls import port_shown, shown_bare

__all__ = ["Unaskable", "askable", "no_port"]


class Unaskable(ValueError):
    """An address no request can be made to (the command line's mistake, or the
    config's: not a daemon that is down); the message says why in one line."""


#: A URL's scheme, as RFC 3986 spells one, and the ``://`` after it.
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
#: http(s) with its ``://`` mistyped (``http:/``, ``http//``, ``https:``), not a host
#: named http and its port (``http:9585``).
_MISTYPED: Final = re.compile(r"(https?)(?::/*|/+)(?!\d+(?:/|$))", re.IGNORECASE)
#: Why a host is no name a resolver can look up.
_NO_HOST_NAME: Final = (
    "is no host name (an empty label, one over 63 characters, or a character no host name has)"
)


def askable(url: str, *, given: bool) -> str:
    """``url`` as it is asked (the spaces pasted around it left out, its scheme in lower
    case); :class:`Unaskable` when no request can be made to it. One not ``given``
    (read from the config or $SESD_HTTP_LISTEN) is named as its source."""
    # The command line's own mistakes: no config is at fault. Spaces pasted around the
    # address are not its text (the request strips them).
    url = url.strip()
    if not url:
        raise Unaskable("--url is empty: give it as http://HOST:PORT or https://HOST:PORT")
    scheme = _SCHEME.match(url)
    mistyped = _MISTYPED.match(url) if scheme is None else None
    if mistyped is not None:
        rest = shown_bare(url[mistyped.end() :])  # a password in it left out, as a URL's
        meant = f"{mistyped.group(1).lower()}://{rest}"
        raise Unaskable(
            f"--url {mistyped.group(0) + rest!r} has its scheme mistyped: give it as {meant}"
        )
    if scheme is None:
        bare = shown_bare(url)
        raise Unaskable(f"--url {bare!r} has no scheme: give it as http://{bare} or https://{bare}")
    if scheme.group(1).lower() not in ("http", "https"):
        raise Unaskable(
            f"--url {shown_bare(url)!r} is not an http(s) address: give it as "
            "http://HOST:PORT or https://HOST:PORT"
        )
    # A scheme is the same in any case (RFC 3986): HTTP:// is asked as http://.
    url = scheme.group(1).lower() + url[scheme.end(1) :]
    try:
        base_url(url)
    except ValueError as exc:  # a bracketed host that is no IP address, or unclosed
        named = shown_bare(url)
        said = str(exc)
        # The parser's message quotes its host: the user and password too, when they are
        # inside the brackets or their '@' is one only NFKC-normalised (full-width).
        if any(quoted not in named for quoted in re.findall(r"'([^']*)'", said)):
            said = (
                "a character in it is one of @:/?# once NFKC-normalised (a full-width '@')"
                if "NFKC" in said
                else "its bracketed host is no IP address"
            )
        raise Unaskable(f"--url {named!r} is not a URL: {said}") from None
    unaskable = _unaskable(url, given=given)
    if unaskable:
        raise Unaskable(unaskable)
    return url


def _unaskable(url: str, *, given: bool) -> str:
    """Why no request can be made to ``url`` (it names no host, a host no resolver can
    look up, or a port that is none: port 0 too, where nothing listens), else "". One
    not ``given`` (read from the config or $SESD_HTTP_LISTEN) can be wrong in its port 0
    and its host name alone."""
    parts = urlsplit(url)
    unnamed = _no_host_name(parts.hostname)
    if not given:
        where = "SESD_HTTP_LISTEN" if os.environ.get("SESD_HTTP_LISTEN") else "http.listen"
        if url.endswith(":0"):
            return (
                f"{where}: names port 0 (any free port): give the port sesd took as"
                " --url http://HOST:PORT"
            )
        return f"{where}: {unnamed}" if unnamed else ""
    named = shown_bare(url)
    said = f"--url {named!r} is not a URL"
    if unnamed:
        # The parser's host is a password's start when it reads none ('u:p/w@host').
        quoted = (parts.hostname or "") in named.lower()
        return f"{said}: {unnamed if quoted else f'its host {_NO_HOST_NAME}'}"
    if parts.hostname and "@" not in parts.netloc and "@" in url:
        # 'ops:pa/ss@host': the parser's host is the user, and its port or path the
        # password's start; asked, it would be looked up (a token's start sent to DNS).
        # A proxy's prefix holding an '@' is refused so too: it is written %40.
        return (
            f"{said}: an '@' follows its host (a '/', '?' or '#' in a user or password "
            "is written percent-encoded: %2F, %3F, %23; an '@' in a path, %40)"
        )
    try:
        if parts.port == 0:
            raise ValueError
    except ValueError:
        # What follows the host (a bracketed one's colons are its own), never the
        # user and password before it.
        port = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
        # Quoted only when shown: one that is no port may be a password the parser reads
        # as the port ('http://ops:PASSWORD', no '@' typed), and is *** in the address.
        its = f"its port {port!r}" if port and port_shown(port) else "its port"
        return f"{said}: {its} is no number from 1 to 65535"
    return "" if parts.hostname else f"{said}: it names no host"


def _no_host_name(host: str | None) -> str:
    """Why ``host`` is no name a resolver can look up (an empty label: a dot typed twice;
    a label over 63 characters; a control, zero-width or bidirectional character), else
    "". Its lookup would end in a UnicodeError, or ask for a name no host has."""
    if not host or host.startswith("["):
        return ""
    try:
        host.encode("idna")  # what the lookup does (socket.getaddrinfo)
    except UnicodeError:
        pass
    else:
        # A '%' is none either (an IPv6 address's zone aside): an '@' percent-encoded
        # leaves the user and password in the parser's host ('u:pw%40host'), which a
        # lookup would send to DNS.
        if host.isprintable() and ("%" not in host or ":" in host):
            return ""
    return f"its host {host!r} {_NO_HOST_NAME}"


def no_port(url: str) -> str:
    """What to add to the line of an address that could not be reached when it names no
    port: the scheme's was asked, not sesd's (9585), which the user may have meant."""
    parts = urlsplit(base_url(url))
    try:
        if parts.port is not None or not parts.hostname:
            return ""
    except ValueError:  # a port that is none: its line says so
        return ""
    asked = 443 if parts.scheme == "https" else 80
    from sesd.config import HttpConfig

    port = HttpConfig().port
    return (
        f" (the address names no port, so {asked} was asked: sesd listens on {port} "
        "unless its [http] listen says otherwise)"
    )
