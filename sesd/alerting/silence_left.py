"""Ends, and starts moved, a silences file sesd no longer reads was never told of.

A reload that moves ``alerts.silences_path`` (or removes it) while the end of an
``--until-resolved`` silence waits to be written leaves the old file holding that
silence waiting. A reload back to it, or a start with the old config, would read it
so and mute the alert's next incident. The end is still written to that file, the
one that holds the silence, once it can be; until then the on-call is told which
silences, in which file, and what to do should sesd stop first. So is a start a step
of the clock back moved (sesd.alerting.silence_starts): left ahead in the old file,
the silence would be pending there, and page what it mutes.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import partial
from typing import TYPE_CHECKING

from sesd.alerting.alert_log import SHOWN
from sesd.alerting.silence_io import FileOp, Hung, Later, Steps
from sesd.alerting.silences import SilenceError, shown_id
from sesd.io.logs import get_logger

if TYPE_CHECKING:
    from sesd.alerting.silence_file import SilenceFile

__all__ = ["LeftFiles"]

#: A file's device and inode (``st_dev``, ``st_ino``): which file it is (each file
#: system numbers its own inodes).
Where = tuple[int, int]

#: Starts moved, by id: the start the file has, and where it moved.
Starts = dict[str, tuple[float, float]]


class LeftFiles:
    """The ends and starts waiting to be written to the files sesd read before, by path."""

    def __init__(self) -> None:
        self._log = get_logger()
        #: Each file left: the file, its (device, inode) when sesd last read it or found
        #: it at its path since, its ends not written yet (id: when it ended) and its
        #: starts moved not written yet.
        self._files: dict[str, tuple[SilenceFile, Where | None, dict[str, float], Starts]] = {}
        #: The files left whose write a reload's change put off: said should the next
        #: write not take (the reload's own, once the change is made).
        self._unsaid: set[str] = set()
        #: The files left whose device and inode the file sesd reads had at one of its
        #: reads, their path gone or not looked at then: moved there, should their path
        #: be gone. Kept past that read (a ``sesd silence add`` replaces the file read,
        #: which then has another inode) until a look finds the path there: another name
        #: for the file read (a link), or the old file replaced and its inode reused.
        self._read_here: set[str] = set()
        #: The files left a look found there (a write's, or a read's while the file sesd
        #: reads had their device and inode), with the (device, inode) the file sesd
        #: reads had then: should it be that file, the two are one file under two names
        #: (a link), so the path gone later is not the file moved there.
        self._there: dict[str, Where | None] = {}

    def leave(
        self, file: SilenceFile, ends: dict[str, float], starts: Starts, where: Where | None
    ) -> None:
        """sesd reads ``file``, which was ``where`` at its last read, no longer, with
        ``ends`` and ``starts`` not written to it: written at :meth:`settle` and at each
        :meth:`write` from then on, where they can be."""
        _, _, before, moved = self._files.get(file.path, (file, where, {}, {}))
        self._files[file.path] = file, where, {**before, **ends}, {**moved, **starts}

    def settle(self, path: str, now: float, read: Where | None) -> Steps[None]:
        """After the reload that left ``path``: its ends and starts written now if they
        can be (the lock is not waited for), else said at once; or, the write put off,
        said by the next write should it not take. ``read`` as at :meth:`write`."""
        self._unsaid.add(path)
        yield from self.write(now, read)

    def held(
        self, path: str, ids: Collection[str], where: Where
    ) -> Steps[tuple[dict[str, float], Starts]]:
        """The ends the file at ``path`` (``where``), just read holding the silences
        ``ids``, holds waiting, and the starts moved it may hold (the watcher moves
        those it does, :func:`sesd.alerting.silences.start_moved`): its own (a reload
        back to it), and those of each file left (moved or copied here, before the
        reload or after; ids are random, so the same id is the same silence). The
        watcher's to keep ended and to write from now on. A file left keeps them unless
        it is this one moved here (gone from its path, same device and inode: another
        file system's file may have the same inode number): a copy, or the old file on a
        share not mounted a while, is written too once it can be (a move across file
        systems, which copies, is taken as a copy: a stop names the old path)."""
        found: dict[str, float] = {}
        starts: Starts = {}
        for left, (file, was, ends, moved) in list(self._files.items()):
            if left == path and not ids:
                # None read: the file went since the look at it (a share unmounted), which
                # reads as none, or it holds none. Kept: the next write finds which.
                continue
            found |= {i: at for i, at in ends.items() if i in ids}
            starts |= {i: at for i, at in moved.items() if i in ids}
            if left != path and was != where:
                continue
            if left != path:
                there = yield from self._looked(left, file)
                # Found beside this same file before: another name for it (a link), so
                # gone now is moved aside a while (a share not mounted), not moved here.
                linked = self._there.get(left) == where
                if there:
                    # There beside the file read, which has its device and inode: a link,
                    # not moved here, as a write's look finds it.
                    self._read_here.discard(left)
                    self._there[left] = where
                elif not linked:  # moved here, or not looked at (a reload's)
                    self._read_here.add(left)
                if there is not False or linked:
                    continue
            kept = {i: at for i, at in ends.items() if i not in ids and left != path}
            kept_starts = {i: at for i, at in moved.items() if i not in ids and left != path}
            if kept or kept_starts:
                self._files[left] = file, was, kept, kept_starts
            else:
                self._drop(left)
        return found, starts

    def write(self, now: float, read: Where | None) -> Steps[None]:
        """Write each file's ends and starts, where it can be now; then say each file a
        reload just left that still holds some (unless the write was put off). ``read``:
        the (device, inode) of the file sesd reads, at its last read."""
        put_off = False
        for path, (file, was, ends, starts) in list(self._files.items()):
            there = yield from self._looked(path, file)
            if there:
                self._read_here.discard(path)  # there, so not moved to the file read
                self._there[path] = read
            elif there is False:
                # Not there (a share not mounted, the file moved aside): kept, and never
                # written there, which would make a file. One moved to the path sesd
                # reads (the file read was this one, and no look found this path there
                # while it was: a link, the two one file) is the watcher's, which took its
                # ends and starts as it read it (:meth:`held`); dropped here should that
                # read not have looked at this path (a reload's, before a step back amid
                # it left some here), or should the file read have been replaced since
                # (a silence added) and read again before this write.
                if path in self._read_here or (
                    was is not None and was == read and self._there.get(path) != read
                ):
                    self._drop(path)
                continue
            # A copy: a write given up runs on in its thread while a reload adds some.
            # Should it take once the file answers, after a further step back, the next
            # write moves the start on from where it put it (start_moved).
            waiting, moved = dict(ends), dict(starts)
            try:
                expire = partial(
                    file.expire, waiting, now, waiting, wait=False, resolved=True, starts=moved
                )
                ended: list[str] = yield FileOp(path, "write", expire)
            except Later:
                put_off = True
                continue
            except SilenceError:
                continue  # said when sesd left it (a write given up: by the thread)
            self._wrote(file, waiting, moved, ended)
        if put_off:
            return
        for path in sorted(self._unsaid & self._files.keys()):
            self._say(path, stop=False)
        self._unsaid.clear()

    def _wrote(
        self, file: SilenceFile, ends: dict[str, float], starts: Starts, ended: list[str]
    ) -> None:
        """``file`` was written with ``ends`` and ``starts`` (``ended``: those it found
        still running)."""
        path = file.path
        # Those a clock step moved while it was written, or a reload left meanwhile,
        # wait for the next (the file read meanwhile may have taken them all), which
        # moves such a start on from where this one put it (start_moved).
        file, was, waiting, moved = self._files.pop(path, (file, None, {}, {}))
        self._read_here.discard(path)  # there, so not the file read
        waiting = {i: at for i, at in waiting.items() if ends.get(i) != at}
        moved = {i: at for i, at in moved.items() if starts.get(i) != at}
        if waiting or moved:
            self._files[path] = file, was, waiting, moved
        else:
            self._there.pop(path, None)
        if ended:
            self._log.info(
                "sesd.silences.ended_by_resolve",
                path=path,
                count=len(ended),
                ids=[shown_id(i) for i in sorted(ended)[:SHOWN]],
            )

    def _looked(self, path: str, file: SilenceFile) -> Steps[bool | None]:
        """Whether there is a file at the path of ``file``, left at ``path``; None when
        the look does not answer (taken as there: its ends wait on, said when it hung)
        or is put off. The file found there is the one left from now on: moved to the
        path sesd reads, it has the device and inode the look found, not always those
        of sesd's last read (the file saved anew since, which gives it another inode,
        or its share mounted again, which numbers its device anew)."""
        try:
            found = yield FileOp(file.path, "look", file.identity)
        except (Hung, Later):
            return None
        if found is None:
            return False
        if found[0] >= 0 and path in self._files:  # not a path sesd may not look through
            _, _, ends, starts = self._files[path]
            self._files[path] = file, found[:2], ends, starts
        return True

    def _drop(self, path: str) -> None:
        """Nothing waits for the file left at ``path`` any more."""
        del self._files[path]
        self._read_here.discard(path)
        self._there.pop(path, None)

    def stepped(self, now: float, step: float) -> None:
        """The wall clock stepped ``step`` seconds to ``now``: each end a step back put
        ahead of it moves back as far (sesd.alerting.silences.moved_back), and each
        start moved it put ahead moves to ``now``, as the file read's would
        (sesd.alerting.silences.started_back). Written as it was, the file would hold
        its silence in force again, or pending, until the clock reached it, for a reload
        back to it or a start with the old config. A silence whose ``--for`` ran out
        before the step moves all the same (sesd no longer reads it to know): the end
        it was given still ends it."""
        for _, _, ends, starts in self._files.values():
            for silence_id, at in ends.items():
                if now < at <= now - step:
                    ends[silence_id] = at + step
            for silence_id, (written, moved) in starts.items():
                if now < moved <= now - step:
                    starts[silence_id] = written, now

    def files(self) -> list[SilenceFile]:
        """Each file left that ends or starts wait for."""
        return [file for file, _, _, _ in self._files.values()]

    def waiting(self) -> dict[str, set[str]]:
        """The silences waiting to be written to each file left (an end, a start), by id."""
        return {
            path: ends.keys() | starts.keys() for path, (_, _, ends, starts) in self._files.items()
        }

    def log(self, path: str | None, ends: dict[str, float]) -> None:
        """At a stop: the ends not written to the file read, at ``path``, and to each
        file left that still holds silences waiting whose alert resolved, or starts a
        step moved ahead of the clock."""
        if path is not None and ends:
            self._log.warning(
                "sesd.silences.unwritten",
                path=path,
                count=len(ends),
                ids=[shown_id(i) for i in sorted(ends)[:SHOWN]],
                hint="their alerts resolved, but the silences file still holds them waiting "
                "and so will the next start: once the file can be written, end each with "
                "sesd silence expire ID",
            )
        for left in self._files:
            self._say(left, stop=True)

    def _say(self, path: str, *, stop: bool) -> None:
        """Which silences the file left at ``path`` holds not as sesd has them, and what
        the next start with it (at a ``stop``; else one before sesd writes it) finds."""
        _, _, ends, starts = self._files[path]
        ended = started = "the next start with it"
        if not stop:
            then = "to it once it can; a start with it before then"
            ended, started = f"sesd writes their end {then}", f"sesd writes their start {then}"
        config = "--config CONFIG (a config whose alerts.silences_path is this file)"
        said = (
            (
                ends,
                "their alerts resolved, but this file, which sesd no longer reads, still "
                f"holds them waiting: {ended} takes them as waiting; end each with sesd "
                f"silence expire ID {config} once it can be written",
            ),
            (
                starts,
                "a step of the clock back moved their start, but this file, which sesd "
                f"no longer reads, still holds it ahead of the clock: {started} finds them "
                "pending until the clock reaches it; add each again with sesd silence add "
                f"{config} once it can be written, to mute its alerts",
            ),
        )
        for ids, hint in said:
            if ids:
                self._log.warning(
                    "sesd.silences.unwritten",
                    path=path,
                    count=len(ids),
                    ids=[shown_id(i) for i in sorted(ids)[:SHOWN]],
                    hint=hint,
                )
