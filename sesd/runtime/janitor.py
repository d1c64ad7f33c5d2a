"""The janitor: every :data:`EVERY` seconds, domains idle past their keep evicted from
the windows, and what was made since frozen out of the collector's walks
(sesd.runtime.collector)."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from sesd.core.pipeline import Pipeline
from sesd.io.logs import get_logger
from sesd.runtime.collector import Settler

__all__ = ["EVERY", "janitor"]

#: Seconds between rounds (a test shortens it).
EVERY = 10.0


async def janitor(
    pipeline: Pipeline, clock: Callable[[], float], monotonic: Callable[[], float]
) -> None:
    """Round after round, until cancelled."""
    log = get_logger()
    settler = Settler(monotonic(), log)
    while True:
        evicted = pipeline.housekeep(clock())
        if evicted:
            log.info("sesd.domains.evicted", count=len(evicted))
        log.debug("sesd.housekeeping.done", pending=len(pipeline.ledger.pending))
        settler.round(monotonic())  # what was made since, out of the walks
        await anyio.sleep(EVERY)
