"""The silences file: the CLI writes it, the daemon reads it.

Every write happens under an exclusive lock on ``PATH.lock`` and replaces the
file atomically with mode 0600, so a ``sesd silence add`` and the daemon
ending an ``--until-resolved`` silence never lose each other's change. The
daemon never waits for the lock (a command stopped while it holds it would stall
the event loop): it writes at a later evaluation. The daemon looks at the
file's identity (device, inode, size, mtime) once per evaluation and reads it again
only when it changed: no restart and no signal needed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Final

import msgspec

from sesd.alerting.alert_log import SHOWN
from sesd.alerting.silence_entries import Entry, Stored, entry_content, entry_of
from sesd.alerting.silence_left import LeftEnds
from sesd.alerting.silences import (
    KEEP_ENDED,
    SILENCES_VERSION,
    Silence,
    SilenceError,
    SilenceSet,
    shown_id,
)
from sesd.core.unreadable import not_utf8_at, undecoded
from sesd.io.files import TooLarge, open_lock, read_plain, write_atomic
from sesd.io.logs import get_logger

__all__ = ["MOST_BYTES", "Entry", "LockHeld", "SilenceFile", "SilenceWatcher"]


#: The most bytes of a silences file read: some 200,000 silences, far more than people
#: add in the week ended ones are kept. Any file at the path is read whenever it changes
#: (a log file named by mistake, at each evaluation): not a gigabyte each time.
MOST_BYTES: Final = 64 << 20


class LockHeld(SilenceError):
    """Another process holds the file's lock: a ``sesd silence`` command, or another
    sesd, writing it."""


class SilenceFile:
    """The file: read it whole, change it under its lock."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> list[Silence]:
        """Every silence in the file (but those that are none); none when there is no
        file yet."""
        return [entry.silence for entry in self.entries() if entry.silence is not None]

    def entries(self) -> list[Entry]:
        """Every entry of the file, silence or not; none when there is no file yet."""
        try:
            blob = read_plain(self.path, MOST_BYTES)
        except FileNotFoundError:
            return []
        except TooLarge as exc:
            raise SilenceError(
                f"{self.path} is {exc.size:,} bytes, more than the {MOST_BYTES:,} a silences "
                "file may hold (another file at the path?); not read"
            ) from None
        except OSError as exc:
            raise SilenceError(f"cannot read {self.path}: {exc.strerror}") from None
        if (where := not_utf8_at(blob)) is not None:
            # Said of the file, where an editor finds it (a silence's own read would
            # name a place in one JSON string).
            raise SilenceError(f"{self.path} is not a silences file (not UTF-8 at {where})")
        try:
            document = msgspec.json.decode(blob, type=Stored)
        # Text that is not UTF-8: UnicodeDecodeError from msgspec 0.22, DecodeError later.
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise SilenceError(
                f"{self.path} is not a silences file ({undecoded(blob, exc)})"
            ) from None
        if document.version != SILENCES_VERSION:
            raise SilenceError(f"{self.path}: version {document.version} is not {SILENCES_VERSION}")
        return [entry_of(n, raw) for n, raw in enumerate(document.silences, 1)]

    def identity(self) -> tuple[int, int, int, int] | None:
        """(device, inode, size, mtime) of the file, None when there is none: a change
        means a new version (every write replaces the file, so the inode changes too)."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            # A path through a file, or a directory sesd may not enter: an identity of its
            # own, so the watcher tries the file once, says why it cannot read it, and
            # keeps the silences it had (evaluation goes on).
            return -1, exc.errno or 0, 0, 0
        return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns

    @contextmanager
    def _locked(self, wait: bool) -> Iterator[None]:
        try:
            fd = open_lock(f"{self.path}.lock")
        except OSError as exc:
            raise SilenceError(f"cannot lock {self.path}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockHeld(
                    f"cannot lock {self.path}: another process holds {self.path}.lock "
                    "(a sesd silence command, or another sesd, writing it)"
                ) from None
            except OSError as exc:  # a file system without locks (NFS without its lock service)
                raise SilenceError(f"cannot lock {self.path}: {exc.strerror}") from None
            yield
        finally:
            os.close(fd)

    def update(
        self, change: Callable[[list[Silence]], list[Silence]], now: float, *, wait: bool = True
    ) -> None:
        """Apply ``change`` to the silences and write the result, under the lock; long
        ended silences are dropped on the way. Without ``wait``, a lock another process
        holds is not waited for: :class:`LockHeld`."""
        with self._locked(wait):
            entries = self.entries()
            silences = change([entry.silence for entry in entries if entry.silence is not None])
            kept: list[Silence | msgspec.Raw] = [
                s for s in silences if s.ends_at is None or s.ends_at > now - KEEP_ENDED
            ]
            kept += [entry.raw for entry in entries if entry.silence is None]
            blob = msgspec.json.encode({"version": SILENCES_VERSION, "silences": kept})
            try:
                write_atomic(self.path, blob)
            except OSError as exc:
                raise SilenceError(f"cannot write {self.path}: {exc.strerror}") from None

    def add(self, silence: Silence, now: float) -> None:
        """Add one silence."""
        self.update(lambda silences: [*silences, silence], now)

    def expire(
        self,
        silence_ids: Collection[str],
        now: float,
        since: Mapping[str, float] | None = None,
        *,
        wait: bool = True,
        resolved: bool = False,
    ) -> list[str]:
        """End the named silences now, or when ``since`` says each ended (a resolve the
        file could not be told of then), only those ``until_resolved`` with ``resolved``;
        returns the ids that were found still running."""
        ended: list[str] = []
        since = since or {}

        def change(silences: list[Silence]) -> list[Silence]:
            for silence in silences:
                waiting = silence.until_resolved or not resolved
                if silence.id in silence_ids and silence.state(now) != "expired" and waiting:
                    silence.ends_at = max(since.get(silence.id, now), silence.starts_at)
                    ended.append(silence.id)
            return silences

        self.update(change, now, wait=wait)
        return ended


class SilenceWatcher:
    """Keeps :attr:`silences` (what the evaluator matches against) as the file says,
    reading it again when it changes. A file that cannot be read is logged once per
    version and the silences read before stay in force. A silence that is none, or
    that ``check`` finds wrong (its reason; "" when right), is left out, and logged
    when first left out or when its reason changes: not again at each read of the file
    (each ``sesd silence add``) nor at each check given anew (a reload)."""

    def __init__(self, path: str | None, check: Callable[[Silence], str] | None = None) -> None:
        self._log = get_logger()
        self.file: SilenceFile | None = None
        #: Each entry left out at the last read (as :func:`entry_content` has it), and why.
        self._told: dict[bytes, str] = {}
        self.silences = SilenceSet()
        #: A read at a reload not yet reported by :meth:`refresh` (whose True recalls
        #: what a new silence holds from the outboxes).
        self._unreported = False
        #: ``--until-resolved`` silences a resolve ended that the file could not be told
        #: of yet (id: when): out of force all the same, as the alert's next incident
        #: must page, and written at each evaluation until a write takes.
        self._unwritten: dict[str, float] = {}
        #: Those of the files a reload moved off, written to them once they can be.
        self._left = LeftEnds()
        #: Why the last write failed, as logged ("" once one took).
        self._unwritable = ""
        #: Whether the last write found the lock held (said if the next one does too).
        self._held = False
        self._switch(path, check)

    def use(self, path: str | None, check: Callable[[Silence], str] | None, now: float) -> None:
        """Read silences from ``path`` (None: no silences), checked by ``check``: the
        same path's silences read are checked again now, and the file read now if it
        changed since (another path's is: else the silences would be none until the
        next evaluation's refresh), as a start would read it. Ends the file left was
        not told of yet are still written to it, which holds those silences."""
        left = self.file if self.file is not None and self.file.path != path else None
        if left is not None and self._unwritten:
            self._left.leave(left, self._unwritten, self._identity[:2] if self._identity else None)
        self._switch(path, check)
        self.look(now)
        if left is not None:
            self._left.settle(left.path, now)

    def look(self, now: float) -> None:
        """Read the file now if it changed since the last read; the next
        :meth:`refresh` still reports the read as a change (and recalls what a new
        silence holds from the outboxes)."""
        self._unreported = self._read(now) or self._unreported

    def _switch(self, path: str | None, check: Callable[[Silence], str] | None) -> None:
        """Take ``check``, and ``path`` unless it is the file read already."""
        self._given = check or (lambda silence: "")
        self._said: dict[tuple[str | None, str | None, str | None], str] = {}
        if self.file is not None and self.file.path == path:
            self._take(self._entries)
            return
        self.file = SilenceFile(path) if path else None
        # Waiting for the new file too: the old one moved or copied there holds the same
        # silences, and its read keeps ended those it holds (no file: none).
        self._unwritten = self._unwritten if self.file is not None and self.file.identity() else {}
        self.silences.items = []
        self._told = {}
        self._entries: list[Entry] = []
        self._identity: tuple[int, int, int, int] | None = None

    def refresh(self, now: float) -> bool:
        """Read the file again if it changed since the last read; whether it did (or a
        reload read another file since the last refresh)."""
        unreported, self._unreported = self._unreported, False
        return self._read(now) or unreported

    def _read(self, now: float) -> bool:
        """Read the file if it changed since the last read; whether it did."""
        if self.file is None:
            return False
        identity = self.file.identity()
        if identity == self._identity:
            return False
        self._identity = identity
        try:
            self._entries = self.file.entries()
        except SilenceError as exc:
            self._log.error("sesd.silences.unreadable", error=str(exc))
            return False
        held = {entry.silence.id for entry in self._entries if entry.silence is not None}
        found = self._left.held(self.file.path, held, identity[:2]) if identity else {}
        self._unwritten = {**found, **self._unwritten}
        self._still_ended(now)
        skipped = self._take(self._entries)
        self._log.info(
            "sesd.silences.loaded",
            path=self.file.path,
            silences=len(self.silences.items),
            skipped=skipped,
        )
        return True

    def _check(self, silence: Silence) -> str:
        """What the check says of ``silence``, said once for each set of matchers: a
        change of the file (each ``sesd silence add``) checks only new ones (a long
        glob's search takes a while, and holds the evaluation)."""
        key = _matchers(silence)
        if key not in self._said:
            self._said[key] = self._given(silence)
        return self._said[key]

    def _take(self, entries: list[Entry]) -> int:
        """Keep the silences of ``entries`` that are right; log each other, why it is
        left out, once while it stays so. Returns how many were."""
        kept: list[Silence] = []
        told, self._told = self._told, {}
        for entry in entries:
            problem = entry.problem(self._check)
            if entry.silence is not None and not problem:
                kept.append(entry.silence)
                continue
            content = entry_content(entry)
            self._told[content] = problem
            if told.get(content) == problem:
                continue  # as logged: its place may have moved, not what is wrong
            self._log.warning(
                "sesd.silences.skipped",
                path=self.file.path if self.file else None,
                entry=entry.number,
                id=entry.id,
                reason=problem,
            )
        self.silences.items = kept
        # Kept for the silences the file holds: one leaves it a while after it ends,
        # and silences added for months without a reload would otherwise all stay.
        held = {_matchers(entry.silence) for entry in entries if entry.silence is not None}
        self._said = {key: said for key, said in self._said.items() if key in held}
        return len(entries) - len(self.silences.items)

    def waiting_on(
        self, resolved: Iterable[tuple[str, str, str, str | None]], now: float
    ) -> set[str]:
        """Ids of the file's ``--until-resolved`` silences that the resolves of the
        alerts ``resolved`` (rule, label, severity, and the severity each fires on
        from now, None when gone) end at ``now``: those the checks leave out too. A
        silence on a rule a reload removed is left out from then on; left waiting, it
        would be in force again were the rule added back, and mute its next incident.
        One that matches the alert under the severity it fires on waits on."""
        every = SilenceSet([entry.silence for entry in self._entries if entry.silence is not None])
        ended: set[str] = set()
        for rule, label, severity, fires_on in resolved:
            found = every.waiting_on(rule, label, severity, now)
            if fires_on is not None:
                found -= every.waiting_on(rule, label, fires_on, now)
            ended |= found
        return ended

    def end(self, silence_ids: set[str], now: float) -> None:
        """End ``--until-resolved`` silences whose alert resolved: in force at once (the
        alert's next incident pages), and in the file, or at a later call (each
        evaluation's) while the file cannot be written."""
        self._left.write(now)
        if self.file is None or not (silence_ids or self._unwritten):
            return
        if not self._unwritten:
            # Nothing was tried since the last write that found the lock held (it took, or
            # the file ended what waited): a lock held now is held a moment.
            self._held = False
        new = silence_ids - self._unwritten.keys()
        for entry in self._entries:  # those left out too, checked again at a reload
            if entry.silence is not None and entry.silence.id in new:
                entry.silence.ends_at = max(now, entry.silence.starts_at)
        self._unwritten |= dict.fromkeys(new, now)
        try:
            # The lock is not waited for (a command holding it, stopped at its terminal or
            # on a hung disk, would hold every poll and scrape): each evaluation tries.
            ended = self.file.expire(
                self._unwritten, now, self._unwritten, wait=False, resolved=True
            )
        except SilenceError as exc:
            # A command holds the lock for a moment: said once it held it a whole period.
            moment, self._held = not self._held, isinstance(exc, LockHeld)
            if (new or str(exc) != self._unwritable) and not (moment and self._held):
                named = sorted(self._unwritten)[:SHOWN]
                self._log.error(
                    "sesd.silences.unwritable",
                    error=str(exc),
                    count=len(self._unwritten),
                    ids=[shown_id(i) for i in named],
                    hint="ended all the same (the alerts they held page); written to the "
                    "file once it can be",
                )
                self._unwritable = str(exc)
            return
        self._unwritten, self._unwritable, self._held = {}, "", False
        if not ended:
            return  # ended in the file already (by another sesd reading it): read next
        named = sorted(ended)[:SHOWN]  # a file edited by hand may hold any number
        self._log.info(
            "sesd.silences.ended_by_resolve", count=len(ended), ids=[shown_id(i) for i in named]
        )

    def log_unwritten(self) -> None:
        """At a stop: the ends the file could not be told of. The next start reads the
        file alone, which holds those silences waiting: the on-call is told which, and
        what to do, rather than find the alert's next incident muted."""
        self._left.log(self.file.path if self.file else None, self._unwritten)

    def _still_ended(self, now: float) -> None:
        """Keep the silences a resolve ended out of force when the file is read again
        while it could not be told (an edit by hand, a reload): it still holds them in
        force, waiting or until a time given by hand. Those it ended by ``now``, or
        no longer ends when their alert resolves (a time given instead), are left to
        it: the resolve has no say in them."""
        waiting = set()
        for entry in self._entries:
            silence = entry.silence
            if (
                silence is not None
                and silence.id in self._unwritten
                and silence.until_resolved
                and silence.state(now) != "expired"
            ):
                silence.ends_at = max(self._unwritten[silence.id], silence.starts_at)
                waiting.add(silence.id)
        self._unwritten = {i: at for i, at in self._unwritten.items() if i in waiting}


def _matchers(silence: Silence) -> tuple[str | None, str | None, str | None]:
    """What the config's checks read of ``silence``: its matchers."""
    return silence.rule, silence.domain, silence.severity
