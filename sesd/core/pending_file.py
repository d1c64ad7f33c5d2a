"""The pending table's form in the state file (sesd.core.pending): what
:meth:`~sesd.core.pending.PendingDelays.snapshot` and
:meth:`~sesd.core.pending.PendingDelays.restore` call, each row read back held to
what a live delay could have made. Pure.
"""

from __future__ import annotations

import heapq
import math
import operator
from collections.abc import Callable
from itertools import groupby, repeat
from typing import TYPE_CHECKING, Any, Final

from sesd.core.events import LONGEST_DELAY
from sesd.core.pending_forget import give_up
from sesd.core.pending_steps import credited
from sesd.core.refusals import MOST_AHEAD

if TYPE_CHECKING:
    from sesd.core.pending import Labels, PendingDelays

__all__ = ["latest_first", "restore_into", "snapshot_of"]

#: A label a state file did not have (sesd.core.providers.UNKNOWN).
UNKNOWN: Final = "unknown"
#: A saved delay's items (a later build's after them are not this one's to read; not
#: unpacked with ``*_``: a list made for each of 200,000 rows took 30 ms).
_DELAY: Final = operator.itemgetter(0, 1, 2, 3)
#: A resolution's, or a give-up's, likewise.
_PAIR: Final = operator.itemgetter(0, 1)
_INFINITE: Final = float("inf")
#: The last second a date is written in (9999-12-31T23:59:59Z).
_LATEST: Final = 253402300799.0


def snapshot_of(table: PendingDelays) -> dict[str, object]:
    """Plain data for the state file: (key, labels, since, expires) per recipient,
    the recent resolutions (key, time, and the credit of one a step back since put the
    clock behind), SES's times of those from ahead of the clock, the keys of those
    that timed a delay, and the recipients given up on or refused by the full table
    (key, time of their first delay)."""
    return {
        # The labels' own tuple (an array to msgpack, as a list is): one new
        # container a row, not two, for a table of up to max_entries.
        "pending": [(key, *entry) for key, entry in table._entries.items()],
        "resolved": _resolutions(table),
        # SES's own time of each remembered from ahead of the clock (key, time): a file
        # without it (an earlier build's) restores none; an earlier build leaves it.
        # Left out, a delay SQS brought after a restart, though SES dated it before its
        # Delivery, was dated after it on the clock behind, and pended 16 h.
        "resolved_ses": list({**table._ses_before, **table._ses}.items()),
        # The keys of those that timed a delay already: (the same). Left out, a retry
        # SQS brought after a restart, though SES dated it before its recipient's
        # Delivery, was timed again from it, a second value for one delayed recipient.
        # In the set's own order, as the duplicate filter's keys are saved: sorted, a
        # save of 200,000 held the event loop twice as long for the table (170 ms).
        "counted": list(table._counted),
        # A file without it (an earlier build's) restores none; an earlier build
        # reading this file leaves it.
        "gave_up": list({**table._gave_up_before, **table._gave_up}.items()),
        "refused": table.refused.snapshot(),  # (the same)
        # How far steps of the clock ahead moved the latest each pends, and the first
        # time of each given up on (key, seconds): (the same). Left out, NTP's step
        # before a restart was undone by it.
        "moved": list(table._moved.items()),
    }


def latest_first(saved_at: object, now: float) -> float:
    """The latest a delay in a state file saved at ``saved_at`` (as written), read at
    ``now``, was first seen. A delay is dated no later than the clock that read it (an
    event from ahead of it is dated on it), and the save came after: one ahead of the
    save was read before a step of the clock back, which a day bounds as it bounds a
    save ahead of the clock (sesd.core.refusals.MOST_AHEAD; further, a damaged file is
    the likelier story). A save at no time a clock tells is the start's. The save's
    time, not the start's alone: a host started on a clock days behind (NTP not there
    yet) keeps the delays, and NTP's step then sets them right."""
    saved = (
        float(saved_at)
        if isinstance(saved_at, int | float) and not isinstance(saved_at, bool)
        and 0.0 <= saved_at <= _LATEST
        else now
    )  # fmt: skip
    return max(now, saved) + MOST_AHEAD


def _resolutions(table: PendingDelays) -> list[tuple[int, float] | tuple[int, float, float]]:
    """The resolutions remembered, the newer generation's where a key is in both (the
    one a delay is read against), each with its credit where a step back since it was
    remembered put the clock behind it (sesd.core.pending_steps.stepped). Left out, a
    restart forgot the step back, and NTP's step setting the clock right after it moved
    a Delivery read before the step back the whole step: a delay of its recipient SQS
    brought later was timed the step longer (the ten minutes of a delay read as 70)."""
    if not table._credits and not table._credits_before:  # (as nearly always: one pass)
        return list({**table._resolved_before, **table._resolved}.items())
    rows: dict[int, tuple[int, float] | tuple[int, float, float]] = {}
    pairs = (
        (table._resolved_before, table._credits_before),
        (table._resolved, table._credits),
    )
    for resolved, credits in pairs:
        for key, at, credit in credited(resolved, credits):
            rows[key] = (key, at, credit) if credit else (key, at)
    return list(rows.values())


