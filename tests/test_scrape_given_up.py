"""A scrape whose client has given up: Prometheus closes the connection at its
``scrape_timeout``, and sesd stops writing an exposition nobody will read."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import aiohttp
import anyio
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.config import HttpConfig
from sesd.runtime.health import Changes, Health
from sesd.runtime.http import http_server

#: Families in one exposition: a render yields to the event loop after each one.
FAMILIES = 2000


class CountedFamilies(Collector):
    """``FAMILIES`` gauges, counting every family any render asks for."""

    def __init__(self, changes: Changes) -> None:
        self.asked = 0
        self._changes = changes

    def collect(self) -> Iterator[Metric]:
        for i in range(FAMILIES):
            self.asked += 1
            self._changes.notify()
            yield GaugeMetricFamily(f"sesd_test_family_{i}", "one of many", value=i)


def _asked_at_least(families: CountedFamilies, n: int) -> bool:
    return families.asked >= n


async def test_a_scrape_given_up_stops_rendering_and_leaves_the_loop_to_the_next() -> None:
    """A scrape is under way when its client hangs up (Prometheus' scrape_timeout);
    the next scrape then runs to the end. The first render stopped where it was: it
    asked for a few families, not all of them. Finishing renders for clients that had
    left made every later scrape share the loop with them, so on a busy machine one
    stall left each scrape slower than the timeout, for good (the targets down, and
    the renders piling up, with garbage collection held while any ran)."""
    changes = Changes()
    families = CountedFamilies(changes)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(families)
    served = http_server(HttpConfig("127.0.0.1:0"), registry, Health([]), lambda: 0.0)
    with anyio.fail_after(30):
        async with served as port:
            stream = await anyio.connect_tcp("127.0.0.1", port)
            await stream.send(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await changes.wait_for(partial(_asked_at_least, families, 10))
            await stream.aclose()  # gives up, as Prometheus does at its timeout
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/metrics") as response,
            ):
                body = await response.text()
    assert response.status == 200
    assert body.count("# TYPE sesd_test_family_") == FAMILIES
    # Left alone, the first render (ahead of the second by ten families, both one
    # family a turn of the loop) would have asked for all of them by now.
    abandoned = families.asked - FAMILIES
    assert abandoned < FAMILIES, f"a scrape given up still rendered {abandoned} families"
