"""Python bytecodes an event on the pipeline's path, by the event's type and by function:
deterministic, as ``bench calls`` is, and finer: where a call count says how often a
function runs, this says how much of its own code runs each time.

The pipeline of ``bench/pipeline.py`` takes ``WARM`` of its events untraced (rings,
caches and the resolution memory filled as in a running daemon), then ``EVENTS`` more
under a tracer that counts each bytecode the interpreter runs (``f_trace_opcodes``).
C code (msgspec's decoding, hashing, dict and set work) is no bytecode: these figures
say where the Python goes; ``perf``-like instruction counts (cachegrind) say what it
all costs. The same bodies and clock each run, so two builds give the same counts for
the same code.

``python -m bench opcodes``.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from types import FrameType
from typing import Any

from bench import pipeline as bench_pipeline
from sesd.core.decode import decode_body
from tests import factory as f

#: Events fed before counting, and events counted.
WARM = 5_000
EVENTS = 8_000
#: Functions listed for each type.
TOP = 12


#: Events by type, bytecodes by type, bytecodes by type and function.
Counts = tuple[Counter[str], Counter[str], dict[str, Counter[str]]]


def opcodes(warm: int = WARM, events: int = EVENTS) -> Counts:
    """Events by type, bytecodes by type, and bytecodes by type and function."""
    saved = bench_pipeline.EVENTS
    bench_pipeline.EVENTS = warm + events
    try:
        bodies = bench_pipeline._bodies()
    finally:
        bench_pipeline.EVENTS = saved
    pipeline = bench_pipeline.pipeline()
    for i in range(warm):
        pipeline.feed(bodies[i], "bench", f.T0 + i * 0.02)
    count: Counter[str] = Counter()
    ran: Counter[str] = Counter()
    by_function: defaultdict[str, Counter[str]] = defaultdict(Counter)
    kind = ""

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        elif event == "opcode":
            by_function[kind][frame.f_code.co_qualname] += 1
        return tracer

    for i in range(warm, warm + events):
        decoded = decode_body(bodies[i])  # untraced: the type alone
        kind = getattr(decoded, "type", type(decoded).__name__)
        sys.settrace(tracer)
        try:
            pipeline.feed(bodies[i], "bench", f.T0 + i * 0.02)
        finally:
            sys.settrace(None)
        count[kind] += 1
    for name, functions in by_function.items():
        ran[name] = functions.total()
    return count, ran, dict(by_function)


def main() -> None:
    count, ran, by_function = opcodes()
    events, total = count.total(), ran.total()
    print(f"{total / events:.1f} Python bytecodes an event ({events:,} events after {WARM:,})")
    for kind in sorted(count, key=lambda name: -ran[name]):
        print(
            f"  {kind:<16} {count[kind] / events:6.1%} of the events, "
            f"{ran[kind] / count[kind]:7.1f} bytecodes each, {ran[kind] / total:6.1%} of all"
        )
    for kind in sorted(count, key=lambda name: -ran[name]):
        print(f"{kind}: bytecodes an event of its type, by function")
        for name, n in by_function[kind].most_common(TOP):
            print(f"  {n / count[kind]:7.1f}  {name}")