def restore_into(
    table: PendingDelays,
    data: dict[str, Any],
    where: list[int] | None = None,
    admits: list[Callable[[object], bool]] | None = None,
    latest: float = _LATEST,
) -> int:
    """Load what :func:`snapshot_of` returned into ``table``. ``where`` gives, for each scope now,
    the place of its label in the saved ones (-1: not saved); a label not saved
    (one label, a string, before providers) is ``unknown``. An expiry later than
    ``LONGEST_DELAY`` after the entry's first delay is taken as that. A delay is
    kept only if each scope's ``admits`` takes its label there (one no event
    makes would be counted and exported as if one had), nor one first seen at no time
    a clock tells (a damaged file, a hand's edit: not a number, before 1970, past year
    9999) or after ``latest`` (but one read before a step of the clock back that its
    saved move says put it no later: :func:`_stepped_past`): how many were not. Those
    past ``max_entries`` count in :attr:`overflow`, remembered as refused."""
    where = list(range(table.scopes)) if where is None else where
    refused, checked = 0, dict[tuple[str, ...], bool]()  # labels repeat: checked once
    # One tuple for the rows of one label, as rows made from events share their
    # strings: each row read back is its own decoded copy (a full table's 200,000
    # rows held a few hundred labels 200,000 times over, 12 MB).
    shared: dict[Labels, Labels] = {}
    moved, latest = _moved(data.get("moved")), min(latest, _LATEST)
    for key, found, since, expires in map(_DELAY, data["pending"]):
        if not 0.0 <= float(since) <= latest and not _stepped_past(key, since, moved, latest):
            # Held, its Delivery raised in the pipeline (a length in milliseconds no
            # integer holds) or timed it decades, or it pended for good, ended by none;
            # one dated a year ahead pended a year.
            refused += 1
            continue
        if int(key) not in table._entries and len(table._entries) >= table.max_entries:
            # Past a smaller bound than the file's: not held, as a delay refused by
            # the full table is not (a retry of it is no new delayed recipient).
            table.overflow += 1
            table.refused.add(float(since))
            give_up(table, int(key), float(since))
        elif int(key) not in table._entries:
            saved = [str(found)] if isinstance(found, str) else [str(f) for f in found]
            labels = tuple(saved[i] if 0 <= i < len(saved) else UNKNOWN for i in where)
            labels = shared.setdefault(labels, labels)
            if admits is not None:
                ok = checked.get(labels)
                if ok is None:
                    pairs = zip(admits, labels, strict=True)
                    ok = checked[labels] = all(takes(label) for takes, label in pairs)
                if not ok:
                    refused += 1
                    continue
            # A file from a build that took expirationTime at its word may hold an
            # expiry years away, which would pin the recipient and its label for
            # ever. Bounded from the entry's own first delay time, not the file's
            # save time: that is the event time the decoder bounds a new delay from,
            # SES tries no recipient for longer after its first delay, and a host
            # clock behind SES's at the save (event times after it) cuts nothing.
            # An earlier build held a chain of delays without expirationTime past
            # it (delayed() bounds it now), when SES had given up on it anyway.
            # As far past it as steps of the clock ahead moved it (held to the clock
            # once read: sesd.core.pending.PendingDelays.held_to).
            by = moved.get(int(key), 0.0)
            until = min(float(expires), float(since) + LONGEST_DELAY + max(0.0, by))
            table._entries[int(key)] = (labels, float(since), until)
            for scope, label in enumerate(labels):
                table._expiries.setdefault((scope, label), []).append(until)
    # Sorted once: an insort each made restoring a full table quadratic (minutes).
    for expiries in table._expiries.values():
        expiries.sort()
    _resolutions_into(table, data["resolved"])
    _ses_into(table, data.get("resolved_ses"))
    _counted_into(table, data.get("counted"))
    for key, first in map(_PAIR, data.get("gave_up", ())):
        give_up(table, int(key), float(first))
    _keep_moves(table, moved)
    table.refused.restore(data.get("refused"))
    table._heap = [(e[2], k) for k, e in table._entries.items()]
    heapq.heapify(table._heap)
    return refused


def _stepped_past(key: object, since: Any, moved: dict[int, float], latest: float) -> bool:
    """Whether a delay first seen after ``latest`` was read before a step of the clock
    back: its move below none puts it on the clock no later than the save or the
    restart (``latest`` less the day :func:`latest_first` allows; no later than the
    clock it left: sesd.core.pending_steps.stepped), where a damaged file's says
    nothing. A clock stepped days back before the save, and behind still at the
    restart: left out, the delay pended in no gauge, and its Delivery, once NTP set the
    clock right, ended nothing (its length not timed)."""
    by = moved.get(key) if type(key) is int else None
    first = float(since)  # (a number: read as one before this is asked)
    return by is not None and 0.0 <= first <= _LATEST and by <= latest - MOST_AHEAD - first


