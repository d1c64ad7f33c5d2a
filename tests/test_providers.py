"""Mailbox providers from MX records, against a real DNS server on loopback (dnslib):
attribution, the lowest preference first, caching with clamped TTLs, failures tried
again, a server that never answers slowing nothing, the rate limit, the bounded
cache and its state-file form."""

from __future__ import annotations

import itertools
import json
import socket
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.config import parse_config
from sesd.core.provider_cache import _MAX_CONSUMERS, ProviderCache
from sesd.core.providers import (
    GATEWAYS,
    MX_SUFFIXES,
    PROVIDERS,
    by_mx,
    consumer_provider,
    mx_table,
)
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


async def _looked_up(zone: Zone, **options: Any) -> ProviderResolver:
    """The DNS task, served ``zone`` on loopback, once it has looked up every domain
    the zone holds MX records of."""
    with dns_server(zone) as address:
        resolver = _resolver(nameservers=[address], rate=100, clock=lambda: T, **options)
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(20):
                await _resolve_all(resolver, list(zone.mx), T)
            tg.cancel_scope.cancel()
    return resolver


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
        "yahoo.co.uk": "yahoo",
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
    # Yahoo! JAPAN is LY Corporation's own mail service (MX mx.mail.yahoo.co.jp), not
    # Yahoo Inc.'s: it is found from its MX, as a company domain is (it was "yahoo").
    assert consumer_provider("yahoo.co.jp") is None
    assert _ask(resolver, "yahoo.co.jp", T) == "unknown"  # a lookup is queued


def test_a_unicode_suffix_in_the_config_matches_the_mx_host_dns_writes() -> None:
    """DNS writes an internationalised MX host in ASCII (punycode): a suffix the config
    writes in Unicode, or in capitals, names the same hosts."""
    config = parse_config('[providers.mx]\ncorp = ["Exämple.COM."]\n')
    table = mx_table(config.providers.table)
    assert by_mx(["mx1.xn--exmple-cua.com."], table) == "corp"
    assert by_mx(["mx1.example.com"], table) == "other"


def test_config_entries_add_and_override_mx_suffixes() -> None:
    table = mx_table({"inhouse": ["gw.corp.example"], "google": ["google.com"]})
    assert by_mx(["mx1.gw.corp.example"], table) == "inhouse"
    assert by_mx(["GW.corp.example."], table) == "inhouse"
    assert by_mx(["notgw.corp.example"], table) == "other"
    # A label the user lists replaces its built-in suffixes; the others stay.
    assert by_mx(["alt1.aspmx.l.googlemail.com"], table) == "other"
    assert by_mx(["aspmx.l.google.com"], table) == "google"
    assert by_mx(["x-com.mail.protection.outlook.com"], table) == "microsoft"


def test_an_mx_in_capitals_with_its_root_dot_is_the_same_host() -> None:
    """DNS names are case-insensitive and may end with the root's dot, whatever their
    last letter: a user's suffix written "GW.EXAMPLE.BOX." and a host
    "MX1.GW.EXAMPLE.BOX." match, as their lower-case forms do."""
    table = mx_table({"corp": ["GW.EXAMPLE.BOX."]})
    assert by_mx(["MX1.GW.EXAMPLE.BOX."], table) == "corp"
    assert by_mx(["mx1.gw.example.box"], table) == "corp"


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


async def test_an_alias_holds_no_longer_than_its_cname_within_the_clamp() -> None:
    """A domain that is an alias (CNAME, for 2 h) of one whose MX holds a day: the answer
    holds 2 h, as long as the shortest record it was read through (the alias may point
    elsewhere after that), not the MX's day. The clamp applies to that TTL as to any:
    an alias for a minute holds an hour, the floor."""
    zone = Zone(
        mx={"target.example": [(10, "target-example.mail.protection.outlook.com")]},
        cname={"two-hours.example": "target.example", "a-minute.example": "target.example"},
        ttl={"two-hours.example": 7200, "a-minute.example": 60, "target.example": 86400},
    )
    domains = ["two-hours.example", "a-minute.example", "target.example"]
    with dns_server(zone) as address:
        resolver = _resolver(nameservers=[address], rate=100, clock=lambda: T)
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(20):
                await _resolve_all(resolver, domains, T)
            tg.cancel_scope.cancel()
    assert {d: resolver.cache.cache[d] for d in domains} == {
        "two-hours.example": ("microsoft", T + 7200),
        "a-minute.example": ("microsoft", T + MIN_TTL),
        "target.example": ("microsoft", T + 86400),
    }


