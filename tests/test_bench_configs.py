"""The configs the benchmarks run pass sesd's own checks.

Benchmarks are run on purpose, not by the suite: a config check added later
would otherwise surface only when someone next runs one, as a traceback.
"""

from __future__ import annotations

import time

import anyio
import pytest

from bench import end_to_end, evaluation, instructions, poller_instructions
from bench.cold_lookups import LookerClock
from bench.fake_sqs import DOMAINS
from sesd.config import parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.provider_cache import ProviderCache
from sesd.providers.resolver import ProviderResolver
from tests.dns_server import Zone, dns_server


@pytest.mark.parametrize("alerts", ["", instructions.ALERTS], ids=["end_to_end", "instructions"])
def test_the_daemon_configs_of_the_end_to_end_benchmarks_pass_the_checks(alerts: str) -> None:
    extra = end_to_end.daemon_config("127.0.0.1:53", alerts)
    config = parse_config(end_to_end.daemon_text("http://127.0.0.1:9", extra))
    assert [queue.name for queue in config.queues] == ["bench"]
    assert [rule.name for rule in config.alerts.rules] == ["delay-ratio-high"]


def test_the_cold_start_of_the_instruction_count_holds_its_lookups_back() -> None:
    """Its drain counts every event before its domain's answer: one lookup starts, the
    next only 1,000 s later."""
    config = parse_config(
        end_to_end.daemon_text("http://127.0.0.1:9", instructions.cold_config("127.0.0.1:53"))
    )
    assert config.providers.rate == 0.001
    assert config.providers.nameservers == ["127.0.0.1:53"]


async def test_the_lookups_the_instruction_count_counts_end() -> None:
    """The lookups counted alone are answered and looked up as the daemon's are, and the
    count's run ends once every one has its answer."""
    zone = Zone(mx={domain: [(10, "aspmx.l.google.com")] for domain in DOMAINS[:3]})
    zone.nxdomain.add(DOMAINS[3])
    with dns_server(zone) as address, anyio.fail_after(20):
        await instructions.lookups(4, address)
    assert sorted(name for name, _, _ in zone.queries) == sorted(DOMAINS[:4])


async def test_a_cold_drains_lookups_are_counted_and_timed_and_still_answered() -> None:
    """The end-to-end benchmark tells a cold drain's lookups from its events: its lookers,
    timed, still look up every wanted domain and stop when cancelled, as the daemon's."""
    zone = Zone(mx={domain: [(10, "aspmx.l.google.com")] for domain in DOMAINS[:3]})
    cache = ProviderCache(1000)
    for domain in DOMAINS[:3]:
        cache.provider(domain, time.time())
    with dns_server(zone) as address, anyio.fail_after(20):
        resolver = ProviderResolver(cache, nameservers=[address], rate=1000.0, clock=time.time)
        clock = LookerClock(resolver)
        async with anyio.create_task_group() as tg:
            clock.start()
            tg.start_soon(resolver.run)
            while sum(cache.outcomes.values()) < 3:
                await resolver.done.wait()
            found = clock.read()
            tg.cancel_scope.cancel()
    assert found.answered == 3
    assert found.cpu > 0
    assert found.wall > 0
    assert [cache.provider(domain, time.time()) for domain in DOMAINS[:3]] == ["google"] * 3


@pytest.mark.parametrize("name", list(evaluation.CONFIGS))
def test_the_evaluation_benchmarks_configs_pass_the_checks(name: str) -> None:
    config = parse_config(evaluation.rules(name))
    assert len(config.alerts.rules) == {"36 rules": 36, "99 rules": 99, "one rule": 1}[name]


async def test_the_poller_benchmarks_drain_runs_a_real_poller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The drain the poller's instruction count runs (under valgrind, so rarely) takes
    its client as sesd's pollers take theirs: a hook sesd adds to its clients, or one it
    takes off, that the bench's client cannot take fails here, not in the next count."""
    monkeypatch.setattr(Pipeline, "feed", poller_instructions._counted_feed)
    assert await poller_instructions.drain(2) == 20
