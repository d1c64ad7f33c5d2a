"""The state file at run time: read at start (sesd.runtime.state_reach) and restored
(sesd.runtime.state_start), written every ``save_every`` and last thing at a stop
(sesd.runtime.state says what is in it)."""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial
from typing import Final

import anyio
import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.retiring import Retiring, Undelivered
from sesd.core.ledger import Ledger
from sesd.core.text import clean
from sesd.io.logs import get_logger
from sesd.runtime.boot_clock import Boot, no_boot
from sesd.runtime.state import snapshot
from sesd.runtime.state_bytes import write_state
from sesd.runtime.state_lock import let_go
from sesd.runtime.state_reach import Disk, Reached, in_place, ran, reach, reach_within, within
from sesd.runtime.state_refused import NAMED_RULES, in_line, rules_in_line
from sesd.runtime.state_size import kept_owed, retired_room, state_limit
from sesd.runtime.state_start import read_at_start

__all__ = ["SOON_GAP", "StateSaver"]

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
    errno.EISDIR: "state.path names a directory: name a file",
    errno.ENOSPC: "the disk is full (or out of inodes): free space on it",
    errno.EDQUOT: "the disk quota of sesd's user is used up: free space or raise it",
    errno.EBUSY: "the file is a mount point (a Kubernetes subPath of a file, a bind mount), "
    "which a save's rename cannot replace: mount a directory and name a file in it",
    errno.EROFS: "the filesystem is read-only (remounted so after disk errors? see the "
    "kernel log), or a read-only mount: mount it, or a writable volume, read-write",
}


class StateSaver:
    """Loads and saves the ledger and the alert states (nothing without a path)."""

    def __init__(
        self,
        path: str | None,
        ledger: Ledger,
        evaluator: Evaluator,
        clock: Callable[[], float],
        unsent: Callable[[], Undelivered] = lambda: Undelivered([], [], {}),
        boot: Boot = no_boot,
    ) -> None:
        # A link to the file (onto a persistent volume, say): the saves replace the file
        # it names, not the link, once the start has looked (off the event loop).
        self.path = path
        #: What is not delivered yet (alerting's ``undelivered``): saved as not sent.
        self._unsent = unsent
        self._ledger = ledger
        self._evaluator = evaluator
        self._clock = clock
        #: This boot's mark, kept with each save (sesd.runtime.boot_clock).
        self._boot = boot
        self._log = get_logger()
        self._held: list[int] | None = None
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
        #: Why no save may replace the file this run (None: saves may).
        self._untouchable: str | None = None
        #: The stop's last save came, or the restore was given up: no save after it.
        self._ended = False
        #: The stop's last save did not finish in its time (its write left to its thread).
        self.unfinished = False
        #: Called after each save (a test waits on it).
        self.on_saved: Callable[[], None] = lambda: None
        #: Told whether each save worked, and when (the metrics).
        self.on_result: Callable[[bool, float], None] = lambda ok, now: None
        #: Whether the last save failed (the file on disk is older than sesd's state).
        self.failed = False
        #: The resolves owed (rule, label, incident, sink) the last save left out.
        self._left_out: set[tuple[str, str, float, str]] = set()

    def load(self, stack: AsyncExitStack | None = None, *, watched: bool = False) -> None:
        """Restore what the file holds (sesd.runtime.state_start, its disk work in this
        thread), and hold it until ``stack`` closes (StartError when it could never be
        saved, or another sesd holds it). Where stop signals are ``watched``, a SIGTERM
        gives the restore up (RestoreStopped), and no save writes what it loaded."""
        if self.path:
            ran(self._restore(reach(self.path, self._limit()), stack, watched, in_place))

    async def load_within(self, stack: AsyncExitStack, *, watched: bool) -> None:
        """:meth:`load` for the daemon's start: the lock and read, and each disk step of
        the restore, in a thread, waited for within a bound, a stop ending the wait
        (sesd.runtime.state_reach); the restore here, where a stop signal gives it up."""
        if self.path:
            self._ended = True  # until it is read: a save (a second stop's) would empty it
            reached = await reach_within(self.path, self._limit())
            await self._restore(reached, stack, watched, within)

    def _limit(self) -> int:
        # Past the largest state this config saves, not read: a restore takes about
        # fifteen times the file in memory, and an OOM kill at each start keeps sesd down.
        rules, sinks = self._evaluator.rules, self._evaluator.config.named_sinks()
        return state_limit(self._ledger, rules, sinks)

    async def _restore(
        self, reached: Reached, stack: AsyncExitStack | None, watched: bool, disk: Disk
    ) -> None:
        self.path, self._held = reached.path, reached.held
        if stack is not None:
            stack.callback(self.release)
        # No save (a second stop's) until the restore is done: given up part way (a stop,
        # a disk that hangs), part of the file is loaded, and the rest would be lost.
        self._ended = True
        found = await read_at_start(
            reached, self._ledger, self._evaluator, self._clock, self._log, watched, self._boot,
            disk,
        )  # fmt: skip
        self._ended = False
        self._absent, self._says_stopped = found.absent, found.says_stopped
        self._untouchable = found.untouchable

    def release(self) -> None:
        """Let another sesd use the file (at the end of a run)."""
        if self._held is not None:
            let_go(self._held)
            self._held = None

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
        if self._untouchable is not None:
            # Each save said (and counted failed, for the save alert): not once, which
            # a person reading the log at a later incident would not see.
            self._log.error("sesd.state.save_refused", path=path, hint=self._untouchable)
            self.failed = True
            self.on_result(False, now)
            self.on_saved()
            return
        # An evaluation under way between its slices has stepped states whose alerts are
        # not queued yet: saved so, a firing would count as sent and be lost at a restart.
        self._evaluator.settle()
        unsent = self._unsent()
        if stopped and unsent.relabelled:
            self._log.info(
                "sesd.state.relabelled_resolves_not_kept", count=unsent.relabelled,
                reason="a sink that tells alerts apart by their labels is owed the resolve "
                "of the labels it had before relabels it took none of; another it had "
                "ends at its endsAt",
            )  # fmt: skip
        # Past what the file's size bound sets aside, a restart would set it aside.
        room = retired_room(self._ledger.settings, len(self._evaluator.config.named_sinks()))
        owed = _once_a_sink(unsent.retired)
        retired, cut = kept_owed(owed, self._evaluator.rules, room, self._ledger.settings)
        # A crash keeps the last periodic save: what it leaves out is lost as at a stop.
        # Said when a save leaves out one the save before did not, not at every save after.
        left = _rows(owed) - _rows(retired) if cut else set()
        told, self._left_out = bool(left - self._left_out), left
        if cut and (stopped or told):
            # Rows, as the room counts them (a resolve to one sink): the rules in
            # force's, to sinks they name, kept outside the room up to their share.
            rows = sum(len(rule.sinks) for rule, _ in retired)
            named, sinks = _left_out(owed, retired)
            self._log.warning(
                "sesd.state.resolves_not_kept", count=cut, kept=rows, room=room,
                **rules_in_line(named), **_sinks_in_line(sinks),
                hint="more resolves owed under rules a reload removed (or to sinks it took "
                "off a rule) than the state file keeps: resolve these in their sinks "
                "by hand" + ("" if stopped else ", unless sesd sends them before it stops "
                "(a crash before then loses them)"),
            )  # fmt: skip
        blob = snapshot(
            self._ledger, self._evaluator, now, unsent.again, stopped, retired, unsent.firing,
            unsent.resolves, unsent.part_sent, self._boot(),
        )  # fmt: skip
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


