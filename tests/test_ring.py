"""One window's ring, on its own: what a read counts at every position of the clock
against the newest bucket, values past a cell's capacity, and the state file form."""

from __future__ import annotations

import pytest

from sesd.dedup import DuplicateFilter
from sesd.events import EVENT_TYPE_INDEX
from sesd.sketch import MAX_BUCKET
from sesd.windows.ring import Ring, value_key

DELIVERY = EVENT_TYPE_INDEX["delivery"]


def ring_with_one_per_bucket() -> Ring:
    """Slots 10; buckets 100..109 hold 1, 2, ..., 10 deliveries."""
    ring = Ring(10.0, 10)
    for i, bucket in enumerate(range(100, 110)):
        assert ring.place(bucket, bucket)
        ring.add(bucket, DELIVERY, i + 1)
    return ring


@pytest.mark.parametrize(
    ("now_bucket", "expected"),
    [
        (109, sum(range(1, 11))),  # the clock at the newest bucket: all of them
        (110, sum(range(2, 11))),  # one on: the oldest has left the window
        (118, 10),  # nine on: only the newest
        (119, 0),  # ten on: none
        (150, 0),
        (108, sum(range(1, 10))),  # the clock behind the newest bucket: up to it
        (100, 1),  # at the oldest held bucket
        (99, 0),  # before everything held
        (60, 0),
    ],
)
def test_a_read_counts_the_held_buckets_inside_the_window(now_bucket: int, expected: int) -> None:
    """Whatever the clock says, a read counts exactly the held buckets inside the window
    ending at it, ahead of the newest bucket or behind it, and changes nothing."""
    ring = ring_with_one_per_bucket()
    assert ring.counts(now_bucket)[DELIVERY] == expected
    assert ring.counts(109)[DELIVERY] == sum(range(1, 11))


def test_values_past_a_cells_capacity_and_at_the_edges() -> None:
    """600 values of one kind and bucket (more than a cell counts) read back as 600,
    and 700 after a hundred more set off a compaction; the largest bucket of the sketch
    is kept; a read whose window holds nothing of the ring reads nothing."""
    ring = Ring(10.0, 10)
    ring.place(100, 100)
    ring.add_values(100, {value_key(0, 12): 600, value_key(2, MAX_BUCKET): 1})
    assert ring.values(100)[0] == {12: 600}
    assert ring.values(100)[2] == {MAX_BUCKET: 1}
    for _ in range(100):  # enough cells to set off a compaction, which merges them
        ring.add_values(100, {value_key(0, 12): 1})
    assert ring.cells is not None
    assert len(ring.cells) < 100
    assert ring.values(100)[0] == {12: 700}
    assert ring.values(110)[0] == {}  # the window at 110 no longer holds bucket 100
    assert ring.values(99)[0] == {}


def test_the_state_file_form_round_trips() -> None:
    """Counts and values (counts of 128 and more too), a ring without values, and the
    ring keeps working after a restore."""
    ring = ring_with_one_per_bucket()
    ring.add_values(109, {value_key(1, 20): 200})
    copy = Ring(10.0, 10)
    copy.restore(ring.snapshot())
    assert copy.counts(109) == ring.counts(109)
    assert copy.values(109) == ring.values(109)
    copy.add_values(109, {value_key(1, 20): 1})
    assert copy.values(109)[1] == {20: 201}
    empty = Ring(10.0, 10)
    again = Ring(10.0, 10)
    again.restore(empty.snapshot())
    assert again.values(0) == [{}, {}, {}]


def test_a_damaged_ring_says_why() -> None:
    """A column of another length, or a value of no known kind, is refused with a reason."""
    ring = ring_with_one_per_bucket()
    data = ring.snapshot()
    with pytest.raises(ValueError, match="window layout changed"):
        Ring(10.0, 12).restore(data)
    bad = dict(data, cells=(3 << 8 | 1 << 24).to_bytes(4, "little"))
    with pytest.raises(ValueError, match="a value of no known kind or size"):
        Ring(10.0, 10).restore(bad)


def test_the_duplicate_filters_generation_survives_a_restore() -> None:
    """A restored filter keeps rotating on the old generation's clock: a key seen before
    the restart is forgotten two horizons after that generation began."""
    before = DuplicateFilter(horizon=10, max_entries=1000)
    before.seen(1, 0.0)
    after = DuplicateFilter(horizon=10, max_entries=1000)
    after.restore(before.snapshot())
    assert not after.seen(2, 10.0)  # rotates: {1, 2} is now the previous generation
    assert not after.seen(3, 20.0)  # rotates again: {1, 2} is gone
    assert not after.seen(1, 20.5)
