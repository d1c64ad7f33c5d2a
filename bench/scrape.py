"""/metrics at 200 and 1,000 tracked domains, and the event loop while it renders.

Baseline in the same run: prometheus_client's ``generate_latest`` over the
same registry. Then, with a task feeding events through the pipeline
(load), scrapes run through the async renderer the HTTP handler uses while
a watchdog task measures how late it wakes: the largest stall is how long
ingestion stood still during a scrape. Targets: 100 ms at 200 domains,
500 ms at 1,000, no stall over 50 ms.

Last, a large sender's alert states: 99 rules over 1,000 domains (bench.evaluation's
config), 66,000 (rule, label) states in each of ``sesd_alerts_firing`` and
``sesd_alerts_silenced``. Scrapes alternate between sesd's collector (the states in
chunks) and the baseline that wrote each family whole; a task beside them measures
the longest the event loop went without running it, and the CPU time in that stretch
(the hold on an idle core). Target: 50 ms.

And 200 message tag values beside 200 SES tenants (two minutes of traffic, what SES
says of each tenant): the longest hold of the loop in a scrape, the tag windows'
families written in chunks of 25 values (before: whole, 23-28 ms of CPU).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial

import anyio
import anyio.lowlevel
from prometheus_client import generate_latest

from bench import evaluation
from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantStatus
from sesd.metrics.alerts import AlertsCollector
from sesd.metrics.exposition import render, render_async
from sesd.metrics.registry import Metrics
from tests import factory as f
from tests.test_scrape_alert_states import whole_families


def _populated(domains: int) -> tuple[Pipeline, Metrics]:
    pipeline = Pipeline(core_settings(parse_config(f"[domains]\nmax_tracked = {domains}\n")))
    metrics = Metrics(pipeline.ledger, ["bench"], lambda: f.T0 + 60)
    for d in range(domains):
        for k in range(5):
            pipeline.feed(f.raw(f.delivery([f"u{k}@d{d}.example"], at=f.T0 + k)), "q", f.T0 + k)
        pipeline.feed(f.raw(f.delay([f"x@d{d}.example"], expires=f.T0 + 3600)), "q", f.T0)
    return pipeline, metrics


def _timed(fn: object, runs: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times) * 1000, max(times) * 1000


class _GcPauses:
    """The longest garbage collection (ms) while installed: a stall nothing can yield in."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.longest = max(self.longest, (time.perf_counter() - self._start) * 1000)


async def longest_stall(
    pipeline: Pipeline, now: float, work: Callable[[], Awaitable[object]], runs: int
) -> tuple[float, float]:
    """The largest gap (ms) between a 1 ms ticker's wake-ups while ``work`` runs
    ``runs`` times beside ingestion (a task feeding events at ``now``), and the
    longest garbage collection meanwhile."""
    worst = 0.0
    pauses = _GcPauses()
    bodies = [f.raw(f.delivery([f"load{i}@d{i % 50}.example"])).encode() for i in range(2000)]

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while True:
            await anyio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, (now - last) * 1000 - 1)
            last = now

    async def load() -> None:
        i = 0
        while True:
            for body in bodies[i % 20 * 100 : i % 20 * 100 + 100]:
                pipeline.feed(body, "bench", now)
            i += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(load)
        await anyio.sleep(0.05)
        tg.start_soon(ticker)
        await anyio.sleep(0.05)
        worst = 0.0
        gc.callbacks.append(pauses)
        try:
            for _ in range(runs):
                await work()
        finally:
            gc.callbacks.remove(pauses)
        tg.cancel_scope.cancel()
    return worst, pauses.longest


def main() -> None:
    """Run the benchmark."""
    print("/metrics render time (best / worst of 5) and the longest event-loop stall")
    for domains in (200, 1000):
        pipeline, metrics = _populated(domains)
        base = _timed(lambda m=metrics: generate_latest(m.registry))
        ours = _timed(lambda m=metrics: render(m.registry.collect()))
        scrape = partial(render_async, metrics.registry)
        stall, gc_pause = anyio.run(longest_stall, pipeline, f.T0 + 60, scrape, 5)
        target = 100 if domains == 200 else 500
        print(
            f"  {domains:>5} domains: generate_latest {base[0]:5.0f}/{base[1]:4.0f} ms   "
            f"sesd {ours[0]:5.0f}/{ours[1]:4.0f} ms (target {target} ms, "
            f"{base[0] / ours[0]:.1f}x faster)   longest loop stall {stall:4.1f} ms "
            f"(target 50 ms; longest garbage collection in it {gc_pause:4.1f} ms)"
        )
    alert_states()
    tags_and_tenants()