def _once_a_sink(retired: list[Retiring]) -> list[Retiring]:
    """``retired``, each rule naming each sink once: a rule a file saved while it named
    one twice (before a config refused that) is sent one resolve a sink (dispatch
    queues it once), which takes one row of the room, and is left out once."""
    return [
        (msgspec.structs.replace(rule, sinks=list(dict.fromkeys(rule.sinks))), alert)
        if len(set(rule.sinks)) < len(rule.sinks)
        else (rule, alert)
        for rule, alert in retired
    ]


def _rows(retired: list[Retiring]) -> set[tuple[str, str, float, str]]:
    """Each resolve owed in ``retired`` to one sink, as a save keeps or leaves it out."""
    return {(rule.name, a.domain, a.since, sink) for rule, a in retired for sink in rule.sinks}


def _left_out(
    owed: list[Retiring], kept: list[Retiring]
) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """The labels of the resolves in ``owed`` that ``kept`` left out (to some sink), by
    rule, each rule's every one (the line names as many as it holds, and counts the
    others: cut here, a rule's past 50 were counted nowhere); and the sinks those are
    owed to, where a person closes them by hand (a removed rule's may be gone from
    the config, and the room may have kept one sink's and not another's)."""
    rows = {(id(alert), sink) for rule, alert in kept for sink in rule.sinks}
    left: dict[str, set[str]] = {}
    sinks: set[str] = set()
    for rule, alert in owed:
        out = [sink for sink in rule.sinks if (id(alert), sink) not in rows]
        if out:
            left.setdefault(clean(alert.rule), set()).add(clean(alert.domain))
            sinks.update(out)
    named = [(name, sorted(labels)) for name, labels in sorted(left.items())]
    return named, sorted(clean(sink) for sink in sinks)


def _sinks_in_line(sinks: list[str]) -> dict[str, object]:
    """The fields of a log line naming ``sinks``: at most as many as it names rules,
    the others counted in ``sinks_not_named``."""
    shown = in_line(sinks, NAMED_RULES)
    more = {"sinks_not_named": len(sinks) - len(shown)} if len(sinks) > len(shown) else {}
    return {"sinks": shown, **more}
