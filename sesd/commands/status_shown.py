"""How ``sesd status`` names an address in the lines it prints: never with a password
written into it, however the address is typed."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["shown"]


#: What comes before a URL's user and password: its scheme and the slashes typed after
#: it, however many (a third, or backslashes, leave the parser no host), else spaces.
_AUTHORITY: Final = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9+.-]*:(?=[/\\]))?[/\\]*")
#: The characters NFKC normalization reads as an '@' (full-width and small), as
#: urllib's parser does to refuse a host holding one: the user and password before it.
_AT_NFKC: Final = {0xFF20: "@", 0xFE6B: "@"}
#: A host and its port, as the URL parser splits them (a bracketed host's colons are its
#: own): all after the host's first colon, up to a '/', '?' or '#'.
_PORT: Final = re.compile(r"([^/?#:\[]*(?:\[[^\]/?#]*\][^:/?#]*)?):([^/?#]*)")
#: What the URL parser drops anywhere in a URL.
_DROPPED: Final = str.maketrans("", "", "\t\r\n")


def shown(url: str) -> str:
    """``url`` as sesd prints it: without a user and password written into it
    (``https://user:pw@host``, which the request sends), so that the password is not
    left on a terminal or in a job's log. Read as text, so an address urllib cannot
    read (no scheme, a bracket not closed, a slash too many) is named so too. A
    password (or a token as the user) the parser does not read as one, its ``/``,
    ``?`` or ``#`` not percent-encoded, or its ``@`` percent-encoded, is ``***``; so is
    a port that is not a number (``http://ops:PASSWORD``: no '@' typed)."""
    found = _AUTHORITY.match(url)  # it matches any text, if only its empty start
    cut = found.end() if found else 0
    head, rest = url[:cut], url[cut:]
    end = min((at for at in map(rest.find, "/?#") if at >= 0), default=len(rest))
    ats = rest.translate(_AT_NFKC)  # a full-width '@' is one where the parser looks
    at = ats.rfind("@", 0, end)
    if at >= 0:
        return head + _port_hidden(rest[at + 1 :])
    if "@" in ats:
        # 'user:pa/ss@host' ends the parser's host at the '/': all up to the last '@'
        # may be the password's (an '@' in a path too: which was meant cannot be told).
        return f"{head}***@{_port_hidden(rest[ats.rfind('@') + 1 :])}"
    encoded = rest.lower().rfind("%40", 0, end)  # no host holds a '%'
    if encoded >= 0:
        return f"{head}***@{_port_hidden(rest[encoded + 3 :])}"
    return head + _port_hidden(rest)


def _port_hidden(text: str) -> str:
    """``text`` (an address's host and what follows it) with a port that is not a number
    as ``***``: a password typed with no '@' the parser sees (``http://ops:PASSWORD``,
    the host forgotten; its '@' percent-encoded twice, ``%2540``) is the parser's port."""
    found = _PORT.match(text)
    if found is None:
        return text
    # A number with a tab or a line break in it (which the parser drops), or a space
    # around it, is one still.
    port = found[2].translate(_DROPPED).strip()
    if not port or (port.isascii() and port.isdigit()):
        return text
    return f"{found[1]}:***{text[found.end() :]}"