def _tagged(values: int = 200) -> Metrics:
    """The registry of ``values`` campaign tag values and as many SES tenants (named by
    a tag), two minutes of their traffic (a fifth delays), and what SES says of each."""
    config = parse_config(
        '[dimensions]\ntags = ["campaign"]\n[tenants]\nenabled = true\ntags = ["tenant"]\n'
    )
    pipeline = Pipeline(core_settings(config))
    for i in range(10):
        at = f.T0 + i * 12
        for d in range(values):
            to, tags = [f"u{i}@d{d}.example"], {"campaign": [f"c{d}"], "tenant": [f"tenant-{d}"]}
            if (i + d) % 5:
                event = f.delivery(to, at=at, tags=tags)
            else:
                event = f.delay(to, at=at, expires=at + 600, tags=tags)
            pipeline.feed(f.raw(event), "q", at)
    for d in range(values):
        status = TenantStatus(sending="DISABLED", aws="DISABLED", impact="HIGH", policy="standard")
        status.findings.append(("BOUNCE", "HIGH", f"The bounce rate exceeded 15.0% ({d})."))
        pipeline.ledger.tenant_status.polled(("prod", "eu-west-1", f"tenant-{d}"), status, f.T0)
    return Metrics(pipeline.ledger, ["q"], lambda: f.T0 + 130, tenants_polled=True)


def tags_and_tenants(runs: int = 9) -> None:
    """The longest hold of the loop in a scrape of 200 tag values and 200 tenants."""
    metrics = _tagged()

    async def scrape() -> None:
        await render_async(metrics.registry)

    holds = [anyio.run(evaluation.held, scrape)[1:] for _ in range(runs)]
    walls, cpus = [wall * 1000 for wall, _ in holds], [cpu * 1000 for _, cpu in holds]
    print(
        f"  200 tag values and 200 tenants: longest hold of the loop in a scrape (target "
        f"50 ms), median and worst of {runs}: {statistics.median(walls):5.1f} ms "
        f"({statistics.median(cpus):4.1f} CPU), worst {max(walls):5.1f} ms ({max(cpus):4.1f})"
    )


def _alerting(ticks: int = 2) -> tuple[Metrics, int]:
    """The registry of 99 rules over 1,000 domains that all had events, evaluated
    ``ticks`` times; and how many (rule, label) states it holds."""
    config = parse_config(evaluation.rules("99 rules"))
    pipeline = Pipeline(core_settings(config))
    cache = pipeline.ledger.providers
    assert cache is not None
    providers = ("google", "microsoft", "yahoo", "apple", "other")
    for d in range(evaluation.DOMAINS):
        cache.remember(f"d{d}.example", providers[d % len(providers)], f.T0 + 86_400)
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    now = f.T0
    for tick in range(ticks):
        now = f.T0 + tick * evaluation.EVERY
        for d in range(evaluation.DOMAINS):
            pipeline.feed(f.raw(f.delivery([f"u{tick}@d{d}.example"], at=now)), "q", now)
        evaluator.evaluate(pipeline.ledger, now)
    states = sum(len(states) for states in evaluator.states.values())
    return Metrics(pipeline.ledger, ["q"], lambda: now, evaluator=evaluator), states


def alert_states(runs: int = 6) -> None:
    """The longest hold of the loop in a scrape of a large sender's alert states, with
    sesd's collector and with the alert families whole, taking turns at going first."""
    metrics, states = _alerting()
    chunked = AlertsCollector.collect
    found: dict[str, list[tuple[float, float]]] = {"in chunks": [], "whole": []}
    size = 0

    async def scrape() -> None:
        nonlocal size
        size = len(await render_async(metrics.registry))

    for run in range(runs):
        for way in ("in chunks", "whole")[:: 1 if run % 2 else -1]:
            AlertsCollector.collect = chunked if way == "in chunks" else whole_families  # type: ignore[method-assign]
            try:
                _, longest, cpu = anyio.run(evaluation.held, scrape)
            finally:
                AlertsCollector.collect = chunked  # type: ignore[method-assign]
            found[way].append((longest * 1000, cpu * 1000))
    print(
        f"  99 rules x {evaluation.DOMAINS:,} domains: {states:,} alert states, "
        f"{size / 1e6:.1f} MB; longest hold of the loop in a scrape (target 50 ms), "
        f"median and worst of {runs}, wall (CPU):"
    )
    for way, holds in found.items():
        walls, cpus = [wall for wall, _ in holds], [cpu for _, cpu in holds]
        print(
            f"    alert families {way:>9}: {statistics.median(walls):6.1f} ms "
            f"({statistics.median(cpus):5.1f}), worst {max(walls):6.1f} ms ({max(cpus):5.1f})"
        )
