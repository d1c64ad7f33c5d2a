"""The state file's disk work at start, before the restore: the file a link names, its
lock taken, what a cut-off save left beside it removed, the starts before it killed
while restoring counted, and the file read. On a share that stopped answering (an NFS
mount hard-mounted, a volume gone) each would hold the event loop for ever, and with
it the stop signals: the daemon waits for them in a thread of its own, READ_BOUND at
most (:func:`reach_within`), as for each disk step of the restore after it
(:func:`within`; the count's last word, which a stop waits for, LAST_SAVE). The
restore from what was read is sesd.runtime.state_start's, on the main thread, where a
stop signal gives it up."""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, Protocol, TypeVar, cast

import anyio

from sesd.config import sections
from sesd.core.text import escaped
from sesd.io import hung
from sesd.io.files import linked
from sesd.io.logs import get_logger
from sesd.runtime.apart import apart
from sesd.runtime.http import StartError
from sesd.runtime.state_bytes import StateError, read_state
from sesd.runtime.state_lock import hold, let_go

__all__ = [
    "KILLED_RESTORES",
    "READ",
    "Disk",
    "Reached",
    "Step",
    "in_place",
    "killed_restores",
    "no_undo",
    "ran",
    "reach",
    "reach_within",
    "within",
]

_T = TypeVar("_T")

#: Starts in a row killed while restoring the file after which the next keeps it
#: aside: one (a deploy's kill at the wrong moment) costs nothing.
KILLED_RESTORES: Final = 2


def no_undo(done: object) -> None:
    """Nothing to undo: the work is as right done late as done in time."""


@dataclass(slots=True)
class Reached:
    """What the disk work at start found: the file (a link's, named), the locks held
    (sesd.runtime.state_lock), the leftovers removed, the starts before killed while
    restoring, and the file's bytes (None: no file yet, or not read, ``skipped``), or
    why it cannot be used (``refused``)."""

    path: str
    held: list[int]
    cleared: int = 0
    killed: int = 0
    #: Enough starts were killed while restoring it: not read (sesd.runtime.state_start
    #: keeps it aside).
    skipped: bool = False
    blob: bytes | None = None
    refused: str | None = None


def reach(given: str, limit: int) -> Reached:
    """The disk work at start for the state file ``given``, in the calling thread;
    StartError when it could never be saved, or another sesd holds it. ``limit``: the
    most bytes read (sesd.runtime.state_size)."""
    path = linked(given)  # a link to the file: the saves replace the file, not the link
    held = hold(path)
    try:
        reached = Reached(path, held, clear_leftovers(path), killed_restores(f"{path}.restoring"))
        if reached.killed >= KILLED_RESTORES and os.path.lexists(path):
            # Not read: what killed them (the OOM killer, say) would kill this one too.
            reached.skipped = True
            return reached
        try:
            reached.blob = read_state(path, limit)
        except StateError as exc:
            # Not readable by this user (a restore from a backup made as root, say), or
            # too large: the restore says so, and keeps it aside.
            reached.refused = str(exc)
    except BaseException:
        let_go(held)
        raise
    return reached


@dataclass(frozen=True, slots=True)
class Step:
    """A step of the start's disk work, as the start says it when the step does not
    answer: ``what`` of the file (``its lock and read``), ``after`` (how the file is
    left when a stop gives the wait up), ``why`` (past the bound, why the start fails
    rather than goes on, or, a step it goes on without, what that leaves), and
    ``event``, the stop's log line; ``shielded``, one a stop does not give up (it is
    the stop's, or holds one), bounded all the same, by what the stop's last save has
    (:func:`within`)."""

    what: str
    after: str
    why: str
    event: str
    shielded: bool = False


#: The file's lock and read (:func:`reach`).
READ: Final = Step(
    "lock and read",
    "it is as it was, and the next start reads it",
    "not started with the state empty, which would page again what sesd paged and "
    "leave its resolves unsent",
    "sesd.state.read_stopped",
)


class Disk(Protocol):
    """How the start does a step's disk work: :func:`within` (the daemon's), or
    :func:`in_place` (in the calling thread)."""

    def __call__(
        self, work: Callable[[], _T], path: str, step: Step, undo: Callable[[_T], None] = ...
    ) -> Awaitable[_T]: ...


async def in_place(
    work: Callable[[], _T], path: str, step: Step, undo: Callable[[_T], None] = no_undo
) -> _T:
    """``work()`` here and now: nothing waits (:func:`ran`)."""
    return work()


def ran(steps: Coroutine[Any, Any, _T]) -> _T:
    """The end of ``steps``, whose disk work is :func:`in_place`, run here: nothing in
    them waits (outside the daemon: tools and tests that restore a file)."""
    try:
        steps.send(None)
    except StopIteration as ended:
        return cast("_T", ended.value)
    steps.close()
    raise RuntimeError("the start's steps waited, their disk work not in place")


