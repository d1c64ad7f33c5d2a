"""The state file at its limits: what a save holds the event loop for.

A save builds the snapshot on the event loop (the ledger cannot change while it
is read), then writes it from a thread. The worst case is a long incident: the
pending table full (200,000 delayed recipients, the default cap) over 500
domains with deliveries beside them, one rule. Prints, best of 3:

- the snapshot (the event loop is held for this), against the floor measured
  in the same run: msgpack encoding of the same document, already built;
- the write (a thread: the loop goes on);
- a restore of the file into a fresh ledger and evaluator (at start).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import write_state
from tests import factory as f

DELAYED = 200_000
DOMAINS = 500
_RULE = (
    '[[alerts.rules]]\nname = "delay-ratio-high"\nmetric = "delay_ratio"\nwindow = "15m"\n'
    "above = 0.05\n"
)


def _full() -> tuple[Pipeline, Evaluator, float]:
    config = parse_config(_RULE)
    pipeline = Pipeline(core_settings(config))
    t = f.T0
    for i in range(DELAYED):
        t = f.T0 + i * 0.01
        domain = f"d{i % DOMAINS}.example"
        pipeline.feed(f.sns(f.delay([f"u{i}@{domain}"], at=t, expires=t + 7200)), "q", t)
        if i % 4 == 0:
            pipeline.feed(f.sns(f.delivery([f"v{i}@{domain}"], at=t)), "q", t)
    return pipeline, Evaluator(config.alerts, ["15m"]), t


def _best(run: Callable[[], object], times: int = 3) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Run the benchmark and print its figures."""
    pipeline, evaluator, now = _full()
    assert len(pipeline.ledger.pending) == DELAYED
    blob = snapshot(pipeline.ledger, evaluator, now)
    document = msgspec.msgpack.decode(blob)
    held = _best(lambda: snapshot(pipeline.ledger, evaluator, now))
    floor = _best(lambda: msgspec.msgpack.encode(document))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "state.bin")
        written = _best(lambda: write_state(path, blob))

    def _restore() -> None:
        config = parse_config(_RULE)
        ledger = Pipeline(core_settings(config)).ledger
        restore(blob, ledger, Evaluator(config.alerts, ["15m"]), now)

    restored = _best(_restore)
    print(f"state file, {DELAYED:,} recipients pending, {DOMAINS} domains, one rule (best of 3)")
    print(f"  file                 {len(blob) / 1e6:>8.1f} MB")
    print(f"  snapshot (the loop)  {held * 1e3:>8.1f} ms, {held / floor:.1f}x encoding it built")
    print(f"  encoding it built    {floor * 1e3:>8.1f} ms (floor)")
    print(f"  write (a thread)     {written * 1e3:>8.1f} ms")
    print(f"  restore (at start)   {restored * 1e3:>8.1f} ms")
