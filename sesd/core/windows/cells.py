"""The packed cells a ring (sesd.core.windows.ring) keeps its values in: one unsigned
32-bit word a cell, in one ``array('I')``, a Python object per bucket costing more
than the counts it holds. A cell is a count (8 bits), its bucket modulo 2**14 (14
bits), and its value key: the kind of value (2 bits) and its sketch bucket (8 bits,
sesd.core.sketch). A count past a cell's takes several. Pure code.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Final

__all__ = [
    "BUCKET_MASK",
    "BUCKET_SHIFT",
    "CELL_MAX",
    "COUNT_SHIFT",
    "KEY_MASK",
    "LOW_MASK",
    "PLACE_MASK",
    "append_all",
    "append_merged",
    "value_key",
]

# A cell: count (8 bits) | bucket modulo 2**14 (14 bits) | kind (2 bits) | sketch bucket (8).
BUCKET_SHIFT: Final = 10
BUCKET_MASK: Final = (1 << 14) - 1
COUNT_SHIFT: Final = 24
CELL_MAX: Final = (1 << 8) - 1
LOW_MASK: Final = (1 << COUNT_SHIFT) - 1
#: A cell's bucket bits, and its value key's (kind and sketch bucket).
PLACE_MASK: Final = BUCKET_MASK << BUCKET_SHIFT
KEY_MASK: Final = (1 << BUCKET_SHIFT) - 1


def value_key(kind: int, sketch_bucket: int) -> int:
    """The key a value is staged and stored under."""
    return kind << 8 | sketch_bucket


def append_all(cells: array[int], where: int, counts: dict[int, int]) -> None:
    """Record ``counts`` (key -> how many) under ``where`` (a bucket, shifted into
    place, or 0 when the keys hold it), each in as many cells as a cell's count needs.
    One call for all of them: a flush writes dozens."""
    append = cells.append
    for key, n in counts.items():
        low = where | key
        while n > CELL_MAX:
            append(CELL_MAX << COUNT_SHIFT | low)
            n -= CELL_MAX
        append(n << COUNT_SHIFT | low)


def append_merged(out: array[int], cells: Iterable[int]) -> None:
    """Append ``cells`` to ``out`` merged by bucket and key, in the order first seen."""
    merged: dict[int, int] = {}
    get = merged.get
    for cell in cells:
        low = cell & LOW_MASK
        merged[low] = get(low, 0) + (cell >> COUNT_SHIFT)
    append_all(out, 0, merged)
