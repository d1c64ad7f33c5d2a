"""Python function calls an event on the pipeline's path: deterministic where a time
is not, so a change of a call or two shows on a noisy machine.

cProfile counts every call, builtins included, while ``bench/pipeline.py``'s pipeline
takes ``EVENTS`` of its events (the production mix; every domain's provider known);
the count over the events is the figure. The same bodies and clock each run, so two
builds give the same count for the same code.

``python -m bench calls``.
"""

from __future__ import annotations

import cProfile
import pstats

from bench import pipeline as bench_pipeline
from tests import factory as f

#: Events profiled (the pipeline's first, caches cold, are part of the count).
EVENTS = 30_000


def calls_an_event(events: int = EVENTS) -> float:
    """Function calls an event over ``events`` of the bench pipeline's events."""
    saved = bench_pipeline.EVENTS
    bench_pipeline.EVENTS = events
    try:
        bodies = bench_pipeline._bodies()
    finally:
        bench_pipeline.EVENTS = saved
    pipeline = bench_pipeline.pipeline()
    profile = cProfile.Profile()
    profile.enable()
    for i, body in enumerate(bodies):
        pipeline.feed(body, "bench", f.T0 + i * 0.02)
    profile.disable()
    stats = pstats.Stats(profile)
    calls = sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]
    return calls / len(bodies)


def main() -> None:
    print(f"{calls_an_event():.2f} Python function calls an event ({EVENTS:,} events)")
