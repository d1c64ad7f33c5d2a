"""How long a recipient domain's slots hold once found: the pipeline keeps them per
domain for that long, and a recipient at a kept domain then costs one lookup, not its
label's, its provider's answer's and its provider's slot's.

Pure. Slots hold while nothing they were found from can change without the pipeline
hearing of it: the provider cache drops a domain's entry from its readers when the
domain's answer changes or leaves the cache, or its lookup is abandoned; the pipeline
drops entries itself when labels are evicted (a domain counted under ``other`` may be
admitted then) and when the configuration is reloaded.
"""

from __future__ import annotations

from typing import Final

from sesd.core.domains import domain_of
from sesd.core.ledger import Ledger
from sesd.core.providers import UNKNOWN
from sesd.core.scopes import Slot

__all__ = ["MAX_OTHERS", "Domains", "Kept", "domains_of", "with_provider"]

#: A domain's slots, one per scope but the tenant's, and until when they hold.
Kept = tuple[float, tuple[Slot, ...]]
#: Each recipient's normalised domain and, when that domain as written has slots kept,
#: them; None when it has no usable domain.
Domains = list[tuple[str, Kept | None] | None]
#: How many domains' slots may be kept, at most, when one counted under ``other`` is
#: to be kept too: a flood of domains grows the pipeline's map by this many entries.
MAX_OTHERS: Final = 4096
_FOREVER: Final = float("inf")


def with_provider(
    ledger: Ledger, provider_slots: dict[str, Slot], found: Slot, domain: str, now: float
) -> Kept:
    """A domain's slot ``found`` and, with providers, its provider's (its slot found in
    ``provider_slots``, or made there); until when they hold (``now`` when they may not
    hold past this recipient)."""
    providers = ledger.providers
    if providers is None:
        return _FOREVER, (found,)
    cached = providers.cache.get(domain)
    if cached is not None and cached[1] > now:
        provider, until = cached  # ProviderCache.provider()'s first answer, inline
    else:
        provider = providers.provider(domain, now)
        # A consumer domain's provider, known by its name, holds until an answer comes
        # for it; so does the answer of a domain waiting for its lookup (asking again
        # changes nothing) until the lookup answers or is abandoned. Not one whose
        # lookup the full queue left unasked: the next recipient asks for it again.
        waiting = domain in providers.wanted or domain in providers.looking
        until = _FOREVER if waiting or (cached is None and provider != UNKNOWN) else now
    slot = provider_slots.get(provider)
    if slot is None:
        assert ledger.by_provider is not None
        slot = provider_slots[provider] = ledger.by_provider.slot(provider)
    return until, (found, slot)


def domains_of(
    kept: dict[str, Kept], known: dict[str, Slot], recipients: list[str]
) -> tuple[Domains, int]:
    """Each recipient's domain (:data:`Domains`), its slots found in ``kept`` by the
    domain as written, and how many have none usable (counted here: counting the Nones
    after cost two calls an event). A domain written in normal form, kept or ``known``
    (a label's), is taken as written, without normalising it."""
    domains: Domains = []
    unusable = 0
    for address in recipients:
        at = address.rfind("@")
        written = address[at + 1 :] if at >= 0 else ""
        found = kept.get(written)  # kept: known too (both keep admitted domains)
        if found is not None or written in known:
            domains.append((written, found))
        else:
            domain = domain_of(address)
            if domain is None:
                unusable += 1
                domains.append(None)
            else:
                domains.append((domain, None))
    return domains, unusable
