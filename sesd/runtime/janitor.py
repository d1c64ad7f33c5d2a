"""The janitor: every :data:`EVERY` seconds, domains idle past their keep evicted from
the windows, and what was made since frozen out of the collector's walks
(sesd.runtime.collector); the record of senders found full warned of, once, the
pending table refusing delays, once a spell, and the domains, tag values and tenants past
their ``max_tracked``, once a spell (sesd.runtime.caps)."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from sesd.core.pipeline import Pipeline
from sesd.core.reputation_senders import MAX_ESTIMATED
from sesd.io.logs import get_logger
from sesd.runtime.caps import cap_watches
from sesd.runtime.collector import Settler

__all__ = ["EVERY", "janitor"]

#: Seconds between rounds (a test shortens it).
EVERY = 10.0
#: Seconds without a delay the pending table refused that end a spell of it full: the
#: next refusal is warned of again.
QUIET = 3600.0


async def janitor(
    pipeline: Pipeline, clock: Callable[[], float], monotonic: Callable[[], float]
) -> None:
    """Round after round, until cancelled."""
    log = get_logger()
    settler = Settler(monotonic(), log)
    capped = False
    watches = cap_watches(pipeline.ledger)
    refused, last_refused = 0, -QUIET
    while True:
        now = clock()
        evicted = pipeline.housekeep(now)
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
        for watch in watches:
            watch.round(now, log)
        pending = pipeline.ledger.pending
        if pending.overflow > refused:
            if monotonic() - last_refused >= QUIET:
                log.warning(
                    "sesd.pending.full", held=len(pending), max_pending_delays=pending.max_entries,
                    not_held=pending.overflow - refused,
                    hint="a delayed recipient past the table (or past the three quarters of it "
                    "one domain may hold) is not pending: in no pending gauge nor "
                    "pending_delays rule, and not timed; raise [ingest] max_pending_delays",
                )  # fmt: skip
            refused, last_refused = pending.overflow, monotonic()
        log.debug("sesd.housekeeping.done", pending=len(pending))
        settler.round(monotonic())  # what was made since, out of the walks
        await anyio.sleep(EVERY)
