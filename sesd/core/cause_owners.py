"""Whose a cause's advice is. A receiver's own code (Microsoft's 4.7.500, Gmail's
4.7.28) means what that receiver's documentation says in that receiver's replies
only: another server (a gateway in front of a company's mail, a receiver sesd has
not placed) may send the same code with a meaning of its own. Its advice is then
given as the owner's, and says so first. Pure.
"""

from __future__ import annotations

from typing import Final

from sesd.core.providers import NONE, OTHER, UNKNOWN

__all__ = ["OWNERS", "owned"]

#: The providers whose documentation a table entry's code may be (its ``owner``), as
#: text names them.
OWNERS: Final = {
    "google": "Google",
    "microsoft": "Microsoft",
    "yahoo": "Yahoo",
    "apple": "Apple",
    "proton": "Proton",
    "zoho": "Zoho",
    "fastmail": "Fastmail",
    "yandex": "Yandex",
    "mailru": "Mail.ru",
}
#: Labels that place no receiver: its MX in no table, no mail, not resolved yet.
_NOT_PLACED: Final = frozenset({OTHER, NONE, UNKNOWN})


def owned(advice: str, owner: str, provider: str | None) -> str:
    """``advice`` of a table entry whose code ``owner`` documents (``""``: a code no
    provider owns), for mail that ``provider`` receives (None when not known: a group's,
    a tenant's, a domain not looked up yet): as it is for the owner's own mail; for
    another's, or mail not placed, saying first whose code it is."""
    if not owner or provider == owner:
        return advice
    who = OWNERS.get(owner, owner)
    if provider is None or provider in _NOT_PLACED:
        return (
            f"{who} documents this code, and this mail's receiver is not known to be "
            f"{who}'s: another may mean something else by it; read the diagnostic. "
            f"{who}'s advice: {advice}"
        )
    return (
        f"{who} documents this code, but this mail goes to provider {provider}, which may "
        f"mean something else by it: read the diagnostic. {who}'s advice: {advice}"
    )
