"""resolv.conf's nameservers change while sesd runs (a container's DNS is moved, a VM's
DHCP lease renews with other servers): the DNS task asks the new ones, not only after a
restart. Real DNS servers on port 53 of loopback addresses of their own, as
resolv.conf names servers without a port."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.core.provider_cache import ProviderCache
from sesd.providers.resolver import ProviderResolver
from tests.dns_server import Zone, dns_server

T = 1000.0


def _loopback() -> str:
    """A loopback address of the test's own (127/8 is all loopback), apart from any
    other test's port 53."""
    return f"127.53.{random.randrange(256)}.{random.randrange(1, 255)}"


async def _provider(resolver: ProviderResolver, domain: str) -> str:
    """Ask for ``domain`` as the pipeline does, and wait for its answer."""
    resolver.cache.provider(domain, T)
    resolver.poke()
    while domain not in resolver.cache.cache:
        await resolver.done.wait()
    return resolver.cache.cache[domain][0]


@dataclass
class _Moved:
    """Server A answered and is gone; B (``second``, serving ``zone``) waits."""

    resolver: ProviderResolver
    resolv: Path
    first: str
    second: str
    zone: Zone


@asynccontextmanager
async def _a_gone(tmp_path: Path) -> AsyncIterator[_Moved]:
    """The DNS task running on a resolv.conf that names server A, which answers a
    lookup, then goes away; server B is up, named nowhere yet."""
    resolv = tmp_path / "resolv.conf"
    first, second = _loopback(), _loopback()
    while second == first:
        second = _loopback()
    zone = Zone(mx={"corp.example": [(10, "corp-example.mail.protection.outlook.com")]})
    moved = Zone(mx={"startup.example": [(1, "aspmx.l.google.com")]})
    resolver = ProviderResolver(
        ProviderCache(1000), resolv_conf=str(resolv), timeout=0.5, clock=lambda: T
    )
    with ExitStack() as stack:
        try:
            old = stack.enter_context(ExitStack())
            old.enter_context(dns_server(zone, first, 53))
            stack.enter_context(dns_server(moved, second, 53))
        except PermissionError:
            pytest.skip("needs port 53 on loopback (root, or CAP_NET_BIND_SERVICE)")
        resolv.write_text(f"nameserver {first}\n")
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(10):
                assert await _provider(resolver, "corp.example") == "microsoft"
            old.close()  # A is gone
            yield _Moved(resolver, resolv, first, second, moved)
            tg.cancel_scope.cancel()


async def test_a_lookup_that_fails_after_resolv_conf_changed_reads_it_again(
    tmp_path: Path,
) -> None:
    """resolv.conf names server A, which answers; then A goes away and the file names B
    instead. The next lookup still asks A and fails; that failure has the file looked
    at again, and as it changed, the lookups after it ask B (and answer), and the log
    says which servers are asked now."""
    with capture_logs() as logs:
        async with _a_gone(tmp_path) as a:
            a.resolv.write_text(f"search example.net\nnameserver {a.second}\n")
            with anyio.fail_after(10):
                assert await _provider(a.resolver, "bank.example") == "unknown"
                assert await _provider(a.resolver, "startup.example") == "google"
    assert [q[:2] for q in a.zone.queries] == [("startup.example", "MX")]
    changed = [e for e in logs if e["event"] == "sesd.providers.resolv_conf_changed"]
    assert [(e["was"], e["nameservers"]) for e in changed] == [([a.first], [a.second])]


async def test_a_half_written_resolv_conf_leaves_the_servers_in_use(tmp_path: Path) -> None:
    """resolv.conf names server A, which answers; A goes away and the file is caught
    half rewritten, its new server's address cut short ("nameserver 127.53.", which
    dnspython refuses with ValueError, not as no configuration). The lookups go on
    with A (and fail) rather than the DNS task ending; once the file names B in full,
    the lookups after a failed one ask B."""
    async with _a_gone(tmp_path) as a:
        a.resolv.write_text("nameserver 127.53.")
        with anyio.fail_after(10):
            assert await _provider(a.resolver, "bank.example") == "unknown"
            assert await _provider(a.resolver, "shop.example") == "unknown"
        a.resolv.write_text(f"nameserver {a.second}\n")
        with anyio.fail_after(10):
            assert await _provider(a.resolver, "startup.example") == "google"
