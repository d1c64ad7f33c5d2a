"""Ring.moved_over written with ranges and filter() answers as it did when it built a
list of the buckets moved over and tested every column for None, that form kept here
as the reference: over rings wider than a few buckets whose writes wrap around, with
counts in several columns and values, a stage anywhere, bounds behind the head (a
clock stepped back), further apart than the ring, and equal; and over rings that gather
their newest bucket's values aside (Ring.gathers), as the state file holds them."""

from __future__ import annotations

from array import array

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.events import EVENT_TYPES
from sesd.core.windows.cells import BUCKET_MASK, BUCKET_SHIFT, value_key
from sesd.core.windows.ring import Ring

_T = len(EVENT_TYPES)


def listed_moved_over(ring: Ring, a: int, b: int, values: bool, stage: int | None) -> bool:
    """Ring.moved_over with its list of buckets (the reference)."""
    head, slots = ring.head, ring.slots
    start_a, start_b = (a if a > head else head) - slots, (b if b > head else head) - slots
    end_a, end_b, first = (a if a < head else head), (b if b < head else head), head - slots
    moved = [*range(start_a + 1, (start_b if start_b < head else head) + 1)]
    moved += range((end_a if end_a > first else first) + 1, end_b + 1)
    if stage in moved:
        return False
    for column in ring.columns:
        if column is not None:
            for bucket in moved:
                if column[bucket % slots]:
                    return False
    cells = array("I", ring.snapshot()["cells"])  # the cells and the values gathered aside
    if values and cells:
        for cell in cells:
            if head - ((head - (cell >> BUCKET_SHIFT)) & BUCKET_MASK) in moved:
                return False
    return True


#: A ring's writes: (bucket, now's bucket, event type, how many; 0 for a value instead),
#: spread over several turns of the ring, now sometimes far behind (a clock stepped back).
_WRITES = st.lists(
    st.tuples(st.integers(0, 60), st.integers(-5, 70), st.integers(0, _T - 1), st.integers(0, 3)),
    max_size=20,
)


def _ring(slots: int, writes: list[tuple[int, int, int, int]], gathers: bool = False) -> Ring:
    ring = Ring(10.0, slots, gathers)
    for bucket, now_bucket, type_index, n in writes:
        if ring.place(bucket, max(bucket, now_bucket) * ring.width):
            if n:
                ring.add(bucket, type_index, n)
            else:
                ring.add_values(bucket, {value_key(type_index % 4, type_index): 1})
    return ring


@settings(max_examples=400, deadline=None)
@given(
    slots=st.integers(1, 12),
    writes=_WRITES,
    a=st.integers(-15, 80),
    gap=st.integers(0, 30),
    stage=st.none() | st.integers(-15, 80),
    values=st.booleans(),
    gathers=st.booleans(),
)
def test_moved_over_answers_as_the_listed_form(
    slots: int,
    writes: list[tuple[int, int, int, int]],
    a: int,
    gap: int,
    stage: int | None,
    values: bool,
    gathers: bool,
) -> None:
    ring = _ring(slots, writes, gathers)
    b = a + gap
    assert ring.moved_over(a, b, values, stage) == listed_moved_over(ring, a, b, values, stage)


@settings(max_examples=200, deadline=None)
@given(slots=st.integers(2, 12), writes=_WRITES, values=st.booleans(), stage=st.booleans())
def test_one_bucket_past_the_head_as_the_listed_form(
    slots: int, writes: list[tuple[int, int, int, int]], values: bool, stage: bool
) -> None:
    """The usual call: the clock one bucket on, past the newest bucket written, the
    bucket leaving the window sometimes holding a count or a value, or the stage."""
    ring = _ring(slots, writes)
    for a in range(ring.head, ring.head + slots + 2):
        at = a + 1 - slots if stage else None
        expected = listed_moved_over(ring, a, a + 1, values, at)
        assert ring.moved_over(a, a + 1, values, at) == expected


@settings(max_examples=300, deadline=None)
@given(
    slots=st.integers(1, 12),
    writes=_WRITES,
    a=st.integers(-15, 80),
    gap=st.integers(0, 30),
    bound=st.sampled_from(["a", "b", "head", "a-slots", "b-slots", "head-slots"]),
    offset=st.integers(-1, 1),
    values=st.booleans(),
)
def test_a_stage_at_a_bound_as_the_listed_form(
    slots: int,
    writes: list[tuple[int, int, int, int]],
    a: int,
    gap: int,
    bound: str,
    offset: int,
    values: bool,
) -> None:
    """A stage on (or next to) a bound of the buckets moved over, where a stage drawn
    anywhere seldom falls: each range is open at its start and closed at its end."""
    ring = _ring(slots, writes)
    b = a + gap
    at = {"a": a, "b": b, "head": ring.head}[bound.split("-")[0]]
    stage = at - (slots if bound.endswith("-slots") else 0) + offset
    assert ring.moved_over(a, b, values, stage) == listed_moved_over(ring, a, b, values, stage)
