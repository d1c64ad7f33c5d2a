"""Text written by strangers, made safe to keep and to show.

Diagnostic codes, reporting MTAs, SMTP statuses and tags come from other
people's mail servers. Before sesd keeps one for alert text it is cleaned
once, here: every email address becomes :data:`ADDRESS` (so identical
diagnostics for different recipients are one), control characters become
``\\uXXXX`` escapes (no terminal escape sequence reaches a console), and the
text is cut to a bound. Each sink escapes what its own format needs on top
(Slack's ``&``, ``<`` and ``>``: :func:`slack_escape`).

Pure functions; no I/O.
"""

from __future__ import annotations

import functools
import re
from typing import Final

__all__ = [
    "ADDRESS",
    "MAX_CHARS",
    "clean",
    "clean_once",
    "mta_name",
    "redact_addresses",
    "slack_escape",
]

#: What an email address in event text becomes.
ADDRESS: Final = "[address]"
#: The longest text kept (diagnostics are cut here, with an ellipsis).
MAX_CHARS: Final = 200

# Something@domain: a local part of the characters RFC 5322 allows unquoted (and
# the quoted form's usual content), then a domain of labels; generous on purpose:
# what looks like an address is hidden.
_ADDRESS_RE: Final = re.compile(
    r"""(?:"[^"\r\n]{1,64}"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64})@"""
    r"""(?:\[[0-9A-Fa-f:.]{1,45}\]|[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*)"""
)
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# RFC 3464's "mta-name-type ;" before an MTA's name: "dns; ", or SES's "dsn; ".
_MTA_TYPE_RE: Final = re.compile(r"\s*[A-Za-z][A-Za-z0-9-]{0,31}\s*;\s*")


def redact_addresses(text: str) -> str:
    """``text`` with every email address replaced by :data:`ADDRESS`."""
    if "@" not in text:
        return text
    return _ADDRESS_RE.sub(ADDRESS, text)


def _escape_control(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


@functools.lru_cache(maxsize=4096)
def clean(text: str, limit: int = MAX_CHARS) -> str:
    """Event text fit to keep: addresses hidden, control characters escaped, at most
    ``limit`` characters (cut with an ellipsis). Cached: the same few diagnostics
    arrive by the thousand during an incident (a text seen once: :func:`clean_once`)."""
    return _cleaned(text, limit)


def clean_once(text: str) -> str:
    """:func:`clean` for a text that does not repeat (a message id): kept out of its
    cache, where thousands a minute would push out the texts that do repeat. Most need
    nothing, and two scans in C say so."""
    if len(text) <= MAX_CHARS and "@" not in text and text.isprintable():
        return text
    return _cleaned(text, MAX_CHARS)


def _cleaned(text: str, limit: int) -> str:
    text = _CONTROL_RE.sub(_escape_control, redact_addresses(text))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def mta_name(value: str) -> str:
    """An MTA as alert text names it: ``dsn; a8-70.smtp-out.amazonses.com`` (RFC 3464's
    ``mta-name-type; mta-name``, as SES writes ``reportingMTA``) is
    ``a8-70.smtp-out.amazonses.com``; a bare name is itself."""
    found = _MTA_TYPE_RE.match(value)
    return value[found.end() :].strip() if found else value.strip()


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities: no text can then open a
    ``<!channel>`` mention, a ``<@user>`` or a ``<url|link>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
