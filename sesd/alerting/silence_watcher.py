"""The daemon's view of the silences file: the silences in force, read again when the
file changes, and the ends of ``--until-resolved`` silences written to it (with the
starts a step of the clock back moved).

Every file operation is a step (sesd.alerting.silence_io): the daemon runs them in a
worker thread, each waited for a bound (a file on a share that hangs holds nothing
else), and the CLI and callers that are not async in the calling thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sesd.alerting.silence_ends import WaitingEnds
from sesd.alerting.silence_entries import Entry, ended_by, still_ended
from sesd.alerting.silence_file import SilenceFile, Unread
from sesd.alerting.silence_io import FileOp, FileThread, Found, Hung, Later, Steps, inline, later
from sesd.alerting.silence_kept import Kept
from sesd.alerting.silence_left import LeftFiles
from sesd.alerting.silence_starts import MovedStarts
from sesd.alerting.silence_unread import Unreadable
from sesd.alerting.silences import Silence, SilenceError, SilenceSet, moved_back
from sesd.io.logs import get_logger

__all__ = ["SilenceWatcher"]

T = TypeVar("T")


class SilenceWatcher:
    """Keeps :attr:`silences` (what the evaluator matches against) as the file says,
    reading it again when it changes. A file that cannot be read is logged once per
    version and reason, and the silences read before stay in force; one that could not
    be opened or read is read again at each look (a ``chmod`` that mends it changes
    nothing the look sees). A silence that is none, or
    that ``check`` finds wrong (its reason; "" when right), is left out, and logged
    when first left out or when its reason changes: not again at each read of the file
    (each ``sesd silence add``) nor at each check given anew (a reload)."""

    def __init__(self, path: str | None, check: Callable[[Silence], str] | None = None) -> None:
        self._log = get_logger()
        self.file: SilenceFile | None = None
        #: The checks, and the entries left out at the last read.
        self._kept = Kept()
        self.silences = SilenceSet()
        #: A read at a reload not yet reported by :meth:`refresh` (whose True recalls
        #: what a new silence holds from the outboxes).
        self._unreported = False
        #: ``--until-resolved`` silences a resolve ended that the file could not be told
        #: of yet: out of force all the same, and written at each evaluation until a
        #: write takes.
        self._ends = WaitingEnds()
        #: Those of the files a reload moved off, written to them once they can be.
        self._left = LeftFiles()
        #: Starts a step back moved, not yet written (and kept for a new file, as
        #: :attr:`_ends` are: :meth:`_switch`).
        self._starts = MovedStarts()
        #: A restore's time and step back (:meth:`restored`), for the file's first read.
        self._back = (0.0, 0.0)
        #: Whether a read of the file took since sesd started.
        self._loaded = False
        #: Why the file could not be read, as logged (and scraped).
        self.unreadable = Unreadable()
        #: Runs the daemon's file operations (those of the ``a``-methods).
        self.thread = FileThread()
        #: Whether the methods that are not async leave the file be (:meth:`put_off`).
        self._put_off = False
        #: What :meth:`aread_ahead` found, for the change :meth:`put_off` makes next, and
        #: the steps measured when it began (a step back measured since: a look keeps it).
        self._found: Found = {}
        self._found_measures = 0
        inline(self._switch(path, check))  # nothing waits yet: no look at the file

    @contextmanager
    def put_off(self) -> Iterator[None]:
        """Within: the methods that are not async do no file operation (the daemon's
        reload, which reads the file first with :meth:`aread_ahead`, and writes after
        with :meth:`aend`): their looks and reads are answered with what it found, ends
        are in force and wait to be written."""
        self._put_off = True
        try:
            yield
        finally:
            self._put_off, self._found = False, {}

    def _now(self, steps: Steps[T]) -> T:
        """What ``steps`` return, run in the calling thread (or put off)."""
        return later(steps, self._found) if self._put_off else inline(steps)

    async def aread_ahead(self, path: str | None, deciding: Callable[[], bool]) -> None:
        """Look at the file at ``path``, and read it if it changed, for the change of
        config :meth:`put_off` makes next: the silences in force stay as they are until
        then. An evaluation under way meanwhile decides under the rules it began with,
        and so under their silences: none, or a new config's checks, would page what the
        silences hold. The files sesd left with ends waiting are looked at too (where
        to write them), the one read now among them if some wait for it, or may
        (``deciding``: an evaluation is under way, whose ends the reload's settle
        decides after this read, for the file that evaluation read)."""
        self._found = await self.thread.run(self._ahead(path, deciding))

    def _ahead(self, path: str | None, deciding: Callable[[], bool]) -> Steps[Found]:
        # Once its turn came, as a read of its own: a step measured while it waited for
        # another's (an evaluation's, held by a share that stalls) came before it.
        self._found_measures = self._starts.measures
        read = self.file
        here = read is not None and read.path == path
        # The file read is looked at if ends or starts wait for it, or ends may: it is
        # left with them. Asked as the read begins: an evaluation's own read waits for
        # this one to end.
        waiting = self._ends.waiting or self._starts.waiting
        kept = (read,) if here or waiting or deciding() else ()
        files = {file.path: file for file in (*kept, *self._left.files()) if file is not None}
        if path:
            files = {path: files.get(path) or SilenceFile(path), **files}
        found: Found = {}
        for each, file in files.items():
            try:
                found[each, "look"] = yield FileOp(each, "look", file.identity)
            except Hung as exc:  # taken as there, not read: the change says it hung
                found[each, "look"] = exc
        # Read as :meth:`_read` would: the file read already if it changed, another if any.
        looked = found[path, "look"] if path else None
        if path and not isinstance(looked, Hung) and looked != (self._identity if here else None):
            try:
                found[path, "read"] = yield FileOp(path, "read", files[path].entries)
            except SilenceError as exc:  # hung too: the change's read says so
                found[path, "read"] = exc
        return found

    def use(self, path: str | None, check: Callable[[Silence], str] | None, now: float) -> None:
        """Read silences from ``path`` (None: no silences), checked by ``check``: the
        same path's silences read are checked again now, and the file read now if it
        changed since (another path's is: else the silences would be none until the
        next evaluation's refresh), as a start would read it. Ends the file left was
        not told of yet are still written to it, which holds those silences."""
        self._now(self._use(path, check, now))

    def look(self, now: float) -> None:
        """:meth:`alook`, in the calling thread."""
        self._now(self._look(now))

    async def alook(self, now: float) -> None:
        """Read the file now if it changed since the last read; the next
        :meth:`arefresh` still reports the read as a change (and recalls what a new
        silence holds from the outboxes)."""
        await self.thread.run(self._look(now))

    def refresh(self, now: float) -> bool:
        """:meth:`arefresh`, in the calling thread."""
        return self._now(self._refresh(now))

    async def arefresh(self, now: float) -> bool:
        """Read the file again if it changed since the last read; whether it did (or a
        reload read another file since the last refresh)."""
        return await self.thread.run(self._refresh(now))

    def end(self, silence_ids: set[str], now: float) -> None:
        """:meth:`aend`, in the calling thread."""
        self.decided(silence_ids, now)
        self._now(self._end(now))

    async def aend(self, silence_ids: set[str], now: float) -> None:
        """End ``--until-resolved`` silences whose alert resolved: in force at once (the
        alert's next incident pages), and in the file, or at a later call (each
        evaluation's) while the file cannot be written. Taken as waiting before the
        write waits its turn: a reload's change of file meanwhile leaves them to the
        file that holds them, the one the evaluation that ended them read."""
        self.decided(silence_ids, now)
        await self.thread.run(self._end(now))

    def stepped(self, now: float, step: float, at: float | None = None) -> None:
        """The wall clock stepped ``step`` seconds to ``now``: the ends a step back would
        put in force again move back (:func:`moved_back`): at once, in the file, in those
        left; and the starts it would put ahead of ``at`` (``now``, or the file's first
        read after it), of silences in force before it, move to ``at`` (:class:`MovedStarts`),
        as do those of silences added a moment before a step measured now, read after it."""
        silences = [entry.silence for entry in self._entries if entry.silence]
        self._ends.moved(moved_back(silences, now, step))
        self._left.stepped(now, step)
        self._starts.stepped(silences, now, step, now if at is None else at)
        if at is None:
            self._starts.measured(now, step)

    def restored(self, now: float, step: float) -> None:
        """A restore at ``now`` read the state file saved ``-step`` seconds ahead of the
        clock: the ends a resolve gave before the save move back as at :meth:`stepped`,
        now if the file was read, else at its first read (missing or hung at the start,
        a share mounted late, damaged): read unmoved, they would be in force again."""
        if self._loaded:
            self.stepped(now, step)
        elif step:
            self._back = (now, step)

    def unwritten(self) -> dict[str, int]:
        """How many silences wait to be written to each file, their end or their start
        moved: the one read (0 when none wait) and each a reload moved off. Either, left
        unwritten, is lost at a restart, which reads such a silence waiting or pending."""
        waiting = self._left.waiting()
        if self.file is not None:
            # Those of a file a reload came back to while it was missing wait with it.
            here = self._ends.waiting.keys() | self._starts.waiting.keys()
            waiting[self.file.path] = waiting.get(self.file.path, set()) | here
        return {path: len(ids) for path, ids in waiting.items()}

    def _use(
        self, path: str | None, check: Callable[[Silence], str] | None, now: float
    ) -> Steps[None]:
        left = self.file if self.file is not None and self.file.path != path else None
        if left is not None and (self._ends.waiting or self._starts.waiting):
            # Written to the file left, which holds them as they were (a reload back to
            # it, a start with the old config would read them so), and to the new file
            # should it hold them too (:meth:`_switch`).
            self._left.leave(left, self._ends.waiting, self._starts.waiting, self._where())
        yield from self._switch(path, check)
        yield from self._look(now)
        if left is not None:
            yield from self._left.settle(left.path, now, self._where())

    def _look(self, now: float) -> Steps[None]:
        self._unreported = (yield from self._read(now)) or self._unreported

    def _switch(self, path: str | None, check: Callable[[Silence], str] | None) -> Steps[None]:
        """Take ``check``, and ``path`` unless it is the file read already."""
        self._kept.given(check)
        if self.file is not None and self.file.path == path:
            self._take(self._entries)
            return
        self.file = SilenceFile(path) if path else None
        # Waiting for the new file too: the old one moved or copied there holds the same
        # silences, and its read keeps ended those it holds, and moved the starts it
        # holds as written (no file: none). One that does not answer is taken as there:
        # its ends and starts wait on.
        there = False
        if self.file is not None and (self._ends.waiting or self._starts.waiting):
            try:
                there = (yield FileOp(self.file.path, "look", self.file.identity)) is not None
            except (Hung, Later):
                there = True
        if not there:
            # A step measured since the last look is kept, through a reload to no file
            # too (none is looked at meanwhile): the next file's first read moves those
            # added a moment before it, as the old one's would have (else pending for
            # the step's length, a reload back to the old file among them).
            self._ends.waiting = {}
            self._starts.forget()
        self.silences.items = []
        self._kept.forget()
        self._entries: list[Entry] = []
        self._identity: tuple[int, int, int, int] | None = None
        self.unreadable.forget(path or None)

    def _refresh(self, now: float) -> Steps[bool]:
        unreported, self._unreported = self._unreported, False
        return (yield from self._read(now)) or unreported

    def _read(self, now: float) -> Steps[bool]:
        """Read the file if it changed since the last read; whether it did. One that
        does not answer keeps the silences read last, and is looked at again next time
        (the thread said it)."""
        file = self.file
        if file is None:
            return False
        # A step measured while it is read (or a reload's read ahead is): moved there.
        measures = self._found_measures if self._put_off else self._starts.measures
        try:
            identity: tuple[int, int, int, int] | None = yield FileOp(
                file.path, "look", file.identity
            )
            if identity == self._identity:
                if measures == self._starts.measures:  # looked at after the step
                    self._starts.unread = None  # each silence read before it
                self.unreadable.unchanged(file.path, identity)
                return False
            entries: list[Entry] = yield FileOp(file.path, "read", file.entries)
        except Later:
            return False
        except Hung as exc:
            self.unreadable.hung(str(exc))
            return False
        except SilenceError as exc:
            contents = not isinstance(exc, Unread)  # read again once the file changes
            if contents:
                self._identity = identity
            self.unreadable.failed(identity, str(exc), contents=contents)
            return False
        self.unreadable.read(file.path, identity)
        self._identity, self._entries, self._loaded = identity, entries, True
        held = {entry.silence.id for entry in self._entries if entry.silence is not None}
        found, starts = (
            (yield from self._left.held(file.path, held, identity[:2])) if identity else ({}, {})
        )
        self._ends.waiting = {**found, **self._ends.waiting}
        self._starts.waiting = {**starts, **self._starts.waiting}
        # Starts first: an end kept is put no earlier than its start, the moved one.
        self._starts.held(self._entries, now, measures)
        self._ends.waiting = still_ended(self._entries, self._ends.waiting, now)
        if self._back[1]:  # the first read after a restore behind the save
            back, self._back = self._back, (0.0, 0.0)
            self.stepped(*back, now)
        skipped = self._take(self._entries)
        self._log.info(
            "sesd.silences.loaded",
            path=file.path,
            silences=len(self.silences.items),
            skipped=skipped,
        )
        return True

    def _take(self, entries: list[Entry]) -> int:
        """Keep the silences of ``entries`` that are right (:class:`Kept`); how many were not."""
        self.silences.items = self._kept.take(entries, self.file.path if self.file else None)
        return len(entries) - len(self.silences.items)

    def waiting_on(
        self, resolved: Iterable[tuple[str, str, str, str | None]], now: float
    ) -> set[str]:
        """The file's silences the resolves of ``resolved`` end at ``now`` (:func:`ended_by`)."""
        return ended_by(self._entries, resolved, now)

    def decided(self, silence_ids: set[str], now: float) -> None:
        """Out of force at ``now``, and waiting to be written to the file read."""
        if self.file is not None and silence_ids:
            self._ends.decided(self._entries, silence_ids, now)

    def _where(self) -> tuple[int, int] | None:
        """The (device, inode) of the file read, at its last read."""
        return self._identity[:2] if self._identity else None

    def _end(self, now: float) -> Steps[None]:
        yield from self._left.write(now, self._where())
        if self.file is not None:
            yield from self._ends.write(self.file, self._starts, now)

    def log_unwritten(self) -> None:
        """At a stop: the ends the file could not be told of. The next start reads the
        file alone, which holds those silences waiting: the on-call is told which, and
        what to do, rather than find the alert's next incident muted."""
        self._left.log(self.file.path if self.file else None, self._ends.waiting)
        self._starts.log(self.file.path if self.file else None)
