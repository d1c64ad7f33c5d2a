"""What alerting says of sesd reading behind: the log line when it starts and stops
reading further behind than its shortest window (a backlog draining, a starved
CPU), while its windows may miss what waits in the queue; and of queues it cannot
read at all, whose events wait while empty windows would resolve their alerts."""

from __future__ import annotations

from typing import Any

from sesd.alerting.evaluator import Evaluator
from sesd.core.ledger import Ledger

__all__ = ["watch_lag", "watch_unread"]


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


def watch_unread(
    log: Any, evaluator: Evaluator, unread: list[str], said: list[str], now: float
) -> list[str]:
    """The queues sesd cannot read at ``now`` (``unread``) hold the resolves of
    ``evaluator``; said in ``log`` when they changed since those ``said``. Returns the
    queues said from now on."""
    if unread:
        # An empty window says nothing of an incident while its events wait in an
        # unread queue, nor for a window's length after (as after a stall).
        evaluator.blind(now)
    if unread == said:
        return said
    if unread and next(evaluator.firing(), None) is None:
        # No resolve to hold (sesd starting, or stopping, where a queue cannot
        # be read, the queue's own line saying why): said once an alert fires.
        return said
    if unread:
        # Any queue: sesd cannot tell which alerts an unread queue's events
        # belong to, so the one who wonders why an incident stays open is told.
        log.warning(
            "sesd.alert.resolves_held",
            queues=unread,
            hint="no alert resolves on an empty window while these queues "
            "cannot be read (receives failing or unanswered), and for a window's "
            "length after",
        )
    return unread
