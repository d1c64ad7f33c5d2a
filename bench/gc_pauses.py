"""Garbage collections in the event loop: how often, and how long the longest, with the
daemon's long-lived state frozen out of the collector's walks (sesd.runtime.collector)
and without.

Two workloads, each run both ways in turn, three rounds (best of 3, and all three):

- the alert storm of bench.storm (1,000 domains, 500 breaching six rules in one tick and
  resolving in the next), evaluated in slices as the daemon does, the janitor's
  housekeeping after each tick (two hours of event time apart: idle domains evicted,
  their windows made again by the next storm);
- 99 rules over 1,000 domains (bench.evaluation's config, 66,000 alert states in each
  of two families): a tick of events on every domain, an evaluation, then a scrape.

``settled`` settles (:func:`sesd.runtime.collector.settle`) once the state is built, as
the daemon does after its start, and after every tick, as its janitor does (every 10 s:
here more often, each settle walking less). A ``gc.callbacks`` hook times every
collection; the settles' own full collections are counted apart. Printed per way: the
collections the interpreter started by itself per minute (full ones apart), the longest
of them, the longest hold of the loop (CPU), and the longest settle, at start and after a
round. What freezing costs: after each storm, the objects frozen (flat: nothing frozen is
left behind in a cycle as idle domains' windows are evicted and made again);
and after each settled run, the objects unfrozen and a full collection run, the cyclic
garbage it finds, left frozen by the run. The storm leaves none; the scrapes leave their
state, held by the metrics registry, whose collectors and registry refer to each other
(in the daemon the registry lives until it exits).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from bench import evaluation, storm
from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.io.logs import configure_logging, flush_logs
from sesd.metrics.exposition import render_async
from sesd.metrics.registry import Metrics
from sesd.runtime.collector import reexamine, settle
from tests import factory as f
from tests.test_routing import alerting_for

ROUNDS = 3
SCRAPES = 8


@dataclass
class Collections:
    """Every collection while installed in ``gc.callbacks``: (generation, seconds),
    those the interpreter started apart from the settles'."""

    auto: list[tuple[int, float]] = field(default_factory=list)
    #: The settles' collections: (full, seconds).
    settles: list[tuple[bool, float]] = field(default_factory=list)
    #: Objects frozen after each storm's end.
    frozen: list[int] = field(default_factory=list)
    #: The hourly re-examination at the run's end, its state alive: seconds.
    reexamined: list[float] = field(default_factory=list)
    settling: bool = False
    #: A re-examination under way: its collection is timed apart, not counted here.
    apart: bool = False
    #: When the state was built (perf_counter); None before: nothing counted then.
    began: float | None = None
    _start: float = 0.0

    def begin(self, settled: bool) -> None:
        """The state is built: count from here; settled, the daemon's start settles."""
        if settled:
            self.settle(full=True)
        self.began = time.perf_counter()

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if self.apart or (self.began is None and not self.settling):
            return
        if phase == "start":
            self._start = time.perf_counter()
            return
        took = time.perf_counter() - self._start
        if self.settling:
            self.settles.append((info["generation"] == 2, took))
        else:
            self.auto.append((info["generation"], took))

    def reexamine(self) -> None:
        """The janitor's hourly re-examination (everything frozen collected whole),
        timed apart: one full collection over all the state the run holds."""
        self.apart = True
        start = time.perf_counter()
        try:
            reexamine()
        finally:
            self.reexamined.append(time.perf_counter() - start)
            self.apart = False

    def settle(self, *, full: bool = False) -> None:
        """The daemon's settle, its collection counted apart."""
        self.settling = True
        try:
            settle(full=full)
        finally:
            self.settling = False


@dataclass
class Run:
    """One way's run of one workload."""

    wall: float
    held: float  # the longest hold of the loop, CPU seconds
    seen: Collections


async def _storm(seen: Collections, settled: bool) -> float:
    settings = storm.config()
    pipeline = Pipeline(core_settings(settings))
    now = [f.T0]
    alerting = alerting_for(settings, pipeline, now)
    longest = 0.0

    async def evaluate() -> None:
        await alerting.evaluate_in_slices()

    for tick in range(2 * storm.CYCLES):
        now[0] = storm.feed(pipeline, tick)
        if tick == 0:
            seen.begin(settled)
        _, found = await storm.stretches(evaluate, lambda: False)
        longest = max([longest, *(cpu for (_, cpu), _ in found)])
        pipeline.housekeep(now[0])
        if settled:
            seen.settle()
        if tick % 2:
            seen.frozen.append(gc.get_freeze_count())
    return longest


