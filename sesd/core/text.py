"""Text written by strangers, made safe to keep and to show.

Diagnostic codes, reporting MTAs, SMTP statuses and tags come from other
people's mail servers. Before sesd keeps one for alert text it is cleaned
once, here: every email address becomes :data:`ADDRESS` (so identical
diagnostics for different recipients are one), control characters become
``\\uXXXX`` escapes (no terminal escape sequence reaches a console), and the
text is cut to a bound. Each sink escapes what its own format needs on top
(Slack's ``&``, ``<``, ``>`` and backtick: :func:`slack_escape`).

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
    "escaped",
    "has_control",
    "has_space_or_control",
    "json_escaped",
    "mta_name",
    "redact_addresses",
    "slack_escape",
    "slack_head",
    "slack_plain",
]

#: What an email address in event text becomes.
ADDRESS: Final = "[address]"
#: The longest text kept (diagnostics are cut here, with an ellipsis).
MAX_CHARS: Final = 200

# The spaces that print (Unicode's Zs). The other whitespace (a line break, a tab, the
# separators \x1c-\x1f) is shown escaped: it ends no word, or the address it splits
# would be shown whole, an escape in it ("ann\u000a@example.com").
_SPACES: Final = " \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
# What ends a word of event text, for an address: space, quotes, brackets and the
# separators of address lists and SMTP replies.
_ENDS: Final = _SPACES + r"\"<>()\[\],;:"
# An address is a whole word with an '@' inside (a character before it, and one or an
# address literal after it), hidden whole: what a stranger writes beside or around an
# address (UTF-8 in RFC 6531's, zero-width or control characters, a local part longer
# than RFC 5321 allows, addresses run together) goes with it. A match starts only where
# a word starts and reads the word up to one '@' or '%40', then once more, possessively:
# linear in the text. A word may start with '@' ("@ann@example.com": the address still
# has one inside). Or a quoted local part with its escapes, then the rest of the word.
# Generous on purpose. '%40' is an '@' percent-encoded (a URL's query, an MTA quoting a
# forwarded address): such a word is hidden as an address is, a link and all. Other
# spellings ("ann (at) example.com") are not recognised.
_AT: Final = "(?:@|%40)"
_ADDRESS_RE: Final = re.compile(
    rf"""(?<![^{_ENDS}])(?=@*+[^{_ENDS}@]+{_AT}(?:[^{_ENDS}]|\[))[^{_ENDS}]++"""
    rf"""(?:\[[^\]\s]{{1,64}}\])?"""
    rf"""|"(?:[^"\\\r\n]|\\.)*+"{_AT}(?:\[[^\]\s]{{1,64}}\]|[^{_ENDS}]*+)"""
)
# The word a cut ends in, '@' and all, when it could be a piece of an address (no
# longer than a whole one: 64 + 1 + 255, RFC 5321): cut text ends before it, so no
# local part without its '@', or domain's first labels, is left to show.
_LAST_WORD_RE: Final = re.compile(rf"(?<![^{_ENDS}])[^{_ENDS}]{{1,320}}+\Z")
# What is escaped: every character Unicode calls a control (Cc), a format character (Cf:
# bidirectional overrides, zero-width and invisible tag characters, the soft hyphen), a
# line or paragraph separator, or half a surrogate pair, as Python 3.11's Unicode
# (14.0) lists them (a test checks the list against unicodedata). None of them prints:
# each could hide text, reorder it, or drive a terminal.
_CONTROL_RE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff"
    "\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
# RFC 3464's "mta-name-type ;" before an MTA's name: "dns; ", or SES's "dsn; ".
_MTA_TYPE_RE: Final = re.compile(r"\s*[A-Za-z][A-Za-z0-9-]{0,31}\s*;\s*")


def _may_hold_address(text: str) -> bool:
    """Whether ``text`` has an '@' or a '%40' (two scans in C): else no address."""
    return "@" in text or "%40" in text


def redact_addresses(text: str) -> str:
    """``text`` with every email address (an '@' or '%40' inside a word) replaced by
    :data:`ADDRESS`."""
    if not _may_hold_address(text):
        return text
    return _ADDRESS_RE.sub(_placeholder, text)


def _placeholder(found: re.Match[str]) -> str:
    """The placeholder, and the full stops that end a sentence after the address."""
    word = found.group()
    return ADDRESS + "." * (len(word) - len(word.rstrip(".")))


def _escape_control(match: re.Match[str]) -> str:
    point = ord(match.group())
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"


#: How much of a text is read to show ``limit`` characters of it: this many times as
#: much, and a margin, for addresses that shrink to the placeholder.
_READ_TIMES: Final = 4
_READ_MARGIN: Final = 1024


def _read(limit: int) -> int:
    """How much of a text is read to show ``limit`` characters of it. Beyond that a
    text is a stranger's, which must cost (and keep) no more."""
    return _READ_TIMES * limit + _READ_MARGIN


def clean(text: str, limit: int = MAX_CHARS) -> str:
    """Event text fit to keep: addresses hidden, control characters escaped, at most
    ``limit`` characters (cut with an ellipsis). Cached: the same few diagnostics
    arrive by the thousand during an incident (a text seen once: :func:`clean_once`);
    the cache keeps no more of a text than is read."""
    # A text read whole (no longer than _read(limit), inlined: every text of every
    # problem event comes here) goes to the cache as it is, without _head's two calls.
    if len(text) <= _READ_TIMES * limit + _READ_MARGIN:
        return _clean_cached(text, False, limit)
    return _clean_cached(*_head(text, limit), limit)


