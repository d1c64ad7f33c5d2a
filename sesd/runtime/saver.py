"""The state file at run time: read at start, written every ``save_every`` and last
thing at a stop (sesd.runtime.state says what is in it)."""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Final

import anyio

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.core.ledger import Ledger
from sesd.core.timestamps import iso
from sesd.io.files import foreign_link, linked, open_lock
from sesd.io.logs import get_logger
from sesd.runtime.http import StartError
from sesd.runtime.state import (
    StateError,
    firing_in,
    read_state,
    restore,
    snapshot,
    write_state,
)

__all__ = ["SOON_GAP", "StateSaver", "unsavable"]

#: The least time (seconds) between a save and one a delivered page asks for.
SOON_GAP: Final = 10.0
_UNSYNCED: Final = (
    ", renamed into place but not yet synced to disk (a crash of the host may bring back "
    "the one before)"
)
_DISK: Final = "free space or fix the directory's permissions"
#: What to do about a save that failed, by its error (the disk's, unless named).
_REMEDY: Final = {
    errno.EMFILE: "sesd is out of file descriptors: raise its limit (LimitNOFILE=)",
    errno.ENFILE: "the system is out of file descriptors",
    errno.EISDIR: "[state] path names a directory: name a file",
}


def unsavable(path: str) -> str | None:
    """Why a state file at ``path`` could never be saved on this host (its directory
    missing or not writable, or a directory itself), or None: said at start, not at
    the first save after the last hour is lost."""
    owner = foreign_link(path)
    if owner is not None:
        return (
            f"[state] path {path} is a link made by uid {owner}: root follows no link "
            "another user made (run sesd as the daemon's user)"
        )
    path = linked(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return f"[state] path: directory {directory} does not exist"
    if not os.access(directory, os.W_OK):
        return f"[state] path: directory {directory} is not writable by this user"
    if os.path.isdir(path):
        return f"[state] path: {path} is a directory; name a file in it"
    return None


class StateSaver:
    """Loads and saves the ledger and the alert states (nothing without a path)."""

    def __init__(
        self,
        path: str | None,
        ledger: Ledger,
        evaluator: Evaluator,
        clock: Callable[[], float],
        unsent: Callable[[], list[tuple[str, str, Transition]]] = list,
    ) -> None:
        # A link to the file (onto a persistent volume, say): the saves replace the file
        # it names, not the link.
        self.path = linked(path) if path else path
        #: What is not delivered yet (alerting's ``unsent``): saved as not sent.
        self._unsent = unsent
        self._ledger = ledger
        self._evaluator = evaluator
        self._clock = clock
        self._log = get_logger()
        self._held: int | None = None
        #: Set by :meth:`soon` while :meth:`run` waits.
        self._soon: anyio.Event | None = None
        #: The file restored says its run stopped cleanly, and no save has said since
        #: that this one runs.
        self._says_stopped = False
        self._saving = anyio.Lock()
        # A write left to its thread by a cancel may still be going when the next save
        # comes: one write at a time (``_disk``), and none of a snapshot older than
        # the one on disk (numbered as taken, ``_taken``; ``_written``, on disk).
        self._disk = threading.Lock()
        self._taken = 0
        self._written = 0
        # Once the last save gave up, its error has said what the file holds: no write
        # left to its thread replaces the file after that, each asking right before its
        # rename. ``_gate`` guards only these two, never held across I/O, so the event
        # loop takes it without waiting on the disk.
        self._gate = threading.Lock()
        self._given_up = False
        #: The snapshot whose rename last began (ahead of ``_written`` until the
        #: directory is synced).
        self._renamed = 0
        #: Why there is no file until a save renames one (None: there is one, as found
        #: at start): what the error says the file holds, when no save did.
        self._absent: str | None = None
        #: The stop's last save came: no save after it (sesd.runtime.daemon's drain).
        self._ended = False
        #: The stop's last save did not finish in its time (its write left to its thread).
        self.unfinished = False
        #: Called after each save (a test waits on it).
        self.on_saved: Callable[[], None] = lambda: None
        #: Told whether each save worked, and when (the metrics).
        self.on_result: Callable[[bool, float], None] = lambda ok, now: None
        #: Whether the last save failed (the file on disk is older than sesd's state).
        self.failed = False

    def load(self, stack: AsyncExitStack | None = None) -> None:
        """Restore what the file holds, and hold it until ``stack`` closes (StartError
        when it could never be saved, or another sesd holds it). A file that cannot be
        used is reported and ignored (sesd starts rather than refusing to); one that
        was read but not understood (damaged, another version's after a rollback) is
        first kept aside as ``PATH.unusable``, so the next save does not destroy it."""
        path = self.path
        if not path:
            return
        problem = unsavable(path)
        if problem is not None:
            raise StartError(problem)
        self._hold(path)
        if stack is not None:
            stack.callback(self.release)
        self._clear_leftovers(path)
        try:
            blob = read_state(path)
        except StateError as exc:
            # Not readable by this user (a restore from a backup made as root, say): kept,
            # or the first save would replace it.
            self._log.warning(
                "sesd.state.ignored", path=path, reason=str(exc), **self._keep_aside(path)
            )
            return
        if blob is None:
            self._absent = "none when sesd started"
            self._log.info("sesd.state.none_yet", path=path)
            return
        try:
            restored = restore(blob, self._ledger, self._evaluator, self._clock())
        except StateError as exc:
            self._log.warning(
                "sesd.state.ignored", path=path, reason=str(exc), **self._keep_aside(path)
            )
            # Nothing in the file is loaded, so nothing will resolve these.
            self._left_open(firing_in(blob), "these alerts were firing in the file sesd "
                            "could not use: resolve them in their sinks by hand")  # fmt: skip
            return
        unknown, stopped = restored.pop("unknown_rules"), restored.pop("stopped")
        self._log.info("sesd.state.restored", path=path, **restored)
        if stopped is False:
            self._unclean(path, restored["saved_at"])
        self._says_stopped = stopped is True
        self._left_open(unknown, "the file does not say how these rules notified: resolve "
                        "their firing alerts in their sinks by hand")  # fmt: skip

    def _unclean(self, path: str, saved_at: float) -> None:
        """The file is a periodic save: the run that wrote it did not stop cleanly, and
        what it did after that save is lost, said once for a person."""
        self._log.warning(
            "sesd.state.unclean_stop",
            path=path,
            saved_at=iso(saved_at),
            saved_ago_seconds=round(max(0.0, self._clock() - saved_at), 1),
            hint="the last run did not stop cleanly (killed, crashed, out of memory, or its "
            "host went down): the events it read after its last save were deleted from the "
            "queues and are not counted, and an alert it paged after that save will get no "
            "resolve from sesd (resolve it in its sinks by hand)",
        )

    def _left_open(self, rules: dict[str, list[str]], hint: str) -> None:
        """Firing alerts (rule -> labels) no resolve will come for, named for a person."""
        if rules:
            self._log.warning("sesd.state.rules_unknown", rules=rules, hint=hint)

    def _hold(self, path: str) -> None:
        """Hold ``PATH.lock`` while sesd runs: two sesd on one file would each overwrite
        the other's saves and restore the other's windows (replicas sharing a volume)."""
        try:
            # Made by root (a `sesd run` by hand), it would keep the daemon's own user out:
            # handed to the directory's owner.
            fd = open_lock(f"{path}.lock")
        except OSError as exc:
            owned = exc.errno in (errno.EACCES, errno.EISDIR)
            hint = " (remove it, or make it the daemon user's)" if owned else ""
            raise StartError(
                f"[state] path {path}: cannot open {path}.lock: {exc.strerror}{hint}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StartError(
                f"[state] path {path}: another sesd is using it ({path}.lock is held); "
                "give each sesd a file of its own"
            ) from None
        self._held = fd

    def _clear_leftovers(self, path: str) -> None:
        """Remove what a save cut off (a kill, an OOM) left beside the file: each a copy
        of the file's size, they would add up until the disk is full. Only this sesd,
        holding the lock, writes there."""
        target = Path(path)
        left = list(target.parent.glob(f".{target.name}.*.tmp"))
        for leftover in left:
            leftover.unlink(missing_ok=True)
        if left:
            self._log.info("sesd.state.leftovers_removed", count=len(left))

    def release(self) -> None:
        """Let another sesd use the file (at the end of a run)."""
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def _keep_aside(self, path: str) -> dict[str, str]:
        aside = f"{path}.unusable"
        try:
            os.replace(path, aside)
        except OSError as exc:
            return {"kept_aside": "no", "error": str(exc.strerror)}
        self._absent = f"the one found at start is kept as {aside}"
        return {"kept_as": aside, "hint": "sesd starts empty; the file it could not use is kept"}

    async def save(self) -> None:
        """Write the file now (a failure is logged; the next save tries again). A
        cancellation returns at once, leaving the write to its thread: a disk that hangs
        holds neither a stop nor a forced exit."""
        path = self.path
        if not path:
            return
        # One save at a time, each from a snapshot taken in its turn: a stop's last save
        # coming while a periodic one waits on a slow disk would otherwise be renamed
        # first, and the older snapshot last.
        async with self._saving:
            if not self._ended:
                await self._save(path)

    async def save_last(self, within: float, after: str = "stop") -> None:
        """The last save, at a stop or ``after`` a fault that ends sesd, given ``within``
        seconds (what is left of the stop's budget): past them the write is left to
        its thread, no write replaces the file any more (whole: a write goes aside and
        is renamed), and the save counts as failed (sesd run exits 1), said in an
        error naming the file and what it holds."""
        path = self.path
        if not path:
            return
        mine = 0  # this save's snapshot, once taken (not while a save before it holds on)
        with anyio.move_on_after(max(0.0, within), shield=True) as scope:
            async with self._saving:
                if not self._ended:
                    mine = self._taken + 1
                    await self._save(path, stopped=True)
        self._ended = True
        if scope.cancelled_caught:
            with self._gate:
                self._given_up = True
                holds, synced, said = self._on_disk(mine)
            self.unfinished = self.failed = True
            self.on_result(False, self._clock())
            self._log.error(
                "sesd.state.save_unfinished",
                path=path,
                after=after,
                waited_seconds=round(max(0.0, within), 1),
                file_holds=holds,
                synced=synced,
                hint=f"the last save, after the {after}, did not finish in the time it has "
                f"(a slow or hung disk): {said}; check the disk under it",
            )

    def _on_disk(self, mine: int) -> tuple[str, bool, str]:
        """What the file holds as the last save gives up, whether it is synced, and that
        said for a person, with what a restart then loses."""
        synced = self._written >= self._renamed
        if not self._renamed and self._absent is not None:
            holds = f"no file ({self._absent}, and no save finished)"
            said = (
                f"there is {holds}; no write makes one from now on: a restart starts "
                "empty, and may send again what sesd notified"
            )
            return holds, synced, said
        current = bool(self._renamed) and self._renamed == mine
        if not self._renamed:
            holds = "what it held when sesd started"
        elif current:
            holds = "this save's state"
        else:
            holds = "an earlier save's state"
        said = f"the file holds {holds}{'' if synced else _UNSYNCED}; no write replaces it "
        if current:
            said += "from now on"
        else:
            said += (
                "from now on: a restart restores it, losing what sesd counted since, and "
                "may send again what sesd notified since"
            )
        return holds, synced, said

    async def _save(self, path: str, stopped: bool = False) -> None:
        now = self._clock()
        # An evaluation under way between its slices has stepped states whose alerts are
        # not queued yet: saved so, a firing would count as sent and be lost at a restart.
        self._evaluator.settle()
        blob = snapshot(self._ledger, self._evaluator, now, self._unsent(), stopped)
        self._taken += 1
        try:
            kept = await anyio.to_thread.run_sync(
                self._write, path, blob, self._taken, abandon_on_cancel=True
            )
        except OSError as exc:
            remedy = _REMEDY.get(exc.errno or 0, _DISK)
            self._log.error(
                "sesd.state.save_failed",
                path=path,
                error=exc.strerror,
                hint=f"the file on disk stays as last saved; {remedy}: the next save tries again",
            )
            self.failed = True
            self.on_result(False, now)
        else:
            # Not kept: dropped as the last save gave up, whose error counted it.
            if kept:
                self._log.debug("sesd.state.saved", path=path, bytes=len(blob))
                self.failed = False
                self.on_result(True, now)
        self.on_saved()

    def _write(self, path: str, blob: bytes, number: int) -> bool:
        """In a worker thread: write snapshot ``number``, unless a newer one is on disk;
        whether the file holds it or a newer one (not once the last save gave up)."""
        with self._disk:
            if number <= self._written:
                return True
            if self._given_up or not write_state(path, blob, partial(self._may_rename, number)):
                return False
            self._written = number
            return True

    def _may_rename(self, number: int) -> bool:
        """Asked by the write of snapshot ``number`` right before its rename."""
        with self._gate:
            if not self._given_up:
                self._renamed = number
            return not self._given_up

    def soon(self) -> None:
        """Save now rather than at the next period: a page or a resolve was delivered,
        and a crash before the next save would send it again after the restart."""
        if self._soon is not None:
            self._soon.set()

    async def run(self, every: float) -> None:
        """Save every ``every`` seconds, and soon after :meth:`soon`, until cancelled
        (what asks for a save during one is saved SOON_GAP after it)."""
        soon = self._soon = anyio.Event()
        if self._says_stopped:
            # Until this run saves, the file says the run before stopped cleanly: a
            # crash before the first period would leave the next start warning of
            # nothing, though this run deleted what it read.
            await self.save()
            self._says_stopped = False
        last = anyio.current_time()
        while True:
            with anyio.move_on_after(every):
                await soon.wait()
                # A save holds the event loop while it builds the snapshot (about a
                # tenth of a second with a full pending table, `python -m bench
                # state`): an incident's pages cost one every SOON_GAP.
                await anyio.sleep_until(last + SOON_GAP)
            # Asked from here on, while this save writes (a page it may not hold), is
            # asked of the next: not dropped until the next period.
            soon = self._soon = anyio.Event()
            await self.save()
            last = anyio.current_time()
