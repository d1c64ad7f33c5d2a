"""Duplicate suppression with bounded memory.

SQS and SNS deliver at least once, and SNS may deliver one event in several
SQS messages. An event is identified by its SES message id, type, event time
and recipients. Keys live in two generations: each covers ``horizon`` seconds
(the largest window) or ``max_entries / 2`` keys, whichever comes first, so
an event is remembered for at least one horizon unless the volume forces an
earlier rotation, and memory never passes ``max_entries`` keys. Time is the
caller's clock, and a step of it is told (:meth:`DuplicateFilter.stepped`).
"""

from __future__ import annotations

import math
import struct
from typing import Final

import xxhash

from sesd.core.decode import Event

__all__ = ["DuplicateFilter", "body_key", "event_key", "stable_key"]

_pack_double: Final = struct.Struct("<d").pack
#: XXH3 of bytes, as an int.
_xxh3: Final = xxhash.xxh3_64_intdigest
_INF: Final = math.inf
#: How many ulps from ``start + horizon`` the rotation time is looked for, each way: a
#: step or two where the sum's ulp is no finer than the start's (every Unix time).
_ULPS: Final = 8


def stable_key(first: str, second: str) -> int:
    """A 64-bit digest of two texts, the same in every process (unlike ``hash``), so keys
    survive a restart through the state file; collisions are negligible. XXH3: a
    fifth of the cost of BLAKE2b, and this runs for every recipient."""
    return _xxh3(f"{first}\0{second}".encode())


def event_key(event: Event) -> int:
    """The identity of an event: message id, type, event time, recipients (in any
    order) and, for an open or a click, who opened (IP address, user agent) and a
    click's link: SES does not say which recipient opened, and link scanners follow
    every link of a message in the same millisecond from several hosts. The time goes
    in as its eight IEEE bytes: exact, and far cheaper than ``repr``."""
    listed = event.recipients
    recipients = listed[0] if len(listed) == 1 else "\0".join(sorted(listed))
    text = f"{event.message_id}\0{event.type}\0{recipients}"
    click = event.ses.click
    if click is not None:
        text = f"{text}\0{click.link}\0{click.ip_address}\0{click.user_agent}"
    elif event.ses.open is not None:
        opened = event.ses.open
        text = f"{text}\0{opened.ip_address}\0{opened.user_agent}"
    return _xxh3(text.encode() + _pack_double(event.time))


def body_key(body: bytes | str) -> int:
    """The identity of a body that holds no email event (a tenant notice, one skipped):
    its bytes, the same in each delivery SQS makes of it."""
    return _xxh3(body.encode() if isinstance(body, str) else body)


class DuplicateFilter:
    """Remembers recent event keys; :meth:`seen` answers and records in one call."""

    __slots__ = ("_current", "_generation_start", "_half", "_horizon", "_previous", "_rotate_at")

    def __init__(self, *, horizon: float, max_entries: int) -> None:
        self._horizon = horizon
        self._half = max(1, max_entries // 2)
        self._current: set[int] = set()
        self._previous: set[int] = set()
        self._generation_start: float | None = None
        #: The least ``now`` at which the open generation has lasted its horizon: one
        #: comparison a key instead of a subtraction and one (-inf before the first key).
        self._rotate_at = -_INF

    def seen(self, key: int, now: float) -> bool:
        """True if ``key`` was seen recently; otherwise remember it and return False."""
        if key in self._previous:
            return True
        current = self._current
        # A test, then an add: the add probes the slot the test just read (cached), and
        # this costs one call where comparing len() before and after the add cost three.
        if key in current:
            return True
        current.add(key)
        if not now < self._rotate_at or len(current) >= self._half:  # (a NaN goes in)
            start = self._generation_start
            if start is None:
                self._start(now)
            elif now - start >= self._horizon or len(current) >= self._half:
                # The key just added goes with the generation it closes: it is kept
                # until the next rotation, at least a horizon away unless volume forces it.
                self._previous = current
                self._current = set()
                self._start(now)
        return False

    def stepped(self, step: float) -> None:
        """The clock ``now`` is read on stepped by ``step`` seconds: the open generation's
        start moves with it, so it closes a horizon of time that passed after it began
        (ahead, the next key would close it at once and forget the keys of the one
        before, seen moments ago; back, it would stay open for the step longer)."""
        if self._generation_start is not None:
            self._start(self._generation_start + step)

    def _start(self, now: float) -> None:
        """A generation opened at ``now``, and the least time at which it has lasted its
        horizon: ``now - start >= horizon`` rounds monotonically in ``now``, so it holds
        from one float on, found from ``start + horizon`` by a step or two of one ulp.
        :meth:`seen` tests the subtraction again before it rotates: the time only spares
        it the test. Where the sum is not finite, or that time is not a few ulps from it,
        every key tests it (-inf): a start about a horizon below 0 (a clock stepped back
        before 1970, a state file's) puts the sum near 0, where floats are far denser
        than near the start, and the time billions of ulps away."""
        self._generation_start = now
        self._rotate_at = -_INF
        horizon = self._horizon
        at = now + horizon
        if not math.isfinite(at):
            return
        for _ in range(_ULPS):
            if at - now >= horizon:
                break
            at = math.nextafter(at, _INF)
        else:
            return
        for _ in range(_ULPS):
            below = math.nextafter(at, -_INF)
            if below - now < horizon:
                self._rotate_at = at
                return
            at = below

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def snapshot(self) -> dict[str, object]:
        """Plain data for the state file."""
        return {
            "start": self._generation_start,
            "current": list(self._current),
            "previous": list(self._previous),
        }

    def restore(self, data: dict[str, object]) -> None:
        """Load what :meth:`snapshot` returned, within this filter's size: saved by one
        whose ``max_entries`` was larger, its newest keys are kept (which of one
        generation's, a set, is arbitrary)."""
        start = data["start"]
        if isinstance(start, int | float):
            self._start(float(start))
        else:
            self._generation_start, self._rotate_at = None, -_INF
        half = self._half
        current: list[int] = list(data["current"])  # type: ignore[call-overload]
        previous: list[int] = list(data["previous"])  # type: ignore[call-overload]
        if len(current) >= half:
            # The open generation alone fills one: it closes as it would have at its
            # next key, and the one before it is the first to go.
            current, previous = [], current
        self._current = set(current)
        self._previous = set(previous[:half])
