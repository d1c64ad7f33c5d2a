"""The duplicate filter, which compares ``now`` with the time its open generation has
lasted its horizon (found once a generation), answers and rotates exactly as the plain
model it replaced (the reference): ``now - start >= horizon`` or a full generation,
tested at each key. Seeded random runs over starts with fractions (as event times have),
horizons of whole and fractional seconds, and keys at ``start + horizon`` give or take a
few ulps, where the rounding of the subtraction decides, beside the clock still, stepping
back, jumping ahead, full generations and restores of saved filters; after each key the
answers, the sizes and the saved state agree."""

from __future__ import annotations

import math
import random

import pytest

from sesd.core.dedup import DuplicateFilter


class _Reference:
    """The duplicate filter as it was written first: the subtraction at each key."""

    def __init__(self, horizon: float, max_entries: int) -> None:
        self.horizon, self.half = horizon, max(1, max_entries // 2)
        self.current: set[int] = set()
        self.previous: set[int] = set()
        self.start: float | None = None

    def seen(self, key: int, now: float) -> bool:
        if key in self.previous or key in self.current:
            return True
        self.current.add(key)
        if self.start is None:
            self.start = now
        elif now - self.start >= self.horizon or len(self.current) >= self.half:
            self.previous, self.current, self.start = self.current, set(), now
        return False

    def state(self) -> dict[str, object]:
        return {
            "start": self.start,
            "current": sorted(self.current),
            "previous": sorted(self.previous),
        }


def _state(tested: DuplicateFilter) -> dict[str, object]:
    saved = tested.snapshot()
    return {
        "start": saved["start"],
        "current": sorted(saved["current"]),  # type: ignore[call-overload]
        "previous": sorted(saved["previous"]),  # type: ignore[call-overload]
    }


def _ulps(t: float, steps: int) -> float:
    for _ in range(abs(steps)):
        t = math.nextafter(t, math.inf if steps > 0 else -math.inf)
    return t


def _next_now(rng: random.Random, now: float, start: float | None, horizon: float) -> float:
    roll = rng.random()
    if start is not None and roll < 0.5:  # at the rotation, give or take a few ulps
        return _ulps(start + horizon, rng.randint(-3, 3))
    if roll < 0.65:
        return now  # the clock still
    if roll < 0.75:
        return now - rng.random() * horizon  # stepped back
    if roll < 0.8:
        return now + horizon * rng.choice([1, 2, 5])  # a quiet stretch
    return now + rng.random() * horizon / 7


@pytest.mark.parametrize("seed", range(12))
def test_the_filter_rotates_as_the_subtraction_does(seed: int) -> None:
    """Each key gets the reference's answer, and the filter holds what it holds, with
    the same start, after every key; a restore mid-run (of the state the reference holds)
    goes on as the reference does."""
    rng = random.Random(seed)
    horizon = rng.choice([3600, 900.0, 0.1, 604_800.0, 0.3, 7.7])
    entries = rng.choice([4, 50, 10_000])
    tested, reference = (
        DuplicateFilter(horizon=horizon, max_entries=entries),
        _Reference(horizon, entries),
    )
    now = 1_799_999_999.0 + rng.random() * 1e6
    keys = 0
    for _ in range(1500):
        now = _next_now(rng, now, reference.start, horizon)
        key = rng.randrange(keys + 1) if rng.random() < 0.2 else keys
        keys += key == keys
        assert tested.seen(key, now) == reference.seen(key, now), (now, reference.start)
        assert len(tested) == len(reference.current) + len(reference.previous)
        assert _state(tested) == reference.state()
        if rng.random() < 0.01:  # a save and a restart
            restored = DuplicateFilter(horizon=horizon, max_entries=entries)
            restored.restore(tested.snapshot())
            tested = restored


def test_every_ulp_around_the_rotation_decides_as_the_subtraction() -> None:
    """For starts with fractions and horizons of all kinds, a key one to four ulps either
    side of ``start + horizon`` closes the generation exactly when the subtraction says
    the horizon has passed."""
    rng = random.Random(7)
    for _ in range(3000):
        start = rng.uniform(-2e9, 2e9) if rng.random() < 0.2 else 1.8e9 + rng.random() * 1e5
        horizon = rng.choice([3600, 900.0, 0.1, 86_400.0, 1e-9, 0.0, rng.random() * 1e4])
        for steps in range(-4, 5):
            now = _ulps(start + horizon, steps)
            tested = DuplicateFilter(horizon=horizon, max_entries=10_000)
            tested.seen(1, start)
            tested.seen(2, now)
            rotated = _state(tested)["previous"] == [1, 2]
            assert rotated == (now - start >= horizon), (start, horizon, steps)


@pytest.mark.parametrize("start", [math.inf, -math.inf, math.nan])
def test_a_time_that_is_not_finite_is_tested_by_the_subtraction(start: float) -> None:
    """A generation opened at a time that is not finite rotates as the subtraction says,
    whatever the next time is."""
    for now in (0.0, 1e9, math.inf, -math.inf, math.nan):
        tested, reference = DuplicateFilter(horizon=60, max_entries=100), _Reference(60, 100)
        for key, at in ((1, start), (2, now)):
            assert tested.seen(key, at) == reference.seen(key, at)
        assert str(_state(tested)) == str(reference.state())


@pytest.mark.parametrize(
    ("start", "horizon"),
    [(-3600.0, 3600), (-1.0, 1.0), (-0.999_999_999, 1.0), (-86_400.5, 86_400.0)],
)
@pytest.mark.parametrize("opened_by", ["key", "step", "restore"])
def test_a_generation_opened_about_a_horizon_before_zero_is_opened_at_once(
    start: float, horizon: float, opened_by: str
) -> None:
    """A start about a horizon below 0 (a clock stepped back before 1970, a state file's
    start) puts ``start + horizon`` near 0, where floats are far denser than near the
    start: the rotation time is not a step or two of one ulp from the sum there (walked
    one ulp at a time, it took billions). The generation opens at once, whether a key,
    a clock step or a restore opened it, and rotates as the subtraction says."""
    tested = DuplicateFilter(horizon=horizon, max_entries=100)
    if opened_by == "key":
        tested.seen(1, start)
    elif opened_by == "step":
        tested.seen(1, 0.0)
        tested.stepped(start)
    else:
        tested.restore({"start": start, "current": [1], "previous": []})
    assert _state(tested)["start"] == start
    for key, steps in enumerate(range(-4, 5), start=2):
        now = _ulps(start + horizon, steps)
        rotated = DuplicateFilter(horizon=horizon, max_entries=100)
        rotated.restore(tested.snapshot())
        rotated.seen(key, now)
        assert (_state(rotated)["previous"] != []) == (now - start >= horizon), (now, steps)


@pytest.mark.parametrize(("start", "horizon"), [(-0.5, 1.0), (-1.5, 2.0), (-3600.5, 3601.0)])
def test_a_sum_rounded_past_the_rotation_is_walked_back(start: float, horizon: float) -> None:
    """A clock read before its epoch: ``start + horizon`` is a small number whose ulp is
    finer than the horizon's, so several times below the sum already have ``now - start
    == horizon``; the least of them closes the generation, as the subtraction says."""
    least = start + horizon
    while math.nextafter(least, -math.inf) - start >= horizon:
        least = math.nextafter(least, -math.inf)
    assert least < start + horizon
    for now in (math.nextafter(least, -math.inf), least, start + horizon):
        tested = DuplicateFilter(horizon=horizon, max_entries=10_000)
        tested.seen(1, start)
        tested.seen(2, now)
        assert (_state(tested)["previous"] == [1, 2]) == (now - start >= horizon), now
