"""Which labels a rule steps: its named domains (or providers, tenants), those of its
globs that have windows, less its exclusions; and the labels that still have a state,
so an alert whose label went quiet (or was evicted) still resolves."""

from __future__ import annotations

from collections.abc import Collection

from sesd.config import RuleConfig, is_glob
from sesd.core.domains import group_named, normalise_domain, takes_glob, takes_name
from sesd.core.providers import NOT_PROVIDERS, UNKNOWN
from sesd.core.scopes import DOMAIN, PROVIDER, Scope

__all__ = ["Listing", "labels", "takes"]


def labels(rule: RuleConfig, scope: Scope, stated: Collection[str]) -> list[str]:
    """The rule's labels in ``scope``, with ``stated`` (those with a state), sorted."""
    watched = rule.watched
    globs = [d for d in watched if is_glob(d)]
    if scope.axis == DOMAIN:
        names = [d for d in watched if not is_glob(d)]
        # A domain in its normal form; a group by its name as written (Consumer-MS),
        # a root dot typed after it or not.
        wanted = {normalise_domain(d) or d for d in names}
        wanted.update(g for d in names if (g := group_named(d, scope.windows)) is not None)
        candidates = list(scope.windows)
    else:
        wanted = {d for d in watched if not is_glob(d)}
        named_only = _named_only(rule)
        candidates = [p for p in scope.windows if p not in named_only]
    if "*" in globs:
        # Every label: the default rule's glob, asked at every evaluation of every label.
        wanted.update(candidates)
    elif globs:
        domains = scope.axis == DOMAIN
        wanted.update(d for d in candidates if any(takes_glob(d, g, domains) for g in globs))
    if rule.excluded:
        wanted = {d for d in wanted if not _excluded(rule, d)}
    return sorted(wanted | set(stated))


class Listing:
    """:func:`labels` of each rule at each evaluation, answered again while neither the
    scope's labels nor the rule's states have changed since (most evaluations): listing
    them anew (every label hashed into sets, then sorted) cost about 300,000
    instructions an evaluation for a rule over 200 domains, and comparing what it
    depends on about a tenth of that (the replay benchmark counted under cachegrind)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        # Rule name -> the rule and scope it was listed for, the scope's labels and the
        # labelled states then, in their dicts' order, and what labels() returned.
        self._last: dict[str, tuple[RuleConfig, Scope, list[str], list[str], list[str]]] = {}

    def clear(self) -> None:
        """Forget every listing (the rules changed)."""
        self._last.clear()

    def labels(self, rule: RuleConfig, scope: Scope, stated: Collection[str]) -> list[str]:
        """:func:`labels`; the list is shared with the next caller: not to be changed.
        The same keys in the same order are the same sets, so the same answer (a label
        evicted and admitted again moves to the end of its dict: listed anew)."""
        windows, states = list(scope.windows), list(stated)
        last = self._last.get(rule.name)
        if (
            last is not None
            and last[0] is rule
            and last[1] is scope
            and last[2] == windows
            and last[3] == states
        ):
            return last[4]
        found = labels(rule, scope, stated)
        self._last[rule.name] = (rule, scope, windows, states, found)
        return found


def takes(rule: RuleConfig, label: str) -> bool:
    """Whether ``label`` is one of the rule's: named (a domain as its normal form) or
    matched by a glob (but a label a glob never takes), and not excluded."""
    domains = rule.scope == DOMAIN
    by_glob = label not in _named_only(rule)
    named = any(
        by_glob and takes_glob(label, pattern, domains)
        if is_glob(pattern)
        else takes_name(label, pattern, domains)
        for pattern in rule.watched
    )
    return named and not _excluded(rule, label)


def _named_only(rule: RuleConfig) -> tuple[str, ...]:
    """The labels the rule watches only by name, which no glob of it takes. ``unknown``
    of providers and tenants is none of them (not resolved yet, or DNS failed; no
    tenant could be told): a restart with an empty cache or no tenant map would page
    on all the mail. Nor is a provider's ``none`` (the domain has no mail: NXDOMAIN, a
    null MX): its mail bounces or expires whatever any provider does, a list's trouble,
    not "every provider"'s."""
    if rule.scope == DOMAIN:
        return ()
    return NOT_PROVIDERS if rule.scope == PROVIDER else (UNKNOWN,)


def _excluded(rule: RuleConfig, label: str) -> bool:
    """Whether the rule skips ``label`` (a domain by its normal form)."""
    domains = rule.scope == DOMAIN
    return any(
        takes_glob(label, pattern, domains)
        if is_glob(pattern)
        else takes_name(label, pattern, domains)
        for pattern in rule.excluded
    )
