"""One window's ring of buckets: recipient counts per event type, and the values
(processing times...) recorded in each bucket, in event time.

Bucket ``b`` covers event times ``[b * width, (b + 1) * width)`` and lives in
slot ``b % slots``. ``head`` is the newest bucket the ring holds; it holds the
``slots`` buckets up to it. Only a write moves ``head`` (and drops what falls
out behind it). A read at any time ``now`` is a pure function of what is held:
it counts the held buckets inside the window ending at ``now``, so reading
never changes a later read, and a clock that jumps ahead and back loses
nothing.

Values are kept as packed cells in one ``array('I')`` (a Python object per
bucket would cost more than the counts it holds): the bucket's slot, the kind
of value, the value's sketch bucket (sesd.sketch) and a count.

Pure code: no clock, no I/O.
"""

from __future__ import annotations

from array import array
from typing import Any, Final

from sesd.events import EVENT_TYPES

__all__ = ["KINDS", "NEVER", "Ring", "value_key"]

_T: Final = len(EVENT_TYPES)
#: What ``head`` is before any write.
NEVER: Final = -(2**62)
#: Kinds of value: processing time, time to delivery, how long a resolved delay lasted.
KINDS: Final = 3

# A cell: count (10 bits) | slot (12 bits) | kind (2 bits) | sketch bucket (8 bits).
_KEY_BITS: Final = 10  # kind and sketch bucket
_SLOT_SHIFT: Final = 10
_COUNT_SHIFT: Final = 22
_CELL_MAX: Final = (1 << 10) - 1
_SLOT_MASK: Final = (1 << 12) - 1
_LOW_MASK: Final = (1 << _COUNT_SHIFT) - 1


def value_key(kind: int, sketch_bucket: int) -> int:
    """The key a value is staged and stored under."""
    return kind << 8 | sketch_bucket


