"""Recipient address -> normalised domain (-> bounded label value: sesd.core.label_table).

Recipient domains are chosen by whoever is mailed, so they never become
Prometheus labels unchecked: normalised here (lower case, IDNA, a hostname's shape),
then :class:`~sesd.core.label_table.LabelTable` admits at most ``max_tracked`` of
them and puts the rest under ``other``. Addresses are redacted or escaped here for
log lines, and a tag's value made a label before its cap.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from fnmatch import fnmatchcase
from typing import Final

import idna

from sesd.core.alabels import idna2003, idna2008_mapped, plain_alabels
from sesd.core.text import escaped

__all__ = [
    "FULL_STOPS",
    "MAX_DOMAIN",
    "OTHER",
    "OWN_OTHER",
    "TAG_VALUE",
    "domain_of",
    "domain_pattern",
    "exact_matcher",
    "forms_take",
    "glob_forms",
    "group_named",
    "normalise_domain",
    "readable",
    "recipient_key",
    "redact_address",
    "shown_address",
    "silence_forms",
    "silence_takes",
    "tag_label",
    "takes_every",
    "takes_glob",
    "takes_name",
]

OTHER: Final = "other"
#: The label of a tag value that is ``other`` itself (a sender's ``campaign=other``): a
#: quote is in no value SES carries (:data:`TAG_VALUE`), so it never merges with
#: sesd's ``other`` (values past the cap, and those SES could not have carried).
OWN_OTHER: Final = f"'{OTHER}'"
#: A tag value SES can carry: a sender's own (letters, digits, '_' and '-', at most 256)
#: or one SES sets (a domain, an IP address, an IAM identity: '.', ':', '/', '+', '=',
#: ','). Anything else (spaces, controls, quotes, an address) counts as ``other``.
TAG_VALUE: Final = re.compile(r"[A-Za-z0-9_.:/+=,-]{1,256}")


def tag_label(value: str) -> str:
    """The label of a tag's value before the cap: as it is, :data:`OTHER` when SES could
    not have carried it (a label of its own would carry anything), :data:`OWN_OTHER`
    when it is ``other`` itself."""
    if TAG_VALUE.fullmatch(value) is None:
        return OTHER
    return OWN_OTHER if value == OTHER else value


#: The longest domain name as text (RFC 1035's 255 octets in wire form).
MAX_DOMAIN: Final = 253
#: The full stops IDNA reads as a dot (RFC 3490, 3.1): ASCII's, and the ideographic,
#: full-width and half-width ones a CJK input method types. A root dot in any of them
#: is dropped, as ``idna.encode(uts46=True)`` maps ``example.org。`` to ``example.org.``.
FULL_STOPS: Final = ".\u3002\uff0e\uff61"
_HOSTNAME: Final = re.compile(
    r"^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$"
)


def domain_of(address: str) -> str | None:
    """The normalised domain of a recipient address, or None if it has none.

    Handles display names (``Name <a@b.com>``): the domain is what follows the
    last ``@``, up to a closing ``>``.
    """
    at = address.rfind("@")
    if at < 0:
        return None
    part = address[at + 1 :]
    close = part.find(">")
    if close >= 0:
        part = part[:close]
    return normalise_domain(part)


def normalise_domain(part: str) -> str | None:
    """Lower-case, strip the trailing dot, convert to IDNA ASCII; None when unusable.

    Cached: a few thousand domains make up nearly all of a sender's traffic. The
    cache is bounded, so a flood of distinct domains costs no memory here.
    """
    if len(part) > MAX_DOMAIN:
        # Refused before IDNA, whose cost grows with the text (a stranger's megabyte
        # took seconds), and before the cache keeps it. Neither lower-casing nor IDNA
        # shortens a name (an A-label is longer than its Unicode form; only code points
        # IDNA drops, a soft hyphen, would, and no address SMTP carries holds hundreds):
        # past 253 characters as written is past them in normal form.
        part = part.strip().rstrip(FULL_STOPS)
        if len(part) > MAX_DOMAIN:
            return None
    # Cached as compared, not as written: ``Bücher.DE`` (a message's recipient) and
    # ``bücher.de`` (its key) are one entry and one IDNA encoding, not two.
    return _normalised(part.strip().rstrip(FULL_STOPS).lower())


@functools.lru_cache(maxsize=16384)
def _normalised(name: str) -> str | None:
    """:func:`normalise_domain` of a lower-case name without spaces around it or a root
    dot, at most :data:`MAX_DOMAIN` long as written."""
    if not name:
        return None
    if not name.isascii():
        encoded = _alabels(name)
        if encoded is None:
            return None
        name = encoded
    if len(name) > MAX_DOMAIN or not _HOSTNAME.match(name):
        return None
    return name


def _alabels(name: str) -> str | None:
    """The IDNA form of a lower-case Unicode name, or None if it has none."""
    # Most Unicode names are plain: the answer idna gives, at a twentieth of its cost.
    encoded = plain_alabels(name)
    if encoded:
        return encoded
    # (REFUSED: idna would refuse it.) Mapped, it is what idna.encode(uts46=True) maps
    # and then encodes.
    mapped = idna2008_mapped(name) if encoded is None else None
    if mapped is not None:
        try:
            return idna.encode(mapped).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            pass
    # IDNA2008 refuses symbols (an emoji domain) that IDNA2003, which registries of
    # such domains and mail clients still use, encodes: the domain an event writes in
    # punycode is the same label either way.
    return idna2003(name)


def recipient_key(address: str) -> str:
    """One recipient however an event writes it: the address lower-cased, the display
    name left out (``Ann <ann@x.example>``), its domain in normal form (a bounce may
    write in punycode, or with a trailing dot, the domain its delay wrote in Unicode).
    Two events' recipients are the same when their keys are."""
    key = address.strip().lower()
    if key[-1:] == ">" and "<" in key:
        key = key[key.rfind("<") + 1 : -1].strip()
    if key.isascii() and key[-1:] != ".":
        return key  # nearly every address: its domain is in normal form already
    local, at, written = key.rpartition("@")
    domain = normalise_domain(written) if at else None
    return key if domain is None else f"{local}@{domain}"


