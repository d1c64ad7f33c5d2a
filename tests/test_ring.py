"""One window's ring, on its own: what a read counts at every position of the clock
against the newest bucket, values past a cell's capacity, and the state file form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.dedup import DuplicateFilter
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.sketch import MAX_BUCKET
from sesd.core.windows.ring import Ring, value_key

DELIVERY = EVENT_TYPE_INDEX["delivery"]


def ring_with_one_per_bucket() -> Ring:
    """Slots 10; buckets 100..109 hold 1, 2, ..., 10 deliveries."""
    ring = Ring(10.0, 10)
    for i, bucket in enumerate(range(100, 110)):
        assert ring.place(bucket, bucket * ring.width)
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
    # Bucket by bucket, the same buckets: what a sparkline draws adds up to the count.
    series = ring.series(now_bucket, DELIVERY)
    assert len(series) == 10
    assert sum(series) == expected
    assert ring.series(109, DELIVERY) == list(range(1, 11))


def test_a_series_puts_each_bucket_in_its_place_and_zero_where_none_is_held() -> None:
    """The series of the window ending at a bucket lists its buckets oldest first: a
    bucket the ring does not hold (left behind, or ahead of the clock) reads 0, and a
    type never counted reads all zeros."""
    ring = ring_with_one_per_bucket()
    assert ring.series(112, DELIVERY) == [4, 5, 6, 7, 8, 9, 10, 0, 0, 0]
    assert ring.series(105, DELIVERY) == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6]
    assert ring.series(99, DELIVERY) == [0] * 10
    assert ring.series(109, EVENT_TYPE_INDEX["bounce"]) == [0] * 10


def test_values_past_a_cells_capacity_and_at_the_edges() -> None:
    """600 values of one kind and bucket (more than a cell counts) read back as 600,
    and 700 after a hundred more set off a compaction; the largest bucket of the sketch
    is kept; a read whose window holds nothing of the ring reads nothing."""
    ring = Ring(10.0, 10)
    ring.place(100, 100 * ring.width)
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
    assert again.values(0) == [{}, {}, {}, {}]


def test_a_damaged_ring_says_why() -> None:
    """A column of another length, or a value past the largest sketch bucket, is refused
    with a reason; a code of the fourth kind is no sketch bucket (the suppressed
    recipients' 255 is restored)."""
    ring = ring_with_one_per_bucket()
    ring.add_values(109, {value_key(3, 255): 2})
    data = ring.snapshot()
    restored = Ring(10.0, 10)
    restored.restore(data)
    assert restored.values(109)[3] == {255: 2}
    with pytest.raises(ValueError, match="window layout changed"):
        Ring(10.0, 12).restore(data)
    bad = dict(data, cells=(0 << 8 | (MAX_BUCKET + 1) | 1 << 24).to_bytes(4, "little"))
    with pytest.raises(ValueError, match=r"^a value of no known size$"):
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


def _values(ring: Ring, bucket: int, n: int = 1, sketch_bucket: int = 7) -> None:
    assert ring.place(bucket, bucket * ring.width)
    ring.add_values(bucket, {value_key(0, sketch_bucket): n})


def test_a_ring_holds_at_most_max_slots_buckets() -> None:
    from sesd.core.windows.ring import MAX_SLOTS

    assert Ring(1.0, MAX_SLOTS).slots == MAX_SLOTS
    with pytest.raises(ValueError, match=r"^at most 3600 buckets a window$"):
        Ring(1.0, MAX_SLOTS + 1)


def test_a_full_cell_holds_255_values_and_one_more_takes_another() -> None:
    """A cell's count is 8 bits: 255 values of one key are one cell, 256 are two."""
    ring = Ring(10.0, 10)
    _values(ring, 100, 255)
    assert ring.cells is not None
    assert len(ring.cells) == 1
    _values(ring, 101, 256)
    assert len(ring.cells) == 3
    assert ring.values(101)[0] == {7: 511}


def test_moving_a_whole_window_on_lets_every_value_go() -> None:
    """A write a whole window (or more) ahead clears the ring at once, values too."""
    ring = Ring(10.0, 10)
    _values(ring, 100)
    assert ring.place(110, 110 * ring.width)
    assert ring.cells is None
    assert ring.values(110) == [{}, {}, {}, {}]


def test_a_move_that_wraps_around_the_slots_clears_both_runs() -> None:
    """Four slots holding buckets 2..5 (one delivery each); a write at 8 drops 2, 3 and
    4, whose slots (2, 3 and then 0) lie on both sides of the end of the slots."""
    ring = Ring(10.0, 4)
    for bucket in range(2, 6):
        assert ring.place(bucket, bucket * ring.width)
        ring.add(bucket, DELIVERY, 1)
    assert ring.place(8, 8 * ring.width)
    assert ring.counts(8)[DELIVERY] == 1  # bucket 5 alone
    assert ring.column(DELIVERY)[-2] == 1  # the running total too (its low word)


@pytest.mark.parametrize("first", [100, 1_764_806_400 // 10])
def test_a_move_of_head_does_not_rewrite_the_values(first: int) -> None:
    """Moving on by a bucket leaves the cells as they are (a compaction, which rewrites
    them, comes only before bucket numbers could wrap), at small bucket numbers and at
    a real clock's."""
    ring = Ring(10.0, 10)
    _values(ring, first)
    cells = ring.cells
    assert ring.place(first + 1, (first + 1) * ring.width)
    assert ring.cells is cells


@pytest.mark.parametrize("stages", [1, 3])
def test_cells_that_doubled_lose_the_buckets_that_left_without_a_rewrite(stages: int) -> None:
    """A value a stage, one or three stages a bucket, for 200 buckets, in a ring of 10:
    each time the cells grow by half, those of the buckets that left are cut off the
    front; the cells of the buckets held are not read and merged again (a compaction
    would rewrite them all: a bucket's own later stages are not late), and every read
    is what the held buckets hold."""
    ring = Ring(10.0, 10)
    _values(ring, 100, sketch_bucket=0)
    cells = ring.cells
    assert cells is not None
    longest = 0
    for bucket in range(100, 300):
        for _ in range(stages if bucket > 100 else stages - 1):
            _values(ring, bucket, sketch_bucket=bucket % 100)
            assert ring.cells is cells
            longest = max(longest, len(cells))
    # Cut past the cells kept at the last cut, half of them and 32: the ten held
    # merged, and the newest bucket's stages not merged yet.
    assert 10 + 5 + 32 <= longest <= 10 + 5 + 32 + stages
    assert ring.values(299)[0] == {b % 100: stages for b in range(290, 300)}
    assert ring.values(295)[0] == {b % 100: stages for b in range(290, 296)}


def test_late_values_of_one_bucket_are_merged_as_they_grow() -> None:
    """A stage of an older bucket than the newest adds a cell of its own: 500 late
    values of one key, one at a time, are merged into a few cells as they grow,
    and read back as 500."""
    ring = Ring(10.0, 10)
    _values(ring, 100)
    assert ring.place(95, 100 * ring.width)
    for _ in range(500):
        ring.add_values(95, {value_key(0, 3): 1})
    assert ring.cells is not None
    assert len(ring.cells) < 100
    assert ring.values(100)[0] == {7: 1, 3: 500}


def test_stale_values_are_dropped_before_their_bucket_numbers_wrap() -> None:
    """Cells store buckets modulo 2**14. A value written to the oldest held bucket,
    then 2**14 buckets of writes one bucket at a time: it must never be read as a
    value of the newest bucket."""
    ring = Ring(1.0, 10)
    assert ring.place(1000, 1000 * ring.width)
    ring.add_values(991, {value_key(0, 7): 1})  # the oldest bucket held, 991..1000
    for bucket in range(1001, 991 + (1 << 14) + 1):
        assert ring.place(bucket, bucket * ring.width)
        ring.add(bucket, DELIVERY, 1)
    assert ring.values(ring.head) == [{}, {}, {}, {}]


def test_a_restored_ring_keeps_only_the_values_of_buckets_it_holds() -> None:
    ring = Ring(10.0, 4)
    for bucket in range(100, 104):
        _values(ring, bucket)
    assert ring.place(104, 104 * ring.width)  # 100 leaves
    copy = Ring(10.0, 4)
    copy.restore(ring.snapshot())
    assert copy.cells is not None
    assert len(copy.cells) == 3
    assert copy.values(104)[0] == {7: 3}


def test_counts_and_values_survive_the_state_file_at_their_limits() -> None:
    """A slot's count uses all 32 bits; a cell's count all 8 (its top bit is the
    word's); the largest sketch bucket is a value like another."""
    ring = Ring(10.0, 4)
    assert ring.place(100, 100 * ring.width)
    ring.add(100, DELIVERY, 2**32 - 1)
    ring.add_values(100, {value_key(0, MAX_BUCKET): 200})
    copy = Ring(10.0, 4)
    copy.restore(ring.snapshot())
    assert copy.counts(100)[DELIVERY] == 2**32 - 1
    assert copy.values(100)[0] == {MAX_BUCKET: 200}


def test_a_ring_from_another_layout_says_so() -> None:
    snapshot = Ring(10.0, 4).snapshot()
    ring = Ring(10.0, 4)
    assert ring.place(100, 100 * ring.width)
    ring.add(100, DELIVERY, 1)
    with pytest.raises(ValueError, match=r"^window layout changed$"):
        Ring(10.0, 5).restore(ring.snapshot())
    Ring(10.0, 4).restore(snapshot)


@pytest.mark.parametrize(
    ("now_bucket", "bucket", "kept", "held_after"),
    [
        # The clock a little behind head (less than a window): an event older than
        # the ring is refused, and the ring keeps what it holds.
        (95, 88, False, 10),
        # The clock a window or more behind head: an event inside the window now
        # starts the ring again there...
        (90, 85, True, 1),
        (80, 71, True, 1),
        # ...but not one older than the window now.
        (80, 70, False, 10),
        (50, 30, False, 10),
    ],
)
def test_after_the_clock_steps_back_a_ring_starts_again_only_for_the_window_now(
    now_bucket: int, bucket: int, kept: bool, held_after: int
) -> None:
    ring = Ring(10.0, 10)
    for b in range(91, 101):  # head 100, one delivery a bucket
        assert ring.place(b, b * ring.width)
        ring.add(b, DELIVERY, 1)
    assert ring.place(bucket, now_bucket * ring.width) is kept
    if kept:
        ring.add(bucket, DELIVERY, 1)
    assert sum(ring.counts(ring.head)) == held_after  # from the running totals


def test_a_buckets_stages_are_merged_when_a_newer_bucket_opens() -> None:
    """A 2-minute bucket takes a 10-second stage at a time, each appending its cells;
    when the next bucket opens they are merged into one cell a key (as many as the
    counts need), the late stages of an older bucket between them into one of its own."""
    ring = Ring(120.0, 30)
    assert ring.place(100, 100 * ring.width)
    processing, to_delivery = value_key(0, 7), value_key(1, 9)
    ring.add_values(100, {processing: 3, to_delivery: 1})
    ring.add_values(99, {processing: 5})  # late
    for _ in range(4):
        ring.add_values(100, {processing: 3, to_delivery: 1})
    ring.add_values(99, {processing: 1})  # late again: the same key as the first
    ring.add_values(100, {to_delivery: 251})  # 5 + 251: one past a cell's 255
    assert ring.cells is not None
    assert len(ring.cells) == 2 + 1 + 8 + 1 + 1  # not merged yet
    assert ring.place(101, 101 * ring.width)
    ring.add_values(101, {processing: 1})
    assert len(ring.cells) == 5  # 15 | 255 + 1 | 6, then the new bucket's
    assert ring.values(100)[0] == {7: 15 + 6}  # the window ending at 100 holds 99
    assert ring.values(100)[1] == {9: 256}
    assert ring.values(99)[0] == {7: 6}  # the late bucket alone
    assert ring.values(101)[0] == {7: 15 + 6 + 1}
    assert ring.values(101)[1] == {9: 256}


def test_a_busy_buckets_cells_are_found_by_key_once_they_pass_a_few_dozen() -> None:
    """Stages written into the newest bucket without end (a busy domain, a clock that
    stalls): past _INDEXED cells they are merged and then added to by key, so they
    stay one a key, a late stage between them adding its own; reads are exact."""
    ring = Ring(120.0, 30)
    assert ring.place(100, 100 * ring.width)
    processing = [value_key(0, b) for b in range(5)]
    to_delivery = [value_key(1, b) for b in range(5)]
    lengths = []
    for stage in range(500):
        ring.add_values(100, {processing[stage % 5]: 1, to_delivery[(stage * 3) % 5]: 2})
        if stage == 250:
            ring.add_values(99, {processing[0]: 1})  # late
        assert ring.cells is not None
        lengths.append(len(ring.cells))
    # 24 cells and one stage's two; then ten, one a key (each key's count, 100 or
    # 200, fits one), and the late stage's.
    assert max(lengths) == 24 + 2
    assert lengths[-1] == 10 + 1
    assert ring.values(100)[:2] == [
        {0: 101, 1: 100, 2: 100, 3: 100, 4: 100},
        dict.fromkeys(range(5), 200),
    ]


def test_a_buckets_cells_fill_to_the_brim_and_no_further() -> None:
    """Merged, a cell takes counts up to 255 exactly, and a key past it a second cell;
    a count of 255 in one stage is one cell."""
    ring = Ring(120.0, 30)
    assert ring.place(100, 100 * ring.width)
    first, second, third = value_key(0, 1), value_key(0, 2), value_key(0, 3)
    ring.add_values(100, {first: 1})
    ring.add_values(100, {second: 250})
    ring.add_values(100, {second: 5, first: 254})  # 255 each: the cell's brim
    ring.add_values(100, {third: 255})
    ring.add_values(100, {third: 1})
    assert ring.place(101, 101 * ring.width)
    ring.add_values(101, {first: 1})
    assert ring.cells is not None
    assert len(ring.cells) == 5  # first, second, third twice; then bucket 101's
    assert ring.values(100)[0] == {1: 255, 2: 255, 3: 256}


def test_a_busy_buckets_cells_found_by_key_fill_to_the_brim_and_no_further() -> None:
    """Past _INDEXED cells, a stage adds to its key's cell up to 255 exactly; a key
    that would pass it takes a cell of its own."""
    ring = Ring(120.0, 30)
    assert ring.place(100, 100 * ring.width)
    keys = [value_key(0, b) for b in range(30)]
    ring.add_values(100, dict.fromkeys(keys, 1))  # 30 cells: found by key from now on
    ring.add_values(100, {keys[0]: 254, keys[1]: 255})  # the first's brim; past it
    assert ring.cells is not None
    assert len(ring.cells) == 30 + 1
    assert ring.values(100)[0] == {0: 255, 1: 256, **dict.fromkeys(range(2, 30), 1)}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.integers(-3, 2),  # the bucket written, against the newest so far
            # Up to 16 keys a stage: two stages of one bucket can pass _INDEXED.
            st.dictionaries(st.integers(0, 15), st.integers(1, 300), min_size=1),
        ),
        max_size=60,
    )
)
def test_values_read_what_was_written_however_stages_fall(
    writes: list[tuple[int, dict[int, int]]],
) -> None:
    """Any order of stages (newer buckets, the newest again, late ones), any counts:
    each bucket's values read as their sums, whichever cells hold them (appended,
    merged, found by key, cut or compacted)."""
    ring = Ring(10.0, 8)
    written: dict[int, dict[int, int]] = {}
    newest = 100
    for offset, values in writes:
        bucket = newest + offset
        if not ring.place(bucket, (newest + max(offset, 0)) * ring.width):
            continue
        newest = max(newest, bucket)
        keyed = {value_key(0, sketch): n for sketch, n in values.items()}
        ring.add_values(bucket, keyed)
        held = written.setdefault(bucket, {})
        for sketch, n in values.items():
            held[sketch] = held.get(sketch, 0) + n
    for bucket in range(newest - 7, newest + 1):
        expected = written.get(bucket, {})
        before = ring.values(bucket - 1)[0] if bucket > newest - 7 else {}
        at = ring.values(bucket)[0]
        # The window ending at ``bucket`` minus the one ending a bucket before: that
        # bucket's own values (the oldest bucket held has none before it).
        own = {k: at.get(k, 0) - before.get(k, 0) for k in set(at) | set(before)}
        assert {k: n for k, n in own.items() if n} == expected


