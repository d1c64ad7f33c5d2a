"""Ends of ``--until-resolved`` silences the file sesd reads was not told of yet.

A resolve ends such a silence at once: out of force, as the alert's next incident must
page. The end is written to the file with the starts a step of the clock back moved
(sesd.alerting.silence_starts), at each evaluation until a write takes: the lock is
not waited for (a command holding it, stopped at its terminal or on a hung disk,
would hold each write as long). A write that fails is said once per error, and a
lock a command holds a moment not at all.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from sesd.alerting.alert_log import SHOWN
from sesd.alerting.silence_file import LockHeld
from sesd.alerting.silence_io import FileOp, Later, Steps
from sesd.alerting.silence_starts import said_before
from sesd.alerting.silences import SilenceError, shown_id
from sesd.io.logs import get_logger

if TYPE_CHECKING:
    from sesd.alerting.silence_entries import Entry
    from sesd.alerting.silence_file import SilenceFile
    from sesd.alerting.silence_starts import MovedStarts

__all__ = ["WaitingEnds"]


class WaitingEnds:
    """The ends waiting to be written to the file read (id: when it ended)."""

    def __init__(self) -> None:
        self._log = get_logger()
        #: Each end not written yet: in force all the same.
        self.waiting: dict[str, float] = {}
        #: Those of :attr:`waiting` ended since the last write was tried.
        self._new: set[str] = set()
        #: Why writes failed, as logged since one last took (the last few).
        self._reasons: list[str] = []
        #: Whether the last write found the lock held (said if the next one does too).
        self._held = False

    def decided(self, entries: list[Entry], silence_ids: set[str], now: float) -> None:
        """The silences ``silence_ids`` of the file read (``entries``) ended at ``now``:
        out of force, and waiting to be written."""
        if not self.waiting:
            # Nothing was tried since the last write that found the lock held (it took, or
            # the file ended what waited): a lock held now is held a moment.
            self._held = False
        new = silence_ids - self.waiting.keys()
        for entry in entries:  # those left out too, checked again at a reload
            if entry.silence is not None and entry.silence.id in new:
                entry.silence.ends_at = max(now, entry.silence.starts_at)
        self.moved(dict.fromkeys(new, now))

    def moved(self, ends: dict[str, float]) -> None:
        """``ends`` wait to be written, said should the next write fail: new ones, or
        ends a step of the clock back moved."""
        self.waiting, self._new = self.waiting | ends, self._new | ends.keys()

    def write(self, file: SilenceFile, starts: MovedStarts, now: float) -> Steps[None]:
        """Write the ends waiting to ``file``, and the starts moved waiting (``starts``)."""
        if not (self.waiting or starts.waiting):
            return
        # Those not said yet: said if this write fails, though its error was said before.
        new, self._new = self._new & self.waiting.keys(), set()
        try:
            # A copy: a write given up runs on in its thread while this one changes them.
            waiting, moved = dict(self.waiting), dict(starts.waiting)
            expire = partial(
                file.expire, waiting, now, waiting, wait=False, resolved=True, starts=moved
            )
            ended: list[str] = yield FileOp(file.path, "write", expire)
        except Later:
            self._new |= new
            return  # in force, and written by the next write
        except SilenceError as exc:
            # A command holds the lock for a moment: said once it held it a whole period.
            moment, self._held = not self._held, isinstance(exc, LockHeld)
            starts.unwritable(str(exc), moment and self._held)
            if self.waiting and not (moment and self._held):
                # Each reason once, though they alternate (else a line each evaluation).
                if said_before(self._reasons, str(exc)) and not new:
                    return
                named = sorted(self.waiting)[:SHOWN]
                self._log.error(
                    "sesd.silences.unwritable",
                    error=str(exc),
                    count=len(self.waiting),
                    ids=[shown_id(i) for i in named],
                    hint="ended all the same (the alerts they held page); written to the "
                    "file once it can be",
                )
            return
        # Those ended while it was written (another evaluation's), or moved by a clock
        # step, wait for the next.
        self.waiting = {i: at for i, at in self.waiting.items() if waiting.get(i) != at}
        starts.written(moved)
        self._reasons, self._held = [], False
        if not ended:
            return  # ended in the file already (by another sesd reading it): read next
        named = sorted(ended)[:SHOWN]  # a file edited by hand may hold any number
        self._log.info(
            "sesd.silences.ended_by_resolve", count=len(ended), ids=[shown_id(i) for i in named]
        )
