"""The status page at 1,000 domains: a page view (the HTML, then the JSON the page's
script fetches) against a ``/metrics`` scrape of the same state, in the same run,
both over sesd's own HTTP server on loopback; then the event loop while page
views run beside ingestion.

The state: 1,000 domains with deliveries and a pending delay each (as
bench/scrape.py builds it), their providers, and a rule on every domain evaluated
once (so the evaluator holds a state per domain, as in production). Nothing runs
for the page between requests: its cost is the request's alone. Target: the
longest event-loop stall under 50 ms.
"""

from __future__ import annotations

import time
from functools import partial

import aiohttp
import anyio

from bench.scrape import longest_stall
from sesd import __version__
from sesd.alerting.evaluator import Evaluator
from sesd.config import HttpConfig, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from sesd.runtime.health import Health
from sesd.runtime.http import http_server
from sesd.status.routes import add_status_routes
from sesd.status.sources import Sources
from tests import factory as f

DOMAINS = 1000
RUNS = 5
NOW = f.T0 + 60
RULE = (
    '[[alerts.rules]]\nname = "delay-ratio-high"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    "above = 0.1\nmin_events = 3\n"
)


def _populated(domains: int) -> tuple[Pipeline, Metrics, Sources, Health]:
    config = parse_config(f"[domains]\nmax_tracked = {domains}\n{RULE}")
    pipeline = Pipeline(core_settings(config))
    ledger = pipeline.ledger
    for d in range(domains):
        for k in range(5):
            pipeline.feed(f.raw(f.delivery([f"u{k}@d{d}.example"], at=f.T0 + k)), "q", f.T0 + k)
        pipeline.feed(f.raw(f.delay([f"x@d{d}.example"], expires=f.T0 + 3600)), "q", f.T0)
    evaluator = Evaluator(config.alerts, [s.name for s in ledger.specs])
    evaluator.evaluate(ledger, NOW)
    metrics = Metrics(ledger, ["bench"], lambda: NOW, evaluator=evaluator)
    health = Health(["bench"])
    sources = Sources(
        ledger=ledger,
        evaluator=evaluator,
        metrics=metrics,
        health=health,
        clock=lambda: NOW,
        monotonic=time.monotonic,
        started=NOW - 3600,
        version=__version__,
    )
    return pipeline, metrics, sources, health


async def _get(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url) as response:
        assert response.status == 200, url
        return len(await response.read())


async def _timed(session: aiohttp.ClientSession, urls: list[str]) -> tuple[float, float, int]:
    """Best and worst of RUNS (ms) of GETting ``urls`` in turn, and the bytes read."""
    times, size = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        size = sum([await _get(session, url) for url in urls])
        times.append(time.perf_counter() - start)
    return min(times) * 1000, max(times) * 1000, size


async def _views(session: aiohttp.ClientSession, urls: list[str]) -> None:
    for url in urls:
        await _get(session, url)


async def _measure(domains: int) -> None:
    pipeline, metrics, sources, health = _populated(domains)
    routes = partial(add_status_routes, sources)
    config = HttpConfig("127.0.0.1:0")
    async with (
        http_server(config, metrics.registry, health, time.monotonic, routes=routes) as port,
        aiohttp.ClientSession() as session,
    ):  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        page = [f"{base}/", f"{base}/api/v1/status"]
        scrape = [f"{base}/metrics"]
        await _get(session, page[0])  # warm: imports, caches
        viewed = await _timed(session, page)
        scraped = await _timed(session, scrape)
        domain = await _timed(
            session, [f"{base}/domain/d7.example", f"{base}/api/v1/domain/d7.example"]
        )
        views = partial(_views, session, page)
        stall, gc_pause = await longest_stall(pipeline, NOW, views, RUNS)
    print(
        f"  {domains:>5} domains: page view (HTML + JSON, {viewed[2] // 1024} KiB) "
        f"{viewed[0]:5.1f}/{viewed[1]:5.1f} ms; /metrics ({scraped[2] // 1024} KiB) "
        f"{scraped[0]:5.1f}/{scraped[1]:5.1f} ms: a page view costs "
        f"{viewed[0] / scraped[0]:.2f}x a scrape (best of {RUNS})\n"
        f"         one domain's page (HTML + JSON) {domain[0]:4.1f}/{domain[1]:4.1f} ms; "
        f"longest loop stall during page views {stall:4.1f} ms (target 50 ms; longest "
        f"garbage collection in it {gc_pause:4.1f} ms)"
    )


def main() -> None:
    """Run the benchmark."""
    print("status page: a page view against a scrape of the same state (best/worst of 5)")
    anyio.run(_measure, DOMAINS)
