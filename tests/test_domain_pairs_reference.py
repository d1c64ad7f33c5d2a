"""A domain's windows that stage a delivery as one entry, its two values' pair
(DomainWindows.delivered), answer every read as the plain model of a delivery they
replaced (the reference): a count of the delivery type and, when SES gave a processing
time, a processing-time value and a time-to-delivery value, each staged as any other
value is. Compared after each step of a seeded random run: counts, every type's
series, summaries, causes, suppressed counts, stamps, moved_over, ring heads, the
cells and counts a save writes, and reads repeated (a read changes nothing). The runs
deliver (with and without a processing time, one value or another, bursts past a
cell's count), count other types, suppress, note causes and delay durations, with the
clock on, still, stepped back, late events, saves (a flush) and restores mid-bucket,
a quiet stretch past the cells' bucket numbers' wrap, in the layouts of the gathering
reference."""

from __future__ import annotations

import random

import pytest

from sesd.core.events import EVENT_TYPE_INDEX, EVENT_TYPES
from sesd.core.sketch import bucket_of
from sesd.core.windows import DomainWindows, WindowSpec
from sesd.core.windows.breakdown import Noted
from sesd.core.windows.cells import value_key
from sesd.core.windows.value_keys import PROCESSING, TO_DELIVERY, delivery_pair
from tests.test_domain_gathers_reference import _LAYOUTS, _move_clock, _quiet_past_the_wrap
from tests.test_ring_gathers_reference import held_cells

_DELIVERY = EVENT_TYPE_INDEX["delivery"]


def _deliver(
    pair: list[DomainWindows], t: float, now: float, ms: tuple[float, float] | None
) -> None:
    """One delivered recipient: its pair staged in the windows under test, a count and
    its two values (by bucket_of(), with no pair) in the reference."""
    tested, reference = pair
    tested.delivered(t, now, delivery_pair(*ms) if ms is not None else delivery_pair(None, 0.0))
    reference.count(t, now, _DELIVERY)
    if ms is not None:
        staged = reference._staged if reference._staged is not None else {}
        for kind, value in zip((PROCESSING, TO_DELIVERY), ms, strict=True):
            key = value_key(kind, bucket_of(value))
            staged[key] = staged.get(key, 0) + 1
        reference._staged = staged


def _times(rng: random.Random) -> tuple[float, float] | None:
    """A delivery's processing time and time to delivery (ms), or None (SES gave none)."""
    if rng.random() < 0.15:
        return None
    return rng.choice([0.5, 40.0, 900.0, 2e6, 1e15]), float(rng.randrange(0, 90_000_000))


def _write(pair: list[DomainWindows], rng: random.Random, t: float, now: float) -> None:
    op, n = rng.randrange(8), rng.randrange(1000)
    if op < 4:  # deliveries, as in production: most writes
        _deliver(pair, t, now, _times(rng))
        return
    for windows in pair:
        if op == 4:
            windows.count(t, now, n % len(EVENT_TYPES), n % 3 + 1)
        elif op == 5:
            windows.suppressed(t, now)
        elif op == 6:
            windows.note(t, now, Noted([], (), n % 7, None))
        else:
            windows.observe_delay_duration(t, now, float(n * 4517 % 3_600_000))


def _reads(windows: DomainWindows, index: int, now: float) -> tuple[object, ...]:
    return (
        windows.counts(index, now),
        [windows.series(index, now, i) for i in range(len(EVENT_TYPES))],
        windows.summaries(index, now),
        windows.causes(index, now),
        windows.suppressed_count(index, now),
        windows.stamp(index, now),
    )


def _saved(windows: DomainWindows) -> tuple[object, ...]:
    """What a save writes: each ring's head and counts, and its cells as (bucket, key)
    -> how many (the order of a bucket's cells is not a figure)."""
    windows.flush(0.0)  # (flush() reads no clock: the stage is written where it is)
    rings = windows.snapshot()["rings"]
    return tuple(
        (saved["head"], saved["columns"], held_cells(ring))
        for saved, ring in zip(rings, windows._rings, strict=True)
    )


def _step(
    rng: random.Random, specs: list[WindowSpec], pair: list[DomainWindows], now: float
) -> float:
    """One random step on both windows: the clock moved and a write, a burst, a quiet
    stretch, a save, or a save and a start from it."""
    fine = min(spec.width for spec in specs)
    roll = rng.random()
    now = _move_clock(rng, specs, roll, now)
    if roll < 0.01:
        now = _quiet_past_the_wrap(specs[-1], pair, now)
    elif roll < 0.04:
        # A burst: hundreds of one delivery in a stage, past a cell's 255.
        ms = _times(rng)
        for _ in range(rng.choice([256, 300, 600])):
            _deliver(pair, now, now, ms)
    elif roll > 0.97:
        assert _saved(pair[0]) == _saved(pair[1])
    elif roll > 0.94:
        # A save mid-bucket, then a start from its file.
        for i, windows in enumerate(pair):
            windows.flush(now)
            pair[i] = type(windows)(specs)
            pair[i].restore(windows.snapshot())
    else:
        late = rng.choice([0.0, 0.0, 0.0, fine * 0.5, fine * 4, specs[-1].seconds * 0.9])
        for _ in range(rng.choice([1, 1, 2, 5])):
            _write(pair, rng, now - late, now)
    return now


@pytest.mark.parametrize("seed", range(12))
def test_deliveries_staged_as_pairs_read_as_a_count_and_two_values(seed: int) -> None:
    """Each read after each write, a save or a restore equals the reference's."""
    rng = random.Random(seed)
    specs = _LAYOUTS[seed % len(_LAYOUTS)]
    pair = [DomainWindows(specs), DomainWindows(specs)]
    now = 1_800_000_000.0
    for step in range(300):
        now = _step(rng, specs, pair, now)
        tested, reference = pair
        for index, spec in enumerate(specs):
            for at in (now, now + spec.width * rng.choice([-1, 0.5, 1, spec.slots])):
                found = _reads(tested, index, at)
                assert found == _reads(reference, index, at), (step, index)
                assert _reads(tested, index, at) == found, (step, index)
            before = int(now // spec.width) + rng.randint(-spec.slots, 2)
            after = before + rng.randint(0, spec.slots + 2)
            values = rng.random() < 0.7
            assert tested.moved_over(index, before, after, values=values) == (
                reference.moved_over(index, before, after, values=values)
            ), (step, index)
            assert tested._rings[index].head == reference._rings[index].head
    assert _saved(pair[0]) == _saved(pair[1])
