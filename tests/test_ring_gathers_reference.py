"""A ring that gathers its newest bucket's values aside (Ring.gathers) reads as a plain
model of held buckets, each a dict of value key -> how many: values(), counts(),
moved_over() and the state file's cells, read after each of a seeded random run of
writes. The runs step the clock forward a bucket, a few, past the whole ring and back
behind it (where a write starts the ring again), write late buckets, hold a bucket's
values across a quiet stretch of counts alone longer than the cells' bucket numbers
wrap (2**14 buckets), settle, restore the ring from its own state in place or into a
new ring mid-bucket, and write counts past a cell's 255 in one gathered sum."""

from __future__ import annotations

import random
from array import array
from collections import Counter

import pytest

from sesd.core.events import EVENT_TYPES
from sesd.core.sketch import MAX_BUCKET
from sesd.core.windows.cells import BUCKET_MASK, BUCKET_SHIFT, COUNT_SHIFT, value_key
from sesd.core.windows.ring import KINDS, NEVER, Ring

_T = len(EVENT_TYPES)
_CODES = 3  # the kind whose keys are codes (up to 255), not sketch buckets


class Model:
    """The plain reference: the held buckets' counts and values by absolute bucket."""

    def __init__(self, slots: int) -> None:
        self.slots, self.head = slots, NEVER
        self.counts: dict[int, Counter[int]] = {}
        self.values: dict[int, Counter[int]] = {}

    def place(self, bucket: int, now_bucket: int) -> bool:
        """Ring.place's promise: a newer bucket moves the head (what leaves is gone), a
        held one is writable, and a clock behind everything held starts again."""
        if bucket > self.head:
            self.head = bucket
        elif bucket <= self.head - self.slots:
            if not (now_bucket <= self.head - self.slots and bucket > now_bucket - self.slots):
                return False
            self.counts, self.values, self.head = {}, {}, bucket
        for held in (self.counts, self.values):
            for gone in [b for b in held if b <= self.head - self.slots]:
                del held[gone]
        return True

    def span(self, now_bucket: int) -> range:
        return range(max(now_bucket, self.head) - self.slots + 1, min(now_bucket, self.head) + 1)

    def read_values(self, now_bucket: int) -> list[dict[int, int]]:
        out: list[Counter[int]] = [Counter() for _ in range(KINDS)]
        for bucket in self.span(now_bucket):
            for key, n in self.values.get(bucket, Counter()).items():
                out[key >> 8][key & 0xFF] += n
        return [dict(c) for c in out]

    def read_counts(self, now_bucket: int) -> list[int]:
        out = [0] * _T
        for bucket in self.span(now_bucket):
            for i, n in self.counts.get(bucket, Counter()).items():
                out[i] += n
        return out

    def moved_over(self, a: int, b: int, values: bool, stage: int | None) -> bool:
        """Whether the held buckets between the two windows' starts or between their
        ends (as Ring.moved_over looks, a bucket between both when the windows do not
        meet) hold nothing and are not ``stage``."""
        head, slots = self.head, self.slots
        moved = {
            *range(max(a, head) - slots + 1, min(max(b, head) - slots, head) + 1),
            *range(max(min(a, head), head - slots) + 1, min(b, head) + 1),
        }
        if stage in moved:
            return False
        held = [self.counts, self.values] if values else [self.counts]
        return not any(+h.get(bucket, Counter()) for h in held for bucket in moved)


def held_cells(ring: Ring) -> dict[tuple[int, int], int]:
    """The state file's cells, as (held bucket, value key) -> how many."""
    head, slots = ring.head, ring.slots
    out: Counter[tuple[int, int]] = Counter()
    for cell in array("I", ring.snapshot()["cells"]):
        bucket = head - ((head - (cell >> BUCKET_SHIFT)) & BUCKET_MASK)
        if bucket > head - slots:
            out[bucket, cell & 0x3FF] += cell >> COUNT_SHIFT
    return dict(out)


def _values(rng: random.Random) -> dict[int, int]:
    """A stage's values: a few keys, of every kind; now and then a sum past a cell's."""
    big = rng.random() < 0.1
    out = {}
    for _ in range(rng.randint(1, 5)):
        kind = rng.randrange(KINDS)
        key = value_key(kind, rng.randint(0, 255 if kind == _CODES else MAX_BUCKET))
        out[key] = rng.choice([1, 2, 300, 70_000]) if big else rng.randint(1, 3)
    return out


def _check(ring: Ring, model: Model, rng: random.Random) -> None:
    head = model.head
    assert ring.head == head
    for now_bucket in {head, head + 1, head - 1, head + rng.randint(-12, 12)}:
        assert ring.values(now_bucket) == model.read_values(now_bucket)
        assert ring.counts(now_bucket) == model.read_counts(now_bucket)
    for _ in range(3):
        a = head + rng.randint(-12, 6)
        b = a + rng.randint(0, 12)
        stage = rng.choice([None, head, head + rng.randint(-12, 6)])
        values = rng.random() < 0.7
        assert ring.moved_over(a, b, values, stage) == model.moved_over(a, b, values, stage)
    expected = {
        (bucket, key): n for bucket, held in model.values.items() for key, n in held.items() if n
    }
    assert held_cells(ring) == expected


def _run(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    slots = rng.randint(1, 9)
    ring, model = Ring(10.0, slots, gathers=True), Model(slots)
    for _ in range(steps):
        head = model.head if model.head != NEVER else 1000
        op = rng.random()
        if op < 0.05:
            # A quiet stretch: counts alone, in steps shorter than the ring, past the
            # cells' bucket numbers' wrap; the gathered bucket left long ago.
            step = max(1, slots - 1)
            for bucket in range(head + step, head + (1 << 14) + rng.randint(0, 3 * slots), step):
                assert ring.place(bucket, bucket * ring.width)
                assert model.place(bucket, bucket)
                ring.add(bucket, 0, 1)
                model.counts.setdefault(bucket, Counter())[0] += 1
            model.place(model.head, model.head)
        elif op < 0.1:
            ring.settle()
        elif op < 0.13:
            ring.restore(ring.snapshot())  # in place: what it gathered is in its cells now
        elif op < 0.16:
            again = Ring(10.0, slots, gathers=True)
            again.restore(ring.snapshot())
            ring = again
        else:
            bucket = head + rng.choice([0, 0, 1, 1, 2, -1, -slots, slots, 2 * slots, -3 * slots])
            now_bucket = bucket + rng.choice([0, 0, 1, -4 * slots])
            accepted = ring.place(bucket, now_bucket * ring.width)
            assert accepted == model.place(bucket, now_bucket)
            if accepted:
                if rng.random() < 0.5:
                    type_index, n = rng.randrange(_T), rng.randint(1, 3)
                    ring.add_counts(bucket, [(type_index, n)])
                    model.counts.setdefault(bucket, Counter())[type_index] += n
                values = _values(rng)
                ring.add_values(bucket, values)
                model.values.setdefault(bucket, Counter()).update(values)
        _check(ring, model, rng)


@pytest.mark.parametrize("seed", range(24))
def test_a_gathering_ring_reads_as_its_held_buckets(seed: int) -> None:
    """Every read, and the state file's cells, after each write of a seeded run equal
    the model's: what the ring gathered aside counts exactly as cells would."""
    _run(seed, 120)
