"""``python -m bench [NAME...] [--OPTION VALUE...]``: run benchmarks, print their figures.

Options go to the benchmarks that take them (``sinks --seconds 60``).
"""

from __future__ import annotations

import sys

from bench import (
    attribution,
    calls,
    causes,
    cpu_split,
    detection_latency,
    end_to_end,
    evaluation,
    gc_pauses,
    instructions,
    memory,
    opcodes,
    pipeline,
    poller_instructions,
    poller_rate,
    replay,
    scrape,
    scrape_instructions,
    sinks,
    stages,
    state,
    status,
    waits,
)

BENCHMARKS = {
    "pipeline": pipeline.main,
    "stages": stages.main,
    "calls": calls.main,
    "opcodes": opcodes.main,
    "scrape": scrape.main,
    "scrape_instructions": scrape_instructions.main,
    "status": status.main,
    "state": state.main,
    "memory": memory.main,
    "end_to_end": end_to_end.main,
    "cpu_split": cpu_split.main,
    "evaluation": evaluation.main,
    "gc": gc_pauses.main,
    "instructions": instructions.main,
    "poller_instructions": poller_instructions.main,
    "poller_rate": poller_rate.main,
    "detection_latency": detection_latency.main,
    "sinks": sinks.main,
    "attribution": attribution.main,
    "replay": replay.main,
    "causes": causes.main,
    "waits": waits.main,
}


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default)."""
    options = next((i for i, a in enumerate(argv) if a.startswith("--")), len(argv))
    names = argv[:options] or list(BENCHMARKS)
    for name in names:
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
            return 2
        print(f"== {name}")
        BENCHMARKS[name]()
    return 0


sys.exit(main(sys.argv[1:]))
