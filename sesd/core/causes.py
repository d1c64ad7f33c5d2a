"""Why a recipient was delayed: a cause from SES's delay type, the SMTP status and the
diagnostic text, with advice on what to do.

The judgement is data, in ``sesd/core/causes.toml`` (loaded and checked by
sesd.core.cause_table), read once when this module is imported: a table that does
not load (a packaging fault, a bad pattern) stops sesd at start, not at the first
DeliveryDelay. Precedence, tier by tier (inside a tier, the first entry that matches
wins):

1. a delay inside SES (``InternalFailure``, ``SendingDeferral``, and
   ``BYOIPHostNameLookupUnavailable``: SES could not look up your own BYOIP range's
   host names) is ``ses_internal``, with advice per delay type (``[inside_ses]``);
2. ``[[status]]``: codes a receiver defines for itself (Microsoft's 4.7.650 and
   4.7.500-699, Gmail's 4.7.28 and 4.7.26...): its documentation gives each one
   meaning, so they decide whatever the words say ("4.7.500 Server busy" is a
   reputation restriction);
3. ``[[provider]]``: a receiver's own codes and texts (Yahoo's TSS04, Microsoft's
   S3150, Orange's OFR005_505, Comcast's BL000010, Cox's AUP#CDRBL...);
4. ``[[wording]]``: words that name a family (greylisting, a full mailbox or an
   exceeded quota in several languages, HELO and reverse DNS, DNS failures, rates
   and limits, SpamAssassin scores, connect failures, a server shutting down, a mail
   loop...);
5. ``[[standard]]``: RFC 3463 codes whose detail names a cause (X.2.2 a full
   mailbox, 4.2.1 and X.5.3 rates, X.4.1, X.4.2 and 4.4.7 the network, X.1.8,
   X.1.2 and X.1.10 the DNS). Words that name a family beat them, because servers
   put a detail code on what it does not mean ("422 4.2.2 Greylisted", Microsoft's
   "554 5.2.2 Submission quota exceeded", Gmail's "5.4.5 Daily sending quota
   exceeded");
6. ``[[hint]]``: words that only hint ("try again later", "blocked", "sender
   rejected"...): a code whose detail names a cause says more;
7. SES's delay type (``TransientCommunicationFailure`` is ``connection``...): before
   tiers 5 and 6 when the only code is SES's generic 4.4.1 or 4.4.7 in its
   ``status`` field (the text carries none): SES's ``MailboxFull`` or ``IPFailure``
   says more than it;
8. ``[rfc3463]``: the class of the enhanced status code (X.4.4 routing is ``dns``,
   X.4.X the network, X.3.X the receiving system);
9. ``unknown``.

SES's own soft-bounce text, "554 4.4.7 Message expired: unable to deliver in 840
minutes.<REPLY>", is judged by the receiver's REPLY: SES's 4.4.7 says only that
it gave up.

An entry may name a second cause (``also``) where two are defensible: Microsoft's
"451 4.7.500 Server busy" is documented as an IP-reputation restriction but reads as
a busy server, so it is ``ip_reputation``, or ``rate_limited``. Alert text shows
both; counting and ``cause_ratio`` use the first. An entry's own advice has an id
(``Cause.advised``) that alert text looks up when the entry decided most of a
cause's recipients (:func:`advice_for`). An entry whose code a provider defines
for itself names it (``owner``): its advice is that provider's, said so for mail
another receives (sesd.core.cause_owners).

Pure and cached: diagnostics repeat, so a classification costs a dict lookup once
a text was seen. Uncached, it is up to about 170 regular-expression searches over
the lower-cased text, each linear (the table bounds every gap), over at most
``MAX_TEXT`` characters: some 80 microseconds for a real diagnostic, and a
stranger's 10 KB text costs a millisecond or two.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

from sesd.core.cause_owners import owned
from sesd.core.cause_table import CAUSES, TIERS, Table, advice_id, load_table

__all__ = [
    "CAUSES",
    "CAUSE_INDEX",
    "DECIDERS",
    "HINTED_BY",
    "INSIDE_SES",
    "MAX_TEXT",
    "TIERS",
    "Cause",
    "advice",
    "advice_for",
    "classify",
    "judge",
    "load_table",
    "named",
]

#: A cause's number (what the windows store; the vocabulary, CAUSES, is fixed, so
#: labels stay bounded).
CAUSE_INDEX: Final = {cause: i for i, cause in enumerate(CAUSES)}
#: What may decide a cause, in the order judged: a delay inside SES, a tier of
#: entries, SES's delay type, the class of the enhanced status code, or nothing
#: (``unknown``). On texts the table was not written from, the first three tiers
#: are right about as often as a second careful reading; the later ones less
#: (TESTING.md, "How far two careful readings agree").
DECIDERS: Final = ("ses", *TIERS, "delay_type", "rfc3463", "none")
#: The deciders that were wrong one time in three on text the table had not seen
#: (a standard code, words that only hint, the code's class): a cause they decide is
#: only hinted at by the text, and alert text says so.
HINTED_BY: Final = frozenset({"standard", "hint", "rfc3463"})
# The tiers SES's delay type goes before when the only code is SES's generic one.
_WEAK_TIERS: Final = frozenset({"standard", "hint"})
# The codes SES's ``status`` field gives when it has nothing more particular to say.
_SES_GENERIC: Final = frozenset({"4.4.1", "4.4.7"})
# An enhanced status code (RFC 3463): not the tail of an IP address or of a longer
# dotted number (Yahoo's "4.16.55.1"), which the look-arounds keep out.
_ENHANCED: Final = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
#: How much of a diagnostic is read: four times the longest reply line RFC 5321 allows
#: (512), so a multi-line reply fits whole; receivers state the cause first, and a
#: longer text is a stranger's, which must not cost more than this.
MAX_TEXT: Final = 2048
# A multi-line SMTP reply arrives joined: "...content presents a potential 552-5.7.0
# security issue". The words are matched with each line's "552-5.7.0" taken out.
_CONTINUATION: Final = re.compile(r"\s[245]\d\d[- ][245]\.\d{1,3}\.\d{1,3}(?=\s)")
# SES's soft bounce: its expiry text, then the receiver's last reply in angle brackets.
_SES_EXPIRED: Final = re.compile(
    r"message expired: unable to deliver in \d{1,6} minutes\.?\s{0,4}<"
)


@dataclass(frozen=True, slots=True)
class Cause:
    """A cause, the advice that goes with it, the enhanced status code found, a second
    cause (``also``, ``""`` when none) where the text supports two, and what decided
    it (``decided_by``: one of :data:`DECIDERS`)."""

    cause: str
    advice: str
    status: str
    also: str = ""
    decided_by: str = "none"
    #: The id of the deciding entry's own advice (``""``: the cause's advice).
    advised: str = ""
    #: The provider whose documentation defines the deciding entry's code, whose
    #: advice it is (``""``: no one's; sesd.core.cause_owners).
    owner: str = ""

    @property
    def hinted(self) -> bool:
        """Whether only a weak decider decided it (:data:`HINTED_BY`)."""
        return self.decided_by in HINTED_BY

    @property
    def label(self) -> str:
        """How text names it: ``rate_limited``, or ``rate_limited, or ip_reputation``."""
        return named(self.cause, self.also)


def named(cause: str, also: str) -> str:
    """A cause as text names it, with its second cause if any:
    ``rate_limited, or ip_reputation``."""
    return f"{cause}, or {also}" if also else cause


_TABLE: Final = load_table(resources.files("sesd.core").joinpath("causes.toml").read_text("utf-8"))
#: The delay types that say a delay is inside SES (an alert's stage says so).
INSIDE_SES: Final = frozenset(_TABLE.inside_ses)


def _reply(diagnostic: str) -> str:
    """The receiver's reply: inside SES's soft-bounce text, the reply it quotes."""
    found = _SES_EXPIRED.search(diagnostic.lower())
    if found is None:
        return diagnostic
    return diagnostic[found.end() :].rstrip().removesuffix(">")


def _code(status: str, diagnostic: str) -> tuple[str, bool]:
    """The enhanced status code that speaks: the receiver's own (the first in its
    text), else SES's ``status`` field (SES may give its generic 4.4.1 or 4.4.7 there
    while the text says 4.7.650); and whether the text gave it."""
    found = _ENHANCED.search(diagnostic)
    if found is not None:
        return found.group(0), True
    found = _ENHANCED.search(status)
    return (found.group(0) if found else ""), False


def _fallback(table: Table, delay_type: str, code: str) -> tuple[str, str]:
    """After the entries: SES's delay type, then the code's class (subject.detail, then
    subject), then ``unknown``; with what decided it."""
    cause = table.delay_types.get(delay_type)
    if cause is not None:
        return cause, "delay_type"
    if code:
        _, subject, detail = code.split(".")
        cause = table.rfc3463.get(f"{subject}.{detail}") or table.rfc3463.get(subject)
        if cause is not None:
            return cause, "rfc3463"
    return "unknown", "none"


def judge(table: Table, delay_type: str, status: str, diagnostic: str) -> Cause:
    """The cause by ``table`` (:func:`load_table`), uncached: for tools that compare
    tables; sesd itself calls :func:`classify`."""
    diagnostic = _reply(diagnostic[:MAX_TEXT])
    code, in_text = _code(status, diagnostic)
    inside = table.inside_ses.get(delay_type)
    if inside is not None:
        advised = advice_id("ses_internal", inside) if inside else ""
        text = inside or table.advice["ses_internal"]
        return Cause("ses_internal", text, code, decided_by="ses", advised=advised)
    words = _CONTINUATION.sub("", diagnostic).lower()
    # Without a code of the receiver's, SES's delay type says more than SES's generic
    # status code or words that only hint.
    by_type = not in_text and code in _SES_GENERIC and delay_type in table.delay_types
    for entry in table.entries:
        if by_type and entry.tier in _WEAK_TIERS:
            break
        if entry.code is not None and entry.code.fullmatch(code) is None:
            continue
        if entry.match is not None and entry.match.search(words) is None:
            continue
        return Cause(
            entry.cause, entry.advice, code, entry.also, entry.tier, entry.advised, entry.owner
        )
    cause, decided_by = _fallback(table, delay_type, code)
    return Cause(cause, table.advice[cause], code, decided_by=decided_by)


def classify(delay_type: str | None, status: str | None, diagnostic: str | None) -> Cause:
    """The cause of one delayed (or soft-bounced) recipient."""
    # Cut before the cache: what is not read must not be kept (a stranger's megabyte
    # per entry, thousands of entries).
    return _classify(
        (delay_type or "")[:MAX_TEXT], (status or "")[:MAX_TEXT], (diagnostic or "")[:MAX_TEXT]
    )


@functools.lru_cache(maxsize=8192)
def _classify(delay_type: str, status: str, diagnostic: str) -> Cause:
    return judge(_TABLE, delay_type, status, diagnostic)


def advice(cause: str) -> str:
    """What to do about a cause (its default advice)."""
    return _TABLE.advice.get(cause, _TABLE.advice["unknown"])


def advice_for(
    cause: str, recipients: int, advised: Sequence[tuple[str, int]], provider: str | None
) -> str:
    """What to do about the dominant ``cause`` of a window's ``recipients``: the advice of
    the entry that decided it for at least half of them (``advised``: advice ids with
    their counts, most first), else the cause's advice. An id this table does not know
    (a state file from another build) is passed over. ``provider``: who receives the
    mail (None when not known), which an entry's advice whose code a provider owns is
    given for (sesd.core.cause_owners)."""
    for advised_id, n in advised:
        found = _TABLE.advised.get(advised_id)
        if found is not None and found.cause == cause:
            if 2 * n < recipients:
                return advice(cause)
            return owned(found.text, found.owner, provider)
    return advice(cause)