class Ring:
    """Counts and values per bucket for one window (see the module docstring)."""

    __slots__ = ("cells", "columns", "compacted", "head", "slots", "totals", "width")

    def __init__(self, width: float, slots: int) -> None:
        if slots > _SLOT_MASK + 1:
            raise ValueError(f"at most {_SLOT_MASK + 1} buckets a window")
        self.width = width
        self.slots = slots
        self.head = NEVER
        # One column per event type, made on first use: a domain sees a few of eleven.
        self.columns: list[array[int] | None] = [None] * _T
        self.totals = [0] * _T  # of the held buckets
        self.cells: array[int] | None = None
        self.compacted = 0  # cells after the last compaction

    # --- write side ------------------------------------------------------------

    def place(self, bucket: int, now_bucket: int) -> bool:
        """Make ``bucket`` writable, moving ``head`` on if it is newer; False when the
        ring cannot keep it (it is older than every bucket held)."""
        head, slots = self.head, self.slots
        if bucket > head:
            self._advance(bucket)
            return True
        if bucket > head - slots:
            return True
        if now_bucket <= head - slots and bucket > now_bucket - slots:
            # Everything held is ahead of the clock (it stepped back by more than
            # the window), and this bucket is inside the window now: start again here.
            self._clear()
            self.head = bucket
            return True
        return False

    def add(self, bucket: int, type_index: int, n: int) -> None:
        """Count ``n`` recipients of a type in a bucket :meth:`place` accepted."""
        column = self.columns[type_index]
        if column is None:
            column = self.columns[type_index] = array("I", bytes(4 * self.slots))
        column[bucket % self.slots] += n
        self.totals[type_index] += n

    def add_values(self, bucket: int, values: dict[int, int]) -> None:
        """Record values (:func:`value_key` -> how many) in a bucket :meth:`place` accepted."""
        cells = self.cells
        if cells is None:
            cells = self.cells = array("I")
        slot = (bucket % self.slots) << _SLOT_SHIFT
        for key, n in values.items():
            while n > 0:
                part = min(n, _CELL_MAX)
                cells.append(part << _COUNT_SHIFT | slot | key)
                n -= part
        if len(cells) > 2 * self.compacted + 64:
            self._compact()

    def _advance(self, bucket: int) -> None:
        """Move ``head`` to ``bucket``, dropping the buckets that leave the ring."""
        slots, head = self.slots, self.head
        if bucket - head >= slots:
            self._clear()
        else:
            gone = {b % slots for b in range(head + 1, bucket + 1)}
            totals = self.totals
            for i, column in enumerate(self.columns):
                if column is not None:
                    for slot in gone:
                        n = column[slot]
                        if n:
                            totals[i] -= n
                            column[slot] = 0
            cells = self.cells
            if cells:
                kept = [c for c in cells if (c >> _SLOT_SHIFT) & _SLOT_MASK not in gone]
                if len(kept) < len(cells):
                    self.cells = array("I", kept)
                    self.compacted = min(self.compacted, len(kept))
        self.head = bucket

    def _clear(self) -> None:
        self.columns = [None] * _T
        self.totals = [0] * _T
        self.cells = None
        self.compacted = 0

    def _compact(self) -> None:
        """Merge cells of the same slot and key (a bucket is written once per stage)."""
        merged: dict[int, int] = {}
        for cell in self.cells or ():
            low = cell & _LOW_MASK
            merged[low] = merged.get(low, 0) + (cell >> _COUNT_SHIFT)
        cells = array("I")
        for low, n in merged.items():
            while n > 0:
                part = min(n, _CELL_MAX)
                cells.append(part << _COUNT_SHIFT | low)
                n -= part
        self.cells = cells
        self.compacted = len(cells)

    # --- read side: pure ---------------------------------------------------------

    def span(self, now_bucket: int) -> tuple[int, int]:
        """The held buckets inside the window ending at ``now_bucket``: ``(lo, hi]``."""
        return max(now_bucket, self.head) - self.slots, min(now_bucket, self.head)

    def holds(self, bucket: int, now_bucket: int) -> bool:
        """Whether ``bucket`` is held and inside the window ending at ``now_bucket``."""
        lo, hi = self.span(now_bucket)
        return lo < bucket <= hi

    def counts(self, now_bucket: int) -> list[int]:
        """Recipients per event type in the window ending at ``now_bucket``."""
        head, slots = self.head, self.slots
        if now_bucket >= head:
            behind = now_bucket - head
            if behind >= slots:
                return [0] * _T
            out = list(self.totals)
            # The oldest ``behind`` held buckets are outside the window.
            leaving = range(head - slots + 1, head - slots + 1 + behind)
        else:
            # The clock is behind the newest bucket: count what is at or before it.
            out = [0] * _T
            lo = head - slots
            if now_bucket <= lo:
                return out
            leaving = range(lo + 1, now_bucket + 1)
        sign = -1 if now_bucket >= head else 1
        for i, column in enumerate(self.columns):
            if column is not None:
                for b in leaving:
                    out[i] += sign * column[b % slots]
        return out

    def values(self, now_bucket: int) -> list[dict[int, int]]:
        """Per kind, sketch bucket -> how many values, in the window ending at ``now_bucket``."""
        out: list[dict[int, int]] = [{} for _ in range(KINDS)]
        cells = self.cells
        if not cells:
            return out
        lo, hi = self.span(now_bucket)
        if hi <= lo:
            return out
        slots = self.slots
        inside = None if hi - lo >= slots else {b % slots for b in range(lo + 1, hi + 1)}
        for cell in cells:
            if inside is not None and (cell >> _SLOT_SHIFT) & _SLOT_MASK not in inside:
                continue
            found = out[(cell >> 8) & 3]
            index = cell & 0xFF
            found[index] = found.get(index, 0) + (cell >> _COUNT_SHIFT)
        return out

    # --- state file ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file."""
        return {
            "head": self.head,
            "columns": {i: c.tobytes() for i, c in enumerate(self.columns) if c is not None},
            "cells": b"" if self.cells is None else self.cells.tobytes(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned (for the same layout)."""
        columns: list[array[int] | None] = [None] * _T
        totals = [0] * _T
        for i, raw in data["columns"].items():
            column = array("I")
            column.frombytes(raw)
            if len(column) != self.slots:
                raise ValueError("window layout changed")
            columns[int(i)] = column
            totals[int(i)] = sum(column)
        cells = array("I")
        cells.frombytes(data["cells"])
        if any((c >> _SLOT_SHIFT) & _SLOT_MASK >= self.slots for c in cells):
            raise ValueError("window layout changed")
        self.head, self.columns, self.totals = int(data["head"]), columns, totals
        self.cells = cells or None
        self.compacted = len(cells)
