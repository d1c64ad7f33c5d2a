"""Why a recipient was delayed: a cause from SES's delay type, the SMTP status and the
diagnostic text, with advice on what to do.

The patterns are data, in ``sesd/causes.toml``, read once. Order of judgement:

1. a delay inside SES (``InternalFailure``, ``SendingDeferral``) is ``ses_internal``;
2. the first pattern that matches "STATUS DIAGNOSTIC";
3. SES's delay type (``TransientCommunicationFailure`` is ``connection``...);
4. the RFC 3463 class of the enhanced status code (X.2.2 a full mailbox, X.4.X
   the network, X.3.X the receiving system);
5. ``unknown``.

Pure and cached: diagnostics repeat, so a classification costs a dict lookup
once a text was seen.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Final

__all__ = ["CAUSES", "CAUSE_INDEX", "Cause", "advice", "classify"]

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
#: A cause's number (what the windows store).
CAUSE_INDEX: Final = {cause: i for i, cause in enumerate(CAUSES)}
_INSIDE_SES: Final = frozenset({"InternalFailure", "SendingDeferral"})
_ENHANCED: Final = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
#: RFC 3463 subjects: X.2.2 mailbox full, X.4.X network and routing, X.3.X mail system.
_RFC3463: Final = {(2, 2): "mailbox_full"}
_RFC3463_SUBJECT: Final = {4: "connection", 3: "recipient_server"}


@dataclass(frozen=True, slots=True)
class Cause:
    """A cause, the advice that goes with it, and the enhanced status code found."""

    cause: str
    advice: str
    status: str


@dataclass(frozen=True, slots=True)
class _Pattern:
    cause: str
    regex: re.Pattern[str]
    advice: str


@dataclass(frozen=True, slots=True)
class _Table:
    patterns: tuple[_Pattern, ...]
    advice: dict[str, str]
    delay_types: dict[str, str]


@functools.cache
def _table() -> _Table:
    data = tomllib.loads(resources.files("sesd.core").joinpath("causes.toml").read_text("utf-8"))
    advice: dict[str, str] = data["advice"]
    patterns = []
    for entry in data["pattern"]:
        if entry["cause"] not in CAUSES:
            raise ValueError(f"causes.toml: unknown cause {entry['cause']!r}")
        patterns.append(
            _Pattern(
                entry["cause"],
                re.compile(entry["match"], re.IGNORECASE),
                entry.get("advice", advice[entry["cause"]]),
            )
        )
    return _Table(tuple(patterns), advice, data["delay_types"])


def _status(status: str, diagnostic: str) -> str:
    """The enhanced status code: SES's ``status`` field, else the first in the text."""
    found = _ENHANCED.search(status) or _ENHANCED.search(diagnostic)
    return found.group(0) if found else ""


@functools.lru_cache(maxsize=8192)
def classify(delay_type: str | None, status: str | None, diagnostic: str | None) -> Cause:
    """The cause of one delayed (or soft-bounced) recipient."""
    table = _table()
    status, diagnostic = status or "", diagnostic or ""
    code = _status(status, diagnostic)
    if delay_type in _INSIDE_SES:
        return Cause("ses_internal", table.advice["ses_internal"], code)
    text = f"{status} {diagnostic}"
    for pattern in table.patterns:
        if pattern.regex.search(text):
            return Cause(pattern.cause, pattern.advice, code)
    cause = table.delay_types.get(delay_type or "")
    if cause is None and code:
        _, subject, detail = (int(part) for part in code.split("."))
        cause = _RFC3463.get((subject, detail)) or _RFC3463_SUBJECT.get(subject)
    cause = cause or "unknown"
    return Cause(cause, table.advice[cause], code)


def advice(cause: str) -> str:
    """What to do about a cause (its default advice)."""
    return _table().advice.get(cause, _table().advice["unknown"])