#: Each full stop IDNA reads as a dot, as ASCII's (a glob's part is no label IDNA maps).
_AS_DOTS: Final = str.maketrans(dict.fromkeys(FULL_STOPS[1:], "."))


@functools.lru_cache(maxsize=256)
def domain_pattern(written: str) -> str:
    """A domain glob (or name) as labels name domains: each dot-separated part that
    is a domain label in its normal form (lower case, IDNA: ``*.рф`` matches
    ``xn--80a1acny.xn--p1ai``, ``Bücher.de`` ``xn--bcher-kva.de``), a trailing dot
    dropped, and every dot read in any of :data:`FULL_STOPS` (``*。example.com`` is
    ``*.example.com``, as the events' domains are read); glob parts and names that are
    no domain (a tenant's) lower-cased."""
    parts = written.strip().rstrip(FULL_STOPS).translate(_AS_DOTS).split(".")
    return ".".join(normalise_domain(part) or part.lower() for part in parts)


def silence_takes(matcher: str, label: str) -> bool:
    """Whether a silence's domain matcher (a name or a glob) takes an alert's ``label``
    (a domain, group, provider, tenant or account): in any case, and in any spelling a
    rule takes a domain in (:func:`domain_pattern`: ``Bücher`` takes ``xn--bcher-kva``
    too); a root dot after any name changes nothing (a group's name is no domain: one
    typed after it is dropped here)."""
    return forms_take(silence_forms(matcher), label)


def forms_take(forms: tuple[str, ...], label: str) -> bool:
    """Whether a silence whose matcher's :func:`silence_forms` are ``forms`` takes
    ``label``: as :func:`silence_takes`, the forms read once for many labels."""
    name = label.lower()
    return any(fnmatchcase(name, pattern) for pattern in forms)


def exact_matcher(label: str) -> str:
    """A silence's domain matcher that takes ``label`` (in any case, as
    :func:`silence_takes` reads one), and no other label a glob, the spaces or the
    root dot dropped would add: each ``*``, ``?`` and ``[`` a set of itself (``[*]``),
    which a glob reads as that character, and each space around the name and full stop
    ending it a set too (``Shop[ ]``, ``Shop[.]``), which a silence does not drop. A
    name with none of them is itself, so most mute lines read as the name."""
    body = label.strip()
    start = label.index(body) if body else len(label)
    name = body.rstrip(FULL_STOPS)
    kept = "".join(f"[{c}]" if c in "*?[" else c for c in name)
    return (
        _as_sets(label[:start])
        + kept
        + _as_sets(body[len(name) :])
        + _as_sets(label[start + len(body) :])
    )


def _as_sets(kept: str) -> str:
    """Each of ``kept`` (spaces around a name, its root dot) a glob's set of itself,
    which a silence does not drop."""
    return "".join(f"[{c}]" for c in kept)


def silence_forms(matcher: str) -> tuple[str, str, str]:
    """The globs (or names) :func:`silence_takes` matches a label in lower case
    against: a domain's normal form, as written in lower case without spaces around
    it, and without a root dot too."""
    written = matcher.strip().lower()
    return (domain_pattern(written), written, written.rstrip(FULL_STOPS))


