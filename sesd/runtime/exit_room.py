"""The exit's one budget: ``EXIT_ROOM`` seconds from the moment what is left is the
exit (a stop's last save returned, a start given up or failed, a fault's last save),
shared out once, here, among what the exit does in turn:

1. the closes' plan (sesd.runtime.closes), each close its share of :attr:`ExitRoom.closes`;
2. the run's return and the event loop's close (threads joined): ``SETTLE``;
3. then ``sesd run``'s bound exits regardless (a thread that does not end would hold the
   exit until the supervisor's SIGKILL), its log lines given ``FORCED_LOGS``;
4. ``MARGIN`` left for the supervisor to see sesd gone before its stop timeout.

Both the closes and the bound read one deadline from one begin: a bound armed on its
own clock fired while the plan still had closes to run (two closes that hung took their
shares past it), and the process ended mid-plan, the closes after them never run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from sesd.config.sections import EXIT_ROOM
from sesd.runtime.signals import FORCED_LOGS

__all__ = ["MARGIN", "SETTLE", "TAIL", "ExitRoom"]

#: Of the exit's room, what is left for the supervisor to see sesd gone: the exit ends
#: a moment before the stop timeout, not at it.
MARGIN: Final = 1.0
#: Between the closes' plan and the bound: the run's return, the event loop's close.
SETTLE: Final = 0.5
#: What the room keeps after the closes' plan.
TAIL: Final = SETTLE + FORCED_LOGS + MARGIN


class ExitRoom:
    """The exit's budget of ``room`` seconds, begun once (:meth:`begin`), on the
    monotonic clock (the event loop's)."""

    def __init__(self, room: float = EXIT_ROOM) -> None:
        #: Seconds from the begin to the end of the closes' plan.
        self.closes = max(0.0, room - TAIL)
        #: Seconds from the begin to the bound (then sesd exits regardless).
        self.stalled = max(0.0, room - FORCED_LOGS - MARGIN)
        self._begun: float | None = None
        #: How many closes the plan has still to run (the daemon's, once it has them).
        self.planned: Callable[[], int] = lambda: 0

    def begin(self) -> float:
        """When the exit began: now, at the first call."""
        if self._begun is None:
            self._begun = time.monotonic()
        return self._begun

    @property
    def begun(self) -> bool:
        """Whether the exit has begun."""
        return self._begun is not None

    def closes_left(self) -> float:
        """Seconds left of the closes' plan (it begins the exit if nothing had: a run
        cancelled rather than stopped)."""
        return max(0.0, self.begin() + self.closes - time.monotonic())

    def share_left(self) -> float:
        """Seconds a close outside the plan has, come once the exit has begun (a retired
        AWS client's, as the tasks stop, before the plan runs): a share of what is left
        of the plan, split evenly with the closes it has still to run, as theirs are."""
        return self.closes_left() / (1 + self.planned())

    def stalled_left(self) -> float:
        """Seconds left until the bound."""
        return max(0.0, self.begin() + self.stalled - time.monotonic())
