"""How a step of the host's clock moves the pending table (sesd.core.pending): the
latest a delay pends, ``LONGEST_DELAY`` after its first time, and the expiry it set.
What :meth:`~sesd.core.pending.PendingDelays.stepped` and
:meth:`~sesd.core.pending.PendingDelays.held_to` call. Pure.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sesd.core.pending import PendingDelays

__all__ = ["credited", "held_to", "retried", "stepped"]


def stepped(table: PendingDelays, step: float, now: float) -> None:
    """The host's clock stepped ``step`` seconds, to ``now``. An event from ahead of
    it is dated on it (sesd.core.pipeline), a delay's first time with it, and so is
    the latest it pends, ``LONGEST_DELAY`` on: NTP setting a clock an hour behind
    left each such delay to expire an hour before SES gives up on it, its
    recipient's Delivery then finding nothing to end. A step ahead moves that latest
    time of each delay first seen no later than the clock it left (``now - step``),
    or moved before, and its expiry where that bound set it (an earlier ``expirationTime`` is SES's
    own time: it stays). Which of them SES dated earlier (a backlog) is not kept:
    each pends up to the step longer, unless its Delivery or Bounce ends it. The
    first delay's time stays: a Delivery SES dated less than the step after it (a
    delay SQS brought late) still ends it; its length is timed from it moved
    (sesd.core.pending.PendingDelays.resolved). So is the first time of each recipient
    given up on (its delay ran its 16 h, or the full table refused it), which a retry
    is held from: left, once NTP set a clock an hour behind, a retry 15 h 30 min after
    SES's first was taken as past its 16 h, not held.

    A step back moves none ahead and takes back as much of what steps ahead moved,
    held to ``now`` as :func:`held_to` holds them: held to ``now`` alone, a year's step
    ahead taken back held each delay 16 h after the clock, and a clock flapping an
    hour ahead and back held each for as long as it flapped (each step ahead added
    its hour to a bound that grew with the clock). What it takes back past none is
    kept, of every first time it finds, as a move below none (which moves nothing,
    and times none the longer): the next step ahead moves it as much less. Left, a
    wrong step back NTP then corrected moved each delay dated before it (on the clock
    set right) the step ahead: it pended the step past SES's 16 h. Kept, a delay SES
    dated on a clock that NTP set back (one ahead, dated at SES's times) and a later
    step ahead moves the less, as it should move none; one dated on a clock behind,
    stepped further back, then NTP's step ahead moves as far as its clock was behind.

    The Deliveries and Bounces remembered for a delay SQS brings after them
    (:func:`_resolutions_moved`) move on a step ahead, none on a step back; the next
    step ahead moves those remembered before a step back as much less."""
    if not step or not math.isfinite(step) or not math.isfinite(now):
        return  # (one of none moves nothing: not a pass over the table)
    left, moved = now - step, table._moved
    _resolutions_moved(table, step, left)
    # (A first move is ``step`` itself, one float shared by every delay it moves: a
    # full table's moves held a float each, 24 MB for a million.)
    _moves(table, (
        (key, min(step if (was := moved.get(key)) is None else was + step, now - since))
        for key, since in _firsts(table)
        if step < 0 or since <= left or key in moved
    ))  # fmt: skip


def held_to(table: PendingDelays, now: float) -> None:
    """No delay's latest time moved past ``now``'s own ``LONGEST_DELAY`` on (its
    first time, moved, no later than ``now``): at a restart (a state file's moves from
    a clock since set back, or damaged). A move below none moves no time: kept, but of
    a delay first seen further ahead of ``now`` than that move is below none (a file
    more than a day ahead, taken as damaged: nothing moved back). Kept, NTP's step
    ahead then moved that delay, though first seen ahead of the clock the step left,
    as far as it was old: it pended as long past SES's 16 h. Nor is a Delivery or
    Bounce remembered later than ``now``, or at no time (a damaged file's, a hand's
    edit; none is later than its save), but as far as a step back since it put the
    clock behind it (its credit, kept against the next step ahead: :func:`stepped`):
    a delay of its recipient was timed from it, a year, or raised (a length past what
    a float holds, in milliseconds); one not a number ended no delay, nor did a
    Delivery replace it (it compares later than none). Held to ``now``, its credit
    kept, one read before a step back was moved none by NTP's step setting the clock
    right: it was left before its delay SQS brought next, which pended its 16 h."""
    if not math.isfinite(now):
        return
    pairs = (
        (table._resolved, table._credits),
        (table._resolved_before, table._credits_before),
    )
    for resolved, credits in pairs:
        # (A run of one credit at a time: each key's credit found as credited() finds
        # it cost a start 10 ms more for a full table's, 4x the pass with none.)
        for items, credit in _runs(resolved, credits):
            bound = now + credit
            for key, at in items:  # (in place, as a step moves them)
                if not at <= bound:
                    resolved[key] = bound
    moved = table._moved
    if not moved:
        return
    _moves(table, (
        (key, max(0.0, min(by, now - first)))
        for key, first in _firsts(table)
        if (by := moved.get(key, 0.0)) and by > now - first
    ))  # fmt: skip


def retried(table: PendingDelays, key: int, first: float, t: float) -> float:
    """The first time of a recipient first delayed at ``first`` and delayed again at
    ``t``: ``first``, unless ``t`` is earlier. Dated no earlier than where a step of
    the clock back since put that first time on this clock (``first`` and its move
    below none), the retry came after it: ``first`` stays. Otherwise ``t`` is the
    first delay (SES dated one earlier, a backlog), dated on this clock: what steps
    moved of the one it replaces goes. Left, SES's retry fifteen minutes after its
    first delay, read on a clock a wrong step had set an hour back, became the first
    time; NTP's step setting it right took the step back's move away, and the delay
    expired 45 minutes before SES gave up on it, timed the hour longer when its
    Delivery came; and a backlog's delay SES dated before a first time a step ahead
    moved pended the step past SES's 16 h."""
    if t >= first:
        return first
    moved = table._moved.get(key) if table._moved else None
    if moved is None:
        return t
    if t >= first + moved:  # (below none: ``t`` is before ``first``)
        return first
    del table._moved[key]
    return t


def _resolutions_moved(table: PendingDelays, step: float, left: float) -> None:
    """Each Delivery or Bounce remembered (a delay of its recipient SQS brings after it
    is over: sesd.core.pending.PendingDelays.delayed) dated no later than the clock a
    step ahead of ``step`` seconds left, moved as far. SES sends no delay of a
    recipient after its Delivery or Bounce: its time need only be no earlier than SES's
    of it, on the clock now. One from ahead of a clock behind SES's is dated on it, and
    left there, NTP setting that clock three hours ahead left it three hours before its
    delay SQS brought next: that pended its 16 h, ended by nothing. One SES dated
    earlier (a backlog) moves as well, and such a delay is timed up to the step longer.
    A step back moves none: moved back, a delay dated on the clock behind (from ahead
    of it) would follow its Delivery. It is kept, of those remembered then, against
    the next step ahead, which moves them as much less: left, a clock flapping an hour
    back and ahead moved one dated on the clock set right an hour at each step ahead
    that found the clock behind past it, and its delay was timed hours longer."""
    pairs = (
        (table._resolved, table._credits),
        (table._resolved_before, table._credits_before),
    )
    for resolved, credits in pairs:
        if step < 0:  # (each index past the last of those remembered before it)
            credits[:] = [(upto, credit - step) for upto, credit in credits]
            if resolved and (not credits or credits[-1][0] < len(resolved)):
                credits.append((len(resolved), -step))
            continue
        for key, at, credit in credited(resolved, credits):  # (a value set: no key added)
            if at <= left and step > credit:
                resolved[key] = at + step - credit
        credits[:] = [(upto, credit - step) for upto, credit in credits if credit > step]


def credited(
    resolved: dict[int, float], credits: list[tuple[int, float]]
) -> Iterator[tuple[int, float, float]]:
    """(key, time, credit) of each Delivery or Bounce remembered in one generation: how
    far steps back since it was remembered moved the clock behind it, against the next
    step ahead (none: moved as far as that step). Keys are only added (in order), never
    taken out: an index stays its key's, and ``credits`` are (index past the last key
    a credit is of, seconds), in that order."""
    marks = iter(credits)
    upto, credit = next(marks, (0, 0.0))
    for index, (key, at) in enumerate(resolved.items()):
        while credit and index >= upto:
            upto, credit = next(marks, (0, 0.0))
        yield key, at, credit


def _runs(
    resolved: dict[int, float], credits: list[tuple[int, float]]
) -> Iterator[tuple[Iterator[tuple[int, float]], float]]:
    """(items, credit) of each run of one generation's resolutions (key, time) that one
    credit is of, in order, then of the rest (none): as :func:`credited` gives them,
    each run read to its end before the next is asked."""
    items, start = iter(resolved.items()), 0
    for upto, credit in credits:
        yield islice(items, max(0, upto - start)), credit
        start = max(start, upto)
    yield items, 0.0


def _firsts(table: PendingDelays) -> Iterator[tuple[int, float]]:
    """(key, first time) of each delay held, then of each recipient given up on (its
    retry is held from that time: sesd.core.pending.PendingDelays.delayed) not held."""
    entries = table._entries
    for key, (_, since, _) in entries.items():
        yield key, since
    for gave_up in (table._gave_up_before, table._gave_up):
        for key, first in gave_up.items():
            if key not in entries and (gave_up is table._gave_up or key not in table._gave_up):
                yield key, first


def _moves(table: PendingDelays, moves: Iterable[tuple[int, float]]) -> None:
    """Each (key, seconds its latest time is moved from ``LONGEST_DELAY`` after its
    first delay) applied, and its expiry with it where that latest time set it. Taken
    one at a time as the table is walked (each key's is made before it is applied, and
    no other's reads it; an entry's value replaced is no key added): made as a list
    first, a full table's moves held 64 bytes a delay more at each step, 64 MB for a
    million."""
    entries, relist = table._entries, False
    for key, by in moves:
        found = entries.get(key)
        last = None if found is None else table._last(key, found[1])
        if by:
            table._moved[key] = by
        else:
            table._moved.pop(key, None)
        if found is None:  # a recipient given up on: its first time's move alone
            continue
        labels, since, expires = found
        until = table._last(key, since)
        until = until if expires == last or expires > until else expires
        if until != expires:
            entries[key] = (labels, since, until)
            relist = True
    if relist:
        _relisted(table)


def _relisted(table: PendingDelays) -> None:
    """Each label's expiries and the heap made again from the entries, each sorted
    once: a step moves the expiry of nearly every delay, and moving each in its
    label's sorted list (a search, and a shift of those after it) took 5 s for a full
    table at one domain's share, the event loop stopped meanwhile. Each list is
    emptied and the heap dropped before they are made again: made beside them, a
    million delays' held 75 MB more until the step was done."""
    expiries = table._expiries
    for listed in expiries.values():
        listed.clear()
    for labels, _, until in table._entries.values():
        for scope, label in enumerate(labels):
            expiries[(scope, label)].append(until)
    for listed in expiries.values():
        listed.sort()
    table._heap = []
    table._heap = [(e[2], k) for k, e in table._entries.items()]
    heapq.heapify(table._heap)