async def within(
    work: Callable[[], _T],
    path: str,
    step: Step,
    undo: Callable[[_T], None] = no_undo,
    bound: float | None = None,
) -> _T:
    """``work()`` on the file ``path``, in a daemon thread of its own (the exit does not
    wait for one held), waited ``bound`` seconds at most (unless given: READ_BOUND,
    sesd.io.hung's; a ``shielded`` step's, LAST_SAVE, as the stop's last save has).
    Past it, a StartError naming the file and ``step``. A stop meanwhile
    (:meth:`Daemon.stop` cancels the wait) ends the start at once, said. The work
    given up, what it did once it answers is given to ``undo``, in its thread (or here,
    when it answered as the start gave up): never left done for a start that is over."""
    if bound is None:
        # A shielded step holds a stop that comes meanwhile: given what the stop's last
        # save is, a stop still ends within the grace period, LAST_SAVE and the exit's
        # room, as promised whatever the grace period (READ_BOUND is longer than some).
        bound = sections.LAST_SAVE if step.shielded else hung.READ_BOUND
    handover = _Handover(undo)
    with anyio.CancelScope(shield=step.shielded), anyio.move_on_after(bound) as waited:
        try:
            done = await apart(lambda: handover.handed(work()), "sesd-state-read")
        except anyio.get_cancelled_exc_class():
            handover.give_up()
            if not waited.cancel_called:  # a stop, not the bound
                get_logger().info(
                    step.event,
                    path=escaped(path, 500),
                    hint=f"a stop came while the state file's {step.what} had not answered "
                    f"(a file on a hung mount?): {step.after}",
                )
            raise
        except BaseException:
            handover.give_up()
            raise
        return done
    handover.give_up()
    raise StartError(
        f"state.path: {escaped(path, 500)}: its {step.what} did not answer within "
        f"{bound:g} s (a file on a hung mount?); {step.why}"
    )


async def reach_within(given: str, limit: int, bound: float | None = None) -> Reached:
    """:func:`reach`, :func:`within` ``bound``. Past it, not a start with the state
    empty, as for a file that cannot be used, which stays so at every start (sesd would
    never start). A share that hangs answers again, mostly, and the file still holds
    the alerts sesd paged and the resolves it owes: started empty, sesd would page
    those again and never resolve them, with no lock against a second sesd on the file,
    and no save could be written. A supervisor starts sesd again, and the file is read
    once it answers. The locks the read takes once it answers are let go then."""
    return await within(lambda: reach(given, limit), given, READ, _let_go_of, bound)


def _let_go_of(reached: Reached) -> None:
    let_go(reached.held)


class _Handover(Generic[_T]):
    """Who undoes what the disk work did (the locks it took, say): nobody while the
    start waits for it; once the start gave up, the thread (a share that answers at
    last), or the start for what was handed over already. Either way once, never left
    done: another sesd, or the next start, would find the locks held."""

    def __init__(self, undo: Callable[[_T], None]) -> None:
        self._gate = threading.Lock()
        self._given_up = False
        self._undo = undo
        self._taken: tuple[_T] | None = None

    def handed(self, done: _T) -> _T:
        """In the thread: ``done``, undone if the start gave up."""
        with self._gate:
            if not self._given_up:
                self._taken = (done,)
                return done
        self._undo(done)
        return done

    def give_up(self) -> None:
        """The start waits no more: what was handed over already is undone here."""
        with self._gate:
            self._given_up = True
            taken, self._taken = self._taken, None
        if taken is not None:
            self._undo(taken[0])


def clear_leftovers(path: str) -> int:
    """Remove what a save cut off (a kill, an OOM) left beside the file: each a copy
    of the file's size, they would add up until the disk is full. Only this sesd,
    holding the lock, writes there. How many were removed."""
    target = Path(path)
    # The name escaped: a "[" in it (``state[eu].bin``) would make it a pattern.
    left = list(target.parent.glob(f".{glob.escape(target.name)}.*.tmp"))
    for leftover in left:
        try:
            leftover.unlink(missing_ok=True)
        except OSError as exc:
            # A directory of that name, or one sesd may not write: one line, as for the
            # lock, not a traceback; what is in the way is the operator's to move.
            raise StartError(
                f"state.path: cannot remove {escaped(str(leftover), 500)}, where a save "
                f"cut off leaves its copy: {exc.strerror or exc} (move it out of the way)"
            ) from exc
    return len(left)


def killed_restores(marker: str) -> int:
    """How many starts in a row were killed while restoring the file, as ``marker``
    counts them (0 without one; 1 for one that cannot be read, or holds no count: a
    start killed before it wrote one, or a hand's garbage, never fewer than one)."""
    try:
        with open(marker, "rb") as handle:
            killed = int(handle.read(16) or b"1")
    except FileNotFoundError:
        return 0
    except (OSError, ValueError):
        return 1
    return killed if killed >= 1 else 1
