"""Memory: window state per tracked domain, and a flood of distinct recipient domains.

1. tracemalloc over 200 domains after an hour of traffic in every bucket
   (one event a domain every 12 s), without delays and with 5% delays (their
   breakdowns for alert text in every bucket: a continuous incident), with
   one rule on the 15m window as in the example config: the bytes the windows
   hold per domain (freed when they go), wherever they were allocated.
   Target: 8 KB. Baseline in the same run: an empty DomainWindows.
2. The same for SES tenants (200, one a domain, named by a tag): the bytes a
   tenant's windows hold; and what SES says of 10,000 tenants (a status, one
   finding each) held per tenant. Target: as much as a domain.
3. 1,000,000 deliveries, each to a new domain, through the pipeline with the
   default cap (200) and the providers' MX lookups running against a DNS
   server in its own process: growth of the process's resident set (target
   50 MB), and the lookups a second (the rate limit: 20). The bodies are made
   on the fly so only sesd's state grows.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import anyio
import anyio.lowlevel

from bench.end_to_end import dns_server
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantStatus, TenantStatuses
from sesd.core.windows import DomainWindows
from sesd.providers.resolver import ProviderResolver
from sesd.runtime.allocator import fix_mmap_threshold
from tests import factory as f

_RULE = (
    '[[alerts.rules]]\nname = "delay-ratio-high"\nmetric = "delay_ratio"\nwindow = "15m"\n'
    "above = 0.05\n"
)


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def per_domain(delay_every: int = 20) -> None:
    """Window state per tracked domain after an hour of traffic; one event in
    ``delay_every`` is a DeliveryDelay (0: none)."""
    domains = 200
    # One rule on the 15m window, as in config/sesd.example.toml: breakdowns for
    # alert text are kept for the windows rules read.
    pipeline = Pipeline(core_settings(parse_config(_RULE)))
    tracemalloc.start()
    before = _traced()
    empty = [DomainWindows(pipeline.ledger.specs) for _ in range(domains)]
    empty_bytes = (_traced() - before) / domains
    del empty
    step = 12.0
    for i in range(int(3600 / step)):
        t = f.T0 + i * step
        for d in range(domains):
            address = [f"u{i}@d{d}.example"]
            # As long as SES's: 0100018c4f8a2b1e-5c7d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f-000000
            message_id = f"{i * domains + d:016x}-5c7d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f-000000"
            if delay_every and (i + d) % delay_every == 0:
                body = f.raw(f.delay(address, at=t, expires=t + 600, message_id=message_id))
            else:
                processing_ms = 200 + (i * 37 + d) % 4000
                body = f.raw(
                    f.delivery(address, at=t, processing_ms=processing_ms, message_id=message_id)
                )
            pipeline.feed(body, "bench", t)
    windows = pipeline.ledger.windows
    for domain_windows in windows.values():
        domain_windows.flush(f.T0 + 3600)
    # What the windows hold, wherever it was allocated (decoding made the message
    # ids and SMTP texts their breakdowns keep): what is freed when they go, once
    # the rest of the pipeline is gone. The same in either build.
    del pipeline, domain_windows
    held = _traced()
    tracked = len(windows)
    del windows
    used = (held - _traced()) / tracked
    tracemalloc.stop()
    share = f"{100 // delay_every}% delays" if delay_every else "no delays"
    print(
        f"  window state, 1 h of traffic with {share}: {used / 1024:.1f} KB per tracked domain "
        f"({tracked} domains; an empty domain: {empty_bytes / 1024:.1f} KB; target 8 KB)"
    )


def per_tenant() -> None:
    """A tenant's windows after an hour of its traffic (one event every 12 s, 5%
    delays), and what SES says of a tenant, per tenant."""
    tenants = 200
    config = parse_config(_RULE + '[tenants]\nenabled = true\ntags = ["tenant"]\n')
    pipeline = Pipeline(core_settings(config))
    tracemalloc.start()
    step = 12.0
    for i in range(int(3600 / step)):
        t = f.T0 + i * step
        for d in range(tenants):
            address = [f"u{i}@d{d}.example"]
            message_id = f"{i * tenants + d:016x}-5c7d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f-000000"
            tags = {"tenant": [f"tenant-{d}"]}
            if (i + d) % 20 == 0:
                event = f.delay(address, at=t, expires=t + 600, message_id=message_id, tags=tags)
            else:
                event = f.delivery(address, at=t, message_id=message_id, tags=tags)
            pipeline.feed(f.raw(event), "bench", t)
    assert pipeline.ledger.by_tenant is not None
    windows = pipeline.ledger.by_tenant.windows
    for tenant_windows in windows.values():
        tenant_windows.flush(f.T0 + 3600)
    del pipeline, tenant_windows
    held = _traced()
    tracked = len(windows)
    del windows
    used = (held - _traced()) / tracked
    before = _traced()
    statuses = TenantStatuses()
    for n in range(10_000):
        status = TenantStatus(sending="DISABLED", aws="DISABLED", impact="HIGH", policy="standard")
        status.findings.append(("BOUNCE", "HIGH", f"The bounce rate exceeded 15.0% ({n} emails)."))
        statuses.polled(("prod", "eu-west-1", f"tenant-{n}"), status, f.T0)
    said = (_traced() - before) / len(statuses.status)
    tracemalloc.stop()
    print(
        f"  tenants: {used / 1024:.1f} KB of windows per tenant (1 h, 5% delays; "
        f"{tracked} tenants); what SES says of one: {said:.0f} bytes (10,000 tenants)"
    )


def flood() -> None:
    """RSS growth from a million distinct recipient domains, with their MX lookups
    running (against bench/fake_dns.py, its own process) at the default rate, with
    glibc's bound for mapped blocks fixed as sesd's commands fix it."""
    fix_mmap_threshold()
    dns, nameserver = dns_server()
    try:
        anyio.run(_flood, nameserver)
    finally:
        dns.terminate()
        dns.wait()


async def _flood(nameserver: str) -> None:
    pipeline = Pipeline(
        core_settings(parse_config(f'[providers]\nnameservers = ["{nameserver}"]\n'))
    )
    assert pipeline.ledger.providers is not None
    resolver = ProviderResolver.from_config(
        parse_config(f'[providers]\nnameservers = ["{nameserver}"]\n').providers,
        pipeline.ledger.providers,
    )
    template = f.raw(f.delivery(["someone@REPLACE.example"], at=f.T0))
    gc.collect()
    start = _rss_mb()
    async with anyio.create_task_group() as tg:
        tg.start_soon(resolver.run)
        began = time.monotonic()
        for i in range(1_000_000):
            body = template.replace("REPLACE", f"flood{i}").replace('"0100-test', f'"m{i}-')
            pipeline.feed(body, "bench", f.T0 + i * 0.001)
            if i % 500 == 0:
                await (
                    anyio.lowlevel.checkpoint()
                )  # the lookups run between batches, as in the daemon
        elapsed = time.monotonic() - began
        tg.cancel_scope.cancel()
    gc.collect()
    grown = _rss_mb() - start
    other = pipeline.ledger.by_domain.recipients["other"][4]
    lookups = sum(resolver.cache.outcomes.values())
    print(
        f"  flood: 1,000,000 distinct domains: RSS +{grown:.1f} MB (target 50 MB); "
        f"{len(pipeline.ledger.domains)} tracked, {other:,} recipients under 'other'; "
        f"duplicate filter holds {len(pipeline.ledger.dedup):,} keys"
    )
    print(
        f"  flood's MX lookups: {lookups} in {elapsed:.1f} s = {lookups / elapsed:.1f}/s "
        f"(limit 20/s); {len(resolver.cache.wanted):,} queued (bound 10,000), "
        f"{len(resolver.cache.cache):,} cached"
    )


def main() -> None:
    """Run the benchmark."""
    per_domain(0)
    per_domain(20)
    per_tenant()
    flood()