async def test_a_resolver_that_fails_later_keeps_each_domain_its_last_provider() -> None:
    """corp.example is Microsoft's; an hour on, the resolver answers SERVFAIL: the
    domain stays Microsoft's (its rules on providers would otherwise go blind, a domain
    at a time), and is tried again later. The log says when lookups begin to fail
    (three in a row: one domain with broken DNS is not the resolver) and when they
    answer again, once each, not once a domain."""
    from structlog.testing import capture_logs

    zone = _zone()
    now = [T]
    with dns_server(zone) as address, capture_logs() as logs:
        resolver = _resolver(nameservers=[address], timeout=2.0, rate=100, clock=lambda: now[0])
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(20):
                await _resolve_all(resolver, ["corp.example", "broken.example", "self.example"], T)
            zone.servfail |= {"corp.example", "startup.example", "bank.example"}
            now[0] = T + MIN_TTL
            assert _ask(resolver, "corp.example", now[0]) == "microsoft"  # while asked again
            with anyio.fail_after(20):
                await _resolve_all(resolver, ["startup.example", "bank.example"], now[0])
                while resolver.cache.outcomes["failed"] < 4:  # broken.example's, then three
                    await resolver.done.wait()
            assert resolver.cache.cache["corp.example"] == ("microsoft", now[0] + RETRY_AFTER)
            assert _ask(resolver, "corp.example", now[0] + 1) == "microsoft"
            assert resolver.cache.cache["startup.example"][0] == "unknown"  # never known
            zone.servfail.clear()
            now[0] += RETRY_AFTER
            with anyio.fail_after(20):
                _ask(resolver, "corp.example", now[0])
                while resolver.cache.outcomes["resolved"] < 3:
                    await resolver.done.wait()
            tg.cancel_scope.cancel()
    events = [e for e in logs if e["event"].startswith("sesd.providers.lookups_")]
    assert [e["event"] for e in events] == [
        "sesd.providers.lookups_failing",
        "sesd.providers.lookups_answering",
    ]
    # Which servers failed: resolv.conf's, unless [providers] names them.
    assert events[0]["nameservers"] == [address]


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
    """21 lookups at 20 a second: each started at least 50 ms after the one before,
    however late the event loop let one start (a busy machine), and no burst at the
    server makes up for a late one."""
    zone = Zone(mx={f"d{i}.example": [(10, "aspmx.l.google.com")] for i in range(21)})
    with dns_server(zone) as address:
        started: list[float] = []

        class Timed(ProviderCache):
            """The cache, noting when the resolver takes each domain to look up."""

            def take(self) -> str | None:
                domain = super().take()
                if domain is not None:
                    started.append(anyio.current_time())
                return domain

        resolver = ProviderResolver(Timed(100_000), nameservers=[address], rate=20, clock=lambda: T)
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(30):
                await _resolve_all(resolver, [f"d{i}.example" for i in range(21)], T)
            tg.cancel_scope.cancel()
    assert len(started) == 21
    assert min(b - a for a, b in itertools.pairwise(started)) >= 0.05
    # At the server the span is the measure: one query can arrive late (the first,
    # which sets the resolver up, came 0.15 s late on a busy machine).
    times = sorted(t for _, _, t in zone.queries)
    assert len(times) == 21
    assert times[-1] - times[0] >= 0.75


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


