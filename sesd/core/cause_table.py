"""The table of causes (``sesd/core/causes.toml``), loaded and checked whole: its
advice per cause, its fallbacks, and its tiers of entries, each with its patterns
compiled for lower-cased text and the id of its own advice. sesd.core.causes judges
by it. Pure.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from sesd.core.cause_owners import OWNERS

__all__ = ["CAUSES", "TIERS", "Advice", "Entry", "Table", "advice_id", "load_table", "lowered"]

#: The vocabulary (a label's values): fixed, so labels stay bounded.
CAUSES: Final = (
    "ses_internal",
    "ip_reputation",
    "rate_limited",
    "greylisted",
    "mailbox_full",
    "authentication",
    "blocklisted",
    "content",
    "connection",
    "dns",
    "recipient_server",
    "unknown",
)
#: The table's tiers of entries, in the order they are judged.
TIERS: Final = ("status", "provider", "wording", "standard", "hint")
# What a table may hold: its advice, its fallbacks and its tiers of entries; a tier
# misspelt ("[[hints]]") would otherwise be read as nothing at all.
_TABLE_KEYS: Final = frozenset({"advice", "inside_ses", "delay_types", "rfc3463", *TIERS})
# The keys an entry may have.
_ENTRY_KEYS: Final = frozenset({"cause", "also", "code", "match", "advice", "owner"})
# An escape (``\W`` is not ``\w``, so it stays) or a capital letter (lower-cased).
_PATTERN_PART: Final = re.compile(r"\\.|[A-Z]")


def _lower_letter(found: re.Match[str]) -> str:
    part = found.group()
    return part if part[0] == "\\" else part.lower()


def lowered(pattern: str) -> str:
    """``pattern`` for lower-cased text: its letters lower-cased, its escapes kept."""
    return _PATTERN_PART.sub(_lower_letter, pattern)


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a tier: the cause (and second cause) it decides, what it matches,
    its advice (its own, else the cause's), that advice's id (``""``: the cause's) and
    the provider whose code it is (``""``: no one's)."""

    tier: str
    cause: str
    also: str
    code: re.Pattern[str] | None
    match: re.Pattern[str] | None
    advice: str
    advised: str
    owner: str


class Advice(NamedTuple):
    """An entry's own advice, found by its id: for which cause, and whose."""

    cause: str
    text: str
    owner: str


@dataclass(frozen=True, slots=True)
class Table:
    """A loaded table: its entries in the order judged, advice per cause and per delay
    type inside SES, the fallbacks, and every entry's own advice by its id."""

    entries: tuple[Entry, ...]
    advice: dict[str, str]
    inside_ses: dict[str, str]
    delay_types: dict[str, str]
    rfc3463: dict[str, str]
    #: An entry's own advice by its id.
    advised: dict[str, Advice]


def advice_id(cause: str, text: str) -> str:
    """A short id of a cause's advice that stays the same while its text does (alert
    text finds it again in a breakdown, and in a state file from an earlier run)."""
    return hashlib.blake2s(f"{cause}\n{text}".encode(), digest_size=5).hexdigest()


def _cause_of(value: object, where: str) -> str:
    if value not in CAUSES:
        raise ValueError(f"causes.toml: {where}: unknown cause {value!r}")
    return str(value)


def _entry(raw: dict[str, Any], tier: str, where: str, advice: dict[str, str]) -> Entry:
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"causes.toml: {where}: unknown key(s) {', '.join(sorted(unknown))}")
    cause = _cause_of(raw.get("cause"), where)
    also = _cause_of(raw["also"], where) if "also" in raw else ""
    if also == cause:
        raise ValueError(f"causes.toml: {where}: `also` repeats the cause {cause!r}")
    if "code" not in raw and "match" not in raw:
        raise ValueError(f"causes.toml: {where}: needs `code`, `match` or both")
    try:
        # A code matches whole (4.7.5 is not 4.7.500); words anywhere, in any case: the
        # text is lower-cased once and so is each pattern, which searches twice as fast
        # as re.IGNORECASE does.
        code = re.compile(raw["code"]) if "code" in raw else None
        match = re.compile(lowered(raw["match"])) if "match" in raw else None
    except re.error as exc:
        raise ValueError(f"causes.toml: {where}: bad pattern: {exc}") from None
    own, owner = raw.get("advice", ""), raw.get("owner", "")
    if owner and owner not in OWNERS:
        raise ValueError(
            f"causes.toml: {where}: `owner` {owner!r} is no provider ({', '.join(OWNERS)})"
        )
    if owner and not own:
        raise ValueError(
            f"causes.toml: {where}: `owner` without `advice`: the cause's advice is no one's"
        )
    if owner and "code" not in raw:
        # Alert text says the owner documents this code: words alone decided here, with
        # whatever code (or none) came with them.
        raise ValueError(
            f"causes.toml: {where}: `owner` without `code`: the owner documents a code; "
            "a receiver's own words name it in the advice"
        )
    advised = advice_id(cause, own) if own else ""
    return Entry(tier, cause, also, code, match, own or advice[cause], advised, owner)


def load_table(text: str) -> Table:
    """The table a ``causes.toml`` text describes, checked whole: a ValueError names
    the first problem (an unknown table, cause or key, a bad pattern, a missing
    advice, an owner that is no provider or has no advice or code to own, or two
    owners of one advice)."""
    data = tomllib.loads(text)
    strangers = set(data) - _TABLE_KEYS
    if strangers:
        raise ValueError(f"causes.toml: unknown table(s) {', '.join(sorted(strangers))}")
    advice: dict[str, str] = data["advice"]
    missing = [cause for cause in CAUSES if cause not in advice]
    if missing:
        raise ValueError(f"causes.toml: [advice] misses {', '.join(missing)}")
    placed = [
        (f"[[{tier}]] #{n}", _entry(raw, tier, f"[[{tier}]] #{n}", advice))
        for tier in TIERS
        for n, raw in enumerate(data.get(tier, []), 1)
    ]
    entries = [entry for _, entry in placed]
    fallbacks = {"delay_types": data["delay_types"], "rfc3463": data["rfc3463"]}
    for name, table in fallbacks.items():
        for key, cause in table.items():
            _cause_of(cause, f"[{name}] {key}")
    inside_ses: dict[str, str] = data["inside_ses"]
    advised = {
        advice_id("ses_internal", t): Advice("ses_internal", t, "")
        for t in inside_ses.values()
        if t
    }
    for where, entry in placed:
        if not entry.advised:
            continue  # the cause's advice, no one's
        found = advised.setdefault(entry.advised, Advice(entry.cause, entry.advice, entry.owner))
        if found.owner != entry.owner:
            # Alert text finds an advice by its id, its words: one owner's, or the other's.
            raise ValueError(
                f"causes.toml: {where}: the advice of an entry whose `owner` is "
                f"{found.owner!r}, with another owner ({entry.owner!r})"
            )
    return Table(
        tuple(entries),
        advice,
        inside_ses,
        fallbacks["delay_types"],
        fallbacks["rfc3463"],
        advised,
    )
