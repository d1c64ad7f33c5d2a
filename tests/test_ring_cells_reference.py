"""A busy bucket's cells, found by key, take each stage's values as the form that
shifted a cell's count out, summed and compared it did (kept here as the reference): a
key's newest cell is filled while its count stays at most 255, and a stage that would
pass it takes full cells and one for the rest. Held over buckets whose number fills
the cell's bucket bits (16,383, and past the 14 bits), keys whose bits are all set
(the suppressed code: a full cell of them is 2**32 - 1), and counts at 255 and past it.
Its counts per event type, moved on one bucket at a time (and further, and past a
wrap of the slots, and after the clock steps back, and after a restore), are held to
the counts of the buckets it holds."""

from __future__ import annotations

from collections import Counter

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.core.events import EVENT_TYPES
from sesd.core.windows.cells import BUCKET_SHIFT, CELL_MAX, COUNT_SHIFT, KEY_MASK, PLACE_MASK
from sesd.core.windows.ring import _INDEXED, Ring, value_key

#: Keys of a busy bucket: one with every bit set, one with none, and more to pass _INDEXED.
_KEYS = [value_key(3, 255), value_key(0, 0), *(value_key(1, i) for i in range(_INDEXED + 4))]
_COUNT = st.sampled_from([1, 2, 127, 128, 253, 254, 255, 256, 510, 511]) | st.integers(1, 700)
_STAGE = st.dictionaries(st.sampled_from(_KEYS[:4]), _COUNT, min_size=1, max_size=3)


def _filled(cells: list[int], n: int) -> None:
    """The reference: ``n`` more values of a key whose newest cell counts ``cells[-1]``."""
    if cells[-1] + n <= CELL_MAX:
        cells[-1] += n
        return
    while n > CELL_MAX:
        cells.append(CELL_MAX)
        n -= CELL_MAX
    cells.append(n)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from([100, 2**14 - 1, 2**14, 2**15 - 1]), st.lists(_STAGE, max_size=12))
@example(2**14 - 1, [{value_key(3, 255): 254}])
def test_a_busy_buckets_cells_take_a_stage_as_the_shifted_sum_did(
    bucket: int, stages: list[dict[int, int]]
) -> None:
    """Each key's cells in the bucket, in order, count what the reference gives."""
    ring = Ring(10.0, 8)
    assert ring.place(bucket, bucket * ring.width)
    ring.add_values(bucket, dict.fromkeys(_KEYS, 1))  # from the next stage, found by key
    expected = {key: [1] for key in _KEYS}
    for stage in stages:
        ring.add_values(bucket, stage)
        for key, n in stage.items():
            _filled(expected[key], n)
    assert ring.cells is not None
    where = (bucket << BUCKET_SHIFT) & PLACE_MASK
    found: dict[int, list[int]] = {}
    for cell in ring.cells:
        assert cell & PLACE_MASK == where
        found.setdefault(cell & KEY_MASK, []).append(cell >> COUNT_SHIFT)
    assert found == expected


_T = len(EVENT_TYPES)
#: A write: how far on (or back) from the newest bucket so far, the clock's bucket then
#: against the newest (behind it: stepped back), and how many of each of a few event
#: types (some past half a slot's bound, so totals pass 2**32); or a restore (None).
_WRITE = st.none() | st.tuples(
    st.sampled_from([1, 1, 1, 1, 1, 0, 2, -1, -3]) | st.integers(-12, 12),
    st.sampled_from([0, 0, -20]),
    st.dictionaries(st.integers(0, 2), st.sampled_from([1, 3, 2**31 + 1]), min_size=1),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(1, 6), st.lists(_WRITE, max_size=40))
@example(2, [(0, 0, {0: 1}), (1, 0, {1: 2}), (1, 0, {0: 3})])
def test_counts_moved_on_a_bucket_at_a_time_are_those_of_the_buckets_held(
    slots: int, writes: list[tuple[int, int, dict[int, int]] | None]
) -> None:
    """However the ring moves (a bucket on, most often, past the end of its slots; a
    clock stepped back; a restore between), its counts read at its head are the sums
    of the counts written to the buckets it holds."""
    ring = Ring(10.0, slots)
    written: dict[int, Counter[int]] = {}
    newest = 1000
    for write in writes:
        if write is None:
            again = Ring(10.0, slots)
            again.restore(ring.snapshot())
            ring = again
            continue
        on, behind, counted = write
        bucket, now_bucket = newest + on, newest + on + behind
        if not ring.place(bucket, now_bucket * ring.width):
            continue
        if ring.head < newest:
            written = {}  # the clock stepped back past the window: started again
        newest = ring.head
        written = {b: c for b, c in written.items() if b > newest - slots}
        held = written.setdefault(bucket, Counter())
        # A slot holds at most 2**32 - 1 (the windows' totals may pass it).
        fits = [(i, n) for i, n in counted.items() if held[i] + n < 2**32]
        ring.add_counts(bucket, fits)
        held.update(dict(fits))
    for now_bucket in (ring.head, ring.head - 1):
        totals: Counter[int] = Counter()
        for b, held in written.items():
            if b <= now_bucket:
                totals.update(held)
        assert ring.counts(now_bucket) == [totals[i] for i in range(_T)]