#: 215 MX hosts seen in public zone files, DNS records, mail logs and bounces, each
#: with its operator and source (tests/data/SOURCES.md).
MX_CORPUS = Path(__file__).parent / "data" / "mx_hosts.jsonl"
NAMED = frozenset(PROVIDERS + GATEWAYS)
#: Hosts of published MX forms the corpus has no example of, with where they come from.
DOCUMENTED = {
    "mailin-01.mx.aol.com": "yahoo",  # AOL's MX before it moved to yahoodns.net
    "mx.zoho.com.au": "zoho",  # zoho.com/mail/help/adminconsole/configure-email-delivery.html
    "mx.zoho.jp": "zoho",  # same page, Japan
    "mx.zohocloud.ca": "zoho",  # same page, Canada
    "mx.zoho.sa": "zoho",  # same page, Saudi Arabia
    "mx.zohomail.com": "zoho",  # Zoho's older MX
    "je-smtp-inbound-1.mimecast-offshore.com": "mimecast",  # Mimecast's Jersey grid
}


def _mx_corpus() -> list[tuple[str, str]]:
    """(host, the label it should get): its operator when sesd names it, else other."""
    rows = [json.loads(line) for line in MX_CORPUS.read_text("utf-8").splitlines()]
    return [(r["host"], r["operator"] if r["operator"] in NAMED else "other") for r in rows]


def _score(found: dict[str, str], expected: dict[str, str]) -> Counter[str]:
    """right: the expected label; other: `other` for a named operator (a miss, not an
    error); wrong: a named label that is not the operator's."""
    tally: Counter[str] = Counter()
    for host, label in found.items():
        want = expected[host]
        tally["right" if label == want else "other" if label == "other" else "wrong"] += 1
    return tally


