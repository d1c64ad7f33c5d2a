"""Rule evaluation of a large sender's config: how long one evaluation holds the event
loop, whole and in slices (sesd.alerting.slices), and what one (rule, label) step costs.

Two configs over 1,000 domains that all get events between two evaluations, so no
label is quiet: 36 rules (delay, bounce and delivery ratios, processing p95 and two
causes, over the 5m, 15m and 1h windows, on every domain and on every provider), and
99 rules (eleven metrics over the three windows, on every domain twice and on every
provider: the size of a review's config). Each tick one evaluator evaluates whole
and another in slices as the daemon does, on the same ledger at the same moment,
taking turns at going first; a task beside them measures the longest the event loop
went without running it (what a scrape or a poll waits), and the CPU time spent in
that stretch (the same on an idle core; the machine's other processes stretch the
wall time). Against a baseline: the same labels under one rule. Prints per config
the median evaluation, whole and in slices, its longest hold of the loop (median
and worst over the ticks), and the µs a step. Then an alert storm (bench.storm): the
longest hold of an evaluation's final decision when 3,000 alerts fire or resolve at once.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import anyio
import anyio.lowlevel

from bench import storm
from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.ledger import Ledger
from sesd.core.pipeline import Pipeline
from tests import factory as f

DOMAINS = 1_000
TICKS = 40
EVERY = 5.0
_SIX = (
    'metric = "delay_ratio"\nabove = 0.5',
    'metric = "bounce_ratio"\nabove = 0.5',
    'metric = "delivery_ratio"\nbelow = 0.01',
    'metric = "processing_p95_seconds"\nabove = 3600',
    'metric = "cause_ratio"\ncause = "rate_limited"\nabove = 0.5',
    'metric = "cause_ratio"\ncause = "ip_reputation"\nabove = 0.5',
)
_ELEVEN = (
    *_SIX,
    'metric = "delayed_recipients"\nabove = 1000000',
    'metric = "complaint_ratio"\nabove = 0.5',
    'metric = "delay_duration_p95_seconds"\nabove = 99999',
    'metric = "bounce_ratio"\ninclude_suppressed = true\nabove = 0.9',
    'metric = "cause_ratio"\ncause = "mailbox_full"\nabove = 0.5',
)
#: Rules by name: the metrics, and the scopes each is on.
CONFIGS = {
    "36 rules": (_SIX, ('domains = ["*"]', 'providers = ["*"]')),
    "99 rules": (_ELEVEN, ('domains = ["*"]', 'providers = ["*"]', 'domains = ["*"]')),
    "one rule": (_SIX[:1], ('domains = ["*"]',)),  # the first of the three windows
}


def rules(name: str) -> str:
    """A config's text: its rules, every domain's provider tracked."""
    metrics, scopes = CONFIGS[name]
    out: list[str] = []
    for scope in scopes:
        for window in ("5m", "15m", "1h"):
            for metric in metrics:
                out.append(
                    f'[[alerts.rules]]\nname = "r{len(out)}"\n{metric}\nwindow = "{window}"\n'
                    f"min_events = 1000000\n{scope}\n"
                )
    if name == "one rule":
        out = out[:1]
    return "[domains]\nmax_tracked = 2000\n[providers]\nenabled = true\n" + "".join(out)


@dataclass
class Figures:
    """One config's evaluations over the ticks: (seconds it took, the longest hold of
    the loop, the CPU time of that longest hold) each, whole and in slices."""

    whole: list[tuple[float, float, float]] = field(default_factory=list)
    sliced: list[tuple[float, float, float]] = field(default_factory=list)
    steps: int = 0


async def held(work: Callable[[], Awaitable[None]]) -> tuple[float, float, float]:
    """How long ``work`` took; the longest the event loop went meanwhile without running
    a task that asks for it at every turn, and the CPU time the loop's thread spent in
    that stretch (the hold on an idle core: other processes on a busy machine stretch
    the wall time, not this)."""
    longest, cpu, running = 0.0, 0.0, True

    async def probe() -> None:
        nonlocal longest, cpu
        last, last_cpu = time.perf_counter(), time.thread_time()
        while running:
            await anyio.lowlevel.checkpoint()
            at, at_cpu = time.perf_counter(), time.thread_time()
            if at - last > longest:
                longest, cpu = at - last, at_cpu - last_cpu
            last, last_cpu = at, at_cpu

    async with anyio.create_task_group() as tg:
        tg.start_soon(probe)
        await anyio.lowlevel.checkpoint()  # the probe is waiting before the work begins
        start = time.perf_counter()
        await work()
        took = time.perf_counter() - start
        await anyio.lowlevel.checkpoint()  # the probe sees the last stretch
        running = False
    return took, longest, cpu


async def _whole(evaluator: Evaluator, ledger: Ledger, now: float) -> None:
    evaluator.evaluate(ledger, now)


async def _sliced(evaluator: Evaluator, ledger: Ledger, now: float) -> None:
    """As the daemon evaluates (sesd.alerting.service.Alerting.evaluate_in_slices)."""
    for _ in evaluator.slices(ledger, now):
        await anyio.lowlevel.checkpoint()
    evaluator.evaluate(ledger, now)


async def run(name: str) -> Figures:
    """A config's figures over the ticks (the second half: windows filled)."""
    config = parse_config(rules(name))
    pipeline = Pipeline(core_settings(config))
    cache = pipeline.ledger.providers
    assert cache is not None
    providers = ("google", "microsoft", "yahoo", "apple", "other")
    domains = [f"d{i}.example" for i in range(DOMAINS)]
    for i, domain in enumerate(domains):
        cache.remember(domain, providers[i % len(providers)], f.T0 + 86_400)
    names = [spec.name for spec in pipeline.ledger.specs]
    whole, sliced = Evaluator(config.alerts, names), Evaluator(config.alerts, names)
    rng = random.Random(1)
    out = Figures()
    for tick in range(TICKS):
        now = f.T0 + tick * EVERY
        for j, domain in enumerate(domains):
            at = now - EVERY + j * EVERY / DOMAINS
            body = f.delay if rng.random() < 0.05 else f.delivery
            pipeline.feed(f.raw(body([f"u{tick}@{domain}"], at=at)), "q", now)
        ledger = pipeline.ledger
        turns = [(whole, _whole, out.whole), (sliced, _sliced, out.sliced)]
        for evaluator, how, into in turns[:: 1 if tick % 2 else -1]:
            found = await held(partial(how, evaluator, ledger, now))
            if tick >= TICKS // 2:
                into.append(found)
        assert whole.states.keys() == sliced.states.keys()
    out.steps = sum(len(states) for states in whole.states.values())
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def report(name: str, figures: Figures, base: float) -> None:
    """A config's lines: per way, the median and best evaluation, and its longest hold
    of the loop (median, worst), wall time and CPU time."""
    whole = statistics.median(took for took, _, _ in figures.whole)
    print(f"{name}: {figures.steps} (rule, label) states")
    for how, found in (("whole", figures.whole), ("in slices", figures.sliced)):
        took, walls, cpus = ([row[i] for row in found] for i in range(3))
        print(
            f"  {how}: median {_ms(statistics.median(took))} ms an evaluation (best "
            f"{_ms(min(took))}); longest hold of the loop: median {_ms(statistics.median(walls))}"
            f" ms, worst {_ms(max(walls))} ms; CPU in it: median {_ms(statistics.median(cpus))}"
            f" ms, worst {_ms(max(cpus))} ms"
        )
    print(f"  whole: {whole / base:.1f}x one rule, {whole / figures.steps * 1e6:.2f} µs a step")


def main(_: list[str] | None = None) -> None:
    figures = {name: anyio.run(run, name) for name in ("one rule", "36 rules", "99 rules")}
    base = statistics.median(took for took, _, _ in figures["one rule"].whole)
    for name, found in figures.items():
        report(name, found, base)
    storm.main()


if __name__ == "__main__":
    main()
