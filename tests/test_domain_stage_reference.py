"""A write opens a fine bucket exactly when ``t // fine`` (the float floor division)
differs from the bucket staged, as it did when every write divided: the span a write
inside compares instead is held to that division, for times at, just before and just
after bucket edges and anywhere else, with fine widths of whole seconds (where the
span stands in) and fractional ones (where every write still divides)."""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from sesd.core.windows.breakdown import Noted
from sesd.core.windows.domain import DomainWindows
from sesd.core.windows.specs import window_specs
from sesd.core.windows.value_keys import NO_VALUES


class _Counting(DomainWindows):
    """Counts the fine buckets opened."""

    __slots__ = ("opened",)
    opened: int

    def _open(self, t: float, now: float) -> None:
        self.opened += 1
        super()._open(t, now)


#: (window sizes, resolution): fine widths of 0.1 s, 0.5 s, 1 s, 5 s, 60 s and 120 s.
_LAYOUTS = [
    ([("1s", 1.0)], 0.1),
    ([("30s", 30.0), ("1m", 60.0)], 0.5),
    ([("1m", 60.0)], 1.0),
    ([("5m", 300.0), ("15m", 900.0)], 5.0),
    ([("1h", 3600.0)], 60.0),
    ([("2h", 7200.0), ("1d", 86400.0)], 1.0),
]


def _time(draw: st.DrawFn, fine: float) -> float:
    """A time anywhere, or at a bucket edge, or one float either side of it."""
    if draw(st.booleans()):
        return draw(st.floats(-1e10, 1e12, allow_nan=False))
    edge = draw(st.integers(-(10**8), 10**10)) * fine
    return draw(
        st.sampled_from([edge, math.nextafter(edge, -math.inf), math.nextafter(edge, math.inf)])
    )


@st.composite
def _case(draw: st.DrawFn) -> tuple[int, list[float]]:
    layout = draw(st.integers(0, len(_LAYOUTS) - 1))
    fine = DomainWindows(window_specs(*_LAYOUTS[layout], 60))._fine
    return layout, [_time(draw, fine) for _ in range(draw(st.integers(1, 6)))]


@given(_case())
@example((3, [1_800_000_000.0, math.nextafter(1_800_000_005.0, 0.0), 1_800_000_005.0]))
@example((0, [932.51, 932.5]))  # in 0.1 s buckets 9325 * 0.1 <= 932.5, yet 932.5 // 0.1 is 9324
@example((1, [0.0, -0.0, math.nextafter(0.5, 0.0), 0.5, -0.25]))
# A bucket opened where whole seconds are no longer exact floats has no span: the
# span of the bucket staged before it must not stay to stand in for it.
@example((2, [1000.5, 2.0**53, 1000.5]))
@example((2, [1000.5, -(2.0**60), 1000.25]))
@example((3, [1_800_000_000.0, 1_800_000_001.0, 1_800_000_002.0, 1_800_000_005.0, 1_800_000_010.0]))
@example((0, [1.05] * 6))  # every kind of write, the stage's bucket divided (0.1 s)
def test_a_write_opens_a_bucket_exactly_when_its_floor_division_changes(
    case: tuple[int, list[float]],
) -> None:
    layout, times = case
    windows = _Counting(window_specs(*_LAYOUTS[layout], 60))
    windows.opened = 0
    fine = windows._fine
    now = max(times) + 1.0
    stage: float | None = None
    for i, t in enumerate(times):
        opened = windows.opened
        # Each kind of write, in turn: each asks the same of the stage.
        if i % 5 == 0:
            windows.delivered(t, now, NO_VALUES)
        elif i % 5 == 1:
            windows.count(t, now, 0)
        elif i % 5 == 2:
            windows.suppressed(t, now)
        elif i % 5 == 3:
            windows.note(t, now, Noted([], (), 0, None))
        else:
            windows.observe_delay_duration(t, now, 1000.0)
        assert windows.opened - opened == (stage is None or t // fine != stage)
        stage = t // fine
        assert windows._stage == stage
