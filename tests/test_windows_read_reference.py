"""The windows' reads written for speed (Ring.counts in one loop, Ring.moved_over
without min() and max(), DomainWindows.counts' stage check and sum written out, the
pipeline's inline WindowSpec.holds) answer as the plain forms they replaced, kept here
as references: over rings with a clock stepped back, windows read at bounds further
apart than the ring, and equal bounds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.events import EVENT_TYPES
from sesd.core.windows import DomainWindows, WindowSpec
from sesd.core.windows.cells import BUCKET_MASK, BUCKET_SHIFT, value_key
from sesd.core.windows.ring import Ring

_T = len(EVENT_TYPES)


def reference_counts(ring: Ring, now_bucket: int) -> list[int]:
    """Ring.counts as it was written before its one loop (the reference)."""
    head, slots = ring.head, ring.slots
    if now_bucket >= head:
        behind = now_bucket - head
        if behind >= slots:
            return [0] * _T
        out = [0 if column is None else column[-1] << 32 | column[-2] for column in ring.columns]
        leaving = range(head - slots + 1, head - slots + 1 + behind)
    else:
        out = [0] * _T
        lo = head - slots
        if now_bucket <= lo:
            return out
        leaving = range(lo + 1, now_bucket + 1)
    sign = -1 if now_bucket >= head else 1
    for i, column in enumerate(ring.columns):
        if column is not None:
            for b in leaving:
                out[i] += sign * column[b % slots]
    return out


def reference_moved(ring: Ring, a: int, b: int) -> list[int]:
    """The buckets Ring.moved_over looked at, as it found them with min() and max()."""
    head, slots = ring.head, ring.slots
    return [
        *range(max(a, head) - slots + 1, min(max(b, head) - slots, head) + 1),
        *range(max(min(a, head), head - slots) + 1, min(b, head) + 1),
    ]


def reference_moved_over(ring: Ring, a: int, b: int, values: bool, stage: int | None) -> bool:
    """Ring.moved_over as it was written with min() and max() (the reference)."""
    moved = reference_moved(ring, a, b)
    if stage in moved:
        return False
    for column in ring.columns:
        if column is not None:
            for bucket in moved:
                if column[bucket % ring.slots]:
                    return False
    if values and ring.cells:
        head = ring.head
        for cell in ring.cells:
            if head - ((head - (cell >> BUCKET_SHIFT)) & BUCKET_MASK) in moved:
                return False
    return True


#: A ring's writes: (bucket, now's bucket, event type, how many), a bucket behind now
#: as often as not, and now sometimes far behind the head (a clock stepped back).
_WRITES = st.lists(
    st.tuples(st.integers(0, 30), st.integers(-5, 40), st.integers(0, _T - 1), st.integers(0, 3)),
    max_size=12,
)


def _ring(slots: int, writes: list[tuple[int, int, int, int]]) -> Ring:
    """A ring of ``slots`` buckets after ``writes``: a count, or with none a value."""
    ring = Ring(10.0, slots)
    for bucket, now_bucket, type_index, n in writes:
        if ring.place(bucket, max(bucket, now_bucket) * ring.width):
            if n:
                ring.add(bucket, type_index, n)
            else:
                ring.add_values(bucket, {value_key(0, type_index): 1})
    return ring


@settings(max_examples=200, deadline=None)
@given(slots=st.integers(1, 6), writes=_WRITES, now_bucket=st.integers(-10, 45))
def test_ring_counts_as_the_reference(
    slots: int, writes: list[tuple[int, int, int, int]], now_bucket: int
) -> None:
    ring = _ring(slots, writes)
    assert ring.counts(now_bucket) == reference_counts(ring, now_bucket)


@settings(max_examples=200, deadline=None)
@given(
    slots=st.integers(1, 6),
    writes=_WRITES,
    a=st.integers(-10, 45),
    gap=st.integers(0, 20),
    stage=st.none() | st.integers(-5, 45),
    values=st.booleans(),
)
def test_ring_moved_over_as_the_reference(
    slots: int,
    writes: list[tuple[int, int, int, int]],
    a: int,
    gap: int,
    stage: int | None,
    values: bool,
) -> None:
    """Equal bounds (gap 0), bounds further apart than the ring, bounds behind the
    head (a clock stepped back) and an empty ring (its head far in the past)."""
    ring = _ring(slots, writes)
    b = a + gap
    expected = reference_moved_over(ring, a, b, values, stage)
    assert ring.moved_over(a, b, values, stage) == expected


def reference_stage_in(windows: DomainWindows, index: int, now_bucket: int) -> bool:
    """DomainWindows._stage_in as it was, through Ring.holds (the reference)."""
    ring = windows._rings[index]
    return bool(windows._accepted >> index & 1) and ring.holds(
        windows._stage // windows._ratios[index], now_bucket
    )


_SPECS = [WindowSpec("30s", 30.0, 10.0, 3), WindowSpec("2m", 120.0, 30.0, 4)]


@settings(max_examples=200, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 400), st.integers(0, _T - 1)),
        min_size=1,
        max_size=8,
    ),
    read_at=st.integers(-50, 600),
)
def test_domain_counts_as_the_reference(writes: list[tuple[int, int, int]], read_at: int) -> None:
    """A stage still unflushed, written before or after a clock stepped back, read at
    any time: its check and its sum agree with the plain forms."""
    windows = DomainWindows(_SPECS)
    for t, clock, type_index in writes:
        windows.count(float(min(t, clock)), float(clock), type_index)
    now = float(read_at)
    for index, ring in enumerate(windows._rings):
        now_bucket = int(now // ring.width)
        expected_in = reference_stage_in(windows, index, now_bucket)
        assert windows._stage_in(index, now_bucket) == expected_in
        counts = ring.counts(now_bucket)
        staged = windows._staged_counts
        if staged is not None and expected_in:
            counts = [x + y for x, y in zip(counts, staged, strict=True)]
        assert windows.counts(index, now) == tuple(counts)
        # A read changes nothing a later read returns (the sum is not into a kept list).
        assert windows.counts(index, now) == tuple(counts)