async def _scrapes(seen: Collections, settled: bool) -> float:
    config = parse_config(evaluation.rules("99 rules"))
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    now = [f.T0]
    metrics = Metrics(pipeline.ledger, ["q"], lambda: now[0], evaluator=evaluator)
    longest = 0.0

    async def scrape() -> None:
        await render_async(metrics.registry)

    for tick in range(SCRAPES + 2):
        now[0] = f.T0 + tick * evaluation.EVERY
        for d in range(evaluation.DOMAINS):
            pipeline.feed(f.raw(f.delivery([f"u{tick}@d{d}.example"], at=now[0])), "q", now[0])
        evaluator.evaluate(pipeline.ledger, now[0])
        if tick < 2:
            continue  # every (rule, label) state made, as in bench scrape
        if tick == 2:
            seen.begin(settled)
        _, _, cpu = await evaluation.held(scrape)
        longest = max(longest, cpu)
        pipeline.housekeep(now[0])
        if settled:
            seen.settle()
    if settled:
        seen.reexamine()
    return longest


def _one(workload: Callable[[Collections, bool], Awaitable[float]], settled: bool) -> Run:
    gc.unfreeze()
    gc.collect()
    seen = Collections()
    gc.callbacks.append(seen)
    try:
        held = anyio.run(workload, seen, settled)
    finally:
        gc.callbacks.remove(seen)
    assert seen.began is not None
    return Run(time.perf_counter() - seen.began, held, seen)


def _line(way: str, runs: list[Run]) -> str:
    def per_minute(run: Run, full: bool) -> float:
        return sum(1 for g, _ in run.seen.auto if not full or g == 2) / run.wall * 60

    def longest(run: Run) -> float:
        return max((s for _, s in run.seen.auto), default=0.0) * 1000

    best = min(runs, key=longest)
    settles = [settle for run in runs for settle in run.seen.settles]
    start = [s for full, s in settles if full]
    rounds = [s for full, s in settles if not full]
    return (
        f"    {way:>9}: longest collection {longest(best):5.1f} ms best of {len(runs)} "
        f"({', '.join(f'{longest(r):.1f}' for r in runs)}); per minute "
        f"{per_minute(best, False):5.0f} collections, {per_minute(best, True):4.1f} full; "
        f"longest hold of the loop (CPU) {best.held * 1000:5.1f} ms"
        + (
            f"; settled at start {max(start) * 1000:.1f} ms, after a round {len(rounds)} times, "
            f"longest {max(rounds) * 1000:.1f} ms"
            if settles
            else ""
        )
        + (
            f"; the hourly re-examination {', '.join(f'{s * 1000:.0f}' for s in reexamined)} ms"
            if (reexamined := [s for run in runs for s in run.seen.reexamined])
            else ""
        )
    )


def main() -> None:
    """Print, per workload and way, the collections and their longest pause."""
    workloads = {
        f"alert storm ({storm.STORM} of {storm.DOMAINS} domains x 6 rules)": _storm,
        f"99 rules x {evaluation.DOMAINS:,} domains, a tick then a scrape": _scrapes,
    }
    print("garbage collections in the loop, as before and settled (frozen after start and")
    print("after each janitor round); three rounds taking turns at going first")
    leaked: dict[str, int] = {}
    with open(os.devnull, "w") as null:
        configure_logging("info", "json", null, daemon=True)
        try:
            for name, workload in workloads.items():
                found: dict[str, list[Run]] = {"as before": [], "settled": []}
                for round_ in range(ROUNDS):
                    for way in ("as before", "settled")[:: 1 if round_ % 2 else -1]:
                        found[way].append(_one(workload, way == "settled"))
                        if way == "settled":
                            gc.unfreeze()
                            leaked[name] = leaked.get(name, 0) + gc.collect()
                print(f"  {name}:")
                for way, runs in found.items():
                    print(_line(way, runs))
                    if way == "settled" and runs[-1].seen.frozen:
                        print(f"      objects frozen after each storm: {runs[-1].seen.frozen}")
        finally:
            flush_logs()
            configure_logging()
    print(
        f"  cyclic garbage left frozen by the settled runs, found when unfrozen after each "
        f"(all {ROUNDS}): {leaked}"
    )
