"""The janitor: every :data:`EVERY` seconds, domains idle past their keep evicted from
the windows, and what was made since frozen out of the collector's walks
(sesd.runtime.collector); the record of senders found full warned of, once."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from sesd.core.pipeline import Pipeline
from sesd.core.reputation import MAX_ESTIMATED
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
    capped = False
    while True:
        evicted = pipeline.housekeep(clock())
        if evicted:
            log.info("sesd.domains.evicted", count=len(evicted))
        # Full, it stays so for the run (each move places the same senders again).
        if not capped and len(pipeline.ledger.senders) >= MAX_ESTIMATED:
            capped = True
            log.warning(
                "sesd.reputation.senders_capped", kept=MAX_ESTIMATED,
                hint="past these identities sesd does not know every sender: where a poll "
                "or a reload moves mail from, the estimate, its series and an alert on it "
                "stay until a restart (a sender not kept may still count there)",
            )  # fmt: skip
        log.debug("sesd.housekeeping.done", pending=len(pipeline.ledger.pending))
        settler.round(monotonic())  # what was made since, out of the walks
        await anyio.sleep(EVERY)
