"""The starts of silences a step of the wall clock back moved, until the file has them.

``sesd silence add`` writes the moment it ran as a silence's start. When the wall
clock steps back past it, a silence in force would be pending for the step's length
(sesd.alerting.silences.started_back): its start moves back, in force at once, and
is written to the file with the ends the daemon writes. Until that write takes (the
file cannot be written, its lock is held, it does not answer), each read of the file
moves it again: a ``sesd silence`` command's write keeps the start as it read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sesd.alerting.alert_log import SHOWN
from sesd.alerting.silence_entries import Entry
from sesd.alerting.silences import Silence, shown_id, start_moved, started_back
from sesd.io.logs import get_logger

__all__ = ["REASONS", "MovedStarts", "said_before"]

#: How many reasons a write failed for are remembered as said, the last ones: a file
#: failing one way, then another, and back (a share's stale handle, then its I/O
#: error), says each once, not a line at each evaluation.
REASONS: Final = 8


def said_before(reasons: list[str], error: str) -> bool:
    """Whether ``error`` is among ``reasons`` (those said, the last :data:`REASONS`);
    one that is not is kept as said."""
    if error in reasons:
        return True
    reasons.append(error)
    del reasons[:-REASONS]
    return False


class MovedStarts:
    """The starts moved that the file was not written with yet."""

    def __init__(self) -> None:
        self._log = get_logger()
        #: Each start moved and not written: id -> (the start the file has, where it moved).
        self.waiting: dict[str, tuple[float, float]] = {}
        #: Those a failed write said, and the reasons said since a write last took.
        self._said: set[str] = set()
        self._reasons: list[str] = []
        #: A step back measured since the file was last looked at (its ``now`` and how
        #: far): a silence added a moment before it, read only after, moves at that
        #: read (:meth:`held`).
        self.unread: tuple[float, float] | None = None
        #: How many steps were measured, and the ``now`` of the last: a read under way
        #: when one is (its ``now`` taken before it, on the clock stepped off) moves to
        #: the last (:meth:`held`), and a look or read under way keeps a step back (it may
        #: have seen the file before a silence added a moment before).
        self.measures, self._last = 0, 0.0

    def stepped(self, silences: Iterable[Silence], now: float, step: float, at: float) -> None:
        """The wall clock stepped ``step`` seconds to ``now``: the starts of ``silences``
        a step back put ahead of ``at`` (``now``, or a first read of the file after it)
        move to ``at``, and wait to be written."""
        for silence_id, start in started_back(silences, now, step, at).items():
            written, _ = self.waiting.get(silence_id, (start, at))
            self.waiting[silence_id] = written, at

    def measured(self, now: float, step: float) -> None:
        """The wall clock stepped ``step`` seconds to ``now``, measured while running:
        kept for the next read should it be a step back (two before it make one)."""
        if step < 0:
            # As far as the highest the clock read before the steps since the last look,
            # when a silence added a moment before one started: not their sum, which
            # counts the time between as ahead too (a step long past, kept through a
            # reload to no file, would move a start written by hand ahead of the clock).
            before = max(now - step, self.unread[0] - self.unread[1] if self.unread else now)
            self.unread = now, now - before
        self.measures, self._last = self.measures + 1, now

    def forget(self) -> None:
        """A reload moved to a file that does not hold them, or to none: no start waits.
        The step kept for the next read stays: the file read next (this one, or another
        after a reload to none) may hold a silence added a moment before it."""
        self.waiting, self._said, self._reasons = {}, set(), []

    def held(self, entries: list[Entry], now: float, measures: int) -> None:
        """The file was read at ``now`` (``entries``), asked when :attr:`measures` was
        ``measures``: each silence it still has as written (or where a write given up
        that took put it) moves again. One it has no longer, with another start
        (written, or changed by hand: whoever edited it chose that start), or expired by
        the start written, is left as the file says (:func:`start_moved`). Then one added a
        moment before a step back measured since the last look, so read only now, has
        its start moved to ``now``, as :meth:`stepped` would have moved it; to the clock
        the last step measured while the read was under way set (``now`` is a time
        before it, on the clock stepped off: one stepped forward again may be past the
        start, left as written). Such a read may have taken the file before a silence
        added a moment before the step: the step is kept for the next read, as a look
        under way keeps it."""
        read = {entry.silence.id: entry.silence for entry in entries if entry.silence is not None}
        for silence_id, (written, moved) in list(self.waiting.items()):
            silence = read.get(silence_id)
            if silence is None or not start_moved(silence, written, moved):
                del self.waiting[silence_id]
        # One no longer waiting is said again should a step move it once more.
        self._said &= self.waiting.keys()
        if self.unread is None:
            return
        under_way = measures != self.measures
        at = self._last if under_way else max(now, self.unread[0])
        self.stepped(read.values(), *self.unread, at)
        if not under_way:
            self.unread = None

    def written(self, starts: dict[str, tuple[float, float]]) -> None:
        """The file was written with ``starts``: those moved again meanwhile wait on."""
        self.waiting = {i: at for i, at in self.waiting.items() if starts.get(i) != at}
        # A write took: the next to fail is news, whatever its reason.
        self._said &= self.waiting.keys()
        self._reasons = []

    def unwritable(self, error: str, quiet: bool) -> None:
        """A write failed for ``error``: the starts waiting said, should one not have
        been yet or the error not have been said since a write took (the last line
        would name a reason mended since, the on-call mending it in vain); once per
        reason, not at each evaluation, though reasons alternate (not while ``quiet``: a
        command holds the lock a moment)."""
        if quiet or not self.waiting:
            return
        known = said_before(self._reasons, error)
        if known and self.waiting.keys() <= self._said:
            return
        self._said |= self.waiting.keys()
        self._log.error(
            "sesd.silences.unwritable",
            error=error,
            count=len(self.waiting),
            ids=[shown_id(i) for i in sorted(self.waiting)[:SHOWN]],
            hint="in force all the same (a step of the clock back put their start ahead, "
            "moved back to the step); until the file is written with it, sesd silence list "
            "shows them pending: written to the file once it can be",
        )

    def log(self, path: str | None) -> None:
        """At a stop: the starts the file at ``path`` still holds ahead of the clock."""
        if path is None or not self.waiting:
            return
        self._log.warning(
            "sesd.silences.unwritten",
            path=path,
            count=len(self.waiting),
            ids=[shown_id(i) for i in sorted(self.waiting)[:SHOWN]],
            hint="a step of the clock back moved their start, but the silences file still "
            "holds it ahead of the clock, and so will the next start: they mute nothing until "
            "the clock reaches it; add each again with sesd silence add to mute its alerts now",
        )
