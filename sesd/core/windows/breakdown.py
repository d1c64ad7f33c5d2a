"""What problem events said, kept for alert text: top delay types, SMTP status
and diagnostic codes, reporting MTAs, causes (and causes named with a second
one), the table entries' own advice, recipient domains (in a provider's windows);
recent examples (message ids, sending identities, configuration sets) are kept
by sesd.core.windows.examples.

Counts are kept per coarse bucket (about a sixth of a window), so a window's
breakdown can include up to a sixth of a window more than the window itself.
Each coarse bucket counts at most ``KEYS_PER_BUCKET`` distinct values; the
rest count under :data:`OVERFLOW`. Texts arrive cleaned (sesd.core.text).

Pure code: no clock, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import msgspec

from sesd.core.causes import CAUSE_INDEX, named
from sesd.core.text import clean, clean_once, mta_name
from sesd.core.windows.examples import (
    CONFIG_SET,
    EXAMPLES,
    MESSAGE_ID,
    OTHER_MESSAGE_ID,
    SOURCE,
    Examples,
)

__all__ = [
    "ADVISED",
    "BOUNCE_DIAGNOSTIC",
    "BOUNCE_MTA",
    "BOUNCE_STATUS",
    "CAUSE",
    "CONFIG_SET",
    "DELAY_TYPE",
    "DIAGNOSTIC",
    "DOMAIN",
    "EXAMPLES",
    "HINTED_CAUSE",
    "MESSAGE_ID",
    "MTA",
    "OTHER_MESSAGE_ID",
    "OVERFLOW",
    "SECOND_CAUSE",
    "SOURCE",
    "STATUS",
    "Breakdown",
    "Details",
    "Examples",
    "Noted",
    "Problem",
    "detail_key",
    "noted",
    "problem_kinds",
]

# The kinds a breakdown counts (the kinds it keeps examples of: sesd.core.windows.
# examples). What bounces and complaints said is kept apart from what delays said: a
# delay alert names the delays' codes, MTAs and messages, a bounce alert the bounces'.
DELAY_TYPE, STATUS, DIAGNOSTIC, MTA, CAUSE, DOMAIN, SECOND_CAUSE, HINTED_CAUSE = range(8)
BOUNCE_STATUS, BOUNCE_DIAGNOSTIC, BOUNCE_MTA, ADVISED = 8, 9, 10, 11
_KINDS: Final = 12

#: Distinct values one coarse bucket counts; the rest count as OVERFLOW.
KEYS_PER_BUCKET: Final = 64
#: What values past the bound count as.
OVERFLOW: Final = "(other values)"
#: Coarse buckets per window.
DETAIL_BUCKETS: Final = 6

#: A (kind, value) key, typed ``object`` where stored: one shared tuple per distinct
#: pair, so the same SMTP status in a hundred buckets is stored once.
_Key = object
_KEYS: dict[tuple[int, str], _Key] = {}
_KEYS_MAX: Final = 50_000


def detail_key(kind: int, value: str) -> _Key:
    """The key :meth:`Details.add` counts ``value`` of ``kind`` under (made once per
    problem recipient, counted in each of its windows)."""
    key = (kind, value)
    found = _KEYS.get(key)
    if found is None:
        found = key
        if len(_KEYS) < _KEYS_MAX:
            _KEYS[key] = found
    return found


#: Each text as it came, by kind, and the key of its cleaned value: the same few
#: diagnostics, statuses, MTAs and domains come with every problem recipient of an
#: incident, and are cleaned and keyed once. Short texts only (a stranger's long one
#: must keep no more than clean() reads of it); emptied when full.
_COUNTED: dict[tuple[int, str], _Key] = {}
_COUNTED_MAX: Final = 1024
_COUNTED_CHARS: Final = 1024


def _counted(kind: int, text: str) -> _Key:
    """:func:`detail_key` of ``text`` cleaned (sesd.core.text.clean), for ``kind``."""
    found = _COUNTED.get((kind, text))
    if found is None:
        found = detail_key(kind, clean(text))
        if len(text) <= _COUNTED_CHARS:
            if len(_COUNTED) >= _COUNTED_MAX:
                _COUNTED.clear()
            _COUNTED[kind, text] = found
    return found


def _pair(key: _Key) -> tuple[int, str]:
    return cast(tuple[int, str], key)


#: A problem recipient's keys (a :class:`Noted`'s) and its domain's key where its
#: window keeps one: what a window stages for its breakdowns (sesd.core.windows.domain).
Problem = tuple[tuple[_Key, ...], _Key | None]


def _count(details: dict[_Key, int], keys: Sequence[_Key], n: int) -> None:
    """Count each key ``n`` times in one coarse bucket, those past its bound as
    :data:`OVERFLOW` of their kind."""
    # One lookup of a key before its count is written, not a test and then a get: a
    # key is a tuple, hashed again at each.
    for key in keys:
        held = details.get(key)
        if held is None and len(details) >= KEYS_PER_BUCKET:
            key = detail_key(_pair(key)[0], OVERFLOW)
            held = details.get(key)
        details[key] = n if held is None else held + n


def _count_noted(details: dict[_Key, int], problems: Mapping[Problem, int]) -> None:
    """Count staged problems in one coarse bucket, each as many times as it was noted,
    in the order first noted: the same counts, and the same values past the bound, as
    one count a recipient in the order they came (whether a key counts as itself or as
    :data:`OVERFLOW` is settled when it is first counted, in the same order)."""
    for (keys, domain), n in problems.items():
        _count(details, keys, n)
        if domain is not None:
            _count(details, (domain,), n)


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Top values over one window, most frequent first, with counts."""

    delay_types: list[tuple[str, int]] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    diagnostics: list[tuple[str, int]] = field(default_factory=list)
    mtas: list[tuple[str, int]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    config_sets: list[str] = field(default_factory=list)
    causes: list[tuple[str, int]] = field(default_factory=list)
    #: Recipient domains with problems (in a provider's windows).
    domains: list[tuple[str, int]] = field(default_factory=list)
    #: Causes noted with a second one, as text names them ("ip_reputation, or
    #: rate_limited"); each also counts under its first in ``causes``.
    second_causes: list[tuple[str, int]] = field(default_factory=list)
    #: Causes noted from weak evidence only (sesd.core.causes.HINTED_BY); each also
    #: counts under ``causes``.
    hinted_causes: list[tuple[str, int]] = field(default_factory=list)
    #: The ids of the advice of the table entries that decided causes, where an entry
    #: has advice of its own (sesd.core.causes.advice_for).
    advised: list[tuple[str, int]] = field(default_factory=list)


class Details:
    """Counts per (kind, value) per coarse bucket of one window's ring."""

    __slots__ = ("buckets", "span")

    def __init__(self, slots: int) -> None:
        self.span = max(1, slots // DETAIL_BUCKETS)  # ring buckets per coarse bucket
        self.buckets: dict[int, dict[_Key, int]] = {}

    def add(self, bucket: int, keys: Sequence[_Key]) -> None:
        """Count values (each a :func:`detail_key`) in the coarse bucket holding ring
        bucket ``bucket``; with none (a complaint with no source or configuration set),
        no bucket is made."""
        if not keys:
            return
        coarse = bucket // self.span
        details = self.buckets.get(coarse)
        if details is None:
            details = self.buckets[coarse] = {}
        _count(details, keys, 1)

    def add_noted(self, bucket: int, problems: Mapping[Problem, int]) -> None:
        """Count what problem recipients said (each :data:`Problem` as many times as it
        was noted) in the coarse bucket holding ring bucket ``bucket``, as one
        :meth:`add` a recipient would (see :func:`_count_noted`)."""
        coarse = bucket // self.span
        details = self.buckets.get(coarse, {})
        _count_noted(details, problems)
        if details:  # (a bucket only for a problem that named something, as in add())
            self.buckets[coarse] = details

    def prune(self, oldest: int) -> None:
        """Forget coarse buckets wholly before ring bucket ``oldest`` (write side)."""
        first = oldest // self.span
        for coarse in [c for c in self.buckets if c < first]:
            del self.buckets[coarse]

    def top(
        self,
        lo: int,
        hi: int,
        top_n: int,
        staged: tuple[int, Mapping[Problem, int]] | None = None,
    ) -> list[list[tuple[str, int]]]:
        """Per kind, the ``top_n`` values over the coarse buckets touching ring buckets
        ``(lo, hi]``, most frequent first (ties by value), with ``staged`` (a ring bucket
        and problems :meth:`add_noted` would count in it) as if it were written."""
        counts: Counter[_Key] = Counter()
        first, last = (lo + 1) // self.span, hi // self.span
        buckets = self.buckets
        if staged is not None:  # counted in a copy of their bucket, as a write would
            bucket, problems = staged
            coarse = bucket // self.span
            held = dict(buckets.get(coarse) or {})
            _count_noted(held, problems)
            buckets = {**buckets, coarse: held}
        for coarse, details in buckets.items():
            if first <= coarse <= last:
                counts.update(details)
        per_kind: list[list[tuple[str, int]]] = [[] for _ in range(_KINDS)]
        for key, n in counts.items():
            kind, value = _pair(key)
            per_kind[kind].append((value, n))
        return [sorted(found, key=lambda p: (-p[1], p[0]))[:top_n] for found in per_kind]

    def snapshot(self) -> dict[int, list[list[Any]]]:
        """Plain data for the state file."""
        return {c: [[*_pair(k), n] for k, n in d.items()] for c, d in self.buckets.items()}

    def restore(self, data: dict[Any, list[list[Any]]]) -> None:
        """Load what :meth:`snapshot` returned. A kind this sesd does not know (a later
        one wrote the file, then was rolled back) is left out, not read as another. Each
        text is cleaned as a live one is: a file an older build saved (or a hand edited)
        may hold one as it came: two that clean to one value count as one, their counts
        added, and a bucket's values past the bound count as :data:`OVERFLOW`, as
        :meth:`add` counts them (a file sesd wrote reads back as it was)."""
        self.buckets = {}
        for c, d in data.items():
            details: dict[_Key, int] = {}
            for k, v, n in d:
                kind = int(k)
                if not 0 <= kind < _KINDS:
                    continue
                key = detail_key(kind, clean(str(v)))
                held = details.get(key)
                if held is None and len(details) >= KEYS_PER_BUCKET:
                    key = detail_key(kind, OVERFLOW)
                    held = details.get(key)
                details[key] = int(n) if held is None else held + int(n)
            self.buckets[int(c)] = details


class Noted(msgspec.Struct):
    """What one problem recipient's event said, cleaned once for every window it is
    noted in (one per scope): example texts by kind, breakdown keys, the index of a
    cause to count (in CAUSES; -1 for none) and the recipient's domain's key (None
    without one). Its keys may be shared with every recipient whose texts were alike
    (:func:`noted` makes them a tuple): read them, do not change them. A msgspec Struct,
    made in C: a class's ``__init__`` cost 1,300 instructions more a problem recipient
    (cachegrind)."""

    examples: list[tuple[int, str]]
    keys: tuple[_Key, ...]
    cause: int
    domain: _Key | None


def problem_kinds(delay: bool) -> tuple[int, int, int, int]:
    """The kinds a delay's SMTP status, diagnostic and MTA are counted under, and the
    example kind of its message id; not ``delay`` (a bounce, a complaint): theirs, kept
    apart from the delays'."""
    if delay:
        return STATUS, DIAGNOSTIC, MTA, MESSAGE_ID
    return BOUNCE_STATUS, BOUNCE_DIAGNOSTIC, BOUNCE_MTA, OTHER_MESSAGE_ID


#: What :func:`noted` made of a problem recipient's texts but its message id and domain
#: (the examples after the message id's, the keys, the cause number), by those texts and
#: flags: an incident's problem recipients bring the same few, and cleaning and keying
#: them again cost about 25,000 instructions a recipient (counted under cachegrind).
#: Kept only when the texts are short together (a stranger's long one must not be held,
#: as for _COUNTED) and few (thousands of empty ones are short, and a long key); emptied
#: when full. Each Noted made from an entry shares its keys, a tuple: no holder can
#: change what the next recipient is given.
_Made = tuple[tuple[tuple[int, str], ...], tuple[_Key, ...], int]
_NOTED: dict[tuple[object, ...], _Made] = {}
_NOTED_MAX: Final = 1024
_NOTED_CHARS: Final = 1024
_NOTED_ITEMS: Final = 8  # statuses and diagnostics together (a recipient has one each)


def noted(
    *,
    message_id: str,
    source: str,
    config_set: str,
    delay_type: str = "",
    statuses: Sequence[str] = (),
    diagnostics: Sequence[str] = (),
    mta: str = "",
    cause: str = "",
    also: str = "",
    hinted: bool = False,
    advised: str = "",
    count_cause: bool = False,
    domain: str = "",
    delay: bool = True,
) -> Noted:
    """What a problem event says of one recipient, for :meth:`DomainWindows.note`. Every
    text comes from a stranger (sesd.core.text): addresses hidden, bounded, escaped; an
    MTA is kept by its name, without RFC 3464's type (``dsn;``). With ``count_cause``
    (a delayed recipient) its cause is counted; ``also`` is its second cause, if any;
    ``hinted``: only weak evidence decided the cause; ``advised``: the id of the advice
    of the entry that decided it, if it has its own. Not a ``delay`` (a bounce, a
    complaint): its codes, MTA and message id are kept apart from the delays'."""
    texts = (
        source,
        config_set,
        delay_type,
        tuple(statuses),
        tuple(diagnostics),
        mta,
        cause,
        also,
        hinted,
        advised,
        count_cause,
        delay,
    )
    made = _NOTED.get(texts)
    if made is None:
        made = _made(*texts)
        size = sum(map(len, statuses)) + sum(map(len, diagnostics))
        size += len(source) + len(config_set) + len(delay_type) + len(mta) + len(cause)
        items = len(statuses) + len(diagnostics)
        if size + len(also) + len(advised) <= _NOTED_CHARS and items <= _NOTED_ITEMS:
            if len(_NOTED) >= _NOTED_MAX:
                _NOTED.clear()
            _NOTED[texts] = made
    others, keys, cause_index = made
    id_kind = MESSAGE_ID if delay else OTHER_MESSAGE_ID
    # The domain's key as _counted() finds it, its lookup written out (a domain repeats
    # in an incident: the call cost 600 instructions a problem recipient, cachegrind).
    domain_key = (_COUNTED.get((DOMAIN, domain)) or _counted(DOMAIN, domain)) if domain else None
    return Noted([(id_kind, clean_once(message_id)), *others], keys, cause_index, domain_key)


def _made(
    source: str,
    config_set: str,
    delay_type: str,
    statuses: tuple[str, ...],
    diagnostics: tuple[str, ...],
    mta: str,
    cause: str,
    also: str,
    hinted: bool,
    advised: str,
    count_cause: bool,
    delay: bool,
) -> _Made:
    """:func:`noted` but for the message id and the domain (its _NOTED entry)."""
    status_kind, diagnostic_kind, mta_kind, _ = problem_kinds(delay)
    examples = []
    if source:
        examples.append((SOURCE, clean(source)))
    if config_set:
        examples.append((CONFIG_SET, clean(config_set)))
    keys = [_counted(DELAY_TYPE, delay_type)] if delay_type else []
    keys += [_counted(status_kind, status) for status in statuses if status]
    keys += [_counted(diagnostic_kind, text) for text in diagnostics if text]
    mta = mta_name(mta)
    if mta:
        keys.append(_counted(mta_kind, mta))
    if cause:
        keys.append(detail_key(CAUSE, cause))
        if also:
            keys.append(detail_key(SECOND_CAUSE, named(cause, also)))
        if hinted:
            keys.append(detail_key(HINTED_CAUSE, cause))
        if advised:
            keys.append(detail_key(ADVISED, advised))
    cause_index = CAUSE_INDEX[cause] if count_cause and cause else -1
    return tuple(examples), tuple(keys), cause_index