def test_a_windows_count_may_pass_what_one_slot_holds() -> None:
    """Each slot holds up to 2**32 - 1 recipients; the window adds up its slots, so a
    30-day window of daily buckets at 150 million a day counts its 4.5 billion, and
    moving on drops each day's as it leaves (a write past 2**32 in all must neither
    fail nor leave the count of the held buckets wrong). A restart reads the same
    counts: the state file keeps the slots, and a restore adds them up again into both
    words of the total."""
    ring = Ring(86400.0, 30)
    for day in range(100, 130):
        assert ring.place(day, day * ring.width)
        ring.add(day, DELIVERY, 150_000_000)
    assert ring.counts(129)[DELIVERY] == 30 * 150_000_000
    restarted = Ring(86400.0, 30)
    restarted.restore(ring.snapshot())
    assert restarted.counts(129)[DELIVERY] == 30 * 150_000_000  # 2**32 and more
    for day in range(130, 140):
        assert ring.place(day, day * ring.width)
    assert ring.counts(139)[DELIVERY] == 20 * 150_000_000
    copy = Ring(86400.0, 30)
    copy.restore(ring.snapshot())
    assert copy.counts(139)[DELIVERY] == 20 * 150_000_000


def test_a_busy_buckets_stages_before_its_index_are_merged_into_it() -> None:
    """Two stages of 13 keys each are 26 cells, past _INDEXED: the third stage merges
    them, one cell a key, and adds to those, so the bucket holds 13 cells, not 26."""
    ring = Ring(120.0, 30)
    assert ring.place(100, 100 * ring.width)
    keys = {value_key(0, b): 1 for b in range(13)}
    ring.add_values(100, keys)
    ring.add_values(100, keys)
    assert ring.cells is not None
    assert len(ring.cells) == 26
    ring.add_values(100, keys)
    assert len(ring.cells) == 13
    assert ring.values(100)[0] == dict.fromkeys(range(13), 3)