def _resolutions_into(table: PendingDelays, rows: list[Any]) -> None:
    """The resolutions remembered, each with its credit (none from a file without them,
    an earlier build's; one that is not a number of seconds above none is none, and
    one past a day held to a day: a step back further is read as a damaged file's).
    Those of the largest credit first: each generation's credits are kept as how many
    of its first keys have each, and in the file's order a key remembered again after
    a step back (the newer generation's time, its smaller credit) sits among those
    remembered before it."""
    credits = _credits(rows)
    if not credits:  # (as nearly always)
        for key, t in map(_PAIR, rows):
            table._remember(int(key), float(t))
        return
    # The largest credit first, each credit's in the file's order (a stable sort: its
    # reverse keeps that order), by index: sorted by a lambda made for each row, the
    # rows cost a start 110 ms more with 200,000 credited than with none (now 55).
    keys = [int(row[0]) for row in rows]
    weights = list(map(credits.get, keys, repeat(0.0)))
    for index in sorted(range(len(rows)), key=weights.__getitem__, reverse=True):
        table._remember(keys[index], float(rows[index][1]))
    table._credits_before = _marks(table._resolved_before, credits)
    table._credits = _marks(table._resolved, credits)


def _credits(rows: list[Any]) -> dict[int, float]:
    """Key -> credit of each row with one: a number of seconds above none, held to a
    day. (A float's test inline, as nearly every credit is one: the whole test of
    each row, as its own calls, took three times as long, 65 ms for 200,000.)"""
    return {
        int(row[0]): float(credit) if credit <= MOST_AHEAD else MOST_AHEAD
        for row in rows
        if (type(row) is list or isinstance(row, list | tuple)) and len(row) > 2
        and (0.0 < credit < _INFINITE if type(credit := row[2]) is float else _seconds(credit))
    }  # fmt: skip


def _seconds(credit: object) -> bool:
    """Whether a credit not a float is a number of seconds above none."""
    return (
        isinstance(credit, int | float) and not isinstance(credit, bool) and credit > 0
        and math.isfinite(credit)
    )  # fmt: skip


def _ses_into(table: PendingDelays, rows: object) -> None:
    """SES's times of the resolutions remembered from ahead of the clock (none from a
    file without them, an earlier build's): each of a resolution restored, no more
    than a day after its time (sesd.core.pending_ses.remembered holds it so); any
    other row is left out alone."""
    for row in rows if isinstance(rows, list) else ():
        if not (
            isinstance(row, list | tuple) and len(row) >= 2 and isinstance(row[0], int)
            and isinstance(row[1], int | float) and not isinstance(row[1], bool)
        ):  # fmt: skip
            continue
        key, ses = int(row[0]), float(row[1])
        at, kept = table._resolved.get(key), table._ses  # (its resolution's generation)
        if at is None:
            at, kept = table._resolved_before.get(key), table._ses_before
        if at is not None and ses <= at + MOST_AHEAD:
            kept[key] = ses


def _counted_into(table: PendingDelays, keys: object) -> None:
    """The resolutions that timed a delay already (none from a file without them, an
    earlier build's), of those restored: any other key is left out alone."""
    resolved, before = table._resolved, table._resolved_before
    table._counted.update(
        key
        for key in (keys if isinstance(keys, list) else ())
        if type(key) is int and (key in resolved or key in before)
    )


def _marks(resolved: dict[int, float], credits: dict[int, float]) -> list[tuple[int, float]]:
    """A generation's credits as :func:`sesd.core.pending_steps.credited` reads them, its
    keys in order of credit, the largest first."""
    marks: list[tuple[int, float]] = []
    index = 0
    # (Runs of one credit found in C: a look-up and a test a key took three times as
    # long, 16 ms for 200,000.)
    for credit, run in groupby(map(credits.get, resolved, repeat(0.0))):
        if not credit:
            break
        index += len(list(run))
        marks.append((index, credit))
    return marks


def _keep_moves(table: PendingDelays, moved: dict[int, float]) -> None:
    """The moves of those held and of those given up on (their first time's), once all
    are read: a row past a lowered bound is given up on with its move."""
    for key, by in moved.items():
        if key in table._entries or table._first_of(key) is not None:
            table._moved[key] = by


def _moved(rows: object) -> dict[int, float]:
    """The saved moves (none from a file without them, an earlier build's); a row that
    is not a key and a number of seconds other than none is left out alone (below none:
    a step back's, against the next step ahead: sesd.core.pending_steps.stepped)."""
    return {
        int(row[0]): float(row[1])
        for row in (rows if isinstance(rows, list) else ())
        if isinstance(row, list | tuple) and len(row) >= 2 and isinstance(row[0], int)
        and isinstance(row[1], int | float) and not isinstance(row[1], bool)
        and row[1] != 0 and math.isfinite(row[1])
    }  # fmt: skip
