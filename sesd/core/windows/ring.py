"""One window's ring of buckets: recipient counts per event type, and the values
(processing times...) recorded in each bucket, in event time.

Bucket ``b`` covers event times ``[b * width, (b + 1) * width)`` and lives in
slot ``b % slots``. ``head`` is the newest bucket the ring holds; it holds the
``slots`` buckets up to it. Only a write moves ``head`` (and drops what falls
out behind it). A read at any time ``now`` (the read side is in
sesd.core.windows.ring_reads) is a pure function of what is held: it counts the
held buckets inside the window ending at ``now``, so reading never changes a later
read, and a clock that jumps ahead and back loses nothing.

Values are kept as packed cells in one ``array('I')`` (sesd.core.windows.cells: a
Python object per bucket would cost more than the counts it holds): a count, the
bucket (modulo 2**14), the kind of value and the value's sketch bucket. Cells
of buckets that left the ring are not searched out when it moves; reads skip them.
Cells are written oldest bucket first (but for late events), so when they have
grown by half, those that left are cut off the front, looking at each once; a
compaction, which merges a bucket's cells of one key, runs only when late writes
(which may repeat a key) made much of the growth, and before bucket numbers wrap.

A bucket wider than a stage (a 1h ring's: twelve stages of ten seconds) is gathered:
the ring (``gathers``) adds its newest bucket's values into a dict, read with the cells,
and writes them as cells once, when a newer bucket is written or :meth:`Ring.settle`
is called. A bucket written in several stages all the same (a late one, or one of a
ring that does not gather) has each stage append cells of its own, merged into one
a key when a newer bucket opens; past ``_INDEXED`` cells they are merged and then
found by key (a dict), so each later stage adds to them. Either way a bucket holds
about a cell a key, and only a domain busy enough to need the dict pays for one (a
dict for every domain was an eighth of a domain's memory).

Pure code: no clock, no I/O.
"""

from __future__ import annotations

from array import array
from typing import Any, Final

from sesd.core.events import EVENT_TYPES
from sesd.core.sketch import MAX_BUCKET
from sesd.core.windows.cells import (
    BUCKET_MASK,
    BUCKET_SHIFT,
    CELL_MAX,
    COUNT_SHIFT,
    KEY_MASK,
    LOW_MASK,
    PLACE_MASK,
    append_all,
    append_merged,
    value_key,
)
from sesd.core.windows.ring_reads import KINDS, RingReads

__all__ = ["KINDS", "NEVER", "Ring", "value_key"]

_T: Final = len(EVENT_TYPES)
#: What ``head`` is before any write.
NEVER: Final = -(2**62)
#: The kind whose values are codes, not sketch buckets: a cause's index, or the one
#: (255) of recipients a suppression list kept SES from sending to.
_CODES: Final = 3

#: Cells written since the newest bucket's first write past which its cells are found
#: by key. A dict of a few keys takes 232-360 bytes, the room of 60-90 cells; a busy
#: domain passes 24 cells in its first stage or two.
_INDEXED: Final = 24
#: Buckets a ring may hold (so that stale cells are dropped before the numbers wrap).
MAX_SLOTS: Final = 3600
#: The largest cell: its count at CELL_MAX, and every other bit set (2**32 - 1).
_CELL_TOP: Final = CELL_MAX << COUNT_SHIFT | LOW_MASK


