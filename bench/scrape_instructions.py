"""``/metrics`` against client_python's ``generate_latest``, counted rather than timed.

bench/scrape.py times both on the same registry; its ratio at 200 domains moves
with the machine's neighbours by more than the margin to its goal. Here each
renderer runs in a process of its own under valgrind (instructions only, as
bench/instructions.py counts), over bench/scrape.py's registry, once and then
three times: the difference over two leaves out imports and the registry's
making, and is what a scrape executes once warm (as bench/scrape.py takes the
best of five). Prints instructions per scrape and how many times fewer sesd's
renderer executes.

``python -m bench scrape_instructions`` (valgrind must be installed); a
renderer alone: ``python -m bench.scrape_instructions SIDE DOMAINS SCRAPES``.
"""

from __future__ import annotations

import shutil
import sys
from functools import partial

from prometheus_client import generate_latest

from bench.instructions import counted, per_unit
from bench.scrape import _populated
from sesd.metrics.exposition import render

SIDES = ("generate_latest", "sesd")
#: Scrapes in the two runs of each renderer.
SCRAPES = (1, 3)


def _scrape(side: str, domains: int, scrapes: int) -> None:
    """Scrape bench/scrape.py's registry ``scrapes`` times (run under valgrind)."""
    _, metrics = _populated(domains)
    for _ in range(scrapes):
        if side == SIDES[0]:
            generate_latest(metrics.registry)
        else:
            render(metrics.registry.collect())


def _counted(side: str, domains: int, scrapes: int) -> int:
    return counted("bench.scrape_instructions", side, str(domains), str(scrapes))


def main() -> None:
    """Count both renderers at 200 and 1,000 domains; print the ratios."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)")
        return
    print("instructions per /metrics scrape, warm (valgrind cachegrind)")
    for domains in (200, 1000):
        per_scrape = {}
        for side in SIDES:
            per_scrape[side] = per_unit(
                partial(_counted, side, domains),
                SCRAPES,
            )
        base, ours = per_scrape[SIDES[0]], per_scrape[SIDES[1]]
        print(
            f"  {domains:>5} domains: generate_latest {base:14,.0f}   sesd {ours:14,.0f}   "
            f"{base / ours:.2f}x fewer (goal 3x)"
        )


if __name__ == "__main__":
    _scrape(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
