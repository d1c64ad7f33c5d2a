"""The DNS task: looks up the domains the provider cache wants, beside the pipeline and
never on its path.

The pipeline answers every recipient's provider at once from
:class:`~sesd.core.provider_cache.ProviderCache` and notes a domain with no
answer as wanted; :meth:`ProviderResolver.run` takes the wanted domains (the
runtime calls :meth:`ProviderResolver.poke` after a batch that wanted some)
and looks them up with dnspython's asyncio resolver, at most ``rate`` lookups
a second and ``concurrency`` at a time. Answers are kept for their TTL (the
shortest of the records read, an alias's too), clamped to between 1 h and 7
days; NXDOMAIN and null MX are kept too; a failure (SERVFAIL, a timeout) is
kept for a short while and then tried again.
Without a resolver configuration (no resolv.conf, or none that names a
nameserver) lookups fail until resolv.conf names one, which the task reads
again at growing pauses. Once read, resolv.conf is looked at again (its inode, size
and modification time) at most a minute apart, and after any failed lookup: read
anew when it changed, as a container's DNS is moved or a VM's DHCP lease renews
with other servers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Final

import anyio
import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from sesd.config import ProvidersConfig
from sesd.core.provider_cache import LONGEST_ANSWER, ProviderCache
from sesd.core.providers import NONE, OTHER, UNKNOWN, by_labels, mx_table, wire_labels
from sesd.io.logs import get_logger

__all__ = ["ProviderResolver", "no_resolver_retry"]

MIN_TTL: Final = 3600.0
MAX_TTL: Final = LONGEST_ANSWER
#: How long a failed lookup (SERVFAIL, timeout) is remembered before another try.
RETRY_AFTER: Final = 300.0
#: The longest pause between two reads of a resolv.conf that named no nameserver.
NO_RESOLVER_MAX: Final = 60.0
#: How often, at most, resolv.conf is looked at for a change while lookups answer (a
#: failed lookup has it looked at before the next).
RECHECK_EVERY: Final = 60.0


def no_resolver_retry(attempt: int) -> float:
    """Seconds before resolv.conf is read again after ``attempt + 1`` reads that found no
    nameserver: 1 s, doubling, at most a minute (a file written at boot is found
    within seconds; one that stays empty costs a read a minute)."""
    return min(NO_RESOLVER_MAX, 2.0 ** min(attempt, 16))


def _nameserver(spec: str) -> dns.nameserver.Do53Nameserver:
    host, _, port = spec.rpartition(":")
    if not host:
        host, port = spec, "53"
    return dns.nameserver.Do53Nameserver(host.strip("[]"), int(port))


class ProviderResolver:
    """Looks up what ``cache`` wants and keeps the answers there."""

    def __init__(
        self,
        cache: ProviderCache,
        *,
        nameservers: list[str] | None = None,
        timeout: float = 2.0,
        rate: float = 20.0,
        concurrency: int = 10,
        mx: dict[str, tuple[str, ...]] | None = None,
        clock: Callable[[], float] | None = None,
        resolv_conf: str = "/etc/resolv.conf",
    ) -> None:
        self.cache = cache
        #: The system's resolvers, read when no ``nameservers`` are given.
        self._resolv_conf = resolv_conf
        self._nameservers = [_nameserver(n) for n in nameservers or []]
        self._timeout = timeout
        self._resolver: dns.asyncresolver.Resolver | None = None  # made by run()
        #: resolv.conf as the resolver read it: (inode, size, modified), None unknown.
        self._read_as: tuple[int, int, int] | None = None
        self._checked = 0.0  # when resolv.conf was last looked at (anyio's clock)
        self._recheck = False  # a lookup failed: look at resolv.conf before the next
        self._rate = rate
        self._concurrency = concurrency
        self._table = mx_table(mx)
        # Answers hold until a time on the caller's clock: ``clock`` if given, else the
        # ``now`` of the cache's latest question (event time in a replay).
        self._clock = clock or (lambda: cache.latest)
        self._wake = anyio.Event()
        self._next_at = 0.0
        self.done = anyio.Event()  # set after each lookup (tests wait on it)
        self._log = get_logger()

    @classmethod
    def from_config(
        cls, config: ProvidersConfig, cache: ProviderCache, clock: Callable[[], float] | None = None
    ) -> ProviderResolver:
        """The DNS task ``[providers]`` describes, filling ``cache``."""
        return cls(
            cache,
            nameservers=config.nameservers,
            timeout=config.timeout.seconds,
            rate=config.rate,
            concurrency=config.concurrency,
            mx=config.table,
            clock=clock,
        )

    def poke(self) -> None:
        """Look at the cache's wanted domains now (the runtime calls it after a batch)."""
        if self.cache.wanted:
            self._wake.set()

    async def run(self) -> None:
        """Look up queued domains, within the rate and concurrency, until cancelled."""
        self._resolver = self._tuned(await self._configured())
        self._next_at = anyio.current_time()
        # ``concurrency`` lookers, each making one lookup at a time, rather than a task
        # made for each lookup: a task, its cancel scope and a lookup slot taken cost
        # about 180,000 instructions a lookup, a tenth of one (bench.instructions).
        turn = anyio.Lock(fast_acquire=True)
        async with anyio.create_task_group() as tg:
            for _ in range(self._concurrency):
                tg.start_soon(self._looker, turn)

    async def _looker(self, turn: anyio.Lock) -> None:
        """Take the next wanted domain when its start comes, and look it up; again. One
        looker at a time waits for the next start (``turn``), the others for it."""
        gap = 1.0 / self._rate
        while True:
            async with turn:
                domain = await self._next_start()
                # From this start, not from when it was due: a start made late (a busy
                # event loop, every looker busy) is not made up for by the next one
                # coming sooner, so no two starts are closer than ``gap``.
                self._next_at = anyio.current_time() + gap
            await self._lookup(domain)

    async def _next_start(self) -> str:
        """The next domain to look up, taken once there is one and its start has come
        (paced: at most ``rate`` starts a second, however long the queue)."""
        while True:
            while not self.cache.wanted:
                self._wake = anyio.Event()
                await self._wake.wait()
            await anyio.sleep_until(self._next_at)
            self._follow_resolv_conf()
            domain = self.cache.take()
            if domain is not None:
                return domain

    async def _configured(self) -> dns.asyncresolver.Resolver:
        """The resolver, once there is a configuration to make it from. Made here, not at
        construction: reading resolv.conf is I/O, and a pipeline that never runs lookups
        (a test, a replay without DNS) needs none. Without one (no resolv.conf, or one
        that names no nameserver) the file is read again after :func:`no_resolver_retry`:
        a container's resolv.conf may be written after sesd starts, and lookups must
        begin then, not at the next restart."""
        attempt = 0
        while True:
            self._read_as, self._checked = self._stat(), anyio.current_time()
            try:
                resolver = dns.asyncresolver.Resolver(
                    self._resolv_conf, configure=not self._nameservers
                )
            # ValueError: a server's address dnspython refuses (a file caught half
            # written): no configuration yet either.
            except (dns.resolver.NoResolverConfiguration, ValueError):
                # Consumer domains are still known; the rest stay unknown meanwhile.
                if not self.cache.no_resolver:  # said once, not at every try
                    self._log.error(
                        "sesd.providers.no_resolver",
                        resolv_conf=self._resolv_conf,
                        hint="set [providers] nameservers, or enabled = false; sesd reads "
                        "the file again, at most a minute apart",
                    )
                # Failing (sesd_dns_failing), and whoever waits for answers (a prefetch)
                # must not wait for ever.
                self.cache.no_resolver = True
                self._answered()
                await anyio.sleep(no_resolver_retry(attempt))
                attempt += 1
                continue
            if self._nameservers:
                resolver.nameservers = self._nameservers
            if self.cache.no_resolver:
                self.cache.no_resolver = False
                self._resolver = resolver  # for the servers named
                self._log.info("sesd.providers.resolver_found", nameservers=self._servers())
            return resolver

    def _tuned(self, resolver: dns.asyncresolver.Resolver) -> dns.asyncresolver.Resolver:
        """``resolver`` with its time limits set."""
        # Each server is given ``timeout`` in turn: one lifetime of ``timeout`` for all
        # of them would let a silent first server (dropped packets) take the whole of
        # every lookup, the next never asked.
        resolver.timeout = self._timeout
        resolver.lifetime = self._timeout * max(1, len(resolver.nameservers))
        return resolver

    def _stat(self) -> tuple[int, int, int] | None:
        """resolv.conf's (inode, size, modified): what changes when it is rewritten,
        in place or replaced (a container runtime renames a new file over it)."""
        try:
            found = os.stat(self._resolv_conf)
        except OSError:
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns

    def _follow_resolv_conf(self) -> None:
        """Read resolv.conf anew when it changed since it was read: looked at after a
        failed lookup (the servers it named may be gone), else at most a minute apart
        (a stat per lookup would be one per domain). Not with ``[providers]
        nameservers``, which the file does not name. A file that names no server now
        (half-written, say) leaves the servers in use; it is looked at again."""
        now = anyio.current_time()
        if self._nameservers or (not self._recheck and now - self._checked < RECHECK_EVERY):
            return
        self._recheck, self._checked = False, now
        seen = self._stat()
        if seen is None or seen == self._read_as:
            return
        try:
            resolver = dns.asyncresolver.Resolver(self._resolv_conf)
        # ValueError: a server's address dnspython refuses (cut short, half-written).
        except (dns.resolver.NoResolverConfiguration, ValueError):
            return
        self._read_as = seen
        was = self._servers()
        self._resolver = self._tuned(resolver)
        self._log.info("sesd.providers.resolv_conf_changed", was=was, nameservers=self._servers())

    async def prefetch(
        self,
        domains: Iterable[str],
        now: float,
        answered: Callable[[int, int], None] = lambda done, total: None,
    ) -> None:
        """Look up every domain not known yet, and return once all are answered (at the
        rate limit): how ``sesd replay --dns`` knows providers before it applies events.
        ``answered`` hears how many of those looked up are answered, of how many, as
        they are (for a progress bar: at the rate limit this takes minutes). Without
        a resolver (no resolv.conf) it returns at once, those domains unknown."""
        cache = self.cache
        total = 0

        def told() -> None:
            answered(total - len(cache.wanted) - len(cache.looking), total)

        async with anyio.create_task_group() as tg:
            tg.start_soon(self.run)
            for domain in domains:
                while cache.full and not cache.no_resolver:
                    await self.done.wait()
                    told()
                wanted = len(cache.wanted)
                cache.provider(domain, now)
                total += len(cache.wanted) - wanted
                self.poke()
            told()
            while (cache.wanted or cache.looking) and not cache.no_resolver:
                await self.done.wait()
                told()
            tg.cancel_scope.cancel()

    async def _lookup(self, domain: str) -> None:
        try:
            provider, ttl, outcome = await self._resolve(domain)
        except BaseException:
            self.cache.abandoned(domain)  # cancelled: it may be wanted again
            raise
        was = self.cache.failing
        self._recheck = self._recheck or outcome in ("timeout", "failed")
        # Answered before a later question may want it again.
        self.cache.answered(domain, provider, self._clock() + ttl, outcome)
        self._note(was, outcome)
        self._answered()

    def _answered(self) -> None:
        self.done.set()
        self.done = anyio.Event()

    def _note(self, was: bool, outcome: str) -> None:
        """Say when lookups begin to fail (distinct domains in a row: one domain with
        broken DNS among healthy ones is not the resolver), and when they answer."""
        if self.cache.failing and not was:
            self._log.warning(
                "sesd.providers.lookups_failing",
                outcome=outcome,
                # Those asked: resolv.conf's, when [providers] names none.
                nameservers=self._servers(),
                hint="new domains count under provider unknown, which rules on providers "
                "do not watch: check [providers] nameservers and that DNS (UDP and TCP "
                "53) is reachable",
            )
        elif was and not self.cache.failing:
            self._log.info("sesd.providers.lookups_answering")

    def _servers(self) -> list[str]:
        """The nameservers asked, as ``host:port``."""
        servers = [] if self._resolver is None else self._resolver.nameservers
        shown = []
        for server in servers:
            if isinstance(server, dns.nameserver.Do53Nameserver):
                host = f"[{server.address}]" if ":" in server.address else server.address
                shown.append(f"{host}:{server.port}")
            else:
                shown.append(str(server))
        return shown

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
        # The shortest TTL of the records read: an alias's (CNAME) as well as the MX's,
        # as the alias may point elsewhere once it expires.
        ttl = min(MAX_TTL, max(MIN_TTL, float(answer.chaining_result.minimum_ttl)))
        records = sorted(answer.rrset, key=lambda r: r.preference)
        if len(records) == 1 and records[0].exchange == dns.name.root:
            return NONE, ttl, "null_mx"  # RFC 7505: the domain takes no mail
        # Each host read only until one names a provider (the first, mostly).
        hosts = (wire_labels(r.exchange.labels) for r in records)
        return by_labels(hosts, self._table), ttl, "resolved"

    async def _implicit(self, domain: str) -> tuple[str, float, str]:
        """A domain without MX takes mail at its own address, IPv4 or IPv6 (RFC 5321
        5.1): ``other`` with one, ``none`` without. A lookup that fails (SERVFAIL, a
        timeout) says nothing of it: tried again after RETRY_AFTER, as for an MX."""
        assert self._resolver is not None
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(domain, rdtype, raise_on_no_answer=False)
            except dns.resolver.NXDOMAIN:
                break  # gone since its MX lookup
            except dns.exception.Timeout:
                return UNKNOWN, RETRY_AFTER, "timeout"
            except dns.exception.DNSException as exc:
                self._log.debug(
                    "sesd.providers.lookup_failed", domain=domain, error=type(exc).__name__
                )
                return UNKNOWN, RETRY_AFTER, "failed"
            if answer.rrset is not None:
                return OTHER, MIN_TTL, "no_mx"
        return NONE, MIN_TTL, "no_mx"