def test_a_found_by_key_buckets_cells_fill_to_the_brim_and_no_further() -> None:
    """Once a bucket's cells are found by key: a key's cell takes counts up to 255
    exactly, a new key's 255 is one cell, and 600 in one stage are 255, 255 and 90,
    the next stage of that key adding to the last."""
    ring = Ring(120.0, 30)
    assert ring.place(100, 100 * ring.width)
    keys = {value_key(0, b): 1 for b in range(13)}
    for _ in range(3):
        ring.add_values(100, keys)
    assert ring.cells is not None
    assert len(ring.cells) == 13  # found by key from the third stage on
    ring.add_values(100, {value_key(0, 0): 252})  # 3 + 252: the cell's brim
    assert len(ring.cells) == 13
    ring.add_values(100, {value_key(1, 0): 255})
    assert len(ring.cells) == 14
    ring.add_values(100, {value_key(1, 1): 600})
    assert len(ring.cells) == 17
    ring.add_values(100, {value_key(1, 1): 10})
    assert len(ring.cells) == 17
    assert ring.values(100)[0] == {0: 255} | dict.fromkeys(range(1, 13), 3)
    assert ring.values(100)[1] == {0: 255, 1: 610}


def test_a_cut_while_a_bucket_is_found_by_key_keeps_finding_its_cells() -> None:
    """The stale cells in front of a busy bucket's are cut while it is written (exactly
    those of the bucket that just left): its later stages still add to its cells, one
    a key, and every read is exact."""
    ring = Ring(10.0, 10)
    _values(ring, 100, 1, 0)
    ring.add_values(100, {value_key(0, b): 1 for b in range(1, 5)})  # 5 cells
    assert ring.place(105, 105 * ring.width)
    assert ring.place(110, 110 * ring.width)  # bucket 100 has left
    busy = {value_key(1, b): 1 for b in range(25)}
    ring.add_values(110, busy)
    ring.add_values(110, busy)  # 30 cells: found by key from this stage
    assert ring.cells is not None
    assert len(ring.cells) == 30
    more = busy | {value_key(1, b): 1 for b in range(25, 28)}
    ring.add_values(110, more)  # 33 cells: bucket 100's five cut
    assert len(ring.cells) == 28
    ring.add_values(110, more)
    assert len(ring.cells) == 28
    assert ring.values(110)[0] == {}
    assert ring.values(110)[1] == dict.fromkeys(range(25), 4) | dict.fromkeys(range(25, 28), 2)


