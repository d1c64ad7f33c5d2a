"""The dominant cause of a window's problems as people read it: the label (with its
second cause when the text supports both), how many recipients it was noted for,
and the advice; alert text and the status page say it alike."""

from __future__ import annotations

from sesd.core.causes import advice_for
from sesd.core.providers import consumer_provider
from sesd.core.scopes import DOMAIN, PROVIDER
from sesd.core.windows import Breakdown

__all__ = [
    "cause_advice",
    "cause_noted",
    "dominant_cause",
    "hinted_count",
    "mostly_hinted",
    "receiver",
]


def dominant_cause(breakdown: Breakdown) -> str:
    """The dominant cause of a breakdown that has causes, as text names it: with its
    second cause when at least half of its recipients came with that one
    ("rate_limited, or ip_reputation")."""
    cause, n = breakdown.causes[0]
    for label, count in breakdown.second_causes:
        if label.startswith(f"{cause}, or ") and 2 * count >= n:
            return label
    return cause


def hinted_count(breakdown: Breakdown) -> int:
    """How many of the dominant cause's recipients only weak evidence decided (a
    standard code, words that only hint, the code's class)."""
    cause = breakdown.causes[0][0]
    return next((n for label, n in breakdown.hinted_causes if label == cause), 0)


def mostly_hinted(breakdown: Breakdown) -> bool:
    """Whether at least half of the dominant cause's recipients only had it hinted
    at: on new text such causes were wrong one time in three."""
    return 2 * hinted_count(breakdown) >= breakdown.causes[0][1]


def cause_noted(breakdown: Breakdown) -> str:
    """How many recipients the dominant cause of a breakdown that has causes was noted
    for ("12 of 15 noted"), and, when the text mostly only hinted at it, how many of
    them and what to do."""
    n = breakdown.causes[0][1]
    noted = f"{n} of {sum(count for _, count in breakdown.causes)} noted"
    if mostly_hinted(breakdown):
        noted += f"; {hinted_count(breakdown)} only hinted at by the text: read the diagnostics"
    return noted


def cause_advice(breakdown: Breakdown, provider: str | None) -> str:
    """What to do about the dominant cause of a breakdown that has causes: the advice
    of the table entry that decided it for most of its recipients, if it has its own
    (Gmail's duplicate Message-ID limit is no volume burst), for mail ``provider``
    receives (None: not known): a provider's own code's advice is that provider's, said
    so for another's mail (sesd.core.cause_owners)."""
    cause, n = breakdown.causes[0]
    return advice_for(cause, n, breakdown.advised, provider)


def receiver(scope: str, label: str, provider: str | None) -> str | None:
    """Who receives the mail of an alert's label (a domain's ``provider`` as last found,
    None when not known), whose own codes its advice is given for: a provider's alert
    is its provider's; a tenant's, a group's or the canary's mail goes to any. A
    consumer domain is its provider's by name (gmail.com is Google's) with the lookups
    off too, as it is with them on: its alert must not say its receiver is not known."""
    if scope == PROVIDER:
        return label
    if scope != DOMAIN:
        return None
    return provider if provider is not None else consumer_provider(label)
