"""SES's own times of the Deliveries and Bounces the pending table (sesd.core.pending)
remembers from ahead of the host's clock. An event from ahead of it is dated on it
(sesd.core.pipeline): on a clock behind SES's, a Delivery and its delay SQS brings
after it are both from ahead, each dated on the clock when read, the delay later,
though SES dated it earlier. Left so, it pended its 16 h, never timed. Which came
first is told, and the delay timed, as SES dated the two. Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.core.events import LONGEST_DELAY
from sesd.core.refusals import MOST_AHEAD

if TYPE_CHECKING:
    from sesd.core.pending import PendingDelays

__all__ = ["ended_after", "held", "remembered"]


def remembered(table: PendingDelays, key: int, t: float, ses: float) -> None:
    """SES's time ``ses`` of a Delivery or Bounce remembered at ``t`` (the clock's,
    earlier, or ``t`` itself: none), held to a day after ``t``
    (sesd.core.refusals.MOST_AHEAD): one dated years ahead ends no delay of its
    recipient dated as far, nor times one years long. Each is kept in the generation
    of its resolution, and one of the older generation moves with its recipient's
    remembered again in the newer: it stays as long as its recipient is remembered."""
    kept = table._ses
    known = kept.get(key)
    if known is None and table._ses_before:
        known = table._ses_before.get(key)
        if known is not None:
            kept[key] = known
    if ses > t:
        ses = min(ses, t + MOST_AHEAD)
        if known is None or known < ses:
            kept[key] = ses


def ended_after(table: PendingDelays, key: int, t: float, ses: float) -> tuple[float, float] | None:
    """(the delay's time, its end's) when a delay at ``t`` (``ses``: SES's own, if
    later) came before its recipient's Delivery or Bounce remembered: as SES dated the
    two where that one was from ahead of the clock, else on the clock; None if not.
    SES tries no recipient longer than ``LONGEST_DELAY``: two it dated further apart (a
    Delivery dated a year ahead, held to a day) are no story it tells, and are compared
    on the clock, not taken as a delay a day long."""
    ended = table._resolved.get(key)
    if ended is None:
        ended = table._resolved_before.get(key)
        if ended is None:
            return None
    if table._ses or table._ses_before:
        # (Of one remembered in both generations, the newer's holds the later.)
        by_ses = table._ses.get(key)
        by_ses = table._ses_before.get(key) if by_ses is None else by_ses
        at = ses if ses > t else t
        if by_ses is not None and at <= by_ses <= at + LONGEST_DELAY:
            return at, by_ses
    return (t, ended) if ended >= t else None


def held(table: PendingDelays) -> None:
    """SES's times held to a day after their resolution's (at a restart, once the
    resolutions are held to the clock: sesd.core.pending_steps.held_to), and those of
    none remembered gone: a damaged file's a year ahead times no delay a year long."""
    for kept in (table._ses, table._ses_before):
        for key, ses in list(kept.items()):
            at = table._resolved.get(key)
            at = table._resolved_before.get(key) if at is None else at
            if at is None:
                del kept[key]
            elif not ses <= at + MOST_AHEAD:
                kept[key] = at + MOST_AHEAD