async def test_real_mx_hosts_resolve_to_their_operators() -> None:
    """Each corpus host is the MX of a test domain on the real DNS server; the resolver
    looks every domain up: at least 97% get their operator (or `other` when sesd names
    no such provider) and at most 1% a provider that is not theirs."""
    corpus = _mx_corpus()
    domains = {f"d{i:03}.mx-corpus.example": host for i, (host, _) in enumerate(corpus)}
    zone = Zone(mx={domain: [(10, host)] for domain, host in domains.items()})
    with dns_server(zone) as address:
        resolver = _resolver(
            nameservers=[address], timeout=2.0, rate=1000, concurrency=20, clock=lambda: T
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(30):
                await _resolve_all(resolver, list(domains), T)
            tg.cancel_scope.cancel()
    found = {host: _ask(resolver, domain, T) for domain, host in domains.items()}
    tally = _score(found, dict(corpus))
    print(f"\nMX corpus: {dict(tally)} of {len(corpus)}")
    assert len(corpus) >= 150
    assert tally["right"] >= 0.97 * len(corpus)
    assert tally["wrong"] <= 0.01 * len(corpus)


def test_every_mx_host_of_a_named_operator_is_known_but_postini() -> None:
    """Host by host: every corpus host gets its expected label, except Postini's
    (*.psmtp.com, Google's until 2016 and gone since), which is `other`: a host that no
    longer receives mail is not Google's mail service."""
    table = mx_table()
    misses = {h: want for h, want in _mx_corpus() if by_mx([h], table) != want}
    assert misses == {
        "cchlis.com.s5a1.psmtp.com": "google",
        "iona.com.s8a1.psmtp.com": "google",
    }


@pytest.mark.parametrize(
    ("host", "label"),
    [
        ("mx2.mail.yahoo.co.jp", "other"),  # LY Corporation, not Yahoo Inc.
        ("godaddy-com.mail.protection.outlook.com", "microsoft"),  # GoDaddy's tenant
        ("mx-rogers.mail.am0.yahoodns.net", "yahoo"),  # Rogers' mailboxes at Yahoo
        ("cxr.mx.a.cloudfilter.net", "other"),  # Cox, on Cloudmark's hosts
        ("blackhole.wanadoo.com", "other"),  # a sink, not a mailbox service
        ("mx.rediffmail.rediff.akadns.net", "other"),  # Rediffmail under Akamai's name
        ("mx2.me.com.akadns.net", "apple"),  # me.com under Akamai's name
        ("sdu-dk.i-v1.mx.microsoft", "microsoft"),  # DANE and DNSSEC tenants
        ("mxa-00123456.gslb.pphosted.com", "proofpoint"),
    ],
)
def test_tricky_mx_names_get_the_operator_not_the_name(host: str, label: str) -> None:
    """A host named after one company but run by another, or under a CDN's name, gets
    its operator's label; a provider's brand in another company's name claims nothing."""
    assert by_mx([host], mx_table()) == label


async def test_an_mx_at_an_address_names_no_provider_whatever_the_table() -> None:
    """A domain whose MX host is an IP address (RFC 5321 5.1 forbids it: Exim refuses
    it by default, other MTAs try the address): it has MX records and none names a
    known host, so ``other``, even with a table whose suffix the address's last
    numbers spell; a provider's host after it still names the provider."""
    zone = Zone(
        mx={
            "ip.example": [(10, "192.0.2.1")],
            "ip-then-google.example": [(10, "192.0.2.1"), (20, "aspmx.l.google.com")],
            "under.example": [(10, "mx.2.1")],
        }
    )
    table = {"corp": ("2.1",)}
    resolver = await _looked_up(zone, mx=table)
    assert {d: _ask(resolver, d, T) for d in zone.mx} == {
        "ip.example": "other",
        "ip-then-google.example": "google",
        "under.example": "corp",  # a name under the suffix is the suffix's
    }
    suffixes = mx_table({**table, "v6": ("db8",)})
    for host in (
        "192.0.2.1.",
        "[192.0.2.1]",
        "2001:db8::1",
        "[IPv6:2001:db8::1]",
        "::ffff:192.0.2.1",
    ):
        assert by_mx([host], suffixes) == "other", host


async def test_a_dot_inside_an_mx_label_cannot_pose_as_a_provider() -> None:
    """A domain's owner may give its MX any name, even one no registry would let exist:
    the two labels ``x.google`` and ``com`` read, as text, ``x\\.google.com``, which
    ends with google.com but is not under it. Matched label by label, such a host
    names no provider (``other``), whichever of its last labels holds the dot; a dot
    inside a label under a provider's own name (``aspmx\\.l.google.com``, a name
    only Google's zone could hold) is that provider's."""
    zone = Zone(
        mx={
            "pose.example": [(10, ("x.google", "com"))],
            "pose-deeper.example": [(10, ("mx", "tenant.mail.protection.outlook", "com"))],
            "pose-then-other.example": [(10, ("mx.google", "com")), (20, "mail.pose.example")],
            "inside.example": [(10, ("aspmx.l", "google", "com"))],
        }
    )
    resolver = await _looked_up(zone)
    assert {d: _ask(resolver, d, T) for d in zone.mx} == {
        "pose.example": "other",
        "pose-deeper.example": "other",
        "pose-then-other.example": "other",
        "inside.example": "google",
    }
    table = mx_table()
    # The text form's other escape for a dot, by its decimal value (RFC 1035 5.1).
    assert by_mx(["mx\\046google.com"], table) == "other"
    assert by_mx(["mx.google\\.com"], table) == "other"
    # Case is ASCII's alone in DNS: a Kelvin sign is no k.
    assert by_mx(["d1.ess.barracudanetwor\u212as.com"], table) == "other"
    assert by_mx(["D1.ESS.BarracudaNetworks.COM."], table) == "barracuda"


def test_every_builtin_suffix_is_a_published_form_and_needed() -> None:
    """Each built-in suffix covers at least one real host (from the corpus, or a
    documented form) that gets its label through that suffix and no other: none is
    dead, none repeats another."""
    examples = [host for host, _ in _mx_corpus()] + list(DOCUMENTED)
    table = mx_table()
    for label, suffixes in MX_SUFFIXES.items():
        for suffix in suffixes:
            covered = [h for h in examples if h == suffix or h.endswith("." + suffix)]
            assert covered, suffix
            without = {s: lab for s, lab in table.items() if s != suffix}
            assert any(by_mx([h], table) == label != by_mx([h], without) for h in covered), suffix
    assert all(by_mx([host], table) == label for host, label in DOCUMENTED.items())


def test_the_cache_answers_at_once_and_queues_each_domain_once_within_its_bound() -> None:
    """A domain with no answer is unknown and wanted once (not while wanted or under
    way); an abandoned lookup may be wanted again; the queue stops at its bound; an
    answer past its TTL is still given while the domain is looked up again."""
    cache = ProviderCache(max_cache=10, max_queue=2)
    assert cache.latest == 0.0
    assert cache.provider("a.example", T) == "unknown"
    assert cache.latest == T
    assert cache.provider("a.example", T) == "unknown"
    assert cache.wanted == {"a.example": None}
    assert cache.take() == "a.example"
    assert cache.provider("a.example", T) == "unknown"
    assert (cache.wanted, cache.looking) == ({}, {"a.example"})
    cache.abandoned("a.example")
    assert cache.looking == set()
    for domain in ("a.example", "b.example", "c.example"):
        cache.provider(domain, T)
    assert list(cache.wanted) == ["a.example", "b.example"]
    assert cache.full
    assert cache.provider("gmail.com", T) == "google"  # a consumer domain, by name
    assert "gmail.com" not in cache.wanted
    cache.wanted.clear()
    cache.answered("a.example", "microsoft", T + 300, "resolved")
    assert cache.provider("a.example", T + 299) == "microsoft"
    assert cache.wanted == {}
    assert cache.provider("a.example", T + 300) == "microsoft"  # stale, asked again
    assert cache.wanted == {"a.example": None}
    assert cache.snapshot(T + 299) == [["a.example", "microsoft", T + 300]]
    assert cache.snapshot(T + 300) == []


def test_the_cache_keeps_its_newest_answers_and_a_default_queue_of_ten_thousand() -> None:
    """An answer given again is moved to the newest place, not counted twice: the
    oldest other answer stays until the cache is over its size."""
    cache = ProviderCache(max_cache=3)
    for domain in ("a.example", "b.example", "c.example"):
        cache.remember(domain, "other", T + 60)
    cache.remember("b.example", "google", T + 60)
    assert list(cache.cache) == ["a.example", "c.example", "b.example"]
    cache.remember("d.example", "other", T + 60)
    assert list(cache.cache) == ["c.example", "b.example", "d.example"]
    for i in range(10_001):
        cache.provider(f"d{i}.example", T)
    assert len(cache.wanted) == 10_000


def test_one_domain_with_broken_dns_is_not_the_resolver_failing() -> None:
    """A domain whose own DNS is broken fails at every retry: the resolver is not said
    to fail (sesd_dns_failing, the log, the fleet rule), whatever the count; three
    distinct domains in a row without an answer are; one answer ends it."""
    cache = ProviderCache(100)
    for _ in range(5):
        cache.answered("broken.example", "unknown", T + RETRY_AFTER, "failed")
    assert not cache.failing
    cache.answered("a.example", "unknown", T + RETRY_AFTER, "timeout")
    assert not cache.failing
    cache.answered("b.example", "unknown", T + RETRY_AFTER, "failed")
    assert cache.failing  # broken.example and two more
    cache.answered("c.example", "google", T + MIN_TTL, "resolved")
    assert not cache.failing


def test_consumer_domains_remembered_by_name_are_bounded() -> None:
    """A flood of made-up consumer domains (``hotmail.*`` claims any ending): the first
    10,000 are remembered by name, not one more, and those past the bound are still
    answered by name, none of them wanted for a lookup."""
    cache = ProviderCache(max_cache=10)
    domains = [f"hotmail.x{i}" for i in range(_MAX_CONSUMERS + 50)]
    assert {cache.provider(d, T) for d in domains} == {"microsoft"}
    assert list(cache._consumers) == domains[:_MAX_CONSUMERS]
    assert (cache.wanted, cache.cache) == ({}, {})


def test_a_read_without_side_effects_answers_as_a_lookup_would() -> None:
    """An alert reads a domain's provider through ``known``, which must say what
    ``provider`` says (``unknown`` as None) for every kind of answer held: fresh,
    expired, unknown, a consumer domain by name with or without a cached answer (one
    expiring at the very time read), none at all; and leave the queue and the clock
    as they were."""
    now = 1000.0
    cache = ProviderCache(max_cache=10)
    cache.cache.update(
        {
            "fresh.example": ("google", now + 60),
            "stale.example": ("microsoft", now - 1),
            "failed.example": ("unknown", now + 60),
            "nomail.example": ("none", now + 60),
            "outlook.com": ("other", now - 1),  # expired: known by name again
            "hotmail.com": ("other", now),  # held until now, not at now: likewise
        }
    )
    domains = [*cache.cache, "gmail.com", "never.example"]
    read = {d: cache.known(d, now) for d in domains}
    assert (cache.wanted, cache.latest) == ({}, 0.0)
    asked = {d: cache.provider(d, now) for d in domains}
    assert read == {d: None if p == "unknown" else p for d, p in asked.items()}
    assert read["stale.example"] == "microsoft"  # the last answer, while a new one is due
    assert read["outlook.com"] == read["hotmail.com"] == "microsoft"


async def test_a_domain_without_mx_is_judged_by_its_addresses_and_their_failures() -> None:
    """No MX: mail goes to the domain's own address, IPv4 or IPv6 (RFC 5321 5.1), so a
    domain with only an AAAA record takes mail (``other``); a lookup of its address
    that fails (SERVFAIL) is a failed lookup, tried again after RETRY_AFTER, not a
    domain that takes no mail for an hour. An alias (CNAME) is followed to its MX."""
    zone = _zone()
    zone.aaaa["v6.example"] = "2001:db8::25"
    zone.servfail_type.add(("flaky.example", "A"))
    zone.cname["alias.example"] = "corp.example"
    domains = ["v6.example", "flaky.example", "alias.example"]
    with dns_server(zone) as address:
        resolver = _resolver(nameservers=[address], timeout=2.0, rate=100, clock=lambda: T)
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(20):
                await _resolve_all(resolver, domains, T)
            tg.cancel_scope.cancel()
    cache = resolver.cache
    assert cache.cache["v6.example"] == ("other", T + MIN_TTL)
    assert cache.cache["flaky.example"] == ("unknown", T + RETRY_AFTER)
    assert cache.cache["alias.example"][0] == "microsoft"
    assert cache.outcomes["failed"] == 1


async def test_without_a_resolver_configuration_a_prefetch_ends(tmp_path: Path) -> None:
    """No nameservers set and a resolv.conf that names none (a container without one):
    the DNS task says so and ends; ``sesd replay --dns``'s lookups end with it, the
    domains unknown, rather than waiting for answers that never come."""
    from structlog.testing import capture_logs

    empty = tmp_path / "resolv.conf"
    empty.write_text("search example.net\n")
    resolver = _resolver(resolv_conf=str(empty), clock=lambda: T)
    told: list[tuple[int, int]] = []
    with capture_logs() as logs, anyio.fail_after(10):
        await resolver.prefetch(["corp.example", "gmail.com"], T, lambda *n: told.append(n))
    assert [e["event"] for e in logs] == ["sesd.providers.no_resolver"]
    assert resolver.cache.provider("corp.example", T) == "unknown"
    assert told[-1] == (0, 1)


async def test_a_resolv_conf_written_after_the_start_is_read_and_failing_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container's resolv.conf is written after sesd starts: at first there is none,
    then one that names no nameserver, then one caught half written, then one that
    does. Meanwhile no lookup can be
    answered, so ``sesd_dns_failing`` reads 1 (what an operator's alert on it watches),
    said once in the log, not at every try; once the file names a server, the DNS task
    reads it at its next try and looks up what waited (not only after a restart).

    The tries come a hundredth of their pauses apart: the pauses (1, 2 and 4 s here)
    are checked on their own below, and the test waited them out, 7 s. The test
    writes each file as the try before it fails, before the next one can come."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.registry import Collector
    from structlog.testing import capture_logs

    from sesd.metrics.dns import dns_families
    from sesd.providers import resolver as module
    from tests.test_resolv_conf_changes import _loopback

    tried: list[int] = []
    pause = module.no_resolver_retry

    def sooner(attempt: int) -> float:
        tried.append(attempt)
        return pause(attempt) / 100

    monkeypatch.setattr(module, "no_resolver_retry", sooner)
    resolv = tmp_path / "resolv.conf"
    resolver = _resolver(resolv_conf=str(resolv), clock=lambda: T)

    class Dns(Collector):
        def collect(self) -> Any:
            return dns_families(resolver.cache)

    registry = CollectorRegistry()
    registry.register(Dns())
    assert registry.get_sample_value("sesd_dns_failing") == 0
    # resolv.conf names servers without a port: one on port 53 of a loopback address
    # of its own.
    host = _loopback()
    with ExitStack() as stack, capture_logs() as logs:
        try:
            stack.enter_context(dns_server(_zone(), host, 53))
        except PermissionError:
            pytest.skip("needs port 53 on loopback (root, or CAP_NET_BIND_SERVICE)")
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(10):
                await resolver.done.wait()  # no file: no resolver
            assert registry.get_sample_value("sesd_dns_failing") == 1
            assert _ask(resolver, "corp.example", T) == "unknown"
            resolv.write_text("search example.net\n")
            with anyio.fail_after(10):
                await resolver.done.wait()  # a file, no server in it
            assert registry.get_sample_value("sesd_dns_failing") == 1
            # Caught half written: an address dnspython refuses (ValueError).
            resolv.write_text("nameserver 127.53.")
            with anyio.fail_after(10):
                await resolver.done.wait()
            assert registry.get_sample_value("sesd_dns_failing") == 1
            resolv.write_text(f"search example.net\nnameserver {host}\n")
            with anyio.fail_after(20):
                await _resolve_all(resolver, ["corp.example"], T)
            tg.cancel_scope.cancel()
    assert resolver.cache.cache["corp.example"][0] == "microsoft"
    assert registry.get_sample_value("sesd_dns_failing") == 0
    events = [e for e in logs if e["event"].startswith("sesd.providers.")]
    assert [e["event"] for e in events] == [
        "sesd.providers.no_resolver",
        "sesd.providers.resolver_found",
    ]
    assert events[1]["nameservers"] == [host]  # resolv.conf's, on its port 53
    assert tried == [0, 1, 2]  # each file read once, at its own try, the pauses growing


def test_without_a_resolver_the_next_try_waits_longer_up_to_a_minute() -> None:
    """resolv.conf is read again 1 s after it named no server, then at doubling pauses,
    never more than a minute apart: a file written at boot is found within seconds,
    one that stays empty costs one read a minute."""
    from sesd.providers.resolver import no_resolver_retry

    assert [no_resolver_retry(n) for n in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert no_resolver_retry(10_000) == 60


async def test_a_silent_first_nameserver_leaves_time_to_ask_the_next() -> None:
    """resolv.conf (or ``nameservers``) names two servers and the first is down without
    a word (packets dropped): each is given ``timeout`` in turn, so the second answers,
    rather than the first taking the whole lookup and every domain timing out."""
    zone = _zone()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent, dns_server(zone) as live:
        silent.bind(("127.0.0.1", 0))  # takes every query, answers none
        down = f"127.0.0.1:{silent.getsockname()[1]}"
        resolver = _resolver(nameservers=[down, live], timeout=0.5, rate=100, clock=lambda: T)
        async with anyio.create_task_group() as tg:
            tg.start_soon(resolver.run)
            with anyio.fail_after(20):
                await _resolve_all(resolver, ["corp.example"], T)
            tg.cancel_scope.cancel()
    assert resolver.cache.cache["corp.example"][0] == "microsoft"
    assert resolver.cache.outcomes["timeout"] == 0


#: DNS lower-cases ASCII letters alone.
_ASCII = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.binary(min_size=1, max_size=8),
        min_size=1,
        max_size=5,
    )
)
def test_mx_hosts_are_read_label_by_label_as_dnspython_writes_them(raw: list[bytes]) -> None:
    """Whatever bytes an MX host's labels hold (dots, backslashes, spaces, any byte),
    the labels read from dnspython's text form are the labels sent (letters
    lower-cased): what a suffix is matched against is the name's own labels."""
    import dns.name

    from sesd.core.providers import _labels

    text = dns.name.Name([*raw, b""]).to_text(omit_final_dot=True)
    assert _labels(text) == [b.decode("latin-1").translate(_ASCII) for b in raw]
