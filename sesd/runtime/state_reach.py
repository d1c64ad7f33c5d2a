"""The state file's disk work at start, before the restore: the file a link names, its
lock taken, what a cut-off save left beside it removed, the starts before it killed
while restoring counted, and the file read. On a share that stopped answering (an NFS
mount hard-mounted, a volume gone) each would hold the event loop for ever, and with
it the stop signals: the daemon waits for them in a thread of its own, READ_BOUND at
most (:func:`reach_within`). The restore from what was read is
sesd.runtime.state_start's, on the main thread, where a stop signal gives it up."""

from __future__ import annotations

import glob
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import anyio

from sesd.core.text import escaped
from sesd.io import hung
from sesd.io.files import linked
from sesd.io.hung import READ_BOUND  # the start's modules name it from here too
from sesd.io.logs import get_logger
from sesd.runtime.apart import apart
from sesd.runtime.http import StartError
from sesd.runtime.state_bytes import StateError, read_state
from sesd.runtime.state_lock import hold, let_go

__all__ = ["KILLED_RESTORES", "READ_BOUND", "Reached", "killed_restores", "reach", "reach_within"]

#: Starts in a row killed while restoring the file after which the next keeps it
#: aside: one (a deploy's kill at the wrong moment) costs nothing.
KILLED_RESTORES: Final = 2


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


async def reach_within(given: str, limit: int, bound: float | None = None) -> Reached:
    """:func:`reach`, in a daemon thread of its own (the exit does not wait for one
    held), waited ``bound`` seconds at most (READ_BOUND, sesd.io.hung's, unless given).
    Past it, a StartError naming the file: not a start with the state empty, as for a
    file that cannot be used, which stays so at every start (sesd would never start).
    A share that hangs answers again, mostly, and the file still holds the alerts sesd
    paged and the resolves it owes: started empty, sesd would page those again and
    never resolve them, with no lock against a second sesd on the file, and no save
    could be written. A supervisor starts sesd again, and the file is read once it answers. A
    stop meanwhile (:meth:`Daemon.stop` cancels the wait) ends the start at once. The
    work given up, what it takes once it answers is let go in its thread."""
    bound = hung.READ_BOUND if bound is None else bound
    handover = _Handover()
    with anyio.move_on_after(bound) as waited:
        try:
            reached = await apart(lambda: handover.handed(reach(given, limit)), "sesd-state-read")
        except anyio.get_cancelled_exc_class():
            handover.give_up()
            if not waited.cancel_called:  # a stop, not the bound
                get_logger().info(
                    "sesd.state.read_stopped",
                    path=escaped(given, 500),
                    hint="a stop came while the state file's lock and read had not "
                    "answered (a file on a hung mount?): it is as it was, and the next "
                    "start reads it",
                )
            raise
        except BaseException:
            handover.give_up()
            raise
        return reached
    handover.give_up()
    raise StartError(
        f"state.path: {escaped(given, 500)}: its lock and read did not answer within "
        f"{bound:g} s (a file on a hung mount?); not started with the state empty, which "
        "would page again what sesd paged and leave its resolves unsent"
    )


class _Handover:
    """Who lets go of the locks the disk work takes: the start that waits for them, or,
    once it gave up waiting, the thread (a share that answers at last). Either way
    once, never left held: another sesd, or the next start, would find them held."""

    def __init__(self) -> None:
        self._gate = threading.Lock()
        self._given_up = False
        self._taken: list[int] | None = None

    def handed(self, reached: Reached) -> Reached:
        """In the thread: ``reached``, its locks let go if the start gave up."""
        with self._gate:
            if not self._given_up:
                self._taken = reached.held
                return reached
        let_go(reached.held)
        return reached

    def give_up(self) -> None:
        """The start waits no more: locks handed over already are let go here."""
        with self._gate:
            self._given_up = True
            taken, self._taken = self._taken, None
        if taken is not None:
            let_go(taken)


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