@functools.lru_cache(maxsize=4096)
def _clean_cached(text: str, cut: bool, limit: int) -> str:
    return _cleaned(text, cut, limit)


def clean_once(text: str) -> str:
    """:func:`clean` for a text that does not repeat (a message id): kept out of its
    cache, where thousands a minute would push out the texts that do repeat. Most need
    nothing, and two scans in C say so."""
    # _may_hold_address() written out: its call was a third of this one's cost on the
    # path of every noted problem recipient (about 1,000 instructions, cachegrind).
    if len(text) <= MAX_CHARS and "@" not in text and "%40" not in text and text.isprintable():
        return text
    return _cleaned(*_head(text, MAX_CHARS), MAX_CHARS)


def _head(text: str, limit: int) -> tuple[str, bool]:
    """What is read of ``text`` to show ``limit`` characters: all of it, or (``True``:
    cut) its head, ending before the word the cut falls in."""
    read = _read(limit)
    if len(text) <= read:
        return text, False
    return _LAST_WORD_RE.sub("", text[:read]), True


def _cleaned(text: str, cut: bool, limit: int) -> str:
    return _escaped(redact_addresses(text), cut, limit)


def has_control(text: str) -> bool:
    """Whether ``text`` holds a character :func:`escaped` would escape (a control, a
    format or invisible character): none of them prints."""
    return _CONTROL_RE.search(text) is not None


def has_space_or_control(text: str) -> bool:
    """Whether ``text`` holds a space of any kind or a character :func:`has_control`
    finds: what no URL, address or key a config gives may hold."""
    return has_control(text) or any(char.isspace() for char in text)


def escaped(text: str, limit: int) -> str:
    """``text`` shown as it is, addresses and all, but with control characters escaped
    and at most ``limit`` characters (cut with an ellipsis): for what the operator asked
    to see in full (a recipient's address in a log line)."""
    return _escaped(text[:limit], len(text) > limit, limit)


def _escaped(text: str, cut: bool, limit: int) -> str:
    """``text`` with its control characters escaped, cut to ``limit`` characters with an
    ellipsis when it was cut before (``cut``) or is longer now."""
    shown = _CONTROL_RE.sub(_escape_control, text)
    if cut or len(shown) > limit:
        return _escaped_head(text, limit - 1) + "…"
    return shown


def _escaped_head(text: str, room: int) -> str:
    """The head of ``text`` escaped, at most ``room`` characters: it ends before the
    escape the bound falls in, never inside it (a ``\\u00`` would read as damage, or
    join what a sink prints after it)."""
    shown: list[str] = []
    used = start = 0
    end = len(text)
    for found in _CONTROL_RE.finditer(text):
        escape = _escape_control(found)
        plain = found.start() - start
        if used + plain + len(escape) > room:
            end = found.start()
            break
        shown += (text[start : found.start()], escape)
        used += plain + len(escape)
        start = found.end()
    shown.append(text[start:end][: room - used])
    return "".join(shown)


def json_escaped(text: str) -> str:
    """JSON text with every character :func:`escaped` escapes that JSON leaves raw in a
    string (C1 controls, DEL, format and invisible characters) written as a JSON
    escape: the same document, nothing in it a terminal acts on. Its lines stay lines
    (JSON escapes the controls below U+0020 in a string itself)."""
    return _CONTROL_RE.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in "\t\n\r":  # between values, as a formatter lays them out
        return char
    point = ord(char)
    if point <= 0xFFFF:
        return f"\\u{point:04x}"
    point -= 0x10000  # past the BMP: JSON writes it as a UTF-16 surrogate pair
    return f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}"


def mta_name(value: str) -> str:
    """An MTA as alert text names it: ``dsn; a8-70.smtp-out.amazonses.com`` (RFC 3464's
    ``mta-name-type; mta-name``, as SES writes ``reportingMTA``) is
    ``a8-70.smtp-out.amazonses.com``; a bare name is itself."""
    found = _MTA_TYPE_RE.match(value)
    return value[found.end() :].strip() if found else value.strip()


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities: no text can then open a
    ``<!channel>`` mention, a ``<@user>`` or a ``<url|link>``. Slack has no escape for
    a backtick, and three would open a code block that swallows the lines after it:
    each becomes a modifier grave accent (sesd's own Slack text uses none)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("`", "\u02cb")


#: The longest entity :func:`slack_escape` writes (``&amp;``), less its ``&``.
_ENTITY_REST: Final = 4


def slack_head(text: str, limit: int) -> str:
    """Text :func:`slack_escape` made, at most ``limit`` characters: cut with an
    ellipsis when longer, before the entity the bound falls in (Slack would show
    ``&am``). Every ``&`` in such text starts an entity."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    # From the head's start when it is shorter than an entity: a negative start
    # would count from the end, and miss an ``&`` before it.
    start = head.rfind("&", max(0, len(head) - _ENTITY_REST))
    if start >= 0 and ";" not in head[start:]:
        head = head[:start]
    return head + "…"


#: Slack's style marks (bold, italic, strike), each as a look-alike that styles nothing.
_SLACK_MARKS: Final = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c"})


def slack_plain(text: str) -> str:
    """A stranger's text as Slack shows it without styling: ``*``, ``_`` and ``~``
    become look-alikes (asterisk operator, modifier low macron, tilde operator). Slack
    escapes none of them, and a pair would bold, slant or strike what lies between,
    or close sesd's own bold; a look-alike depends on no rule of Slack's parser and
    survives any cut. For text that goes into sesd's own mrkdwn, before
    :func:`slack_escape`; the other sinks get the text as it is."""
    return text.translate(_SLACK_MARKS)
