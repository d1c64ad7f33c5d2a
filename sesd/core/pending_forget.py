"""How the pending table (sesd.core.pending) forgets: delays expired for good (all
those past a time, or the fewest that make room for one more), those of labels
evicted, and the recipients given up on, remembered in two generations. What
:meth:`~sesd.core.pending.PendingDelays.expire` and
:meth:`~sesd.core.pending.PendingDelays.drop_labels` call. Pure.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sesd.core.pending import PendingDelays

__all__ = ["drop_labels", "expire", "give_up", "unmoved"]


def expire(table: PendingDelays, before: float, room: str | None = None) -> int:
    """Forget for good the delays that expired at or before ``before``; with ``room``
    (a domain label), only those expired longest that make room for one more delay of
    it, in the table and in its share. How many went."""
    expired = 0
    heap, entries, expiries = table._heap, table._entries, table._expiries
    while (
        heap
        and heap[0][0] <= before
        and (
            room is None
            or len(entries) >= table.max_entries
            or len(expiries.get((0, room), ())) >= table._share
        )
    ):
        _, key = heapq.heappop(heap)
        found = entries.get(key)
        if found is not None and found[2] <= before:
            del entries[key]
            table._unlist(found[0], found[2])
            expired += 1
            if found[2] >= table._last(key, found[1]):
                give_up(table, key, found[1])  # (its move kept: its first time's)
            elif table._moved:
                unmoved(table, key)
    return expired


def give_up(table: PendingDelays, key: int, since: float) -> None:
    """A recipient first delayed at ``since`` remembered as given up on (its delay ran
    its 16 h, or the full table refused it): two generations of half the table, the
    moves of the older one's going with it."""
    table._gave_up[key] = since
    if len(table._gave_up) >= table._generation:
        forgotten, table._gave_up_before = table._gave_up_before, table._gave_up
        table._gave_up = {}
        if table._moved:
            for old in forgotten:
                if old not in table._gave_up_before and old not in table._entries:
                    table._moved.pop(old, None)


def unmoved(table: PendingDelays, key: int) -> None:
    """A delay no longer held: its move goes, but while its recipient is
    remembered as given up on (its first time is the move's)."""
    if table._first_of(key) is None:
        table._moved.pop(key, None)


def drop_labels(table: PendingDelays, labels: Collection[str], scope: int = 0) -> None:
    """Forget every pending recipient of evicted labels (of scope ``scope``), in one
    pass over the table however many labels go (a round may evict hundreds)."""
    gone = {label for label in labels if (scope, label) in table._expiries}
    if not gone:
        return
    entries = table._entries
    for key in [k for k, e in entries.items() if e[0][scope] in gone]:
        found, _, expires = entries.pop(key)
        table._unlist(found, expires)
        if table._moved:
            unmoved(table, key)
