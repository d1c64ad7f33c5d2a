"""The providers known so far: answers from DNS kept for their TTL, consumer domains
known by name, and the domains waiting for a lookup.

Pure: the pipeline asks :meth:`ProviderCache.provider` for every recipient and
gets an answer at once; a domain with no answer yet is ``unknown`` and is
noted in :attr:`ProviderCache.wanted`, data that the DNS task
(:mod:`sesd.providers.resolver`) takes its work from. Nothing here wakes
anything: the runtime looks at ``wanted`` after each batch.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Final

from sesd.core.providers import UNKNOWN, consumer_provider

__all__ = ["LONGEST_ANSWER", "LOOKUP_OUTCOMES", "ProviderCache"]

#: How a lookup ended (``sesd_dns_lookups_total{outcome}``).
LOOKUP_OUTCOMES: Final = ("resolved", "nxdomain", "null_mx", "no_mx", "failed", "timeout")
#: Distinct domains whose lookups found no answer in a row, after which the resolver
#: is taken to fail (one domain with broken DNS, tried again and again, is not).
FAILING_AFTER: Final = 3
#: The longest an answer holds, seconds (the DNS task clamps every TTL to it).
LONGEST_ANSWER: Final = 7 * 86400.0
#: Consumer domains remembered by name (gmail.com, hotmail.fr...).
_MAX_CONSUMERS: Final = 10_000
#: A saved answer's items (a later build's after them are not this one's to read).
_ANSWER: Final = operator.itemgetter(0, 1, 2)


class ProviderCache:
    """Domain -> (provider, until when the answer holds), bounded, oldest answer out
    first; the lookups wanted and under way; how lookups ended."""

    __slots__ = (
        "_consumers",
        "_max_queue",
        "_unanswered",
        "cache",
        "latest",
        "looking",
        "max_cache",
        "no_resolver",
        "outcomes",
        "readers",
        "wanted",
    )

    def __init__(self, max_cache: int, max_queue: int = 10_000) -> None:
        self.max_cache = max_cache
        self._max_queue = max_queue
        #: domain -> (provider, until when the answer holds)
        self.cache: dict[str, tuple[str, float]] = {}
        self._consumers: dict[str, str] = {}
        #: Domains waiting for a lookup, in order.
        self.wanted: dict[str, None] = {}
        #: Domains being looked up.
        self.looking: set[str] = set()
        self.outcomes = dict.fromkeys(LOOKUP_OUTCOMES, 0)
        #: Distinct domains whose lookups found no answer since the last one that did
        #: (at most FAILING_AFTER of them).
        self._unanswered: set[str] = set()
        #: The ``now`` of the latest question (answers hold from then when the DNS
        #: task has no clock of its own: event time in a replay).
        self.latest = 0.0
        #: Set when the DNS task could make no resolver (no resolv.conf): no lookup
        #: will ever answer.
        self.no_resolver = False
        #: Maps by domain of what a reader keeps from a domain's answer (the pipeline's
        #: slots, while the answer holds): a domain's entry goes when its answer changes
        #: or leaves the cache.
        self.readers: list[dict[str, Any]] = []

    def provider(self, domain: str, now: float) -> str:
        """The provider of ``domain`` at ``now``; ``unknown`` (and the domain wanted for
        a lookup) when no answer holds."""
        self.latest = now
        cached = self.cache.get(domain)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = self._consumers.get(domain)
        if found is not None:
            return found
        found = consumer_provider(domain)
        if found is not None:
            if len(self._consumers) < _MAX_CONSUMERS:
                self._consumers[domain] = found
            return found
        if (
            domain not in self.wanted
            and domain not in self.looking
            and len(self.wanted) < self._max_queue
        ):
            self.wanted[domain] = None
        return cached[0] if cached is not None else UNKNOWN

    def known(self, domain: str, now: float) -> str | None:
        """What :meth:`provider` would answer, read without a side effect (no lookup
        wanted, no clock moved): an alert names it. None for ``unknown``."""
        cached = self.cache.get(domain)
        if cached is None or cached[1] <= now:
            found = self._consumers.get(domain) or consumer_provider(domain)
            if found is not None:
                return found
        return None if cached is None or cached[0] == UNKNOWN else cached[0]

    def take(self) -> str | None:
        """The next domain to look up (now under way), or None."""
        if not self.wanted:
            return None
        domain = next(iter(self.wanted))
        del self.wanted[domain]
        self.looking.add(domain)
        return domain

    def answered(self, domain: str, provider: str, until: float, outcome: str) -> None:
        """A lookup ended: its answer holds until ``until``. A lookup that found nothing
        (``unknown``: SERVFAIL, a timeout) keeps the domain's last known provider until
        the next try: a resolver down for an hour must not turn every domain it had
        answered into ``unknown``, blinding the rules on providers."""
        self.looking.discard(domain)
        self.outcomes[outcome] += 1
        if outcome not in ("failed", "timeout"):
            self._unanswered.clear()
        elif len(self._unanswered) < FAILING_AFTER:
            self._unanswered.add(domain)
        if provider == UNKNOWN:
            known = self.cache.get(domain)
            if known is not None:
                provider = known[0]
        self.remember(domain, provider, until)

    def abandoned(self, domain: str) -> None:
        """A lookup ended with no answer (cancelled): it may be wanted again (what a
        reader kept while it waited goes)."""
        self.looking.discard(domain)
        for kept in self.readers:
            kept.pop(domain, None)

    def remember(self, domain: str, provider: str, until: float) -> None:
        """Keep an answer (the oldest one goes when the cache is full)."""
        cache = self.cache
        cache.pop(domain, None)
        while len(cache) >= self.max_cache:
            oldest = next(iter(cache))
            del cache[oldest]
            for kept in self.readers:
                kept.pop(oldest, None)
        cache[domain] = (provider, until)
        for kept in self.readers:
            kept.pop(domain, None)

    def stepped(self, step: float) -> None:
        """The clock the answers' times are read on stepped by ``step`` seconds: each
        answer holds as long after the step as it did before it (ahead, every answer
        whose TTL the step passed wanted its lookup again at once; back, each held the
        step's length past its TTL). What readers kept of the answers held until a
        time on the old clock: it goes, found again from the moved answer when next
        read."""
        cache = self.cache
        for domain, (provider, until) in cache.items():
            cache[domain] = (provider, until + step)  # (same keys: same order)
        for kept in self.readers:
            kept.clear()

    def held_to(self, latest: float) -> None:
        """No answer holds past ``latest`` (a state file's, saved on a clock far ahead
        of this one: :data:`LONGEST_ANSWER` from the start is as long as a lookup then
        would hold)."""
        cache = self.cache
        for domain, (provider, until) in cache.items():
            if until > latest:
                cache[domain] = (provider, latest)
                for kept in self.readers:
                    kept.pop(domain, None)

    @property
    def failing(self) -> bool:
        """Whether lookups of FAILING_AFTER distinct domains in a row found no answer
        (the resolver fails, not one domain's DNS), or there is no resolver to ask."""
        return self.no_resolver or len(self._unanswered) >= FAILING_AFTER

    @property
    def full(self) -> bool:
        """Whether no more domains may wait for a lookup now."""
        return len(self.wanted) >= self._max_queue

    def snapshot(self, now: float) -> list[list[object]]:
        """The answers still holding, for the state file."""
        return [[d, p, until] for d, (p, until) in self.cache.items() if until > now]

    def restore(
        self,
        data: list[list[object]],
        admits: Callable[[str, str], bool] = lambda domain, provider: True,
    ) -> None:
        """Load what :meth:`snapshot` returned: each answer ``admits`` (a domain and a
        provider a lookup could have given)."""
        for domain, provider, until in map(_ANSWER, data):
            if admits(str(domain), str(provider)):
                self.remember(str(domain), str(provider), float(until))
