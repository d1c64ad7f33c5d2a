"""An alert storm: how long the final decision of an evaluation holds the event loop
when hundreds of alerts fire, or resolve, in the same tick.

Evaluation runs in slices (sesd.alerting.slices), but what is sent is decided after
the last slice: the alerts emitted and grouped, each logged, the groups built into
notifications and queued on their sinks (sesd.alerting.service). Here 500 of 1,000
domains breach six rules (bounce ratios at two thresholds over the 5m, 15m and 1h
windows) in one tick, 3,000 firings, and all resolve in the next; every two hours of
event time, so the windows are empty again before the next storm. ``group_wait`` is
zero: the grouping and the sending fall in the same tick (the worst case). The log
is the daemon's (JSON lines through its buffered writer), to ``/dev/null``.

Two of the daemon's alerting units over the same ledger take turns at going first
each tick: one evaluates whole (:meth:`Alerting.evaluate`), one in slices as the
daemon's loop does (:meth:`Alerting.evaluate_in_slices`). A task beside them notes
every stretch the event loop went without running it: the last stretch of an
evaluation in slices is its final decision.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import anyio
import anyio.lowlevel

from sesd.alerting.alert import Notification
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.service import Alerting
from sesd.alerting.slices import Evaluation
from sesd.config import Config, core_settings, parse_config
from sesd.core.ledger import Ledger
from sesd.core.pipeline import Pipeline
from sesd.io.logs import configure_logging, flush_logs
from tests import factory as f
from tests.test_routing import alerting_for

DOMAINS = 1_000
STORM = 500
CYCLES = 6
#: Between two storms: every window empty again.
APART = 7_200.0
#: A stretch: its wall time and the CPU time the loop's thread spent in it.
Stretch = tuple[float, float]


def config() -> Config:
    """Six bounce-ratio rules on every domain; firings and resolves grouped at once."""
    out = ['[domains]\nmax_tracked = 2000\n[alerts]\ngroup_wait = "0s"\n']
    for window in ("5m", "15m", "1h"):
        for above, clear in ((0.5, 0.4), (0.3, 0.25)):
            out.append(
                f'[[alerts.rules]]\nname = "bounces-{window}-{above}"\nmetric = "bounce_ratio"\n'
                f'window = "{window}"\nabove = {above}\nclear_below = {clear}\nmin_events = 5\n'
                'domains = ["*"]\n'
            )
    return parse_config("".join(out))


async def stretches(
    work: Callable[[], Awaitable[None]], mark: Callable[[], bool]
) -> tuple[float, list[tuple[Stretch, bool]]]:
    """How long ``work`` took, and every stretch the event loop went meanwhile without
    running a task that asks for it at every turn (the last: from the work's last
    yield to its end), with the CPU time the loop's thread spent in it (the stretch on
    an idle core: other processes on a busy machine stretch the wall time, not this),
    and what ``mark`` said at its end."""
    found: list[tuple[Stretch, bool]] = []
    running = True

    async def probe() -> None:
        last, last_cpu = time.perf_counter(), time.thread_time()
        while running:
            await anyio.lowlevel.checkpoint()
            at, at_cpu = time.perf_counter(), time.thread_time()
            found.append(((at - last, at_cpu - last_cpu), mark()))
            last, last_cpu = at, at_cpu

    async with anyio.create_task_group() as tg:
        tg.start_soon(probe)
        await anyio.lowlevel.checkpoint()  # the probe is waiting before the work begins
        found.clear()
        start = time.perf_counter()
        await work()
        took = time.perf_counter() - start
        await anyio.lowlevel.checkpoint()  # the probe sees the last stretch
        running = False
    return took, found


class _Kept(Evaluator):
    """An evaluator that keeps the evaluation it began in slices last: once its slices
    ran out, what holds the loop is its final decision."""

    begun: Evaluation | None = None

    def slices(self, ledger: Ledger, now: float) -> Evaluation:
        self.begun = super().slices(ledger, now)
        return self.begun

    def deciding(self) -> bool:
        """Whether the evaluation begun in slices is past its last slice."""
        return self.begun is not None and self.begun.run_out


def _alerting(config: Config, pipeline: Pipeline, now: list[float]) -> tuple[Alerting, _Kept]:
    """The daemon's alerting over ``pipeline``: a console sink (its outbox not run)."""
    evaluator = _Kept(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    return alerting_for(config, pipeline, now, evaluator), evaluator


#: A storm tick's evaluation: the alerts it sent, the seconds it took, its longest
#: stretch, and its final decision's longest (after its last slice; whole: the same).
Tick = tuple[int, float, Stretch, Stretch]


@dataclass
class Storm:
    """Each storm tick's evaluation, whole and in slices."""

    whole: list[Tick] = field(default_factory=list)
    sliced: list[Tick] = field(default_factory=list)


def feed(pipeline: Pipeline, tick: int) -> float:
    """A tick's events (a storm's on even ticks, its end on odd ones); returns its time."""
    firing = tick % 2 == 0
    at = f.T0 + (tick // 2) * APART + (tick % 2) * 5.0
    for i in range(DOMAINS):
        domain = f"d{i:04}.example"
        # Ten bounces fire every rule; forty deliveries then resolve them all.
        bounces = 10 if i < STORM and firing else 0
        count = 1 if i >= STORM else 10 if firing else 40
        for k in range(count):
            to = [f"u{tick}-{k}@{domain}"]
            event = f.bounce(to, at=at - 1) if k < bounces else f.delivery(to, at=at - 1)
            pipeline.feed(f.raw(event), "q", at)
    return at


async def run() -> Storm:
    """The storms, each tick evaluated by both ways in turn."""
    settings = config()
    pipeline = Pipeline(core_settings(settings))
    now = [f.T0]
    (whole, _), (sliced, kept) = (_alerting(settings, pipeline, now) for _ in range(2))
    out = Storm()
    sent: list[Notification] = []

    async def one(alerting: Alerting) -> None:
        sent[:] = alerting.evaluate()

    async def in_slices(alerting: Alerting) -> None:
        sent[:] = await alerting.evaluate_in_slices()

    for tick in range(2 * CYCLES):
        now[0] = feed(pipeline, tick)
        turns = [(whole, one, out.whole), (sliced, in_slices, out.sliced)]
        for alerting, how, into in turns[:: 1 if tick % 2 else -1]:
            took, found = await stretches(partial(how, alerting), kept.deciding)
            longest = max(stretch for stretch, _ in found)
            final = longest if how is one else max(s for s, deciding in found if deciding)
            into.append((sum(len(n.alerts) for n in sent), took, longest, final))
    return out


def slices_alone() -> list[float]:
    """Each storm tick's longest slice, CPU seconds, with the evaluator alone and
    garbage collection off: what the slicing holds, without the collections that
    land in whichever slice runs."""
    settings = config()
    pipeline = Pipeline(core_settings(settings))
    evaluator = Evaluator(settings.alerts, [spec.name for spec in pipeline.ledger.specs])
    longest = []
    for tick in range(2 * CYCLES):
        at = feed(pipeline, tick)
        gc.collect()
        gc.disable()
        try:
            held, slices = [], evaluator.slices(pipeline.ledger, at)
            while True:
                started = time.process_time()
                if next(slices, None) is None and slices.run_out:
                    break
                held.append(time.process_time() - started)
            evaluator.evaluate(pipeline.ledger, at)
        finally:
            gc.enable()
        longest.append(max(held))
    return longest


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> None:
    """Print, per way, the median evaluation of a storm tick and its holds of the loop."""
    with open(os.devnull, "w") as null:
        configure_logging("info", "json", null, daemon=True)
        try:
            figures = anyio.run(run)
        finally:
            flush_logs()
            configure_logging()
    counts = sorted({row[0] for row in figures.whole + figures.sliced})
    print(
        f"a storm: {STORM} of {DOMAINS} domains x 6 rules, alerts sent a tick: {counts} (firing"
        f" in one tick, resolving in the next, {CYCLES} times); group_wait 0s"
    )
    for how, rows in (("whole", figures.whole), ("in slices", figures.sliced)):
        took = [row[1] for row in rows]
        longest = [row[2] for row in rows]
        final = [row[3] for row in rows]
        print(
            f"  {how}: median {_ms(statistics.median(took))} ms an evaluation; longest hold "
            f"of the loop: median {_ms(statistics.median(w for w, _ in longest))} ms (CPU "
            f"{_ms(statistics.median(c for _, c in longest))}), worst "
            f"{_ms(max(w for w, _ in longest))} ms"
        )
        if how == "in slices":
            print(
                f"    its final decision (after its last slice): median "
                f"{_ms(statistics.median(w for w, _ in final))} ms (CPU "
                f"{_ms(statistics.median(c for _, c in final))}), worst "
                f"{_ms(max(w for w, _ in final))} ms (CPU {_ms(max(c for _, c in final))})"
            )
    alone = slices_alone()
    print(
        f"  each tick's longest slice, the evaluator alone, collection off: median CPU "
        f"{_ms(statistics.median(alone))} ms, worst {_ms(max(alone))} ms"
    )