class Ring(RingReads):
    """Counts and values per bucket for one window (see the module docstring)."""

    __slots__ = (
        "_late",
        "_newest",
        "_newest_bucket",
        "_newest_from",
        "_unmerged",
        "cells",
        "columns",
        "compacted",
        "gathers",
        "head",
        "pending",
        "pending_bucket",
        "purged",
        "slots",
        "width",
    )

    def __init__(self, width: float, slots: int, gathers: bool = False) -> None:
        if slots > MAX_SLOTS:
            raise ValueError(f"at most {MAX_SLOTS} buckets a window")
        self.width = width
        self.slots = slots
        self.head = NEVER
        # One column per event type, made on first use (a domain sees a few of eleven):
        # its count per slot, then the held buckets' total in a low and a high word.
        self.columns: list[array[int] | None] = [None] * _T
        self.cells: array[int] | None = None
        self.compacted = 0  # cells after the last compaction or cut
        self.purged = NEVER  # head at the last compaction
        self._late = 0  # cells written to an older bucket than the newest, since then
        # The newest bucket written, where its cells start (the tail, with any late
        # cells since), the writes to the tail, and past _INDEXED, value key -> its
        # cell's index. Forgotten whenever cells move (a compaction, clear, restore).
        self._newest_bucket = NEVER
        self._newest_from = 0
        self._unmerged = 0
        self._newest: dict[int, int] | None = None
        # A ring whose buckets are written in several stages (``gathers``) adds the values
        # of its newest bucket into ``pending`` and writes them as cells once, when a
        # newer bucket is written or :meth:`settle` is called. Its twelve stages of cells
        # cost 2,300 instructions an event more (bench/pipeline.py's, under cachegrind).
        self.gathers = gathers
        self.pending: dict[int, int] | None = None
        self.pending_bucket = NEVER

    # --- write side ------------------------------------------------------------

    def place(self, bucket: int, now: float) -> bool:
        """Make ``bucket`` writable, moving ``head`` on if it is newer; False when the
        ring cannot keep it (it is older than every bucket held). The clock's bucket is
        found only then (a Unix time's floor division and int(): 1,250 instructions a
        ring, three a stage opened)."""
        head, slots = self.head, self.slots
        if bucket > head:
            self._advance(bucket)
            return True
        if bucket > head - slots:
            return True
        now_bucket = int(now // self.width)
        if now_bucket <= head - slots and bucket > now_bucket - slots:
            # Everything held is ahead of the clock (it stepped back by more than
            # the window), and this bucket is inside the window now: start again here.
            self._clear()
            self.head = self.purged = bucket
            return True
        return False

    def add(self, bucket: int, type_index: int, n: int) -> None:
        """Count ``n`` recipients of a type in a bucket :meth:`place` accepted."""
        self.add_counts(bucket, [(type_index, n)])

    def add_counts(self, bucket: int, counted: list[tuple[int, int]]) -> None:
        """:meth:`add` for each (type index, n) of a stage: one call a flush, not one a
        type."""
        columns, at = self.columns, bucket % self.slots
        for type_index, n in counted:
            column = columns[type_index]
            if column is None:
                column = self.column(type_index)
            column[at] += n
            try:
                column[-2] += n
            except OverflowError:  # past 2**32 - 1 in all: the carry into the high word
                total = column[-2] + n
                column[-2], column[-1] = total & 0xFFFFFFFF, column[-1] + (total >> 32)

    def column(self, type_index: int) -> array[int]:
        """The counts of a type per slot and their total, made on first use."""
        column = self.columns[type_index]
        if column is None:
            column = self.columns[type_index] = array("I", bytes(4 * (self.slots + 2)))
        return column

    def add_values(self, bucket: int, values: dict[int, int]) -> None:
        """Record values (:func:`value_key` -> how many) in a bucket :meth:`place` accepted."""
        if self.gathers and bucket >= self.pending_bucket:
            pending = self.pending
            if bucket == self.pending_bucket and pending is not None:
                get = pending.get
                for key, n in values.items():
                    pending[key] = get(key, 0) + n
                return
            self.settle()
            self.pending, self.pending_bucket = dict(values), bucket
            return
        self._write_values(bucket, values)

    def settle(self) -> None:
        """Write the pending values (see ``__init__``) as cells, if their bucket is held."""
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        if self.pending_bucket > self.head - self.slots:
            self._write_values(self.pending_bucket, pending)

    def _write_values(self, bucket: int, values: dict[int, int]) -> None:
        """:meth:`add_values` in cells."""
        cells = self.cells
        if cells is None:
            cells = self.cells = array("I")
        where = (bucket & BUCKET_MASK) << BUCKET_SHIFT
        newest = bucket == self._newest_bucket
        if newest and self._newest is None and len(cells) - self._newest_from > _INDEXED:
            self._index_newest(cells, where)
        if newest and self._newest is not None:
            self._add_to_newest(cells, where, values)
        else:
            if bucket > self._newest_bucket:
                if self._newest is None and self._unmerged > 1:
                    self._merge_tail(cells)  # the last bucket's stages: a cell a key
                self._newest_bucket, self._newest_from = bucket, len(cells)
                self._newest, self._unmerged = None, 0
            elif bucket < self._newest_bucket:
                self._late += len(values)  # may repeat keys of its bucket's cells
            append_all(cells, where, values)
            self._unmerged += 1
        if len(cells) > self.compacted + (self.compacted >> 1) + 32:
            if 4 * self._late > len(cells):
                self._compact()
            else:
                self._cut_stale(cells)

    def _merge_tail(self, cells: array[int]) -> None:
        """Merge the cells written since the newest bucket's first write that share a
        bucket and key (late cells of older buckets among them too), in the order
        first written."""
        tail = cells[self._newest_from :]
        del cells[self._newest_from :]
        append_merged(cells, tail)
        self._unmerged = 0

    def _index_newest(self, cells: array[int], where: int) -> None:
        """Find the newest bucket's cells by key from now on (its tail merged first)."""
        if self._unmerged > 1:
            self._merge_tail(cells)
        newest = self._newest = {}
        for index in range(self._newest_from, len(cells)):
            cell = cells[index]
            if cell & PLACE_MASK == where:
                newest[cell & KEY_MASK] = index

    def _add_to_newest(self, cells: array[int], where: int, values: dict[int, int]) -> None:
        """Add ``values`` to the newest bucket's cells (``where``: the bucket, shifted
        into place), a key's cell where it has room, a new cell where it has none."""
        newest = self._newest
        assert newest is not None
        for key, n in values.items():
            at = newest.get(key)
            if at is not None:
                # The count is a cell's top byte: the sum passes 32 bits exactly when
                # the count would pass CELL_MAX (one addition and one comparison, not
                # a shift out, a sum, a comparison and a shift in: 500 instructions a
                # key fewer, counted under cachegrind).
                cell = cells[at] + (n << COUNT_SHIFT)
                if cell <= _CELL_TOP:
                    cells[at] = cell
                    continue
            while n > CELL_MAX:
                cells.append(CELL_MAX << COUNT_SHIFT | where | key)
                n -= CELL_MAX
            newest[key] = len(cells)
            cells.append(n << COUNT_SHIFT | where | key)

    def _cut_stale(self, cells: array[int]) -> None:
        """Drop the cells at the front whose buckets left the ring: up to the first
        held one (stale cells of late writes after it wait for a later cut)."""
        head, slots = self.head, self.slots
        stale = 0
        for cell in cells:
            if (head - (cell >> BUCKET_SHIFT)) & BUCKET_MASK < slots:
                break
            stale += 1
        if stale:
            del cells[:stale]
            if self._newest_from >= stale:
                self._newest_from -= stale
                self._newest = None  # its indices moved: found again from its next write
            else:
                self._forget_newest()  # the newest bucket written has left too
        self.compacted = len(cells)

    def _advance(self, bucket: int) -> None:
        """Move ``head`` to ``bucket``, dropping the buckets that leave the ring."""
        slots, head = self.slots, self.head
        if bucket - head >= slots:
            self._clear()
            self.head = self.purged = bucket
            return
        # The slots of buckets head+1..bucket: one run, or two where it wraps around.
        start, steps = (head + 1) % slots, bucket - head
        if steps == 1:
            # One bucket on (three moves in four): its slot's counts leave, read and
            # zeroed in place, not through a slice, its sum and a new array.
            for column in self.columns:
                if column is not None and column[start]:
                    total = (column[-1] << 32 | column[-2]) - column[start]
                    column[-2], column[-1] = total & 0xFFFFFFFF, total >> 32
                    column[start] = 0
        else:
            runs = [(start, min(start + steps, slots))]
            if start + steps > slots:
                runs.append((0, start + steps - slots))
            for column in self.columns:
                if column is not None:
                    for first, last in runs:
                        gone = sum(column[first:last])
                        if gone:
                            total = (column[-1] << 32 | column[-2]) - gone
                            column[-2], column[-1] = total & 0xFFFFFFFF, total >> 32
                            column[first:last] = array("I", bytes(4 * (last - first)))
        self.head = bucket
        if self.cells and bucket - self.purged > BUCKET_MASK - 2 * slots:
            self._compact()  # before a stale cell's bucket number could wrap

    def _clear(self) -> None:
        self.columns = [None] * _T
        self.cells = self.pending = None
        self.pending_bucket = NEVER
        self.compacted = self._late = 0
        self._forget_newest()

    def _forget_newest(self) -> None:
        """The cells moved: the next write starts a tail again."""
        self._newest_bucket = NEVER
        self._newest_from = len(self.cells or ())
        self._newest, self._unmerged = None, 0

    def _compact(self) -> None:
        """Merge cells of the same bucket and key, and drop those of buckets no longer
        held (a cell's bucket is never 2**14 buckets behind head)."""
        head, slots = self.head, self.slots
        held = (c for c in self.cells or () if (head - (c >> BUCKET_SHIFT)) & BUCKET_MASK < slots)
        cells = array("I")
        append_merged(cells, held)
        self.cells = cells
        self.compacted = len(cells)
        self.purged = self.head
        self._late = 0
        self._forget_newest()

    # --- state file ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain data for the state file (the pending values among the cells)."""
        cells, bucket = self.cells or array("I"), self.pending_bucket
        if self.pending is not None and bucket > self.head - self.slots:
            cells = cells[:]  # a copy: a read changes nothing
            append_all(cells, (bucket & BUCKET_MASK) << BUCKET_SHIFT, self.pending)
        return {
            "head": self.head,
            "columns": {i: c[:-2].tobytes() for i, c in enumerate(self.columns) if c is not None},
            "cells": cells.tobytes(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned (for the same layout)."""
        columns: list[array[int] | None] = [None] * _T
        for i, raw in data["columns"].items():
            column = array("I")
            column.frombytes(raw)
            if len(column) != self.slots:
                raise ValueError("window layout changed")
            total = sum(column)
            column.extend((total & 0xFFFFFFFF, total >> 32))
            columns[int(i)] = column
        cells = array("I")
        cells.frombytes(data["cells"])
        if any(c & 0xFF > MAX_BUCKET and (c >> 8) & 3 != _CODES for c in cells):
            raise ValueError("a value of no known size")
        self.head, self.columns = int(data["head"]), columns
        self.cells = cells or None
        self.pending, self.pending_bucket = None, NEVER
        self.compacted = len(cells)
        self._compact()
