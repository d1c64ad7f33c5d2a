"""The DNS task's lookups at once and their end: never more under way than
``[providers] concurrency``, and one cut off by a stop wanted again, against a real
DNS server on loopback (dnslib)."""

from __future__ import annotations

import anyio

from sesd.core.provider_cache import ProviderCache
from sesd.providers.resolver import ProviderResolver
from tests.dns_server import Zone, dns_server

T = 1000.0


async def test_no_more_lookups_are_under_way_than_the_concurrency() -> None:
    """Two at a time: while the two domains whose server never answers are looked up,
    the third domain waits, and is asked only once one of them has timed out."""
    zone = Zone(
        mx={"fast.example": [(10, "aspmx.l.google.com")]},
        silent={"slow1.example", "slow2.example"},
    )
    domains = ["slow1.example", "slow2.example", "fast.example"]
    with dns_server(zone) as address:
        cache = ProviderCache(100)
        resolver = ProviderResolver(
            cache, nameservers=[address], timeout=1.0, rate=1000, concurrency=2, clock=lambda: T
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            for domain in domains:
                cache.provider(domain, T)
            resolver.poke()
            with anyio.fail_after(20):
                while any(d not in cache.cache for d in domains):
                    await resolver.done.wait()
            tg.cancel_scope.cancel()
    asked = {name: at for name, _, at in zone.queries}
    assert asked["fast.example"] - asked["slow1.example"] >= 0.9  # the 1 s timeout
    assert cache.outcomes["timeout"] == 2
    assert cache.cache["fast.example"][0] == "google"


async def test_a_lookup_cut_off_by_a_stop_is_wanted_again() -> None:
    """A stop while a lookup waits for its answer: the domain is no longer under way,
    and the next question about it wants it looked up again."""
    zone = Zone(silent={"slow.example"})
    with dns_server(zone) as address:
        cache = ProviderCache(100)
        resolver = ProviderResolver(cache, nameservers=[address], timeout=5.0, clock=lambda: T)
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            cache.provider("slow.example", T)
            resolver.poke()
            with anyio.fail_after(10):
                await anyio.wait_all_tasks_blocked()  # the lookup waits for its answer
            assert cache.looking == {"slow.example"}
            tg.cancel_scope.cancel()
    assert not cache.looking
    assert cache.provider("slow.example", T) == "unknown"
    assert list(cache.wanted) == ["slow.example"]
