"""A domain's windows whose rings gather their newest bucket's values (Ring.gathers,
every ring wider than the stage) answer every read as the same windows whose rings
write each stage's values into cells (the reference): counts, series, summaries,
causes, suppressed counts, moved_over and the state file's cells, after each write
of a seeded random run. The runs deliver, count, suppress, note causes and delay
durations, with the clock on, still, stepped back within a bucket and behind the
whole window, late events, saves (a flush) and restores mid-bucket followed by more
events in that bucket, bursts past a cell's count, a quiet stretch past the cells'
bucket numbers' wrap, in layouts whose widths are 3 and 12 stages (5m/15m/1h),
whose ratios do not divide one another (15 s and 20 s over 5 s stages) and whose
stage is a fraction of a second."""

from __future__ import annotations

import random

import pytest

from sesd.core.windows import DomainWindows, WindowSpec
from sesd.core.windows.breakdown import Noted
from sesd.core.windows.ring import Ring
from sesd.core.windows.value_keys import delivery_pair
from tests.test_ring_gathers_reference import held_cells

_LAYOUTS = [
    [
        WindowSpec("5m", 300.0, 10.0, 30),
        WindowSpec("15m", 900.0, 30.0, 30),
        WindowSpec("1h", 3600.0, 120.0, 30),
    ],
    [WindowSpec("45s", 45.0, 15.0, 3), WindowSpec("1m", 60.0, 20.0, 3, False)],
    [WindowSpec("3s", 3.0, 0.5, 6), WindowSpec("9s", 9.0, 1.5, 6)],
]


def _cells_written_each_stage(specs: list[WindowSpec]) -> DomainWindows:
    """The reference: the same windows, their rings writing every stage into cells."""
    windows = DomainWindows(specs)
    windows._rings = [Ring(spec.width, spec.slots) for spec in specs]
    return windows


def _write(windows: DomainWindows, op: int, t: float, now: float, n: int) -> None:
    if op == 0:
        windows.delivered(t, now, delivery_pair(float(n * 37 % 5000), float(n * 911 % 90000)))
    elif op == 1:
        windows.count(t, now, n % 11, n % 3 + 1)
    elif op == 2:
        windows.suppressed(t, now)
    elif op == 3:
        windows.note(t, now, Noted([], (), n % 7, None))
    else:
        windows.observe_delay_duration(t, now, float(n * 4517 % 3_600_000))


def _reads(windows: DomainWindows, index: int, now: float) -> tuple[object, ...]:
    return (
        windows.counts(index, now),
        windows.series(index, now, 0),
        windows.summaries(index, now),
        windows.causes(index, now),
        windows.suppressed_count(index, now),
    )


def _move_clock(rng: random.Random, specs: list[WindowSpec], roll: float, now: float) -> float:
    """The clock stepped back, on over a quiet stretch, on a little, or still."""
    if roll < 0.02:
        return now - specs[-1].seconds * rng.choice([0.5, 1.5, 3])
    if roll < 0.05:
        return now + specs[-1].seconds * rng.choice([0.3, 1.2])
    if roll < 0.5:
        return now + min(spec.width for spec in specs) * rng.choice([0.1, 0.3, 1, 2])
    return now


def _quiet_past_the_wrap(widest: WindowSpec, pair: list[DomainWindows], now: float) -> float:
    """Counts alone over a quiet stretch past the cells' bucket numbers' wrap (2**14 of
    the widest ring's buckets), in steps shorter than that ring."""
    for _ in range((1 << 14) // (widest.slots - 1) + 2):
        now += widest.width * (widest.slots - 1)
        for windows in pair:
            windows.count(now, now, 0)
    return now


def _step(
    rng: random.Random, specs: list[WindowSpec], pair: list[DomainWindows], now: float
) -> float:
    """One random step on both windows (the gathering ones first): the clock moved
    and a write, a burst, a quiet stretch, a save, or a save and a start from it."""
    fine = min(spec.width for spec in specs)
    roll = rng.random()
    now = _move_clock(rng, specs, roll, now)
    if roll < 0.01:
        now = _quiet_past_the_wrap(specs[-1], pair, now)
    elif roll < 0.04:
        # A burst: hundreds of one value in a stage, one gathered sum past a cell's 255.
        values = delivery_pair(40.0, 900.0)
        burst = rng.choice([256, 300, 600])
        for windows in pair:
            for _ in range(burst):
                windows.delivered(now, now, values)
    elif roll > 0.97:
        for windows in pair:
            windows.flush(now)
        assert all(ring.pending is None for ring in pair[0]._rings)
    elif roll > 0.94:
        # A save mid-bucket, then a start from its file.
        for i, make in enumerate((DomainWindows, _cells_written_each_stage)):
            pair[i].flush(now)
            saved = pair[i].snapshot()
            pair[i] = make(specs)
            pair[i].restore(saved)
    else:
        late = rng.choice([0.0, 0.0, 0.0, fine * 0.5, fine * 4, specs[-1].seconds * 0.9])
        op, n = rng.randrange(5), rng.randrange(1000)
        for windows in pair:
            _write(windows, op, now - late, now, n)
    return now


@pytest.mark.parametrize("seed", range(12))
def test_gathering_windows_read_as_windows_writing_every_stage(seed: int) -> None:
    """Each read after each write, a save or a restore equals the reference's, and a
    flush leaves nothing gathered aside (what a save and bench memory rely on)."""
    rng = random.Random(seed)
    specs = _LAYOUTS[seed % len(_LAYOUTS)]
    pair = [DomainWindows(specs), _cells_written_each_stage(specs)]
    assert any(ring.gathers for ring in pair[0]._rings)
    now = 1_800_000_000.0
    for step in range(400):
        now = _step(rng, specs, pair, now)
        gathering, reference = pair
        for index, spec in enumerate(specs):
            for at in (now, now + spec.width * rng.choice([-1, 0.5, 1, spec.slots])):
                assert _reads(gathering, index, at) == _reads(reference, index, at), (step, index)
            before = int(now // spec.width) + rng.randint(-spec.slots, 2)
            after = before + rng.randint(0, spec.slots + 2)
            values = rng.random() < 0.7
            assert gathering.moved_over(index, before, after, values=values) == (
                reference.moved_over(index, before, after, values=values)
            ), (step, index)
            gathered, written = gathering._rings[index], reference._rings[index]
            assert gathered.head == written.head
            assert held_cells(gathered) == held_cells(written)
