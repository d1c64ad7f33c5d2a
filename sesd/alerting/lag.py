"""What alerting says of sesd reading behind: the log line when it starts and stops
reading further behind than its shortest window (a backlog draining, a starved
CPU), while its windows may miss what waits in the queue."""

from __future__ import annotations

from typing import Any

from sesd.core.ledger import Ledger

__all__ = ["watch_lag"]


def watch_lag(log: Any, ledger: Ledger, now: float, was_behind: bool) -> bool:
    """Whether sesd reads further behind than its shortest window at ``now``; said in
    ``log`` when that changed since ``was_behind``."""
    behind = ledger.blind_behind(now)
    if (behind is not None) == was_behind:
        return was_behind
    if behind is not None:
        queue, lag = behind
        log.warning(
            "sesd.behind",
            queue=queue,
            seconds=round(lag),
            hint="its latest receives brought only events older than the shortest "
            "window: windows may be missing recent events until sesd catches up",
        )
    else:
        log.info("sesd.caught_up")
    return behind is not None
