"""Mailbox providers from MX records, against a real DNS server on loopback (dnslib):
attribution, the lowest preference first, caching with clamped TTLs, failures tried
again, a server that never answers slowing nothing, the rate limit, the bounded
cache and its state-file form."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from sesd.core.provider_cache import ProviderCache
from sesd.core.providers import by_mx, consumer_provider, mx_table
from sesd.providers.resolver import MIN_TTL, RETRY_AFTER, ProviderResolver
from tests.dns_server import Zone, dns_server

T = 1000.0


def _zone() -> Zone:
    return Zone(
        mx={
            "corp.example": [(10, "corp-example.mail.protection.outlook.com")],
            "startup.example": [(1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com")],
            "bank.example": [(10, "us-smtp-inbound-1.mimecast.com")],
            "shop.example": [(10, "mx0a-00123.pphosted.com")],
            "self.example": [(10, "mail.self.example")],
            "mixed.example": [
                (10, "filter.mixed.example"),
                (20, "mixed-example.mail.protection.outlook.com"),
            ],
            "nomail.example": [(0, ".")],
        },
        a={"bare.example": "192.0.2.1"},
        ttl={"startup.example": 60, "bank.example": 30 * 86400},
        nxdomain={"gone.example"},
        servfail={"broken.example"},
        silent={"slow.example"},
    )


def _resolver(*, max_cache: int = 100_000, **options: Any) -> ProviderResolver:
    """The DNS task over a cache of its own."""
    return ProviderResolver(ProviderCache(max_cache), **options)


def _ask(resolver: ProviderResolver, domain: str, now: float) -> str:
    """The provider the pipeline would count ``domain`` under now; a domain wanted for a
    lookup is looked up (the runtime pokes the DNS task after each batch)."""
    found = resolver.cache.provider(domain, now)
    resolver.poke()
    return found


async def _resolve_all(resolver: ProviderResolver, domains: list[str], now: float) -> None:
    """Ask for each domain and wait (on the resolver's own signal) for its answer."""
    for domain in domains:
        _ask(resolver, domain, now)
    while any(d not in resolver.cache.cache for d in domains):
        await resolver.done.wait()


async def test_providers_and_gateways_from_mx_records() -> None:
    zone = _zone()
    with dns_server(zone) as address:
        resolver = _resolver(nameservers=[address], timeout=2.0, rate=100, clock=lambda: T)
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            domains = [
                "corp.example", "startup.example", "bank.example", "shop.example",
                "self.example", "mixed.example", "nomail.example", "gone.example",
                "bare.example", "empty.example",
            ]  # fmt: skip
            with anyio.fail_after(20):
                await _resolve_all(resolver, domains, T)
            tg.cancel_scope.cancel()
    found = {d: _ask(resolver, d, T) for d in domains}
    assert found == {
        "corp.example": "microsoft",
        "startup.example": "google",
        "bank.example": "mimecast",
        "shop.example": "proofpoint",
        "self.example": "other",  # MX records, none in the table
        "mixed.example": "microsoft",  # its own filter first, then Microsoft's MX
        "nomail.example": "none",  # null MX
        "gone.example": "none",  # NXDOMAIN
        "bare.example": "other",  # no MX, but an address: mail goes there
        "empty.example": "none",  # no MX, no address
    }
    assert resolver.cache.outcomes == {
        "resolved": 6,
        "nxdomain": 1,
        "null_mx": 1,
        "no_mx": 2,
        "failed": 0,
        "timeout": 0,
    }


def test_consumer_domains_are_known_without_dns() -> None:
    resolver = _resolver(nameservers=["127.0.0.1:9"], clock=lambda: T)
    for domain, provider in {
        "gmail.com": "google",
        "googlemail.com": "google",
        "hotmail.co.uk": "microsoft",
        "live.fr": "microsoft",
        "msn.com": "microsoft",
        "yahoo.co.jp": "yahoo",
        "aol.com": "yahoo",
        "ymail.com": "yahoo",
        "icloud.com": "apple",
        "me.com": "apple",
        "proton.me": "proton",
        "protonmail.com": "proton",
    }.items():
        assert _ask(resolver, domain, T) == provider, domain
        assert consumer_provider(domain) == provider
    assert resolver.cache.cache == {}


def test_config_entries_add_and_override_mx_suffixes() -> None:
    table = mx_table({"inhouse": ["gw.corp.example"], "google": ["google.com"]})
    assert by_mx(["mx1.gw.corp.example"], table) == "inhouse"
    assert by_mx(["GW.corp.example."], table) == "inhouse"
    assert by_mx(["notgw.corp.example"], table) == "other"
    # A label the user lists replaces its built-in suffixes; the others stay.
    assert by_mx(["alt1.aspmx.l.googlemail.com"], table) == "other"
    assert by_mx(["aspmx.l.google.com"], table) == "google"
    assert by_mx(["x-com.mail.protection.outlook.com"], table) == "microsoft"


def test_the_most_specific_suffix_wins_and_the_users_over_a_builtin() -> None:
    """A user's entry for one Microsoft 365 tenant names that tenant's host, not
    Microsoft's; a user's entry for a built-in suffix itself takes it over. The
    lowest-preference host still decides first."""
    table = mx_table(
        {
            "mycorp": ["mycorp-com.mail.protection.outlook.com"],
            "relay": ["yahoodns.net."],
        }
    )
    assert by_mx(["mycorp-com.mail.protection.outlook.com"], table) == "mycorp"
    assert by_mx(["othercorp-com.mail.protection.outlook.com"], table) == "microsoft"
    assert by_mx(["mta5.am0.yahoodns.net"], table) == "relay"
    assert by_mx(["aspmx.l.google.com", "mycorp-com.mail.protection.outlook.com"], table) == (
        "google"
    )
    assert by_mx(["mail.example.net", "mycorp-com.mail.protection.outlook.com"], table) == (
        "mycorp"
    )


async def test_answers_are_cached_for_their_ttl_clamped_and_failures_retried() -> None:
    zone = _zone()
    now = [T]
    with dns_server(zone) as address:
        resolver = _resolver(nameservers=[address], timeout=2.0, rate=100, clock=lambda: now[0])
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(20):
                await _resolve_all(
                    resolver, ["startup.example", "bank.example", "broken.example"], T
                )
            assert resolver.cache.cache["startup.example"] == ("google", T + MIN_TTL)  # 60 s -> 1 h
            assert resolver.cache.cache["bank.example"][1] == T + 7 * 86400  # 30 days -> 7
            assert resolver.cache.cache["broken.example"] == ("unknown", T + RETRY_AFTER)
            asked = zone.asked("startup.example")
            assert _ask(resolver, "startup.example", T + MIN_TTL - 1) == "google"
            assert _ask(resolver, "broken.example", T + RETRY_AFTER - 1) == "unknown"
            assert zone.asked("startup.example") == asked  # from the cache
            # Past the retry time the failure is asked again (and fails again).
            now[0] = T + RETRY_AFTER
            failed = resolver.cache.outcomes["failed"]
            assert _ask(resolver, "broken.example", now[0]) == "unknown"
            with anyio.fail_after(20):
                while resolver.cache.outcomes["failed"] == failed:
                    await resolver.done.wait()
            tg.cancel_scope.cancel()
    assert resolver.cache.outcomes["failed"] == 2


async def test_a_server_that_never_answers_holds_up_nothing() -> None:
    """slow.example is never answered: provider() returns unknown at once, other
    lookups go on meanwhile, and the silent one ends as a timeout."""
    zone = _zone()
    with dns_server(zone) as address:
        resolver = _resolver(nameservers=[address], timeout=1.0, rate=100, clock=lambda: T)
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            assert _ask(resolver, "slow.example", T) == "unknown"
            with anyio.fail_after(20):
                await _resolve_all(resolver, ["corp.example", "startup.example"], T)
            assert "slow.example" not in resolver.cache.cache
            with anyio.fail_after(20):
                await _resolve_all(resolver, ["slow.example"], T)
            tg.cancel_scope.cancel()
    assert resolver.cache.cache["slow.example"] == ("unknown", T + RETRY_AFTER)
    assert resolver.cache.outcomes["timeout"] == 1


async def test_lookups_keep_to_the_rate_limit() -> None:
    zone = Zone(mx={f"d{i}.example": [(10, "aspmx.l.google.com")] for i in range(21)})
    with dns_server(zone) as address:
        resolver = _resolver(nameservers=[address], rate=20, clock=lambda: T)
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(30):
                await _resolve_all(resolver, [f"d{i}.example" for i in range(21)], T)
            tg.cancel_scope.cancel()
    times = sorted(t for _, _, t in zone.queries)
    assert len(times) == 21
    # 21 lookups at 20 a second: the last starts a second or more after the first.
    assert times[-1] - times[0] >= 0.95


def test_the_cache_is_bounded_and_round_trips() -> None:
    resolver = _resolver(nameservers=["127.0.0.1:9"], max_cache=3, clock=lambda: T)
    for i in range(5):
        resolver.cache.remember(f"d{i}.example", "google", T + 100)
    assert list(resolver.cache.cache) == ["d2.example", "d3.example", "d4.example"]
    resolver.cache.remember("old.example", "other", T - 1)  # expired: not saved
    copy = _resolver(nameservers=["127.0.0.1:9"], clock=lambda: T)
    copy.cache.restore(resolver.cache.snapshot(T))
    assert copy.cache.cache == dict.fromkeys(("d3.example", "d4.example"), ("google", T + 100))


@pytest.mark.parametrize("spec", ["127.0.0.1:5353", "[::1]:53", "192.0.2.1"])
def test_nameservers_are_host_and_port(spec: str) -> None:
    from sesd.providers.resolver import _nameserver

    server = _nameserver(spec)
    assert server.port == (53 if spec in ("[::1]:53", "192.0.2.1") else 5353)
