"""Recipient domain -> mailbox provider, from DNS, never on the event path.

:meth:`ProviderResolver.provider` answers at once: a consumer domain by name,
a domain already resolved from the cache, anything else ``unknown`` while its
lookup waits in a bounded queue. :meth:`ProviderResolver.run` works the queue
with dnspython's asyncio resolver, at most ``rate`` lookups a second and
``concurrency`` at a time. Answers are cached for their TTL, clamped to
between 1 h and 7 days; NXDOMAIN and null MX are cached too; a failure
(SERVFAIL, a timeout) is cached for a short while and then tried again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import anyio
import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from sesd.config import ProvidersConfig
from sesd.logs import get_logger
from sesd.providers.table import NONE, OTHER, UNKNOWN, by_mx, consumer_provider, mx_table

__all__ = ["OUTCOMES", "ProviderResolver"]

MIN_TTL: Final = 3600.0
MAX_TTL: Final = 7 * 86400.0
#: How long a failed lookup (SERVFAIL, timeout) is remembered before another try.
RETRY_AFTER: Final = 300.0
#: Consumer domains remembered by name (gmail.com, hotmail.fr...).
_MAX_CONSUMERS: Final = 10_000
OUTCOMES: Final = ("resolved", "nxdomain", "null_mx", "no_mx", "failed", "timeout")


def _nameserver(spec: str) -> dns.nameserver.Do53Nameserver:
    host, _, port = spec.rpartition(":")
    if not host:
        host, port = spec, "53"
    return dns.nameserver.Do53Nameserver(host.strip("[]"), int(port))


class ProviderResolver:
    """The provider of each recipient domain, with its cache and its lookup queue."""

    def __init__(
        self,
        *,
        nameservers: list[str] | None = None,
        timeout: float = 2.0,
        rate: float = 20.0,
        concurrency: int = 10,
        mx: dict[str, tuple[str, ...]] | None = None,
        max_cache: int = 100_000,
        max_queue: int = 10_000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._nameservers = [_nameserver(n) for n in nameservers or []]
        self._timeout = timeout
        self._resolver: dns.asyncresolver.Resolver | None = None  # made by run()
        self._rate = rate
        self._concurrency = concurrency
        self._table = mx_table(mx)
        self._max_cache = max_cache
        self._max_queue = max_queue
        # Answers hold until a time on the caller's clock: ``clock`` if given, else the
        # ``now`` of the latest provider() call (event time in a replay).
        self._now = 0.0
        self._clock = clock or (lambda: self._now)
        #: domain -> (provider, until when the answer holds)
        self.cache: dict[str, tuple[str, float]] = {}
        self._consumers: dict[str, str] = {}  # consumer domains seen, known by name
        self._queued: dict[str, None] = {}  # waiting, in order
        self._looking: set[str] = set()  # being looked up
        self._wake = anyio.Event()
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.done = anyio.Event()  # set after each lookup (tests wait on it)
        self._log = get_logger()

    def provider(self, domain: str, now: float) -> str:
        """The provider of ``domain`` now; ``unknown`` (and a lookup queued) when no
        answer holds. Never waits."""
        self._now = now
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
            domain not in self._queued
            and domain not in self._looking
            and len(self._queued) < self._max_queue
        ):
            self._queued[domain] = None
            self._wake.set()
        return cached[0] if cached is not None else UNKNOWN

    @classmethod
    def from_config(
        cls, config: ProvidersConfig, clock: Callable[[], float] | None = None
    ) -> ProviderResolver:
        """The resolver ``[providers]`` describes."""
        return cls(
            nameservers=config.nameservers,
            timeout=config.timeout.seconds,
            rate=config.rate,
            concurrency=config.concurrency,
            mx=config.table,
            max_cache=config.max_cache,
            clock=clock,
        )

    @property
    def capacity(self) -> int:
        """How many domains the cache holds."""
        return self._max_cache

    @property
    def queued(self) -> int:
        """Domains waiting for a lookup."""
        return len(self._queued)

    async def run(self) -> None:
        """Look up queued domains, within the rate and concurrency, until cancelled."""
        # Made here, not at construction: reading resolv.conf is I/O, and a pipeline
        # that never runs lookups (a test, a replay without DNS) needs none.
        try:
            resolver = dns.asyncresolver.Resolver(configure=not self._nameservers)
        except dns.resolver.NoResolverConfiguration:
            # No resolv.conf: consumer domains are still known; the rest stay unknown.
            self._log.error(
                "sesd.providers.no_resolver",
                hint="set [providers] nameservers, or enabled = false",
            )
            return
        if self._nameservers:
            resolver.nameservers = self._nameservers
        resolver.timeout = resolver.lifetime = self._timeout
        self._resolver = resolver
        limit = anyio.Semaphore(self._concurrency)
        gap = 1.0 / self._rate
        next_at = anyio.current_time()
        async with anyio.create_task_group() as tg:
            while True:
                while not self._queued:
                    self._wake = anyio.Event()
                    await self._wake.wait()
                # Paced: at most ``rate`` starts a second, however long the queue.
                await anyio.sleep_until(next_at)
                next_at = max(next_at + gap, anyio.current_time())
                await limit.acquire()
                domain = next(iter(self._queued))
                del self._queued[domain]
                self._looking.add(domain)
                tg.start_soon(self._lookup, domain, limit)

    async def prefetch(self, domains: Iterable[str], now: float) -> None:
        """Look up every domain not known yet, and return once all are answered (at the
        rate limit): how ``sesd replay --dns`` knows providers before it applies events."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.run)
            for domain in domains:
                while len(self._queued) >= self._max_queue:
                    await self.done.wait()
                self.provider(domain, now)
            while self._queued or self._looking:
                await self.done.wait()
            tg.cancel_scope.cancel()

    async def _lookup(self, domain: str, limit: anyio.Semaphore) -> None:
        try:
            provider, ttl, outcome = await self._resolve(domain)
            self.outcomes[outcome] += 1
            self._remember(domain, provider, self._clock() + ttl)
        finally:
            # Answered (or not) before a later provider() may ask again.
            limit.release()
            self._looking.discard(domain)
        self.done.set()
        self.done = anyio.Event()

    async def _resolve(self, domain: str) -> tuple[str, float, str]:
        """(provider, how long it holds, outcome) for one domain."""
        assert self._resolver is not None
        try:
            answer = await self._resolver.resolve(domain, "MX", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return NONE, MIN_TTL, "nxdomain"
        except dns.exception.Timeout:
            return UNKNOWN, RETRY_AFTER, "timeout"
        except dns.exception.DNSException as exc:
            self._log.debug("sesd.providers.lookup_failed", domain=domain, error=type(exc).__name__)
            return UNKNOWN, RETRY_AFTER, "failed"
        if answer.rrset is None:
            # No MX: mail goes to the domain's own address, if it has one (RFC 5321 5.1).
            return await self._implicit(domain)
        ttl = min(MAX_TTL, max(MIN_TTL, float(answer.rrset.ttl)))
        records = sorted(answer.rrset, key=lambda r: r.preference)
        hosts = [r.exchange.to_text(omit_final_dot=True) for r in records]
        if hosts == [""] or hosts == ["."]:
            return NONE, ttl, "null_mx"  # RFC 7505: the domain takes no mail
        return by_mx(hosts, self._table), ttl, "resolved"

    async def _implicit(self, domain: str) -> tuple[str, float, str]:
        assert self._resolver is not None
        try:
            answer = await self._resolver.resolve(domain, "A", raise_on_no_answer=False)
        except dns.exception.Timeout:
            return UNKNOWN, RETRY_AFTER, "timeout"
        except dns.exception.DNSException:
            return NONE, MIN_TTL, "no_mx"
        return (OTHER if answer.rrset is not None else NONE), MIN_TTL, "no_mx"

    def _remember(self, domain: str, provider: str, until: float) -> None:
        cache = self.cache
        cache.pop(domain, None)
        while len(cache) >= self._max_cache:
            del cache[next(iter(cache))]  # the oldest answer goes first
        cache[domain] = (provider, until)

    def snapshot(self, now: float) -> list[list[object]]:
        """The answers still holding, for the state file."""
        return [[d, p, until] for d, (p, until) in self.cache.items() if until > now]

    def restore(self, data: list[list[object]]) -> None:
        """Load what :meth:`snapshot` returned."""
        for domain, provider, until in data:
            self._remember(str(domain), str(provider), float(until))  # type: ignore[arg-type]
