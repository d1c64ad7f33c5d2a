"""``python -m bench [NAME...] [--OPTION VALUE...]``: run benchmarks, print their figures.

Options go to the benchmarks that take them (``sinks --seconds 60``). A benchmark
that takes arguments of its own, named first, takes the rest of the line
(``pipeline_instructions --mode decode ../base``).
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
    pipeline_instructions,
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
    "pipeline_instructions": pipeline_instructions.main,
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
#: Benchmarks whose arguments are not all options: named first, they take the rest.
TAKE_ARGUMENTS = {"pipeline_instructions": pipeline_instructions.main}


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default)."""
    if argv and argv[0] in TAKE_ARGUMENTS:
        print(f"== {argv[0]}")
        TAKE_ARGUMENTS[argv[0]](argv[1:])
        return 0
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
