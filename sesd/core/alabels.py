"""The IDNA form of a plain Unicode domain, without the cost of the ``idna`` package.

Strangers write recipient domains, and the ``idna`` package checks every code point
of a name with a few Python calls (a 214-character name costs about half a
millisecond, and a message names up to 100). Most Unicode domains are plain: labels
of letters and digits that IDNA2008 allows anywhere (PVALID), which UTS #46 keeps as
they are. For those, every check ``idna.encode(name, uts46=True)`` makes passes or
fails on facts one regular expression and a few comparisons see (the bidi rule, for
a right-to-left label, on its characters' classes), and the answer is ``xn--`` and
the label's Punycode (RFC 3492); a plain name failing one of them is REFUSED, as idna
refuses it. Any other name (a joiner, a CONTEXTO character, a character UTS #46
maps, an ``xn--`` label) gets ``None`` here, and ``idna`` decides as before, unless
its labels' lengths alone refuse it. IDNA2003 (the standard library's codec, for
emoji domains) is followed step by step, a label too long refused before Punycode.

The set of plain characters is taken from the ``idna`` package's own table of PVALID
code points and from :mod:`unicodedata` (which ``idna`` reads for the bidi rule), the
first time a Unicode domain is seen (a tenth of a second, once).
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from encodings.idna import nameprep
from typing import Final

import idna
from idna import idnadata

__all__ = ["REFUSED", "idna2003", "idna2008_mapped", "plain_alabels", "punycode"]

#: What :func:`plain_alabels` answers for a plain name idna refuses.
REFUSED: Final = ""
#: Bidi classes of plain characters that make a label right-to-left (RFC 5893, the
#: bidi rule then applies to it). Characters of class AN (Arabic-Indic digits are
#: CONTEXTO, not plain) or none ("": a code point this Python's Unicode does not
#: know, which ``idna`` refuses) are never plain.
_RTL: Final = frozenset({"R", "AL"})
#: Where every character of those classes is (Hebrew to Arabic Extended, the RLM, the
#: presentation forms, the right-to-left ranges of the supplementary planes): a label
#: with none of these is left-to-right, found faster than by each one's class.
_RTL_BLOCKS: Final = re.compile(
    "[\u0590-\u08ff\u200f\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
_NEVER_PLAIN: Final = frozenset({"", "AN"})
#: The bidi rule as ``idna`` applies it to a label holding a right-to-left character
#: (AN aside): what it may hold, and what its last character but marks may be.
_RTL_ALLOWED: Final = frozenset({"R", "AL", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"})
_RTL_ENDS: Final = frozenset({"R", "AL", "EN"})
#: A label of letters, digits and inner hyphens, no longer than DNS allows.
_ASCII_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_WIDE: Final = re.compile("[^\x00-\x7f]")
#: Where IDNA (2003, and UTS #46 before splitting) ends a label.
_DOTS: Final = re.compile("[.\u3002\uff0e\uff61]")
#: The longest label of non-ASCII characters that may fit in 63 octets: its form is
#: ``xn--`` and at least one character for each of its own.
_LONGEST_WIDE: Final = 59
_DIGITS: Final = "abcdefghijklmnopqrstuvwxyz0123456789"


@functools.cache
def _plain() -> re.Pattern[str]:
    """Names made only of dots, ASCII letters, digits and hyphens, and the non-ASCII
    code points that are PVALID (and of a bidi class but AN)."""
    plain = [
        chr(cp)
        for packed in idnadata.codepoint_classes["PVALID"]  # (first << 32) | (last + 1)
        for cp in range(max(packed >> 32, 0x80), packed & 0xFFFFFFFF)
        if unicodedata.bidirectional(chr(cp)) not in _NEVER_PLAIN
    ]
    return re.compile(f"[a-z0-9.\\-{_ranges(plain)}]+")


def _ranges(chars: list[str]) -> str:
    """A regular expression's class of ``chars`` (ascending, none special in a class)."""
    runs: list[str] = []
    for char in chars:
        if runs and ord(runs[-1][-1]) + 1 == ord(char):
            runs[-1] = runs[-1][0] + char
        else:
            runs.append(char)
    return "".join(run if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def plain_alabels(name: str) -> str | None:
    """``idna.encode(name, uts46=True)`` as text, for a lower-case ``name`` of plain
    characters; :data:`REFUSED` when idna refuses it for certain (every check of a
    plain name is one made here: a hyphen, a mark first, the bidi rule, a length);
    ``None`` for any other name (``idna`` then decides)."""
    if not _plain().fullmatch(name) or not unicodedata.is_normalized("NFC", name):
        return None  # NFC: UTS #46 would normalise it, and IDNA2008 refuses what is not
    if name[-1] == ".":
        return None  # a root dot (domains drop it before)
    labels = name.split(".")
    refused = False
    for i, label in enumerate(labels):
        if label.isascii():
            # ``xn--`` labels (and any other with ``--`` third and fourth) are decoded
            # and checked by idna: never plain.
            if label[2:4] == "--":
                return None
            refused = refused or not _ASCII_LABEL.fullmatch(label)
            continue
        if (
            label[0] == "-"
            or label[-1] == "-"
            or label[2:4] == "--"
            or unicodedata.category(label[0])[0] == "M"  # a combining mark first
            or len(label) > _LONGEST_WIDE
            or (_RTL_BLOCKS.search(label) and not _bidi_rule(label))
        ):
            refused = True
            continue
        labels[i] = encoded = "xn--" + punycode(label)
        refused = refused or len(encoded) > 63
    joined = ".".join(labels)
    return REFUSED if refused or len(joined) > 253 else joined


def _bidi_rule(label: str) -> bool:
    """Whether a label keeps the bidi rule, if it holds a right-to-left character (none
    of class AN): it starts right-to-left, holds no left-to-right character, and ends
    (marks aside) in a right-to-left character or a digit."""
    classes = [unicodedata.bidirectional(char) for char in label]
    if _RTL.isdisjoint(classes):
        return True  # left-to-right: no rule
    if classes[0] not in _RTL or not _RTL_ALLOWED.issuperset(classes):
        return False
    ends = [bidi for bidi in classes if bidi != "NSM"]
    return ends[-1] in _RTL_ENDS


def idna2008_mapped(name: str) -> str | None:
    """``name`` after UTS #46 mapping (idna's own), for ``idna.encode(mapped)`` to finish
    as ``idna.encode(name, uts46=True)`` would; None when idna refuses it for certain,
    by its labels' lengths: asked first, as idna's Punycode costs the square of a
    label's length (a 253-character label, 20 ms) before it finds one too long."""
    try:
        mapped = idna.uts46_remap(name, std3_rules=False)
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    labels = _DOTS.split(mapped)
    if labels[-1] == "":
        del labels[-1]  # a root dot, outside the 253
    least = len(labels) - 1  # the dots between
    for label in labels:
        if label.isascii():
            least += len(label)
            if len(label) > 63:
                return None
        else:
            least += len(label) + 4
            if len(label) > _LONGEST_WIDE:
                return None
    return mapped if least <= 253 else None


def idna2003(name: str) -> str | None:
    """``name.encode("idna")`` (the standard library's IDNA2003) as text for a name not
    all ASCII, or None where it raises; a label too long to fit is refused before its
    Punycode (the codec's costs the square of a label's length)."""
    labels = _DOTS.split(name)
    root = ""
    if not labels[-1]:
        root = "."
        del labels[-1]
    encoded: list[str] = []
    for label in labels:
        if not label.isascii():
            try:
                label = nameprep(label)
            except UnicodeError:
                return None
            if not label.isascii():
                if label.startswith("xn--") or len(label) > _LONGEST_WIDE:
                    return None
                label = "xn--" + punycode(label)
        if not 0 < len(label) < 64:
            return None
        encoded.append(label)
    return ".".join(encoded) + root


def punycode(label: str) -> str:
    """RFC 3492's encoding of ``label`` (as ``label.encode("punycode")``, a few times
    faster: the standard library's walks the whole label once per code point)."""
    basic = label.encode("ascii", "ignore").decode("ascii")
    out = [basic, "-"] if basic else []
    wide = sorted((ord(found.group()), found.start()) for found in _WIDE.finditer(label))
    # A decoder inserts the other code points in order of (code point, position): each
    # one's index is how many characters stand before it then, all but those to come.
    waiting = sorted(at for _, at in wide)
    n, i, bias = 0x80, 0, 72
    held = len(basic)
    for m, at in wide:
        later = bisect.bisect_left(waiting, at)
        del waiting[later]
        index = at - later
        delta = (m - n) * (held + 1) + index - i
        q, k = delta, 36
        while True:
            t = 1 if k <= bias else 26 if k >= bias + 26 else k - bias
            if q < t:
                break
            out.append(_DIGITS[t + (q - t) % (36 - t)])
            q = (q - t) // (36 - t)
            k += 36
        out.append(_DIGITS[q])
        bias = _adapt(delta, held + 1, held == len(basic))
        held += 1
        n, i = m, index + 1
    return "".join(out)


def _adapt(delta: int, points: int, first: bool) -> int:
    """RFC 3492, 6.1: the bias after a code point is encoded."""
    delta = delta // 700 if first else delta // 2
    delta += delta // points
    k = 0
    while delta > 455:  # ((36 - 1) * 26) // 2
        delta //= 35
        k += 36
    return k + (36 * delta) // (delta + 38)
