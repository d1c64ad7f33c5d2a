"""The cyclic garbage collector and sesd's long-lived state.

What sesd keeps for hours (every domain's windows, every (rule, label)'s alert state:
about 230,000 tracked objects at 99 rules over 1,000 domains) was walked by every
full collection, and nothing yields during one: 75-250 ms inside whichever
evaluation slice or scrape turn set it off. :func:`settle` moves what is alive into
the collector's permanent generation (``gc.freeze``), which no collection walks:
later collections walk only what was made since. The daemon settles once its start
(the state file read) is done, and again after each round of its janitor, so the
windows and alert states made since join the frozen ones.

The cost: an object frozen, then dropped, is still freed by reference counting, but
one in a reference cycle is not. sesd's windows and alert states hold no cycles
(``python -m bench gc`` counts the objects frozen after each storm, flat, and what a
full collection finds once they are unfrozen at the end: none); what is in flight at
a settle may (an SQS call, its connection, an exception and its traceback), and a
settle every 10 s for weeks would keep each such cycle for good. :func:`reexamine`,
every hour, lets everything frozen back in and collects it whole: one full
collection an hour (75-250 ms at 99 rules over 1,000 domains) rather than dozens a
minute, and memory bounded by what an hour can leave.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["REEXAMINE_EVERY", "Settler", "held_off", "reexamine", "settle"]

#: How often (seconds) everything frozen is collected whole.
REEXAMINE_EVERY = 3600.0


def settle(*, full: bool = False) -> bool:
    """Collect the cyclic garbage, then freeze every object left; True when done.

    A full collection walks every object not frozen yet: at start, the modules, the
    config and the restored state, once. After that only the young generations are
    collected before the freeze: the cycles that outlived two collections since the
    last settle (rare: a frozen count flat over hours of storms) are frozen with the
    rest, where a full collection of what was made since held the loop 10-56 ms.

    Not while automatic collection is off: a scrape holds it off while it renders
    (sesd.metrics.exposition), and its samples, alive until it ends, are not state
    to keep out of the collector's walks.
    """
    if not gc.isenabled():
        return False
    gc.collect(2 if full else 1)
    gc.freeze()
    return True


@contextmanager
def held_off() -> Iterator[None]:
    """No automatic collection while the block runs: a state file's restore, which
    makes a few hundred thousand containers that all stay (a decoded document is a
    tree, the state built from it holds no cycles). Each young collection moved them
    on, and the full ones walked the growing heap again and again: a quarter of a
    restore (``bench/state.py``'s file, best of 4 interleaved: 1.47 s with it on,
    1.12 s held off on a quiet machine). The start's full settle collects whatever
    the block did leave."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def reexamine() -> int | None:
    """Let everything frozen back into the collector's walks, collect it whole and
    freeze what is left: a cycle frozen while in use and dropped since is freed here.
    How many unreachable objects were found (a figure that grows from hour to hour is
    a leak to look at), or None while automatic collection is off (a scrape renders:
    asked again at the next round)."""
    if not gc.isenabled():
        return None
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    return found


class Settler:
    """The janitor's part: a settle after each round, and a re-examination once
    :data:`REEXAMINE_EVERY` seconds have passed since the last (monotonic ``now``)."""

    def __init__(self, now: float, log: Any) -> None:
        self._reexamined = now
        self._log = log

    def round(self, now: float) -> None:
        if now - self._reexamined < REEXAMINE_EVERY:
            settle()
        elif (found := reexamine()) is not None:
            self._reexamined = now
            self._log.debug("sesd.gc.reexamined", unreachable=found)
