"""The silences file: the CLI writes it, the daemon reads it.

Every write happens under an exclusive lock on ``PATH.lock`` and replaces the
file atomically with mode 0600, so a ``sesd silence add`` and the daemon
ending an ``--until-resolved`` silence never lose each other's change. The
daemon never waits for the lock (a command stopped at its terminal while it holds it
would hold the daemon's write as long): it writes at a later evaluation. The daemon's watcher
(sesd.alerting.silence_watcher) looks at the file's identity (device, inode, size,
mtime) once per evaluation and reads it again only when it changed: no restart and
no signal needed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Final

import msgspec

from sesd.alerting.silence_entries import Entry, Stored, entry_of
from sesd.alerting.silences import (
    KEEP_ENDED,
    SILENCES_VERSION,
    Silence,
    SilenceError,
    start_moved,
)
from sesd.core.unreadable import not_utf8_at, undecoded
from sesd.io.files import NotPlain, TooLarge, open_lock, read_plain, write_atomic

__all__ = ["MOST_BYTES", "Entry", "LockHeld", "SilenceFile", "Unread"]


#: The most bytes of a silences file read: some 200,000 silences, far more than people
#: add in the week ended ones are kept. Any file at the path is read whenever it changes
#: (a log file named by mistake, at each evaluation): not a gigabyte each time.
MOST_BYTES: Final = 64 << 20


class LockHeld(SilenceError):
    """Another process holds the file's lock: a ``sesd silence`` command, or another
    sesd, writing it."""


class Unread(SilenceError):
    """The file could not be opened or read (its permissions, an I/O error, a share's
    stale handle): it may be read as it is later, once that is mended or has passed."""


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
        except NotPlain as exc:  # a FIFO opened at each look would let a writer through
            raise SilenceError(f"cannot read {self.path}: {exc.strerror}") from None
        except OSError as exc:
            raise Unread(f"cannot read {self.path}: {exc.strerror}") from None
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
        starts: Mapping[str, tuple[float, float]] | None = None,
    ) -> list[str]:
        """End the named silences now, or when ``since`` says each ended (a resolve the
        file could not be told of then), only those ``until_resolved`` with ``resolved``;
        returns the ids that were found still running. First, each start a step of the
        clock back moved (``starts``, id: (the start written, where it moved)) moves
        where the file has it between the two (:func:`start_moved`)."""
        ended: list[str] = []
        since, starts = since or {}, starts or {}

        def change(silences: list[Silence]) -> list[Silence]:
            for silence in silences:
                if silence.id in starts:
                    start_moved(silence, *starts[silence.id])
                waiting = silence.until_resolved or not resolved
                if silence.id in silence_ids and silence.state(now) != "expired" and waiting:
                    silence.ends_at = max(since.get(silence.id, now), silence.starts_at)
                    ended.append(silence.id)
            return silences

        self.update(change, now, wait=wait)
        return ended
