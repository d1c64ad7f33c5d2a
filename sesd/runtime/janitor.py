"""The janitor: every :data:`EVERY` seconds, domains idle past their keep evicted from
the windows, and what was made since frozen out of the collector's walks
(sesd.runtime.collector); the caps met warned of (sesd.runtime.caps): the record of
senders found full, once, the pending table refusing delays, and the domains, tag values
and tenants past their ``max_tracked``, once a spell."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from sesd.core.pipeline import Pipeline
from sesd.io.logs import get_logger
from sesd.runtime.caps import Caps
from sesd.runtime.collector import Settler

__all__ = ["EVERY", "janitor"]

#: Seconds between rounds (a test shortens it).
EVERY = 10.0


async def janitor(
    pipeline: Pipeline,
    caps: Caps,
    clock: Callable[[], float],
    monotonic: Callable[[], float],
) -> None:
    """Round after round, until cancelled. ``caps`` is the run's (made with the
    pipeline): a janitor started again after a fault warns of none it warned of."""
    log = get_logger()
    settler = Settler(monotonic(), log)
    while True:
        now = clock()
        evicted = pipeline.housekeep(now)
        if evicted:
            log.info("sesd.domains.evicted", count=len(evicted))
        caps.round(monotonic(), log)
        log.debug("sesd.housekeeping.done", pending=len(pipeline.ledger.pending))
        settler.round(monotonic())  # what was made since, out of the walks
        await anyio.sleep(EVERY)
