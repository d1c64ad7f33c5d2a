"""How far the wall clock stepped ahead while sesd was stopped, where the host can say.

A state file's save time against the clock at a start tells a step back (the file
saved ahead of the clock: sesd.runtime.state_alerts.stepped_back) but not a step
ahead: the host's clock behind at the save and set by NTP while sesd was stopped
reads as that much downtime. Every age the file's times give then grew by the step:
a part-sent page past ``notification_max_age`` though its first part went seconds
before, a tenant walk begun an hour before started over at 24 hours, a domain seen a
minute before evicted as idle. The boot clock (``CLOCK_BOOTTIME``: seconds since the
host booted, suspend counted, never stepped) tells the time that passed, but only
on the boot that saved the file (a restart of the service, an upgrade): the file
keeps it with the boot's id, and a start on another boot (a reboot: the clock may
be set by then, or not) knows no more than the save time says. It tells a step back
shorter than the downtime too (the save still behind the clock).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final

from sesd.runtime.clock import TOLERANCE
from sesd.runtime.state_alerts import MOST_STEP_BACK

__all__ = ["Boot", "boot_mark", "no_boot", "passed_while_stopped", "stepped_while_stopped"]

#: The kernel's id of this boot (Linux): a new one at each boot.
BOOT_ID: Final = "/proc/sys/kernel/random/boot_id"
#: The most characters of a boot id read back (the kernel's is a 36-character UUID).
_ID_CHARS: Final = 64


#: What reads the boot's mark: :func:`boot_mark`, or :func:`no_boot` where the clocks
#: sesd is given are not the host's (a test's: no boot reckons with them).
Boot = Callable[[], "list[str | float] | None"]


def no_boot() -> list[str | float] | None:
    """No mark: a save keeps none, a start tells no step ahead."""
    return None


def boot_mark(path: str = BOOT_ID) -> list[str | float] | None:
    """This boot's id and the seconds since it booted (the state file's ``boot``), or
    None where the host tells neither (not Linux)."""
    try:
        with open(path, encoding="ascii") as handle:
            boot = handle.read(_ID_CHARS).strip()
        since = time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, AttributeError):
        return None
    return [boot, since] if boot else None


def stepped_while_stopped(
    saved: object, mark: list[str | float] | None, saved_at: float, now: float
) -> float:
    """How many seconds the wall clock stepped (ahead: more than 0) between a save at
    ``saved_at`` with boot mark ``saved`` and a start at ``now`` with ``mark``: the wall
    clock's time between them less the boot clock's, on one boot; 0 on another boot,
    without a mark (a file from an earlier build), within
    :data:`~sesd.runtime.clock.TOLERANCE` (the two clocks are slewed alike), past a day
    (a save time damaged is the likelier story, as sesd.runtime.state_alerts bounds a
    step back), or with the save ahead of the clock (the save time tells that step:
    sesd.runtime.state_alerts.stepped_back). A step back shorter than the downtime
    leaves the save behind the clock: read from the save time, the downtime was short
    by the step, and a part-sent page past ``notification_max_age`` went on."""
    passed = passed_while_stopped(saved, mark)
    if passed is None or now < saved_at:
        return 0.0
    step = (now - saved_at) - passed
    return step if TOLERANCE < abs(step) <= MOST_STEP_BACK else 0.0


def passed_while_stopped(saved: object, mark: list[str | float] | None) -> float | None:
    """The seconds the boot clock counted between a save with boot mark ``saved`` and a
    start with ``mark``: the time that passed, whatever the wall clock did meanwhile;
    None on another boot, without a mark (a file from an earlier build), or with one
    that is not a time or is ahead of the boot clock (damaged): no reckoning."""
    if mark is None or not isinstance(saved, list | tuple) or len(saved) < 2:
        return None
    boot, since = saved[0], saved[1]
    if (
        not isinstance(boot, str)
        or boot != mark[0]
        or not isinstance(since, int | float)
        or isinstance(since, bool)
        or not math.isfinite(since)
    ):
        return None
    passed = float(mark[1]) - since
    return None if passed < 0 else passed
