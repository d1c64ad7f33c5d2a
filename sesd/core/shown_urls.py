"""A URL as sesd may show it, in a line, an error, a log or check-config's output: never
with a password written into it (``https://user:PASSWORD@host``, which a request sends),
however the URL is typed. Two forms: the config's (:func:`shown_url`, the user name
kept to tell which credentials a URL holds) and ``sesd status``'s (:func:`shown_bare`,
the address without them); one rule for a port (:func:`port_shown`). Pure text work, so
that a command needing no config loads none to name an address.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["port_shown", "shown_bare", "shown_origin", "shown_url", "urls_shown"]

#: The characters NFKC normalization reads as an '@' (full-width and small), as
#: urllib's parser does to refuse a host holding one: the user and password before it.
_AT_NFKC: Final = {0xFF20: "@", 0xFE6B: "@"}
#: A host and its port, as the URL parser splits them (a bracketed host's colons are its
#: own): all after the host's first colon, up to a '/', '?' or '#'.
_PORT: Final = re.compile(r"([^/?#:\[]*(?:\[[^\]/?#]*\][^:/?#]*)?):([^/?#]*)")
#: An '@' percent-encoded once (``%40``) or more (``%2540``: the '%' encoded again).
_ENCODED_AT: Final = re.compile(r"%(?:25)*40", re.IGNORECASE)
#: All up to the last '@' percent-encoded more than once.
_ENCODED_AGAIN: Final = re.compile(r".*%(?:25)+40", re.IGNORECASE | re.DOTALL)
#: What the brackets an IPv6 address is written in hold: a '%40' or '%2540' there is its
#: zone's ('[fe80::1%40]', interface 40), not an '@' after a token.
_BRACKETED: Final = re.compile(r"\[[^\]/?#]*\]")
#: What the URL parser drops anywhere in a URL, and before it.
_DROPPED: Final = str.maketrans("", "", "\t\r\n")
_LEADING: Final = "".join(map(chr, range(33)))
#: A URL's scheme and the slashes or backslashes typed after it, with a tab or a line
#: break among them, which the parser drops, or a space, which the refusal names (and
#: what comes before it: the spaces or control characters an error names).
_LEAD: Final = re.compile(r"[^A-Za-z]*[A-Za-z][A-Za-z0-9+.-]*:[/\\][/\\\t\r\n ]*")
#: What may stand for a scheme in a URL without its '://' (``http:``, ``http//``, or a
#: user's ``ops:`` when none was typed), kept when its user and password are masked,
#: with the slashes after it and a tab or a line break among them (``http:\t//``).
_NO_SLASHES: Final = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*(?::|/+)[/\\\t\r\n]*")
#: Spaces and slashes typed before a URL without its scheme (``//ops:PASSWORD``).
_SLASHES: Final = re.compile(r"[\s/\\]*")
#: What comes before a URL's user and password: its scheme and the slashes typed after
#: it, however many (a third, or backslashes, leave the parser no host), with a tab or
#: a line break among them or before them (which the parser drops) or a space, or its
#: colon left out (``http//``), else spaces.
_AUTHORITY: Final = re.compile(
    r"\s*(?:[A-Za-z][A-Za-z0-9+.-]*(?::(?=[\t\r\n]*[/\\])|(?=//)))?"
    r"(?:[\t\r\n]*[/\\][/\\\t\r\n ]*)?"
)


def shown_url(url: str) -> str:
    """A URL as the config's refusals, check-config's output and the daemon's logs show
    it: a password in it (``https://user:PASSWORD@host``) is ``***``, and so are a user
    name without one (``https://TOKEN@host``: a token is often written so) and a port
    that is not shown (:func:`port_shown`; ``http://user:PASSWORD``, no '@' typed),
    the rest as written (a
    control character an error names stays in it, to be shown escaped: the URL parser
    would drop a line break)."""
    # A full-width or small '@' is one to the parser (it refuses the URL so): shown as
    # one, the password before it masked.
    url = url.translate(_AT_NFKC)
    # The authority begins after the slashes typed after the scheme, however many: a
    # third (or a backslash) leaves the parser no host, the password still in the text.
    lead = _LEAD.match(url)
    head, sep, rest = url.partition("://")
    head += sep
    if lead:
        head, sep, rest = url[: lead.end()], "/", url[lead.end() :]
    last = url.rfind("@") if "@" in url else _unbracketed(url).rfind("%40")
    if not sep and last >= 0:
        # No scheme, or its '://' mistyped ('http:ops:pw@host', 'http//'): refused, but
        # named in the refusal; where the parser would end the host cannot be told, so
        # all up to the last '@' (or '%40': no host holds a '%') may be the password's.
        kept = _NO_SLASHES.match(url)
        tail = url[last + (1 if url[last] == "@" else 3) :]
        return f"{kept.group() if kept else ''}***@{_port_masked(tail)}"
    # The authority ends where the URL parser ends it: at the first '/', '?' or '#'.
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    port_at = host.find(":")
    bracketed = host.startswith("[")
    if (
        sep
        and not at
        and "@" in rest[end:]
        and ((port_at >= 0 and not bracketed) or rest[end : end + 1] in ("?", "#"))
    ):
        # No user in the parser's view, but 'user:' and an '@' after: a password holding
        # a '/', '?' or '#' not percent-encoded ends the parser's host there
        # ('u:p#ss@host', its port 'p'), so all up to the last '@' is masked (a port and
        # a path holding an '@' too: which was meant cannot be told); so is a token
        # ended by a '?' or '#' ('TOK#EN@host': a query or a fragment right after a
        # host, holding an '@', is rarer, and refused in an Alertmanager's URL). A host
        # without a port before a '/' is left: 'host/x@y' is a path far more often than
        # a token with a '/'. Before the '@' percent-encoded's case: a password holding
        # one and a '/', '?' or '#' ('u:pw%40x?y@host') is all the parser's host shows
        # and more. A user holding an '@' encoded ('TOKEN%40host:9093/x@y') is a token.
        tail = rest.rpartition("@")[2]
        user = host[:port_at] if port_at >= 0 and not bracketed else ""
        user = "" if _ENCODED_AT.search(user) else user
        return f"{head}{user + ':' if user else ''}***@{_port_masked(tail)}"
    encoded = _unbracketed(host).rfind("%40")
    if sep and not at and encoded >= 0:
        # 'u:pw%40host': the '@' percent-encoded, the parser's port is the password (or,
        # 'TOKEN%40host:9093', its host the token: no host name holds a '%'). One inside
        # an IPv6 address's brackets is its zone's ('[fe80::1%40]', interface 40), and
        # so is not the one after a token before them ('TOKEN%40[fe80::1%40]').
        # What follows the authority (a path, a query) is no secret's: shown, as after
        # an '@' typed as one.
        user = host[:port_at] if 0 <= port_at < encoded else ""
        after = _port_masked(host[encoded + 3 :] + rest[end:])
        return f"{head}{user + ':' if user else ''}***@{after}"
    if not sep:
        return _unslashed_masked(url)
    if not at:
        return head + _port_masked(rest)
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon else "***"
    return f"{head}{shown}@{_port_masked(host + rest[end:])}"


def _port_masked(text: str) -> str:
    """``text`` (a URL's host and what follows it) with a port that is not shown
    (:func:`port_shown`) as ``***``: a password typed with no '@' the parser sees
    (``http://ops:PASSWORD``, the host forgotten; its '@' percent-encoded twice,
    ``ops:PASSWORD%2540host``) is the parser's port. A host holding an '@' encoded
    twice or more (``TOKEN%2540host``: a token as the user, in the parser's host,
    which no host name is, holding a '%') is ``***@`` up to it, but inside an IPv6
    address's brackets (``[fe80::1%2540]``, its zone '40')."""
    found = _PORT.match(text)
    end = (
        found.end(1)
        if found
        else min((at for at in map(text.find, "/?#") if at >= 0), default=len(text))
    )
    encoded = _ENCODED_AGAIN.match(_unbracketed(text), 0, end)  # all before: a token's
    if encoded:
        return "***@" + _port_masked(text[encoded.end() :])
    if found is None or port_shown(found[2]):
        return text
    return f"{found[1]}:***{text[found.end() :]}"


def _unslashed_masked(text: str) -> str:
    """``text``, a URL typed without its scheme's '://' and with no '@', with a password
    the parser would read as a port masked: after the host forgotten (``ops:PASSWORD``,
    ``http:ops:PASSWORD``, which the parser reads as host 'http'), or after a scheme
    with its colon left out (``http//ops:PASSWORD``), where no port is read."""
    slashes = _SLASHES.match(text)  # it matches any text, if only its empty start
    head, text = (text[: slashes.end()], text[slashes.end() :]) if slashes else ("", text)
    masked = _port_masked(text)
    kept = _NO_SLASHES.match(text)
    if masked != text or kept is None:
        return head + masked
    return head + kept.group() + _port_masked(text[kept.end() :])


def _unbracketed(text: str) -> str:
    """``text`` lower-cased, what each pair of brackets holds blanked (the same length):
    where an '@' percent-encoded may be one after a token, not an IPv6 zone's."""
    return _BRACKETED.sub(lambda found: "[" + " " * (len(found[0]) - 2) + "]", text.lower())


def port_shown(port: str) -> bool:
    """Whether ``port``, all after a URL's host and its colon, may be shown: none, or a
    number of at most five digits, as every port is written. A password is the parser's
    port when the host is forgotten (``http://ops:PASSWORD``); one of digits alone
    (``http://ops:123456``) is told from a port by its length (``99999``, a port
    mistyped, is shown). A number with a tab or a line break in it (which the parser
    drops), or a space or a control character around it, is one still: an error names
    that character."""
    digits = port.translate(_DROPPED).strip(_LEADING)
    return not digits or (digits.isascii() and digits.isdigit() and len(digits) <= 5)


def urls_shown(data: Any) -> Any:
    """``data`` with every URL's password (or token as its user name), and a port that
    is not shown, masked (:func:`shown_url`)."""
    if isinstance(data, dict):
        return {key: urls_shown(value) for key, value in data.items()}
    if isinstance(data, list):
        return [urls_shown(value) for value in data]
    if (
        isinstance(data, str)
        and ":" in data
        and ("@" in data.translate(_AT_NFKC) or _ENCODED_AT.search(data) or _LEAD.match(data))
    ):
        return shown_url(data)
    return data


def shown_bare(url: str) -> str:
    """``url`` as ``sesd status`` prints it: without a user and password written into it
    (``https://user:pw@host``, which the request sends), so that the password is not
    left on a terminal or in a job's log. Read as text, so an address urllib cannot
    read (no scheme, a bracket not closed, a slash too many) is named so too. A
    password (or a token as the user) the parser does not read as one, its ``/``,
    ``?`` or ``#`` not percent-encoded, or its ``@`` percent-encoded, is ``***``; so is
    a port that is not shown (:func:`port_shown`; ``http://ops:PASSWORD``: no '@')."""
    found = _AUTHORITY.match(url)  # it matches any text, if only its empty start
    cut = found.end() if found else 0
    head, rest = url[:cut], url[cut:]
    end = min((at for at in map(rest.find, "/?#") if at >= 0), default=len(rest))
    ats = rest.translate(_AT_NFKC)  # a full-width '@' is one where the parser looks
    at = ats.rfind("@", 0, end)
    if at >= 0:
        return head + _port_masked(rest[at + 1 :])
    if "@" in ats:
        # 'user:pa/ss@host' ends the parser's host at the '/': all up to the last '@'
        # may be the password's (an '@' in a path too: which was meant cannot be told).
        return f"{head}***@{_port_masked(rest[ats.rfind('@') + 1 :])}"
    encoded = _unbracketed(rest).rfind("%40", 0, end)  # no host holds a '%'
    if encoded >= 0:
        return f"{head}***@{_port_masked(rest[encoded + 3 :])}"
    return head + (_port_masked(rest) if head.strip() else _unslashed_masked(rest))


def shown_origin(url: str) -> str:
    """Where a request went, as a log line names it: ``url``'s scheme, host and port.
    Not a user or password written into it (:func:`shown_bare`), nor its path and
    query: an endpoint's may carry a token (``https://gateway/?token=...``, which the
    SDK sends with every request), and a request's are the API's own."""
    head, sep, rest = shown_bare(url).partition("://")
    return head + sep + re.split(r"[/?#]", rest, maxsplit=1)[0]
