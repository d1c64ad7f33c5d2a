"""The restore's own steps on the state file's disk (sesd.runtime.state_start's): its
count in ``PATH.restoring``, written, removed as it ends or put back as a stop came,
and the file kept aside, each as the start says it when it does not answer
(sesd.runtime.state_reach.within: READ_BOUND; the count's last word, shielded from a
stop, LAST_SAVE)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from sesd.runtime.http import StartError
from sesd.runtime.state_reach import Disk, Step

__all__ = ["ASIDE", "COUNT", "PUT_BACK", "UNCOUNT", "counted_last"]

#: Past the bound, a failed start, a supervisor's to repeat.
COUNT: Final = Step(
    "count of the restore (the .restoring file beside it)",
    # Not "the count as it was": the stop's exit ends the thread that writes it, and
    # the one that would put it back once it answers.
    "nothing restored, and the next start restores it; the count as it was, unless "
    "written before sesd ended (then it counts this start as one killed while restoring)",
    "not restored uncounted: a restore that kills sesd (out of memory) would be tried "
    "at each start for ever",
    "sesd.state.count_stopped",
)
#: The count's last word (:func:`counted_last`): shielded from a stop, whose exit
#: would race it (and end the thread left with it), bounded all the same.
UNCOUNT: Final = Step(
    "count of the restore (the .restoring file beside it), removed as it ended,",
    "",
    "sesd goes on without it, removed once it answers while sesd runs: left, it counts "
    "this start as one killed while restoring",
    "sesd.state.count_stopped",
    shielded=True,
)
PUT_BACK: Final = Step(
    "count of the restore (the .restoring file beside it), put back as a stop came,",
    "",
    "the stop goes on without it: left, it counts this start as one killed while restoring",
    "sesd.state.count_stopped",
    shielded=True,
)
#: Past the bound, a failed start.
ASIDE: Final = Step(
    "move to PATH.unusable, as sesd cannot use it,",
    # Not "moved once it answers": the stop's exit ends the thread that moves it.
    "where it is stays unknown until it answers (moved, if the move went through "
    "before sesd ended), and the next start looks again",
    "not started without it: where the file is stays unknown until it answers, and a "
    "save would hang, or replace it",
    "sesd.state.aside_stopped",
)


async def counted_last(
    disk: Disk, work: Callable[[], None], path: str, step: Step, marker: str, log: Any
) -> None:
    """The count's last word, ``work`` (``step``: UNCOUNT or PUT_BACK), waited for. The
    restore is over by then: past the bound, sesd goes on (started, or stopped as asked,
    exit 0), the count left to its thread, said. Not a failed start: its exit would end
    the thread with it, the count never removed, and the next start would take this one
    for one killed while restoring (two in a row keep a good file aside)."""
    try:
        await disk(work, path, step)
    except StartError as exc:
        log.warning(
            "sesd.state.count_left",
            path=path,
            error=str(exc),
            hint=f"remove {marker} once the share answers, if sesd has stopped by then",
        )