def _as_group(name: str) -> tuple[str, str, str]:
    """The spellings of a rule's name that name a group (no domain: its normal form is
    not asked): as written, without a root dot typed after it (in any of
    :data:`FULL_STOPS`), as a domain's is dropped, and without spaces around it too, as
    a domain's are (``"Bücher. "``: a typo inside the quotes, as a silence reads it)."""
    return (name, name.rstrip(FULL_STOPS), name.strip().rstrip(FULL_STOPS))


def group_named(name: str, groups: Collection[str]) -> str | None:
    """The group of ``groups`` a rule's domain name (not a glob) names, in any of its
    spellings that name a group (:func:`_as_group`); None when it names none. A
    group's name is no domain (``Bücher``, ``Consumer MS``), so its normal form is not
    asked."""
    return next((written for written in _as_group(name) if written in groups), None)


def takes_name(label: str, name: str, domains: bool) -> bool:
    """Whether a name (a rule's, or its exclusion's) takes ``label``: as written (a
    group's name, a provider's, a tenant's), or, of domains, in its normal form
    (``Bücher.de``), or as it names a group (the group ``Bücher`` for ``Bücher.`` or
    ``Bücher. ``, as a silence takes it)."""
    return label == name or (
        domains and (label == normalise_domain(name) or label in _as_group(name))
    )


def takes_glob(label: str, pattern: str, domains: bool) -> bool:
    """Whether a glob takes ``label``: as written (a group's name is a label as the
    config writes it; of domains, without a root dot nor spaces around it too:
    ``Bü*.``, as a name names a group), and, of domains, in their normal form (``*.рф``
    and ``Yahoo.*`` as labels are written: ``*.xn--p1ai``, ``yahoo.*``)."""
    if fnmatchcase(label, pattern):
        return True
    if not domains:
        return False
    unrooted = pattern.strip().rstrip(FULL_STOPS)
    if unrooted != pattern and fnmatchcase(label, unrooted):
        return True
    normal = domain_pattern(pattern)
    return normal != pattern and fnmatchcase(label, normal)


def takes_every(pattern: str, glob: str, domains: bool) -> bool:
    """Whether the glob ``pattern`` takes every label the glob ``glob`` takes, as
    :func:`takes_glob` takes them: ``*`` (or stars alone, ``**``), or ``glob`` itself;
    of domains, either in any form takes_glob reads it in (``*.`` and ``"* "`` are
    ``*``, ``*.Example.`` is ``*.example``)."""
    forms = glob_forms(pattern) if domains else {pattern}
    return any(_all_stars(form) for form in forms) or (
        glob_forms(glob) <= forms if domains else glob in forms
    )


def glob_forms(pattern: str) -> set[str]:
    """The patterns :func:`takes_glob` matches a domain label against: as written,
    without a root dot nor spaces around it, and in the normal form of its parts."""
    return {pattern, pattern.strip().rstrip(FULL_STOPS), domain_pattern(pattern)}


def _all_stars(pattern: str) -> bool:
    """Whether a glob takes every text: stars alone, as ``*`` does."""
    return pattern != "" and not pattern.strip("*")


def readable(label: str) -> str:
    """A domain label as people read it: one in IDNA form followed by its Unicode
    form (``xn--bcher-kva.de (bücher.de)``: the team mailing it reads it so), any other
    as it is. Labels, keys and links keep the IDNA form."""
    if "xn--" not in label:
        return label
    try:
        shown = idna.decode(label)
    except (idna.IDNAError, UnicodeError, ValueError):
        try:
            shown = label.encode("ascii").decode("idna")  # IDNA2003: an emoji domain
        except UnicodeError:
            return label
    # IDNA2003 knows Unicode 3.2 only and lets through what it did not assign (a
    # bidirectional isolate, an invisible operator): a Unicode form with a character
    # that does not print would hide or turn around the text after it. The IDNA form
    # alone names such a domain.
    if shown == label or not shown.isprintable():
        return label
    return f"{label} ({shown})"


def redact_address(address: str) -> str:
    """An address fit for a log line: the local part hidden, the domain kept
    (as written, shortened and escaped, when it is not a usable domain)."""
    domain = domain_of(address)
    if domain is None and "@" in address:
        domain = address.rpartition("@")[2][:64].encode("unicode_escape").decode("ascii")
    return f"***@{domain}" if domain is not None else "***"


#: The longest address SMTP carries (RFC 5321: a 64-character local part, '@', a
#: 255-octet domain).
_LONGEST_ADDRESS: Final = 320


def shown_address(address: str) -> str:
    """An address fit for a log line in full (``[logging] log_recipients``): as written,
    but its control characters escaped (a terminal shows the line as it is) and cut
    past the longest address SMTP carries (a stranger's megabyte is no address)."""
    return escaped(address, _LONGEST_ADDRESS)
