"""The state file at start: what it holds, restored (or, when it cannot be used, said
and kept aside). Its lock, taken first, is sesd.runtime.state_lock's, and the disk
work before the restore (the lock, what a cut-off save left beside it, the read) is
sesd.runtime.state_reach's, which runs the restore's own steps on the disk too (its
count, the file kept aside: sesd.runtime.state_steps); sesd.runtime.saver saves it."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from types import FrameType
from typing import Any, Final

from sesd.alerting.evaluator import Evaluator
from sesd.core.ledger import Ledger
from sesd.core.timestamps import iso
from sesd.runtime.boot_clock import Boot, no_boot
from sesd.runtime.state import restore
from sesd.runtime.state_alerts import stepped_back
from sesd.runtime.state_bytes import StateError
from sesd.runtime.state_reach import Disk, Reached, in_place
from sesd.runtime.state_refused import firing_in, rules_in_line
from sesd.runtime.state_steps import ASIDE, COUNT, PUT_BACK, UNCOUNT, counted_last

__all__ = ["Found", "RestoreStopped", "read_at_start"]

#: How many refused files are kept aside at most (the first, a later build's after a
#: rollback say, is never replaced).
_KEPT_ASIDE: Final = 3
#: The signals that stop sesd (sesd.runtime.signals): either gives the restore up.
_STOPS: Final = (signal.SIGTERM, signal.SIGINT)
#: How far (seconds) the file's save time may be ahead of the clock before it is said:
#: more than two clocks a restart apart differ by.
_AHEAD: Final = 60.0


@dataclass(frozen=True, slots=True)
class Found:
    """What reading the file at start found: why there is no file until a save renames
    one (None: there is one), and whether it says its run stopped cleanly."""

    absent: str | None = None
    says_stopped: bool = False
    #: Why no save may replace the file this run (None: saves may): one not used that
    #: could not be kept aside, the only copy of what it holds.
    untouchable: str | None = None


class RestoreStopped(BaseException):
    """A stop signal gave up the file's restore at start, where it was: the
    file is as it was, and what was loaded must never be saved. Not an Exception: the
    restore takes those for a damaged file, and keeps it aside."""


@dataclass(slots=True)
class _Stoppable:
    """Whether a stop signal gives the restore up now: only while the file is
    restored (a step cut in half elsewhere, the file kept aside but not said, would
    leave the file or the log wrong), and only where stop signals are ``watched``
    (``sesd run``'s watcher, which the signal then reaches, and which stops sesd)."""

    watched: bool
    now: bool = False

    @contextlib.contextmanager
    def during(self) -> Iterator[None]:
        self.now = self.watched
        try:
            yield
        finally:
            self.now = False


async def read_at_start(
    reached: Reached,
    ledger: Ledger,
    evaluator: Evaluator,
    clock: Callable[[], float],
    log: Any,
    watched: bool = False,
    boot: Boot = no_boot,
    disk: Disk = in_place,
) -> Found:
    """Restore what the file holds, as ``reached`` read it (sesd.runtime.state_reach),
    into ``ledger`` and ``evaluator``. A file that cannot be used is reported and
    ignored (sesd starts rather than refusing to); one that was read but not understood
    (damaged, another version's after a rollback) is first kept aside as
    ``PATH.unusable``, so the next save does not destroy it; so is one whose restore
    the starts before were killed in, as many in a row as sesd.runtime.state_reach
    says (``reached`` did not read it). Where stop signals are ``watched``, a SIGTERM
    or a SIGINT gives the restore up (RestoreStopped): a large file holds it for
    seconds, more on a busy host, which the exit's room does not have. Each step on
    the disk (the count, the file kept aside) is ``disk``'s: the daemon's waits for it
    within a bound (a share that hangs fails the start, saying so; past the count's
    last word, the restore over, sesd goes on, the count left to its thread, said)."""
    path, killed = reached.path, reached.killed
    marker = f"{path}.restoring"
    if reached.cleared:
        log.info("sesd.state.leftovers_removed", count=reached.cleared)
    if reached.skipped:
        reason = (
            f"the last {killed} starts were killed while they restored it (out of memory? "
            "a crash?): sesd would never start; alerts it had firing get no resolve "
            "from sesd (close them in their sinks by hand)"
        )
        found = await _ignored(log, path, reason, disk)
        if found.untouchable is None:  # kept: the next start skips it too until it is moved
            await counted_last(disk, partial(_unmark, marker), path, UNCOUNT, marker, log)
        return found
    # Counted once the file is read: what the count is for, a kill of the restore's
    # doing (out of memory), is not one of the read's, whose size the limit bounds. Not
    # counted in time (a share that hangs), no restore: one that kills sesd would be
    # tried at each start, never kept aside. Counted late, for a start given up, the
    # count is put back as it was (this start restored nothing), if sesd has not ended
    # by then: its exit ends the threads that write it.
    put_back = partial(_put_back, marker, killed)
    await disk(partial(_mark, marker, killed + 1), path, COUNT, lambda _: _apart(put_back))
    stoppable = _Stoppable(watched)
    try:
        with _stop_uncounted(marker, killed, stoppable):
            found = await _read(reached, ledger, evaluator, clock, log, stoppable, boot, disk)
    except RestoreStopped:
        # The marker counts the starts before, put back here: this one proved nothing of
        # the file. Shielded (PUT_BACK): the stop would cut the wait short, and the exit
        # race the count; a share that hangs holds the stop within the bound, then the
        # stop goes on (exit 0, as one during the read; not a failed start, which would
        # leave the unit failed by `systemctl stop`), the count left said.
        log.info("sesd.state.restore_stopped", path=path, hint="a stop came while the file "
                 "was restored: it is as it was, and the next start restores it")  # fmt: skip
        await counted_last(disk, put_back, path, PUT_BACK, marker, log)
        raise
    except KeyboardInterrupt:
        # A SIGINT's default action (sesd embedded in another program): a stop too,
        # the marker put back by the handler as for a SIGTERM's.
        raise
    except BaseException:
        # Given up another way (a stop while a step waited, a step past the bound, a
        # fault): removed in a thread, not waited for, on a share that may hang.
        _apart(partial(_unmark, marker))
        raise
    # Reached unless the process was killed: the marker says only that.
    await counted_last(disk, partial(_unmark, marker), path, UNCOUNT, marker, log)
    return found


@contextlib.contextmanager
def _stop_uncounted(marker: str, killed: int, stoppable: _Stoppable) -> Iterator[None]:
    """A SIGTERM while the file is restored is a stop asked for (systemctl stop, a
    rollout, the kubelet giving up on a slow start), a SIGINT too (Ctrl-C in a
    terminal), and a kill that follows either the supervisor's once its grace period
    is over: none is the restore's doing (an OOM, a crash), and counting them would
    keep a good file aside after two slow starts. So this start's count is taken back
    (``killed``: those before it), then the signal goes where it went: to ``sesd
    run``'s watcher (and ``stoppable`` gives the restore up), held by ``sesd run``
    (sesd.runtime.early), or its default action, which ends sesd (sesd embedded in
    another program; a SIGINT's KeyboardInterrupt)."""
    installed: dict[int, Any] = {}

    def put_back() -> None:
        for signum, before in installed.items():
            signal.signal(signum, before)

    def stopped(signum: int, frame: FrameType | None) -> None:
        if not stoppable.watched:
            # Here, before the signal's default action ends the process. Watched, the
            # restore gives up (RestoreStopped) and puts it back off the event loop: on
            # a share that hangs, here the watcher would not hear the stop.
            _put_back(marker, killed)
        put_back()  # a second signal, of either, goes straight where it went
        before = installed[signum]
        if callable(before):
            before(signum, frame)
            if stoppable.now:
                raise RestoreStopped
        else:
            os.kill(os.getpid(), signum)

    for signum in _STOPS:
        before = signal.getsignal(signum)
        # Not over an ignored signal, nor off the main thread (where none can be set).
        if before is signal.SIG_IGN or before is None:
            continue
        try:
            signal.signal(signum, stopped)
        except ValueError:
            break
        installed[signum] = before
    try:
        yield
    finally:
        put_back()


async def _read(
    reached: Reached,
    ledger: Ledger,
    evaluator: Evaluator,
    clock: Callable[[], float],
    log: Any,
    stoppable: _Stoppable,
    boot: Boot,
    disk: Disk,
) -> Found:
    path, blob = reached.path, reached.blob
    if reached.refused is not None:
        # Not readable by this user (a restore from a backup made as root, say), or too
        # large: kept, or the first save would replace it.
        return await _ignored(log, path, reached.refused, disk)
    if blob is None:
        log.info("sesd.state.none_yet", path=path)
        return Found("none when sesd started")
    now = clock()  # not while stoppable: a step of the clock is logged
    try:
        with stoppable.during():
            restored = restore(blob, ledger, evaluator, now, boot())
    except StateError as exc:
        found = await _ignored(log, path, str(exc), disk)
        # Nothing in the file is loaded, so nothing will resolve these.
        _left_open(log, firing_in(blob), "these alerts were firing in the file sesd "
                   "could not use: resolve them in their sinks by hand")  # fmt: skip
        return found
    unknown, stopped = restored.pop("unknown_rules"), restored.pop("stopped")
    passed = restored.pop("passed")
    _left_open(log, restored.pop("dropped"), "alert states on labels no event makes, or "
               "more than these rules' scopes hold (a file edited by hand?): resolve these "
               "in their sinks by hand")  # fmt: skip
    log.info("sesd.state.restored", path=path, **restored)
    if stopped is False:
        at = clock()  # the boot clock's time since the save, and the restore's since
        ago = at - restored["saved_at"] if passed is None else passed + (at - now)
        _unclean(log, path, restored["saved_at"], ago)
    _ahead(log, path, restored["saved_at"], clock())
    _left_open(log, unknown, "the file does not say how these rules notified: resolve "
               "their firing alerts in their sinks by hand")  # fmt: skip
    return Found(says_stopped=stopped is True)


def _unclean(log: Any, path: str, saved_at: float, ago: float) -> None:
    """The file is a periodic save: the run that wrote it did not stop cleanly, and
    what it did after that save is lost, said once for a person. ``ago``: the time
    since that save, the boot clock's where it tells it (sesd.runtime.boot_clock): the
    wall clock's counts a step while sesd was down, NTP setting a clock an hour behind
    as an hour more."""
    log.warning(
        "sesd.state.unclean_stop",
        path=path,
        saved_at=iso(saved_at),
        saved_ago_seconds=round(max(0.0, ago), 1),
        hint="the last run did not stop cleanly (killed, crashed, out of memory, or its "
        "host went down): the events it read after its last save were deleted from the "
        "queues and are not counted, and an alert it paged after that save will get no "
        "resolve from sesd (resolve it in its sinks by hand)",
    )


def _mark(marker: str, killed: int) -> None:
    """Count this start in ``marker`` until its restore ends (not synced: a host that
    goes down with it loses a count, not the file)."""
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return  # a full disk: no count, the restore goes on
    try:
        os.write(fd, str(killed).encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def _unmark(marker: str) -> None:
    with contextlib.suppress(OSError):  # none (a full disk), or not a file
        os.unlink(marker)


def _put_back(marker: str, killed: int) -> None:
    """The count in ``marker`` put back to ``killed``, the starts before this one."""
    if killed:
        _mark(marker, killed)
    else:
        _unmark(marker)


def _apart(work: Callable[[], None]) -> None:
    """``work()`` in a daemon thread of its own, not waited for: the disk may hang, and
    what would wait (a start given up) must not."""
    threading.Thread(target=work, name="sesd-state-read", daemon=True).start()


def _ahead(log: Any, path: str, saved_at: float, now: float) -> None:
    """The file was saved later than the clock now reads: said once, for a person."""
    if saved_at - now > _AHEAD:
        moved = (
            "the alert times are moved back as far, and the others the file keeps of "
            "this host's clock"
            if stepped_back(saved_at, now)
            else "no time is moved but when each DNS answer expires (a day or more: a "
            "damaged save time is as likely), those ahead of the clock are taken as now"
        )
        log.warning(
            "sesd.state.saved_ahead",
            path=path,
            saved_at=iso(saved_at),
            ahead_seconds=round(saved_at - now),
            hint="the file was saved later than this host's clock reads (it stepped back, "
            "or the host started before NTP set it): the windows read the events ahead "
            "of the clock only once it reaches them, and hold their resolves until then; "
            f"{moved}; check the host's time sync",
        )


def _left_open(log: Any, rules: dict[str, list[str]], hint: str) -> None:
    """Firing alerts (rule -> labels) no resolve will come for, named for a person: as
    many rules as a line names, the others counted (a damaged file may name any
    number, each with its labels)."""
    if rules:
        log.warning("sesd.state.rules_unknown", **rules_in_line(sorted(rules.items())), hint=hint)


async def _ignored(log: Any, path: str, reason: str, disk: Disk) -> Found:
    """The file, not used for ``reason``, kept aside and said. One that cannot be moved
    is the only copy of what it holds: sesd starts empty and saves nothing over it this
    run (alerting goes on; a failed save, each said), an error for a person to act on."""
    # Not kept aside in time (a share that hangs): no start without it, the file where
    # it was or moved (unknown until the share answers; moved late, as rightly), and a
    # save would hang or replace it. Started again, sesd looks once more.
    fields, absent = await disk(partial(_keep_aside, path), path, ASIDE)
    if fields.get("kept_aside") != "no":
        log.warning("sesd.state.ignored", path=path, reason=reason, **fields)
        return Found(absent)
    untouchable = (
        f"the file sesd did not use could not be kept aside ({fields['error']}): no save "
        f"replaces it this run; move it away (or free {path}.unusable) and restart sesd"
    )
    log.error("sesd.state.ignored", path=path, reason=reason, hint=untouchable, **fields)
    return Found(untouchable=untouchable)


def _keep_aside(path: str) -> tuple[dict[str, str], str | None]:
    """The file moved to ``PATH.unusable`` (or beside a copy kept there before, as
    ``PATH.unusable.N``, the last place taken again once all are: a refusal at each
    of a crash loop's starts fills no disk): what the log says of it, and why there
    is no file now (None: it could not be moved, and is still there)."""
    places = [f"{path}.unusable", *(f"{path}.unusable.{n}" for n in range(1, _KEPT_ASIDE))]
    aside = next((place for place in places if not os.path.lexists(place)), places[-1])
    try:
        os.replace(path, aside)
    except OSError as exc:
        return {"kept_aside": "no", "error": str(exc.strerror)}, None
    kept = {
        "kept_as": aside,
        # No start reads it there: a person puts it back, or it is lost.
        "hint": f"sesd starts empty; the file it could not use is kept as {aside}. To use "
        "it once what kept it out is mended (a build that reads it, an owner sesd's user "
        f"may read, more memory), stop sesd, move it back to {path} (over what this run "
        "saved) and start sesd",
    }
    return kept, f"the one found at start is kept as {aside}"