def test_a_quiet_buckets_two_stages_are_appended_then_merged_behind_older_cells() -> None:
    """Behind the cells of older buckets, the newest bucket's stages append their cells
    (a bucket of a few keys is not found by key, whatever the ring holds before it),
    and its two stages are merged, one cell a key, when the next bucket opens."""
    ring = Ring(10.0, 10)
    for bucket in range(100, 110):
        assert ring.place(bucket, bucket * ring.width)
        ring.add_values(bucket, {value_key(0, 1): 1, value_key(0, 2): 1})
    assert ring.place(110, 110 * ring.width)
    stage = {value_key(1, 1): 1, value_key(1, 2): 2}
    ring.add_values(110, stage)
    ring.add_values(110, stage)
    assert ring.cells is not None
    assert len(ring.cells) == 20 + 2 + 2
    assert ring.place(111, 111 * ring.width)
    ring.add_values(111, {value_key(1, 1): 1})
    assert len(ring.cells) == 20 + 2 + 1
    assert ring.values(110)[1] == {1: 2, 2: 4}
    assert ring.values(111)[1] == {1: 3, 2: 4}
    assert ring.values(111)[0] == {1: 8, 2: 8}  # 100 and 101 have left the window


def test_stale_cells_are_cut_once_the_cells_grow_by_half_and_32() -> None:
    """A value a bucket in a ring of 10: the first cut comes at 33 cells, then each when
    the 10 held cells have grown to more than 10 + 5 + 32, keeping exactly the 10."""
    ring = Ring(10.0, 10)
    lengths = []
    for bucket in range(100, 300):
        _values(ring, bucket)
        assert ring.cells is not None
        lengths.append(len(ring.cells))
    assert lengths[:33] == [*range(1, 33), 10]
    assert max(lengths[33:]) == 10 + 5 + 32
    assert min(lengths[33:]) == 10
    assert ring.values(299)[0] == {7: 10}
